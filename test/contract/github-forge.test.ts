/**
 * The GitHub Forge adapter: the shared Forge contract over the OpenAPI-checked nock harness, then GitHub's own
 * cases (truncated compare, 302 on membership, raw content, pagination, error conversion, the registry with a real
 * Probot).
 */
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RepoRef } from '../../src/core/types.ts';
import { ForgeError } from '../../src/errors.ts';
import type { Forge, ForgeJob, PullRequestInfo } from '../../src/forges/forge.ts';
import { GITHUB_ENDPOINTS, createGitHubForge, toForgeError } from '../../src/forges/github.ts';
import { GITHUB_CAPACITY_ENDPOINTS } from '../../src/forges/github-capacity.ts';
import { createGitHubForges } from '../../src/forges/github-installations.ts';
import {
  checkGitHubRequest,
  createGitHubApi,
  createTestOctokit,
  createTestProbot,
  type GitHubApi,
  type GitHubApiOptions,
  sameEndpoint,
} from '../helpers/github-api.ts';
import {
  type CapacityStub,
  defineForgeContract,
  type ForgeStub,
  type ReceivedStatus,
  type ReceivedWrite,
} from './forge-contract.ts';

const APP_SLUG = 'spotcheck';
const REPO: RepoRef = { forge: 'github', host: 'github.com', owner: 'acme', name: 'widgets' };
const SHA = '8d3a1f0c2b4e6a7d9c1e3f5a7b9d1c3e5f7a9b1d';
const BASE = '1c3e5f7a9b1d8d3a1f0c2b4e6a7d9c1e3f5a7b9d';
const MARKER = '<!-- spotcheck:sticky -->';
const DIR = '.spotcheck/workflows';

const bot = { login: `${APP_SLUG}[bot]`, type: 'Bot' };
const human = { login: 'mallory', type: 'User' };

function repoPath(repo: RepoRef): string {
  return `/repos/${repo.owner}/${repo.name}`;
}

/** The Forge contract's stub, spoken as GitHub's REST API through the harness. */
/** Endpoints the adapter was seen calling, across this file. */
const seenEndpoints = new Set<string>();

/** Closes a harness; fails on its problems, unused expectations, and calls to endpoints not in GITHUB_ENDPOINTS. */
function finish(api: GitHubApi): void {
  api.close();
  for (const r of api.requests()) {
    const endpoint = r.endpoint;
    if (endpoint === undefined) continue;
    const listed = [...GITHUB_ENDPOINTS, ...GITHUB_CAPACITY_ENDPOINTS].find((e) => sameEndpoint(e, endpoint));
    expect(listed, `${endpoint} is called but not in GITHUB_ENDPOINTS or GITHUB_CAPACITY_ENDPOINTS`).toBeDefined();
    if (listed !== undefined) seenEndpoints.add(listed);
  }
  api.assertDone();
}

afterAll(() => {
  // GITHUB_ENDPOINTS drives app.yml's permission test: an entry nothing calls would justify a permission unused.
  expect([...GITHUB_ENDPOINTS, ...GITHUB_CAPACITY_ENDPOINTS].filter((e) => !seenEndpoints.has(e))).toEqual([]);
});

