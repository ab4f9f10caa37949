/**
 * Reports runs to the forge (DESIGN.md "Reporting"): one commit status per order and one sticky comment per PR.
 *
 * The orchestrator awaits its Reporter on the completion path, so every method here only records what happened and
 * returns; the forge calls run in the background (`idle()` waits for them). Reporting never blocks or fails a run:
 * a forge error is retried a few times, then logged with a static message and dropped.
 *
 * Budget, per run of N orders in W waves (issue 4, "Rate limits"):
 * - statuses: `pending` for every order once when the run starts, then the final state once: exactly 2 per order
 *   (in one process; the final write waits for the pending one, so a pending never lands on top of a final);
 * - the comment: re-rendered at run start, when an order of a wave deeper than any dispatched so far in that run is
 *   first dispatched, and at run end (at most W + 2 renders), each one written only when its text changed.
 *   Renders of one PR are single-flight with a dirty flag: concurrent triggers make one render in flight plus at
 *   most one follow-up.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { COMMENT_MARKER, renderComment, type RunView } from './core/comment.ts';
import { formatDuration, oneLine, orderDurationMs } from './core/format.ts';
import { isFinalOrderState, type OrderRecord, type RepoRef, type RunRecord, type RunStatus } from './core/types.ts';
import { ForgeError } from './errors.ts';
import type { CommitState, CommitStatus, Forge } from './forges/forge.ts';
import type { Reporter } from './orchestrator.ts';
import type { Store } from './store/store.ts';
import { joinUrl } from './url.ts';

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
/** At most this many pending-status writes of one run in flight at once (GitHub's secondary rate limits). */
const STATUS_CONCURRENCY = 8;
/** Runs tracked in memory at once; an evicted run only loses its pending-before-final ordering and wave mark. */
const MAX_TRACKED_RUNS = 5000;
/** Per-PR state kept in memory; the oldest idle entries go first. Losing one costs one extra find, never a wrong edit. */
const MAX_TRACKED_PRS = 1000;

interface RunState {
  readonly log: Logger;
  readonly forge: Promise<Forge | undefined>;
  /** Settles when the run-start pending statuses are written (final statuses wait for it). */
  pendingWritten: Promise<void>;
  readonly finalWritten: Set<string>;
  /** The deepest wave dispatched so far (-1: none). */
  deepestWave: number;
  /** The run-start pending statuses were scheduled. */
  started: boolean;
}

interface PrState {
  readonly key: string;
  readonly repo: RepoRef;
  readonly pr: number;
  readonly log: Logger;
  forge: Forge | undefined;
  commentId: number | undefined;
  /** The comment's text as last written or read: an equal render is not sent. */
  text: string | undefined;
  /** The notice line and when it was set (runs created since then replace it). */
  notice: { readonly line: string; readonly at: number } | undefined;
  inflight: Promise<void> | undefined;
  dirty: boolean;
  lastRenderAt: number;
}

