/**
 * The sticky PR comment's writes (docs/architecture.md "Reporting"): one comment per PR, re-rendered from the
 * store, written only when its text changed, found again by its marker and the bot's authorship when its id is not
 * known (a restart) or the comment was deleted. Renders of one PR are single-flight with a dirty flag: concurrent
 * triggers make one render in flight plus at most one follow-up.
 *
 * Creating the comment is claimed in the store first (issue 16): two replicas that both find no comment would each
 * create one, so only the claim's holder creates it and the other waits to find it by its marker.
 */
import { setImmediate as setImmediateAsync, setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { COMMENT_MARKER, renderComment, type RunView } from '../../core/render/comment.ts';
import type { RepoRef } from '../../core/types.ts';
import { ForgeError } from '../../errors.ts';
import { withForgeRetries, type BackgroundTasks, type RetryPolicy } from './forge-calls.ts';
import type { Forge, IssueComment } from '../forge.ts';
import type { Store } from '../../store/store.ts';

/** Per-PR state kept in memory; the oldest idle entries go first. Losing one costs one extra find, never a wrong edit. */
export const MAX_TRACKED_PRS = 1000;

/**
 * How long a claim to create a PR's comment holds. Long enough for a create with its retries; short enough that a
 * replica that died between claim and create only delays the comment, and a comment deleted by hand is recreated.
 */
export const STICKY_CLAIM_MS = 10 * 60_000;

/** The store key of the claim to create a PR's comment; `replaces` is the id of a comment found deleted, if any. */
export function stickyClaimKey(prKeyText: string, replaces: number | undefined): string {
  return `sticky-comment:${prKeyText}:${replaces === undefined ? 'first' : String(replaces)}`;
}

export interface StickyCommentsOptions {
  readonly store: Pick<Store, 'listRuns' | 'listOrders' | 'claim' | 'release'>;
  readonly logger: Logger;
  readonly now: () => number;
  readonly retry: RetryPolicy;
  readonly tasks: BackgroundTasks;
  readonly runUrl: (runId: string) => string;
  readonly logUrl: (runId: string, orderId: string) => string;
  /** How many runs to read back when looking for a PR's runs (newest first). */
  readonly runsToScan: number;
  /** Per-PR entries kept; default MAX_TRACKED_PRS. */
  readonly maxTracked?: number;
}

/** What is known about one PR's comment. */
export interface PrComment {
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

export function prKey(repo: RepoRef, pr: number): string {
  return `${repo.forge}:${repo.host}/${repo.owner}/${repo.name}#${String(pr)}`;
}

export class StickyComments {
  readonly #options: StickyCommentsOptions;
  /** In least-recently-used order. */
  readonly #prs = new Map<string, PrComment>();

  constructor(options: StickyCommentsOptions) {
    this.#options = options;
  }

  /** The PR's entry, if tracked (no side effect on the eviction order). */
  peek(repo: RepoRef, pr: number): PrComment | undefined {
    return this.#prs.get(prKey(repo, pr));
  }

  /** The PR's entry, made when missing; marks it most recently used and evicts the oldest idle entries. */
  track(repo: RepoRef, pr: number): PrComment {
    const key = prKey(repo, pr);
    let state = this.#prs.get(key);
    if (state) {
      this.#prs.delete(key); // re-insert: the map's order is least recently used first
      this.#prs.set(key, state);
      return state;
    }
    state = {
      key,
      repo,
      pr,
      log: this.#options.logger.child({ repo: `${repo.owner}/${repo.name}`, pr }),
      forge: undefined,
      commentId: undefined,
      text: undefined,
      notice: undefined,
      inflight: undefined,
      dirty: false,
      lastRenderAt: Number.NEGATIVE_INFINITY,
    };
    this.#prs.set(key, state);
    const max = this.#options.maxTracked ?? MAX_TRACKED_PRS;
    for (const [oldKey, old] of this.#prs) {
      if (this.#prs.size <= max) break;
      if (old.inflight === undefined) this.#prs.delete(oldKey);
    }
    return state;
  }

  /** Single-flight per PR: a trigger during a render marks it dirty, and one follow-up render picks it up. */
  schedule(pr: PrComment): Promise<void> {
    if (pr.inflight) {
      pr.dirty = true;
      return pr.inflight;
    }
    const task = this.#options.tasks.run(pr.log, 'sticky comment not written', async () => {
      try {
        do {
          pr.dirty = false;
          await this.#renderOnce(pr);
        } while (pr.dirty);
      } finally {
        pr.inflight = undefined;
      }
    });
    pr.inflight = task;
    return task;
  }

  /** One render: write the comment only when its text differs from what the forge holds. */
  async #renderOnce(pr: PrComment): Promise<void> {
    const forge = pr.forge;
    if (!forge) return;
    pr.lastRenderAt = this.#options.now();
    const rendered = await this.#render(pr);
    if (rendered === undefined) return;
    const text = clampComment(rendered, forge.maxCommentLength);
    if (text === pr.text) return;
    const retry = this.#options.retry;
    let deleted: number | undefined;
    if (pr.commentId !== undefined) {
      try {
        await withForgeRetries(() => forge.updateComment(pr.repo, pr.commentId!, text), retry);
        pr.text = text;
        return;
      } catch (error) {
        // Someone deleted the comment: find or create it again below. Anything else is the caller's to log.
        if (!(error instanceof ForgeError && (error.status === 404 || error.status === 410))) throw error;
        deleted = pr.commentId;
        pr.commentId = undefined;
        pr.text = undefined;
      }
    }
    // Found by the marker AND the bot's own authorship (Forge.findStickyComment): a user who pastes the marker
    // into their own comment never gets it edited.
    const find = (): Promise<IssueComment | undefined> =>
      withForgeRetries(() => forge.findStickyComment(pr.repo, pr.pr, COMMENT_MARKER), retry);
    let found = await find();
    if (!found) {
      const claimKey = stickyClaimKey(pr.key, deleted);
      const { store, now } = this.#options;
      if (await store.claim(claimKey, now() + STICKY_CLAIM_MS)) {
        try {
          const created = await withForgeRetries(() => forge.createComment(pr.repo, pr.pr, text), retry);
          pr.commentId = created.id;
          pr.text = text;
          return;
        } catch (error) {
          // Not created: another render (here or on another replica) may try again at once.
          await store.release(claimKey);
          throw error;
        }
      }
      found = await this.#awaitCreated(find);
      if (!found) {
        // Still being created elsewhere: that replica writes it, and this PR's next render edits it.
        pr.log.info('sticky comment left to the replica creating it');
        return;
      }
    }
    pr.commentId = found.id;
    if (found.body !== text) await withForgeRetries(() => forge.updateComment(pr.repo, found.id, text), retry);
    pr.text = text;
  }

  /** Another replica holds the claim to create the comment: looks for it a few times with a doubling pause. */
  async #awaitCreated(find: () => Promise<IssueComment | undefined>): Promise<IssueComment | undefined> {
    const { attempts, retryDelayMs } = this.#options.retry;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      if (retryDelayMs > 0) await sleep(retryDelayMs * 2 ** (attempt - 1));
      else await setImmediateAsync();
      const found = await find();
      if (found) return found;
    }
    return undefined;
  }

  /** Reads the PR's runs at its newest SHA and renders the comment text (or undefined: nothing to show). */
  async #render(pr: PrComment): Promise<string | undefined> {
    const { store } = this.#options;
    const recent = await store.listRuns({ repo: pr.repo, limit: this.#options.runsToScan });
    const ofPr = recent.filter((r) => r.pr === pr.pr);
    // The newest run's SHA is the PR head the comment speaks about: a superseded run at an older SHA that ends
    // late must not turn the comment back to its commit.
    const sha = ofPr[0]?.sha;
    const atHead = ofPr.filter((r) => r.sha === sha);
    if (atHead.length === 0 && pr.notice === undefined) return undefined;
    const views: RunView[] = await Promise.all(
      atHead.map(async (run) => ({ run, orders: await store.listOrders(run.runId) })),
    );
    return renderComment({
      runs: views,
      logUrl: this.#options.logUrl,
      runUrl: this.#options.runUrl,
      now: this.#options.now(),
      ...(pr.notice === undefined ? {} : { notice: pr.notice.line }),
    });
  }
}

/** The renderer keeps GitHub's 65,536; a forge with a smaller limit gets the text cut at a line break. */
export function clampComment(text: string, max: number): string {
  if (text.length <= max) return text;
  const tail = '\n\n… truncated\n';
  const cut = text.lastIndexOf('\n', max - tail.length);
  return `${text.slice(0, Math.max(cut, COMMENT_MARKER.length))}${tail}`;
}
