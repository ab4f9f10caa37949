/**
 * `GET /runs/:run/orders/:order/log[?attempt=N]`: an order's log as plain text. While the order runs the answer
 * stays open and follows the log (`curl` shows it live), ending when the attempt is over; a session is capped so
 * an order that hangs does not hold a connection forever. Served as `text/plain` with `nosniff`, so log content
 * (which a pull request controls) is never rendered as HTML by a browser.
 */
import { isFinalOrderState, type OrderRecord } from '../core/types.ts';
import type { OrderRef } from '../../runners/runner.ts';
import type { Store } from '../store/store.ts';
import type { LogStore } from './log-store.ts';
import { text, type RouteDefinition } from './router.ts';
import { refusalFor, type Visibility } from './auth/visibility.ts';

export const ORDER_LOG_PATTERN = '/runs/:run/orders/:order/log';

/** The path of an order's log page (the commit status `target_url` is the public URL plus this). */
export function orderLogPath(runId: string, orderId: string): string {
  return `/runs/${encodeURIComponent(runId)}/orders/${encodeURIComponent(orderId)}/log`;
}

export interface LogRouteOptions {
  readonly store: Pick<Store, 'getOrder' | 'getRun'>;
  readonly logs: LogStore;
  /** Who may read which run's logs (auth/visibility.ts). */
  readonly visibility: Visibility;
  /** How often a live log is polled for new output and the order for its end. */
  readonly pollMs?: number;
  /** How long one live session may last; the reader reloads to go on. */
  readonly maxSessionMs?: number;
  readonly now?: () => number;
  /** Live logs one client (address) may follow at once; beyond, 429. */
  readonly maxTailsPerClient?: number;
  /** Live logs followed at once in all; beyond, 429 (each holds a connection and polls the store). */
  readonly maxTails?: number;
}

export const DEFAULT_POLL_MS = 500;
export const DEFAULT_MAX_TAILS_PER_CLIENT = 8;
export const DEFAULT_MAX_TAILS = 256;
export const DEFAULT_MAX_SESSION_MS = 10 * 60_000;

const HEADERS = {
  'content-type': 'text/plain; charset=utf-8',
  'x-content-type-options': 'nosniff',
  'cache-control': 'no-store',
} as const;

