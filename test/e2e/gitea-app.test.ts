/**
 * spotcheck on Gitea end to end: `startSpotcheckServer` with only Gitea configured, listening on loopback (embedded
 * store, local runner checking out a real temporary git repository). Deliveries are Gitea's own captures
 * (`test/fixtures/gitea/captured/`) and the payloads derived from them (`test/fixtures/gitea/`), adapted to the
 * temporary repository's SHAs, signed as Gitea signs them (`X-Gitea-Signature`: plain hex HMAC-SHA256 of the body)
 * and POSTed to `/api/gitea/webhooks`. Gitea's API is the swagger-checked nock harness: every request is checked
 * against Gitea's published description, must be one of GITEA_ENDPOINTS (or the server's GET /user), and a request
 * nothing was set up for fails the test.
 *
 * The sticky comment's edits depend on how a run's waves interleave with the single-flight renders, so that
 * interceptor is set up "at most N" and its count asserted; every other interceptor must be used exactly.
 */
import { createHmac, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startSpotcheckServer, type SpotcheckServer } from '../../src/app/start-server.ts';
import { defaultConfig } from '../../src/config.ts';
import type { RunRecord } from '../../src/core/types.ts';
import { GITEA_ENDPOINTS, GITEA_SERVER_ENDPOINTS } from '../../src/forges/gitea.ts';
import { createGiteaApi, type GiteaApi, type RecordedRequest } from '../helpers/gitea-api.ts';
import { makeTwoCommitRepo, PR_WORKFLOW, SLOW_WORKFLOW } from '../helpers/e2e-repo.ts';
import { defineForgeScenarios } from './forge-scenarios.ts';

const SECRET = 'e2e-gitea-webhook-secret';
const TOKEN = 'gitea_e2e_token_0123456789';
const BOT = 'spotcheck-bot';
/** The owner and repository of the multi-commit capture (an organization on that Gitea). */
const ORG = 'Test-CI';
const NAME = 'multi-line-secrets';
const REPO_PATH = `/repos/${ORG}/${NAME}`;
/** The pull request of the derived pull_request payloads. */
const PR = 2;
/** The capture's user: the pusher, the PR author and the commenter. */
const MEMBER = 'test-user';
const OUTSIDER = 'outside-contributor';
const COMMENT_ID = 777;
/** The comment id of the issue_comment capture. */
const TESTME_COMMENT = 2;

const PUSH_WF = `name: ci
on:
  push:
    branches: [main]
jobs:
  build:
    runs-on: local
    outputs:
      greeting: \${{ steps.hello.outputs.greeting }}
    steps:
      - id: hello
        run: echo "greeting=hello from $GITHUB_SHA" >> "$GITHUB_OUTPUT"
  test:
    needs: build
    runs-on: local
    strategy:
      matrix:
        shard: [1, 2]
    steps:
      - run: test -f README.md && echo "shard \${{ matrix.shard }} saw \${{ needs.build.outputs.greeting }}"
`;
/** Runs on any push that touches docs/, and on any push whose changed files are unknown. */
const DOCS_WF = `name: docs
on:
  push:
    paths: ['docs/**']
jobs:
  docs:
    runs-on: local
    steps:
      - run: echo "docs at $GITHUB_REF"
`;
/** Two waves: `test` needs `build`. */
const PR_WF = PR_WORKFLOW;
const SLOW_WF = SLOW_WORKFLOW;

let dir: string;
let repo: string;
/** The temporary repository's first and second commits. */
let head: string;
let moved: string;
let server: SpotcheckServer | undefined;
let harness: GiteaApi | undefined;
/** Interceptors that may be left partly unused: their counts are asserted by the test itself. */
let bounded: string[] = [];

const api = (): GiteaApi => {
  if (harness === undefined) throw new Error('no harness outside a test');
  return harness;
};

beforeEach(async () => {
  harness = createGiteaApi();
  bounded = [];
  ({ dir, repo, first: head, second: moved } = await makeTwoCommitRepo('spotcheck-e2e-gitea-'));
});

