/**
 * `github.event` of the runs an intent starts: the webhook payload the intent kept (src/core/event-payload.ts), or,
 * for intents stored before payloads were kept, the few fields spotcheck knew. A `!testme` run presents a
 * pull_request-shaped event (see `testmeEvent`).
 */
import { boundEventPayload, type EventPayload } from '../core/event-payload.ts';
import type { PullRequestInfo } from '../forges/forge.ts';
import type { PullRequestIntent, PushIntent, TestmeIntent } from './intents.ts';

/** A push's: GitHub's push webhook payload. */
export function pushEvent(intent: PushIntent): EventPayload {
  return intent.event ?? { ref: intent.ref, before: intent.before, after: intent.after };
}

/** A pull request event's: the webhook payload, its `action` in GitHub's word (Gitea says `synchronized`). */
export function pullRequestEvent(intent: PullRequestIntent): EventPayload {
  const known = intent.event ?? {
    number: intent.pr,
    pull_request: {
      number: intent.pr,
      head: { sha: intent.headSha, ref: intent.headRef },
      base: { ref: intent.baseRef },
    },
  };
  return { ...known, action: intent.action };
}

/** The fields of an issue_comment payload that say where and by whom, kept as they are on a `!testme` run. */
const FROM_COMMENT = ['repository', 'organization', 'enterprise', 'installation', 'sender', 'comment'] as const;

/**
 * A `!testme` run's. spotcheck runs `!testme` as the pull request's own workflows (`testme` and `pull_request`) at
 * the head the comment approved, so its runs see what a pull_request workflow reads: `number` and `pull_request`, the
 * pull request as the forge answered when the comment was processed (its `head.sha` is the run's SHA). From the
 * comment's payload come `repository`, `organization`, `installation`, `sender` (the commenter, the run's actor) and
 * `comment` (the `!testme` itself), as an issue_comment workflow would see them. There is no `action`: a `!testme` is
 * no pull request activity. The whole is bounded as a webhook payload is.
 */
export function testmeEvent(intent: TestmeIntent, pull: PullRequestInfo): EventPayload {
  const comment = intent.event ?? {};
  const kept = Object.fromEntries(
    FROM_COMMENT.flatMap((field) => (Object.hasOwn(comment, field) ? [[field, comment[field]]] : [])),
  );
  const pullRequest = pull.payload ?? {
    number: pull.number,
    state: pull.state,
    merged: pull.merged,
    user: { login: pull.author },
    head: { sha: pull.headSha, ref: pull.headRef, repo: { full_name: pull.headRepo } },
    base: { ref: pull.baseRef },
  };
  return boundEventPayload({ ...kept, number: intent.pr, pull_request: pullRequest }).payload;
}
