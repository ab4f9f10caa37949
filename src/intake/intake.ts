/**
 * Intake: an Intent from the inbox → runs. Reads the workflows at the SHA in as few forge requests as the Forge
 * allows, plans them with the same pure `planWorkflows` as `spotcheck plan`, and starts one run per matched workflow
 * with a deterministic run id (so processing an intent twice starts nothing new). Invalid workflow files become a
 * failed commit status, never silently dropped. Authorization and the `!testme` head rule follow docs/architecture.md
 * "Security model".
 */
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { Authorizer } from './authorize.ts';
import { oneLine, shortSha } from '../core/render/format.ts';
import type { GithubContextInput } from '../core/github-context.ts';
import { planWorkflows, type WorkflowDecision } from '../core/plan-workflows.ts';
import type { Diagnostic, EventName, RepoRef, TriggerEvent, WorkflowSource } from '../core/types.ts';
import type { Limits } from '../config.ts';
import type { Forge } from '../forges/forge.ts';
import {
  isZeroSha,
  type ForgeInstallation,
  type ForgeLookup,
  type OrderIntent,
  type PullRequestIntent,
  type PushIntent,
  type TestmeIntent,
} from './intents.ts';
import type { Orchestrator } from '../orchestrator.ts';
import type { Store } from '../store/store.ts';
import { joinUrl } from '../core/url.ts';

export const PR_HEAD_KIND = 'pr-head';
export const PR_NOTICE_KIND = 'pr-notice';

/** The PR head as the bot last saw it; `at`: the pull request's `updated_at` when the head became this SHA. */
export type PrHeadRecord = {
  readonly sha: string;
  readonly at: number;
};

export type Notices = (install: ForgeInstallation, repo: RepoRef, pr: number, line: string) => Promise<void>;

export interface IntakeOptions {
  readonly forges: ForgeLookup;
  readonly orchestrator: Pick<Orchestrator, 'startRun' | 'cancelRun'>;
  readonly store: Store;
  readonly authorizer: Authorizer;
  readonly config: {
    readonly limits: Pick<Limits, 'maxOrdersPerRun' | 'retentionDays'>;
    readonly publicUrl: string;
  };
  /** A one-line notice in the PR's sticky comment (the reporter's). */
  readonly notices: Notices;
  readonly logger: Logger;
  readonly now?: () => number;
}

export interface Intake {
  process(intent: OrderIntent): Promise<void>;
}

/** Deterministic: one run per delivery and workflow file, whoever processes the delivery and however often. */
export function runIdFor(install: ForgeInstallation, deliveryId: string, file: string): string {
  // Forge and host are part of the key: two forges (or two hosts of one) never share a run id.
  const prefix = install.forge === 'gitea' ? 'gt' : 'gh';
  return `${prefix}-${createHash('sha256')
    .update(`${install.forge}\n${install.host.toLowerCase()}\n${deliveryId}\n${file}`)
    .digest('hex')
    .slice(0, 20)}`;
}

/** Store key of a pull request: forge, host and names (case-insensitive on GitHub and Gitea) and number. */
export function prKey(repo: RepoRef, pr: number): string {
  return `${repo.forge}/${repo.host}/${repo.owner}/${repo.name}#${String(pr)}`.toLowerCase();
}

/** Runs listed per repository when cancelling a PR's runs (running runs of one repository). */
const LIST_LIMIT = 500;

