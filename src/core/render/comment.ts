/**
 * The sticky PR comment (docs/architecture.md "Reporting"): one comment per PR, found by a hidden marker, edited in
 * place and re-rendered only when its text changes. Pure and deterministic: the same input gives the same text, so the
 * caller can skip an edit that would change nothing.
 */
import {
  ORDER_STATE_ICONS,
  RUN_STATUS_ICONS,
  countStates,
  formatDuration,
  oneLine,
  orderDurationMs,
  overallStatus,
  shortSha,
  sortOrdersForDisplay,
  stateWord,
} from './format.ts';
import { annotationCountText, annotationPlace, countAnnotations } from '../step-results.ts';
import type { EventName, OrderRecord, OrderState, RunRecord } from '../types.ts';

/** Hidden in the rendered Markdown; with the bot's own authorship it identifies the sticky comment. */
export const COMMENT_MARKER = '<!-- spotcheck:sticky -->';
/**
 * GitHub refuses an issue comment body above 65,536 characters ("Body is too long"). Lengths here are UTF-16 code
 * units, which are never fewer than the characters GitHub counts, so staying under in code units is safe.
 */
export const MAX_COMMENT_LENGTH = 65_536;

export interface RunView {
  run: RunRecord;
  /** The run's orders; jobs in plan order (matrix cells are re-sorted by their index). */
  orders: readonly OrderRecord[];
}

export interface CommentInput {
  /** All runs of this PR at the head SHA (one per workflow), newest first. */
  runs: readonly RunView[];
  logUrl: (runId: string, orderId: string) => string;
  /** The run's dashboard page; linked from each workflow and from the "and N more" summary. */
  runUrl?: (runId: string) => string;
  /** For durations of running orders and runs. */
  now: number;
  /**
   * A one-line message on top, written by the bot (so it may hold Markdown such as `` `!testme` ``); newlines are
   * folded and it is capped, but it is not escaped. Never put user text in it unescaped: use escapeMarkdown.
   */
  notice?: string;
}

/** Caps on user-controlled text, in characters, so no single row can dominate the size budget. */
const CAP = {
  name: 200,
  reason: 300,
  runner: 40,
  workflow: 100,
  actor: 60,
  file: 200,
  notice: 1000,
  annotationTitle: 100,
  annotationMessage: 300,
} as const;

/** Error annotations listed under a workflow's table; the dashboard's order pages list every one. */
export const MAX_ERRORS_LISTED = 5;

const TRIGGER_WORDS = {
  push: 'push',
  pull_request: 'pull request',
  testme: '`!testme`',
} as const satisfies Record<EventName, string>;

/**
 * Summary mode lists orders that need attention first: failing ones, then the unfinished, then the rest.
 */
const ATTENTION_RANK = {
  failed: 0,
  timed_out: 1,
  interrupted: 2,
  cancelled: 3,
  running: 4,
  dispatching: 5,
  queued: 6,
  skipped: 7,
  succeeded: 8,
} as const satisfies Record<OrderState, number>;

/** True when `body` is a spotcheck sticky comment. The caller must also check that the bot wrote it. */
export function isStickyComment(body: string): boolean {
  return body.trimStart().startsWith(COMMENT_MARKER);
}

/**
 * Makes user-controlled text (job names, reasons, actors) inert inside a GFM table cell or a heading:
 * - control characters, line and paragraph separators become spaces (a newline would end the table row), and the
 *   bidirectional overrides behind "Trojan Source" (CVE-2021-42574) are dropped;
 * - `&`, `<`, `>` become entities, so no raw HTML (CommonMark §6.6) and no smuggled entity;
 * - the ASCII punctuation that opens inline Markdown (emphasis, code, links, strikethrough) and `|` are
 *   backslash-escaped (CommonMark §2.4; GFM §4.10 for `\|` in a table cell);
 * - `@`, `#`, `://` and `www.` get a zero-width space (`&#8203;`), as Renovate does in PR bodies, so a name never
 *   pings a user or team, never cross-references an issue, and never becomes an autolink.
 * The text is cut to `maxChars` characters (with `…`) before escaping.
 */
