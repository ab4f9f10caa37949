/**
 * `GET /runs/:run`: the run page — what ran, for which commit and who asked, the order graph, and a table of orders
 * (a page of them at a time). The sticky PR comment's "dashboard" link lands here.
 */
import { countStates, formatDuration, orderDurationMs, stateWord } from '../../core/render/format.ts';
import type { OrderGraph } from '../../core/render/graph-layout.ts';
import { isFinalOrderState, type OrderRecord, type RunRecord } from '../../core/types.ts';
import { annotationCountText, countAnnotations } from '../../core/step-results.ts';
import type { StoredStepSummary } from '../../store/step-summaries.ts';
import { orderLogPath } from '../log-route.ts';
import { html, trusted, type SafeHtml } from './html.ts';
import { renderSummaryMarkdown } from './markdown.ts';
import { renderPage, type Account } from './page.ts';
import {
  RUNS_PATH,
  commitLink,
  environmentText,
  isRunActive,
  orderPath,
  repoName,
  repoRunsPath,
  runPath,
  stateLabel,
  summaryAnchor,
  timeText,
  triggerText,
} from './view-parts.ts';

export interface RunPageInput {
  /** The header's account corner (page.ts). */
  readonly account?: Account;
  /** A private repository's badge path with its key, shown only to someone who may read the repository. */
  readonly badgePath?: string;
  /** The repository's secrets page, shown only to someone the forge says administers it. */
  readonly secretsPath?: string;
  readonly run: RunRecord;
  /** Every order, in display order. */
  readonly orders: readonly OrderRecord[];
  readonly now: number;
  /** The graph (already laid out and drawn), or why it is not drawn. */
  readonly graph: { readonly svg: string; readonly graph: OrderGraph & { kind: 'graph' } } | OrderGraph;
  /** Only the orders of this job in the table. */
  readonly job?: string;
  /** 1-based page of the order table. */
  readonly page: number;
  readonly pageSize: number;
  readonly refreshMs: number;
  /** The step summaries of the run's orders (those that wrote any), in display order; read on page load only. */
  readonly summaries?: readonly OrderSummaries[];
  /** Summaries not read (past the page's cap). */
  readonly summariesLeftOut?: number;
}

export interface OrderSummaries {
  readonly order: OrderRecord;
  readonly steps: readonly StoredStepSummary[];
}

/** Only orders that reached a runner have a log (as in the sticky comment). */
function hasLog(o: OrderRecord): boolean {
  return o.dispatchedAt !== undefined || o.startedAt !== undefined;
}

/** The runner kind, and the `runs-on` label when it says something else. Empty before a route was chosen. */
function runnerCell(o: OrderRecord): SafeHtml | string {
  if (o.runner === undefined) return '';
  return o.runner === o.runsOn ? o.runner : html`${o.runner} <span class="note">(${o.runsOn})</span>`;
}

function orderRow(o: OrderRecord, now: number): SafeHtml {
  const ms = orderDurationMs(o, now);
  return html`<tr data-order="${o.id}" data-state="${o.state}">
    <td data-label="State">${stateLabel(o.state, 'order')}</td>
    <td data-label="Order">
      <a href="${orderPath(o.runId, o.id)}">${o.name}</a>${
        o.environment === undefined ? '' : html` <span class="note">→ ${environmentText(o.environment)}</span>`
      }
    </td>
    <td data-label="Runner">${runnerCell(o)}</td>
    <td data-label="Duration" class="num">${ms === undefined ? '' : formatDuration(ms)}</td>
    <td data-label="Why">${o.reason ?? ''}</td>
    <td data-label="Log">${hasLog(o) ? html`<a href="${orderLogPath(o.runId, o.id)}">plain log</a>` : ''}</td>
  </tr>`;
}

function tablePath(run: RunRecord, job: string | undefined, page: number): string {
  const q = new URLSearchParams();
  if (job !== undefined) q.set('job', job);
  if (page > 1) q.set('page', String(page));
  const s = q.toString();
  return `${runPath(run.runId)}${s === '' ? '' : `?${s}`}#orders`;
}