export function createForgeReporter(options: ForgeReporterOptions): ForgeReporter {
  const now = options.now ?? Date.now;
  const attempts = Math.max(1, options.attempts ?? 3);
  const retryDelayMs = options.retryDelayMs ?? 1000;
  const runs = new Map<string, RunState>();
  const prs = new Map<string, PrState>();
  const inflight = new Set<Promise<void>>();

  const runUrl = (runId: string): string => joinUrl(options.publicUrl, `/runs/${encodeURIComponent(runId)}`);
  const logUrl = (runId: string, orderId: string): string =>
    `${runUrl(runId)}/orders/${encodeURIComponent(orderId)}/log`;

  /** Runs `work` in the background; its failure is logged here, so nothing reaches the orchestrator. */
  const background = (log: Logger, message: string, work: () => Promise<void>): Promise<void> => {
    const task = (async () => {
      try {
        await work();
      } catch (error) {
        log.warn({ err: error }, message);
      }
    })();
    inflight.add(task);
    void task.finally(() => inflight.delete(task));
    return task;
  };

  /** Retries retryable forge errors with a doubling pause; other errors go straight to the caller. */
  const withRetries = async <T>(call: () => Promise<T>): Promise<T> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await call();
      } catch (error) {
        if (!(error instanceof ForgeError && error.retryable) || attempt >= attempts) throw error;
        if (retryDelayMs > 0) await sleep(retryDelayMs * 2 ** (attempt - 1));
      }
    }
  };

  const runState = (run: RunRecord): RunState => {
    let state = runs.get(run.runId);
    if (!state) {
      const log = options.logger.child({ runId: run.runId });
      state = {
        log,
        forge: options.forges.forRun(run).catch((error: unknown) => {
          log.warn({ err: error }, 'no forge for the run; not reporting it');
          return undefined;
        }),
        pendingWritten: Promise.resolve(),
        finalWritten: new Set(),
        deepestWave: -1,
        started: false,
      };
      runs.set(run.runId, state);
      // A run whose end this process never sees (another replica finished it) must not stay forever.
      if (runs.size > MAX_TRACKED_RUNS) runs.delete(runs.keys().next().value!);
    }
    return state;
  };

  const writeStatus = async (forge: Forge, run: RunRecord, order: OrderRecord, log: Logger): Promise<void> => {
    const status = statusFor(order, {
      workflow: run.workflowName,
      targetUrl: logUrl(run.runId, order.id),
      maxDescription: forge.maxStatusDescription,
      now: now(),
    });
    try {
      await withRetries(() => forge.setStatus(run.repo, run.sha, status));
    } catch (error) {
      log.warn({ err: error, orderId: order.id, state: status.state }, 'commit status not written');
    }
  };

  const prState = (repo: RepoRef, pr: number): PrState => {
    const key = prKey(repo, pr);
    let state = prs.get(key);
    if (state) {
      prs.delete(key); // re-insert: the map's order is least recently used first
      prs.set(key, state);
      return state;
    }
    state = {
      key,
      repo,
      pr,
      log: options.logger.child({ repo: `${repo.owner}/${repo.name}`, pr }),
      forge: undefined,
      commentId: undefined,
      text: undefined,
      notice: undefined,
      inflight: undefined,
      dirty: false,
      lastRenderAt: Number.NEGATIVE_INFINITY,
    };
    prs.set(key, state);
    for (const [oldKey, old] of prs) {
      if (prs.size <= MAX_TRACKED_PRS) break;
      if (old.inflight === undefined) prs.delete(oldKey);
    }
    return state;
  };

  /** Reads the PR's runs at its newest SHA and renders the comment text (or undefined: nothing to show). */
  const renderFor = async (pr: PrState): Promise<string | undefined> => {
    const recent = await options.store.listRuns({ repo: pr.repo, limit: options.runsToScan ?? 100 });
    const ofPr = recent.filter((r) => r.pr === pr.pr);
    // The newest run's SHA is the PR head the comment speaks about: a superseded run at an older SHA that ends
    // late must not turn the comment back to its commit.
    const sha = ofPr[0]?.sha;
    const atHead = ofPr.filter((r) => r.sha === sha);
    if (atHead.length === 0 && pr.notice === undefined) return undefined;
    const views: RunView[] = await Promise.all(
      atHead.map(async (run) => ({ run, orders: await options.store.listOrders(run.runId) })),
    );
    const text = renderComment({
      runs: views,
      logUrl,
      runUrl,
      now: now(),
      ...(pr.notice === undefined ? {} : { notice: pr.notice.line }),
    });
    return text;
  };

  /** One render: write the comment only when its text differs from what the forge holds. */
  const renderOnce = async (pr: PrState): Promise<void> => {
    const forge = pr.forge;
    if (!forge) return;
    pr.lastRenderAt = now();
    const rendered = await renderFor(pr);
    if (rendered === undefined) return;
    const text = clampComment(rendered, forge.maxCommentLength);
    if (text === pr.text) return;
    if (pr.commentId !== undefined) {
      try {
        await withRetries(() => forge.updateComment(pr.repo, pr.commentId!, text));
        pr.text = text;
        return;
      } catch (error) {
        // Someone deleted the comment: find or create it again below. Anything else is the caller's to log.
        if (!(error instanceof ForgeError && (error.status === 404 || error.status === 410))) throw error;
        pr.commentId = undefined;
        pr.text = undefined;
      }
    }
    // Found by the marker AND the bot's own authorship (Forge.findStickyComment): a user who pastes the marker
    // into their own comment never gets it edited.
    const found = await withRetries(() => forge.findStickyComment(pr.repo, pr.pr, COMMENT_MARKER));
    if (found) {
      pr.commentId = found.id;
      if (found.body !== text) await withRetries(() => forge.updateComment(pr.repo, found.id, text));
    } else {
      const created = await withRetries(() => forge.createComment(pr.repo, pr.pr, text));
      pr.commentId = created.id;
    }
    pr.text = text;
  };

  /** Single-flight per PR: a trigger during a render marks it dirty, and one follow-up render picks it up. */
  const scheduleRender = (pr: PrState): Promise<void> => {
    if (pr.inflight) {
      pr.dirty = true;
      return pr.inflight;
    }
    const task = background(pr.log, 'sticky comment not written', async () => {
      try {
        do {
          pr.dirty = false;
          await renderOnce(pr);
        } while (pr.dirty);
      } finally {
        pr.inflight = undefined;
      }
    });
    pr.inflight = task;
    return task;
  };

  /** Re-renders the run's PR comment (if it has a PR and a forge). */
  const renderRun = (run: RunRecord, state: RunState): void => {
    const pr = run.pr;
    if (pr === undefined) return; // push runs get statuses only
    void background(state.log, 'sticky comment not scheduled', async () => {
      const forge = await state.forge;
      if (!forge) return;
      const prs = prState(run.repo, pr);
      prs.forge = forge;
      await scheduleRender(prs);
    });
  };

  return {
    runChanged(run) {
      try {
        const state = runState(run);
        // A run created after the PR's notice replaces it: a refusal says why in one line until something runs.
        const pr = run.pr === undefined ? undefined : prs.get(prKey(run.repo, run.pr));
        if (pr?.notice && run.createdAt >= pr.notice.at) pr.notice = undefined;
        if (RUN_OVER.includes(run.status)) {
          renderRun(run, state);
          runs.delete(run.runId); // the run is over: no order of it changes again
          return Promise.resolve();
        }
        if (run.status === 'running' && !state.started) {
          state.started = true;
          state.pendingWritten = background(state.log, 'pending statuses not written', async () => {
            const forge = await state.forge;
            if (!forge) return;
            const orders = await options.store.listOrders(run.runId);
            await forEachLimited(orders, STATUS_CONCURRENCY, (order) =>
              writeStatus(forge, run, { ...order, state: 'queued' }, state.log),
            );
          });
        }
        renderRun(run, state);
      } catch (error) {
        options.logger.warn({ err: error, runId: run.runId }, 'run change not reported');
      }
      return Promise.resolve();
    },

    orderChanged(run, order) {
      try {
        const state = runState(run);
        if (isFinalOrderState(order.state)) {
          if (state.finalWritten.has(order.id)) return Promise.resolve();
          state.finalWritten.add(order.id);
          const pending = state.pendingWritten;
          void background(state.log, 'final status not written', async () => {
            const forge = await state.forge;
            if (!forge) return;
            await pending; // never let the run-start pending land after the final state
            await writeStatus(forge, run, order, state.log);
          });
        } else if (order.state === 'dispatching' && order.wave > state.deepestWave) {
          state.deepestWave = order.wave;
          renderRun(run, state);
          return Promise.resolve();
        }
        if (options.refreshMs !== undefined && run.pr !== undefined) {
          const pr = prs.get(prKey(run.repo, run.pr));
          if (pr && now() - pr.lastRenderAt >= options.refreshMs) renderRun(run, state);
        }
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
        const forge = isRun ? await (runs.get(target.runId)?.forge ?? options.forges.forRun(target)) : target.forge;
        if (!forge) return;
        const pr = prState(target.repo, prNumber);
        pr.forge = forge;
        pr.notice = { line, at: now() };
        await scheduleRender(pr);
      } catch (error) {
        log.warn({ err: error }, 'notice not shown');
      }
    },

    async idle() {
      while (inflight.size > 0) await Promise.allSettled([...inflight]);
    },
  };
}

