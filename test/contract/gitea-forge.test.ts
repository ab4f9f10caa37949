/**
 * The Gitea Forge adapter: the shared Forge contract over the swagger-checked nock harness, then Gitea's own cases
 * (`{+path}` file paths, the 303 on membership, compare's per-commit files, pagination, state mapping, retries,
 * error conversion, clone credentials) and the check that GITEA_ENDPOINTS is exactly what the adapter calls.
 */
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RepoRef } from '../../src/core/types.ts';
import { ForgeError } from '../../src/errors.ts';
import type { Forge, ForgeJob } from '../../src/forges/forge.ts';
import { GITEA_CAPACITY_ENDPOINTS } from '../../src/forges/gitea-capacity.ts';
import {
  GITEA_ENDPOINTS,
  GITEA_SERVER_ENDPOINTS,
  type GiteaForgeOptions,
  createGiteaForge,
  toForgeError,
} from '../../src/forges/gitea.ts';
import {
  type GiteaApi,
  type GiteaApiOptions,
  checkGiteaRequest,
  createGiteaApi,
  hasGiteaEndpoint,
} from '../helpers/gitea-api.ts';
import {
  type CapacityStub,
  defineForgeContract,
  type ForgeStub,
  type ReceivedStatus,
  type ReceivedWrite,
} from './forge-contract.ts';

const TOKEN = 'gitea_token_0123456789abcdef';
const CLONE_TOKEN = 'gitea_clone_token_fedcba';
const BOT = 'spotcheck-bot';
const REPO: RepoRef = { forge: 'gitea', host: 'gitea.example.org', owner: 'acme', name: 'widgets' };
const SHA = '8d3a1f0c2b4e6a7d9c1e3f5a7b9d1c3e5f7a9b1d';
const BASE = '1c3e5f7a9b1d8d3a1f0c2b4e6a7d9c1e3f5a7b9d';
const MARKER = '<!-- spotcheck:sticky -->';
const DIR = '.spotcheck/workflows';

const bot = { id: 2, login: BOT };
const human = { id: 3, login: 'mallory' };

function repoPath(repo: RepoRef): string {
  return `/repos/${repo.owner}/${repo.name}`;
}

/** Endpoints the adapter was seen calling, across this file. */
const seenEndpoints = new Set<string>();

/** Closes a harness; fails on its problems, unused expectations, and calls to endpoints not in GITEA_ENDPOINTS. */
function finish(api: GiteaApi): void {
  api.close();
  for (const r of api.requests()) {
    if (r.endpoint === undefined) continue;
    expect(
      [...GITEA_ENDPOINTS, ...GITEA_CAPACITY_ENDPOINTS] as readonly string[],
      `${r.endpoint} is called but not in GITEA_ENDPOINTS or GITEA_CAPACITY_ENDPOINTS`,
    ).toContain(r.endpoint);
    seenEndpoints.add(r.endpoint);
  }
  api.assertDone();
}

afterAll(() => {
  // An entry nothing calls would ask operators for a token scope that is never used.
  expect([...GITEA_ENDPOINTS, ...GITEA_CAPACITY_ENDPOINTS].filter((e) => !seenEndpoints.has(e))).toEqual([]);
});

/** A recorder for the retry waits: tests count them, nothing sleeps. */
function recordingSleep(): { readonly delays: number[]; readonly sleep: (ms: number) => Promise<void> } {
  const delays: number[] = [];
  return {
    delays,
    sleep: (ms) => {
      delays.push(ms);
      return Promise.resolve();
    },
  };
}

function newForge(api: GiteaApi, overrides: Partial<GiteaForgeOptions> = {}): Forge {
  return createGiteaForge({
    baseUrl: api.baseUrl,
    token: TOKEN,
    botLogin: BOT,
    cloneToken: CLONE_TOKEN,
    retry: { sleep: () => Promise.resolve() },
    now: () => 1_800_000_000_000,
    ...overrides,
  });
}

function fileEntry(path: string, size: number, type = 'file'): Record<string, unknown> {
  return { type, name: path.slice(path.lastIndexOf('/') + 1), path, size, sha: 'f'.repeat(40) };
}

function commit(sha: string, files: readonly string[]): Record<string, unknown> {
  return { sha, files: files.map((filename) => ({ filename, status: 'modified' })) };
}

