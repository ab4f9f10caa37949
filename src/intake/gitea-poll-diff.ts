/**
 * The Gitea poll's decision, pure: what one repository looked like last time (its state), what it looks like now
 * (a snapshot of branch heads, open pull requests and recent comments) → the events to run and the next state.
 *
 * The events are written as the webhook payloads Gitea would have sent and go through the same `toGiteaIntent` as a
 * delivery, so every guard of the webhook path (a deleted ref, the bot's own comment, Gitea's system users, exactly
 * `!testme`, an open pull request) holds for the poll too; the intake then authorizes as always.
 *
 * - A branch whose head moved: a push, `before` the head seen last time. A branch not seen before: a push of a new
 *   branch (`before` all zeros), but only when the listing was complete (a cut-short listing may just have shown a
 *   branch it left out last time).
 * - An open pull request whose head moved: `synchronized`; one not seen before and created since the last poll:
 *   `opened`.
 * - A pull request seen open last time and not listed now is a candidate: the poll reads it by number (the
 *   snapshot's `confirmed`, a few per interval, `pullsToConfirm`), whether or not the listing was complete (a cut-short
 *   listing, or one read while it was updated, may just have left it out). Read closed: `closed` (merged or not), and
 *   it is remembered among the recently closed; read open: it stays; gone (404): it is forgotten. A candidate not read
 *   yet stays a candidate.
 * - A recently closed pull request listed (or read) open again: `reopened`, as the webhook says it.
 * - A comment created since the last poll on an open pull request: a `created` comment.
 * - No state (the first poll of a repository, or after it expired): the state is recorded and nothing runs, so
 *   enabling the poll never floods the runners with every branch and pull request.
 */
import { createHash } from 'node:crypto';
import type {
  PolledBranch,
  PolledComment,
  PolledPull,
  PolledPullState,
  PolledRepo,
  Listing,
} from '../forges/gitea-poll-source.ts';
import { toGiteaIntent } from './gitea-intents.ts';
import { giteaEventKey } from './gitea-event-keys.ts';
import type { OrderIntent } from './intents.ts';

/** What the poll remembers of a repository between intervals (a store document). */
export type GiteaPollState = {
  /** Branch name → head SHA. */
  readonly branches: Readonly<Record<string, string>>;
  /** Open pull request number → head SHA. */
  readonly pulls: Readonly<Record<string, string>>;
  /**
   * Recently closed pull request number → its `closed_at` (newest last, GITEA_POLL_CLOSED_MAX_ENTRIES at most): one
   * seen open again is `reopened`. Absent in states written before closes were seen.
   */
  readonly closed?: Readonly<Record<string, number>>;
  /** Gitea's clock: comments created from here on are new (the next listing's `since`). */
  readonly commentsFrom: number;
  /** Gitea's clock at the last poll. */
  readonly polledAt: number;
};

export interface GiteaRepoSnapshot {
  readonly repo: PolledRepo;
  readonly branches: Listing<PolledBranch>;
  readonly pulls: Listing<PolledPull>;
  /** Absent on a first poll (nothing to list from). */
  readonly comments?: Listing<PolledComment>;
  /** The candidates of `pullsToConfirm`, read by number; `pull` undefined when Gitea has none (404). */
  readonly confirmed?: readonly ConfirmedPull[];
  /** Gitea's clock when the snapshot was read (its `Date` header, else ours). */
  readonly at: number;
}

export interface ConfirmedPull {
  readonly number: number;
  readonly pull: PolledPullState | undefined;
}

export interface GiteaPollContext {
  /** The Gitea host from `GITEA_URL`. */
  readonly host: string;
  readonly botLogin: string;
  /** Our clock, the intents' `at` where Gitea gives no time. */
  readonly now: number;
}

export interface PolledEvent {
  /** The event's key (gitea-event-keys.ts), shared with the webhook path. */
  readonly key: string;
  readonly intent: OrderIntent;
}

export interface GiteaPollDiff {
  readonly events: readonly PolledEvent[];
  /** Why a change seen did not become an event (the webhook path's reasons), for the debug log. */
  readonly ignored: readonly string[];
  readonly state: GiteaPollState;
}

