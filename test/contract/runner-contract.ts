/**
 * One suite of behaviours every Runner must have (runners/runner.ts states the contract), run against each
 * implementation (docs/conventions.md: a registry of runners, one contract suite).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { AgentReport, LaunchRequest, Runner } from '../../runners/runner.ts';

export interface ContractHarness {
  readonly runner: Runner;
  /** A request for one attempt of one order; `long` asks for an execution that runs until it is stopped. */
  request(options: { readonly orderId: string; readonly attempt?: number; readonly long?: boolean }): LaunchRequest;
  /** How many executions the provider holds for one attempt (instances, builds, processes). */
  executions(orderId: string, attempt: number): Promise<number>;
  /** A handle of the runner's shape that names nothing. */
  readonly unknownHandle: string;
  /** Reports the executions sent, for runners whose agent runs in this process (local). */
  reports?(orderId: string): AgentReport[];
  /** Waits until every execution has reported its end. */
  settle?(): Promise<void>;
  cleanup?(): Promise<void>;
}

export function defineRunnerContract(name: string, make: () => Promise<ContractHarness>): void {
  describe(`Runner contract: ${name}`, () => {
    let h: ContractHarness;
    beforeEach(async () => {
      h = await make();
    });
    afterEach(async () => {
      await h.cleanup?.();
    });

    it('launch returns a handle to a live execution', async () => {
      const { handle } = await h.runner.launch(h.request({ orderId: 'a', long: true }));
      expect(handle).not.toBe('');
      expect(await h.runner.isAlive(handle)).toBe(true);
      await h.runner.terminate(handle, 'test over');
    });

    it('launching the same attempt twice starts one execution', async () => {
      const first = await h.runner.launch(h.request({ orderId: 'twice' }));
      const second = await h.runner.launch(h.request({ orderId: 'twice' }));
      expect(second.handle).toBe(first.handle);
      await h.settle?.();
      expect(await h.executions('twice', 1)).toBe(1);
    });

    it('another attempt is another execution', async () => {
      const one = await h.runner.launch(h.request({ orderId: 'retry', attempt: 1 }));
      const two = await h.runner.launch(h.request({ orderId: 'retry', attempt: 2 }));
      expect(two.handle).not.toBe(one.handle);
      await h.settle?.();
      expect(await h.executions('retry', 1)).toBe(1);
      expect(await h.executions('retry', 2)).toBe(1);
    });

    it('terminate ends the execution: isAlive is false afterwards', async () => {
      const { handle } = await h.runner.launch(h.request({ orderId: 'stop', long: true }));
      await h.runner.terminate(handle, 'cancelled by the test');
      await vi.waitFor(async () => expect(await h.runner.isAlive(handle)).toBe(false), { timeout: 15_000 });
    });

    it('terminating a gone or unknown handle is not an error', async () => {
      const { handle } = await h.runner.launch(h.request({ orderId: 'gone', long: true }));
      await h.runner.terminate(handle, 'first');
      await h.settle?.();
      await expect(h.runner.terminate(handle, 'second')).resolves.toBeUndefined();
      await expect(h.runner.terminate(h.unknownHandle, 'unknown')).resolves.toBeUndefined();
      expect(await h.runner.isAlive(h.unknownHandle)).toBe(false);
    });

    it('an execution reports, ending with finished (or interrupted) — once', async (ctx) => {
      if (h.reports === undefined) ctx.skip(); // cloud agents report over HTTP: test/e2e/agent.test.ts covers them
      await h.runner.launch(h.request({ orderId: 'ok' }));
      const { handle } = await h.runner.launch(h.request({ orderId: 'cut', long: true }));
      await vi.waitFor(() => expect(h.reports?.('cut').some((r) => r.type === 'running')).toBe(true));
      await h.runner.terminate(handle, 'cancelled by the test');
      await h.settle?.();
      for (const orderId of ['ok', 'cut']) {
        const reports = h.reports?.(orderId) ?? [];
        const finals = reports.filter((r) => r.type === 'finished' || r.type === 'interrupted');
        expect(finals).toHaveLength(1);
        expect(reports.at(-1)).toBe(finals[0]);
      }
      expect(h.reports?.('ok').at(-1)).toMatchObject({ type: 'finished', conclusion: 'success' });
      expect(h.reports?.('cut').at(-1)?.type).toMatch(/^(finished|interrupted)$/);
    });
  });
}