afterEach(async () => {
  await server?.close();
  server = undefined;
  await rm(dir, { recursive: true, force: true });
  const h = harness;
  harness = undefined;
  if (h === undefined) return;
  h.close();
  // Every endpoint called is one the adapter (or the server, for its bot login) declares it calls.
  const declared: readonly string[] = [...GITEA_ENDPOINTS, ...GITEA_SERVER_ENDPOINTS];
  const undeclared = h.requests().filter((r) => r.endpoint === undefined || !declared.includes(r.endpoint));
  expect(undeclared.map((r) => `${r.method} ${r.path} (${r.endpoint ?? 'no endpoint'})`)).toEqual([]);
  try {
    h.assertDone();
  } catch (error) {
    // Only "set up but not called" lines of the bounded interceptors are allowed.
    const lines = (error as Error).message
      .split('\n')
      .slice(1)
      .map((l) => l.trim());
    const left = lines.filter((l) => !bounded.some((label) => l === `set up but not called: ${label}`));
    if (left.length > 0) throw new Error(`Gitea API harness:\n  ${left.join('\n  ')}`);
  }
});

async function start(botLogin: string | null = BOT, cloneFromTestRepo = true): Promise<SpotcheckServer> {
  const config = defaultConfig({ dataDir: join(dir, 'data'), publicUrl: 'https://ci.example.com' });
  server = await startSpotcheckServer({
    settings: {
      port: 0,
      host: '127.0.0.1',
      agentSecret: 'x'.repeat(40),
      gitea: {
        url: api().baseUrl,
        token: TOKEN,
        webhookSecret: SECRET,
        ...(botLogin === null ? {} : { botLogin }),
      },
    },
    config,
    logger: pino({ level: 'silent' }),
    tickMs: 0,
    stepEnv: () => ({ PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir }),
    ...(cloneFromTestRepo ? { cloneUrlFor: () => Promise.resolve(repo) } : {}),
  });
  return server;
}

// ---------------------------------------------------------------------------------------------------------------
// Deliveries: Gitea's captures and the payloads derived from them.
// ---------------------------------------------------------------------------------------------------------------

type Payload = Record<string, unknown>;

function capture(name: string): Payload {
  const url = new URL(`../fixtures/gitea/captured/${name}`, import.meta.url);
  return JSON.parse(readFileSync(url, 'utf8')) as Payload;
}

function derived(name: string): Payload {
  return JSON.parse(readFileSync(new URL(`../fixtures/gitea/${name}`, import.meta.url), 'utf8')) as Payload;
}

/** X-Gitea-Event / X-Gitea-Event-Type of each delivery kind (Gitea's modules/webhook/type.go). */
const EVENTS = {
  push: ['push', 'push'],
  delete: ['delete', 'delete'],
  pull_request: ['pull_request', 'pull_request'],
  pull_request_sync: ['pull_request', 'pull_request_sync'],
  pull_request_comment: ['issue_comment', 'pull_request_comment'],
} as const satisfies Record<string, readonly [string, string]>;

/** Gitea's signature: the plain hex HMAC-SHA256 of the raw body (services/webhook/deliver.go). */
function signGitea(secret: string, body: string): string {
  return createHmac('sha256', secret).update(body).digest('hex');
}

async function deliver(
  s: SpotcheckServer,
  kind: keyof typeof EVENTS,
  payload: unknown,
  id: string = randomUUID(),
  secret = SECRET,
): Promise<Response> {
  const body = JSON.stringify(payload);
  const [event, eventType] = EVENTS[kind];
  return fetch(`${s.url}/api/gitea/webhooks`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-gitea-delivery': id,
      'x-gitea-event': event,
      'x-gitea-event-type': eventType,
      'x-gitea-signature': signGitea(secret, body),
    },
    body,
  });
}