/** The Forge contract's stub, spoken as Gitea's REST API through the harness. */
function createGiteaStub(api: GiteaApi): ForgeStub {
  const statuses: ReceivedStatus[] = [];
  const writes: ReceivedWrite[] = [];
  return {
    workflows(repo, sha, folders) {
      for (const [folder, files] of Object.entries(folders)) {
        const listing = api.get(`${repoPath(repo)}/contents/${folder}?ref=${sha}`);
        if (files === undefined) {
          listing.reply(404, { message: 'object does not exist' });
          continue;
        }
        // Gitea lists a folder in its own order; the adapter must sort.
        listing.reply(
          200,
          Object.entries(files)
            .reverse()
            .map(([path, text]) => fileEntry(path, Buffer.byteLength(text))),
        );
        for (const [path, text] of Object.entries(files)) {
          if (!/\.ya?ml$/.test(path)) continue;
          api
            .get(`${repoPath(repo)}/raw/${path}?ref=${sha}`)
            .reply(200, Buffer.from(text), { 'content-type': 'text/plain; charset=utf-8' });
        }
      }
    },
    file(repo, ref, path, text) {
      const read = api.get(`${repoPath(repo)}/raw/${path}?ref=${ref}`);
      if (text === undefined) read.reply(404, { message: 'object does not exist' });
      else read.reply(200, Buffer.from(text), { 'content-type': 'text/plain; charset=utf-8' });
    },
    compare(repo, base, head, files) {
      // Two commits, the files split between them (and one shared), as Gitea lists them per commit.
      const half = Math.ceil(files.length / 2);
      api.get(`${repoPath(repo)}/compare/${base}...${head}`).reply(200, {
        total_commits: 2,
        commits: [commit(BASE, files.slice(0, half)), commit(head, files.slice(half - 1))],
      });
    },
    unknownBase(repo, base, head) {
      api.get(`${repoPath(repo)}/compare/${base}...${head}`).reply(404, { message: 'not found' });
    },
    pullRequestFiles(repo, pr, files) {
      api.get(`${repoPath(repo)}/pulls/${pr}/files?page=1&limit=50`).reply(
        200,
        files.map((filename) => ({ filename, status: 'changed' })),
        { 'x-hasmore': 'false' },
      );
    },
    pullRequest(repo, pr, facts) {
      const request = api.get(`${repoPath(repo)}/pulls/${pr}`);
      if (facts === undefined) request.reply(404, { message: 'not found' });
      else {
        request.reply(200, {
          number: facts.number,
          state: facts.state,
          merged: facts.merged,
          user: { login: facts.author },
          head: { sha: facts.headSha, ref: facts.headRef, repo: { full_name: facts.headRepo } },
          base: { ref: facts.baseRef, repo: { full_name: `${repo.owner}/${repo.name}` } },
          updated_at: new Date(facts.updatedAt).toISOString(),
        });
      }
    },
    account(owner, kind) {
      // Gitea tells an organization by GET /orgs/{org} answering at all.
      const request = api.get(`/orgs/${owner}`);
      if (kind === 'organization') request.reply(200, { id: 1, name: owner, username: owner });
      else request.reply(404, { message: 'not found' });
    },
    membership(org, user, answer) {
      const status = answer === 'member' ? 204 : answer === 'not-member' ? 404 : 502;
      // One request for an answer; the 502 is retried (3 attempts) before the check gives up.
      api
        .get(`/orgs/${org}/members/${user}`)
        .times(status === 502 ? 3 : 1)
        .reply(status);
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
        return { status: 201, body: { id: statuses.length, status: body.state, context: body.context } };
      });
    },
    comments(repo, pr, comments) {
      api.get(`${repoPath(repo)}/issues/${pr}/comments`).reply(
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
        return { status: 201, body: { content, user: bot } };
      });
    },
    // Gitea has no scoped tokens: every order gets the configured one (GITEA_ACTIONS_TOKEN, else the clone token)
    // without a request, and nothing is revoked.
    orderToken: () => CLONE_TOKEN,
    acceptRevoke() {},
    statuses: () => [...statuses],
    writes: () => [...writes],
  };
}

/** Gitea's shape of an Actions job (`ActionWorkflowJob`). */
function rawJob(job: ForgeJob): Record<string, unknown> {
  return {
    id: job.jobId,
    run_id: job.runId,
    labels: job.labels,
    status: job.status,
    ...(job.runnerName === undefined ? {} : { runner_name: job.runnerName }),
  };
}