function summary(orders: readonly OrderRecord[]): string {
  const parts = countStates(orders).map(([s, n]) => `${String(n)} ${stateWord(s)}`);
  return `${String(orders.length)} order${orders.length === 1 ? '' : 's'}${parts.length === 0 ? '' : `: ${parts.join(', ')}`}`;
}

/**
 * Each step summary, rendered as sanitized Markdown (markdown.ts) under its order and step. Outside `#live`: the
 * summaries are read when the page loads, not on every refresh (a summary may be 256 KiB).
 */
function summariesSection(summaries: readonly OrderSummaries[], leftOut: number): SafeHtml {
  if (summaries.length === 0) return html``;
  const more =
    leftOut === 0 ? '' : html`<p class="note">${leftOut} more step summaries are not shown on this page.</p>`;
  return html`<section aria-labelledby="summaries-heading" id="summaries">
    <h2 id="summaries-heading">Step summaries</h2>
    ${summaries.map(
      ({ order, steps }) =>
        html`<section class="summaries" id="${summaryAnchor(order.id)}">
          <h3><a href="${orderPath(order.runId, order.id)}">${order.name}</a></h3>
          ${steps.map(
            (st) =>
              html`<article class="step-summary" data-step="${st.index}">
                <h4>${st.name}</h4>
                <div class="markdown">${renderSummaryMarkdown(st.markdown)}</div>
              </article>`,
          )}
        </section>`,
    )}
    ${more}
  </section>`;
}

function graphSection(input: RunPageInput): SafeHtml {
  const g = input.graph;
  if ('svg' in g) {
    const grouped =
      g.graph.groupedJobs === 0
        ? ''
        : html`<p class="note">
            Matrix jobs are drawn as one node each (${g.graph.groupedJobs} job${g.graph.groupedJobs === 1 ? '' : 's'});
            select one to list its orders.
          </p>`;
    return html`${grouped}
      <div class="graph-wrap" role="region" aria-label="Order graph" tabindex="0">${trusted(g.svg)}</div>`;
  }
  if (g.kind === 'omitted') return html`<p class="note" data-graph="omitted">The graph is not shown: ${g.reason}.</p>`;
  return html``;
}

