/**
 * Lost Gitea webhooks, recovered by polling (and the only intake for a team that cannot expose a webhook): each
 * interval the enrolled repositories' branch heads, open pull requests and new comments are read, compared with what
 * the last poll saw (gitea-poll-diff.ts, pure), and what changed becomes the same intents a delivery makes, handed to
 * the same inbox. An event the webhook also delivers runs once: both paths claim it by its key (gitea-event-keys.ts).
 *
 * Enrolled: the configured `owner/name` and `owner/*` entries (an org's, else a user's, repositories), or, with none
 * configured, the repositories the bot user can see (`GET /user/repos`). The list is read again every
 * ENROLMENT_REFRESH_MS. Bounded per interval: repositories (taken in turn, a cursor in the store remembers where the
 * last interval stopped), requests, pages per list, and pull requests read by number to confirm a close. A repository that fails is logged and read again next
 * interval; its state is only advanced when every event it produced was stored.
 */
import type { Logger } from 'pino';
import type { GiteaPollSource, PolledRepo } from '../forges/gitea-poll-source.ts';
import type { Store } from '../store/store.ts';
import { claimGiteaEvent, freeReopenedClaim, releaseGiteaEvent } from './gitea-event-keys.ts';
import { diffGiteaRepo, pullsToConfirm, type ConfirmedPull, type GiteaPollState } from './gitea-poll-diff.ts';
import type { Intent } from './intents.ts';

/** The document kind of a repository's poll state, keyed by host and repository. */
export const GITEA_POLL_STATE_KIND = 'gitea-poll-repo';
/** The document kind whose one document per Gitea host says a poll ran within the interval (its lease). */
export const GITEA_POLL_LEASE_KIND = 'gitea-poll-lease';
/** The document kind of the poll's turn cursor, one per Gitea host. */
export const GITEA_POLL_CURSOR_KIND = 'gitea-poll-cursor';

/**
 * A repository's state is kept a week after its last poll: a poll switched off longer than that starts over with a
 * first poll (which runs nothing) rather than running a week of changes at once.
 */
export const GITEA_POLL_STATE_MS = 7 * 86_400_000;

/** Pages of 50 read per list (branches, pull requests, comments, an owner's repositories). */
export const GITEA_POLL_MAX_PAGES = 5;

/**
 * Pull requests read by number per repository and interval at most (open last time, not listed now: closed, or
 * only left out of the listing); the rest are read at the next intervals.
 */
export const GITEA_POLL_MAX_CONFIRMS = 5;

/** How often the enrolled repositories are listed again (not every interval: an org's listing costs pages). */
const ENROLMENT_REFRESH_MS = 10 * 60_000;

export interface GiteaPollSettings {
  /** `owner/name` or `owner/*`; absent: every repository the bot user can see. */
  readonly repos?: readonly string[];
  /** Repositories polled per interval at most; the rest wait their turn. */
  readonly maxReposPerInterval: number;
  /** Gitea requests per interval at most; a repository is not started once they are spent. */
  readonly maxRequestsPerInterval: number;
}

export interface GiteaPollerOptions {
  readonly source: GiteaPollSource;
  readonly store: Pick<Store, 'getDoc' | 'putDoc' | 'deleteDoc'>;
  /** The inbox's accept: persists the intent (and starts processing it). */
  readonly accept: (intent: Intent) => Promise<void>;
  /** The Gitea host from `GITEA_URL`. */
  readonly host: string;
  readonly botLogin: string;
  readonly settings: GiteaPollSettings;
  /** How often to poll, across replicas (`pollIfDue`'s lease). */
  readonly intervalMs: number;
  readonly logger: Logger;
  readonly now: () => number;
}

export interface GiteaPollSummary {
  /** Repositories read this interval. */
  readonly repos: number;
  /** Events handed to the inbox (not claimed by the webhook or an earlier poll). */
  readonly accepted: number;
  /** Repositories that failed (read again next interval). */
  readonly failed: number;
}

export interface GiteaPoller {
  /** One poll, now. */
  poll(): Promise<GiteaPollSummary>;
  /**
   * One poll unless one ran within the interval, here or on another replica: a lease document, taken only when absent
   * or expired, says when. Undefined when it was not due.
   */
  pollIfDue(): Promise<GiteaPollSummary | undefined>;
}