/** The contract's capacity stub, spoken as Gitea's Actions REST API. */
function createGiteaCapacityStub(api: GiteaApi): CapacityStub {
  return {
    queuedJobs(repo, jobs) {
      api
        .get(`${repoPath(repo)}/actions/jobs`)
        .query({ status: 'queued', page: 1, limit: 50 })
        .reply(200, { total_count: jobs.length, jobs: jobs.map(rawJob) });
    },
    job(repo, jobId, job) {
      const answer = api.get(`${repoPath(repo)}/actions/jobs/${jobId}`);
      if (job === undefined) answer.reply(404, { message: 'not found' });
      else answer.reply(200, rawJob(job));
    },
    acceptRegistration(repo) {
      api.post(`${repoPath(repo)}/actions/runners/registration-token`).reply(200, { token: 'REGISTRATION-TOKEN' });
      return { kind: 'gitea', instanceUrl: api.baseUrl, token: 'REGISTRATION-TOKEN' };
    },
    acceptRunnerRemoval(repo, runner, gone) {
      api
        .delete(`${repoPath(repo)}/actions/runners/${runner.id}`)
        .reply(gone ? 404 : 204, gone ? { message: 'not found' } : '');
    },
    actionsWorkflows(repo, sha, files) {
      const listing = Object.entries(files).map(([path, text]) => ({
        name: path.split('/').pop(),
        path,
        type: 'file',
        size: Buffer.byteLength(text),
      }));
      api
        .get(`${repoPath(repo)}/contents/.gitea/workflows`)
        .query({ ref: sha })
        .reply(200, listing);
      for (const [path, text] of Object.entries(files)) {
        if (!/\.ya?ml$/.test(path)) continue;
        api
          .get(`${repoPath(repo)}/raw/${path}`)
          .query({ ref: sha })
          .reply(200, text);
      }
    },
  };
}

defineForgeContract('Gitea', () => {
  const api = createGiteaApi();
  return {
    forge: newForge(api),
    stub: createGiteaStub(api),
    capacity: createGiteaCapacityStub(api),
    repo: REPO,
    teardown() {
      finish(api);
    },
  };
});

defineForgeContract('Gitea under a sub-path (https://git.example.net:3000/gitea)', () => {
  const api = createGiteaApi({ baseUrl: 'https://git.example.net:3000/gitea' });
  return {
    forge: newForge(api),
    stub: createGiteaStub(api),
    capacity: createGiteaCapacityStub(api),
    repo: { ...REPO, host: 'git.example.net:3000' },
    teardown() {
      finish(api);
    },
  };
});

/** A harness per test, closed and checked after it. */
function useApi(options: GiteaApiOptions = {}): () => GiteaApi {
  let api: GiteaApi | undefined;
  beforeEach(() => {
    api = createGiteaApi(options);
  });
  afterEach(() => {
    if (api !== undefined) finish(api);
  });
  return () => api!;
}