function createGitHubStub(api: GitHubApi): ForgeStub {
  const statuses: ReceivedStatus[] = [];
  const writes: ReceivedWrite[] = [];
  return {
    workflows(repo, sha, folders) {
      for (const [folder, files] of Object.entries(folders)) {
        const listing = api.get(`${repoPath(repo)}/contents/${folder}?ref=${sha}`);
        if (files === undefined) {
          listing.reply(404, { message: 'Not Found' });
          continue;
        }
        // GitHub lists a folder in its own order; the adapter must sort.
        const entries = Object.entries(files)
          .reverse()
          .map(([path, text]) => fileEntry(path, Buffer.byteLength(text)));
        listing.reply(200, entries);
        for (const [path, text] of Object.entries(files)) {
          if (!/\.ya?ml$/.test(path)) continue;
          api
            .get(`${repoPath(repo)}/contents/${path}?ref=${sha}`)
            .reply(200, text, { 'content-type': 'text/plain; charset=utf-8' });
        }
      }
    },
    file(repo, ref, path, text) {
      const read = api.get(`${repoPath(repo)}/contents/${path}?ref=${ref}`);
      if (text === undefined) read.reply(404, { message: 'Not Found' });
      else read.reply(200, text, { 'content-type': 'text/plain; charset=utf-8' });
    },
    compare(repo, base, head, files) {
      api
        .get(`${repoPath(repo)}/compare/${base}...${head}?per_page=1`)
        .reply(200, compareBody(files.map((filename) => ({ filename, status: 'modified' }))));
    },
    unknownBase(repo, base, head) {
      api.get(`${repoPath(repo)}/compare/${base}...${head}?per_page=1`).reply(404, { message: 'Not Found' });
    },
    pullRequestFiles(repo, pr, files) {
      api.get(`${repoPath(repo)}/pulls/${pr}/files?per_page=100`).reply(
        200,
        files.map((filename) => ({ filename, status: 'modified' })),
      );
    },
    pullRequest(repo, pr, facts) {
      const request = api.get(`${repoPath(repo)}/pulls/${pr}`);
      if (facts === undefined) request.reply(404, { message: 'Not Found' });
      else request.reply(200, pullRequestBody(facts));
    },
    account(owner, kind) {
      api.get(`/users/${owner}`).reply(200, { login: owner, type: kind === 'organization' ? 'Organization' : 'User' });
    },
    membership(org, user, answer) {
      const status = answer === 'member' ? 204 : answer === 'not-member' ? 404 : 502;
      api.get(`/orgs/${org}/members/${user}`).reply(status, status === 204 ? undefined : { message: 'x' });
    },
    acceptStatus(repo, sha) {
      api.post(`${repoPath(repo)}/statuses/${sha}`).reply((request) => {
        const body = request.body as Record<string, string>;
        statuses.push({
          sha,
          context: body.context ?? '',
          state: body.state ?? '',
          description: body.description ?? '',
          ...(body.target_url === undefined ? {} : { targetUrl: body.target_url }),
        });
        return { status: 201, body: { id: statuses.length, state: body.state, context: body.context } };
      });
    },
    comments(repo, pr, comments) {
      api.get(`${repoPath(repo)}/issues/${pr}/comments?per_page=100`).reply(
        200,
        comments.map((c) => ({ id: c.id, body: c.body, user: c.mine ? bot : human })),
      );
    },
    acceptNewComment(repo, pr, id) {
      api.post(`${repoPath(repo)}/issues/${pr}/comments`).reply((request) => {
        const body = (request.body as { body: string }).body;
        writes.push({ kind: 'create', pr, body });
        return { status: 201, body: { id, body, user: bot } };
      });
    },
    acceptCommentEdit(repo, id) {
      api.patch(`${repoPath(repo)}/issues/comments/${id}`).reply((request) => {
        const body = (request.body as { body: string }).body;
        writes.push({ kind: 'edit', id, body });
        return { status: 200, body: { id, body, user: bot } };
      });
    },
    acceptReaction(repo, id) {
      api.post(`${repoPath(repo)}/issues/comments/${id}/reactions`).reply((request) => {
        const content = (request.body as { content: string }).content;
        writes.push({ kind: 'reaction', id, content });
        return { status: 201, body: { id: 1, content } };
      });
    },
    orderToken(repo, granted, permissions) {
      const token = `ghs_order_${Object.keys(permissions).join('_')}`;
      api.get('/app/installations/42').reply(200, { id: 42, permissions: granted });
      api
        .post('/app/installations/42/access_tokens')
        .body({ repositories: [repo.name], permissions })
        .reply(201, { token, expires_at: '2030-01-01T01:00:00Z', permissions });
      return token;
    },
    acceptRevoke(token, gone) {
      api.delete('/installation/token').reply((request) => {
        expect(request.headers.authorization).toBe(`token ${token}`);
        return gone ? { status: 401, body: { message: 'Bad credentials' } } : { status: 204 };
      });
    },
    statuses: () => [...statuses],
    writes: () => [...writes],
  };
}

/** A pull request as GitHub's REST API shows it (the fields the adapter maps). */
function pullRequestBody(facts: PullRequestInfo): Record<string, unknown> {
  return {
    number: facts.number,
    state: facts.state,
    merged: facts.merged,
    user: { login: facts.author },
    head: { sha: facts.headSha, ref: facts.headRef, repo: { full_name: facts.headRepo } },
    base: { ref: facts.baseRef, repo: { full_name: 'acme/widgets' } },
    updated_at: new Date(facts.updatedAt).toISOString(),
  };
}