/** `#live`: everything that changes while the run goes on (re-fetched every `refreshMs` until the run is over). */
export function renderRunLive(input: RunPageInput): SafeHtml {
  const { run, orders, now } = input;
  const active = isRunActive(run.status) || orders.some((o) => !isFinalOrderState(o.state));
  const listed = input.job === undefined ? orders : orders.filter((o) => o.job === input.job);
  const pages = Math.max(1, Math.ceil(listed.length / input.pageSize));
  const page = Math.min(input.page, pages);
  const shown = listed.slice((page - 1) * input.pageSize, page * input.pageSize);
  const duration = formatDuration((run.finishedAt ?? now) - run.createdAt);
  const refresh = active ? html` data-refresh="${input.refreshMs}"` : '';
  const annotations = annotationCountText(countAnnotations(orders.flatMap((o) => o.stepResults ?? [])));
  const table =
    shown.length === 0
      ? html`<p>${input.job === undefined ? 'This run has no orders.' : 'No order of this job.'}</p>`
      : html`<table class="stack">
          <caption>
            ${input.job === undefined ? 'Every order, in plan order' : `Orders of job ${input.job}`}${pages > 1 ? `, page ${String(page)} of ${String(pages)}` : ''}
          </caption>
          <thead>
            <tr>
              <th scope="col">State</th>
              <th scope="col">Order</th>
              <th scope="col">Runner</th>
              <th scope="col" class="num">Duration</th>
              <th scope="col">Why</th>
              <th scope="col">Log</th>
            </tr>
          </thead>
          <tbody>
            ${shown.map((o) => orderRow(o, now))}
          </tbody>
        </table>`;
  const pager =
    pages <= 1
      ? ''
      : html`<nav class="pager" aria-label="Order pages">
          ${[
            page > 1 ? html`<a href="${tablePath(run, input.job, page - 1)}" rel="prev">Previous orders</a>` : '',
            page < pages ? html`<a href="${tablePath(run, input.job, page + 1)}" rel="next">Next orders</a>` : '',
          ]}
        </nav>`;
  return html`<div id="live" ${refresh} data-run-status="${run.status}">
    <h1>${run.workflowName} ${stateLabel(run.status, 'run')}</h1>
    <dl class="facts">
      <dt>Repository</dt>
      <dd>
        <a href="${repoRunsPath(run.repo, true)}">${repoName(run.repo)}</a> <span class="note">(${run.repo.host})</span>
      </dd>
      <dt>Commit</dt>
      <dd>${commitLink(run)} on <code>${run.ref}</code></dd>
      <dt>Trigger</dt>
      <dd>${triggerText(run)}</dd>
      <dt>Asked by</dt>
      <dd>${run.actor}</dd>
      <dt>Workflow file</dt>
      <dd><code>${run.file}</code></dd>
      <dt>Started</dt>
      <dd>${timeText(run.createdAt)}</dd>
      <dt>Duration</dt>
      <dd>${duration}${isRunActive(run.status) ? ' so far' : ''}</dd>
      <dt>Orders</dt>
      <dd id="run-summary">${summary(orders)}</dd>
      ${
        annotations === ''
          ? ''
          : html`<dt>Annotations</dt>
              <dd id="run-annotations">${annotations}</dd>`
      }
      ${
        run.reason === undefined
          ? ''
          : html`<dt>Why</dt>
              <dd>${run.reason}</dd>`
      }
    </dl>
    <section aria-labelledby="graph-heading">
      <h2 id="graph-heading">Graph</h2>
      ${graphSection(input)}
    </section>
    <section aria-labelledby="orders-heading">
      <h2 id="orders-heading"><a id="orders"></a>Orders</h2>
      ${input.job === undefined ? '' : html`<p>Showing job <code>${input.job}</code> only. <a href="${tablePath(run, undefined, 1)}">Show every order</a></p>`}
      ${table}${pager}
    </section>
  </div>`;
}

export function renderRunPage(input: RunPageInput): string {
  const { run } = input;
  const active = isRunActive(run.status) || input.orders.some((o) => !isFinalOrderState(o.state));
  return renderPage({
    ...(input.account === undefined ? {} : { account: input.account }),
    title: `${run.workflowName} · ${repoName(run.repo)}`,
    crumbs: [
      { label: 'Runs', href: RUNS_PATH },
      { label: repoName(run.repo), href: repoRunsPath(run.repo, true) },
      { label: run.workflowName },
    ],
    main: html`${renderRunLive(input)}${summariesSection(input.summaries ?? [], input.summariesLeftOut ?? 0)}${badgeSection(input.badgePath)}${secretsSection(input.secretsPath)}`,
    ...(active ? { noscriptRefreshSeconds: Math.max(2, Math.round((input.refreshMs * 2) / 1000)) } : {}),
  });
}

function secretsSection(path: string | undefined): SafeHtml | string {
  if (path === undefined) return '';
  return html`<section aria-labelledby="settings-heading">
    <h2 id="settings-heading">Settings</h2>
    <p><a id="secrets-link" href="${path}">Secrets of this repository</a> (you administer it)</p>
  </section>`;
}

/** The private repository's badge, with its key: whoever has the link sees the state of its default branch. */
function badgeSection(path: string | undefined): SafeHtml | string {
  if (path === undefined) return '';
  return html`<section aria-labelledby="badge-heading">
    <h2 id="badge-heading">Badge</h2>
    <p>This repository is private: its badge needs this key (anyone with the link sees the badge, nothing else).</p>
    <p><code id="badge-path">${path}</code></p>
  </section>`;
}
