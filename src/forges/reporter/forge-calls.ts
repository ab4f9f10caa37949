/**
 * How the forge reporter calls the forge: retried when the error says it may pass, and in the background so a
 * forge call never blocks or fails the run that triggered it.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { ForgeError } from '../../errors.ts';

export interface RetryPolicy {
  /** Tries per call, the first included (at least 1). */
  readonly attempts: number;
  /** Pause before the first retry, doubled each time (0: no pause). */
  readonly retryDelayMs: number;
}

/** Retries retryable ForgeErrors with a doubling pause; other errors, and the last retryable one, are thrown. */
export async function withForgeRetries<T>(call: () => Promise<T>, policy: RetryPolicy): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      if (!(error instanceof ForgeError && error.retryable) || attempt >= policy.attempts) throw error;
      if (policy.retryDelayMs > 0) await sleep(policy.retryDelayMs * 2 ** (attempt - 1));
    }
  }
}

/** Work started and not awaited by its caller; a failure is logged with a static message and goes no further. */
export class BackgroundTasks {
  readonly #inflight = new Set<Promise<void>>();

  /** Starts `work`; the returned promise settles with it and never rejects. */
  run(log: Logger, message: string, work: () => Promise<void>): Promise<void> {
    const task = (async () => {
      try {
        await work();
      } catch (error) {
        log.warn({ err: error }, message);
      }
    })();
    this.#inflight.add(task);
    void task.finally(() => this.#inflight.delete(task));
    return task;
  }

  /** Resolves when every task started so far, and every task those started, has settled. */
  async idle(): Promise<void> {
    while (this.#inflight.size > 0) await Promise.allSettled([...this.#inflight]);
  }
}

/** Runs `work` over `items` with at most `limit` calls in flight at once. */
export async function forEachLimited<T>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await work(items[next++]!);
  });
  await Promise.all(lanes);
}