function fileEntry(path: string, size: number, type = 'file'): Record<string, unknown> {
  return { type, name: path.slice(path.lastIndexOf('/') + 1), path, size, sha: 'f'.repeat(40) };
}

function compareBody(files: readonly Record<string, unknown>[]): Record<string, unknown> {
  return { status: 'ahead', ahead_by: 1, behind_by: 0, total_commits: 1, commits: [], files };
}

/** GitHub's shape of a job (`workflow_job` in the REST API). */
function rawJob(job: ForgeJob): Record<string, unknown> {
  return {
    id: job.jobId,
    run_id: job.runId,
    labels: job.labels,
    status: job.status,
    ...(job.runnerName === undefined ? {} : { runner_name: job.runnerName }),
  };
}

/** The contract's capacity stub, spoken as GitHub's Actions REST API. */
function createGitHubCapacityStub(api: GitHubApi): CapacityStub {
  return {
    queuedJobs(repo, jobs) {
      const runIds = [...new Set(jobs.map((j) => j.runId))];
      api
        .get(`${repoPath(repo)}/actions/runs`)
        .query({ status: 'queued', per_page: 100, page: 1 })
        .reply(200, { total_count: runIds.length, workflow_runs: runIds.map((id) => ({ id })) });
      for (const runId of runIds) {
        const ofRun = jobs.filter((j) => j.runId === runId);
        api
          .get(`${repoPath(repo)}/actions/runs/${runId}/jobs`)
          .query({ filter: 'latest', per_page: 100 })
          .reply(200, { total_count: ofRun.length, jobs: ofRun.map(rawJob) });
      }
    },
    job(repo, jobId, job) {
      const answer = api.get(`${repoPath(repo)}/actions/jobs/${jobId}`);
      if (job === undefined) answer.reply(404, { message: 'Not Found' });
      else answer.reply(200, rawJob(job));
    },
    acceptRegistration(repo, runner) {
      api
        .post(`${repoPath(repo)}/actions/runners/generate-jitconfig`)
        .body({ name: runner.name, labels: [...runner.labels], runner_group_id: 1 })
        .reply(201, { runner: { id: 77, name: runner.name }, encoded_jit_config: 'ENCODED-JIT' });
      return { kind: 'github', runnerId: 77, encodedJitConfig: 'ENCODED-JIT' };
    },
    acceptRunnerRemoval(repo, runner, gone) {
      api
        .delete(`${repoPath(repo)}/actions/runners/${runner.id}`)
        .reply(gone ? 404 : 204, gone ? { message: 'Not Found' } : '');
    },
  };
}

function newForge(api: GitHubApi, overrides: Partial<Parameters<typeof createGitHubForge>[0]> = {}): Forge {
  return createGitHubForge({
    octokit: createTestOctokit(api.baseUrl),
    host: 'github.com',
    appSlug: APP_SLUG,
    // Clone tokens come without a request (their minting is the registry's, tested below); order tokens are minted
    // through the harness, as the registry mints them (installation 42).
    mintToken: async (repo, permissions) => {
      if (Object.keys(permissions).join() === 'contents') return { token: 'ghs_clone', expiresAt: 1_900_000_000_000 };
      const { data } = await createTestOctokit(api.baseUrl).rest.apps.createInstallationAccessToken({
        installation_id: 42,
        repositories: [repo.name],
        permissions,
      });
      return { token: data.token, expiresAt: Date.parse(data.expires_at) };
    },
    installationPermissions: async () =>
      (await createTestOctokit(api.baseUrl).rest.apps.getInstallation({ installation_id: 42 })).data.permissions,
    ...overrides,
  });
}

defineForgeContract('GitHub', () => {
  const api = createGitHubApi();
  return {
    forge: newForge(api),
    stub: createGitHubStub(api),
    capacity: createGitHubCapacityStub(api),
    repo: REPO,
    teardown() {
      finish(api);
    },
  };
});

defineForgeContract('GitHub Enterprise Server (/api/v3)', () => {
  const api = createGitHubApi({ baseUrl: 'https://ghe.example.com/api/v3', spec: 'ghes-3.19' });
  return {
    forge: newForge(api, { host: 'ghe.example.com' }),
    stub: createGitHubStub(api),
    capacity: createGitHubCapacityStub(api),
    repo: { ...REPO, host: 'ghe.example.com' },
    teardown() {
      finish(api);
    },
  };
});

