/**
 * A status badge for READMEs and forges, drawn like shields.io's "flat" style (a grey label, a coloured message) so
 * it sits well beside other badges. Pure: the same input gives the same bytes.
 */
import { oneLine } from './format.ts';
import type { RunRecord, RunStatus } from '../types.ts';

export const BADGE_STATES = ['passing', 'failing', 'cancelled', 'running', 'unknown'] as const;
export type BadgeState = (typeof BADGE_STATES)[number];

/** shields.io's named colours (brightgreen, red, lightgrey, yellow). */
export const BADGE_COLORS = {
  passing: '#4c1',
  failing: '#e05d44',
  cancelled: '#9f9f9f',
  running: '#dfb317',
  unknown: '#9f9f9f',
} as const satisfies Record<BadgeState, string>;

/** What a run's status shows as. A pending run waits for its concurrency group: it has not finished either. */
export function badgeStateOf(status: RunStatus): BadgeState {
  switch (status) {
    case 'succeeded':
      return 'passing';
    case 'failed':
      return 'failing';
    case 'cancelled':
      return 'cancelled';
    case 'running':
    case 'pending':
      return 'running';
  }
}

/** Caps, in characters: a workflow name is user content and must not make a badge as wide as a page. */
const MAX_LABEL = 40;
const MAX_MESSAGE = 40;
const HEIGHT = 20;
/** Space either side of each text, as shields draws it. */
const PADDING = 6;

/**
 * Approximate advance widths of Verdana at 11 px (the badge's font), in px, for printable ASCII. Text is never
 * measured by a browser here, so the table is what makes the width follow the text; other characters count as
 * a wide Latin letter, and East Asian wide ones double.
 */
const NARROW = new Map<string, number>(
  Object.entries({
    ' ': 3.9,
    '!': 4.3,
    '"': 5.1,
    "'": 2.7,
    '(': 4.5,
    ')': 4.5,
    ',': 3.6,
    '-': 4.5,
    '.': 3.6,
    '/': 4.9,
    ':': 4.5,
    ';': 4.5,
    I: 4.2,
    J: 4.5,
    '[': 4.5,
    ']': 4.5,
    f: 3.8,
    i: 3.0,
    j: 3.8,
    l: 3.0,
    r: 4.7,
    t: 4.3,
    '|': 4.9,
  }),
);
const WIDE = new Map<string, number>(
  Object.entries({ m: 10.7, w: 9.0, M: 9.0, W: 11.1, '%': 11.8, '@': 11.0, '#': 9.0, '&': 8.0, O: 8.5, Q: 8.5 }),
);

function charWidth(ch: string): number {
  const narrow = NARROW.get(ch) ?? WIDE.get(ch);
  if (narrow !== undefined) return narrow;
  const code = ch.codePointAt(0) ?? 0;
  if (code >= 0x30 && code <= 0x39) return 7.0;
  if (code >= 0x61 && code <= 0x7a) return 6.6;
  if (code >= 0x41 && code <= 0x5a) return 7.5;
  if (code < 0x7f) return 7.0;
  // CJK, Hangul, fullwidth forms: about a square each.
  if ((code >= 0x1100 && code <= 0x115f) || (code >= 0x2e80 && code <= 0xa4cf) || (code >= 0xac00 && code <= 0xd7a3))
    return 11.0;
  if (code >= 0xf900 && code <= 0xfaff) return 11.0;
  if (code >= 0xff00 && code <= 0xff60) return 11.0;
  return 7.5;
}

/** The width of `text` in the badge font, in px (rounded up). */
export function textWidth(text: string): number {
  let w = 0;
  for (const ch of text) w += charWidth(ch);
  return Math.ceil(w);
}

/** Escapes text for an XML text node or a double-quoted attribute (XML 1.0 §2.4 and §3.1). */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => XML_ENTITIES[c as keyof typeof XML_ENTITIES]);
}

const XML_ENTITIES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' } as const;

export interface BadgeInput {
  /** Left text, e.g. `spotcheck` or the workflow's name. */
  readonly label: string;
  /** Right text; a state word by default. */
  readonly message: string;
  /** Right background; `#rgb` or `#rrggbb`. */
  readonly color: string;
}

/** The badge for a state, labelled with `label` (a workflow's name, or `spotcheck`). */
export function stateBadge(label: string, state: BadgeState): BadgeInput {
  return { label, message: state, color: BADGE_COLORS[state] };
}

