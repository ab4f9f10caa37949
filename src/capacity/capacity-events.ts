/**
 * `workflow_job` payloads of both forges → CapacityJobEvent. GitHub's shape: the webhook reference ("workflow_job":
 * `action`, `workflow_job.{id, run_id, labels, status, runner_name}`, `repository`, `installation`). Gitea's
 * (modules/structs/hook.go `WorkflowJobPayload`: `action`, `workflow_job` an `ActionWorkflowJob` with the same field
 * names, `repository`, `sender`; no installation) follows GitHub's on purpose. Defensive: anything unexpected is an
 * `ignore` with the reason, never a throw.
 */
import type { ForgeKind, RepoRef } from '../core/types.ts';
import type { CapacityJobEvent } from './capacity-manager.ts';

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