/**
 * How far back each listing reaches past the previous one: a comment committed while the previous listing was being
 * read, and the second-precision timestamps, are not missed. What is seen twice is dropped by its event key.
 */
export const GITEA_POLL_OVERLAP_MS = 60_000;

/** Entries a state keeps at most per map, whatever the listings: the document stays small. */
export const GITEA_POLL_STATE_MAX_ENTRIES = 1000;

/** Recently closed pull requests a state remembers (a reopen of an older one is not seen: nothing runs). */
export const GITEA_POLL_CLOSED_MAX_ENTRIES = 100;

const ZERO_SHA = '0'.repeat(40);

/**
 * The pull requests to read by number this interval: open last time, not listed open now (`max` at most, those
 * recorded longest ago first; the rest wait). None on a first poll.
 */
export function pullsToConfirm(
  previous: GiteaPollState | undefined,
  listed: Listing<PolledPull>,
  max: number,
): number[] {
  if (previous === undefined) return [];
  const open = new Set(listed.items.map((p) => String(p.number)));
  return Object.keys(previous.pulls)
    .filter((n) => !open.has(n))
    .slice(0, max)
    .map(Number);
}

export function diffGiteaRepo(
  previous: GiteaPollState | undefined,
  snapshot: GiteaRepoSnapshot,
  ctx: GiteaPollContext,
): GiteaPollDiff {
  const state = nextState(previous, snapshot);
  if (previous === undefined) return { events: [], ignored: [], state };
  const results = [
    ...pushes(previous, snapshot, ctx),
    ...closes(previous, snapshot, ctx),
    ...pulls(previous, snapshot, ctx),
    ...comments(previous, snapshot, ctx),
  ];
  const events: PolledEvent[] = [];
  const ignored: string[] = [];
  for (const result of results) {
    if ('ignore' in result) {
      ignored.push(result.ignore);
      continue;
    }
    const key = giteaEventKey(result);
    if (key === undefined) ignored.push(`the ${result.kind} has no event key`);
    else events.push({ key, intent: result });
  }
  return { events, ignored, state };
}

type Result = OrderIntent | { readonly ignore: string };

/** A Gitea `repository` as webhook payloads carry it (what `toGiteaIntent` reads of it). */
function repositoryOf(repo: PolledRepo): Readonly<Record<string, unknown>> {
  return {
    owner: { login: repo.owner },
    name: repo.name,
    full_name: `${repo.owner}/${repo.name}`,
    private: repo.private,
  };
}

/**
 * The poll's delivery id: one per event, the same each time it is seen (so the inbox keeps one intent per event), and
 * short whatever the branch name.
 */
function deliveryIdOf(kind: string, ...parts: readonly (string | number)[]): string {
  const digest = createHash('sha256').update(parts.map(String).join('\n')).digest('hex');
  return `poll-${kind}-${digest.slice(0, 32)}`;
}

/** Only intents of the orders path come out of the payloads written here. */
function orderResult(event: string, payload: unknown, ctx: GiteaPollContext, deliveryId: string): Result {
  const result = toGiteaIntent(event, payload, { deliveryId, now: ctx.now, host: ctx.host, botLogin: ctx.botLogin });
  if ('ignore' in result) return result;
  if (result.kind === 'push' || result.kind === 'pull_request' || result.kind === 'testme') return result;
  return { ignore: `the ${result.kind} is not an orders event` };
}

function pushes(previous: GiteaPollState, snapshot: GiteaRepoSnapshot, ctx: GiteaPollContext): Result[] {
  const results: Result[] = [];
  for (const branch of snapshot.branches.items) {
    const before = previous.branches[branch.name];
    if (before === branch.sha) continue;
    if (before === undefined && !snapshot.branches.complete) continue;
    const payload = {
      ref: `refs/heads/${branch.name}`,
      before: before ?? ZERO_SHA,
      after: branch.sha,
      repository: repositoryOf(snapshot.repo),
      // Who pushed is not in any listing: the head commit's committer stands in (`github.actor`).
      pusher: { login: branch.committer === '' ? snapshot.repo.owner : branch.committer },
    };
    results.push(
      orderResult(
        'push',
        payload,
        ctx,
        deliveryIdOf('push', snapshot.repo.owner, snapshot.repo.name, branch.name, branch.sha),
      ),
    );
  }
  return results;
}

