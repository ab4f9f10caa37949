/**
 * Webhook payloads normalised into Intents: what the bot was asked to do, in spotcheck's words, small enough to
 * persist in the inbox. Pure guard clauses (docs/architecture.md "Security model"): anything that is not ours becomes
 * `{ ignore: reason }` and never reaches the inbox, so the handlers make no forge call and answer fast.
 */
import type { EmitterWebhookEvent } from '@octokit/webhooks';
import type { CapacityJobEvent } from '../core/capacity.ts';
import { boundEventPayload, type EventPayload } from '../core/event-payload.ts';
import { PULL_REQUEST_TYPES } from '../core/types.ts';
import type { ForgeKind, PullRequestType, RepoRef } from '../core/types.ts';
import type { Forge } from '../forges/forge.ts';

export interface ForgeInstallation {
  readonly forge: ForgeKind;
  readonly host: string;
  readonly installationId?: number;
}

/** How the shell gets a Forge for an installation (GitHub: `probot.auth(installationId)`). */
export interface ForgeLookup {
  forInstallation(install: ForgeInstallation): Promise<Forge>;
}

/**
 * `at` is when the event happened: the time the delivery was received, except for pull requests, where it is the
 * pull request's `updated_at` (the time of the push, on GitHub's clock, comparable with a comment's `created_at`).
 */
export type Intent = OrderIntent | CapacityIntent;

/** What asks for orders: a push, a pull request event, a `!testme` comment (intake.ts processes these). */
export type OrderIntent =
  | ({
      readonly kind: 'push';
      readonly deliveryId: string;
      readonly at: number;
      readonly install: ForgeInstallation;
      readonly repo: RepoRef;
      readonly ref: string;
      readonly before: string;
      readonly after: string;
      readonly pusher: string;
      readonly ownerIsOrg: boolean;
      /** `repository.private` of the payload (absent in intents stored before it was kept: read as private). */
      readonly repoPrivate?: boolean;
    } & EventFields)
  | ({
      readonly kind: 'pull_request';
      readonly deliveryId: string;
      readonly at: number;
      readonly install: ForgeInstallation;
      readonly repo: RepoRef;
      readonly action: PullRequestAction;
      readonly pr: number;
      readonly headSha: string;
      readonly headRef: string;
      readonly baseRef: string;
      readonly author: string;
      readonly headRepo: string;
      /** `closed` of a merged pull request: its merge commit (`pull_request.merge_commit_sha`), where it runs. */
      readonly mergeSha?: string;
      readonly ownerIsOrg: boolean;
      /** `repository.private` of the payload (absent in intents stored before it was kept: read as private). */
      readonly repoPrivate?: boolean;
      /** A `closed` action's `closed_at` (Gitea, epoch ms): tells one close from the next (gitea-event-keys.ts). */
      readonly closedAt?: number;
    } & EventFields)
  | ({
      readonly kind: 'testme';
      readonly deliveryId: string;
      readonly at: number;
      readonly install: ForgeInstallation;
      readonly repo: RepoRef;
      readonly pr: number;
      readonly commentId: number;
      readonly commenter: string;
      readonly commentCreatedAt: number;
      readonly ownerIsOrg: boolean;
      /** `repository.private` of the payload (absent in intents stored before it was kept: read as private). */
      readonly repoPrivate?: boolean;
    } & EventFields);

/**
 * The webhook payload an order intent keeps for `github.event` (src/core/event-payload.ts: bounded, its essential
 * fields only above 64 KiB). Absent in intents stored before it was kept: intake then builds the few fields it knew.
 */
export interface EventFields {
  readonly event?: EventPayload;
  /** The payload's size in bytes when it was cut to its essential fields (intake logs a warning). */
  readonly eventCutFrom?: number;
}

/** The payload as an intent keeps it. */
export function eventFieldsOf(payload: object): EventFields {
  const bounded = boundEventPayload(payload as EventPayload);
  return { event: bounded.payload, ...(bounded.cutFrom === undefined ? {} : { eventCutFrom: bounded.cutFrom }) };
}

