/**
 * `workflow_job` payloads of both forges → CapacityJobEvent. GitHub's shape: the webhook reference ("workflow_job":
 * `action`, `workflow_job.{id, run_id, labels, status, runner_name}`, `repository`, `installation`). Gitea's
 * (modules/structs/hook.go `WorkflowJobPayload`: `action`, `workflow_job` an `ActionWorkflowJob` with the same field
 * names, `repository`, `sender`; no installation) follows GitHub's on purpose. Defensive: anything unexpected is an
 * `ignore` with the reason, never a throw.
 *
 * The guards (`toCapacityJobIntent`, `toCapacityPushIntent`) are pure, like intents.ts: what is not ours (an action
 * that needs nothing, labels no capacity route claims) is answered at once and never reaches the inbox, so a forge's
 * many hosted-runner jobs cost no store write.
 */
import type { Route } from '../../runners/runner.ts';
import type { CapacityJobEvent } from '../core/capacity.ts';
import { parseRef } from '../core/workflow/triggers.ts';
import type { ForgeKind, RepoRef } from '../core/types.ts';
import type { CapacityIntent, ForgeInstallation, IntentResult } from './intents.ts';
import { decideCapacity } from '../core/capacity.ts';

const ACTIONS = ['queued', 'waiting', 'in_progress', 'completed'] as const;

function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

export function toCapacityJobEvent(
  forge: ForgeKind,
  host: string,
  payload: unknown,
): CapacityJobEvent | { readonly ignore: string } {
  const body = record(payload);
  const job = record(body?.workflow_job);
  const repository = record(body?.repository);
  const owner = record(repository?.owner);
  const action = body?.action;
  if (!(ACTIONS as readonly unknown[]).includes(action)) return { ignore: `workflow_job action ${String(action)}` };
  if (job === undefined || typeof job.id !== 'number' || typeof job.run_id !== 'number')
    return { ignore: 'workflow_job without a job id' };
  const login = owner?.login ?? owner?.username;
  if (typeof repository?.name !== 'string' || typeof login !== 'string') return { ignore: 'no repository' };
  if (!Array.isArray(job.labels) || !job.labels.every((l) => typeof l === 'string'))
    return { ignore: 'workflow_job without labels' };
  const repo: RepoRef = { forge, host: host.toLowerCase(), owner: login, name: repository.name };
  const installation = record(body?.installation)?.id;
  const runnerName = job.runner_name;
  return {
    action: action as CapacityJobEvent['action'],
    repo,
    ...(forge === 'github' && typeof installation === 'number' ? { installationId: installation } : {}),
    jobId: job.id,
    runId: job.run_id,
    labels: job.labels,
    ...(typeof runnerName === 'string' && runnerName !== '' ? { runnerName } : {}),
  };
}

export interface CapacityIntentContext {
  readonly forge: 'github' | 'gitea';
  readonly host: string;
  readonly deliveryId: string;
  /** When the delivery was received (epoch ms). */
  readonly now: number;
  readonly routes: ReadonlyMap<string, Route>;
}

function installOf(ctx: CapacityIntentContext, installationId: number | undefined): ForgeInstallation {
  const host = ctx.host.toLowerCase();
  return installationId === undefined ? { forge: ctx.forge, host } : { forge: ctx.forge, host, installationId };
}

/** A `workflow_job` delivery → the intent the capacity manager processes, or why it needs nothing. */
export function toCapacityJobIntent(
  payload: unknown,
  ctx: CapacityIntentContext,
): IntentResult<Extract<CapacityIntent, { kind: 'capacity-job' }>> {
  const job = toCapacityJobEvent(ctx.forge, ctx.host, payload);
  if ('ignore' in job) return job;
  if (job.action === 'waiting') return { ignore: 'the job waits for an approval or a concurrency group' };
  if (job.action === 'queued') {
    const decision = decideCapacity(job.labels, ctx.routes);
    if (decision.kind !== 'launch') return { ignore: decision.reason };
  }
  return {
    kind: 'capacity-job',
    deliveryId: ctx.deliveryId,
    at: ctx.now,
    install: installOf(ctx, job.installationId),
    job,
  };
}

const ZERO_SHA = /^0+$/;

/** Gitea's push path (a Gitea without `workflow_job`): a branch or tag push → one runner per matched job, later. */
export function toCapacityPushIntent(
  payload: unknown,
  ctx: CapacityIntentContext,
): IntentResult<Extract<CapacityIntent, { kind: 'capacity-push' }>> {
  const body = record(payload);
  const repository = record(body?.repository);
  const owner = record(repository?.owner)?.login;
  const ref = body?.ref;
  const after = body?.after;
  if (typeof repository?.name !== 'string' || typeof owner !== 'string') return { ignore: 'no repository' };
  if (typeof ref !== 'string' || parseRef(ref) === undefined || typeof after !== 'string' || ZERO_SHA.test(after))
    return { ignore: 'not a branch or tag push' };
  return {
    kind: 'capacity-push',
    deliveryId: ctx.deliveryId,
    at: ctx.now,
    install: installOf(ctx, undefined),
    repo: { forge: ctx.forge, host: ctx.host.toLowerCase(), owner, name: repository.name },
    sha: after,
    ref,
    changedFiles: changedFilesOf(body ?? {}),
  };
}

/**
 * The push's changed paths from its commits (added, removed, modified), or null when the payload cannot tell: Gitea
 * lists at most [webhook] PAYLOAD_COMMIT_LIMIT commits, so a longer push counts as "paths match" (docs/architecture.md).
 */
function changedFilesOf(payload: Record<string, unknown>): string[] | null {
  const commits = payload.commits;
  const total = payload.total_commits;
  if (!Array.isArray(commits) || (typeof total === 'number' && total > commits.length) || commits.length === 0)
    return null;
  const files = new Set<string>();
  for (const commit of commits as Record<string, unknown>[])
    for (const key of ['added', 'removed', 'modified'])
      for (const path of Array.isArray(commit[key]) ? (commit[key] as unknown[]) : [])
        if (typeof path === 'string') files.add(path);
  return [...files];
}
