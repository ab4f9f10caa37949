/**
 * The path every intent kind shares once it is allowed to run: read the workflows at the SHA through the Forge, plan
 * them with the same pure `planWorkflows` as `spotcheck plan` (through intake's `planner`), report invalid files as
 * failed statuses, and start one run per planned workflow with a deterministic run id. Also cancelling a pull
 * request's runs.
 */
import { createHash } from 'node:crypto';
import type { Limits } from '../config.ts';
import { oneLine } from '../core/render/format.ts';
import type { EventPayload } from '../core/event-payload.ts';
import type { GithubContextInput } from '../core/github-context.ts';
import type { WorkflowDecision } from '../core/plan-workflows.ts';
import type { Diagnostic, EventName, RepoRef, RunTrust, WorkflowSource } from '../core/types.ts';
import type { WorkflowFolder } from '../core/workflow/workflow-files.ts';
import type { Forge } from '../forges/forge.ts';
import { forgeCalleeReader } from './read-callees.ts';
import type { Planner } from './planner.ts';
import type { ForgeInstallation, OrderIntent } from './intents.ts';
import type { Orchestrator } from '../orchestrator.ts';
import type { Store } from '../store/store.ts';
import { joinUrl } from '../core/url.ts';

/** Runs listed per repository when cancelling a PR's runs (running runs of one repository). */
const LIST_LIMIT = 500;

/** Planning limits, as the operator configured them. */
export type PlanLimits = Pick<Limits, 'maxOrdersPerRun'>;

/** A workflow planned for a pull request, with the event it runs under. */
export interface PlannedWorkflow {
  readonly event: EventName;
  readonly decision: WorkflowDecision;
}

/** Where a pull request's runs start: its head SHA, number, branches and the user it runs for. */
export interface PullRequestAt {
  readonly sha: string;
  /** The runs' ref: `refs/pull/<n>/head` (`pullRequestRef`), or the base branch for a merged pull request's `closed`. */
  readonly ref: string;
  readonly pr: number;
  readonly headRef: string;
  readonly baseRef: string;
  readonly actor: string;
  /** `member` when the pull request's author is one; `approved-outsider` for a `!testme` on a non-member's. */
  readonly trust: RunTrust;
  /** `github.event` of the runs (src/intake/run-events.ts). */
  readonly event: EventPayload;
}

/** Where a pull request's runs are: its head, as spotcheck builds pull requests (not GitHub's merge ref). */
export function pullRequestRef(pr: number): string {
  return `refs/pull/${String(pr)}/head`;
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

/** The `github` context of an intent's runs: the repository and server from the intent, the rest from the caller. */
export function contextFor(
  intent: OrderIntent,
  extra: Omit<GithubContextInput, 'repository' | 'serverUrl' | 'workflow'>,
): Omit<GithubContextInput, 'workflow'> {
  return {
    ...extra,
    repository: `${intent.repo.owner}/${intent.repo.name}`,
    serverUrl: `https://${intent.repo.host}`,
  };
}

/** Starts one run per planned decision; answers how many were new (a run id seen before starts nothing). */
export async function startRuns(
  orchestrator: Pick<Orchestrator, 'startRun'>,
  intent: OrderIntent,
  decisions: readonly WorkflowDecision[],
  start: { event: EventName; ref: string; sha: string; actor: string; trust: RunTrust; pr?: number },
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
      trust: start.trust,
      ...(intent.repoPrivate === undefined ? {} : { repoPrivate: intent.repoPrivate }),
      github: d.github,
      ...(start.pr === undefined ? {} : { pr: start.pr }),
      ...(intent.install.installationId === undefined ? {} : { installationId: intent.install.installationId }),
    });
    if (out.created) created++;
  }
  return created;
}

/** One failed status per invalid file, `spotcheck/<file name>`, with its first error. */
export async function reportDiagnostics(
  forge: Forge,
  publicUrl: string,
  at: { readonly repo: RepoRef; readonly sha: string },
  diagnostics: readonly Diagnostic[],
): Promise<void> {
  const firstPerFile = new Map<string, Diagnostic>();
  for (const d of diagnostics) if (!firstPerFile.has(d.file)) firstPerFile.set(d.file, d);
  for (const [file, d] of firstPerFile) {
    await forge.setStatus(at.repo, at.sha, {
      context: `spotcheck/${file.split('/').pop() ?? file}`,
      state: 'failure',
      // GitHub refuses a status description over 140 characters.
      description: oneLine(`${String(d.line)}:${String(d.col)} ${d.message}`, forge.maxStatusDescription),
      targetUrl: joinUrl(publicUrl, '/runs'),
    });
  }
}