/** Delivers and checks the answer (202: accepted and persisted; processing goes on in the background). */
async function accepted(s: SpotcheckServer, kind: keyof typeof EVENTS, payload: unknown, id?: string): Promise<void> {
  const answer = await deliver(s, kind, payload, id);
  expect(answer.status).toBe(202);
}

/** The multi-commit push capture moved onto the temporary repository: one commit, `before` → `after`. */
function pushEvent(before: string, after: string): Payload {
  const payload = capture('push-multi-commit.json');
  const commits = payload['commits'] as Payload[];
  const commit = { ...commits[0]!, id: after, added: [], removed: [], modified: ['README.md'] };
  Object.assign(payload, {
    before,
    after,
    compare_url: `${api().baseUrl}/${ORG}/${NAME}/compare/${before}...${after}`,
    commits: [commit],
    total_commits: 1,
    head_commit: commit,
  });
  return payload;
}

const iso = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** `at`: the PR's `updated_at` (the derived payload's own by default). */
function pullRequestEvent(
  action: 'opened' | 'synchronized',
  o: { readonly author: string; readonly sha: string; readonly at?: number },
): Payload {
  const payload = derived(action === 'opened' ? 'pull_request-opened.json' : 'pull_request-synchronized.json');
  const pr = payload['pull_request'] as Payload;
  if (o.at !== undefined) pr['updated_at'] = iso(o.at);
  Object.assign(pr['head'] as Payload, { sha: o.sha });
  Object.assign(pr['user'] as Payload, { login: o.author, username: o.author });
  Object.assign(payload['sender'] as Payload, { login: o.author, username: o.author });
  return payload;
}

/**
 * The issue_comment capture's derivatives, moved onto the pull request of the derived pull_request payloads (the
 * capture's own repository belongs to a user; this one to an organization).
 */
function commentEvent(
  fixture: 'issue_comment-testme.json' | 'issue_comment-edited.json' | 'issue_comment-by-bot.json',
  by?: string,
  at?: number,
): Payload {
  const payload = derived(fixture);
  if (at !== undefined) Object.assign(payload['comment'] as Payload, { created_at: iso(at), updated_at: iso(at) });
  payload['repository'] = capture('push-multi-commit.json')['repository'];
  const issue = payload['issue'] as Payload;
  Object.assign(issue, { number: PR, repository: { id: 6, name: NAME, owner: ORG, full_name: `${ORG}/${NAME}` } });
  if (by !== undefined) {
    Object.assign((payload['comment'] as Payload)['user'] as Payload, { login: by, username: by });
    Object.assign(payload['sender'] as Payload, { login: by, username: by });
  }
  return payload;
}

async function settle(s: SpotcheckServer, done: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; i < 400 && !(await done()); i++) {
    await s.idle();
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  await s.idle();
}

// ---------------------------------------------------------------------------------------------------------------
// Gitea's side.
// ---------------------------------------------------------------------------------------------------------------

/** `GET /orgs/{org}`: 200 says the owner is an organization (Gitea's payloads never say so). */
function organization(name = ORG): void {
  api().get(`/orgs/${name}`).reply(200, { id: 2, name, username: name, full_name: '', visibility: 'public' });
}

/** Gitea's `orgIsMember`: 204, 404, or 303 to the public members when the bot cannot see private ones. */
function membership(user: string, status: 204 | 404 | 303): void {
  const expectation = api().get(`/orgs/${ORG}/members/${user}`);
  if (status === 204) expectation.reply(204);
  else if (status === 404) expectation.reply(404, { message: 'user is not a member' });
  else expectation.reply(303, '', { location: `${api().baseUrl}/api/v1/orgs/${ORG}/public_members/${user}` });
}

function workflows(sha: string, files: Record<string, string>, repoPath = REPO_PATH): void {
  api()
    .get(`${repoPath}/contents/.spotcheck/workflows`)
    .query({ ref: sha })
    .reply(
      200,
      Object.entries(files).map(([name, text]) => ({
        name,
        path: `.spotcheck/workflows/${name}`,
        sha: `blob-${name}`,
        type: 'file',
        size: text.length,
        encoding: null,
        content: null,
      })),
    );
  for (const [name, text] of Object.entries(files)) {
    api().get(`${repoPath}/raw/.spotcheck/workflows/${name}`).query({ ref: sha }).reply(200, text);
  }
}

