/** `GET /runs`: every run, newest first, a page at a time; one repository with `?repo=owner/name`. */
import { formatDuration } from '../../core/render/format.ts';
import type { RunRecord } from '../../core/types.ts';
import { html, type SafeHtml } from './html.ts';
import { renderPage, type Account } from './page.ts';
import {
  RUNS_PATH,
  commitLink,
  isRunActive,
  repoName,
  repoRunsPath,
  runPath,
  stateLabel,
  timeText,
  triggerText,
} from './view-parts.ts';

export interface RunsPageInput {
  /** The header's account corner (page.ts). */
  readonly account?: Account;
  /** This page's runs, newest first. */
  readonly runs: readonly RunRecord[];
  readonly now: number;
  /** `owner/name` and the host, when filtered. */
  readonly repo?: string;
  readonly host?: string;
  /** Set when this is not the first page. */
  readonly paged: boolean;
  /** The cursor of the next (older) page, when there may be one. */
  readonly older?: string;
  readonly limit: number;
  /** The `?limit=` asked for, kept in the page links. */
  readonly askedLimit?: number;
  /** Whether the runs span several forge hosts (then repository links carry the host). */
  readonly severalHosts: boolean;
  readonly refreshMs: number;
}

/** A page cursor: `<createdAt>.<runId>` of the last run shown. */
export function runCursor(run: RunRecord): string {
  return `${String(run.createdAt)}.${run.runId}`;
}

export function parseRunCursor(text: string): { createdAt: number; runId: string } | undefined {
  const m = /^(\d{1,15})\.(.+)$/s.exec(text);
  return m === null ? undefined : { createdAt: Number(m[1]), runId: m[2]! };
}

function listPath(input: RunsPageInput, extra: Record<string, string>): string {
  const q = new URLSearchParams();
  if (input.repo !== undefined) q.set('repo', input.repo);
  if (input.host !== undefined) q.set('host', input.host);
  if (input.askedLimit !== undefined) q.set('limit', String(input.askedLimit));
  for (const [k, v] of Object.entries(extra)) q.set(k, v);
  const s = q.toString();
  return s === '' ? RUNS_PATH : `${RUNS_PATH}?${s}`;
}

function row(run: RunRecord, input: RunsPageInput): SafeHtml {
  const duration = formatDuration((run.finishedAt ?? input.now) - run.createdAt);
  return html`<tr>
    <td data-label="Result">${stateLabel(run.status, 'run')}</td>
    <td data-label="Workflow"><a href="${runPath(run.runId)}">${run.workflowName}</a></td>
    <td data-label="Repository"><a href="${repoRunsPath(run.repo, input.severalHosts)}">${repoName(run.repo)}</a></td>
    <td data-label="Commit">${commitLink(run)}</td>
    <td data-label="Trigger">${triggerText(run)}</td>
    <td data-label="Asked by">${run.actor}</td>
    <td data-label="Started" class="num">${timeText(run.createdAt)}</td>
    <td data-label="Duration" class="num">${duration}</td>
  </tr>`;
}

/** The part that refreshes itself: `#live` (re-fetched while a run on the page is not finished). */
export function renderRunsLive(input: RunsPageInput): SafeHtml {
  const active = input.runs.some((r) => isRunActive(r.status));
  const refresh = active ? html` data-refresh="${input.refreshMs}"` : '';
  const table =
    input.runs.length === 0
      ? html`<p>${input.paged ? 'No older runs.' : 'No runs yet.'}</p>`
      : html`<table class="stack">
          <caption>
            ${input.repo === undefined ? 'Runs' : `Runs of ${input.repo}`}, newest first
          </caption>
          <thead>
            <tr>
              <th scope="col">Result</th>
              <th scope="col">Workflow</th>
              <th scope="col">Repository</th>
              <th scope="col">Commit</th>
              <th scope="col">Trigger</th>
              <th scope="col">Asked by</th>
              <th scope="col">Started</th>
              <th scope="col">Duration</th>
            </tr>
          </thead>
          <tbody>
            ${input.runs.map((r) => row(r, input))}
          </tbody>
        </table>`;
  const pager = [
    input.paged ? html`<a href="${listPath(input, {})}">Newest runs</a>` : '',
    input.older === undefined
      ? ''
      : html`<a href="${listPath(input, { before: input.older })}" rel="next">Older runs</a>`,
  ];
  return html`<div id="live" ${refresh}>
    ${table}
    <nav class="pager" aria-label="Pages">${pager}</nav>
  </div>`;
}

export function renderRunsPage(input: RunsPageInput): string {
  const title = input.repo === undefined ? 'Runs' : `Runs of ${input.repo}`;
  const active = input.runs.some((r) => isRunActive(r.status));
  const main = html`<h1>${title}</h1>
    <form class="filter" method="get" action="${RUNS_PATH}" role="search">
      <label
        >Repository <input name="repo" value="${input.repo ?? ''}" placeholder="owner/name" autocomplete="off"
      /></label>
      ${input.host === undefined ? '' : html`<input type="hidden" name="host" value="${input.host}" />`}
      <button type="submit">Show</button>
      ${input.repo === undefined ? '' : html`<a href="${RUNS_PATH}">All repositories</a>`}
    </form>
    ${renderRunsLive(input)}`;
  return renderPage({
    ...(input.account === undefined ? {} : { account: input.account }),
    title,
    crumbs:
      input.repo === undefined ? [{ label: 'Runs' }] : [{ label: 'Runs', href: RUNS_PATH }, { label: input.repo }],
    main,
    ...(active ? { noscriptRefreshSeconds: Math.max(2, Math.round((input.refreshMs * 2) / 1000)) } : {}),
  });
}