/** The open pull requests: the listed ones, and the candidates read open. */
function openPulls(snapshot: GiteaRepoSnapshot): PolledPull[] {
  const listed = new Set(snapshot.pulls.items.map((p) => p.number));
  const confirmedOpen = (snapshot.confirmed ?? []).flatMap(({ pull }) =>
    pull?.state === 'open' && !listed.has(pull.number) ? [pull] : [],
  );
  return [...snapshot.pulls.items, ...confirmedOpen];
}

/** The candidates read closed (see `pullsToConfirm`). */
function closedPulls(snapshot: GiteaRepoSnapshot): PolledPullState[] {
  return (snapshot.confirmed ?? []).flatMap(({ pull }) => (pull?.state === 'closed' ? [pull] : []));
}

/** A Gitea `pull_request` webhook payload of this pull request. */
function pullPayload(action: string, pull: PolledPull | PolledPullState, repo: PolledRepo): unknown {
  const closed = 'state' in pull && pull.state === 'closed';
  return {
    action,
    number: pull.number,
    pull_request: {
      number: pull.number,
      state: closed ? 'closed' : 'open',
      head: {
        sha: pull.headSha,
        ref: pull.headRef,
        repo: pull.headRepo === '' ? null : { full_name: pull.headRepo },
      },
      base: { ref: pull.baseRef },
      user: { login: pull.author },
      updated_at: new Date(pull.updatedAt).toISOString(),
      ...(closed
        ? {
            merged: pull.merged,
            // Gitea sets `closed_at` on every close; its last change stands in if one ever has none.
            closed_at: new Date(pull.closedAt ?? pull.updatedAt).toISOString(),
          }
        : {}),
    },
    repository: repositoryOf(repo),
  };
}

function pulls(previous: GiteaPollState, snapshot: GiteaRepoSnapshot, ctx: GiteaPollContext): Result[] {
  const { owner, name } = snapshot.repo;
  const results: Result[] = [];
  for (const pull of openPulls(snapshot)) {
    const before = previous.pulls[String(pull.number)];
    if (before === pull.headSha) continue;
    const closedAt = before === undefined ? previous.closed?.[String(pull.number)] : undefined;
    if (closedAt !== undefined) {
      // One reopen per close: the close's time tells this reopen from the next one of the same head.
      const deliveryId = deliveryIdOf('reopened', owner, name, pull.number, closedAt);
      results.push(orderResult('pull_request', pullPayload('reopened', pull, snapshot.repo), ctx, deliveryId));
      continue;
    }
    let action: 'opened' | 'synchronized';
    if (before !== undefined) action = 'synchronized';
    else if (pull.createdAt >= previous.polledAt - GITEA_POLL_OVERLAP_MS) action = 'opened';
    else continue; // reopened after a close not seen, or listed again after a cut-short listing: not new
    const event = action === 'opened' ? 'pull_request' : 'pull_request_sync';
    const deliveryId = deliveryIdOf('pr', owner, name, pull.number, pull.headSha);
    results.push(orderResult(event, pullPayload(action, pull, snapshot.repo), ctx, deliveryId));
  }
  return results;
}

function closes(previous: GiteaPollState, snapshot: GiteaRepoSnapshot, ctx: GiteaPollContext): Result[] {
  const { owner, name } = snapshot.repo;
  return closedPulls(snapshot)
    .filter((pull) => previous.pulls[String(pull.number)] !== undefined)
    .map((pull) =>
      orderResult(
        'pull_request',
        pullPayload('closed', pull, snapshot.repo),
        ctx,
        deliveryIdOf('closed', owner, name, pull.number, pull.closedAt ?? pull.updatedAt),
      ),
    );
}