/** Cancels the running runs of a pull request, except those at `keepSha`; answers how many. */
export async function cancelPrRuns(
  deps: { readonly store: Pick<Store, 'listRuns'>; readonly orchestrator: Pick<Orchestrator, 'cancelRun'> },
  repo: RepoRef,
  pr: number,
  reason: string,
  keepSha?: string,
): Promise<number> {
  const running = await deps.store.listRuns({ repo, status: 'running', limit: LIST_LIMIT });
  let cancelled = 0;
  for (const run of running) {
    if (run.pr !== pr || (keepSha !== undefined && run.sha === keepSha)) continue;
    await deps.orchestrator.cancelRun(run.runId, reason);
    cancelled++;
  }
  return cancelled;
}

/**
 * Reads and plans a pull request's workflows for each event in turn; a workflow with both triggers runs once, under
 * the first event listed. Diagnostics are deduplicated across events.
 */
export async function planPullRequest(
  forge: Forge,
  {
    planner,
    limits,
    folders,
    vars,
  }: {
    readonly planner: Planner;
    readonly limits: PlanLimits;
    readonly folders: readonly WorkflowFolder[];
    readonly vars?: Readonly<Record<string, string>>;
  },
  intent: OrderIntent,
  at: PullRequestAt,
  events: readonly ('pull_request' | 'testme')[],
): Promise<{ decisions: PlannedWorkflow[]; diagnostics: Diagnostic[] }> {
  const sources: WorkflowSource[] = await forge.readWorkflows(intent.repo, at.sha, folders);
  if (sources.length === 0) return { decisions: [], diagnostics: [] };
  const changedFiles = await forge.pullRequestFiles(intent.repo, at.pr);
  const ref = at.ref;
  // A pull_request intent's activity type is matched against `on.pull_request.types`; `!testme` runs at the head,
  // as a new head would (no action: synchronize).
  const action = intent.kind === 'pull_request' ? intent.action : undefined;
  const decisions: PlannedWorkflow[] = [];
  const diagnostics = new Map<string, Diagnostic>();
  const planned = new Set<string>();
  const results = await planner(
    {
      sources,
      events: events.map((event) => ({
        event: {
          kind: event,
          baseRef: at.baseRef,
          changedFiles,
          ...(event === 'pull_request' && action !== undefined ? { action } : {}),
        },
        context: contextFor(intent, {
          event,
          ref,
          sha: at.sha,
          actor: at.actor,
          baseRef: at.baseRef,
          headRef: at.headRef,
          payload: at.event,
        }),
      })),
      limits,
      vars: vars ?? {},
    },
    forgeCalleeReader(forge, intent.repo, at.sha),
  );
  for (const [i, event] of events.entries()) {
    const result = results[i] ?? { decisions: [], diagnostics: [] };
    for (const d of result.diagnostics) diagnostics.set(`${d.file}:${d.line}:${d.col}:${d.message}`, d);
    for (const decision of result.decisions) {
      if (decision.plan === undefined || planned.has(decision.file)) continue;
      planned.add(decision.file);
      decisions.push({ event, decision });
    }
  }
  return { decisions, diagnostics: [...diagnostics.values()] };
}

/** Starts a pull request's planned runs, `testme` ones first, at the PR's head ref. */
export async function startPrRuns(
  orchestrator: Pick<Orchestrator, 'startRun'>,
  intent: OrderIntent,
  planned: readonly PlannedWorkflow[],
  at: Pick<PullRequestAt, 'sha' | 'ref' | 'pr' | 'actor' | 'trust'>,
): Promise<number> {
  let created = 0;
  for (const event of ['testme', 'pull_request'] as const) {
    const decisions = planned.filter((p) => p.event === event).map((p) => p.decision);
    created += await startRuns(orchestrator, intent, decisions, {
      event,
      ref: at.ref,
      sha: at.sha,
      actor: at.actor,
      trust: at.trust,
      pr: at.pr,
    });
  }
  return created;
}