function prKey(repo: RepoRef, pr: number): string {
  return `${repo.forge}:${repo.host}/${repo.owner}/${repo.name}#${String(pr)}`;
}

export interface StatusContext {
  readonly workflow: string;
  readonly targetUrl: string;
  readonly maxDescription: number;
  readonly now: number;
}

/**
 * The commit status of an order. GitHub's states (REST "Create a commit status"): `pending` until the order is
 * final; `success` for succeeded and skipped (GitHub Actions also lets a skipped job satisfy a required check);
 * `failure` for failed and timed out; `error` for cancelled (the job neither passed nor failed: something stopped
 * it). A job that failed under `continue-on-error` has the result `success`: the status follows the result and the
 * description says it failed.
 */
export function statusFor(order: OrderRecord, context: StatusContext): CommitStatus {
  const { state, description } = describe(order, context.now);
  return {
    context: `spotcheck/${context.workflow}/${order.name}`,
    state,
    description: fitDescription(description, context.maxDescription),
    targetUrl: context.targetUrl,
  };
}

function describe(order: OrderRecord, now: number): { state: CommitState; description: string } {
  const reason = order.reason === undefined ? undefined : oneLine(order.reason, 1000);
  const ms = orderDurationMs(order, now);
  const took = ms === undefined ? '' : ` in ${formatDuration(ms)}`;
  switch (order.state) {
    case 'succeeded':
      return { state: 'success', description: `succeeded${took}` };
    case 'skipped':
      return { state: 'success', description: prefixed('skipped', reason) };
    case 'failed':
    case 'timed_out': {
      const word = order.state === 'failed' ? 'failed' : 'timed out';
      if (order.result === 'success') {
        const why = reason?.replace(/\s*\(continue-on-error\)$/, '');
        return { state: 'success', description: `${word}, allowed by continue-on-error${why ? `: ${why}` : ''}` };
      }
      return { state: 'failure', description: prefixed(word, reason) };
    }
    case 'cancelled':
      return { state: 'error', description: prefixed('cancelled', reason) };
    case 'queued':
    case 'dispatching':
    case 'running':
    case 'interrupted':
      return { state: 'pending', description: order.state === 'queued' ? 'queued' : order.state };
  }
}