/**
 * What asks for capacity-mode runners (src/capacity/): a `workflow_job` of either forge, or Gitea's push path (a
 * Gitea without `workflow_job` webhooks). Processed by the capacity manager, through the same inbox.
 */
export type CapacityIntent =
  | {
      readonly kind: 'capacity-job';
      readonly deliveryId: string;
      readonly at: number;
      readonly install: ForgeInstallation;
      readonly job: CapacityJobEvent;
    }
  | {
      readonly kind: 'capacity-push';
      readonly deliveryId: string;
      readonly at: number;
      readonly install: ForgeInstallation;
      readonly repo: RepoRef;
      readonly sha: string;
      readonly ref: string;
      readonly changedFiles: readonly string[] | null;
    };

export function isCapacityIntent(intent: Intent): intent is CapacityIntent {
  return intent.kind === 'capacity-job' || intent.kind === 'capacity-push';
}

export type IntentKind = Intent['kind'];
export type PushIntent = Extract<Intent, { kind: 'push' }>;
export type PullRequestIntent = Extract<Intent, { kind: 'pull_request' }>;
export type TestmeIntent = Extract<Intent, { kind: 'testme' }>;

/** What a guard answers: an intent, or why the event is not ours (logged at debug). */
export type IntentResult<T extends Intent = Intent> = T | { readonly ignore: string };

/**
 * Every activity type of GitHub's pull_request event: the intent carries it and the workflow's
 * `on.pull_request.types` decides (default opened, synchronize, reopened); `closed` also cancels the PR's runs.
 */
export const PULL_REQUEST_ACTIONS = PULL_REQUEST_TYPES;
export type PullRequestAction = PullRequestType;

/** The whole comment, once trimmed (docs/architecture.md: a quoted `> !testme` or a fenced one is not a request). */
export const TESTME_COMMAND = '!testme';

export interface IntentContext {
  /** When the delivery was received (epoch ms). */
  readonly now: number;
  /** The app's slug: comments by `<slug>[bot]` are the app's own. */
  readonly appSlug: string;
}

/** Git's null object id: `before` of a new ref, `after` of a deleted one. */
const ZERO_SHA = /^0+$/;

export function isZeroSha(sha: string): boolean {
  return ZERO_SHA.test(sha);
}

interface RepositoryLike {
  readonly name: string;
  readonly private?: boolean;
  readonly html_url: string;
  readonly owner: { readonly login: string; readonly type?: string } | null;
}

/** The repository in our words; the host comes from the repository's own URL, so GitHub Enterprise needs no setting. */
function repoOf(repository: RepositoryLike): { repo: RepoRef; ownerIsOrg: boolean; repoPrivate?: boolean } | undefined {
  if (repository.owner === null) return undefined;
  let host: string;
  try {
    host = new URL(repository.html_url).host.toLowerCase();
  } catch {
    return undefined;
  }
  return {
    repo: { forge: 'github', host, owner: repository.owner.login, name: repository.name },
    ownerIsOrg: repository.owner.type === 'Organization',
    // Internal repositories (GitHub Enterprise) have `private: true` as well, and are treated as private.
    ...(typeof repository.private === 'boolean' ? { repoPrivate: repository.private } : {}),
  };
}

function installOf(repo: RepoRef, installation: { readonly id: number } | undefined): ForgeInstallation {
  return installation === undefined
    ? { forge: 'github', host: repo.host }
    : { forge: 'github', host: repo.host, installationId: installation.id };
}

function timeOf(iso: string | null | undefined, fallback: number): number {
  const ms = iso ? Date.parse(iso) : Number.NaN;
  return Number.isFinite(ms) ? ms : fallback;
}

