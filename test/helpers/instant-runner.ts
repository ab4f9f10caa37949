import type { AgentReport, LaunchRequest, OrderRef, ReportSink, Runner } from '../../runners/runner.ts';

export interface InstantRunnerOptions {
  /** Where reports go; several sinks receive every report (duplicate deliveries, several orchestrators). */
  readonly sinks: () => readonly ReportSink[];
  /** The conclusion of an order; success by default. */
  readonly conclude?: (request: LaunchRequest) => 'success' | 'failure' | 'interrupted' | 'hang';
  readonly outputs?: (request: LaunchRequest) => Record<string, string>;
}

/**
 * A runner that finishes each order on the next turn of the event loop: what the engine and the store cost with
 * no execution time in the way. Counts launches per order attempt so tests can assert "exactly once".
 */
export function createInstantRunner(options: InstantRunnerOptions): Runner & {
  readonly launches: Map<string, number>;
  idle(): Promise<void>;
  readonly terminated: string[];
} {
  const launches = new Map<string, number>();
  const terminated: string[] = [];
  const inflight = new Set<Promise<void>>();
  const deliver = async (ref: OrderRef, report: AgentReport): Promise<void> => {
    await Promise.all(options.sinks().map((sink) => sink.report(ref, report)));
  };
  return {
    kind: 'local',
    launches,
    terminated,
    launch(request) {
      const ref = request.job.ref;
      const key = `${ref.runId}/${ref.orderId}#${ref.attempt}`;
      const handle = `instant:${key}`;
      launches.set(key, (launches.get(key) ?? 0) + 1);
      if ((launches.get(key) ?? 0) > 1) return Promise.resolve({ handle }); // idempotent per attempt
      const conclusion = options.conclude?.(request) ?? 'success';
      if (conclusion === 'hang') return Promise.resolve({ handle });
      const work = (async () => {
        await new Promise((resolve) => setImmediate(resolve));
        await deliver(ref, { type: 'running' });
        if (conclusion === 'interrupted') {
          await deliver(ref, { type: 'interrupted', reason: 'spot instance reclaimed' });
          return;
        }
        await deliver(ref, {
          type: 'finished',
          conclusion,
          outputs: options.outputs?.(request) ?? {},
          stepResults: [],
        });
      })();
      inflight.add(work);
      void work.finally(() => inflight.delete(work));
      return Promise.resolve({ handle });
    },
    terminate(handle) {
      terminated.push(handle);
      return Promise.resolve();
    },
    isAlive(handle) {
      return Promise.resolve(!terminated.includes(handle));
    },
    async idle() {
      while (inflight.size > 0) await Promise.all([...inflight]);
    },
  };
}
