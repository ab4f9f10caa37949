/**
 * Gitea webhook payloads normalised into the same Intents as GitHub's (src/intake/intents.ts), so the inbox and the intake
 * never learn which forge spoke. Pure: a payload in, an Intent or `{ ignore: reason }` out, never a throw. Gitea's
 * payloads are typed by nothing we can import, so every field is checked before it is read; an unexpected shape is
 * ignored with a reason that names the field (Gitea shows the answer in the webhook's delivery log).
 *
 * Shapes follow Gitea's webhook structs (go-gitea/gitea `modules/structs/hook.go`: PushPayload, DeletePayload,
 * PullRequestPayload, IssueCommentPayload) and the event names of `modules/webhook/type.go`.
 */
import type { RepoRef } from '../core/types.ts';
import {
  eventFieldsOf,
  isZeroSha,
  TESTME_COMMAND,
  type ForgeInstallation,
  type IntentResult,
  type PullRequestAction,
  type PullRequestIntent,
  type PushIntent,
  type TestmeIntent,
} from './intents.ts';

export interface GiteaIntentContext {
  /** `X-Gitea-Delivery`. */
  readonly deliveryId: string;
  /** When the delivery was received (epoch ms). */
  readonly now: number;
  /** The Gitea host from `GITEA_URL` (`gitea.example.org`, `localhost:3000`): Gitea payloads carry no trusted one. */
  readonly host: string;
  /** The bot user's login: its own comments are never a request. */
  readonly botLogin: string;
}

/**
 * Gitea's actions of its `pull_request` event (HookIssueAction in hook.go), in GitHub's words: Gitea says
 * `synchronized` where GitHub says `synchronize`. (Gitea sends label, assignment and milestone changes as separate
 * `pull_request_label`/`_assign`/`_milestone` events, which spotcheck does not subscribe to.)
 */
const GITEA_PULL_REQUEST_ACTIONS = {
  opened: 'opened',
  reopened: 'reopened',
  synchronized: 'synchronize',
  closed: 'closed',
  edited: 'edited',
} as const satisfies Record<string, PullRequestAction>;

/** A git object id: SHA-1 (40 hex) or SHA-256 (64 hex; Gitea supports both object formats). */
const OBJECT_ID = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/i;

type Json = Readonly<Record<string, unknown>>;

function objectOf(value: unknown): Json | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : undefined;
}