/** `word: reason`, unless the reason already starts with the word (`skipped: if: … was false`). */
function prefixed(word: string, reason: string | undefined): string {
  if (reason === undefined || reason === '') return word;
  return reason.toLowerCase().startsWith(word) ? reason : `${word}: ${reason}`;
}

/**
 * One line within the forge's limit (GitHub: 140 characters). Cut by code points and also kept within the limit in
 * UTF-16 code units, whichever the forge counts, with `…` where it was cut.
 */
export function fitDescription(text: string, max: number): string {
  const flat = oneLine(text, Number.MAX_SAFE_INTEGER);
  if (flat.length <= max) return flat;
  let out = '';
  for (const ch of flat) {
    if (out.length + ch.length > max - 1) break;
    out += ch;
  }
  return `${out.trimEnd()}…`;
}

/** The renderer keeps GitHub's 65,536; a forge with a smaller limit gets the text cut at a line break. */
function clampComment(text: string, max: number): string {
  if (text.length <= max) return text;
  const tail = '\n\n… truncated\n';
  const cut = text.lastIndexOf('\n', max - tail.length);
  return `${text.slice(0, Math.max(cut, COMMENT_MARKER.length))}${tail}`;
}

async function forEachLimited<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await work(items[next++]!);
  });
  await Promise.all(lanes);
}
