import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { OrderRecord, RunPlan, RunRecord } from '../../src/core/types.ts';
import type { Orchestrator, Reporter } from '../../src/orchestrator.ts';
import { createDynamoStore, type DynamoStore } from '../../src/store/dynamodb.ts';
import { countRequests } from '../../src/store/request-counter.ts';
import type { Store } from '../../src/store/store.ts';
import type { LaunchRequest, ReportSink, Route, Runner } from '../../runners/runner.ts';
import {
  createOrchestratorHarness,
  testRunInput,
  type OrchestratorHarnessOptions,
} from '../helpers/orchestrator-harness.ts';
import { describeEachEngine, startTestEngine, type TestEngine } from '../helpers/engines.ts';
import { layeredPlan, plan, spec } from '../helpers/plans.ts';

const routes = new Map<string, Route>([
  ['local', { label: 'local', runner: 'local', settings: {} }],
  ['host', { label: 'host', runner: 'skip', settings: {} }],
]);

let embedded: TestEngine;
/** Each test gets its own table on the one engine, so counters (the global cap) never leak between tests. */
let store: DynamoStore;
let table = '';
let tables = 0;

class RecordingReporter implements Reporter {
  readonly orderEvents: [string, string][] = [];
  readonly finished = new Map<string, RunRecord>();
  readonly #waiters = new Map<string, () => void>();
  orderChanged(_run: RunRecord, order: OrderRecord): Promise<void> {
    this.orderEvents.push([order.id, order.state]);
    return Promise.resolve();
  }
  runChanged(run: RunRecord): Promise<void> {
    if (run.status !== 'running') {
      this.finished.set(run.runId, run);
      this.#waiters.get(run.runId)?.();
    }
    return Promise.resolve();
  }
  finishedRun(runId: string): Promise<RunRecord> {
    const done = this.finished.get(runId);
    if (done) return Promise.resolve(done);
    return new Promise((resolve) => this.#waiters.set(runId, () => resolve(this.finished.get(runId)!)));
  }
}

let counter = 0;
function setup(opts: Omit<OrchestratorHarnessOptions, 'store' | 'reporter' | 'routes'> & { store?: Store } = {}) {
  const reporter = new RecordingReporter();
  return { ...createOrchestratorHarness({ store, routes, reporter, ...opts }), reporter };
}

async function start(
  orchestrator: Orchestrator,
  p: RunPlan,
  extra: { group?: string; cancelInProgress?: boolean } = {},
): Promise<string> {
  const runId = `run-${++counter}`;
  await orchestrator.startRun(
    testRunInput({
      runId,
      repo: { forge: 'github', host: 'github.com', owner: 'o', name: 'n' },
      plan: extra.group
        ? { ...p, concurrency: { group: extra.group, cancelInProgress: extra.cancelInProgress ?? true } }
        : p,
      sha: 'a'.repeat(40),
      actor: 'alice',
    }),
  );
  return runId;
}

async function states(runId: string): Promise<Record<string, string>> {
  const orders = await store.listOrders(runId);
  return Object.fromEntries(orders.map((o) => [o.id, o.state]));
}

const diamond = plan([
  spec('build', { outputExprs: { v: '' } }),
  spec('test.1', { job: 'test', needs: ['build'], needsOrders: ['build'], matrix: { shard: 1 } }),
  spec('test.2', { job: 'test', needs: ['build'], needsOrders: ['build'], matrix: { shard: 2 } }),
  spec('report', { needs: ['build', 'test'], needsOrders: ['build', 'test.1', 'test.2'], if: 'always()' }),
]);

describeEachEngine((engine) => {
  beforeAll(async () => {
    embedded = await startTestEngine(engine);
  });
  beforeEach(async () => {
    table = `orchestrator-${++tables}`;
    store = createDynamoStore({ client: embedded.client, table });
    await store.ensureTable();
  });
  afterAll(async () => {
    await embedded.close();
  });

  describe('orchestrator on the store', () => {
    it('runs a graph to success, launching each order once', async () => {
      const { orchestrator, reporter, instant } = setup();
      const runId = await start(orchestrator, diamond);
      const run = await reporter.finishedRun(runId);
      await instant.idle();
      expect(run.status).toBe('succeeded');
      expect(await states(runId)).toEqual({
        build: 'succeeded',
        'test.1': 'succeeded',
        'test.2': 'succeeded',
        report: 'succeeded',
      });
      expect([...instant.launches.values()]).toEqual([1, 1, 1, 1]);
      const waves = Object.fromEntries((await store.listOrders(runId)).map((o) => [o.id, o.wave]));
      expect(waves).toEqual({ build: 0, 'test.1': 1, 'test.2': 1, report: 2 });
      // report started only after both test cells finished
      const reportDispatch = reporter.orderEvents.findIndex(([id, s]) => id === 'report' && s === 'dispatching');
      const lastTest = reporter.orderEvents.findLastIndex(([id, s]) => id.startsWith('test') && s === 'succeeded');
      expect(reportDispatch).toBeGreaterThan(lastTest);
    });

    it('skips dependents of a failed order unless their if asks, and fails the run', async () => {
      const { orchestrator, reporter } = setup({ conclude: (r) => (r.order.id === 'build' ? 'failure' : 'success') });
      const runId = await start(orchestrator, diamond);
      expect((await reporter.finishedRun(runId)).status).toBe('failed');
      expect(await states(runId)).toEqual({
        build: 'failed',
        'test.1': 'skipped',
        'test.2': 'skipped',
        report: 'succeeded',
      });
      const test1 = await store.getOrder(runId, 'test.1');
      expect(test1?.reason).toMatch(/needed job "build" failed/);
    });

    it('passes needs outputs to dependents', async () => {
      const { orchestrator, reporter, instant } = setup({ outputs: (r) => ({ from: r.order.id }) });
      const seen: LaunchRequest[] = [];
      const launch = instant.launch.bind(instant);
      instant.launch = (r) => (seen.push(r), launch(r));
      const runId = await start(orchestrator, diamond);
      await reporter.finishedRun(runId);
      const report = seen.find((r) => r.order.id === 'report');
      expect(report?.job.needs).toEqual({
        build: { result: 'success', outputs: { from: 'build' } },
        test: { result: 'success', outputs: { from: 'test.2' } },
      });
    });

    it('fails an order with an unknown runs-on label at once, naming the known labels', async () => {
      const { orchestrator, reporter } = setup();
      const runId = await start(
        orchestrator,
        plan([spec('gpu', { runsOn: 'gpu-xl' }), spec('after', { needs: ['gpu'], needsOrders: ['gpu'] })]),
      );
      expect((await reporter.finishedRun(runId)).status).toBe('failed');
      const gpu = await store.getOrder(runId, 'gpu');
      expect(gpu?.state).toBe('failed');
      expect(gpu?.reason).toBe(
        'spotcheck has no route for runs-on label "gpu-xl"; routes serve: host, local; add one to the operator config (spotcheck.yml):\nroutes:\n  gpu-xl: { runner: local }',
      );
      expect((await store.getOrder(runId, 'after'))?.state).toBe('skipped');
    });

    it('skips orders whose route says skip', async () => {
      const { orchestrator, reporter } = setup();
      const runId = await start(orchestrator, plan([spec('hosted', { runsOn: 'host' })]));
      expect((await reporter.finishedRun(runId)).status).toBe('succeeded');
      expect((await store.getOrder(runId, 'hosted'))?.state).toBe('skipped');
    });

    it('holds orders beyond the concurrency cap and runs them as capacity frees, oldest first', async () => {
      const launched: LaunchRequest[] = [];
      const runner: Runner = {
        kind: 'local',
        launch(req) {
          launched.push(req);
          return Promise.resolve({ handle: req.order.id });
        },
        terminate: () => Promise.resolve(),
        isAlive: () => Promise.resolve(true),
      };
      const { orchestrator, reporter } = setup({ runner, limits: { maxConcurrentOrders: 2 } });
      const runId = await start(orchestrator, plan(Array.from({ length: 6 }, (_, i) => spec(`o${i}`))));
      let finished = 0;
      while (finished < 6) {
        await waitFor(() => Promise.resolve(launched.length >= Math.min(6, finished + 2)));
        // Never more than the cap in flight, and the rest visibly waiting.
        expect(launched.length - finished).toBe(Math.min(2, 6 - finished));
        const waiting = (await store.listOrders(runId)).filter((o) => o.waitingSince !== undefined);
        expect(waiting).toHaveLength(Math.max(0, 6 - finished - 2));
        const next = launched[finished++]!;
        await orchestrator.report(next.job.ref, {
          type: 'finished',
          conclusion: 'success',
          outputs: {},
          stepResults: [],
        });
      }
      expect((await reporter.finishedRun(runId)).status).toBe('succeeded');
      expect(launched).toHaveLength(6);
      expect(await store.getCounter('inflight')).toBe(0);
    });

    it('a wide graph under a small cap finishes on completions alone (no watchdog tick), every order once', async () => {
      const { orchestrator, reporter, instant } = setup({ limits: { maxConcurrentOrders: 3 } });
      const p = layeredPlan(6, 12, 3);
      const runId = await start(orchestrator, p);
      expect((await reporter.finishedRun(runId)).status).toBe('succeeded');
      await instant.idle();
      expect(instant.launches.size).toBe(p.orders.length);
      expect([...instant.launches.values()].every((n) => n === 1)).toBe(true);
      expect(await store.getCounter('inflight')).toBe(0);
      expect(await store.getCounter('waiting')).toBe(0);
    });

    it('retries an interrupted order with a new attempt, then succeeds', async () => {
      const { orchestrator, reporter, instant } = setup({
        conclude: (r) => (r.job.ref.attempt === 1 ? 'interrupted' : 'success'),
      });
      const runId = await start(orchestrator, plan([spec('a')]));
      expect((await reporter.finishedRun(runId)).status).toBe('succeeded');
      expect(instant.launches.get(`${runId}/a#1`)).toBe(1);
      expect(instant.launches.get(`${runId}/a#2`)).toBe(1);
      expect((await store.getOrder(runId, 'a'))?.attempt).toBe(2);
    });

    it('times out a hung order on the watchdog tick and terminates it', async () => {
      let now = Date.now();
      const { orchestrator, reporter, instant, sinks } = setup({ conclude: () => 'hang', now: () => now });
      const runId = await start(orchestrator, plan([spec('a', { timeoutMinutes: 1 })]));
      await sinks[0]!.report({ runId, orderId: 'a', attempt: 1 }, { type: 'running' });
      await orchestrator.tick();
      expect((await store.getOrder(runId, 'a'))?.state).toBe('running');
      now += 61_000;
      await orchestrator.tick();
      expect((await reporter.finishedRun(runId)).status).toBe('failed');
      const a = await store.getOrder(runId, 'a');
      expect(a?.state).toBe('timed_out');
      expect(instant.terminated).toEqual([`instant:${runId}/a#1`]);
    });

    it('re-drives a launch that failed retryably (a crash between write and launch) on the watchdog tick', async () => {
      let now = Date.now();
      let calls = 0;
      const sinks: ReportSink[] = [];
      const runner: Runner = {
        kind: 'local',
        launch(req) {
          calls++;
          if (calls === 1) return Promise.reject(Object.assign(new Error('throttled'), { retryable: true }));
          setImmediate(
            () =>
              void sinks[0]!.report(req.job.ref, {
                type: 'finished',
                conclusion: 'success',
                outputs: {},
                stepResults: [],
              }),
          );
          return Promise.resolve({ handle: 'h' });
        },
        terminate: () => Promise.resolve(),
        isAlive: () => Promise.resolve(true),
      };
      const { orchestrator, reporter } = setup({ runner, now: () => now });
      sinks.push(orchestrator);
      const runId = await start(orchestrator, plan([spec('a')]));
      expect((await store.getOrder(runId, 'a'))?.state).toBe('dispatching');
      await orchestrator.tick(); // too early to re-drive
      expect(calls).toBe(1);
      now += 120_000;
      await orchestrator.tick();
      expect((await reporter.finishedRun(runId)).status).toBe('succeeded');
      expect(calls).toBe(2);
    });

    it.each([
      {
        status: { alive: false, interrupted: true, reason: 'Server.SpotInstanceTermination' },
        state: 'dispatching',
        attempt: 2,
      },
      {
        status: { alive: false, interrupted: false, reason: 'build b:1 succeeded', conclusion: 'success' as const },
        state: 'succeeded',
        attempt: 1,
        reason: /agent's report was lost/,
      },
      {
        status: { alive: false, interrupted: false, reason: 'instance i-1 terminated: Client.UserInitiatedShutdown' },
        state: 'failed',
        attempt: 1,
        reason: /UserInitiatedShutdown before the agent reported/,
      },
      { status: { alive: true, interrupted: false, reason: 'running' }, state: 'running', attempt: 1 },
    ])('the watchdog asks the runner about a live order: $status.reason → $state', async (c) => {
      const sinks: ReportSink[] = [];
      let launches = 0;
      const runner: Runner = {
        kind: 'local',
        launch: () => Promise.resolve({ handle: `h${++launches}` }),
        terminate: () => Promise.resolve(),
        isAlive: () => Promise.resolve(c.status.alive),
        inspect: (handle) =>
          Promise.resolve(handle === 'h1' ? c.status : { alive: true, interrupted: false, reason: '' }),
      };
      const { orchestrator } = setup({ runner });
      sinks.push(orchestrator);
      const runId = await start(orchestrator, plan([spec('a')]));
      await orchestrator.report({ runId, orderId: 'a', attempt: 1 }, { type: 'running' });
      await orchestrator.tick();
      const a = await store.getOrder(runId, 'a');
      expect(a?.state).toBe(c.state);
      expect(a?.attempt).toBe(c.attempt);
      if (c.reason) expect(a?.reason).toMatch(c.reason);
      if (a && a.state !== 'succeeded' && a.state !== 'failed') await orchestrator.cancelRun(runId, 'cleanup');
    });

    it('keeps live step results on the running order, in step order, until the finished report replaces them', async () => {
      const { orchestrator, sinks, reporter } = setup({ conclude: () => 'hang' });
      const runId = await start(orchestrator, plan([spec('a')]));
      const ref = { runId, orderId: 'a', attempt: 1 };
      const step = (index: number, outcome: 'success' | 'failure') =>
        ({ index, name: `s${String(index)}`, outcome, conclusion: outcome, durationMs: 5 }) as const;
      // Before `running` is written a step report changes nothing (the finished report carries every step).
      await sinks[0]!.report(ref, { type: 'step', result: step(0, 'success') });
      expect((await store.getOrder(runId, 'a'))?.stepResults ?? []).toEqual([]);
      await sinks[0]!.report(ref, { type: 'running' });
      await Promise.all([
        sinks[0]!.report(ref, { type: 'step', result: step(1, 'failure') }),
        sinks[0]!.report(ref, { type: 'step', result: step(0, 'success') }),
      ]);
      expect((await store.getOrder(runId, 'a'))?.stepResults?.map((s) => `${s.name}:${s.outcome}`)).toEqual([
        's0:success',
        's1:failure',
      ]);
      // A report for another attempt is not this order's.
      await sinks[0]!.report({ ...ref, attempt: 2 }, { type: 'step', result: step(2, 'success') });
      expect((await store.getOrder(runId, 'a'))?.stepResults).toHaveLength(2);
      await sinks[0]!.report(ref, {
        type: 'finished',
        conclusion: 'success',
        outputs: {},
        stepResults: [step(0, 'success')],
      });
      expect((await reporter.finishedRun(runId)).status).toBe('succeeded');
      // After the end a late step report does not touch the final record.
      await sinks[0]!.report(ref, { type: 'step', result: step(5, 'success') });
      expect((await store.getOrder(runId, 'a'))?.stepResults?.map((s) => s.name)).toEqual(['s0']);
    });

    it('cancels a run: unfinished orders cancelled, live ones terminated, run cancelled', async () => {
      const { orchestrator, reporter, instant } = setup({ conclude: () => 'hang' });
      const runId = await start(orchestrator, diamond);
      await orchestrator.cancelRun(runId, 'pull request closed');
      const run = await reporter.finishedRun(runId);
      expect(run.status).toBe('cancelled');
      expect(Object.values(await states(runId))).toEqual(['cancelled', 'cancelled', 'cancelled', 'cancelled']);
      expect(instant.terminated).toEqual([`instant:${runId}/build#1`]);
    });

    it('a newer run in the same concurrency group cancels the older one', async () => {
      const { orchestrator, reporter } = setup({ conclude: () => 'hang' });
      const first = await start(orchestrator, diamond, { group: 'ci-main' });
      const second = await start(orchestrator, diamond, { group: 'ci-main' });
      const old = await reporter.finishedRun(first);
      expect(old.status).toBe('cancelled');
      expect(old.reason).toMatch(/superseded/);
      expect((await store.getRun(second))?.status).toBe('running');
      await orchestrator.cancelRun(second, 'cleanup');
    });

    it('without cancel-in-progress a newer run waits for the running one, replacing an older waiting run', async () => {
      const { orchestrator, reporter } = setup({ conclude: () => 'hang' });
      const group = { group: 'deploy', cancelInProgress: false };
      const first = await start(orchestrator, plan([spec('a')]), group);
      const second = await start(orchestrator, plan([spec('a')]), group);
      const third = await start(orchestrator, plan([spec('a')]), group);
      expect((await store.getRun(first))?.status).toBe('running');
      expect((await reporter.finishedRun(second)).status).toBe('cancelled');
      expect((await store.getRun(third))?.status).toBe('pending');
      expect((await store.getOrder(third, 'a'))?.state).toBe('queued');
      await orchestrator.report({ runId: first, orderId: 'a', attempt: 1 }, { type: 'running' });
      await orchestrator.report(
        { runId: first, orderId: 'a', attempt: 1 },
        { type: 'finished', conclusion: 'success', outputs: {}, stepResults: [] },
      );
      expect((await reporter.finishedRun(first)).status).toBe('succeeded');
      expect((await store.getRun(third))?.status).toBe('running');
      expect((await store.getOrder(third, 'a'))?.state).toBe('dispatching');
      await orchestrator.cancelRun(third, 'cleanup');
    });

    it('starting the same run id twice starts nothing new', async () => {
      const { orchestrator, reporter, instant } = setup();
      const runId = await start(orchestrator, diamond);
      await reporter.finishedRun(runId);
      const stored = await store.getRun(runId);
      if (!stored) throw new Error('run not stored');
      const again = await orchestrator.startRun({ ...stored, plan: diamond });
      expect(again.created).toBe(false);
      expect([...instant.launches.values()].every((n) => n === 1)).toBe(true);
    });
  });

  describe('two orchestrators racing on one run', () => {
    it('64 completions delivered to both at once dispatch every order exactly once and lose no transition', async () => {
      const clientB = embedded.secondClient();
      const storeB = createDynamoStore({ client: clientB, table });
      const a = setup();
      const b = setup({ store: storeB });
      // Every report goes to both orchestrators at the same time; each runner launch is counted per attempt.
      a.sinks.push(b.orchestrator);
      b.sinks.push(a.orchestrator);
      const mids = Array.from({ length: 64 }, (_, i) => spec(`m${i}`, { needs: ['root'], needsOrders: ['root'] }));
      const p = plan([
        spec('root'),
        ...mids,
        spec('final', { needs: mids.map((m) => m.id), needsOrders: mids.map((m) => m.id) }),
      ]);
      const runId = await start(a.orchestrator, p);
      await waitFor(async () => (await store.getRun(runId))?.status !== 'running');
      await Promise.all([a.instant.idle(), b.instant.idle()]);
      expect((await store.getRun(runId))?.status).toBe('succeeded');
      const launches = new Map<string, number>();
      for (const m of [a.instant.launches, b.instant.launches])
        for (const [k, n] of m) launches.set(k, (launches.get(k) ?? 0) + n);
      expect(launches.size).toBe(66);
      expect([...launches.values()].every((n) => n === 1)).toBe(true);
      const orders = await store.listOrders(runId);
      expect(orders.every((o) => o.state === 'succeeded' && o.attempt === 1)).toBe(true);
      expect(orders.find((o) => o.id === 'final')?.pendingNeeds).toBe(0);
      clientB.destroy();
    });
  });

  describe('store requests per order', () => {
    it('do not grow with the run', async () => {
      const client = embedded.secondClient();
      const counter = countRequests(client);
      const counted = createDynamoStore({ client, table });
      const perOrder: number[] = [];
      for (const layers of [5, 20]) {
        const { orchestrator, reporter, instant } = setup({ store: counted });
        counter.reset();
        const p = layeredPlan(layers, 10, 3);
        const runId = await start(orchestrator, p);
        await reporter.finishedRun(runId);
        // The last completion's handling goes on after the run is reported finished (a look at the waiting
        // counter): wait for it, so its requests count for this run and none reaches a closed engine.
        await instant.idle();
        perOrder.push(counter.count() / p.orders.length);
      }
      client.destroy();
      const [small, large] = perOrder as [number, number];
      expect(large).toBeLessThanOrEqual(small * 1.1);
      expect(large).toBeLessThan(20);
    });
  });
});

async function waitFor(check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error('condition not reached');
}