describe('Gitea forge: workflow files', () => {
  const api = useApi();

  it('sends file paths as {+path} (slashes kept) and the token in the Authorization header', async () => {
    api()
      .get(`${repoPath(REPO)}/contents/${DIR}?ref=${SHA}`)
      .reply(200, [fileEntry(`${DIR}/my ci.yml`, 8)]);
    api()
      .get(`${repoPath(REPO)}/raw/${DIR}/my ci.yml?ref=${SHA}`)
      .reply(200, 'name: a\n');
    const files = await newForge(api()).readWorkflows(REPO, SHA, [DIR]);
    expect(files).toEqual([{ path: `${DIR}/my ci.yml`, text: 'name: a\n', size: 8 }]);
    const [listing, raw] = api().requests();
    expect(listing?.rawPath).toBe(`/repos/acme/widgets/contents/.spotcheck/workflows`);
    expect(raw?.rawPath).toBe(`/repos/acme/widgets/raw/.spotcheck/workflows/my%20ci.yml`);
    expect(
      api()
        .requests()
        .map((r) => r.headers.authorization),
    ).toEqual([`token ${TOKEN}`, `token ${TOKEN}`]);
  });

  it('reads W files in W + 1 requests', async () => {
    const names = ['a', 'b', 'c', 'd'];
    api()
      .get(`${repoPath(REPO)}/contents/${DIR}?ref=${SHA}`)
      .reply(
        200,
        names.map((n) => fileEntry(`${DIR}/${n}.yml`, 8)),
      );
    for (const n of names)
      api()
        .get(`${repoPath(REPO)}/raw/${DIR}/${n}.yml?ref=${SHA}`)
        .reply(200, `name: ${n}\n`);
    const files = await newForge(api()).readWorkflows(REPO, SHA, [DIR]);
    expect(files.map((f) => f.text)).toEqual(names.map((n) => `name: ${n}\n`));
    expect(api().requests()).toHaveLength(names.length + 1);
  });

  it('does not download a file above 512 KiB, nor symlinks, nor sub-folders', async () => {
    api()
      .get(`${repoPath(REPO)}/contents/${DIR}?ref=${SHA}`)
      .reply(200, [
        fileEntry(`${DIR}/huge.yml`, 512 * 1024 + 1),
        fileEntry(`${DIR}/link.yml`, 10, 'symlink'),
        fileEntry(`${DIR}/nested.yml`, 0, 'dir'),
        fileEntry(`${DIR}/ok.yml`, 512 * 1024),
      ]);
    api()
      .get(`${repoPath(REPO)}/raw/${DIR}/ok.yml?ref=${SHA}`)
      .reply(200, 'name: ok\n');
    const files = await newForge(api()).readWorkflows(REPO, SHA, [DIR]);
    expect(files).toEqual([
      { path: `${DIR}/huge.yml`, text: '', size: 512 * 1024 + 1 },
      { path: `${DIR}/ok.yml`, text: 'name: ok\n', size: 512 * 1024 },
    ]);
    expect(api().requests()).toHaveLength(2);
  });

  it('reads no workflows when the path is a file, not a folder', async () => {
    api()
      .get(`${repoPath(REPO)}/contents/${DIR}?ref=${SHA}`)
      .reply(200, { type: 'file', path: DIR, size: 3, encoding: 'base64', content: '' });
    expect(await newForge(api()).readWorkflows(REPO, SHA, [DIR])).toEqual([]);
  });

  it('retries a 502 twice, then fails with a retryable ForgeError', async () => {
    const { delays, sleep } = recordingSleep();
    api()
      .get(`${repoPath(REPO)}/contents/${DIR}?ref=${SHA}`)
      .times(3)
      .reply(502, { message: 'Bad Gateway' });
    const error = await newForge(api(), { retry: { sleep, baseDelayMs: 100 } })
      .readWorkflows(REPO, SHA, [DIR])
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ForgeError);
    expect(error).toMatchObject({
      status: 502,
      retryable: true,
      message: 'Gitea: list workflow files failed: HTTP 502',
    });
    expect(delays).toEqual([100, 200]);
  });

  it('recovers when a retry succeeds, honouring Retry-After (seconds and HTTP date)', async () => {
    const { delays, sleep } = recordingSleep();
    const now = 1_800_000_000_000;
    api()
      .get(`${repoPath(REPO)}/contents/${DIR}?ref=${SHA}`)
      .reply(429, { message: 'slow down' }, { 'retry-after': '2' });
    api()
      .get(`${repoPath(REPO)}/contents/${DIR}?ref=${SHA}`)
      .reply(503, { message: 'busy' }, { 'retry-after': new Date(now + 3000).toUTCString() });
    api()
      .get(`${repoPath(REPO)}/contents/${DIR}?ref=${SHA}`)
      .reply(404, { message: 'not found' });
    const forge = newForge(api(), { retry: { sleep, attempts: 3 }, now: () => now });
    expect(await forge.readWorkflows(REPO, SHA, [DIR])).toEqual([]);
    expect(delays).toEqual([2000, 3000]);
  });

  it('does not wait for a Retry-After above the cap: one request, a retryable error', async () => {
    const { delays, sleep } = recordingSleep();
    api()
      .get(`${repoPath(REPO)}/contents/${DIR}?ref=${SHA}`)
      .reply(429, { message: 'slow down' }, { 'retry-after': '3600' });
    const error = await newForge(api(), { retry: { sleep } })
      .readWorkflows(REPO, SHA, [DIR])
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'ForgeError', status: 429, retryable: true });
    expect(delays).toEqual([]);
  });
});