export function createLogRoute(opts: LogRouteOptions): RouteDefinition {
  const pollMs = opts.pollMs ?? DEFAULT_POLL_MS;
  const maxSessionMs = opts.maxSessionMs ?? DEFAULT_MAX_SESSION_MS;
  const now = opts.now ?? Date.now;
  const slots = new TailSlots(
    opts.maxTailsPerClient ?? DEFAULT_MAX_TAILS_PER_CLIENT,
    opts.maxTails ?? DEFAULT_MAX_TAILS,
  );

  return {
    method: 'GET',
    pattern: ORDER_LOG_PATTERN,
    async handle(req, params) {
      const runId = params.run ?? '';
      const orderId = params.order ?? '';
      const rawAttempt = req.query.get('attempt');
      if (rawAttempt !== null && !/^[1-9][0-9]{0,5}$/.test(rawAttempt))
        return text(400, 'attempt must be a positive integer');
      const [run, order] = await Promise.all([opts.store.getRun(runId), opts.store.getOrder(runId, orderId)]);
      const attempt = rawAttempt === null ? order?.attempt : Number(rawAttempt);
      // One answer for an unknown run, an unknown order, an attempt that never was and a run the reader may not
      // see: nothing to tell apart (someone not logged in is sent to log in first).
      const notFound = () => text(404, 'not found');
      if (!run || !order || attempt === undefined || attempt > order.attempt) return notFound();
      const refused = await refusalFor(opts.visibility, req, run, notFound);
      if (refused !== undefined) return refused;
      if (attempt === order.attempt && order.state === 'queued') {
        const why = order.waitingSince === undefined ? 'its needs are not finished yet' : 'waiting for capacity';
        return { status: 200, headers: HEADERS, body: `${order.name}: waiting to start (${why})\n` };
      }
      const ref: OrderRef = { runId, orderId, attempt };
      // A HEAD never reads the body: no live session, so no slot to hold.
      if (req.method === 'HEAD') return { status: 200, headers: HEADERS, body: '' };
      const release = slots.take(req.client ?? 'unknown');
      if (release === undefined) {
        return {
          ...text(429, 'too many live logs are open; close some, or wait for them to end'),
          headers: { ...HEADERS, 'retry-after': '30' },
        };
      }
      // The slot is released when the session ends, the client goes away, or the transport stops reading.
      req.signal.addEventListener('abort', release, { once: true });
      return { status: 200, headers: HEADERS, body: released(tail(ref, order, req.signal), release) };
    },
  };

  async function* tail(ref: OrderRef, first: OrderRecord, signal: AbortSignal): AsyncGenerator<string> {
    const started = now();
    let offset = 0;
    let order = first;
    let over = attemptOver(first, ref.attempt);
    for (;;) {
      // Drain what is there now.
      for (;;) {
        const chunk = await opts.logs.read(ref, { offset });
        if (chunk.text !== '') yield chunk.text;
        if (chunk.next === offset || chunk.next >= chunk.size) {
          offset = chunk.next;
          break;
        }
        offset = chunk.next;
      }
      if (over) break;
      if (now() - started >= maxSessionMs) {
        yield `\n[spotcheck] live log session ended after ${String(Math.round(maxSessionMs / 60_000))} minutes; reload to follow on\n`;
        return;
      }
      await sleep(pollMs, signal);
      if (signal.aborted) return;
      const fresh = await opts.store.getOrder(ref.runId, ref.orderId);
      if (!fresh) return;
      order = fresh;
      // Decided before the last drain, so output written just before the end is still read.
      over = attemptOver(order, ref.attempt) || (await opts.logs.isComplete(ref));
    }
    if (offset === 0 && order.attempt === ref.attempt && isFinalOrderState(order.state))
      yield `[spotcheck] no log: the order ${order.state === 'skipped' ? 'was skipped' : `ended ${order.state}`}${order.reason === undefined ? '' : `: ${order.reason}`}\n`;
    if (order.attempt > ref.attempt)
      yield `\n[spotcheck] attempt ${String(ref.attempt)} is over; attempt ${String(order.attempt)}: ?attempt=${String(order.attempt)}\n`;
  }
}

function attemptOver(order: OrderRecord, attempt: number): boolean {
  return order.attempt !== attempt || isFinalOrderState(order.state);
}

/** Resolves after `ms`, or at once when the reader went away. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}

/** Runs `release` once the session is over, however it ends (done, thrown, or returned early by the transport). */
async function* released(body: AsyncGenerator<string>, release: () => void): AsyncGenerator<string> {
  try {
    yield* body;
  } finally {
    release();
  }
}

/**
 * Open live sessions per client and in all: a client cannot hold every connection (or make the store poll for each
 * of hundreds of tails). A release counts once, however many ways the session ends.
 */
class TailSlots {
  readonly #perClient = new Map<string, number>();
  #total = 0;
  readonly #maxPerClient: number;
  readonly #max: number;

  constructor(maxPerClient: number, max: number) {
    this.#maxPerClient = maxPerClient;
    this.#max = max;
  }

  take(client: string): (() => void) | undefined {
    const held = this.#perClient.get(client) ?? 0;
    if (held >= this.#maxPerClient || this.#total >= this.#max) return undefined;
    this.#perClient.set(client, held + 1);
    this.#total++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.#total--;
      const left = (this.#perClient.get(client) ?? 1) - 1;
      if (left === 0) this.#perClient.delete(client);
      else this.#perClient.set(client, left);
    };
  }
}
