/**
 * Intake: an Intent from the inbox → runs. Reads the workflows at the SHA in as few forge requests as the Forge
 * allows, plans them with the same pure `planWorkflows` as `spotcheck plan` (through the `planner` it is given: off
 * the server's thread under `serve`, planner.ts), and starts one run per matched workflow with a deterministic run id
 * (so processing an intent twice starts nothing new). Invalid workflow files become a failed commit status, never
 * silently dropped. Authorization and the `!testme` head rule follow docs/architecture.md
 * "Security model".
 *
 * Here: one named function per intent kind. The shared read-plan-start path is in intake-runs.ts, the PR head record
 * in intake-pr-head.ts, the notices in intake-notices.ts.
 */
import type { Logger } from 'pino';
import type { Authorizer } from './authorize.ts';
import type { Limits } from '../config.ts';
import { MAX_EVENT_PAYLOAD_BYTES } from '../core/event-payload.ts';
import { shortSha } from '../core/render/format.ts';
import { DEFAULT_PULL_REQUEST_TYPES } from '../core/types.ts';
import type { TriggerEvent } from '../core/types.ts';
import { resolveWorkflowFolders, type WorkflowFolderSettings } from '../core/workflow/workflow-files.ts';
import type { Forge } from '../forges/forge.ts';
import { forgeCalleeReader } from './read-callees.ts';
import { planInProcess, type Planner } from './planner.ts';
import { pullRequestEvent, pushEvent, testmeEvent } from './run-events.ts';
import { noticeOnce, testmeRefusedNotice, unauthorizedAuthorNotice, type Notices } from './intake-notices.ts';
import { headMovedSinceComment, readHead, recordHead, type PrDocs } from './intake-pr-head.ts';
import {
  cancelPrRuns,
  contextFor,
  planPullRequest,
  pullRequestRef,
  reportDiagnostics,
  startPrRuns,
  startRuns,
  type PullRequestAt,
} from './intake-runs.ts';
import {
  isZeroSha,
  type ForgeLookup,
  type OrderIntent,
  type PullRequestIntent,
  type PushIntent,
  type TestmeIntent,
} from './intents.ts';
import { resolveVars, type VarsSettings } from '../core/vars.ts';
import type { Orchestrator } from '../orchestrator.ts';
import type { Store } from '../store/store.ts';

export { PR_NOTICE_KIND, type Notices } from './intake-notices.ts';
export { PR_HEAD_KIND, prKey, type PrHeadRecord } from './intake-pr-head.ts';
export { runIdFor } from './intake-runs.ts';

export interface IntakeOptions {
  readonly forges: ForgeLookup;
  readonly orchestrator: Pick<Orchestrator, 'startRun' | 'cancelRun'>;
  readonly store: Store;
  readonly authorizer: Authorizer;
  readonly config: {
    readonly limits: Pick<Limits, 'maxOrdersPerRun' | 'retentionDays'>;
    readonly publicUrl: string;
    /** Which folders of a repository hold its workflow files. */
    readonly workflows: WorkflowFolderSettings;
    /** The `vars` context per org and repository; absent: none. */
    readonly vars?: VarsSettings;
  };
  /** A one-line notice in the PR's sticky comment (the reporter's). */
  readonly notices: Notices;
  /** Parses and plans the workflows (the plan worker pool under `serve`); in this thread when unset. */
  readonly planner?: Planner;
  readonly logger: Logger;
  readonly now?: () => number;
}

export interface Intake {
  process(intent: OrderIntent): Promise<void>;
}

/** The options, and where the per-PR documents live (the clock and retention made concrete). */
interface IntakeContext {
  readonly options: IntakeOptions;
  readonly docs: PrDocs;
}

export function createIntake(options: IntakeOptions): Intake {
  const ctx: IntakeContext = {
    options,
    docs: {
      store: options.store,
      now: options.now ?? Date.now,
      retentionMs: options.config.limits.retentionDays * 86_400_000,
    },
  };
  return {
    process(intent) {
      if (intent.eventCutFrom !== undefined)
        options.logger.warn(
          { deliveryId: intent.deliveryId, bytes: intent.eventCutFrom, kept: MAX_EVENT_PAYLOAD_BYTES },
          'webhook payload too large for github.event: its essential fields are kept',
        );
      switch (intent.kind) {
        case 'push':
          return processPush(ctx, intent);
        case 'pull_request':
          return processPullRequest(ctx, intent);
        case 'testme':
          return processTestme(ctx, intent);
      }
    },
  };
}

