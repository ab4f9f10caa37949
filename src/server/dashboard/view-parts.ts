/**
 * Small pieces the dashboard pages share: paths, state labels, links to the forge, times. Everything user-controlled
 * goes through `html`, which escapes it.
 */
import { shortSha, stateWord } from '../../core/render/format.ts';
import { STATE_GLYPHS } from '../../core/render/graph-layout.ts';
import type { EnvironmentSpec, OrderState, RepoRef, RunRecord, RunStatus } from '../../core/types.ts';
import { html, type SafeHtml } from './html.ts';

export const RUNS_PATH = '/runs';

export function runPath(runId: string): string {
  return `${RUNS_PATH}/${encodeURIComponent(runId)}`;
}

export function orderPath(runId: string, orderId: string): string {
  return `${runPath(runId)}/orders/${encodeURIComponent(orderId)}`;
}

/** The run page's step summaries, at one order's first summary when `orderId` is given. */
export function summaryPath(runId: string, orderId?: string): string {
  return `${runPath(runId)}${orderId === undefined ? '#summaries' : `#${summaryAnchor(orderId)}`}`;
}

/** The id of an order's summaries on the run page (ids are URL-safe: any character becomes its code). */
export function summaryAnchor(orderId: string): string {
  return `summary-${encodeURIComponent(orderId).replace(/%/g, '_')}`;
}

/** `/runs?repo=owner/name[&host=…]`: the runs of one repository. */
export function repoRunsPath(repo: RepoRef, withHost: boolean): string {
  const q = new URLSearchParams({ repo: `${repo.owner}/${repo.name}` });
  if (withHost) q.set('host', repo.host);
  return `${RUNS_PATH}?${q.toString()}`;
}

const RUN_GLYPHS = {
  pending: '○',
  running: '▶',
  succeeded: '✓',
  failed: '✗',
  cancelled: '⊘',
} as const satisfies Record<RunStatus, string>;

export function isRunActive(status: RunStatus): boolean {
  return status === 'running' || status === 'pending';
}

/** A pill with a glyph and the state in words: the colour is never the only signal (WCAG 2.2 §1.4.1). */
export function stateLabel(state: OrderState | RunStatus, kind: 'order' | 'run'): SafeHtml {
  const glyph = kind === 'run' ? RUN_GLYPHS[state as RunStatus] : STATE_GLYPHS[state as OrderState];
  return html`<span class="state s-${state}" data-state="${state}"
    ><span aria-hidden="true">${glyph}</span> ${stateWord(state)}</span
  >`;
}

/**
 * The forge's web address for a run: `github.server_url` when it is a plain http(s) origin, else `https://<host>`.
 * Undefined for local runs (`spotcheck run`), which have no forge.
 */
function forgeBase(run: RunRecord): string | undefined {
  if (run.repo.forge === 'local') return undefined;
  const server = run.github.server_url;
  const origin = /^https?:\/\/[a-z0-9.-]+(?::\d+)?$/i.test(server) ? server : `https://${run.repo.host}`;
  return `${origin}/${encodeURIComponent(run.repo.owner)}/${encodeURIComponent(run.repo.name)}`;
}

/** The short SHA, linked to the forge's commit page (GitHub and Gitea both serve `/<owner>/<repo>/commit/<sha>`). */
export function commitLink(run: RunRecord): SafeHtml {
  const base = forgeBase(run);
  const label = html`<code>${shortSha(run.sha)}</code>`;
  if (base === undefined || !/^[0-9a-f]{7,64}$/i.test(run.sha)) return label;
  return html`<a href="${`${base}/commit/${run.sha}`}" title="${run.sha}">${label}</a>`;
}

function shortRef(ref: string): string {
  return ref.replace(/^refs\/(?:heads|tags)\//, '');
}

/** `push to main`, `pull request #12`, `!testme on #12` (the PR linked on the forge: GitHub `/pull/`, Gitea `/pulls/`). */
export function triggerText(run: RunRecord): SafeHtml {
  if (run.event === 'push') return html`push to <code>${shortRef(run.ref)}</code>`;
  const base = forgeBase(run);
  const number = run.pr === undefined ? '' : `#${String(run.pr)}`;
  const pr =
    base === undefined || run.pr === undefined
      ? html`${number}`
      : html`<a href="${`${base}/${run.repo.forge === 'gitea' ? 'pulls' : 'pull'}/${String(run.pr)}`}">${number}</a>`;
  return run.event === 'testme' ? html`<code>!testme</code> on ${pr}` : html`pull request ${pr}`;
}

const pad = (n: number): string => String(n).padStart(2, '0');

/** `2025-10-09 08:53:20 UTC` in a `<time>` element (the server cannot know the reader's time zone). */
export function timeText(epochMs: number): SafeHtml {
  const d = new Date(epochMs);
  if (Number.isNaN(d.getTime())) return html``;
  const text = `${String(d.getUTCFullYear())}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} UTC`;
  return html`<time datetime="${d.toISOString()}">${text}</time>`;
}

export function repoName(repo: RepoRef): string {
  return `${repo.owner}/${repo.name}`;
}

/**
 * A job's deployment environment: its name, linked to its URL when that is an http(s) URL (a URL still holding an
 * expression, or of another scheme such as `javascript:`, is shown as text, never as a link).
 */
export function environmentText(environment: EnvironmentSpec): SafeHtml {
  const url = environment.url;
  if (url === undefined) return html`<code>${environment.name}</code>`;
  if (!/^https?:\/\/[^\s]+$/i.test(url) || url.includes('${{'))
    return html`<code>${environment.name}</code> <span class="note">(${url})</span>`;
  return html`<a href="${url}"><code>${environment.name}</code></a>`;
}
