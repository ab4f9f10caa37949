/**
 * An Actions job as both forges answer it (Gitea's API mirrors GitHub's `workflow_job` shape: `id`, `run_id`,
 * `labels`, `status`, `runner_name`), mapped to the port's `ForgeJob`. Shared by github-capacity.ts and
 * gitea-capacity.ts, which may not import each other.
 */
import type { ForgeJob } from './forge.ts';

export function record(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
}

export function toForgeJob(raw: unknown): ForgeJob | undefined {
  const job = record(raw);
  if (typeof job.id !== 'number' || typeof job.run_id !== 'number') return undefined;
  const labels = Array.isArray(job.labels) ? job.labels.filter((l): l is string => typeof l === 'string') : [];
  return {
    jobId: job.id,
    runId: job.run_id,
    labels,
    status: typeof job.status === 'string' ? job.status : 'unknown',
    ...(typeof job.runner_name === 'string' && job.runner_name !== '' ? { runnerName: job.runner_name } : {}),
  };
}

/** The queued jobs of one listing page (a job list answer: `{ jobs: [...] }`). */
export function queuedJobsOf(data: unknown): { readonly listed: number; readonly queued: ForgeJob[] } {
  const list = Array.isArray(record(data).jobs) ? (record(data).jobs as unknown[]) : [];
  const queued: ForgeJob[] = [];
  for (const raw of list) {
    const job = toForgeJob(raw);
    if (job?.status === 'queued') queued.push(job);
  }
  return { listed: list.length, queued };
}

/** Bounded listing: a reconcile reads at most this many pages of queued runs or jobs per repository per pass. */
export const MAX_QUEUED_PAGES = 3;