export function createGiteaPoller(opts: GiteaPollerOptions): GiteaPoller {
  const { source, store, host, logger, now, settings } = opts;
  const hostKey = host.toLowerCase();
  let enrolled: { readonly at: number; readonly repos: readonly PolledRepo[] } | undefined;

  async function enrolment(): Promise<readonly PolledRepo[]> {
    const at = now();
    if (enrolled !== undefined && at - enrolled.at < ENROLMENT_REFRESH_MS) return enrolled.repos;
    const repos = await readEnrolment(source, settings.repos);
    enrolled = { at, repos };
    logger.debug({ repos: repos.length }, 'Gitea repositories enrolled for polling');
    return repos;
  }

  /** The repositories whose turn it is, and advances the cursor past them. */
  async function thisTurn(all: readonly PolledRepo[]): Promise<readonly PolledRepo[]> {
    if (all.length <= settings.maxReposPerInterval) return all;
    const doc = await store.getDoc(GITEA_POLL_CURSOR_KIND, hostKey);
    const start = Number((doc?.value as { next?: unknown } | undefined)?.next ?? 0) % all.length || 0;
    const turn = Array.from({ length: settings.maxReposPerInterval }, (_, i) => all[(start + i) % all.length]!);
    const next = (start + turn.length) % all.length;
    // A lost race means another replica moved it: either way the next turn moves on.
    await store.putDoc(
      GITEA_POLL_CURSOR_KIND,
      hostKey,
      { next },
      { expiresAt: now() + GITEA_POLL_STATE_MS, ...(doc === undefined ? {} : { ifVersion: doc.version }) },
    );
    return turn;
  }

  /** One repository: read, diff, hand the events over, record the state. Answers the events accepted. */
  async function pollRepo(repo: PolledRepo): Promise<number> {
    const key = `${hostKey}/${repo.owner}/${repo.name}`.toLowerCase();
    const doc = await store.getDoc(GITEA_POLL_STATE_KIND, key);
    const previous = doc?.value as GiteaPollState | undefined;
    const branches = await source.listBranches(repo, GITEA_POLL_MAX_PAGES);
    const pulls = await source.listOpenPulls(repo, GITEA_POLL_MAX_PAGES);
    const comments =
      previous === undefined
        ? undefined
        : await source.listCommentsSince(repo, previous.commentsFrom, GITEA_POLL_MAX_PAGES);
    const confirmed: ConfirmedPull[] = [];
    for (const number of pullsToConfirm(previous, pulls, GITEA_POLL_MAX_CONFIRMS)) {
      confirmed.push({ number, pull: await source.readPull(repo, number) });
    }
    const at = now();
    const diff = diffGiteaRepo(
      previous,
      {
        repo,
        branches,
        pulls,
        ...(comments === undefined ? {} : { comments }),
        confirmed,
        at: branches.serverTime ?? at,
      },
      { host, botLogin: opts.botLogin, now: at },
    );
    const log = logger.child({ repo: `${repo.owner}/${repo.name}` });
    if (diff.ignored.length > 0) log.debug({ ignored: diff.ignored }, 'polled changes that are not ours');
    let accepted = 0;
    let stored = true;
    for (const { key: eventKey, intent } of diff.events) {
      const claim = { by: 'poll' as const, deliveryId: intent.deliveryId, now: at };
      if ((await claimGiteaEvent(store, eventKey, claim)) === 'duplicate') continue;
      try {
        await opts.accept(intent);
        accepted++;
        log.info({ deliveryId: intent.deliveryId, intent: intent.kind }, 'an event found by polling Gitea');
      } catch (error) {
        stored = false;
        await releaseGiteaEvent(store, eventKey, claim);
        log.warn(
          { err: error, deliveryId: intent.deliveryId },
          'cannot store an event found by polling; next interval',
        );
        continue;
      }
      // A close makes the next reopen an event again (if this fails, that reopen is taken for a duplicate: logged).
      await freeReopenedClaim(store, intent).catch((err: unknown) =>
        log.warn({ err }, 'cannot free the reopened claim of a closed pull request'),
      );
    }
    // Not advanced past an event that was not stored: the next interval sees the same change again.
    if (stored) {
      await store.putDoc(GITEA_POLL_STATE_KIND, key, diff.state, {
        expiresAt: at + GITEA_POLL_STATE_MS,
        ...(doc === undefined ? {} : { ifVersion: doc.version }),
      });
    }
    return accepted;
  }

  async function poll(): Promise<GiteaPollSummary> {
    const turn = await thisTurn(await enrolment());
    const spentBefore = source.requests();
    let repos = 0;
    let accepted = 0;
    let failed = 0;
    for (const repo of turn) {
      if (source.requests() - spentBefore >= settings.maxRequestsPerInterval) {
        logger.warn({ left: turn.length - repos }, 'Gitea poll: request budget spent; the rest wait a turn');
        break;
      }
      repos++;
      try {
        accepted += await pollRepo(repo);
      } catch (error) {
        failed++;
        logger.warn({ err: error, repo: `${repo.owner}/${repo.name}` }, 'cannot poll a Gitea repository');
      }
    }
    return { repos, accepted, failed };
  }

  return {
    poll,
    async pollIfDue() {
      const at = now();
      const lease = await store.putDoc(GITEA_POLL_LEASE_KIND, hostKey, { at }, { expiresAt: at + opts.intervalMs });
      return lease === undefined ? undefined : poll();
    },
  };
}

/** The configured entries, resolved; or every repository the bot user can see. Each once, in a stable order. */
async function readEnrolment(source: GiteaPollSource, patterns: readonly string[] | undefined): Promise<PolledRepo[]> {
  const found = new Map<string, PolledRepo>();
  const add = (repo: PolledRepo): void => {
    const key = `${repo.owner}/${repo.name}`.toLowerCase();
    if (!found.has(key)) found.set(key, repo);
  };
  if (patterns === undefined) {
    for (const repo of (await source.listBotRepos(GITEA_POLL_MAX_PAGES)).items) add(repo);
  } else {
    for (const pattern of patterns) {
      const [owner = '', name = ''] = pattern.split('/');
      if (name === '*') for (const repo of (await source.listOwnerRepos(owner, GITEA_POLL_MAX_PAGES)).items) add(repo);
      else {
        const repo = await source.readRepo(owner, name);
        if (repo !== undefined) add(repo);
      }
    }
  }
  return [...found.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, repo]) => repo);
}