export function escapeMarkdown(text: string, maxChars: number): string {
  const cut = oneLine(text, maxChars);
  return cut.replace(/:\/\/|www\.|[&<>@#\\`*_[\]|~]/gi, (m) => {
    switch (m) {
      case '&':
        return '&amp;';
      case '<':
        return '&lt;';
      case '>':
        return '&gt;';
      case '@':
      case '#':
        return `${m}&#8203;`;
      case '://':
        return ':&#8203;//';
      default:
        return m.length > 1 ? `${m.slice(0, 3)}&#8203;${m.slice(3)}` : `\\${m}`;
    }
  });
}

/**
 * A link target that cannot end the Markdown link early or break the table: only http(s) URLs, with the characters
 * that would close `(...)`, open HTML or split a cell percent-encoded (RFC 3986 §2.1). Undefined otherwise.
 */
function safeUrl(url: string): string | undefined {
  if (!/^https?:\/\//i.test(url)) return undefined;
  return url.replace(/[\s()<>"'`|\\[\]\p{Cc}]/gu, (c) => encodeURIComponent(c).replace(/[()'!*]/g, hex));
}

function hex(c: string): string {
  return `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`;
}

function link(label: string, url: string | undefined): string {
  const safe = url === undefined ? undefined : safeUrl(url);
  return safe === undefined ? label : `[${label}](${safe})`;
}

function sha(run: RunRecord): string {
  const s = shortSha(run.sha);
  return /^[0-9a-f]+$/i.test(s) ? `\`${s}\`` : escapeMarkdown(s, 40);
}

function runDuration(run: RunRecord, now: number): string {
  return formatDuration((run.finishedAt ?? now) - run.createdAt);
}

/** Marker, notice, overall state, SHA, trigger(s) and who asked. */
function renderHead(input: CommentInput): string {
  const lines = [COMMENT_MARKER];
  if (input.notice !== undefined && input.notice.trim() !== '') lines.push(oneLine(input.notice, CAP.notice), '');
  const first = input.runs[0];
  if (first === undefined) {
    if (lines.length === 1) lines.push('No spotcheck workflow runs for this commit.');
    return lines.join('\n').trimEnd();
  }
  const status = overallStatus(input.runs.map((v) => v.run.status));
  lines.push(`### ${RUN_STATUS_ICONS[status]} spotcheck ${stateWord(status)}`);
  const triggers: string[] = [];
  for (const { run } of input.runs) {
    const t = `${TRIGGER_WORDS[run.event]} by **${escapeMarkdown(run.actor, CAP.actor)}**`;
    if (!triggers.includes(t)) triggers.push(t);
  }
  const shas: string[] = [];
  for (const { run } of input.runs) if (!shas.includes(sha(run))) shas.push(sha(run));
  lines.push(`${shas.join(', ')} · ${triggers.join(', ')}`);
  return lines.join('\n');
}

/** Whether any step of the run wrote a `$GITHUB_STEP_SUMMARY` (shown on the run page, linked from here). */
function hasSummaries(view: RunView): boolean {
  return view.orders.some((o) => (o.stepResults ?? []).some((s) => s.hasSummary === true));
}

/** A link to the run page's step summaries, when there are any and the dashboard has an address. */
function summariesLink(view: RunView, input: CommentInput): string | undefined {
  if (input.runUrl === undefined || !hasSummaries(view)) return undefined;
  return link('step summaries', `${input.runUrl(view.run.runId)}#summaries`);
}

function runHeading(view: RunView, input: CommentInput): string {
  const { run } = view;
  const title = `#### ${RUN_STATUS_ICONS[run.status]} ${escapeMarkdown(run.workflowName, CAP.workflow)} · ${stateWord(run.status)}`;
  const meta = [escapeMarkdown(run.file, CAP.file), runDuration(run, input.now)];
  if (input.runUrl !== undefined) meta.push(link('dashboard', input.runUrl(run.runId)));
  const summaries = summariesLink(view, input);
  if (summaries !== undefined) meta.push(summaries);
  const lines = [title, meta.join(' · ')];
  if (run.reason !== undefined) lines.push(`> ${escapeMarkdown(run.reason, CAP.reason)}`);
  return lines.join('\n');
}

const COLUMNS = ['State', 'Order', 'Runner', 'Duration', 'Log', 'Why'] as const;

function tableHeader(columns: readonly string[]): string {
  return `| ${columns.join(' | ')} |\n|${columns.map(() => ' --- |').join('')}`;
}

/** Only orders that reached a runner have a log; one that was skipped or refused before dispatch has none. */
function hasLog(o: OrderRecord): boolean {
  return o.dispatchedAt !== undefined || o.startedAt !== undefined;
}

function orderCells(o: OrderRecord, input: CommentInput): string[] {
  const ms = orderDurationMs(o, input.now);
  // A succeeded order has a reason only when a step failed under continue-on-error: worth showing. Annotation
  // counts come first (errors and warnings; notices are on the dashboard).
  const counts = annotationCountText(countAnnotations(o.stepResults ?? []), false);
  const reason = o.reason !== undefined ? escapeMarkdown(o.reason, CAP.reason) : '';
  const why = [counts === '' ? '' : `**${counts}**`, reason].filter((p) => p !== '').join(' · ');
  return [
    `${ORDER_STATE_ICONS[o.state]} ${stateWord(o.state)}`,
    escapeMarkdown(o.name, CAP.name),
    o.runner === undefined ? '' : escapeMarkdown(o.runner, CAP.runner),
    ms === undefined ? '' : formatDuration(ms),
    hasLog(o) ? link('log', input.logUrl(o.runId, o.id)) : '',
    why,
  ];
}

const row = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`;

/**
 * The run's first MAX_ERRORS_LISTED error annotations, one list item each (order, place, title, message, every
 * part escaped and capped), then how many more the order pages list. Empty when the run has none.
 */
function errorLines(view: RunView, input: CommentInput): string[] {
  const errors = sortOrdersForDisplay(view.orders).flatMap((o) =>
    (o.stepResults ?? []).flatMap((s) =>
      (s.annotations ?? []).filter((a) => a.level === 'error').map((a) => ({ o, a })),
    ),
  );
  if (errors.length === 0) return [];
  const lines = errors.slice(0, MAX_ERRORS_LISTED).map(({ o, a }) => {
    const place = annotationPlace(a);
    const parts = [
      `❌ **${escapeMarkdown(o.name, CAP.name)}**`,
      place === '' ? '' : escapeMarkdown(place, CAP.file),
      a.title === undefined || a.title === '' ? '' : `**${escapeMarkdown(a.title, CAP.annotationTitle)}**`,
      escapeMarkdown(a.message, CAP.annotationMessage),
    ];
    return `- ${parts.filter((p) => p !== '').join(' · ')}`;
  });
  const more = errors.length - MAX_ERRORS_LISTED;
  if (more > 0) {
    const where =
      input.runUrl === undefined ? 'on the dashboard' : link('on the dashboard', input.runUrl(view.run.runId));
    lines.push(`- … and ${String(more)} more error${more === 1 ? '' : 's'} ${where}`);
  }
  return lines;
}

/**
 * Every run with its full table, or undefined as soon as the text would pass MAX_COMMENT_LENGTH (so a 5,000-order
 * run is not rendered in full only to be thrown away).
 */
function renderFull(head: string, input: CommentInput): string | undefined {
  const lines = [head];
  let length = head.length + 1;
  const push = (line: string): boolean => {
    lines.push(line);
    length += line.length + 1;
    return length <= MAX_COMMENT_LENGTH;
  };
  for (const view of input.runs) {
    if (!push('') || !push(runHeading(view, input)) || !push('')) return undefined;
    const orders = sortOrdersForDisplay(view.orders);
    if (!push(orders.length === 0 ? '_No orders._' : tableHeader(COLUMNS))) return undefined;
    for (const o of orders) if (!push(row(orderCells(o, input)))) return undefined;
    const errors = errorLines(view, input);
    if (errors.length > 0 && !push('')) return undefined;
    for (const line of errors) if (!push(line)) return undefined;
  }
  const text = `${lines.join('\n')}\n`;
  return text.length <= MAX_COMMENT_LENGTH ? text : undefined;
}

/**
 * When the full tables do not fit: counts per state for each workflow, then one table of orders, failing ones first,
 * filled while it fits, then "… and N more orders — see the dashboard".
 */
function renderSummary(head: string, input: CommentInput): string {
  const total = input.runs.reduce((n, v) => n + v.orders.length, 0);
  const top = [
    head,
    '',
    `_${total} orders are too many to list here: counts per workflow, then the orders that need attention first._`,
    '',
  ];
  for (const view of input.runs) {
    const { run } = view;
    const counts = countStates(view.orders)
      .map(([s, n]) => `${n} ${ORDER_STATE_ICONS[s]} ${stateWord(s)}`)
      .join(' · ');
    const summaries = summariesLink(view, input);
    const dash =
      (input.runUrl === undefined ? '' : ` · ${link('dashboard', input.runUrl(run.runId))}`) +
      (summaries === undefined ? '' : ` · ${summaries}`);
    top.push(
      `- ${RUN_STATUS_ICONS[run.status]} **${escapeMarkdown(run.workflowName, CAP.workflow)}** ${stateWord(run.status)}` +
        ` · ${runDuration(run, input.now)}${counts === '' ? '' : ` · ${counts}`}${dash}`,
    );
  }

  const ranked = input.runs
    .flatMap((view) => sortOrdersForDisplay(view.orders).map((o) => ({ o, view })))
    .map((e, i) => ({ ...e, i }))
    .sort((a, b) => ATTENTION_RANK[a.o.state] - ATTENTION_RANK[b.o.state] || a.i - b.i);

  const footer = (more: number): string => {
    let where = '';
    if (input.runUrl !== undefined) {
      const runUrl = input.runUrl;
      where =
        input.runs.length === 1
          ? ` — see the ${link('dashboard', runUrl(input.runs[0]!.run.runId))}`
          : ` — see the dashboard: ${input.runs
              .map(({ run }) => link(escapeMarkdown(run.workflowName, CAP.workflow), runUrl(run.runId)))
              .join(' · ')}`;
    } else {
      where = ' — see the dashboard';
    }
    return `… and ${more} more orders${where}`;
  };

  const columns = ['Workflow', ...COLUMNS];
  const body = [top.join('\n'), '', tableHeader(columns)];
  // Reserve the longest footer (the largest count has the most digits) so the rows never crowd it out.
  let length = body.join('\n').length + footer(total).length + 4;
  let shown = 0;
  for (const { o, view } of ranked) {
    const line = row([escapeMarkdown(view.run.workflowName, CAP.workflow), ...orderCells(o, input)]);
    if (length + line.length + 1 > MAX_COMMENT_LENGTH) break;
    body.push(line);
    length += line.length + 1;
    shown += 1;
  }
  if (shown < ranked.length) body.push('', footer(ranked.length - shown));
  return `${body.join('\n')}\n`;
}

/** Last resort (hundreds of workflows): cut at a line break and say so. Keeps the marker, which comes first. */
function clampToLimit(text: string): string {
  if (text.length <= MAX_COMMENT_LENGTH) return text;
  const tail = '\n\n… truncated — see the dashboard\n';
  const cut = text.lastIndexOf('\n', MAX_COMMENT_LENGTH - tail.length);
  return `${text.slice(0, Math.max(cut, COMMENT_MARKER.length))}${tail}`;
}

/** The sticky comment's Markdown body; never longer than MAX_COMMENT_LENGTH. */
export function renderComment(input: CommentInput): string {
  const head = renderHead(input);
  if (input.runs.length === 0) return `${head}\n`;
  return renderFull(head, input) ?? clampToLimit(renderSummary(head, input));
}