export function createIntake(options: IntakeOptions): Intake {
  const { store, orchestrator, authorizer, logger } = options;
  const now = options.now ?? Date.now;
  const retentionMs = options.config.limits.retentionDays * 86_400_000;

  async function startRuns(
    intent: OrderIntent,
    decisions: readonly WorkflowDecision[],
    start: { event: EventName; ref: string; sha: string; actor: string; pr?: number },
  ): Promise<number> {
    let created = 0;
    for (const d of decisions) {
      if (d.plan === undefined || d.github === undefined) continue;
      const out = await orchestrator.startRun({
        runId: runIdFor(intent.install, intent.deliveryId, d.file),
        repo: intent.repo,
        plan: d.plan,
        event: start.event,
        ref: start.ref,
        sha: start.sha,
        actor: start.actor,
        github: d.github,
        ...(start.pr === undefined ? {} : { pr: start.pr }),
        ...(intent.install.installationId === undefined ? {} : { installationId: intent.install.installationId }),
      });
      if (out.created) created++;
    }
    return created;
  }

  /** One failed status per invalid file, `spotcheck/<file name>`, with its first error. */
  async function reportDiagnostics(forge: Forge, repo: RepoRef, sha: string, diagnostics: readonly Diagnostic[]) {
    const firstPerFile = new Map<string, Diagnostic>();
    for (const d of diagnostics) if (!firstPerFile.has(d.file)) firstPerFile.set(d.file, d);
    for (const [file, d] of firstPerFile) {
      await forge.setStatus(repo, sha, {
        context: `spotcheck/${file.split('/').pop() ?? file}`,
        state: 'failure',
        // GitHub refuses a status description over 140 characters.
        description: oneLine(`${String(d.line)}:${String(d.col)} ${d.message}`, forge.maxStatusDescription),
        targetUrl: joinUrl(options.config.publicUrl, '/runs'),
      });
    }
  }

  async function cancelPrRuns(repo: RepoRef, pr: number, reason: string, keepSha?: string): Promise<number> {
    const running = await store.listRuns({ repo, status: 'running', limit: LIST_LIMIT });
    let cancelled = 0;
    for (const run of running) {
      if (run.pr !== pr || (keepSha !== undefined && run.sha === keepSha)) continue;
      await orchestrator.cancelRun(run.runId, reason);
      cancelled++;
    }
    return cancelled;
  }

  function contextFor(intent: OrderIntent, extra: Omit<GithubContextInput, 'repository' | 'serverUrl' | 'workflow'>) {
    return {
      ...extra,
      repository: `${intent.repo.owner}/${intent.repo.name}`,
      serverUrl: `https://${intent.repo.host}`,
    };
  }

  async function processPush(intent: PushIntent): Promise<void> {
    const forge = await options.forges.forInstallation(intent.install);
    const sources = await forge.readWorkflows(intent.repo, intent.after);
    if (sources.length === 0) return;
    // A new branch has no base to compare with: the changed files are unknown, which counts as "paths match".
    const changedFiles = isZeroSha(intent.before)
      ? null
      : await forge.changedFiles(intent.repo, intent.before, intent.after);
    const event: TriggerEvent = { kind: 'push', ref: intent.ref, deleted: false, changedFiles };
    const { decisions, diagnostics } = planWorkflows(
      sources,
      event,
      contextFor(intent, {
        event: 'push',
        ref: intent.ref,
        sha: intent.after,
        actor: intent.pusher,
        payload: { ref: intent.ref, before: intent.before, after: intent.after },
      }),
      options.config.limits,
    );
    await reportDiagnostics(forge, intent.repo, intent.after, diagnostics);
    const created = await startRuns(intent, decisions, {
      event: 'push',
      ref: intent.ref,
      sha: intent.after,
      actor: intent.pusher,
    });
    logger.info({ deliveryId: intent.deliveryId, runs: created, invalid: diagnostics.length }, 'push planned');
  }

  /**
   * Records the PR head unless a later one is recorded already. Answers false when this intent is stale (an older
   * event processed late, e.g. after a retry): it must neither run nor cancel the newer head's runs.
   */
  async function recordHead(intent: PullRequestIntent): Promise<boolean> {
    const key = prKey(intent.repo, intent.pr);
    for (let attempt = 0; attempt < 5; attempt++) {
      const existing = await store.getDoc(PR_HEAD_KIND, key);
      const record = existing?.value as PrHeadRecord | undefined;
      // Same head (a reopen, a redelivery): keep the time the head first became this SHA.
      if (record !== undefined && record.sha === intent.headSha) return true;
      if (record !== undefined && record.at > intent.at) return false;
      const value: PrHeadRecord = { sha: intent.headSha, at: intent.at };
      const written = await store.putDoc(PR_HEAD_KIND, key, value, {
        expiresAt: now() + retentionMs,
        ...(existing === undefined ? {} : { ifVersion: existing.version }),
      });
      if (written !== undefined) return true;
    }
    return false;
  }

  /** Says once per PR that an outsider's PR needs a member's `!testme`. Sent before it is remembered: at worst twice. */
  async function noticeOnce(intent: PullRequestIntent, line: string): Promise<void> {
    const key = prKey(intent.repo, intent.pr);
    if ((await store.getDoc(PR_NOTICE_KIND, key)) !== undefined) return;
    await options.notices(intent.install, intent.repo, intent.pr, line);
    await store.putDoc(PR_NOTICE_KIND, key, { at: intent.at }, { expiresAt: now() + retentionMs });
  }

  async function planPullRequest(
    forge: Forge,
    intent: OrderIntent,
    at: { sha: string; pr: number; headRef: string; baseRef: string; actor: string },
    events: readonly ('pull_request' | 'testme')[],
  ): Promise<{ decisions: { event: EventName; decision: WorkflowDecision }[]; diagnostics: Diagnostic[] }> {
    const sources: WorkflowSource[] = await forge.readWorkflows(intent.repo, at.sha);
    if (sources.length === 0) return { decisions: [], diagnostics: [] };
    const changedFiles = await forge.pullRequestFiles(intent.repo, at.pr);
    const ref = `refs/pull/${String(at.pr)}/head`;
    const decisions: { event: EventName; decision: WorkflowDecision }[] = [];
    const diagnostics = new Map<string, Diagnostic>();
    const planned = new Set<string>();
    for (const event of events) {
      const result = planWorkflows(
        sources,
        { kind: event, baseRef: at.baseRef, changedFiles },
        contextFor(intent, {
          event,
          ref,
          sha: at.sha,
          actor: at.actor,
          baseRef: at.baseRef,
          headRef: at.headRef,
          payload: { number: at.pr, pull_request: { number: at.pr, head: { sha: at.sha, ref: at.headRef } } },
        }),
        options.config.limits,
      );
      for (const d of result.diagnostics) diagnostics.set(`${d.file}:${d.line}:${d.col}:${d.message}`, d);
      // A workflow with both triggers runs once, under the first event listed.
      for (const decision of result.decisions) {
        if (decision.plan === undefined || planned.has(decision.file)) continue;
        planned.add(decision.file);
        decisions.push({ event, decision });
      }
    }
    return { decisions, diagnostics: [...diagnostics.values()] };
  }

  async function startPrRuns(
    intent: OrderIntent,
    planned: { event: EventName; decision: WorkflowDecision }[],
    at: { sha: string; pr: number; actor: string },
  ): Promise<number> {
    let created = 0;
    for (const event of ['testme', 'pull_request'] as const) {
      const decisions = planned.filter((p) => p.event === event).map((p) => p.decision);
      created += await startRuns(intent, decisions, {
        event,
        ref: `refs/pull/${String(at.pr)}/head`,
        sha: at.sha,
        actor: at.actor,
        pr: at.pr,
      });
    }
    return created;
  }

  async function processPullRequest(intent: PullRequestIntent): Promise<void> {
    const log = logger.child({ deliveryId: intent.deliveryId, pr: intent.pr });
    if (intent.action === 'closed') {
      const cancelled = await cancelPrRuns(intent.repo, intent.pr, 'the pull request was closed');
      log.info({ cancelled }, 'pull request closed');
      return;
    }
    if (!(await recordHead(intent))) {
      log.info('pull request event superseded by a later head; nothing to do');
      return;
    }
    await cancelPrRuns(intent.repo, intent.pr, `superseded by ${shortSha(intent.headSha)}`, intent.headSha);
    const auth = await authorizer.authorize(intent.install, intent.repo, intent.author, intent.ownerIsOrg);
    if (!auth.allowed) {
      // A failed check is not a "no": say so (and why), and do not remember it, so a later answer can replace it.
      if (auth.undetermined === true) {
        await options.notices(
          intent.install,
          intent.repo,
          intent.pr,
          `This pull request is from @${intent.author}, whose membership of ${auth.org ?? intent.repo.owner} could not be checked (${auth.reason}): a member can comment \`!testme\` to run its workflows.`,
        );
        log.warn({ reason: auth.reason }, 'pull request author not authorized: the membership check failed');
        return;
      }
      const who =
        auth.org !== undefined
          ? `who is not a member of ${auth.org}: a member`
          : `who does not own ${intent.repo.owner}/${intent.repo.name}: @${intent.repo.owner}`;
      await noticeOnce(
        intent,
        `This pull request is from @${intent.author}, ${who} can comment \`!testme\` to run its workflows.`,
      );
      log.info({ reason: auth.reason }, 'pull request author not authorized');
      return;
    }
    const forge = await options.forges.forInstallation(intent.install);
    const at = {
      sha: intent.headSha,
      pr: intent.pr,
      headRef: intent.headRef,
      baseRef: intent.baseRef,
      actor: intent.author,
    };
    const { decisions, diagnostics } = await planPullRequest(forge, intent, at, ['pull_request']);
    await reportDiagnostics(forge, intent.repo, intent.headSha, diagnostics);
    const created = await startPrRuns(intent, decisions, at);
    log.info({ runs: created, invalid: diagnostics.length }, 'pull request planned');
  }

  async function processTestme(intent: TestmeIntent): Promise<void> {
    const log = logger.child({ deliveryId: intent.deliveryId, pr: intent.pr });
    const forge = await options.forges.forInstallation(intent.install);
    // First forge call: the commenter sees at once that the request was taken (docs/architecture.md "Reporting").
    await forge.reactToComment(intent.repo, intent.commentId, 'eyes');
    const refuse = async (why: string): Promise<void> => {
      await options.notices(
        intent.install,
        intent.repo,
        intent.pr,
        `\`!testme\` by @${intent.commenter} was not run: ${why}.`,
      );
      log.info({ why }, '!testme refused');
    };
    const auth = await authorizer.authorize(intent.install, intent.repo, intent.commenter, intent.ownerIsOrg);
    if (!auth.allowed) return refuse(auth.reason);
    const pull = await forge.pullRequest(intent.repo, intent.pr);
    if (pull === undefined || pull.state !== 'open') return refuse('the pull request is not open');
    // The approval is for the head at comment time (docs/architecture.md "Security model"). A recorded head that
    // differs from the current one means a push we have not processed yet; a recorded current head from after the
    // comment means it moved after the comment. Timestamps have one-second precision, so a push in the comment's second
    // counts as after it.
    const record = (await store.getDoc(PR_HEAD_KIND, prKey(intent.repo, intent.pr)))?.value as PrHeadRecord | undefined;
    if (record !== undefined && (record.sha !== pull.headSha || record.at >= intent.commentCreatedAt)) {
      return refuse(
        `the head moved to ${shortSha(pull.headSha)} after the \`!testme\` comment; comment again to run it`,
      );
    }
    const at = {
      sha: pull.headSha,
      pr: intent.pr,
      headRef: pull.headRef,
      baseRef: pull.baseRef,
      actor: intent.commenter,
    };
    const { decisions, diagnostics } = await planPullRequest(forge, intent, at, ['testme', 'pull_request']);
    await reportDiagnostics(forge, intent.repo, pull.headSha, diagnostics);
    const created = await startPrRuns(intent, decisions, at);
    log.info({ runs: created, invalid: diagnostics.length }, '!testme planned');
  }

  return {
    process(intent) {
      switch (intent.kind) {
        case 'push':
          return processPush(intent);
        case 'pull_request':
          return processPullRequest(intent);
        case 'testme':
          return processTestme(intent);
      }
    },
  };
}
