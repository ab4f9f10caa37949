/**
 * Capacity mode's operations on GitHub (the `capacity` capability of a GitHub Forge), over the installation's Probot
 * octokit: queued jobs (queued runs, then their jobs), one job, a just-in-time runner configuration for one job, and
 * removing a runner. Octokit errors become `ForgeError` (github-client.ts). Endpoints are listed for the contract
 * tests (each checked against the published description and app.yml's permissions, and each called).
 */
import type { ProbotOctokit } from 'probot';
import type { RepoRef } from '../core/types.ts';
import { ForgeError } from '../errors.ts';
import { MAX_QUEUED_PAGES, queuedJobsOf, record, toForgeJob } from './actions-job.ts';
import type { CapacityForge, ForgeJob, RunnerRegistration } from './forge.ts';
import { callGitHub, statusOf, toForgeError } from './github-client.ts';

export const GITHUB_CAPACITY_ENDPOINTS = [
  'GET /repos/{owner}/{repo}/actions/runs',
  'GET /repos/{owner}/{repo}/actions/runs/{run_id}/jobs',
  'GET /repos/{owner}/{repo}/actions/jobs/{job_id}',
  'POST /repos/{owner}/{repo}/actions/runners/generate-jitconfig',
  'DELETE /repos/{owner}/{repo}/actions/runners/{runner_id}',
] as const;

/** GitHub's default runner group (id 1) on repositories ("generate-jitconfig": `runner_group_id`). */
const DEFAULT_RUNNER_GROUP = 1;
const PAGE = 100;

export function createGitHubCapacity(octokit: ProbotOctokit): CapacityForge {
  return {
    listQueuedJobs: (repo) => listQueuedGitHubJobs(octokit, repo),
    getJob: (repo, jobId) => readGitHubJob(octokit, repo, jobId),
    register: (repo, runner) => registerGitHubRunner(octokit, repo, runner),
    deregister: (repo, runner) => removeGitHubRunner(octokit, repo, runner),
  };
}

/** Queued runs (up to MAX_QUEUED_PAGES pages), then the latest jobs of each: the jobs still queued. */
async function listQueuedGitHubJobs(octokit: ProbotOctokit, repo: RepoRef): Promise<ForgeJob[]> {
  const jobs: ForgeJob[] = [];
  for (let page = 1; page <= MAX_QUEUED_PAGES; page++) {
    const { data } = await callGitHub('list queued runs', () =>
      octokit.request('GET /repos/{owner}/{repo}/actions/runs', {
        owner: repo.owner,
        repo: repo.name,
        status: 'queued',
        per_page: PAGE,
        page,
      }),
    );
    const runs = Array.isArray(record(data).workflow_runs) ? (record(data).workflow_runs as unknown[]) : [];
    for (const run of runs) {
      const runId = record(run).id;
      if (typeof runId !== 'number') continue;
      const answer = await callGitHub('list the jobs of a run', () =>
        octokit.request('GET /repos/{owner}/{repo}/actions/runs/{run_id}/jobs', {
          owner: repo.owner,
          repo: repo.name,
          run_id: runId,
          filter: 'latest',
          per_page: PAGE,
        }),
      );
      jobs.push(...queuedJobsOf(answer.data).queued);
    }
    if (runs.length < PAGE) break;
  }
  return jobs;
}

async function readGitHubJob(octokit: ProbotOctokit, repo: RepoRef, jobId: number): Promise<ForgeJob | undefined> {
  try {
    const { data } = await octokit.request('GET /repos/{owner}/{repo}/actions/jobs/{job_id}', {
      owner: repo.owner,
      repo: repo.name,
      job_id: jobId,
    });
    return toForgeJob(data);
  } catch (error) {
    if (statusOf(error) === 404) return undefined;
    throw toForgeError(error, 'read a job');
  }
}

async function registerGitHubRunner(
  octokit: ProbotOctokit,
  repo: RepoRef,
  runner: { readonly name: string; readonly labels: readonly string[] },
): Promise<RunnerRegistration> {
  const action = 'generate a just-in-time runner configuration';
  const { data } = await callGitHub(action, () =>
    octokit.request('POST /repos/{owner}/{repo}/actions/runners/generate-jitconfig', {
      owner: repo.owner,
      repo: repo.name,
      name: runner.name,
      runner_group_id: DEFAULT_RUNNER_GROUP,
      labels: [...runner.labels],
      work_folder: '_work',
    }),
  );
  const runnerId = record(record(data).runner).id;
  const config = record(data).encoded_jit_config;
  if (typeof runnerId !== 'number' || typeof config !== 'string') {
    throw new ForgeError(`GitHub: ${action} failed: no runner id or config in the answer`, {
      retryable: false,
      context: { forge: 'github', action },
    });
  }
  return { kind: 'github', runnerId, encodedJitConfig: config };
}

async function removeGitHubRunner(
  octokit: ProbotOctokit,
  repo: RepoRef,
  runner: { readonly name: string; readonly id?: number },
): Promise<void> {
  // A JIT runner removes itself after its job; one that never took a job stays listed until removed here.
  const id = runner.id;
  if (id === undefined) return;
  try {
    await octokit.request('DELETE /repos/{owner}/{repo}/actions/runners/{runner_id}', {
      owner: repo.owner,
      repo: repo.name,
      runner_id: id,
    });
  } catch (error) {
    if (statusOf(error) !== 404) throw toForgeError(error, 'delete a runner');
  }
}