describe('Gitea forge: changed files', () => {
  const api = useApi();
  const compare = `${repoPath(REPO)}/compare/${BASE}...${SHA}`;

  it('unions the files of every commit (Gitea lists files per commit), with no query parameters', async () => {
    api()
      .get(compare)
      .reply(200, {
        total_commits: 3,
        commits: [
          commit('c1', ['src/a.ts', 'README.md']),
          commit('c2', ['src/a.ts']),
          {
            sha: 'c3',
            files: [
              { filename: 'docs/old.md', status: 'removed' },
              { filename: 'docs/new.md', status: 'added' },
            ],
          },
        ],
      });
    const files = await newForge(api()).changedFiles(REPO, BASE, SHA);
    expect([...(files ?? [])].sort()).toEqual(['README.md', 'docs/new.md', 'docs/old.md', 'src/a.ts']);
    expect(api().requests()[0]?.query).toEqual({});
  });

  it.each([
    ['fewer commits than total_commits', { total_commits: 2, commits: [commit('c1', ['a'])] }],
    ['a commit without files', { total_commits: 2, commits: [commit('c1', ['a']), { sha: 'c2' }] }],
    ['no commits at all (no common history)', { total_commits: 0, commits: [] }],
    ['no commits array', { total_commits: 1 }],
  ] as const)('answers null when the answer does not add up: %s', async (_label, body) => {
    api().get(compare).reply(200, body);
    expect(await newForge(api()).changedFiles(REPO, BASE, SHA)).toBeNull();
  });

  it('answers an empty list when base and head are the same commit', async () => {
    api()
      .get(`${repoPath(REPO)}/compare/${SHA}...${SHA}`)
      .reply(200, { total_commits: 0, commits: [] });
    expect(await newForge(api()).changedFiles(REPO, SHA, SHA)).toEqual([]);
  });

  it('fails with a ForgeError on 500 after retrying', async () => {
    api().get(compare).times(3).reply(500, { message: 'boom' });
    await expect(newForge(api()).changedFiles(REPO, BASE, SHA)).rejects.toMatchObject({
      name: 'ForgeError',
      status: 500,
      retryable: true,
    });
  });
});

describe('Gitea forge: pull requests', () => {
  const api = useApi();
  const files = `${repoPath(REPO)}/pulls/5/files`;
  const page = (n: number, start: number) =>
    Array.from({ length: n }, (_, i) => ({ filename: `f${start + i}`, status: 'modified' }));

  it('pages through pull request files with page/limit until X-HasMore is false', async () => {
    api().get(`${files}?page=1&limit=50`).reply(200, page(50, 0), { 'x-hasmore': 'true' });
    api()
      .get(`${files}?page=2&limit=50`)
      .reply(200, [...page(2, 50), { filename: 'new.ts', previous_filename: 'old.ts', status: 'renamed' }], {
        'x-hasmore': 'false',
      });
    const result = await newForge(api()).pullRequestFiles(REPO, 5);
    expect(result).toHaveLength(54);
    expect(result).toEqual(expect.arrayContaining(['new.ts', 'old.ts', 'f0', 'f51']));
  });

  it('without X-HasMore, reads on until an empty page (a server may cap the page size lower)', async () => {
    api().get(`${files}?page=1&limit=50`).reply(200, page(30, 0));
    api().get(`${files}?page=2&limit=50`).reply(200, page(30, 30));
    api().get(`${files}?page=3&limit=50`).reply(200, []);
    expect(await newForge(api()).pullRequestFiles(REPO, 5)).toHaveLength(60);
  });

  it('answers null at 3000 files', async () => {
    for (let p = 1; p <= 60; p++) {
      api()
        .get(`${files}?page=${p}&limit=50`)
        .reply(200, page(50, p * 50), { 'x-hasmore': 'true' });
    }
    expect(await newForge(api()).pullRequestFiles(REPO, 5)).toBeNull();
    expect(api().requests()).toHaveLength(60);
  });

  it('maps a merged pull request whose fork is gone', async () => {
    api()
      .get(`${repoPath(REPO)}/pulls/11`)
      .reply(200, {
        number: 11,
        state: 'closed',
        merged: true,
        user: { login: 'octocat' },
        head: { sha: SHA, ref: 'refs/pull/11/head', repo: null },
        base: { ref: 'main' },
        updated_at: '2024-05-01T12:00:07Z',
      });
    expect(await newForge(api()).pullRequest(REPO, 11)).toMatchObject({ state: 'closed', merged: true, headRepo: '' });
  });
});

describe('Gitea forge: accounts and membership', () => {
  const api = useApi();

  it('answers not a member on 303 (the bot cannot see private members) without following the redirect', async () => {
    api()
      .get('/orgs/acme/members/octocat')
      .reply(303, '', { location: `${api().baseUrl}/api/v1/orgs/acme/public_members/octocat` });
    const answer = await newForge(api()).isOrgMember('acme', 'octocat');
    expect(answer).toEqual({
      member: false,
      reason:
        'cannot see the members of acme: the bot user is not a member of it (Gitea hides private members from outsiders)',
      undetermined: true,
    });
    expect(api().requests()).toHaveLength(1);
  });

  it('answers not a member, determined, on 404 only', async () => {
    api().get('/orgs/acme/members/octocat').reply(404, { message: 'not found' });
    expect(await newForge(api()).isOrgMember('acme', 'octocat')).toEqual({
      member: false,
      reason: 'octocat is not a member of acme',
    });
  });

  it('answers not a member on a network error, naming it, after retrying', async () => {
    api().get('/orgs/acme/members/octocat').times(3).replyWithNetworkError('ECONNRESET');
    expect(await newForge(api()).isOrgMember('acme', 'octocat')).toEqual({
      member: false,
      reason: 'membership check failed: network error',
      undetermined: true,
    });
  });

  it('isOrganization answers false on an error', async () => {
    api().get('/orgs/acme').times(3).reply(500, { message: 'boom' });
    expect(await newForge(api()).isOrganization('acme')).toBe(false);
  });
});

