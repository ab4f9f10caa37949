/**
 * `GET /runs/:run/orders/:order`: one order — its details, its steps, and its log. The log comes from the plain-text
 * log route (`/runs/:run/orders/:order/log`), which follows the log while the order runs: the page's script reads
 * that stream and appends it as text; without JavaScript a frame shows the same stream.
 */
import { formatDuration, orderDurationMs, stateWord } from '../../core/render/format.ts';
import { annotationCountText, annotationPlace, countAnnotations } from '../../core/step-results.ts';
import {
  isFinalOrderState,
  type Annotation,
  type MatrixValue,
  type OrderRecord,
  type RunRecord,
} from '../../core/types.ts';
import { orderLogPath } from '../log-route.ts';
import { html, type SafeHtml } from './html.ts';
import { renderPage, type Account } from './page.ts';
import {
  RUNS_PATH,
  commitLink,
  environmentText,
  orderPath,
  repoName,
  runPath,
  stateLabel,
  summaryPath,
  timeText,
} from './view-parts.ts';

export interface OrderPageInput {
  /** The header's account corner (page.ts). */
  readonly account?: Account;
  readonly run: RunRecord;
  readonly order: OrderRecord;
  /** The orders this one needs (those still in the store). */
  readonly needs: readonly OrderRecord[];
  readonly now: number;
  readonly refreshMs: number;
}

function matrixText(value: MatrixValue): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function stepsTable(order: OrderRecord): SafeHtml {
  const steps = order.stepResults ?? [];
  if (steps.length === 0) return html``;
  return html`<h2>Steps</h2>
    <table class="stack">
      <thead>
        <tr>
          <th scope="col">#</th>
          <th scope="col">Step</th>
          <th scope="col">Result</th>
          <th scope="col">Exit code</th>
          <th scope="col" class="num">Duration</th>
        </tr>
      </thead>
      <tbody>
        ${steps.map(
          (s) =>
            html`<tr>
              <td data-label="#">${s.index + 1}</td>
              <td data-label="Step">${s.name}</td>
              <td data-label="Result">
                ${s.conclusion}${s.outcome === s.conclusion ? '' : html` <span class="note">(${s.outcome}, continue-on-error)</span>`}
              </td>
              <td data-label="Exit code">${s.exitCode ?? ''}</td>
              <td data-label="Duration" class="num">${formatDuration(s.durationMs)}</td>
            </tr>`,
        )}
      </tbody>
    </table>`;
}

/** Glyph and word for each level, as GitHub's annotation list shows them; the word is always there (WCAG 1.4.1). */
const LEVEL_GLYPHS = { error: '✗', warning: '⚠', notice: 'ℹ' } as const satisfies Record<Annotation['level'], string>;

/** The annotations the order's steps made (`::error|warning|notice::`), in step order, with the step that made each. */
function annotationsList(order: OrderRecord): SafeHtml {
  const rows = (order.stepResults ?? []).flatMap((s) => (s.annotations ?? []).map((a) => ({ a, step: s.name })));
  if (rows.length === 0) return html``;
  return html`<h2 id="annotations">Annotations</h2>
    <ul class="annotations">
      ${rows.map(({ a, step }) => {
        const place = annotationPlace(a);
        return html`<li class="${`a-${a.level}`}" data-level="${a.level}">
          <span class="level"><span aria-hidden="true">${LEVEL_GLYPHS[a.level]}</span> ${a.level}</span>
          ${a.title === undefined || a.title === '' ? '' : html`<strong>${a.title}</strong>`}
          ${place === '' ? '' : html`<code>${place}</code>`}
          <span class="note">(${step})</span>
          <div class="message">${a.message}</div>
        </li>`;
      })}
    </ul>`;
}