/** Gitea's compare: every commit of `base...head` with the files it touched. */
function compare(base: string, headSha: string, files: readonly string[]): void {
  api()
    .get(`${REPO_PATH}/compare/${base}...${headSha}`)
    .reply(200, {
      total_commits: 1,
      commits: [{ sha: headSha, files: files.map((filename) => ({ filename, status: 'modified' })) }],
    });
}

function pullRequestFiles(): void {
  api()
    .get(`${REPO_PATH}/pulls/${String(PR)}/files`)
    .query({ page: 1, limit: 50 })
    .reply(200, [{ filename: 'README.md', status: 'changed', additions: 1, deletions: 1, changes: 2 }], {
      'x-hasmore': 'false',
    });
}

function statuses(sha: string, count: number, repoPath = REPO_PATH): void {
  api()
    .post(`${repoPath}/statuses/${sha}`)
    .times(count)
    .reply((r) => ({ status: 201, body: { id: 1, ...(r.body as object) } }));
}

function existingComments(comments: readonly { id: number; login: string; body: string }[]): void {
  api()
    .get(`${REPO_PATH}/issues/${String(PR)}/comments`)
    .reply(
      200,
      comments.map((c) => ({ id: c.id, body: c.body, user: { id: 9, login: c.login } })),
    );
}

function createsComment(): void {
  api()
    .post(`${REPO_PATH}/issues/${String(PR)}/comments`)
    .reply((r) => ({
      status: 201,
      body: { id: COMMENT_ID, body: (r.body as { body: string }).body, user: { id: 3, login: BOT } },
    }));
}

/** Edits of one comment, at most `max` (asserted by the caller). */
function editsComment(max: number): void {
  const label = `PATCH ${REPO_PATH}/issues/comments/${String(COMMENT_ID)}`;
  bounded.push(label);
  api()
    .patch(`${REPO_PATH}/issues/comments/${String(COMMENT_ID)}`)
    .times(max)
    .reply((r) => ({ status: 200, body: { id: COMMENT_ID, body: (r.body as { body: string }).body } }));
}

function pullRequestInfo(sha: string, author: string): void {
  const pr = pullRequestEvent('opened', { author, sha })['pull_request'];
  api()
    .get(`${REPO_PATH}/pulls/${String(PR)}`)
    .reply(200, pr);
}

function reaction(commentId: number): void {
  api()
    .post(`${REPO_PATH}/issues/comments/${String(commentId)}/reactions`)
    .body({ content: 'eyes' })
    .reply(201, { content: 'eyes', user: { id: 3, login: BOT } });
}

/** Comment writes in order (create, then edits) with their bodies. */
function commentWrites(): { method: string; body: string }[] {
  return api()
    .requests()
    .filter(
      (r) =>
        (r.method === 'POST' && r.path === `${REPO_PATH}/issues/${String(PR)}/comments`) ||
        (r.method === 'PATCH' && r.path.startsWith(`${REPO_PATH}/issues/comments/`)),
    )
    .map((r) => ({ method: r.method, body: (r.body as { body: string }).body }));
}

function statusesByContext(filter: (r: RecordedRequest) => boolean = () => true): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const r of api()
    .requests({ method: 'POST', path: /\/statuses\// })
    .filter(filter)) {
    const st = r.body as { context: string; state: string };
    (out[st.context] ??= []).push(st.state);
  }
  return out;
}

const count = (filter: { method?: string; path?: string | RegExp }): number => api().requests(filter).length;

async function allRuns(s: SpotcheckServer): Promise<RunRecord[]> {
  return s.store.listRuns({ limit: 100 });
}

