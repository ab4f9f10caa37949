/**
 * Capacity mode's operations on Gitea (the `capacity` capability of the Gitea Forge), over the adapter's client
 * (gitea-client.ts: the bot token, retries on 5xx/429/network, failures as `ForgeError`): queued jobs, one job, an
 * act_runner registration token, removing a runner, and the Actions workflow files of the push path. The token needs
 * repository admin rights for registration tokens and runners. Endpoints are listed for the contract tests (each
 * checked against Gitea's swagger description, and each called).
 */
import type { RepoRef } from '../core/types.ts';
import { ForgeError } from '../errors.ts';
import { MAX_QUEUED_PAGES, queuedJobsOf, record, toForgeJob } from './actions-job.ts';
import type { CapacityForge, ForgeJob, RunnerRegistration } from './forge.ts';
import { discard, type GiteaClient } from './gitea-client.ts';

export const GITEA_CAPACITY_ENDPOINTS = [
  'GET /repos/{owner}/{repo}/actions/jobs',
  'GET /repos/{owner}/{repo}/actions/jobs/{job_id}',
  'POST /repos/{owner}/{repo}/actions/runners/registration-token',
  'GET /repos/{owner}/{repo}/actions/runners',
  'DELETE /repos/{owner}/{repo}/actions/runners/{runner_id}',
  'GET /repos/{owner}/{repo}/contents/{filepath}',
  'GET /repos/{owner}/{repo}/raw/{filepath}',
] as const;

/** Gitea Actions reads `.gitea/workflows`, and `.github/workflows` only when the first is absent. */
const ACTIONS_WORKFLOW_DIRS = ['.gitea/workflows', '.github/workflows'] as const;
const MAX_ACTIONS_WORKFLOW_BYTES = 512 * 1024;
const PAGE = 50;

export function createGiteaCapacity(client: GiteaClient): CapacityForge {
  return {
    listQueuedJobs: (repo) => listQueuedGiteaJobs(client, repo),
    getJob: (repo, jobId) => readGiteaJob(client, repo, jobId),
    register: (repo) => registerGiteaRunner(client, repo),
    deregister: (repo, runner) => removeGiteaRunner(client, repo, runner),
    readActionsWorkflows: (repo, sha) => readGiteaActionsWorkflows(client, repo, sha),
  };
}

const repoParams = (repo: RepoRef) => ({ owner: repo.owner, repo: repo.name });

async function listQueuedGiteaJobs(client: GiteaClient, repo: RepoRef): Promise<ForgeJob[]> {
  // Gitea reports a job waiting for a runner as `queued` (services/convert ToActionsStatus: StatusWaiting).
  const action = 'list queued jobs';
  const jobs: ForgeJob[] = [];
  for (let page = 1; page <= MAX_QUEUED_PAGES; page++) {
    const response = await client.send(action, 'GET /repos/{owner}/{repo}/actions/jobs', repoParams(repo), {
      query: { status: 'queued', page, limit: PAGE },
    });
    const { listed, queued } = queuedJobsOf(await client.expectJson(action, response, [200]));
    jobs.push(...queued);
    if (listed < PAGE) break;
  }
  return jobs;
}

async function readGiteaJob(client: GiteaClient, repo: RepoRef, jobId: number): Promise<ForgeJob | undefined> {
  const action = 'read a job';
  const response = await client.send(action, 'GET /repos/{owner}/{repo}/actions/jobs/{job_id}', {
    ...repoParams(repo),
    job_id: jobId,
  });
  if (response.status === 404) {
    await discard(response);
    return undefined;
  }
  return toForgeJob(await client.expectJson(action, response, [200]));
}

async function registerGiteaRunner(client: GiteaClient, repo: RepoRef): Promise<RunnerRegistration> {
  const action = 'create a runner registration token';
  // Gitea hands out the repository's latest active registration token and makes one only when there is none
  // (routers/api/v1/shared/runners.go): a retry is harmless.
  const response = await client.send(
    action,
    'POST /repos/{owner}/{repo}/actions/runners/registration-token',
    repoParams(repo),
  );
  // The swagger describes the token as a response header; Gitea's handler (routers/api/v1/shared/runners.go) writes
  // it as the JSON body `{ "token": … }`. Either is taken.
  const header = response.headers.get('token');
  const body = record(await client.expectJson(action, response, [200, 201]));
  const token = typeof body.token === 'string' ? body.token : header;
  if (token === null || token === '') {
    throw new ForgeError(`Gitea: ${action} failed: no token in the answer`, {
      retryable: true,
      status: 502,
      context: { forge: 'gitea', action },
    });
  }
  return { kind: 'gitea', instanceUrl: client.webRoot, token };
}

async function removeGiteaRunner(
  client: GiteaClient,
  repo: RepoRef,
  runner: { readonly name: string; readonly id?: number },
): Promise<void> {
  let id = runner.id;
  if (id === undefined) {
    const action = 'list runners';
    const response = await client.send(action, 'GET /repos/{owner}/{repo}/actions/runners', repoParams(repo));
    const data = record(await client.expectJson(action, response, [200]));
    const found = (Array.isArray(data.runners) ? data.runners : []).map(record).find((r) => r.name === runner.name);
    if (typeof found?.id !== 'number') return;
    id = found.id;
  }
  const action = 'delete a runner';
  const response = await client.send(action, 'DELETE /repos/{owner}/{repo}/actions/runners/{runner_id}', {
    ...repoParams(repo),
    runner_id: id,
  });
  // An ephemeral runner Gitea removed after its task is gone already.
  if (response.status === 404) return discard(response);
  await client.expectStatus(action, response, [200, 204]);
  await discard(response);
}

/** Regular `.yml`/`.yaml` files of one listing, up to MAX_ACTIONS_WORKFLOW_BYTES each, in path order. */
function workflowPathsOf(listing: unknown): string[] {
  if (!Array.isArray(listing)) return [];
  return listing
    .map(record)
    .filter(
      (e) =>
        e.type === 'file' &&
        typeof e.path === 'string' &&
        /\.ya?ml$/.test(e.path) &&
        typeof e.size === 'number' &&
        e.size <= MAX_ACTIONS_WORKFLOW_BYTES,
    )
    .map((e) => e.path as string)
    .sort();
}

async function readGiteaActionsWorkflows(
  client: GiteaClient,
  repo: RepoRef,
  sha: string,
): Promise<{ path: string; text: string }[]> {
  const action = 'list workflow files';
  for (const dir of ACTIONS_WORKFLOW_DIRS) {
    const response = await client.send(
      action,
      'GET /repos/{owner}/{repo}/contents/{filepath}',
      { ...repoParams(repo), filepath: dir },
      { query: { ref: sha } },
    );
    if (response.status === 404) {
      await discard(response);
      continue;
    }
    const out: { path: string; text: string }[] = [];
    for (const path of workflowPathsOf(await client.expectJson(action, response, [200]))) {
      const raw = await client.send(
        `read ${path}`,
        'GET /repos/{owner}/{repo}/raw/{filepath}',
        { ...repoParams(repo), filepath: path },
        { query: { ref: sha } },
      );
      if (!raw.ok) {
        await discard(raw);
        continue;
      }
      out.push({ path, text: await raw.text() });
    }
    // Gitea reads `.gitea/workflows` and falls back to `.github/workflows` only when the first is absent.
    return out;
  }
  return [];
}