/** A harness per test, closed and checked after it. */
function useApi(options: GitHubApiOptions = {}): () => GitHubApi {
  let api: GitHubApi | undefined;
  beforeEach(() => {
    api = createGitHubApi(options);
  });
  afterEach(() => {
    if (api !== undefined) finish(api);
  });
  return () => api!;
}

describe('GitHub forge: workflow files', () => {
  const api = useApi();

  it('reads W files in W + 1 requests and decodes raw text, raw bytes and base64 JSON alike', async () => {
    const dir = `${repoPath(REPO)}/contents/${DIR}`;
    api()
      .get(`${dir}?ref=${SHA}`)
      .reply(200, [fileEntry(`${DIR}/a.yml`, 8), fileEntry(`${DIR}/b.yml`, 8), fileEntry(`${DIR}/c.yml`, 8)]);
    api().get(`${dir}/a.yml?ref=${SHA}`).reply(200, 'name: a\n', { 'content-type': 'text/plain; charset=utf-8' });
    // No charset: Octokit hands the body over as bytes.
    api().get(`${dir}/b.yml?ref=${SHA}`).reply(200, 'name: ü\n', { 'content-type': 'application/vnd.github.raw+json' });
    // A server that ignores the raw media type answers the JSON form.
    api()
      .get(`${dir}/c.yml?ref=${SHA}`)
      .reply(200, { type: 'file', encoding: 'base64', content: Buffer.from('name: c\n').toString('base64') });
    const files = await newForge(api()).readWorkflows(REPO, SHA, [DIR]);
    expect(files.map((f) => f.text)).toEqual(['name: a\n', 'name: ü\n', 'name: c\n']);
    expect(api().requests()).toHaveLength(4);
    for (const r of api().requests({ path: /\.yml$/ }))
      expect(r.headers.accept).toBe('application/vnd.github.raw+json');
  });

  it('does not download a file above 512 KiB, nor symlinks, nor sub-folders', async () => {
    const dir = `${repoPath(REPO)}/contents/${DIR}`;
    api()
      .get(`${dir}?ref=${SHA}`)
      .reply(200, [
        fileEntry(`${DIR}/huge.yml`, 512 * 1024 + 1),
        fileEntry(`${DIR}/link.yml`, 10, 'symlink'),
        fileEntry(`${DIR}/nested.yml`, 0, 'dir'),
        fileEntry(`${DIR}/ok.yml`, 512 * 1024),
      ]);
    api().get(`${dir}/ok.yml?ref=${SHA}`).reply(200, 'name: ok\n', { 'content-type': 'text/plain; charset=utf-8' });
    const files = await newForge(api()).readWorkflows(REPO, SHA, [DIR]);
    expect(files).toEqual([
      { path: `${DIR}/huge.yml`, text: '', size: 512 * 1024 + 1 },
      { path: `${DIR}/ok.yml`, text: 'name: ok\n', size: 512 * 1024 },
    ]);
  });

  it('reads no workflows when the path is a file, not a folder', async () => {
    api()
      .get(`${repoPath(REPO)}/contents/${DIR}?ref=${SHA}`)
      .reply(200, { type: 'file', path: DIR, size: 3, encoding: 'base64', content: '' });
    expect(await newForge(api()).readWorkflows(REPO, SHA, [DIR])).toEqual([]);
  });

  it('fails with a retryable ForgeError when listing answers 502', async () => {
    api()
      .get(`${repoPath(REPO)}/contents/${DIR}?ref=${SHA}`)
      .reply(502, { message: 'Bad Gateway' });
    const error = await newForge(api())
      .readWorkflows(REPO, SHA, [DIR])
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ForgeError);
    expect(error).toMatchObject({ status: 502, retryable: true });
  });
});