describe('Gitea forge: statuses and comments', () => {
  const api = useApi();

  it.each([
    ['pending', 'pending'],
    ['success', 'success'],
    ['failure', 'failure'],
    ['error', 'error'],
  ] as const)('sends state %s as Gitea state %s', async (state, giteaState) => {
    api()
      .post(`${repoPath(REPO)}/statuses/${SHA}`)
      .body({ state: giteaState, context: 'spotcheck/ci/build', description: 'd' })
      .reply(201, { id: 1 });
    await newForge(api()).setStatus(REPO, SHA, { context: 'spotcheck/ci/build', state, description: 'd' });
  });

  it('finds the sticky comment by login case-insensitively, in one request (Gitea lists all comments)', async () => {
    api()
      .get(`${repoPath(REPO)}/issues/3/comments`)
      .reply(200, [
        { id: 1, body: `${MARKER}\nquoted`, user: human },
        { id: 2, body: `${MARKER}\nanother bot`, user: { login: 'other-bot' } },
        { id: 3, body: `quoting ${MARKER}`, user: bot },
        { id: 4, body: `\n${MARKER}\nmine`, user: { login: 'SpotCheck-Bot' } },
      ]);
    expect(await newForge(api()).findStickyComment(REPO, 3, MARKER)).toEqual({ id: 4, body: `\n${MARKER}\nmine` });
    expect(api().requests()).toHaveLength(1);
  });

  it('cuts a comment above 65,536 characters', async () => {
    api()
      .post(`${repoPath(REPO)}/issues/3/comments`)
      .reply((request) => ({ status: 201, body: { id: 5, body: (request.body as { body: string }).body } }));
    const created = await newForge(api()).createComment(REPO, 3, 'y'.repeat(70_000));
    expect(created.body).toHaveLength(65_536);
    expect(created.body.endsWith('…')).toBe(true);
  });

  it('never posts a comment twice: a 502 on create is not retried, a 429 is', async () => {
    api()
      .post(`${repoPath(REPO)}/issues/3/comments`)
      .reply(502, { message: 'bad gateway' });
    const error = await newForge(api())
      .createComment(REPO, 3, 'hello')
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'ForgeError', status: 502, retryable: true });
    expect(api().requests()).toHaveLength(1);

    api()
      .post(`${repoPath(REPO)}/issues/3/comments`)
      .reply(429, { message: 'slow down' });
    api()
      .post(`${repoPath(REPO)}/issues/3/comments`)
      .reply(201, { id: 6, body: 'hello', user: bot });
    expect(await newForge(api()).createComment(REPO, 3, 'hello')).toEqual({ id: 6, body: 'hello' });
  });

  it('accepts 200 for a reaction the bot already gave', async () => {
    api()
      .post(`${repoPath(REPO)}/issues/comments/8/reactions`)
      .body({ content: 'eyes' })
      .reply(200, { content: 'eyes', user: bot });
    await newForge(api()).reactToComment(REPO, 8, 'eyes');
  });
});