/** A push: its workflows at the new SHA, filtered by the files the push changed. */
async function processPush({ options }: IntakeContext, intent: PushIntent): Promise<void> {
  const forge = await options.forges.forInstallation(intent.install);
  const folders = resolveWorkflowFolders(options.config.workflows, intent.repo);
  const sources = await forge.readWorkflows(intent.repo, intent.after, folders);
  if (sources.length === 0) return;
  // A new branch has no base to compare with: the changed files are unknown, which counts as "paths match".
  const changedFiles = isZeroSha(intent.before)
    ? null
    : await forge.changedFiles(intent.repo, intent.before, intent.after);
  const event: TriggerEvent = { kind: 'push', ref: intent.ref, deleted: false, changedFiles };
  const [planned] = await (options.planner ?? planInProcess)(
    {
      sources,
      events: [
        {
          event,
          context: contextFor(intent, {
            event: 'push',
            ref: intent.ref,
            sha: intent.after,
            actor: intent.pusher,
            payload: pushEvent(intent),
          }),
        },
      ],
      limits: options.config.limits,
      vars: resolveVars(options.config.vars ?? new Map(), intent.repo),
    },
    forgeCalleeReader(forge, intent.repo, intent.after),
  );
  const { decisions, diagnostics } = planned ?? { decisions: [], diagnostics: [] };
  await reportDiagnostics(forge, options.config.publicUrl, { repo: intent.repo, sha: intent.after }, diagnostics);
  const created = await startRuns(options.orchestrator, intent, decisions, {
    event: 'push',
    ref: intent.ref,
    sha: intent.after,
    actor: intent.pusher,
    // GitHub gives a push's workflows the repository's secrets: the pusher could write to the repository already.
    trust: 'member',
  });
  options.logger.info({ deliveryId: intent.deliveryId, runs: created, invalid: diagnostics.length }, 'push planned');
}

/**
 * A pull request event: closing cancels its runs; a new head supersedes the older head's runs; then, when the author
 * may run workflows, the `pull_request` workflows whose `types` list the action start (by default opened,
 * synchronize, reopened; `closed` runs only where asked for, at the head). An outsider's new head gets a notice.
 */
async function processPullRequest(ctx: IntakeContext, intent: PullRequestIntent): Promise<void> {
  const { options } = ctx;
  const log = options.logger.child({ deliveryId: intent.deliveryId, pr: intent.pr, action: intent.action });
  // GitHub runs a merged pull request's `closed` at the merge commit, on the base branch ("Events that trigger
  // workflows": GITHUB_SHA the merge commit, GITHUB_REF `refs/heads/<base>`); a pull request closed unmerged at its
  // head, as spotcheck runs pull requests (GitHub: the last merge commit of `refs/pull/<n>/merge`).
  const merged = intent.action === 'closed' ? intent.mergeSha : undefined;
  if (intent.action === 'closed') {
    // A retried delivery must not cancel the runs it started at the merge commit the first time.
    const cancelled = await cancelPrRuns(options, intent.repo, intent.pr, 'the pull request was closed', merged);
    log.info({ cancelled }, 'pull request closed');
  } else {
    if (!(await recordHead(ctx.docs, intent))) {
      log.info('pull request event superseded by a later head; nothing to do');
      return;
    }
    await cancelPrRuns(options, intent.repo, intent.pr, `superseded by ${shortSha(intent.headSha)}`, intent.headSha);
  }
  const auth = await options.authorizer.authorize(intent.install, intent.repo, intent.author, intent.ownerIsOrg);
  if (!auth.allowed) {
    // The notice answers new commits; a label, an edit or a close by an outsider's pull request says nothing.
    if (!isNewHead(intent.action)) {
      log.info({ reason: auth.reason }, 'pull request author not authorized; no notice for this action');
      return;
    }
    const notice = unauthorizedAuthorNotice(intent, auth);
    if (notice.once) {
      await noticeOnce(ctx.docs, options.notices, intent, notice.line);
      log.info({ reason: auth.reason }, 'pull request author not authorized');
    } else {
      await options.notices(intent.install, intent.repo, intent.pr, notice.line);
      log.warn({ reason: auth.reason }, 'pull request author not authorized: the membership check failed');
    }
    return;
  }
  const at: PullRequestAt = {
    sha: merged ?? intent.headSha,
    ref: merged === undefined ? pullRequestRef(intent.pr) : `refs/heads/${intent.baseRef}`,
    pr: intent.pr,
    headRef: intent.headRef,
    baseRef: intent.baseRef,
    actor: intent.author,
    // Only an authorized author's pull request gets here.
    trust: 'member',
    event: pullRequestEvent(intent),
  };
  const forge = await options.forges.forInstallation(intent.install);
  const created = await planAndStart(ctx, forge, intent, at, ['pull_request']);
  log.info({ runs: created.runs, invalid: created.invalid }, 'pull request planned');
}