describe('GitHub forge: changed files', () => {
  const api = useApi();
  const compare = `${repoPath(REPO)}/compare/${BASE}...${SHA}?per_page=1`;

  it.each([
    [299, 'listed'],
    [300, 'null'],
  ] as const)('%i files → %s (GitHub lists at most 300 files of a comparison)', async (count, outcome) => {
    const files = Array.from({ length: count }, (_, i) => ({ filename: `f${i}.txt`, status: 'added' }));
    api().get(compare).reply(200, compareBody(files));
    const result = await newForge(api()).changedFiles(REPO, BASE, SHA);
    if (outcome === 'null') expect(result).toBeNull();
    else expect(result).toHaveLength(count);
  });

  it('counts a renamed file under both names', async () => {
    api()
      .get(compare)
      .reply(200, compareBody([{ filename: 'lib/a.ts', previous_filename: 'src/a.ts', status: 'renamed' }]));
    expect(await newForge(api()).changedFiles(REPO, BASE, SHA)).toEqual(['lib/a.ts', 'src/a.ts']);
  });

  it('answers null on 422 (no common history)', async () => {
    api().get(compare).reply(422, { message: 'No common ancestor' });
    expect(await newForge(api()).changedFiles(REPO, BASE, SHA)).toBeNull();
  });

  it('pages through pull request files and answers null at 3000', async () => {
    const page = (n: number, start: number) =>
      Array.from({ length: n }, (_, i) => ({ filename: `f${start + i}`, status: 'modified' }));
    const path = `${repoPath(REPO)}/pulls/5/files`;
    api()
      .get(`${path}?per_page=100`)
      .reply(200, page(100, 0), { link: `<${api().baseUrl}${path}?per_page=100&page=2>; rel="next"` });
    api().get(`${path}?per_page=100&page=2`).reply(200, page(3, 100));
    expect(await newForge(api()).pullRequestFiles(REPO, 5)).toHaveLength(103);

    const last = 30;
    for (let p = 1; p <= last; p++) {
      const link = p < last ? { link: `<${api().baseUrl}${path}?per_page=100&page=${p + 1}>; rel="next"` } : undefined;
      api()
        .get(p === 1 ? `${path}?per_page=100` : `${path}?per_page=100&page=${p}`)
        .reply(200, page(100, p * 100), link);
    }
    expect(await newForge(api()).pullRequestFiles(REPO, 5)).toBeNull();
  });
});

describe('GitHub forge: pull requests, accounts, membership', () => {
  const api = useApi();

  it('answers not a member on 302 (the token cannot see private members) without following the redirect', async () => {
    api()
      .get('/orgs/acme/members/octocat')
      .reply(302, '', { location: `${api().baseUrl}/orgs/acme/public_members/octocat` });
    const answer = await newForge(api()).isOrgMember('acme', 'octocat');
    expect(answer.member).toBe(false);
    expect(answer.reason).toMatch(/Members \(read\) permission/);
    expect(api().requests()).toHaveLength(1);
  });

  it('answers not a member on a network error, naming it', async () => {
    api().get('/orgs/acme/members/octocat').replyWithNetworkError('ECONNRESET');
    expect(await newForge(api()).isOrgMember('acme', 'octocat')).toEqual({
      member: false,
      reason: 'membership check failed: network error',
      undetermined: true,
    });
  });

  it.each([
    // An organization and a user are in the Forge contract.
    ['acme', 500, { message: 'boom' }, false],
  ] as const)('isOrganization(%s): HTTP %i %j → %s', async (owner, status, body, expected) => {
    api().get(`/users/${owner}`).reply(status, body);
    expect(await newForge(api()).isOrganization(owner)).toBe(expected);
  });
});

describe('GitHub forge: comments', () => {
  const api = useApi();

  it('pages through comments and stops at the first sticky comment of its own', async () => {
    const path = `${repoPath(REPO)}/issues/3/comments`;
    const next = (page: number) => ({ link: `<${api().baseUrl}${path}?per_page=100&page=${page}>; rel="next"` });
    api()
      .get(`${path}?per_page=100`)
      .reply(
        200,
        [
          { id: 1, body: `${MARKER}\nquoted`, user: human },
          { id: 2, body: `${MARKER}\nanother app`, user: { login: 'other-app[bot]', type: 'Bot' } },
          { id: 3, body: `${MARKER}\nimpostor`, user: { login: `${APP_SLUG}[bot]`, type: 'User' } },
        ],
        next(2),
      );
    api()
      .get(`${path}?per_page=100&page=2`)
      .reply(200, [{ id: 4, body: `\n${MARKER}\nmine`, user: bot }], next(3));
    const found = await newForge(api()).findStickyComment(REPO, 3, MARKER);
    expect(found).toEqual({ id: 4, body: `\n${MARKER}\nmine` });
    expect(api().requests()).toHaveLength(2);
  });

  it('cuts a comment above 65,536 characters', async () => {
    api()
      .post(`${repoPath(REPO)}/issues/3/comments`)
      .reply((request) => ({ status: 201, body: { id: 5, body: (request.body as { body: string }).body } }));
    const created = await newForge(api()).createComment(REPO, 3, 'y'.repeat(70_000));
    expect(created.body).toHaveLength(65_536);
    expect(created.body.endsWith('…')).toBe(true);
  });
});