/** push: a branch or tag got new commits (GitHub docs, "push" webhook event). */
export function toPushIntent(event: EmitterWebhookEvent<'push'>, ctx: IntentContext): IntentResult<PushIntent> {
  const p = event.payload;
  // A deleted branch or tag runs nothing (GitHub Actions does not run push workflows for deletions either).
  if (p.deleted) return { ignore: 'the ref was deleted' };
  if (isZeroSha(p.after)) return { ignore: 'the pushed SHA is all zeros' };
  if (!p.ref.startsWith('refs/heads/') && !p.ref.startsWith('refs/tags/')) {
    return { ignore: `not a branch or tag: ${p.ref}` };
  }
  const where = repoOf(p.repository);
  if (!where) return { ignore: 'the repository has no owner or URL' };
  return {
    kind: 'push',
    deliveryId: event.id,
    at: ctx.now,
    install: installOf(where.repo, p.installation),
    repo: where.repo,
    ref: p.ref,
    before: p.before,
    after: p.after,
    // `github.actor` in GitHub Actions is the account that pushed: the sender's login (pusher.name is the git name).
    pusher: p.sender?.login ?? p.pusher.name,
    ownerIsOrg: where.ownerIsOrg,
    ...(where.repoPrivate === undefined ? {} : { repoPrivate: where.repoPrivate }),
    ...eventFieldsOf(p),
  };
}

export function toPullRequestIntent(
  event: EmitterWebhookEvent<'pull_request'>,
  ctx: IntentContext,
): IntentResult<PullRequestIntent> {
  const p = event.payload;
  const action = PULL_REQUEST_ACTIONS.find((a) => a === p.action);
  if (action === undefined) return { ignore: `pull_request action ${p.action} is not ours` };
  const pr = p.pull_request;
  if (action !== 'closed' && pr.state !== 'open') return { ignore: 'the pull request is not open' };
  const where = repoOf(p.repository);
  if (!where) return { ignore: 'the repository has no owner or URL' };
  return {
    kind: 'pull_request',
    deliveryId: event.id,
    at: timeOf(pr.updated_at, ctx.now),
    // Every variant carries `installation` for an app delivery; the generated types omit it on a few actions.
    install: installOf(where.repo, (p as { installation?: { id: number } }).installation),
    repo: where.repo,
    action,
    pr: pr.number,
    headSha: pr.head.sha,
    headRef: pr.head.ref,
    baseRef: pr.base.ref,
    author: pr.user?.login ?? '',
    // A fork that was deleted leaves `head.repo` null.
    headRepo: pr.head.repo?.full_name ?? '',
    ...(action === 'closed' &&
    pr.merged === true &&
    typeof pr.merge_commit_sha === 'string' &&
    pr.merge_commit_sha !== ''
      ? { mergeSha: pr.merge_commit_sha }
      : {}),
    ownerIsOrg: where.ownerIsOrg,
    ...(where.repoPrivate === undefined ? {} : { repoPrivate: where.repoPrivate }),
    ...eventFieldsOf(p),
  };
}

export function toTestmeIntent(
  event: EmitterWebhookEvent<'issue_comment'>,
  ctx: IntentContext,
): IntentResult<TestmeIntent> {
  const p = event.payload;
  // Only a newly created comment approves: an edit could turn an old comment into `!testme` after a push.
  if (p.action !== 'created') return { ignore: `issue_comment action ${p.action} is not ours` };
  if (!p.issue.pull_request) return { ignore: 'the comment is on an issue, not a pull request' };
  if (p.issue.state !== 'open') return { ignore: 'the pull request is not open' };
  const sender = p.sender;
  if (sender === undefined || sender === null) return { ignore: 'the comment has no sender' };
  if (sender.type === 'Bot') return { ignore: 'the comment is from a bot' };
  if (sender.login.toLowerCase() === `${ctx.appSlug}[bot]`.toLowerCase()) {
    return { ignore: 'the comment is from this app' };
  }
  if (p.comment.body.trim() !== TESTME_COMMAND) return { ignore: 'the comment is not exactly !testme' };
  const where = repoOf(p.repository);
  if (!where) return { ignore: 'the repository has no owner or URL' };
  return {
    kind: 'testme',
    deliveryId: event.id,
    at: ctx.now,
    install: installOf(where.repo, p.installation),
    repo: where.repo,
    pr: p.issue.number,
    commentId: p.comment.id,
    commenter: p.comment.user?.login ?? sender.login,
    commentCreatedAt: timeOf(p.comment.created_at, ctx.now),
    ownerIsOrg: where.ownerIsOrg,
    ...(where.repoPrivate === undefined ? {} : { repoPrivate: where.repoPrivate }),
    ...eventFieldsOf(p),
  };
}
