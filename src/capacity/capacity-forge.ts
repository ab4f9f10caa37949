/**
 * What capacity mode asks of a forge, in spotcheck's words: the jobs waiting for a runner, one job's state, a
 * runner registration for one job, and removing a runner. GitHub: the REST API through an installation's Octokit;
 * Gitea: its REST API with the bot token. Endpoints are listed for the contract tests (each checked against the
 * published description, and each called).
 */
import type { ForgeKind, RepoRef } from '../core/types.ts';
import { trimTrailingSlashes } from '../core/url.ts';

export interface ForgeJob {
  readonly jobId: number;
  readonly runId: number;
  readonly labels: readonly string[];
  /** `queued`, `in_progress`, `completed`, `waiting`… in the forge's words (Gitea maps its own to GitHub's). */
  readonly status: string;
  readonly runnerName?: string;
}

/** What the instance gets through the bootstrap exchange (never through user data). */
export type Registration =
  | { readonly kind: 'github'; readonly runnerId: number; readonly encodedJitConfig: string }
  | { readonly kind: 'gitea'; readonly instanceUrl: string; readonly token: string };

export interface CapacityForge {
  readonly kind: ForgeKind;
  listQueuedJobs(repo: RepoRef, installationId?: number): Promise<ForgeJob[]>;
  getJob(repo: RepoRef, jobId: number, installationId?: number): Promise<ForgeJob | undefined>;
  register(
    repo: RepoRef,
    runner: { readonly name: string; readonly labels: readonly string[] },
    installationId?: number,
  ): Promise<Registration>;
  /** Removing a runner that is gone already is not an error. */
  deregister(
    repo: RepoRef,
    runner: { readonly name: string; readonly id?: number },
    installationId?: number,
  ): Promise<void>;
  /** Gitea's push path: the workflow files at a commit (`.gitea/workflows`, else `.github/workflows`). */
  readWorkflows?(repo: RepoRef, sha: string): Promise<{ readonly path: string; readonly text: string }[]>;
}

export const CAPACITY_GITHUB_ENDPOINTS = [
  'GET /repos/{owner}/{repo}/actions/runs',
  'GET /repos/{owner}/{repo}/actions/runs/{run_id}/jobs',
  'GET /repos/{owner}/{repo}/actions/jobs/{job_id}',
  'POST /repos/{owner}/{repo}/actions/runners/generate-jitconfig',
  'DELETE /repos/{owner}/{repo}/actions/runners/{runner_id}',
] as const;

export const CAPACITY_GITEA_ENDPOINTS = [
  'GET /repos/{owner}/{repo}/actions/jobs',
  'GET /repos/{owner}/{repo}/actions/jobs/{job_id}',
  'POST /repos/{owner}/{repo}/actions/runners/registration-token',
  'GET /repos/{owner}/{repo}/actions/runners',
  'DELETE /repos/{owner}/{repo}/actions/runners/{runner_id}',
  'GET /repos/{owner}/{repo}/contents/{filepath}',
  'GET /repos/{owner}/{repo}/raw/{filepath}',
] as const;

/** The part of Octokit used here (Probot's installation Octokit has it). */
export interface OctokitLike {
  request(
    route: string,
    params?: Record<string, unknown>,
  ): Promise<{ readonly status: number; readonly data: unknown }>;
}

/** GitHub's default runner group (id 1) on repositories ("generate-jitconfig": `runner_group_id`). */
const DEFAULT_RUNNER_GROUP = 1;
const PAGE = 100;
/** Bounded listing: a reconcile reads at most this many queued runs per repository per pass. */
const MAX_RUN_PAGES = 3;