describe('GitHub forge: errors', () => {
  const api = useApi();

  it.each([
    ['HTTP 500', 500, {}, true],
    ['HTTP 502', 502, {}, true],
    ['HTTP 429', 429, {}, true],
    ['a primary rate limit (403, no requests left)', 403, { 'x-ratelimit-remaining': '0' }, true],
    ['a secondary rate limit (403, retry-after)', 403, { 'retry-after': '60' }, true],
    ['HTTP 403 (forbidden)', 403, {}, false],
    ['HTTP 404', 404, {}, false],
    ['HTTP 422', 422, {}, false],
  ] as const)('setStatus on %s → ForgeError, retryable: %s', async (_label, status, headers, retryable) => {
    api()
      .post(`${repoPath(REPO)}/statuses/${SHA}`)
      .reply(status, { message: 'nope' }, { 'content-type': 'application/json', ...headers });
    const error = await newForge(api())
      .setStatus(REPO, SHA, { context: 'spotcheck/ci/build', state: 'success', description: 'ok' })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ForgeError);
    expect(error).toMatchObject({ status, retryable, message: `GitHub: set commit status failed: HTTP ${status}` });
  });

  it('a network error is retryable and says so', async () => {
    api()
      .post(`${repoPath(REPO)}/issues/comments/8/reactions`)
      .replyWithNetworkError();
    const error = await newForge(api())
      .reactToComment(REPO, 8, 'eyes')
      .catch((e: unknown) => e);
    expect(error).toMatchObject({
      name: 'ForgeError',
      retryable: true,
      message: 'GitHub: react to comment failed: network error',
    });
  });

  it('keeps tokens out of messages', () => {
    const error = toForgeError(
      Object.assign(new Error('Bad credentials for token ghs_secret123'), { status: 401, response: { headers: {} } }),
      'read pull request',
    );
    expect(error.message).toBe('GitHub: read pull request failed: HTTP 401');
    expect(error.retryable).toBe(false);
    expect(toForgeError(new TypeError('x is undefined'), 'compare')).toMatchObject({
      retryable: false,
      status: undefined,
    });
  });

  it('builds clone credentials from the minted token and converts a failed mint', async () => {
    const forge = newForge(api(), { host: 'ghe.example.com', protocol: 'http' });
    expect(await forge.cloneCredentials(REPO)).toEqual({
      url: 'http://x-access-token:ghs_clone@ghe.example.com/acme/widgets.git',
      expiresAt: 1_900_000_000_000,
    });
    const failing = newForge(api(), {
      mintToken: () => Promise.reject(Object.assign(new Error('x'), { status: 503, response: { headers: {} } })),
    });
    await expect(failing.cloneCredentials(REPO)).rejects.toMatchObject({
      name: 'ForgeError',
      status: 503,
      retryable: true,
    });
  });
});