/** `#live`: the details, re-fetched while the order is not final. Its data attributes drive the log tail. */
export function renderOrderLive(input: OrderPageInput): SafeHtml {
  const { run, order, now } = input;
  const final = isFinalOrderState(order.state);
  const ms = orderDurationMs(order, now);
  const matrix = Object.entries(order.matrix);
  const counts = annotationCountText(countAnnotations(order.stepResults ?? []));
  const summaries = (order.stepResults ?? []).filter((st) => st.hasSummary === true).length;
  const refresh = final ? '' : html` data-refresh="${input.refreshMs}"`;
  const needs = input.needs.map(
    (n, i) => html`${i > 0 ? ', ' : ''}<a href="${orderPath(n.runId, n.id)}">${n.name}</a> (${stateWord(n.state)})`,
  );
  return html`<div
    id="live"
    ${refresh}
    data-order-state="${order.state}"
    data-attempt="${order.attempt}"
    data-final="${final ? 'true' : 'false'}"
  >
    <h1>${order.name} ${stateLabel(order.state, 'order')}</h1>
    <dl class="facts">
      <dt>Run</dt>
      <dd><a href="${runPath(run.runId)}">${run.workflowName}</a> · ${repoName(run.repo)} · ${commitLink(run)}</dd>
      <dt>Job</dt>
      <dd><code>${order.job}</code></dd>
      ${
        matrix.length === 0
          ? ''
          : html`<dt>Matrix</dt>
              <dd>${matrix.map(([k, v], i) => html`${i > 0 ? ', ' : ''}<code>${k}</code>=${matrixText(v)}`)}</dd>`
      }
      <dt>Runs on</dt>
      <dd><code>${order.runsOn}</code>${order.runner === undefined ? '' : ` (${order.runner})`}</dd>
      ${
        order.environment === undefined
          ? ''
          : html`<dt>Environment</dt>
              <dd>${environmentText(order.environment)}</dd>`
      }
      <dt>Attempt</dt>
      <dd>${order.attempt}</dd>
      ${
        needs.length === 0
          ? ''
          : html`<dt>Needs</dt>
              <dd>${needs}</dd>`
      }
      ${
        order.waitingSince === undefined
          ? ''
          : html`<dt>Waiting since</dt>
              <dd>${timeText(order.waitingSince)} (for capacity)</dd>`
      }
      ${
        order.startedAt === undefined
          ? ''
          : html`<dt>Started</dt>
              <dd>${timeText(order.startedAt)}</dd>`
      }
      ${
        order.finishedAt === undefined
          ? ''
          : html`<dt>Finished</dt>
              <dd>${timeText(order.finishedAt)}</dd>`
      }
      ${
        ms === undefined
          ? ''
          : html`<dt>Duration</dt>
              <dd>${formatDuration(ms)}${final ? '' : ' so far'}</dd>`
      }
      ${
        order.reason === undefined
          ? ''
          : html`<dt>Why</dt>
              <dd>${order.reason}</dd>`
      }
      ${
        counts === ''
          ? ''
          : html`<dt>Annotations</dt>
              <dd><a href="#annotations" id="annotation-counts">${counts}</a></dd>`
      }
      ${
        summaries === 0
          ? ''
          : html`<dt>Summary</dt>
              <dd>
                <a href="${summaryPath(run.runId, order.id)}"
                  >${summaries} step summar${summaries === 1 ? 'y' : 'ies'} on the run page</a
                >
              </dd>`
      }
    </dl>
    ${stepsTable(order)} ${annotationsList(order)}
  </div>`;
}

export function renderOrderPage(input: OrderPageInput): string {
  const { run, order } = input;
  const log = orderLogPath(order.runId, order.id);
  const attempts = Array.from({ length: Math.max(0, order.attempt - 1) }, (_, i) => i + 1);
  const earlier =
    attempts.length === 0
      ? ''
      : html` · earlier attempts:
        ${attempts.map((n, i) => html`${i > 0 ? ', ' : ''}<a href="${`${log}?attempt=${String(n)}`}">${n}</a>`)}`;
  const main = html`${renderOrderLive(input)}
    <section aria-labelledby="log-heading">
      <h2 id="log-heading">Log</h2>
      <p><a href="${`${log}?attempt=${String(order.attempt)}`}">Plain-text log</a>${earlier}</p>
      <pre
        id="log"
        class="log"
        hidden
        tabindex="0"
        aria-label="${`Log of ${order.name}`}"
        data-log-src="${log}"
        data-order-state="${order.state}"
        data-attempt="${order.attempt}"
      ></pre>
      <noscript
        ><iframe
          class="log"
          src="${`${log}?attempt=${String(order.attempt)}`}"
          title="${`Log of ${order.name}`}"
        ></iframe
      ></noscript>
    </section>`;
  return renderPage({
    ...(input.account === undefined ? {} : { account: input.account }),
    title: `${order.name} · ${run.workflowName}`,
    crumbs: [
      { label: 'Runs', href: RUNS_PATH },
      { label: `${run.workflowName} · ${repoName(run.repo)}`, href: runPath(run.runId) },
      { label: order.name },
    ],
    main,
  });
}