async function runsFinished(s: SpotcheckServer, n: number): Promise<boolean> {
  const runs = await allRuns(s);
  return runs.length === n && runs.every((r) => ['succeeded', 'failed', 'cancelled'].includes(r.status));
}

// ---------------------------------------------------------------------------------------------------------------

defineForgeScenarios('spotcheck on Gitea', {
  org: ORG,
  member: MEMBER,
  outsider: OUTSIDER,
  otherBot: 'other-ci-bot',
  pr: PR,
  head: () => head,
  moved: () => moved,
  start: () => start(),
  startForComments: async () => {
    // GITEA_BOT_LOGIN unset: the bot's login is read once at start-up.
    api().get('/user').reply(200, { id: 3, login: BOT, username: BOT });
    const s = await start(null);
    expect(count({ path: '/user' })).toBe(1);
    return s;
  },
  pullRequestOpened: (s, author, sha, at) =>
    accepted(s, 'pull_request', pullRequestEvent('opened', { author, sha, ...(at === undefined ? {} : { at }) })),
  pullRequestPushed: (s, author, sha) =>
    accepted(s, 'pull_request_sync', pullRequestEvent('synchronized', { author, sha })),
  testmeComment: (s, by, at) => accepted(s, 'pull_request_comment', commentEvent('issue_comment-testme.json', by, at)),
  ignoredComments: () =>
    (
      [
        [commentEvent('issue_comment-edited.json'), 'issue_comment action edited is not ours'],
        [commentEvent('issue_comment-by-bot.json'), 'the comment is from this bot'],
        [capture('issue_comment-on-pr.json'), 'the comment is not exactly !testme'],
      ] as const
    ).map(([payload, reason]) => async (s: SpotcheckServer) => {
      const answer = await deliver(s, 'pull_request_comment', payload);
      expect(answer.status).toBe(200);
      expect(await answer.json()).toEqual({ ignored: reason });
    }),
  authorization: () => organization(),
  membership: (user, answer) => membership(user, answer === 'member' ? 204 : 404),
  membershipFailures: [
    {
      label: 'a 303: the token cannot see private members',
      fail: (user) => membership(user, 303),
      attempts: 1,
      reason: `cannot see the members of ${ORG}: the bot user is not a member of it (Gitea hides private members from outsiders)`,
    },
  ],
  reaction: () => reaction(TESTME_COMMENT),
  pullRequest: pullRequestInfo,
  requests: () => api().requests(),
  commentsThenCreate: (existing = []) => {
    existingComments(existing);
    createsComment();
  },
  editsComment,
  workflows: (sha, files) => workflows(sha, files),
  pullRequestFiles,
  statuses: (sha, n) => statuses(sha, n),
  commentWrites,
  editsOf: (id) => count({ method: 'PATCH', path: `${REPO_PATH}/issues/comments/${String(id)}` }),
  statusesByContext: () => statusesByContext(),
  count: (what) => {
    switch (what) {
      case 'statuses':
        return count({ method: 'POST', path: /statuses/ });
      case 'workflow reads':
        return count({ method: 'GET', path: /contents|raw/ });
      case 'pull request reads':
        return count({ method: 'GET', path: `${REPO_PATH}/pulls/${String(PR)}` });
      case 'authorizations':
        return count({ path: `/orgs/${ORG}` });
      case 'membership checks':
        return count({ path: new RegExp(`^/orgs/${ORG}/members/`) });
      case 'public membership reads':
        return count({ path: /\/public_members\// });
      case 'reads':
        return api()
          .requests({ method: 'GET' })
          .filter((r) => !r.path.endsWith('/comments')).length;
    }
  },
});

describe('spotcheck on Gitea: pushes, end to end', () => {
  it('a signed push runs the matching workflows read at the SHA; statuses pending then final; 401 and duplicate', async () => {
    const s = await start();
    workflows(moved, { 'ci.yml': PUSH_WF, 'docs.yml': DOCS_WF });
    compare(head, moved, ['README.md']);
    statuses(moved, 6);
    const payload = pushEvent(head, moved);
    const id = randomUUID();

    await accepted(s, 'push', payload, id);
    // The same hook task again (a retrying proxy): answered, not processed twice.
    const duplicate = await deliver(s, 'push', payload, id);
    expect(duplicate.status).toBe(200);
    expect(await duplicate.json()).toEqual({ status: 'duplicate' });
    const forged = await deliver(s, 'push', payload, randomUUID(), 'not-the-secret');
    expect(forged.status).toBe(401);

    await settle(s, () => count({ method: 'POST', path: /statuses/ }) >= 6);
    await settle(s, () => runsFinished(s, 1));

    // Workflows read at the pushed SHA; file paths sent as Gitea's {+path} (slashes as they are).
    const listing = api().requests({ method: 'GET', path: /\/contents\// });
    expect(listing.map((r) => [r.rawPath, r.query])).toEqual([
      [`${REPO_PATH}/contents/.spotcheck/workflows`, { ref: moved }],
    ]);
    const raw = api().requests({ method: 'GET', path: /\/raw\// });
    expect(raw.map((r) => [r.rawPath, r.query]).sort()).toEqual([
      [`${REPO_PATH}/raw/.spotcheck/workflows/ci.yml`, { ref: moved }],
      [`${REPO_PATH}/raw/.spotcheck/workflows/docs.yml`, { ref: moved }],
    ]);
    expect(api().requests({ path: /\/compare\// })).toHaveLength(1);
    // Reading and planning: the listing, W = 2 files, the compare; nothing else is read.
    expect(api().requests({ method: 'GET' })).toHaveLength(1 + 2 + 1);
    expect(
      api()
        .requests()
        .every((r) => r.headers['authorization'] === `token ${TOKEN}`),
    ).toBe(true);

    // docs.yml's paths did not match README.md: one run, of ci.yml.
    const runs = await allRuns(s);
    expect(runs.map((r) => [r.workflowName, r.event, r.sha, r.actor, r.status, r.repo])).toEqual([
      ['ci', 'push', moved, MEMBER, 'succeeded', { forge: 'gitea', host: 'gitea.example.org', owner: ORG, name: NAME }],
    ]);
    expect(statusesByContext()).toEqual({
      'spotcheck/ci/build': ['pending', 'success'],
      'spotcheck/ci/test (1)': ['pending', 'success'],
      'spotcheck/ci/test (2)': ['pending', 'success'],
    });
    const written = api()
      .requests({ method: 'POST', path: /statuses/ })
      .map((r) => r.body as { target_url: string; description: string });
    for (const st of written) {
      expect(st.target_url).toMatch(/^https:\/\/ci\.example\.com\/runs\/gt-[0-9a-f]+\/orders\/[^/]+\/log$/);
      expect(st.description.length).toBeLessThanOrEqual(140);
    }
    const log = await fetch(`${s.url}/runs/${encodeURIComponent(runs[0]!.runId)}/orders/test.2/log`);
    expect(await log.text()).toContain(`shard 2 saw hello from ${moved}`);
  });

  it('without GITEA_CLONE_TOKEN no runner can clone: the orders fail and their statuses say what to set', async () => {
    const s = await start(BOT, false);
    workflows(moved, { 'docs.yml': DOCS_WF });
    compare(head, moved, ['docs/index.md']);
    statuses(moved, 2);

    await accepted(s, 'push', pushEvent(head, moved));
    await settle(s, () => runsFinished(s, 1));
    await settle(s, () => count({ method: 'POST', path: /statuses/ }) >= 2);

    expect((await allRuns(s)).map((r) => [r.workflowName, r.status])).toEqual([['docs', 'failed']]);
    const [pending, final] = api()
      .requests({ method: 'POST', path: /statuses/ })
      .map((r) => r.body as { state: string; description: string });
    expect(pending?.state).toBe('pending');
    expect(final?.state).toBe('failure');
    expect(final?.description).toContain('GITEA_CLONE_TOKEN');
  });

  it('a delete event runs nothing; a new branch (zero before) has unknown changed files, so paths match', async () => {
    const s = await start();
    const deleted = await deliver(s, 'delete', derived('delete-branch.json'));
    expect(deleted.status).toBe(200);
    expect(await deleted.json()).toEqual({ ignored: 'the branch fdsafdsa was deleted' });
    expect(api().requests()).toEqual([]);

    // The new-branch capture (codeberg.org): its own repository, `before` all zeros, no commits.
    const payload = capture('push-new-branch.json');
    payload['after'] = moved;
    const repository = payload['repository'] as { name: string; owner: { login: string } };
    const repoPath = `/repos/${repository.owner.login}/${repository.name}`;
    workflows(moved, { 'ci.yml': PUSH_WF, 'docs.yml': DOCS_WF }, repoPath);
    statuses(moved, 2, repoPath);
    await accepted(s, 'push', payload);
    await settle(s, () => runsFinished(s, 1));
    await settle(s, () => count({ method: 'POST', path: /statuses/ }) >= 2);

    // No compare for a zero base; ci.yml is for main only; docs.yml's paths filter matches unknown changes.
    expect(count({ path: /\/compare\// })).toBe(0);
    expect((await allRuns(s)).map((r) => [r.workflowName, r.ref, r.status])).toEqual([
      ['docs', 'refs/heads/fdsafdsa', 'succeeded'],
    ]);
    expect(statusesByContext()).toEqual({ 'spotcheck/docs/docs': ['pending', 'success'] });
  });
});

describe('spotcheck on Gitea: pull requests and !testme, end to end', () => {
  it('synchronized (pull_request_sync) cancels the older SHA’s runs and runs the new head', async () => {
    const s = await start();
    organization();
    membership(MEMBER, 204); // asked once: the answer is reused for the synchronized event
    workflows(head, { 'slow.yml': SLOW_WF });
    workflows(moved, { 'pr.yml': PR_WF });
    api()
      .get(`${REPO_PATH}/pulls/${String(PR)}/files`)
      .query({ page: 1, limit: 50 })
      .times(2)
      .reply(200, [], {
        'x-hasmore': 'false',
      });
    statuses(head, 2);
    statuses(moved, 4);
    existingComments([]);
    createsComment();
    editsComment(8);

    await accepted(s, 'pull_request', pullRequestEvent('opened', { author: MEMBER, sha: head }));
    const running = async (): Promise<boolean> => {
      const [run] = await allRuns(s);
      if (run === undefined) return false;
      return (await s.store.listOrders(run.runId)).some((o) => o.state === 'running');
    };
    for (let i = 0; i < 400 && !(await running()); i++) await new Promise((r) => setTimeout(r, 25));
    expect(await running()).toBe(true);

    await accepted(s, 'pull_request_sync', pullRequestEvent('synchronized', { author: MEMBER, sha: moved }));
    await settle(s, () => runsFinished(s, 2));
    await settle(s, () => count({ method: 'POST', path: /statuses/ }) >= 6);

    const runs = await allRuns(s);
    expect(runs.map((r) => [r.workflowName, r.sha, r.status]).sort()).toEqual([
      ['pr', moved, 'succeeded'],
      ['slow', head, 'cancelled'],
    ]);
    expect(statusesByContext((r) => r.path.endsWith(head))).toEqual({ 'spotcheck/slow/wait': ['pending', 'error'] });
    expect(statusesByContext((r) => r.path.endsWith(moved))).toEqual({
      'spotcheck/pr/build': ['pending', 'success'],
      'spotcheck/pr/test': ['pending', 'success'],
    });
    expect(count({ path: `/orgs/${ORG}/members/${MEMBER}` })).toBe(1);
    expect(commentWrites().filter((w) => w.method === 'POST')).toHaveLength(1);
    expect(commentWrites().at(-1)?.body).toContain(moved.slice(0, 7));
  });
});
