/**
 * Small formatting shared by the sticky comment, the CLI progress view and commit statuses: durations, short SHAs,
 * state icons and words, and plan order. Pure: every time value is an argument.
 */
import { ORDER_STATES } from '../types.ts';
import type { OrderRecord, OrderState, RunStatus } from '../types.ts';

/** Emoji per order state, for Markdown (the sticky comment) where emoji render at a predictable width. */
export const ORDER_STATE_ICONS = {
  queued: '🕒',
  dispatching: '🚀',
  running: '⏳',
  interrupted: '⚠️',
  succeeded: '✅',
  failed: '❌',
  timed_out: '⌛',
  cancelled: '🚫',
  skipped: '⏭️',
} as const satisfies Record<OrderState, string>;

/** Emoji per run status, as docs/architecture.md "Reporting" names them. */
export const RUN_STATUS_ICONS = {
  pending: '⏸️',
  running: '⏳',
  succeeded: '✅',
  failed: '❌',
  cancelled: '🚫',
} as const satisfies Record<RunStatus, string>;

/** The state as a word a person reads (`timed_out` → `timed out`). */
export function stateWord(state: OrderState | RunStatus): string {
  return state.replace(/_/g, ' ');
}

/** Git's default abbreviation is 7 hex digits (`core.abbrev`); enough for a comment that also links the run. */
export function shortSha(sha: string): string {
  return sha.slice(0, 7);
}

const pad2 = (n: number): string => String(n).padStart(2, '0');

/** `42s`, `1m 05s`, `2h 03m 09s`. Negative or non-finite input counts as 0 (clock skew between replicas). */
export function formatDuration(ms: number): string {
  const total = Number.isFinite(ms) && ms > 0 ? Math.floor(ms / 1000) : 0;
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (h > 0) return `${h}h ${pad2(m)}m ${pad2(s)}s`;
  if (m > 0) return `${m}m ${pad2(s)}s`;
  return `${s}s`;
}

/**
 * `HH:MM:SS` of an epoch-ms instant, in UTC: the core cannot read the host's time zone (it is environment), and the
 * same input must give the same text on every replica.
 */
export function formatClock(epochMs: number): string {
  const d = new Date(epochMs);
  return `${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())}`;
}

/**
 * How long an order has run: from `startedAt` to `finishedAt`, or to `now` while it is not final. Undefined when it
 * never started (queued, skipped, failed before dispatch).
 */
export function orderDurationMs(order: OrderRecord, now: number): number | undefined {
  if (order.startedAt === undefined) return undefined;
  const end = order.finishedAt ?? (isActive(order.state) ? now : undefined);
  return end === undefined ? undefined : Math.max(0, end - order.startedAt);
}

function isActive(state: OrderState): boolean {
  return state === 'dispatching' || state === 'running' || state === 'interrupted';
}

/**
 * Orders in plan order. The store returns a run's orders in key order (string-sorted: `test.10` before `test.2`), so
 * jobs keep the order the caller gives and a matrix job's cells are put back in expansion order (`<job>.<n>`,
 * OrderSpec.id). Stable and deterministic.
 */
export function sortOrdersForDisplay(orders: readonly OrderRecord[]): OrderRecord[] {
  const jobRank = new Map<string, number>();
  for (const o of orders) if (!jobRank.has(o.job)) jobRank.set(o.job, jobRank.size);
  const cellIndex = (o: OrderRecord): number => {
    const suffix = o.id.startsWith(`${o.job}.`) ? o.id.slice(o.job.length + 1) : '';
    return /^\d+$/.test(suffix) ? Number(suffix) : 0;
  };
  return (
    orders
      .map((o, i) => ({ o, i }))
      // Plan position first: records from the store come back sorted by id, not by plan.
      .sort(
        (a, b) =>
          a.o.seq - b.o.seq ||
          (jobRank.get(a.o.job) ?? 0) - (jobRank.get(b.o.job) ?? 0) ||
          cellIndex(a.o) - cellIndex(b.o) ||
          a.i - b.i,
      )
      .map(({ o }) => o)
  );
}

/** Counts per state that occurs, in ORDER_STATES order (so the same orders always give the same list). */
export function countStates(orders: Iterable<OrderRecord>): [OrderState, number][] {
  const counts = new Map<OrderState, number>();
  for (const o of orders) counts.set(o.state, (counts.get(o.state) ?? 0) + 1);
  return ORDER_STATES.flatMap((s) => {
    const n = counts.get(s);
    return n === undefined ? [] : [[s, n] as [OrderState, number]];
  });
}

/**
 * The overall status of several runs (one per workflow): running while any runs, else failed if any failed, else
 * cancelled if any was cancelled, else succeeded.
 */
export function overallStatus(statuses: readonly RunStatus[]): RunStatus {
  for (const s of ['running', 'pending', 'failed', 'cancelled'] as const) if (statuses.includes(s)) return s;
  return 'succeeded';
}

// Intentional: these match the control characters that must never reach a table row or a terminal.
// eslint-disable-next-line no-control-regex
const CONTROLS = /[\u0000-\u001F\u007F-\u009F\u2028\u2029]+/g;
/** The bidirectional overrides and isolates behind "Trojan Source" (CVE-2021-42574). */
const BIDI = /[\u202A-\u202E\u2066-\u2069]/g;

/**
 * User text on one line: runs of control characters (newlines, tabs, ESC of an ANSI sequence, C1 controls, line and
 * paragraph separators) become one space, bidi overrides are dropped, then it is cut to `maxChars` code points with
 * `…`.
 */
export function oneLine(text: string, maxChars: number): string {
  const flat = text.replace(BIDI, '').replace(CONTROLS, ' ').trim();
  const chars = Array.from(flat);
  return chars.length > maxChars ? `${chars.slice(0, Math.max(0, maxChars - 1)).join('')}…` : flat;
}
