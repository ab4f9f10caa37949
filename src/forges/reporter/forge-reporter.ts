/**
 * Reports runs to the forge (docs/architecture.md "Reporting"): one commit status per order (src/forges/reporter/order-statuses.ts)
 * and one sticky comment per PR (src/forges/reporter/sticky-comments.ts). This module decides when each is written.
 *
 * The orchestrator awaits its Reporter on the completion path, so every method here only records what happened and
 * returns; the forge calls run in the background (`idle()` waits for them). Reporting never blocks or fails a run:
 * a forge error is retried a few times, then logged with a static message and dropped.
 *
 * Budget, per run of N orders in W waves (issue 4, "Rate limits"):
 * - statuses: exactly 2 per order (pending at run start, then final);
 * - the comment: re-rendered at run start, when an order of a wave deeper than any dispatched so far in that run is
 *   first dispatched, and at run end (at most W + 2 renders), each one written only when its text changed.
 */
import type { Logger } from 'pino';
import { isFinalOrderState, type RepoRef, type RunRecord, type RunStatus } from '../../core/types.ts';
import { BackgroundTasks, type RetryPolicy } from './forge-calls.ts';
import type { Forge } from '../forge.ts';
import type { Reporter } from '../../orchestrator.ts';
import { OrderStatuses, type TrackedRun } from './order-statuses.ts';
import { StickyComments } from './sticky-comments.ts';
import type { Store } from '../../store/store.ts';
import { joinUrl } from '../../core/url.ts';

/** Finds the forge that can act on a run's repository (undefined: not reported, e.g. a local run). */
export interface ReporterForges {
  forRun(run: RunRecord): Promise<Forge | undefined>;
}

/** A pull request with no run to hang a notice on (a PR not run, a refused `!testme`): the caller has its forge. */
export interface PullRequestTarget {
  readonly repo: RepoRef;
  readonly pr: number;
  readonly forge: Forge;
}

export interface ForgeReporterOptions {
  readonly store: Store;
  readonly forges: ReporterForges;
  /** Where people reach the server: log pages and run pages link below it. */
  readonly publicUrl: string;
  readonly logger: Logger;
  readonly now?: () => number;
  /**
   * Production option for long waves: an order change re-renders the comment when the last render of that PR is
   * at least this old (durations move on). Event-driven, no timer. Undefined: off.
   */
  readonly refreshMs?: number;
  /** Tries per forge write (first try included) for retryable ForgeErrors. Default 3. */
  readonly attempts?: number;
  /** Pause before the first retry, doubled each time. Default 1000 ms. */
  readonly retryDelayMs?: number;
  /** How many runs to read back when looking for a PR's runs (newest first). Default 100. */
  readonly runsToScan?: number;
}

export interface ForgeReporter extends Reporter {
  /**
   * A one-line message on top of the PR's sticky comment (why a PR was not run, why `!testme` was refused), kept
   * until the PR's next run starts. The line is bot-authored Markdown: escape user text in it with escapeMarkdown.
   */
  notice(target: RunRecord | PullRequestTarget, line: string): Promise<void>;
  /** Resolves when every forge call started so far has settled (tests; graceful shutdown). */
  idle(): Promise<void>;
}

/** Run statuses after which nothing of the run changes again. */
const RUN_OVER: readonly string[] = ['succeeded', 'failed', 'cancelled'] satisfies readonly RunStatus[];

export function createForgeReporter(options: ForgeReporterOptions): ForgeReporter {
  const now = options.now ?? Date.now;
  const retry: RetryPolicy = {
    attempts: Math.max(1, options.attempts ?? 3),
    retryDelayMs: options.retryDelayMs ?? 1000,
  };
  const runUrl = (runId: string): string => joinUrl(options.publicUrl, `/runs/${encodeURIComponent(runId)}`);
  const logUrl = (runId: string, orderId: string): string =>
    `${runUrl(runId)}/orders/${encodeURIComponent(orderId)}/log`;
  const tasks = new BackgroundTasks();
  const statuses = new OrderStatuses({
    store: options.store,
    forgeFor: (run) => options.forges.forRun(run),
    logger: options.logger,
    now,
    retry,
    tasks,
    logUrl,
  });
  const comments = new StickyComments({
    store: options.store,
    logger: options.logger,
    now,
    retry,
    tasks,
    runUrl,
    logUrl,
    runsToScan: options.runsToScan ?? 100,
  });

  /** Re-renders the run's PR comment (if it has a PR and a forge). */
  const renderRun = (run: RunRecord, state: TrackedRun): void => {
    const pr = run.pr;
    if (pr === undefined) return; // push runs get statuses only
    void tasks.run(state.log, 'sticky comment not scheduled', async () => {
      const forge = await state.forge;
      if (!forge) return;
      const entry = comments.track(run.repo, pr);
      entry.forge = forge;
      await comments.schedule(entry);
    });
  };

  /** With refreshMs: an order change re-renders a comment whose last render is old enough. */
  const refreshIfStale = (run: RunRecord, state: TrackedRun): void => {
    if (options.refreshMs === undefined || run.pr === undefined) return;
    const entry = comments.peek(run.repo, run.pr);
    if (entry && now() - entry.lastRenderAt >= options.refreshMs) renderRun(run, state);
  };

  return {
    runChanged(run) {
      try {
        const state = statuses.track(run);
        // A run created after the PR's notice replaces it: a refusal says why in one line until something runs.
        const entry = run.pr === undefined ? undefined : comments.peek(run.repo, run.pr);
        if (entry?.notice && run.createdAt >= entry.notice.at) entry.notice = undefined;
        if (RUN_OVER.includes(run.status)) {
          renderRun(run, state);
          statuses.forget(run.runId);
          return Promise.resolve();
        }
        if (run.status === 'running') statuses.runStarted(run);
        renderRun(run, state);
      } catch (error) {
        options.logger.warn({ err: error, runId: run.runId }, 'run change not reported');
      }
      return Promise.resolve();
    },

    orderChanged(run, order) {
      try {
        const state = statuses.track(run);
        if (isFinalOrderState(order.state)) {
          if (!statuses.orderFinished(run, order)) return Promise.resolve();
        } else if (order.state === 'dispatching' && statuses.deeperWave(run, order)) {
          renderRun(run, state);
          return Promise.resolve();
        }
        refreshIfStale(run, state);
      } catch (error) {
        options.logger.warn({ err: error, runId: run.runId }, 'order change not reported');
      }
      return Promise.resolve();
    },

    async notice(target, line) {
      const isRun = 'runId' in target;
      const prNumber = target.pr;
      if (prNumber === undefined) return; // a push run has no comment to put a notice in
      const log = isRun ? options.logger.child({ runId: target.runId }) : options.logger;
      try {
        const forge = isRun
          ? await (statuses.peek(target.runId)?.forge ?? options.forges.forRun(target))
          : target.forge;
        if (!forge) return;
        const entry = comments.track(target.repo, prNumber);
        entry.forge = forge;
        entry.notice = { line, at: now() };
        await comments.schedule(entry);
      } catch (error) {
        log.warn({ err: error }, 'notice not shown');
      }
    },

    idle: () => tasks.idle(),
  };
}
