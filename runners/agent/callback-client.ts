/**
 * How a cloud agent reports: `POST <reportUrl>` with `Authorization: Bearer <report token>` and one `AgentReport`
 * as JSON (src/server/callback-route.ts). Transient failures (network, 408, 429, 5xx) are retried with capped
 * exponential backoff and full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter") until a deadline;
 * refusals (401, 409, 4xx) are final — retrying them cannot help.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { AgentReport } from '../runner.ts';

export type Delivery =
  | { readonly ok: true }
  | { readonly ok: false; readonly permanent: boolean; readonly status?: number; readonly error: string };

export interface CallbackClient {
  /** Sends one report, retrying transient failures until `deadlineMs` from now. Never throws. */
  deliver(report: AgentReport, deadlineMs: number): Promise<Delivery>;
}

export interface CallbackClientOptions {
  readonly reportUrl: string;
  readonly reportToken: string;
  readonly fetch?: typeof fetch;
  readonly logger?: Logger;
  /** First retry delay (before jitter); doubles per attempt up to `maxBackoffMs`. */
  readonly baseBackoffMs?: number;
  readonly maxBackoffMs?: number;
  /** One request's limit: a server that does not answer in this long is retried. */
  readonly requestTimeoutMs?: number;
  readonly now?: () => number;
  readonly random?: () => number;
}

const DEFAULT_BASE_BACKOFF_MS = 500;
const DEFAULT_MAX_BACKOFF_MS = 30_000;
const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
/** Statuses that may succeed on a retry (RFC 9110 §15.5.9, §15.6; RFC 6585 §4 for 429). */
const RETRYABLE_STATUSES = new Set([408, 425, 429, 500, 502, 503, 504]);

export function createCallbackClient(opts: CallbackClientOptions): CallbackClient {
  const doFetch = opts.fetch ?? fetch;
  const now = opts.now ?? Date.now;
  const random = opts.random ?? Math.random;
  const base = opts.baseBackoffMs ?? DEFAULT_BASE_BACKOFF_MS;
  const cap = opts.maxBackoffMs ?? DEFAULT_MAX_BACKOFF_MS;
  const requestTimeoutMs = opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;

  const once = async (body: string): Promise<Delivery & { retryAfterMs?: number }> => {
    let res: Response;
    try {
      res = await doFetch(opts.reportUrl, {
        method: 'POST',
        headers: { authorization: `Bearer ${opts.reportToken}`, 'content-type': 'application/json' },
        body,
        signal: AbortSignal.timeout(requestTimeoutMs),
      });
    } catch (error) {
      return { ok: false, permanent: false, error: describe(error) };
    }
    // The answer is a line of text at most; read it so the connection is reused.
    const answer = (await res.text().catch(() => '')).trim().slice(0, 200);
    if (res.ok) return { ok: true };
    const retryAfter = Number(res.headers.get('retry-after'));
    return {
      ok: false,
      permanent: !RETRYABLE_STATUSES.has(res.status),
      status: res.status,
      error: `the server answered ${String(res.status)}${answer === '' ? '' : `: ${answer}`}`,
      ...(Number.isFinite(retryAfter) && retryAfter > 0 ? { retryAfterMs: retryAfter * 1000 } : {}),
    };
  };

  return {
    async deliver(report, deadlineMs) {
      const body = JSON.stringify(report);
      const deadline = now() + deadlineMs;
      for (let attempt = 0; ; attempt++) {
        const result = await once(body);
        if (result.ok || result.permanent) {
          if (!result.ok) opts.logger?.warn({ report: report.type, status: result.status }, 'report refused');
          return result.ok ? { ok: true } : withoutHint(result);
        }
        const backoff = Math.max(random() * Math.min(cap, base * 2 ** attempt), result.retryAfterMs ?? 0);
        const wait = Math.min(backoff, cap);
        if (now() + wait >= deadline) {
          opts.logger?.warn({ report: report.type, status: result.status, attempts: attempt + 1 }, 'report lost');
          return withoutHint(result);
        }
        opts.logger?.debug({ report: report.type, status: result.status, attempt }, 'report failed; retrying');
        await delay(wait);
      }
    },
  };
}

function withoutHint(result: Delivery & { retryAfterMs?: number }): Delivery {
  if (result.ok) return result;
  return {
    ok: false,
    permanent: result.permanent,
    error: result.error,
    ...(result.status === undefined ? {} : { status: result.status }),
  };
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const cause: unknown = error.cause;
    const detail = cause instanceof Error ? `: ${cause.message}` : '';
    return `${error.message}${detail}`;
  }
  return String(error);
}