function stringOf(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function positiveIntOf(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0 ? value : undefined;
}

/** A Gitea `User`: `login`, with `username` (a legacy alias Gitea still sends) when `login` is absent. */
function loginOf(user: unknown): string | undefined {
  const u = objectOf(user);
  return u === undefined ? undefined : (stringOf(u['login']) ?? stringOf(u['username']));
}

function timeOf(value: unknown, fallback: number): number {
  const ms = typeof value === 'string' ? Date.parse(value) : Number.NaN;
  return Number.isFinite(ms) ? ms : fallback;
}

interface Where {
  readonly install: ForgeInstallation;
  readonly repo: RepoRef;
  readonly ownerIsOrg: boolean;
  /** `repository.private` (or `internal`: readable only by the instance's users), when the payload says. */
  readonly repoPrivate?: boolean;
}

/**
 * The repository in our words. The host is the configured one, not the payload's `html_url` (Gitea builds that from
 * its ROOT_URL, which a proxy may rewrite). `ownerIsOrg` is false: Gitea's `User` (the repository owner) has no
 * `type` field in any version (see the API description's `User` definition), so an org cannot be told apart from a
 * person here.
 */
function whereOf(payload: Json, ctx: GiteaIntentContext): Where | string {
  const repository = objectOf(payload['repository']);
  if (repository === undefined) return 'the payload has no repository';
  const owner = loginOf(repository['owner']);
  if (owner === undefined) return 'the repository has no owner login';
  const name = stringOf(repository['name']);
  if (name === undefined) return 'the repository has no name';
  const host = ctx.host.toLowerCase();
  return {
    install: { forge: 'gitea', host },
    repo: { forge: 'gitea', host, owner, name },
    ownerIsOrg: false,
    ...(typeof repository['private'] === 'boolean'
      ? { repoPrivate: repository['private'] || repository['internal'] === true }
      : {}),
  };
}

/**
 * `event` is `X-Gitea-Event-Type` (falling back to `X-Gitea-Event` for Gitea versions that send only that). Event
 * types per `modules/webhook/type.go`: `pull_request_sync` carries the `synchronized` action, and
 * `pull_request_comment` is a comment on a pull request (its `X-Gitea-Event` is `issue_comment`).
 */
export function toGiteaIntent(event: string, payload: unknown, ctx: GiteaIntentContext): IntentResult {
  const p = objectOf(payload);
  if (p === undefined) return { ignore: 'the payload is not a JSON object' };
  switch (event) {
    case 'push':
      return toGiteaPushIntent(p, ctx);
    case 'delete':
      return { ignore: deleteReason(p) };
    case 'create':
      // Gitea sends a push for the new ref as well; that push is what runs.
      return { ignore: 'a create event: the push for the new ref is what runs' };
    case 'pull_request':
    case 'pull_request_sync':
      return toGiteaPullRequestIntent(p, ctx);
    case 'issue_comment':
    case 'pull_request_comment':
      return toGiteaTestmeIntent(event, p, ctx);
    default:
      return { ignore: `the ${event} event is not ours` };
  }
}

/** How Gitea reports a deleted branch or tag (DeletePayload: `ref` is the short name, `ref_type` branch or tag). */
function deleteReason(p: Json): string {
  const ref = stringOf(p['ref']);
  const refType = stringOf(p['ref_type']);
  // A deleted ref runs nothing (GitHub Actions does not run push workflows for deletions either).
  return ref === undefined ? 'a ref was deleted' : `the ${refType ?? 'ref'} ${ref} was deleted`;
}

function toGiteaPushIntent(p: Json, ctx: GiteaIntentContext): IntentResult<PushIntent> {
  const ref = stringOf(p['ref']);
  const before = stringOf(p['before']);
  const after = stringOf(p['after']);
  if (ref === undefined || before === undefined || after === undefined) {
    return { ignore: 'the push has no ref, before or after' };
  }
  // A zero `after` is a deletion; Gitea reports those as `delete` events too, but a push hook may still carry one.
  if (isZeroSha(after)) return { ignore: 'the pushed SHA is all zeros (the ref was deleted)' };
  if (!OBJECT_ID.test(after) || !OBJECT_ID.test(before)) return { ignore: 'before or after is not a commit id' };
  if (!ref.startsWith('refs/heads/') && !ref.startsWith('refs/tags/')) return { ignore: `not a branch or tag: ${ref}` };
  // `commits` holds at most 5 entries (Gitea's default [webhook] PAYLOAD_COMMIT_LIMIT): it is not read; the intake
  // asks the compare API for the changed files. Its shape is still checked, as a sign the payload is Gitea's.
  if (p['commits'] !== undefined && p['commits'] !== null && !Array.isArray(p['commits'])) {
    return { ignore: 'the push commits are not a list' };
  }
  const where = whereOf(p, ctx);
  if (typeof where === 'string') return { ignore: where };
  const pusher = loginOf(p['pusher']) ?? loginOf(p['sender']);
  if (pusher === undefined) return { ignore: 'the push has no pusher login' };
  return {
    kind: 'push',
    deliveryId: ctx.deliveryId,
    at: ctx.now,
    ...where,
    ref,
    before: before.toLowerCase(),
    after: after.toLowerCase(),
    pusher,
    ...eventFieldsOf(p),
  };
}

function toGiteaPullRequestIntent(p: Json, ctx: GiteaIntentContext): IntentResult<PullRequestIntent> {
  const giteaAction = stringOf(p['action']) ?? '';
  const action = Object.hasOwn(GITEA_PULL_REQUEST_ACTIONS, giteaAction)
    ? GITEA_PULL_REQUEST_ACTIONS[giteaAction as keyof typeof GITEA_PULL_REQUEST_ACTIONS]
    : undefined;
  if (action === undefined) return { ignore: `pull_request action ${giteaAction || '(none)'} is not ours` };
  const pr = objectOf(p['pull_request']);
  if (pr === undefined) return { ignore: 'the payload has no pull_request' };
  const number = positiveIntOf(p['number']) ?? positiveIntOf(pr['number']);
  if (number === undefined) return { ignore: 'the pull request has no number' };
  if (action !== 'closed' && pr['state'] !== 'open') return { ignore: 'the pull request is not open' };
  const head = objectOf(pr['head']);
  const base = objectOf(pr['base']);
  const headSha = stringOf(head?.['sha']);
  const headRef = stringOf(head?.['ref']);
  const baseRef = stringOf(base?.['ref']);
  if (headSha === undefined || !OBJECT_ID.test(headSha)) return { ignore: 'the pull request head has no commit id' };
  if (headRef === undefined || baseRef === undefined) return { ignore: 'the pull request has no head or base ref' };
  const where = whereOf(p, ctx);
  if (typeof where === 'string') return { ignore: where };
  const closedAt = action === 'closed' ? timeOf(pr['closed_at'], Number.NaN) : Number.NaN;
  return {
    kind: 'pull_request',
    deliveryId: ctx.deliveryId,
    // The time of the change on Gitea's clock, comparable with a comment's `created_at` (see Intent's `at`).
    at: timeOf(pr['updated_at'], ctx.now),
    ...where,
    action,
    pr: number,
    headSha: headSha.toLowerCase(),
    headRef,
    baseRef,
    author: loginOf(pr['user']) ?? '',
    // A deleted fork leaves `head.repo` null.
    headRepo: stringOf(objectOf(head?.['repo'])?.['full_name']) ?? '',
    ...mergeShaOf(action, pr),
    ...eventFieldsOf(p),
    ...(Number.isFinite(closedAt) ? { closedAt } : {}),
  };
}

/** A merged pull request's `closed`: its merge commit (Gitea's PullRequest has `merged` and `merge_commit_sha`). */
function mergeShaOf(action: PullRequestAction, pr: Json): { mergeSha?: string } {
  const sha = stringOf(pr['merge_commit_sha']);
  return action === 'closed' && pr['merged'] === true && sha !== undefined && OBJECT_ID.test(sha)
    ? { mergeSha: sha.toLowerCase() }
    : {};
}

/**
 * Gitea system users have negative ids (models/user/user_system.go: -1 Ghost, a deleted account; -2 gitea-actions,
 * Gitea Actions' own bot). Gitea's API `User` has no type field to mark other bots, so the bot's own login is the
 * other check.
 */
function isSystemUser(user: unknown): boolean {
  const id = objectOf(user)?.['id'];
  return typeof id === 'number' && id < 0;
}

function toGiteaTestmeIntent(event: string, p: Json, ctx: GiteaIntentContext): IntentResult<TestmeIntent> {
  const action = stringOf(p['action']) ?? '';
  // Only a newly created comment approves: an edit could turn an old comment into `!testme` after a push.
  if (action !== 'created') return { ignore: `issue_comment action ${action || '(none)'} is not ours` };
  const issue = objectOf(p['issue']);
  const comment = objectOf(p['comment']);
  if (issue === undefined || comment === undefined) return { ignore: 'the payload has no issue or comment' };
  // Any of the three says "a pull request": the event type (Gitea ≥ 1.17), `is_pull`, or the issue's
  // `pull_request` meta; newer Gitea adds a top-level `pull_request` too. Older payloads lack one or the other.
  const onPull =
    event === 'pull_request_comment' ||
    p['is_pull'] === true ||
    objectOf(issue['pull_request']) !== undefined ||
    objectOf(p['pull_request']) !== undefined;
  if (!onPull) return { ignore: 'the comment is on an issue, not a pull request' };
  if (issue['state'] !== 'open') return { ignore: 'the pull request is not open' };
  const commenter = loginOf(comment['user']) ?? loginOf(p['sender']);
  if (commenter === undefined) return { ignore: 'the comment has no author' };
  const bot = ctx.botLogin.toLowerCase();
  const sender = loginOf(p['sender']);
  if (commenter.toLowerCase() === bot || sender?.toLowerCase() === bot)
    return { ignore: 'the comment is from this bot' };
  if (isSystemUser(comment['user']) || isSystemUser(p['sender']))
    return { ignore: 'the comment is from a Gitea system user' };
  if (typeof comment['body'] !== 'string' || comment['body'].trim() !== TESTME_COMMAND) {
    return { ignore: 'the comment is not exactly !testme' };
  }
  const number = positiveIntOf(issue['number']);
  const commentId = positiveIntOf(comment['id']);
  if (number === undefined || commentId === undefined) return { ignore: 'the issue or comment has no number' };
  const where = whereOf(p, ctx);
  if (typeof where === 'string') return { ignore: where };
  return {
    kind: 'testme',
    deliveryId: ctx.deliveryId,
    at: ctx.now,
    ...where,
    pr: number,
    commentId,
    commenter,
    commentCreatedAt: timeOf(comment['created_at'], ctx.now),
    ...eventFieldsOf(p),
  };
}