function record(value: unknown): Record<string, unknown> {
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

function statusOf(error: unknown): number | undefined {
  const status = record(error).status;
  return typeof status === 'number' ? status : undefined;
}

export function createGitHubCapacityForge(
  octokitFor: (installationId?: number) => Promise<OctokitLike>,
): CapacityForge {
  return {
    kind: 'github',
    async listQueuedJobs(repo, installationId) {
      const octokit = await octokitFor(installationId);
      const jobs: ForgeJob[] = [];
      for (let page = 1; page <= MAX_RUN_PAGES; page++) {
        const { data } = await octokit.request('GET /repos/{owner}/{repo}/actions/runs', {
          owner: repo.owner,
          repo: repo.name,
          status: 'queued',
          per_page: PAGE,
          page,
        });
        const runs = Array.isArray(record(data).workflow_runs) ? (record(data).workflow_runs as unknown[]) : [];
        for (const run of runs) {
          const runId = record(run).id;
          if (typeof runId !== 'number') continue;
          const answer = await octokit.request('GET /repos/{owner}/{repo}/actions/runs/{run_id}/jobs', {
            owner: repo.owner,
            repo: repo.name,
            run_id: runId,
            filter: 'latest',
            per_page: PAGE,
          });
          const list = Array.isArray(record(answer.data).jobs) ? (record(answer.data).jobs as unknown[]) : [];
          for (const raw of list) {
            const job = toForgeJob(raw);
            if (job?.status === 'queued') jobs.push(job);
          }
        }
        if (runs.length < PAGE) break;
      }
      return jobs;
    },
    async getJob(repo, jobId, installationId) {
      const octokit = await octokitFor(installationId);
      try {
        const { data } = await octokit.request('GET /repos/{owner}/{repo}/actions/jobs/{job_id}', {
          owner: repo.owner,
          repo: repo.name,
          job_id: jobId,
        });
        return toForgeJob(data);
      } catch (error) {
        if (statusOf(error) === 404) return undefined;
        throw error;
      }
    },
    async register(repo, runner, installationId) {
      const octokit = await octokitFor(installationId);
      const { data } = await octokit.request('POST /repos/{owner}/{repo}/actions/runners/generate-jitconfig', {
        owner: repo.owner,
        repo: repo.name,
        name: runner.name,
        runner_group_id: DEFAULT_RUNNER_GROUP,
        labels: [...runner.labels],
        work_folder: '_work',
      });
      const runnerId = record(record(data).runner).id;
      const config = record(data).encoded_jit_config;
      if (typeof runnerId !== 'number' || typeof config !== 'string')
        throw new TypeError('GitHub answered generate-jitconfig without a runner id or a config');
      return { kind: 'github', runnerId, encodedJitConfig: config };
    },
    async deregister(repo, runner, installationId) {
      // A JIT runner removes itself after its job; one that never took a job stays listed until removed here.
      if (runner.id === undefined) return;
      const octokit = await octokitFor(installationId);
      try {
        await octokit.request('DELETE /repos/{owner}/{repo}/actions/runners/{runner_id}', {
          owner: repo.owner,
          repo: repo.name,
          runner_id: runner.id,
        });
      } catch (error) {
        if (statusOf(error) !== 404) throw error;
      }
    },
  };
}

export interface GiteaCapacityForgeOptions {
  /** GITEA_URL, the web root (the API is below `/api/v1`); act_runner registers against it too. */
  readonly baseUrl: string;
  /** The bot token; it needs repository admin rights for runner registration tokens. Never logged. */
  readonly token: string;
  readonly fetch?: typeof fetch;
  readonly timeoutMs?: number;
}

export class GiteaCapacityError extends Error {
  override readonly name = 'GiteaCapacityError';
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

const WORKFLOW_DIRS = ['.gitea/workflows', '.github/workflows'] as const;
const MAX_WORKFLOW_BYTES = 512 * 1024;
const GITEA_PAGE = 50;

export function createGiteaCapacityForge(opts: GiteaCapacityForgeOptions): CapacityForge {
  const base = new URL(opts.baseUrl);
  const webRoot = trimTrailingSlashes(`${base.origin}${base.pathname}`);
  const apiRoot = `${webRoot}/api/v1`;
  const fetchImpl = opts.fetch ?? fetch;
  const timeoutMs = opts.timeoutMs ?? 30_000;

  const call = async (
    method: string,
    path: string,
    query: Readonly<Record<string, string | number>> = {},
  ): Promise<Response> => {
    const url = new URL(`${apiRoot}${path}`);
    for (const [k, v] of Object.entries(query)) url.searchParams.set(k, String(v));
    return fetchImpl(url, {
      method,
      headers: { authorization: `token ${opts.token}`, accept: 'application/json' },
      signal: AbortSignal.timeout(timeoutMs),
    });
  };
  const json = async (action: string, response: Response): Promise<unknown> => {
    if (!response.ok) {
      await response.body?.cancel().catch(() => undefined);
      throw new GiteaCapacityError(`Gitea: ${action} failed: HTTP ${response.status}`, response.status);
    }
    return await response.json();
  };
  const repoPath = (repo: RepoRef): string =>
    `/repos/${encodeURIComponent(repo.owner)}/${encodeURIComponent(repo.name)}`;
  // Gitea's `{filepath}` is a wildcard route: slashes stay slashes (as src/forges/gitea.ts sends it).
  const filePath = (path: string): string => path.split('/').map(encodeURIComponent).join('/');

  return {
    kind: 'gitea',
    async listQueuedJobs(repo) {
      // Gitea reports a job waiting for a runner as `queued` (services/convert ToActionsStatus: StatusWaiting).
      const jobs: ForgeJob[] = [];
      for (let page = 1; page <= MAX_RUN_PAGES; page++) {
        const data = record(
          await json(
            'list queued jobs',
            await call('GET', `${repoPath(repo)}/actions/jobs`, { status: 'queued', page, limit: GITEA_PAGE }),
          ),
        );
        const list = Array.isArray(data.jobs) ? data.jobs : [];
        for (const raw of list) {
          const job = toForgeJob(raw);
          if (job?.status === 'queued') jobs.push(job);
        }
        if (list.length < GITEA_PAGE) break;
      }
      return jobs;
    },
    async getJob(repo, jobId) {
      const response = await call('GET', `${repoPath(repo)}/actions/jobs/${jobId}`);
      if (response.status === 404) {
        await response.body?.cancel().catch(() => undefined);
        return undefined;
      }
      return toForgeJob(await json('read a job', response));
    },
    async register(repo) {
      const response = await call('POST', `${repoPath(repo)}/actions/runners/registration-token`);
      // The swagger describes the token as a response header; Gitea's handler (routers/api/v1/shared/runners.go)
      // writes it as the JSON body `{ "token": … }`. Either is taken.
      const header = response.headers.get('token');
      const body = record(await json('create a runner registration token', response));
      const token = typeof body.token === 'string' ? body.token : header;
      if (token === null || token === '') throw new GiteaCapacityError('Gitea answered no registration token', 502);
      return { kind: 'gitea', instanceUrl: webRoot, token };
    },
    async deregister(repo, runner) {
      let id = runner.id;
      if (id === undefined) {
        const data = record(await json('list runners', await call('GET', `${repoPath(repo)}/actions/runners`)));
        const found = (Array.isArray(data.runners) ? data.runners : []).map(record).find((r) => r.name === runner.name);
        if (typeof found?.id !== 'number') return;
        id = found.id;
      }
      const response = await call('DELETE', `${repoPath(repo)}/actions/runners/${id}`);
      await response.body?.cancel().catch(() => undefined);
      // An ephemeral runner Gitea removed after its task is gone already.
      if (!response.ok && response.status !== 404)
        throw new GiteaCapacityError(`Gitea: delete runner failed: HTTP ${response.status}`, response.status);
    },
    async readWorkflows(repo, sha) {
      for (const dir of WORKFLOW_DIRS) {
        const response = await call('GET', `${repoPath(repo)}/contents/${filePath(dir)}`, { ref: sha });
        if (response.status === 404) {
          await response.body?.cancel().catch(() => undefined);
          continue;
        }
        const listing = await json('list workflow files', response);
        if (!Array.isArray(listing)) continue;
        const files = listing
          .map(record)
          .filter(
            (e) =>
              e.type === 'file' &&
              typeof e.path === 'string' &&
              /\.ya?ml$/.test(e.path) &&
              typeof e.size === 'number' &&
              e.size <= MAX_WORKFLOW_BYTES,
          )
          .map((e) => e.path as string)
          .sort();
        const out: { path: string; text: string }[] = [];
        for (const path of files) {
          const raw = await call('GET', `${repoPath(repo)}/raw/${filePath(path)}`, { ref: sha });
          if (!raw.ok) {
            await raw.body?.cancel().catch(() => undefined);
            continue;
          }
          out.push({ path, text: await raw.text() });
        }
        // Gitea reads `.gitea/workflows` and falls back to `.github/workflows` only when the first is absent.
        return out;
      }
      return [];
    },
  };
}