describe('Gitea forge: errors and clone credentials', () => {
  const api = useApi();

  it.each([
    ['HTTP 500', 500, 3, true],
    ['HTTP 502', 502, 3, true],
    ['HTTP 429', 429, 3, true],
    ['HTTP 403', 403, 1, false],
    ['HTTP 404', 404, 1, false],
    ['HTTP 422', 422, 1, false],
  ] as const)(
    'setStatus on %s (HTTP %i) → ForgeError after %i request(s), retryable: %s',
    async (_l, status, calls, retryable) => {
      api()
        .post(`${repoPath(REPO)}/statuses/${SHA}`)
        .times(calls)
        .reply(status, { message: `nope ${TOKEN}` });
      const error = await newForge(api())
        .setStatus(REPO, SHA, { context: 'spotcheck/ci/build', state: 'success', description: 'ok' })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ForgeError);
      expect(error).toMatchObject({ status, retryable, message: `Gitea: set commit status failed: HTTP ${status}` });
      expect(api().requests()).toHaveLength(calls);
    },
  );

  it('a network error is retryable and says so, without the token or the URL', async () => {
    api()
      .post(`${repoPath(REPO)}/issues/comments/8/reactions`)
      .times(3)
      .replyWithNetworkError();
    const error = await newForge(api())
      .reactToComment(REPO, 8, 'eyes')
      .catch((e: unknown) => e);
    expect(error).toMatchObject({
      name: 'ForgeError',
      retryable: true,
      message: 'Gitea: react to comment failed: network error',
    });
    expect(JSON.stringify({ message: (error as Error).message, context: (error as ForgeError).context })).not.toMatch(
      /gitea_token|example\.org/,
    );
  });

  it('toForgeError keeps tokens out of messages and passes ForgeErrors through', () => {
    const unknown = toForgeError(new TypeError(`bad ${TOKEN}`), 'compare');
    expect(unknown).toMatchObject({ message: 'Gitea: compare failed: TypeError', retryable: false, status: undefined });
    const forgeError = new ForgeError('x', { retryable: true });
    expect(toForgeError(forgeError, 'y')).toBe(forgeError);
  });

  it('builds clone URLs from the clone token (never the main token), under a sub-path too', async () => {
    expect(await newForge(api()).cloneCredentials(REPO)).toEqual({
      url: `https://${BOT}:${CLONE_TOKEN}@gitea.example.org/acme/widgets.git`,
      expiresAt: 1_800_000_000_000 + 3_600_000,
    });
    const sub = createGiteaForge({
      baseUrl: 'http://git.example.net:3000/gitea/',
      token: TOKEN,
      botLogin: 'bot@ci',
      cloneToken: 'c/t',
    });
    expect((await sub.cloneCredentials(REPO)).url).toBe(
      'http://bot%40ci:c%2Ft@git.example.net:3000/gitea/acme/widgets.git',
    );
    expect(sub.host).toBe('git.example.net:3000');
  });

  it('refuses clone credentials without GITEA_CLONE_TOKEN, saying what to configure', async () => {
    const error = await newForge(api(), { cloneToken: '' })
      .cloneCredentials(REPO)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ForgeError);
    expect((error as Error).message).toMatch(/cloud agents on Gitea need GITEA_CLONE_TOKEN/);
    expect((error as Error).message).not.toContain(TOKEN);
  });
});

