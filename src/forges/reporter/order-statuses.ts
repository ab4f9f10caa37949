/**
 * Commit status writes, per run of N orders (issue 4, "Rate limits"): `pending` for every order once when the run
 * starts, then the final state once — exactly 2 per order in one process. The final write waits for the pending
 * ones, so a pending never lands on top of a final. Also remembers, per run, its forge and the deepest wave
 * dispatched so far (the sticky comment re-renders when a deeper wave starts).
 */
import type { Logger } from 'pino';
import { statusFor } from './commit-status.ts';
import type { OrderRecord, RunRecord } from '../../core/types.ts';
import { forEachLimited, withForgeRetries, type BackgroundTasks, type RetryPolicy } from './forge-calls.ts';
import type { Forge } from '../forge.ts';
import type { Store } from '../../store/store.ts';

/** At most this many pending-status writes of one run in flight at once (GitHub's secondary rate limits). */
export const STATUS_CONCURRENCY = 8;
/** Runs tracked in memory at once; an evicted run only loses its pending-before-final ordering and wave mark. */
export const MAX_TRACKED_RUNS = 5000;

export interface OrderStatusesOptions {
  readonly store: Pick<Store, 'listOrders'>;
  /** Finds the run's forge (undefined: the run is not reported). */
  readonly forgeFor: (run: RunRecord) => Promise<Forge | undefined>;
  readonly logger: Logger;
  readonly now: () => number;
  readonly retry: RetryPolicy;
  readonly tasks: BackgroundTasks;
  readonly logUrl: (runId: string, orderId: string) => string;
  /** Runs tracked at once; default MAX_TRACKED_RUNS. */
  readonly maxTracked?: number;
}

/** What this process knows of a run it reports. */
export interface TrackedRun {
  readonly log: Logger;
  /** The run's forge, looked up once; undefined when there is none (logged). */
  readonly forge: Promise<Forge | undefined>;
  /** Settles when the run-start pending statuses are written (final statuses wait for it). */
  pendingWritten: Promise<void>;
  readonly finalWritten: Set<string>;
  /** The deepest wave dispatched so far (-1: none). */
  deepestWave: number;
  /** The run-start pending statuses were scheduled. */
  started: boolean;
}

export class OrderStatuses {
  readonly #options: OrderStatusesOptions;
  readonly #runs = new Map<string, TrackedRun>();

  constructor(options: OrderStatusesOptions) {
    this.#options = options;
  }

  /** The run's entry if tracked. */
  peek(runId: string): TrackedRun | undefined {
    return this.#runs.get(runId);
  }

  /** The run's entry, made (and its forge looked up) when missing. */
  track(run: RunRecord): TrackedRun {
    let state = this.#runs.get(run.runId);
    if (state) return state;
    const log = this.#options.logger.child({ runId: run.runId });
    state = {
      log,
      forge: this.#options.forgeFor(run).catch((error: unknown) => {
        log.warn({ err: error }, 'no forge for the run; not reporting it');
        return undefined;
      }),
      pendingWritten: Promise.resolve(),
      finalWritten: new Set(),
      deepestWave: -1,
      started: false,
    };
    this.#runs.set(run.runId, state);
    // A run whose end this process never sees (another replica finished it) must not stay forever.
    if (this.#runs.size > (this.#options.maxTracked ?? MAX_TRACKED_RUNS))
      this.#runs.delete(this.#runs.keys().next().value!);
    return state;
  }

  /** The run is over: no order of it changes again. */
  forget(runId: string): void {
    this.#runs.delete(runId);
  }

  /** Once per run: `pending` for each of its orders, at most STATUS_CONCURRENCY writes at once. */
  runStarted(run: RunRecord): void {
    const state = this.track(run);
    if (state.started) return;
    state.started = true;
    state.pendingWritten = this.#options.tasks.run(state.log, 'pending statuses not written', async () => {
      const forge = await state.forge;
      if (!forge) return;
      const orders = await this.#options.store.listOrders(run.runId);
      await forEachLimited(orders, STATUS_CONCURRENCY, (order) =>
        this.#write(forge, run, { ...order, state: 'queued' }, state.log),
      );
    });
  }

  /** Once per order: its final status, after the run-start pending ones. False: it was already written. */
  orderFinished(run: RunRecord, order: OrderRecord): boolean {
    const state = this.track(run);
    if (state.finalWritten.has(order.id)) return false;
    state.finalWritten.add(order.id);
    const pending = state.pendingWritten;
    void this.#options.tasks.run(state.log, 'final status not written', async () => {
      const forge = await state.forge;
      if (!forge) return;
      await pending; // never let the run-start pending land after the final state
      await this.#write(forge, run, order, state.log);
    });
    return true;
  }

  /** Whether this dispatch is the first of a wave deeper than any dispatched so far in the run (and records it). */
  deeperWave(run: RunRecord, order: OrderRecord): boolean {
    const state = this.track(run);
    if (order.wave <= state.deepestWave) return false;
    state.deepestWave = order.wave;
    return true;
  }

  async #write(forge: Forge, run: RunRecord, order: OrderRecord, log: Logger): Promise<void> {
    const status = statusFor(order, {
      workflow: run.workflowName,
      targetUrl: this.#options.logUrl(run.runId, order.id),
      maxDescription: forge.maxStatusDescription,
      now: this.#options.now(),
    });
    try {
      await withForgeRetries(() => forge.setStatus(run.repo, run.sha, status), this.#options.retry);
    } catch (error) {
      log.warn({ err: error, orderId: order.id, state: status.state }, 'commit status not written');
    }
  }
}