/**
 * The SVG of a badge. Control characters and bidi overrides are taken out of both texts (an XML document may not
 * hold most C0 controls: XML 1.0 §2.2) and they are cut to 40 characters; the result is a standalone SVG document
 * with a `<title>` and an `aria-label`, so a screen reader or a broken image shows `label: message`.
 */
export function renderBadge(input: BadgeInput): string {
  const label = oneLine(input.label, MAX_LABEL);
  const message = oneLine(input.message, MAX_MESSAGE);
  const color = /^#(?:[0-9a-f]{3}|[0-9a-f]{6})$/i.test(input.color) ? input.color : BADGE_COLORS.unknown;
  const lw = textWidth(label) + 2 * PADDING;
  const mw = textWidth(message) + 2 * PADDING;
  const w = lw + mw;
  const title = escapeXml(`${label}: ${message}`);
  const l = escapeXml(label);
  const m = escapeXml(message);
  const lx = lw / 2;
  const mx = lw + mw / 2;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${String(w)}" height="${String(HEIGHT)}" role="img" aria-label="${title}">`,
    `<title>${title}</title>`,
    '<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient>',
    `<clipPath id="r"><rect width="${String(w)}" height="${String(HEIGHT)}" rx="3" fill="#fff"/></clipPath>`,
    '<g clip-path="url(#r)">',
    `<rect width="${String(lw)}" height="${String(HEIGHT)}" fill="#555"/>`,
    `<rect x="${String(lw)}" width="${String(mw)}" height="${String(HEIGHT)}" fill="${color}"/>`,
    `<rect width="${String(w)}" height="${String(HEIGHT)}" fill="url(#s)"/>`,
    '</g>',
    '<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" font-size="11">',
    `<text x="${String(lx)}" y="15" fill="#010101" fill-opacity=".3" aria-hidden="true">${l}</text>`,
    `<text x="${String(lx)}" y="14">${l}</text>`,
    `<text x="${String(mx)}" y="15" fill="#010101" fill-opacity=".3" aria-hidden="true">${m}</text>`,
    `<text x="${String(mx)}" y="14">${m}</text>`,
    '</g>',
    '</svg>',
  ].join('');
}

/** Whether `key` names the run's workflow: its `name:`, its file name (`ci.yml`) or that without the extension. */
export function workflowMatches(run: Pick<RunRecord, 'workflowName' | 'file'>, key: string): boolean {
  const base = run.file.slice(run.file.lastIndexOf('/') + 1);
  return key === run.workflowName || key === base || key === base.replace(/\.ya?ml$/, '');
}

export interface BadgeQuery {
  /** Branch names to try in order; the first with any push run decides (`main`, then `master`, by default). */
  readonly branches: readonly string[];
  /** One workflow (name or file); all workflows when absent. */
  readonly workflow?: string;
}

/**
 * The state a badge shows, from a repository's runs (newest first). Only pushes to the branch count — a pull
 * request's result says nothing about the branch. The newest finished run decides, together with the other
 * finished runs of the same commit (one per workflow file, the newest of each), so a repository badge is failing
 * when any workflow failed on that commit. A run in progress does not flip the badge: it shows `running` only when
 * nothing has finished yet, and `unknown` when the branch has no run.
 */
export function latestBadgeState(runs: readonly RunRecord[], query: BadgeQuery): BadgeState {
  for (const branch of query.branches) {
    const ref = `refs/heads/${branch}`;
    const onBranch = runs.filter(
      (r) =>
        r.event === 'push' && r.ref === ref && (query.workflow === undefined || workflowMatches(r, query.workflow)),
    );
    if (onBranch.length === 0) continue;
    const finished = onBranch.filter((r) => r.status !== 'running' && r.status !== 'pending');
    const latest = finished[0];
    if (latest === undefined) return 'running';
    const newestPerFile = new Map<string, RunStatus>();
    for (const r of finished)
      if (r.sha === latest.sha && !newestPerFile.has(r.file)) newestPerFile.set(r.file, r.status);
    const statuses = [...newestPerFile.values()];
    if (statuses.includes('failed')) return 'failing';
    if (statuses.includes('cancelled')) return 'cancelled';
    return 'passing';
  }
  return 'unknown';
}