/** GitHub's default `pull_request` activity types: the ones that bring a head to build. */
function isNewHead(action: PullRequestIntent['action']): boolean {
  return (DEFAULT_PULL_REQUEST_TYPES as readonly string[]).includes(action);
}

/**
 * `!testme` by a member: runs the pull request's `testme` and `pull_request` workflows at the head the comment
 * approved; refused (with a notice) for a non-member, a closed pull request, or a head that moved since the comment.
 */
async function processTestme(ctx: IntakeContext, intent: TestmeIntent): Promise<void> {
  const { options } = ctx;
  const log = options.logger.child({ deliveryId: intent.deliveryId, pr: intent.pr });
  const forge = await options.forges.forInstallation(intent.install);
  // First forge call: the commenter sees at once that the request was taken (docs/architecture.md "Reporting").
  await forge.reactToComment(intent.repo, intent.commentId, 'eyes');
  const refuse = async (why: string): Promise<void> => {
    await options.notices(intent.install, intent.repo, intent.pr, testmeRefusedNotice(intent.commenter, why));
    log.info({ why }, '!testme refused');
  };
  const auth = await options.authorizer.authorize(intent.install, intent.repo, intent.commenter, intent.ownerIsOrg);
  if (!auth.allowed) return refuse(auth.reason);
  const pull = await forge.pullRequest(intent.repo, intent.pr);
  if (pull === undefined || pull.state !== 'open') return refuse('the pull request is not open');
  // The approval is for the head at comment time (docs/architecture.md "Security model"): it runs only when a head
  // recorded before the comment is still the head. Otherwise it fails closed and records the current head (from the
  // forge's own answer, its `updated_at` no earlier than the push), so that a comment made from now on can run it.
  const record = await readHead(ctx.docs, intent.repo, intent.pr);
  if (record === undefined || headMovedSinceComment(record, pull.headSha, intent.commentCreatedAt)) {
    await recordHead(ctx.docs, { repo: intent.repo, pr: intent.pr, headSha: pull.headSha, at: pull.updatedAt });
    return refuse(
      record === undefined
        ? `no head of this pull request was seen before the comment; the head is now ${shortSha(pull.headSha)}, comment again to run it`
        : `the head moved to ${shortSha(pull.headSha)} after the \`!testme\` comment; comment again to run it`,
    );
  }
  // The commenter approved the code; whether its runs get members' secrets depends on who wrote it.
  const author = await options.authorizer.authorize(intent.install, intent.repo, pull.author, intent.ownerIsOrg);
  const at: PullRequestAt = {
    sha: pull.headSha,
    ref: pullRequestRef(intent.pr),
    pr: intent.pr,
    headRef: pull.headRef,
    baseRef: pull.baseRef,
    actor: intent.commenter,
    trust: author.allowed ? 'member' : 'approved-outsider',
    event: testmeEvent(intent, pull),
  };
  const created = await planAndStart(ctx, forge, intent, at, ['testme', 'pull_request']);
  log.info({ runs: created.runs, invalid: created.invalid }, '!testme planned');
}

/** The shared pull request path: read and plan at the head, report invalid files, start the runs. */
async function planAndStart(
  { options }: IntakeContext,
  forge: Forge,
  intent: PullRequestIntent | TestmeIntent,
  at: PullRequestAt,
  events: readonly ('pull_request' | 'testme')[],
): Promise<{ readonly runs: number; readonly invalid: number }> {
  const { decisions, diagnostics } = await planPullRequest(
    forge,
    {
      planner: options.planner ?? planInProcess,
      limits: options.config.limits,
      folders: resolveWorkflowFolders(options.config.workflows, intent.repo),
      vars: resolveVars(options.config.vars ?? new Map(), intent.repo),
    },
    intent,
    at,
    events,
  );
  await reportDiagnostics(forge, options.config.publicUrl, { repo: intent.repo, sha: at.sha }, diagnostics);
  const runs = await startPrRuns(options.orchestrator, intent, decisions, at);
  return { runs, invalid: diagnostics.length };
}
