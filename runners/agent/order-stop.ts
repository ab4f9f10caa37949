/**
 * Why and when an order stops early — cancelled by the caller's signal or past its `timeout-minutes` — and the
 * process groups its steps started, killed when it stops and when it ends.
 */
import { killProcessGroup, type GroupProcess } from './process-group.ts';

export type StopKind = 'cancelled' | 'timed_out';

export class OrderStop {
  /** Aborted once, on the first stop. */
  readonly signal: AbortSignal;
  #kind: StopKind | undefined;
  readonly #controller = new AbortController();
  readonly #external: AbortSignal | undefined;
  readonly #onAbort = (): void => this.request('cancelled');
  readonly #timer: ReturnType<typeof setTimeout> | undefined;

  /** Starts listening to `external` and the order's timer (undefined: no limit). */
  constructor(external: AbortSignal | undefined, timeoutMs: number | undefined) {
    this.signal = this.#controller.signal;
    this.#external = external;
    if (external?.aborted === true) this.request('cancelled');
    else external?.addEventListener('abort', this.#onAbort, { once: true });
    this.#timer = timeoutMs === undefined ? undefined : setTimeout(() => this.request('timed_out'), timeoutMs);
  }

  /** Undefined until the order is stopped; then the first reason, kept. */
  get kind(): StopKind | undefined {
    return this.#kind;
  }

  request(kind: StopKind): void {
    if (this.#kind !== undefined) return;
    this.#kind = kind;
    this.#controller.abort();
  }

  /** How the log says it: "cancelled" or "timed out". */
  get words(): string {
    return this.#kind === 'timed_out' ? 'timed out' : 'cancelled';
  }

  dispose(): void {
    clearTimeout(this.#timer);
    this.#external?.removeEventListener('abort', this.#onAbort);
  }
}

/** The process groups an order's steps started: each killed at most once per request, all awaited at the end. */
export class ProcessGroups {
  readonly #groups: GroupProcess[] = [];
  readonly #kills: Promise<void>[] = [];
  readonly #graceMs: number;

  constructor(graceMs: number) {
    this.#graceMs = graceMs;
  }

  add(proc: GroupProcess): void {
    this.#groups.push(proc);
  }

  /** SIGTERM, then SIGKILL after the grace period, to the whole group. */
  kill(proc: GroupProcess): void {
    if (proc.pid !== undefined) this.#kills.push(killProcessGroup(proc.pid, this.#graceMs));
  }

  /** Background processes live until the order ends, as on GitHub's runner ("Cleaning up orphan processes"). */
  async killAll(): Promise<void> {
    for (const proc of this.#groups) this.kill(proc);
    await Promise.all(this.#kills);
    for (const proc of this.#groups) proc.detach();
  }
}

/** Minutes (fractions allowed) to a timer delay, or undefined for "no limit". */
export function minutesToMs(minutes: number | undefined): number | undefined {
  if (minutes === undefined || !Number.isFinite(minutes) || minutes <= 0) return undefined;
  // setTimeout fires at once above 2^31-1 ms (~24.8 days); GitHub's own cap is 35 days for self-hosted jobs.
  return Math.min(Math.round(minutes * 60_000), 2 ** 31 - 1);
}
