/**
 * Live step results: each `step` report an agent sends while its order runs is kept on the order record, so the
 * order page shows every step as it ends. The `finished` report's full list replaces this one when the order ends.
 */
import type { Logger } from 'pino';
import { keptStepResults, withStepResult } from '../core/step-results.ts';
import type { StepResult } from '../core/types.ts';
import type { Store } from './store.ts';

export interface StepRef {
  readonly runId: string;
  readonly orderId: string;
  readonly attempt: number;
}

export class LiveSteps {
  readonly #store: Pick<Store, 'getOrder' | 'updateOrder'>;
  readonly #log: Logger;
  /** Writes per order attempt, one after another (a read, then a conditional write of the longer list). */
  readonly #writes = new Map<string, Promise<void>>();

  constructor(store: Pick<Store, 'getOrder' | 'updateOrder'>, log: Logger) {
    this.#store = store;
    this.#log = log;
  }

  /**
   * Only while the order is `running` at that attempt: a report that arrives before `running` was written, or after
   * the order ended, changes nothing (the `finished` report carries every step's result). Writes of one attempt are
   * chained in this process; one agent sends its reports in order, so replicas do not race on them. A failed write
   * is logged, never thrown: the live view is a convenience, the final report is the record.
   */
  record(ref: StepRef, result: StepResult): Promise<void> {
    const key = `${ref.runId}/${ref.orderId}/${String(ref.attempt)}`;
    const write = async (): Promise<void> => {
      const order = await this.#store.getOrder(ref.runId, ref.orderId);
      if (order?.state !== 'running' || order.attempt !== ref.attempt) return;
      // Summaries are stored apart (the orchestrator wrote this one already); annotations are kept within bounds.
      const earlier = order.stepResults ?? [];
      const stepResults = keptStepResults(withStepResult(earlier, result), earlier);
      await this.#store.updateOrder(
        ref.runId,
        ref.orderId,
        { states: ['running'], attempt: ref.attempt },
        { stepResults },
      );
    };
    const next = (this.#writes.get(key) ?? Promise.resolve())
      .then(write)
      .catch((error: unknown) => this.#log.warn({ err: error, ...ref }, 'step result not recorded'))
      .finally(() => {
        if (this.#writes.get(key) === next) this.#writes.delete(key);
      });
    this.#writes.set(key, next);
    return next;
  }
}