describe('GitHub Enterprise Server: order tokens (a real Probot with a generated app key)', () => {
  const ghe = useApi({ baseUrl: 'https://ghe.example.com/api/v3', spec: 'ghes-3.19' });

  it('mints order tokens as the app on GHE (its /api/v3 base), narrowed to the repository and permissions', async () => {
    const probot = createTestProbot({ baseUrl: ghe().baseUrl });
    const forges = createGitHubForges({ probot, host: 'ghe.example.com', appSlug: APP_SLUG });
    ghe()
      .get('/app/installations/42')
      .reply(200, { id: 42, permissions: { metadata: 'read', contents: 'write' } });
    ghe()
      .post('/app/installations/42/access_tokens')
      .body({ repositories: ['widgets'], permissions: { metadata: 'read', contents: 'write' } })
      .reply(201, { token: 'ghs_order', expires_at: '2030-01-01T01:00:00Z' });
    ghe()
      .post('/app/installations/42/access_tokens')
      .body({ repositories: ['widgets'], permissions: { metadata: 'read', contents: 'read' } })
      .reply(201, { token: 'ghs_default', expires_at: '2030-01-01T01:00:00Z' });
    ghe().delete('/installation/token').reply(204);
    const forge = await forges.forInstallation(42);
    expect(await forge.mintOrderToken(REPO, { contents: 'write' })).toEqual({
      token: 'ghs_order',
      expiresAt: Date.parse('2030-01-01T01:00:00Z'),
      revocable: true,
    });
    // The default set's packages: read is not granted: left out (and said), the installation read once.
    expect(await forge.mintOrderToken(REPO, undefined)).toMatchObject({
      token: 'ghs_default',
      dropped: ['packages: read'],
    });
    await forge.revokeOrderToken('ghs_order');
    const [grant, minted, , revoke] = ghe().requests();
    expect(grant?.headers.authorization).toMatch(/^bearer /i); // the app's JWT
    expect(minted?.headers.authorization).toMatch(/^bearer /i);
    expect(revoke?.headers.authorization).toBe('token ghs_order'); // the order's own token
  });
});

describe('GitHub forges registry (a real Probot with a generated app key)', () => {
  const api = useApi();

  it('acts as the installation and mints narrowed clone tokens as the app', async () => {
    const probot = createTestProbot();
    const forges = createGitHubForges({ probot, host: 'github.com', appSlug: APP_SLUG });
    api()
      .post('/app/installations/42/access_tokens')
      .reply(201, { token: 'ghs_installation', expires_at: '2030-01-01T00:00:00Z', permissions: {} });
    api()
      .post(`${repoPath(REPO)}/statuses/${SHA}`)
      .reply(201, { id: 1 });
    api()
      .post('/app/installations/42/access_tokens')
      .body({ repositories: ['widgets'], permissions: { contents: 'read' } })
      .reply(201, { token: 'ghs_clone_only', expires_at: '2030-01-01T01:00:00Z' });

    const forge = await forges.forInstallation(42);
    expect(await forges.forInstallation({ installationId: 42 })).toBe(forge);
    await forge.setStatus(REPO, SHA, { context: 'spotcheck/ci/build', state: 'pending', description: 'queued' });
    expect(await forge.cloneCredentials(REPO)).toEqual({
      url: 'https://x-access-token:ghs_clone_only@github.com/acme/widgets.git',
      expiresAt: Date.parse('2030-01-01T01:00:00Z'),
    });

    const [installationToken, status, cloneToken] = api().requests();
    expect(installationToken?.headers.authorization).toMatch(/^bearer /i); // the app's JWT
    expect(status?.headers.authorization).toBe('token ghs_installation');
    expect(cloneToken?.headers.authorization).toMatch(/^bearer /i);
  });

  it('fails an order token asked beyond the grant, naming what is missing, and requests no token', async () => {
    const probot = createTestProbot();
    const forges = createGitHubForges({ probot, host: 'github.com', appSlug: APP_SLUG });
    api()
      .get('/app/installations/42')
      .reply(200, { id: 42, permissions: { metadata: 'read', contents: 'read' } });
    const forge = await forges.forInstallation(42);
    const error = await forge.mintOrderToken(REPO, 'write-all').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ForgeError);
    expect(error).toMatchObject({ retryable: false, status: 422 });
    expect((error as Error).message).toContain('contents: write');
    expect((error as Error).message).toContain('pull_requests: write');
    expect(api().requests()).toHaveLength(1);
  });

  it('converts a refused mint (GitHub 422) to a permanent error and a failed revoke to a ForgeError', async () => {
    const forge = newForge(api());
    api()
      .get('/app/installations/42')
      .reply(200, { id: 42, permissions: { metadata: 'read', contents: 'read' } });
    api()
      .post('/app/installations/42/access_tokens')
      .reply(422, { message: 'The permissions requested are not granted to this installation.' });
    await expect(forge.mintOrderToken(REPO, { contents: 'read' })).rejects.toMatchObject({
      name: 'ForgeError',
      status: 422,
      retryable: false,
    });
    api().delete('/installation/token').reply(500, { message: 'boom' });
    await expect(forge.revokeOrderToken('ghs_x')).rejects.toMatchObject({ name: 'ForgeError', status: 500 });
  });

  it('rejects an event without an installation id', async () => {
    const forges = createGitHubForges({ probot: createTestProbot(), host: 'github.com', appSlug: APP_SLUG });
    await expect(forges.forInstallation({})).rejects.toThrow(/installation id/);
  });

  it('builds a new forge after the cache time', async () => {
    let clock = 0;
    const forges = createGitHubForges({
      probot: createTestProbot(),
      host: 'github.com',
      appSlug: APP_SLUG,
      cacheMs: 1000,
      now: () => clock,
    });
    const first = await forges.forInstallation(7);
    clock = 999;
    expect(await forges.forInstallation(7)).toBe(first);
    clock = 1000;
    expect(await forges.forInstallation(7)).not.toBe(first);
  });
});