export interface ReportStreamOptions {
  /** Log chunks are coalesced into one report per this many ms … */
  readonly flushMs?: number;
  /** … or this many bytes, whichever comes first. */
  readonly flushBytes?: number;
  /** How long a `running`, `log` or `step` report is retried before it is given up. */
  readonly progressDeadlineMs?: number;
  /** How long the final report is retried: a lost callback must not lose the result. */
  readonly finalDeadlineMs?: number;
  /** A report was refused for good (401: the token; 409: the order is over or superseded on the server). */
  readonly onRefused?: (delivery: Delivery & { ok: false }) => void;
}

export interface ReportStream {
  /** Buffers step output; sent coalesced, in order with the other reports. */
  log(chunk: string): void;
  /** Queues a progress report (`running`, `step`) after everything sent or logged before it. */
  send(report: AgentReport): void;
  /** Sends the final report after everything before it, retried up to the final deadline. */
  finish(report: AgentReport & { type: 'finished' | 'interrupted' }): Promise<Delivery>;
}

export const DEFAULT_FLUSH_MS = 500;
export const DEFAULT_FLUSH_BYTES = 64 * 1024;
export const DEFAULT_PROGRESS_DEADLINE_MS = 60_000;
export const DEFAULT_FINAL_DEADLINE_MS = 10 * 60_000;
/** UTF-16 units per log report: at most 768 KiB of UTF-8, under the callback route's 1 MiB chunk cap. */
const MAX_CHUNK_UNITS = 256 * 1024;

/**
 * Reports strictly in order, on one chain. A progress report that cannot be delivered by its deadline is dropped
 * (the log page misses a piece; the result does not depend on it); the final report is retried much longer.
 */
export function createReportStream(client: CallbackClient, opts: ReportStreamOptions = {}): ReportStream {
  const flushMs = opts.flushMs ?? DEFAULT_FLUSH_MS;
  const flushBytes = opts.flushBytes ?? DEFAULT_FLUSH_BYTES;
  const progressDeadlineMs = opts.progressDeadlineMs ?? DEFAULT_PROGRESS_DEADLINE_MS;
  const finalDeadlineMs = opts.finalDeadlineMs ?? DEFAULT_FINAL_DEADLINE_MS;
  let chain: Promise<unknown> = Promise.resolve();
  let buffered: string[] = [];
  let bufferedBytes = 0;
  let timer: NodeJS.Timeout | undefined;
  let refused = false;

  const enqueue = (report: AgentReport, final: boolean): Promise<Delivery> => {
    const next = chain.then(async (): Promise<Delivery> => {
      // After a refusal of the token or the order, progress reports would be refused too: skip them.
      if (refused && !final) return { ok: false, permanent: true, error: 'skipped after a refusal' };
      const delivery = await client.deliver(report, final ? finalDeadlineMs : progressDeadlineMs);
      if (!delivery.ok && delivery.permanent && (delivery.status === 401 || delivery.status === 409)) {
        refused = true;
        opts.onRefused?.(delivery);
      }
      return delivery;
    });
    chain = next;
    return next;
  };
  const flush = (): void => {
    clearTimeout(timer);
    timer = undefined;
    if (buffered.length === 0) return;
    const text = buffered.join('');
    buffered = [];
    bufferedBytes = 0;
    for (const chunk of splitChunk(text)) void enqueue({ type: 'log', chunk }, false);
  };

  return {
    log(chunk) {
      if (chunk === '') return;
      buffered.push(chunk);
      bufferedBytes += Buffer.byteLength(chunk);
      if (bufferedBytes >= flushBytes) flush();
      else timer ??= setTimeout(flush, flushMs);
    },
    send(report) {
      flush();
      void enqueue(report, false);
    },
    finish(report) {
      flush();
      return enqueue(report, true);
    },
  };
}

/** Pieces the callback route accepts, never cutting a surrogate pair. */
function splitChunk(text: string): string[] {
  if (text.length <= MAX_CHUNK_UNITS) return [text];
  const pieces: string[] = [];
  let start = 0;
  while (start < text.length) {
    let end = Math.min(start + MAX_CHUNK_UNITS, text.length);
    const last = text.charCodeAt(end - 1);
    if (end < text.length && last >= 0xd800 && last <= 0xdbff) end -= 1;
    pieces.push(text.slice(start, end));
    start = end;
  }
  return pieces;
}