function comments(previous: GiteaPollState, snapshot: GiteaRepoSnapshot, ctx: GiteaPollContext): Result[] {
  const open = new Set(openPulls(snapshot).map((p) => p.number));
  const results: Result[] = [];
  for (const comment of snapshot.comments?.items ?? []) {
    // Only comments created in the window: an older comment edited since is listed too, and an edit never approves.
    if (comment.createdAt < previous.commentsFrom) continue;
    if (comment.pr === undefined) continue; // on an issue
    // The listing of open pull requests is what says this one is open (a cut-short listing fails closed).
    const payload = {
      action: 'created',
      is_pull: true,
      issue: { number: comment.pr, state: open.has(comment.pr) ? 'open' : 'closed', pull_request: {} },
      comment: {
        id: comment.id,
        body: comment.body,
        user: comment.author === undefined ? null : { login: comment.author.login, id: comment.author.id },
        created_at: new Date(comment.createdAt).toISOString(),
      },
      sender: comment.author === undefined ? null : { login: comment.author.login, id: comment.author.id },
      repository: repositoryOf(snapshot.repo),
    };
    results.push(
      orderResult(
        'pull_request_comment',
        payload,
        ctx,
        deliveryIdOf('comment', snapshot.repo.owner, snapshot.repo.name, comment.id),
      ),
    );
  }
  return results;
}

/**
 * The state after this poll: the heads listed now; branches not listed are dropped when the listing was complete
 * (a deleted branch) and kept when it was cut short (they may just not have been shown). Pull requests not listed
 * are kept until read by number (`pullsToConfirm`): dropped when read closed (then among the recently closed) or
 * gone.
 */
function nextState(previous: GiteaPollState | undefined, snapshot: GiteaRepoSnapshot): GiteaPollState {
  const branches = merged(
    previous?.branches,
    snapshot.branches.complete,
    snapshot.branches.items.map((b) => [b.name, b.sha]),
  );
  const open = openPulls(snapshot);
  const settled = new Set(
    (snapshot.confirmed ?? []).flatMap(({ number, pull }) => (pull?.state === 'open' ? [] : [String(number)])),
  );
  const kept = Object.fromEntries(Object.entries(previous?.pulls ?? {}).filter(([n]) => !settled.has(n)));
  const pulls = merged(
    kept,
    false,
    open.map((p) => [String(p.number), p.headSha]),
  );
  const closedNow = closedPulls(snapshot).map((p): [string, number] => [String(p.number), p.closedAt ?? p.updatedAt]);
  const reopened = new Set(open.map((p) => String(p.number)));
  const closed = new Map(Object.entries(previous?.closed ?? {}).filter(([n]) => !reopened.has(n)));
  for (const [n, at] of closedNow) {
    closed.delete(n);
    closed.set(n, at);
  }
  return {
    branches,
    pulls,
    closed: Object.fromEntries([...closed].slice(-GITEA_POLL_CLOSED_MAX_ENTRIES)),
    commentsFrom: commentsFrom(previous, snapshot),
    polledAt: snapshot.at,
  };
}

function merged(
  previous: Readonly<Record<string, string>> | undefined,
  complete: boolean,
  listed: readonly (readonly [string, string])[],
): Record<string, string> {
  const entries = new Map<string, string>(complete ? [] : Object.entries(previous ?? {}));
  for (const [key, value] of listed) {
    entries.delete(key);
    entries.set(key, value);
  }
  // The listed ones were set last: they are the ones kept when the map is over its bound.
  return Object.fromEntries([...entries].slice(-GITEA_POLL_STATE_MAX_ENTRIES));
}

/**
 * Where the next comment listing starts: a little before now (GITEA_POLL_OVERLAP_MS), or, when this listing was
 * cut short, at the newest comment it reached (Gitea lists oldest first), so the rest is read next time.
 */
function commentsFrom(previous: GiteaPollState | undefined, snapshot: GiteaRepoSnapshot): number {
  const listing = snapshot.comments;
  // A first poll lists no comments: those written from now on are new.
  if (previous === undefined || listing === undefined) return snapshot.at;
  if (listing.complete) return Math.max(previous.commentsFrom, snapshot.at - GITEA_POLL_OVERLAP_MS);
  return Math.max(previous.commentsFrom, ...listing.items.map((c) => c.createdAt));
}