describe('the harness itself', () => {
  it.each([
    ['GET', '/repos/o/r/pulls/1', undefined, []],
    ['GET', '/repos/o/r/nope/1', undefined, ["GET /repos/o/r/nope/1: no path in GitHub's OpenAPI description matches"]],
    ['DELETE', '/users/octocat', undefined, ['DELETE /users/octocat: /users/{username} has no DELETE (it has GET)']],
    [
      'POST',
      '/repos/o/r/statuses/abc',
      { description: 'no state' },
      ['POST /repos/{owner}/{repo}/statuses/{sha}: body.state is required'],
    ],
    [
      'POST',
      '/repos/o/r/issues/comments/1/reactions',
      { content: 'party' },
      [
        'POST /repos/{owner}/{repo}/issues/comments/{comment_id}/reactions: body.content must be one of "+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes", got "party"',
      ],
    ],
    [
      'GET',
      '/repos/o/r/issues/undefined/comments',
      undefined,
      ['GET /repos/{owner}/{repo}/issues/{issue_number}/comments: path parameter issue_number is "undefined"'],
    ],
    [
      'GET',
      '/repos/o/r/contents/a%2Fb.yml?rev=main',
      undefined,
      ['GET /repos/{owner}/{repo}/contents/{path}: query parameter rev is not declared'],
    ],
    ['GET', 'https://ghe.example.com/api/v3/repos/o/r/compare/a...b?per_page=1', undefined, []],
    [
      'PATCH',
      '/repos/o/r/issues/comments/1',
      undefined,
      ['PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}: the JSON request body is required'],
    ],
  ] as const)('checkGitHubRequest(%s %s)', (method, url, body, problems) => {
    expect(checkGitHubRequest(method, url, body)).toEqual(problems);
  });

  it('fails on an expectation left unused and on a request nothing was set up for', async () => {
    const api = createGitHubApi();
    try {
      api.get('/users/unused').reply(200, {});
      const octokit = createTestOctokit();
      await expect(octokit.request('GET /users/{username}', { username: 'other' })).rejects.toMatchObject({
        status: 501,
      });
      expect(api.problems()).toEqual(['no interceptor for GET /users/other']);
      expect(() => api.assertDone()).toThrow(
        /no interceptor for GET \/users\/other[\s\S]*set up but not called: GET \/users\/unused/,
      );
    } finally {
      api.close();
    }
  });

  it('fails a request to a host without a harness instead of letting it reach the network', async () => {
    const api = createGitHubApi();
    try {
      await expect(
        createTestOctokit('https://elsewhere.example.com').request('GET /users/octocat'),
      ).rejects.toMatchObject({
        status: 500,
      });
      expect(api.problems()).toEqual([
        expect.stringMatching(/^request without a harness: GET .*elsewhere\.example\.com/),
      ]);
    } finally {
      api.close();
    }
  });

  it('records an OpenAPI violation even when an expectation answered it', async () => {
    const api = createGitHubApi();
    try {
      api.post('/repos/o/r/statuses/abc').reply(201, {});
      // A route string Octokit has no types for, so the wrong state compiles and reaches the harness.
      await createTestOctokit().request('POST /repos/o/r/statuses/abc', { state: 'sunny' });
      expect(api.problems()).toEqual([
        'POST /repos/{owner}/{repo}/statuses/{sha}: body.state must be one of "error", "failure", "pending", "success", got "sunny"',
      ]);
    } finally {
      api.close();
    }
  });
});
