/**
 * What `spotcheck run` shows while a run progresses: a table redrawn in place on a TTY, or one line per order
 * transition when the output is a pipe or a CI log. Pure: the caller decides when to draw and where.
 */
import type { RunView } from './comment.ts';
import {
  countStates,
  formatClock,
  formatDuration,
  oneLine,
  orderDurationMs,
  overallStatus,
  shortSha,
  sortOrdersForDisplay,
  stateWord,
} from './format.ts';
import type { EventName, OrderRecord, OrderState, RunRecord, RunStatus } from '../types.ts';

export interface ProgressOptions {
  /** Terminal columns; every line fits in it. */
  width: number;
  /** ANSI colour on the state words (only when the output is a colour-capable TTY). */
  color: boolean;
}

/** Caps on user text before fitting, so one 10,000-character job name cannot make a line costly to measure. */
const CAP = { name: 300, reason: 300, runner: 40, workflow: 100, actor: 60 } as const;

const TRIGGER_WORDS = {
  push: 'push',
  pull_request: 'pull request',
  testme: '!testme',
} as const satisfies Record<EventName, string>;

/** ECMA-48 SGR colours: green done, red failed, yellow in flight, dim for what did not or will not run yet. */
const SGR = {
  pending: '2',
  queued: '2',
  dispatching: '33',
  running: '33',
  interrupted: '33',
  succeeded: '32',
  failed: '31',
  timed_out: '31',
  cancelled: '2',
  skipped: '2',
} as const satisfies Record<OrderState | RunStatus, string>;

/** States whose reason (why skipped, failed, cancelled, waiting) is worth a glance in the table. */
const SHOWS_REASON: ReadonlySet<OrderState> = new Set([
  'queued',
  'interrupted',
  'failed',
  'timed_out',
  'cancelled',
  'skipped',
]);

function paint(text: string, state: OrderState | RunStatus, color: boolean): string {
  return color ? `\u001B[${SGR[state]}m${text}\u001B[0m` : text;
}

/**
 * Terminal columns a code point takes: 0 for combining marks, zero-width characters and variation selectors, 2 for
 * East Asian Wide/Fullwidth ranges and emoji pictographs (Unicode UAX #11), 1 otherwise. An approximation of
 * wcwidth that is right for names people give CI jobs.
 */
function charWidth(cp: number): number {
  if ((cp >= 0x300 && cp <= 0x36f) || (cp >= 0x200b && cp <= 0x200f) || (cp >= 0xfe00 && cp <= 0xfe0f)) return 0;
  if (
    (cp >= 0x1100 && cp <= 0x115f) ||
    (cp >= 0x2e80 && cp <= 0xa4cf) ||
    (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe30 && cp <= 0xfe4f) ||
    (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) ||
    (cp >= 0x1f300 && cp <= 0x1f64f) ||
    (cp >= 0x1f900 && cp <= 0x1f9ff) ||
    (cp >= 0x20000 && cp <= 0x3fffd)
  )
    return 2;
  return 1;
}

/** Display width of text without escape sequences (all user text went through oneLine, which removes ESC). */
export function displayWidth(text: string): number {
  let w = 0;
  for (const ch of text) w += charWidth(ch.codePointAt(0) ?? 0);
  return w;
}

/** Cuts `text` to at most `width` columns, ending with `…` when cut. */
function fit(text: string, width: number): string {
  if (displayWidth(text) <= width) return text;
  if (width <= 0) return '';
  let out = '';
  let w = 0;
  for (const ch of text) {
    const cw = charWidth(ch.codePointAt(0) ?? 0);
    if (w + cw > width - 1) break;
    out += ch;
    w += cw;
  }
  return `${out}…`;
}

/** `text` cut or padded with spaces to exactly `width` columns. */
function cell(text: string, width: number): string {
  const t = fit(text, width);
  return t + ' '.repeat(Math.max(0, width - displayWidth(t)));
}

function orderLabel(o: OrderRecord): string {
  const name = oneLine(o.name, CAP.name);
  return SHOWS_REASON.has(o.state) && o.reason !== undefined ? `${name} — ${oneLine(o.reason, CAP.reason)}` : name;
}