describe('Gitea forge: capacity', () => {
  const api = useApi();

  it('removes a runner known by name only: looks its id up among the repository runners, then deletes it', async () => {
    api()
      .get(`${repoPath(REPO)}/actions/runners`)
      .times(2)
      .reply(200, {
        total_count: 2,
        runners: [
          { id: 3, name: 'standing' },
          { id: 4, name: 'spotcheck-a' },
        ],
      });
    api()
      .delete(`${repoPath(REPO)}/actions/runners/4`)
      .reply(204, '');
    await newForge(api()).capacity?.deregister(REPO, { name: 'spotcheck-a' });
    // Not listed: removed already (an ephemeral runner is deleted by Gitea after its task): nothing to delete.
    await newForge(api()).capacity?.deregister(REPO, { name: 'spotcheck-gone' });
    expect(
      api()
        .requests()
        .map((r) => r.method),
    ).toEqual(['GET', 'DELETE', 'GET']);
  });

  it('retries a registration token request answered 502, as every other request of the client', async () => {
    const { delays, sleep } = recordingSleep();
    api()
      .post(`${repoPath(REPO)}/actions/runners/registration-token`)
      .reply(502, { message: 'Bad Gateway' });
    api()
      .post(`${repoPath(REPO)}/actions/runners/registration-token`)
      .reply(200, { token: 'REG' });
    const registration = await newForge(api(), { retry: { sleep, baseDelayMs: 100 } }).capacity?.register(REPO, {
      name: 'spotcheck-a',
      labels: ['gpu'],
    });
    expect(registration).toEqual({ kind: 'gitea', instanceUrl: api().baseUrl, token: 'REG' });
    expect(delays).toEqual([100]);
  });

  it('a registration answer without a token is a retryable ForgeError', async () => {
    api()
      .post(`${repoPath(REPO)}/actions/runners/registration-token`)
      .reply(200, {});
    const error = await newForge(api())
      .capacity?.register(REPO, { name: 'spotcheck-a', labels: ['gpu'] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ForgeError);
    expect(error).toMatchObject({
      retryable: true,
      message: 'Gitea: create a runner registration token failed: no token in the answer',
    });
  });
});

describe('GITEA_ENDPOINTS', () => {
  it.each([...GITEA_ENDPOINTS, ...GITEA_SERVER_ENDPOINTS, ...GITEA_CAPACITY_ENDPOINTS].map((e) => [e]))(
    '%s exists in Gitea’s API description',
    (endpoint) => {
      const [method, template] = endpoint.split(' ') as [string, string];
      expect(hasGiteaEndpoint(method, template)).toBe(true);
    },
  );
});

describe('the harness itself', () => {
  it.each([
    ['GET', '/repos/o/r/pulls/1', undefined, []],
    ['GET', '/api/v1/repos/o/r/raw/.spotcheck/workflows/a.yml?ref=abc', undefined, []],
    ['GET', '/repos/o/r/nope/1', undefined, ["GET /repos/o/r/nope/1: no path in Gitea's API description matches"]],
    ['PUT', '/orgs/acme', undefined, ['PUT /orgs/acme: /orgs/{org} has no PUT (it has GET, PATCH, DELETE)']],
    [
      'GET',
      '/repos/o/r/contents/.spotcheck%2Fworkflows?ref=abc',
      undefined,
      [
        'GET /repos/{owner}/{repo}/contents/{filepath}: path parameter filepath has a percent-encoded slash (Gitea takes it as {+path})',
      ],
    ],
    [
      'POST',
      '/repos/o/r/statuses/abc',
      { state: 'cancelled' },
      [
        'POST /repos/{owner}/{repo}/statuses/{sha}: body.state must be one of "pending", "success", "error", "failure", "warning", "skipped", got "cancelled"',
      ],
    ],
    [
      'POST',
      '/repos/o/r/issues/1/comments',
      { text: 'hi' },
      [
        'POST /repos/{owner}/{repo}/issues/{index}/comments: body.body is required',
        'POST /repos/{owner}/{repo}/issues/{index}/comments: body.text is not a known property',
      ],
    ],
    [
      'GET',
      '/repos/o/r/issues/x/comments',
      undefined,
      ['GET /repos/{owner}/{repo}/issues/{index}/comments: path parameter index must be an integer, got "x"'],
    ],
    [
      'GET',
      '/repos/o/r/issues/1/comments?page=2',
      undefined,
      ['GET /repos/{owner}/{repo}/issues/{index}/comments: query parameter page is not declared'],
    ],
    [
      'PATCH',
      '/repos/o/r/issues/comments/1',
      'not json',
      ['PATCH /repos/{owner}/{repo}/issues/comments/{id}: the request body is not JSON'],
    ],
    [
      'GET',
      '/repos/o/r/pulls/1/files?page=1&limit=ten',
      undefined,
      ['GET /repos/{owner}/{repo}/pulls/{index}/files: query parameter limit must be an integer, got "ten"'],
    ],
  ] as const)('checkGiteaRequest(%s %s)', (method, url, body, problems) => {
    expect(checkGiteaRequest(method, url, body)).toEqual(problems);
  });

  it('fails on an expectation left unused, a request nothing was set up for, and an undeclared reply status', async () => {
    const api = createGiteaApi();
    try {
      api.get('/orgs/unused').reply(200, {});
      api.get('/orgs/acme').reply(201, {});
      expect((await fetch(`${api.baseUrl}/api/v1/orgs/other`)).status).toBe(501);
      expect((await fetch(`${api.baseUrl}/api/v1/orgs/acme`)).status).toBe(201);
    } finally {
      api.close();
    }
    expect(api.problems()).toEqual([
      'no interceptor for GET /orgs/other',
      'GET /orgs/{org}: replies 201, which Gitea does not declare (it declares 200, 404)',
    ]);
    expect(() => api.assertDone()).toThrow(/set up but not called: GET \/orgs\/unused/);
  });
});

describe('Gitea order tokens', () => {
  const api = useApi();

  it('gives every order GITEA_ACTIONS_TOKEN, else the clone token, else none; none for permissions: {}', async () => {
    const withActions = newForge(api(), { actionsToken: 'actions-ro' });
    expect(await withActions.mintOrderToken(REPO, 'write-all')).toEqual({ token: 'actions-ro', revocable: false });
    expect(await withActions.mintOrderToken(REPO, {})).toBeUndefined();
    expect(await newForge(api()).mintOrderToken(REPO, undefined)).toEqual({ token: CLONE_TOKEN, revocable: false });
    expect(await newForge(api(), { cloneToken: '' }).mintOrderToken(REPO, undefined)).toBeUndefined();
    await withActions.revokeOrderToken('actions-ro');
    expect(api().requests()).toHaveLength(0);
  });
});