/**
 * The table `spotcheck run` redraws on a TTY: per workflow a header (status, name, SHA, trigger, duration), then one
 * row per order in plan order (state, name and why, runner, duration), then the totals. Every line fits in
 * `opts.width` columns; names are cut, never wrapped, so a redraw moves the cursor up a known number of lines.
 */
export function renderProgressTable(views: readonly RunView[], now: number, opts: ProgressOptions): string {
  const width = Math.max(1, Math.floor(opts.width));
  const lines: string[] = [];
  const all = views.flatMap((v) => v.orders);
  const stateW = Math.max(0, ...all.map((o) => stateWord(o.state).length));
  const runnerW = Math.min(
    CAP.runner,
    Math.max(0, ...all.map((o) => oneLine(o.runner ?? o.runsOn, CAP.runner).length)),
  );
  const durOf = (o: OrderRecord): string => {
    const ms = orderDurationMs(o, now);
    return ms === undefined ? '' : formatDuration(ms);
  };
  const durW = Math.max(0, ...all.map((o) => durOf(o).length));
  // Two spaces of indent and two between columns; the name takes what is left (never less than 8 columns, never
  // more than the longest name needs).
  const longest = Math.max(0, ...all.map((o) => displayWidth(orderLabel(o))));
  const nameW = Math.max(8, Math.min(longest, width - 2 - stateW - 2 - 2 - runnerW - 2 - durW));

  for (const { run, orders } of views) {
    const status = stateWord(run.status);
    const head = [
      status,
      oneLine(run.workflowName, CAP.workflow),
      oneLine(shortSha(run.sha), 7),
      `${TRIGGER_WORDS[run.event]} by ${oneLine(run.actor, CAP.actor)}`,
      formatDuration((run.finishedAt ?? now) - run.createdAt),
    ].join('  ');
    const fitted = fit(head, width);
    lines.push(
      fitted.startsWith(`${status}  `) ? paint(status, run.status, opts.color) + fitted.slice(status.length) : fitted,
    );
    for (const o of sortOrdersForDisplay(orders)) {
      const word = stateWord(o.state);
      const rest = [
        cell(orderLabel(o), nameW),
        cell(oneLine(o.runner ?? o.runsOn, CAP.runner), runnerW),
        durOf(o).padStart(durW),
      ].join('  ');
      const plain = fit(`  ${word.padEnd(stateW)}  ${rest}`.trimEnd(), width);
      lines.push(
        plain.startsWith(`  ${word}`) ? `  ${paint(word, o.state, opts.color)}${plain.slice(2 + word.length)}` : plain,
      );
    }
  }
  if (views.length > 0) {
    const status = overallStatus(views.map((v) => v.run.status));
    const counts = countStates(all)
      .map(([s, n]) => `${n} ${stateWord(s)}`)
      .join(' · ');
    const total = fit(`${stateWord(status)}  ${counts === '' ? 'no orders' : counts}`, width);
    const word = stateWord(status);
    lines.push(total.startsWith(`${word}  `) ? paint(word, status, opts.color) + total.slice(word.length) : total);
  }
  return lines.join('\n');
}

/**
 * One line per order transition when the output is not a TTY, e.g.
 * `12:00:03  ci/test (1)  running  [local]`, with the duration once final and the reason when there is one.
 * The clock is UTC (see formatClock).
 */
export function renderTransitionLine(run: RunRecord, order: OrderRecord, now: number): string {
  const parts = [
    formatClock(now),
    `${oneLine(run.workflowName, CAP.workflow)}/${oneLine(order.name, CAP.name)}`,
    stateWord(order.state),
    `[${oneLine(order.runner ?? order.runsOn, CAP.runner)}]`,
  ];
  const ms = orderDurationMs(order, now);
  if (ms !== undefined && order.finishedAt !== undefined) parts.push(formatDuration(ms));
  if (SHOWS_REASON.has(order.state) && order.reason !== undefined) parts.push(`— ${oneLine(order.reason, CAP.reason)}`);
  return parts.join('  ');
}
