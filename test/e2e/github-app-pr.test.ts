/**
 * The GitHub App's pull-request and `!testme` flows end to end: `startSpotcheckServer` listening on loopback (embedded
 * store, local runner checking out a real temporary git repository), deliveries adapted from GitHub's example
 * payloads (@octokit/webhooks-examples) signed with the webhook secret and POSTed to it, and GitHub's API answered by
 * the nock harness, which checks every request against GitHub's OpenAPI description and fails on a request nothing
 * was set up for. Each case asserts what GitHub sees (statuses, comment bodies, reactions) and how many requests.
 *
 * The sticky comment's edits depend on how the run's waves interleave with the single-flight renders, so that
 * interceptor is set up "at most N" (the budget of issue 4: writes ≤ waves + 2) and the count is asserted; every
 * other interceptor must be used exactly.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import pino from 'pino';
import { ProbotOctokit } from 'probot';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startSpotcheckServer, type SpotcheckServer } from '../../src/app/start-server.ts';
import { defaultConfig } from '../../src/config.ts';
import type { RunRecord } from '../../src/core/types.ts';
import { createGitHubApi, testPrivateKey, type GitHubApi } from '../helpers/github-api.ts';
import { githubExample, signGitHubBody } from '../helpers/webhook-examples.ts';
import { makeTwoCommitRepo, PR_WORKFLOW, SLOW_WORKFLOW } from '../helpers/e2e-repo.ts';
import { defineForgeScenarios } from './forge-scenarios.ts';

const SECRET = 'e2e-pr-webhook-secret';
const INSTALLATION = 4343;
const ORG = 'acme';
const NAME = 'Hello-World';
const REPO_PATH = `/repos/${ORG}/${NAME}`;
const PR = 7;
const MEMBER = 'mona';
const OUTSIDER = 'octocat-fork';
const APP_SLUG = 'spotcheck';
const INSTALL_TOKEN = 'ghs_install_token';

/** Two waves: `test` needs `build`. */
const PR_WF = PR_WORKFLOW;
const SLOW_WF = SLOW_WORKFLOW;

let dir: string;
let repo: string;
let head: string;
let moved: string;
let server: SpotcheckServer | undefined;
let harness: GitHubApi | undefined;
/** Interceptors that may be left partly unused: their counts are asserted by the test itself. */
let bounded: string[] = [];
/** Added to the real clock (the store filters expiry on its own real clock, so time only moves forward). */
let skew = 0;

const api = (): GitHubApi => {
  if (harness === undefined) throw new Error('no harness outside a test');
  return harness;
};

beforeEach(async () => {
  harness = createGitHubApi();
  bounded = [];
  skew = 0;
  ({ dir, repo, first: head, second: moved } = await makeTwoCommitRepo('spotcheck-e2e-pr-'));
});

afterEach(async () => {
  await server?.close();
  server = undefined;
  await rm(dir, { recursive: true, force: true });
  const h = harness;
  harness = undefined;
  if (h === undefined) return;
  h.close();
  try {
    h.assertDone();
  } catch (error) {
    // Only "set up but not called" lines of the bounded interceptors are allowed.
    const lines = (error as Error).message
      .split('\n')
      .slice(1)
      .map((l) => l.trim());
    const left = lines.filter((l) => !bounded.some((label) => l === `set up but not called: ${label}`));
    if (left.length > 0) throw new Error(`GitHub API harness:\n  ${left.join('\n  ')}`);
  }
});

async function start(): Promise<SpotcheckServer> {
  orderTokens();
  const config = defaultConfig({ dataDir: join(dir, 'data'), publicUrl: 'https://ci.example.com' });
  server = await startSpotcheckServer({
    settings: {
      port: 0,
      host: '127.0.0.1',
      agentSecret: 'x'.repeat(40),
      github: {
        appId: '1',
        privateKey: testPrivateKey(),
        webhookSecret: SECRET,
        baseUrl: 'https://api.github.com',
        host: 'github.com',
        protocol: 'https',
        appSlug: APP_SLUG,
      },
    },
    config,
    logger: pino({ level: 'silent' }),
    now: () => Date.now() + skew,
    tickMs: 0,
    // The ticks here are the inbox's; the redelivery reconcile has its own tests (contract/github-redelivery).
    redeliveryMs: 0,
    stepEnv: () => ({ PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir }),
    cloneUrlFor: () => Promise.resolve(repo),
    // Probot's retry stays on (3 retries of a 5xx or a network error), with millisecond pauses. Throttling is off:
    // it paces writes one a second (process-wide), which only makes these tests slow, not different.
    // Probot passes its own throttle options to each instance, hence a function that has the last word.
    Octokit: ProbotOctokit.defaults((options: Record<string, unknown>) => ({
      ...options,
      retry: { retryAfterBaseValue: 1 },
      throttle: { ...(options['throttle'] as object | undefined), enabled: false },
    })),
  });
  return server;
}

// ---------------------------------------------------------------------------------------------------------------
// Deliveries: GitHub's example payloads, moved to an org-owned repository.
// ---------------------------------------------------------------------------------------------------------------

type Payload = Record<string, unknown>;
let deliveries = 0;

function inOrg(payload: Payload): Payload {
  const repository = payload['repository'] as Payload;
  Object.assign(repository, {
    name: NAME,
    full_name: `${ORG}/${NAME}`,
    html_url: `https://github.com/${ORG}/${NAME}`,
  });
  Object.assign(repository['owner'] as Payload, { login: ORG, type: 'Organization' });
  (payload['installation'] as { id: number }).id = INSTALLATION;
  return payload;
}

const iso = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

function pullRequestEvent(
  action: 'opened' | 'synchronize' | 'closed',
  o: { author: string; sha: string; updatedAt: number },
): Payload {
  const payload = inOrg(
    githubExample('pull_request', (p) => p['action'] === 'opened' && p['installation'] !== undefined),
  );
  payload['action'] = action;
  payload['number'] = PR;
  const pr = payload['pull_request'] as Payload;
  Object.assign(pr, { number: PR, state: action === 'closed' ? 'closed' : 'open', updated_at: iso(o.updatedAt) });
  Object.assign(pr['user'] as Payload, { login: o.author, type: 'User' });
  Object.assign(pr['head'] as Payload, { sha: o.sha, ref: 'feature' });
  Object.assign(pr['base'] as Payload, { ref: 'main' });
  Object.assign(payload['sender'] as Payload, { login: o.author, type: 'User' });
  return payload;
}

function commentEvent(o: {
  body: string;
  by: string;
  type?: 'User' | 'Bot';
  createdAt: number;
  action?: 'created' | 'edited';
  onIssue?: boolean;
  id?: number;
}): Payload {
  const payload = inOrg(
    githubExample('issue_comment', (p) => p['action'] === 'created' && p['installation'] !== undefined),
  );
  payload['action'] = o.action ?? 'created';
  const issue = payload['issue'] as Payload;
  Object.assign(issue, { number: PR, state: 'open' });
  if (o.onIssue === true) delete issue['pull_request'];
  else {
    issue['pull_request'] = {
      url: `https://api.github.com${REPO_PATH}/pulls/${String(PR)}`,
      html_url: `https://github.com/${ORG}/${NAME}/pull/${String(PR)}`,
      diff_url: `https://github.com/${ORG}/${NAME}/pull/${String(PR)}.diff`,
      patch_url: `https://github.com/${ORG}/${NAME}/pull/${String(PR)}.patch`,
      merged_at: null,
    };
  }
  const comment = payload['comment'] as Payload;
  Object.assign(comment, {
    id: o.id ?? 9001,
    body: o.body,
    created_at: iso(o.createdAt),
    updated_at: iso(o.createdAt),
  });
  Object.assign(comment['user'] as Payload, { login: o.by, type: o.type ?? 'User' });
  Object.assign(payload['sender'] as Payload, { login: o.by, type: o.type ?? 'User' });
  return payload;
}

async function deliver(s: SpotcheckServer, name: string, payload: unknown, id?: string): Promise<Response> {
  const body = JSON.stringify(payload);
  return fetch(`${s.url}/api/github/webhooks`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-github-event': name,
      'x-github-delivery': id ?? `pr-e2e-${String(++deliveries)}`,
      'x-hub-signature-256': signGitHubBody(SECRET, body),
    },
    body,
  });
}

/** Delivers and checks the answer (202: accepted and persisted; processing goes on in the background). */
async function accepted(s: SpotcheckServer, name: string, payload: unknown, id?: string): Promise<void> {
  const answer = await deliver(s, name, payload, id);
  expect(answer.status).toBe(202);
}

async function settle(s: SpotcheckServer, done: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; i < 400 && !(await done()); i++) {
    await s.idle();
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  await s.idle();
}

// ---------------------------------------------------------------------------------------------------------------
// GitHub's side.
// ---------------------------------------------------------------------------------------------------------------

const COMMENT_ID = 555;

function installationToken(): void {
  api()
    .post(`/app/installations/${String(INSTALLATION)}/access_tokens`)
    .reply(201, { token: INSTALL_TOKEN, expires_at: '2099-01-01T00:00:00Z', permissions: {} });
}

/**
 * Each order's own token (issue 15): the installation's permissions read, a token narrowed to the repository, and
 * its revocation when the order ends. How many an order makes is the order-token tests' business (unit and
 * contract); here they may be used any number of times up to a bound.
 */
function orderTokens(max = 50): void {
  const installation = `/app/installations/${String(INSTALLATION)}`;
  bounded.push(`GET ${installation}`, `POST ${installation}/access_tokens`, 'DELETE /installation/token');
  api()
    .get(installation)
    .times(max)
    .reply(200, {
      id: INSTALLATION,
      app_id: 1,
      target_type: 'Organization',
      permissions: { contents: 'read', metadata: 'read', statuses: 'write', pull_requests: 'write', issues: 'write' },
      events: ['push', 'pull_request', 'issue_comment'],
    });
  api()
    .post(`${installation}/access_tokens`)
    .body((body) => typeof body === 'object' && body !== null && 'repositories' in body)
    .times(max)
    .reply(201, { token: 'ghs_order', expires_at: '2099-01-01T00:00:00Z', permissions: { contents: 'read' } });
  api().delete('/installation/token').times(max).reply(204);
}

/** What an order's launch asks for its own token: the installation's grant, a token narrowed to the repository. */
function isOrderTokenRequest(r: { method: string; path: string; body: unknown }): boolean {
  if (r.method === 'GET' && r.path === `/app/installations/${String(INSTALLATION)}`) return true;
  return r.path.endsWith('/access_tokens') && typeof r.body === 'object' && r.body !== null && 'repositories' in r.body;
}

function membership(user: string, status: number, times = 1): void {
  api()
    .get(`/orgs/${ORG}/members/${user}`)
    .times(times)
    .reply(status, status === 404 ? { message: 'Not Found' } : undefined);
}

function workflows(sha: string, files: Record<string, string>): void {
  api()
    .get(`${REPO_PATH}/contents/.spotcheck/workflows`)
    .query({ ref: sha })
    .reply(
      200,
      Object.entries(files).map(([name, text]) => ({
        type: 'file',
        name,
        path: `.spotcheck/workflows/${name}`,
        size: text.length,
        sha: `blob-${name}`,
      })),
    );
  for (const [name, text] of Object.entries(files)) {
    api().get(`${REPO_PATH}/contents/.spotcheck/workflows/${name}`).query({ ref: sha }).reply(200, text);
  }
}

function pullRequestFiles(): void {
  api()
    .get(`${REPO_PATH}/pulls/${String(PR)}/files`)
    .query({ per_page: '100' })
    .reply(200, [{ sha: 'f1', filename: 'README.md', status: 'modified', additions: 1, deletions: 1, changes: 2 }]);
}

function statuses(sha: string, count: number): void {
  api().post(`${REPO_PATH}/statuses/${sha}`).times(count).reply(201, { id: 1 });
}

/** The comment listing (the sticky comment is looked up once per PR), with comments already on the PR. */
function existingComments(comments: readonly { id: number; login: string; type: string; body: string }[]): void {
  api()
    .get(`${REPO_PATH}/issues/${String(PR)}/comments`)
    .query({ per_page: '100' })
    .reply(
      200,
      comments.map((c) => ({ id: c.id, body: c.body, user: { login: c.login, type: c.type } })),
    );
}

function createsComment(): void {
  api()
    .post(`${REPO_PATH}/issues/${String(PR)}/comments`)
    .reply((r) => ({ status: 201, body: { id: COMMENT_ID, body: (r.body as { body: string }).body } }));
}

/** Edits of one comment, at most `max` (asserted by the caller). */
function editsComment(id: number, max: number): void {
  const label = `PATCH ${REPO_PATH}/issues/comments/${String(id)}`;
  bounded.push(label);
  api()
    .patch(`${REPO_PATH}/issues/comments/${String(id)}`)
    .times(max)
    .reply((r) => ({ status: 200, body: { id, body: (r.body as { body: string }).body } }));
}

function pullRequestInfo(sha: string, author: string): void {
  const pr = pullRequestEvent('opened', { author, sha, updatedAt: Date.now() })['pull_request'] as Payload;
  api()
    .get(`${REPO_PATH}/pulls/${String(PR)}`)
    .reply(200, pr);
}

function reaction(commentId: number): void {
  api()
    .post(`${REPO_PATH}/issues/comments/${String(commentId)}/reactions`)
    .body({ content: 'eyes' })
    .reply(201, { id: 1, content: 'eyes' });
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

function statusesByContext(): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const r of api().requests({ method: 'POST', path: /\/statuses\// })) {
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

defineForgeScenarios('the GitHub App', {
  org: ORG,
  member: MEMBER,
  outsider: OUTSIDER,
  otherBot: 'other-app[bot]',
  pr: PR,
  head: () => head,
  moved: () => moved,
  start,
  startForComments: start,
  pullRequestOpened: (s, author, sha, at = Date.now()) =>
    accepted(s, 'pull_request', pullRequestEvent('opened', { author, sha, updatedAt: at })),
  pullRequestPushed: (s, author, sha) =>
    accepted(s, 'pull_request', pullRequestEvent('synchronize', { author, sha, updatedAt: Date.now() + 60_000 })),
  testmeComment: (s, by, at = Date.now()) =>
    accepted(s, 'issue_comment', commentEvent({ body: ' !testme\n', by, createdAt: at })),
  ignoredComments: () => {
    const now = Date.now();
    return [
      commentEvent({ body: '!testme', by: MEMBER, createdAt: now, action: 'edited' }),
      commentEvent({ body: '!testme', by: MEMBER, createdAt: now, onIssue: true }),
      commentEvent({ body: '> !testme', by: MEMBER, createdAt: now }),
      commentEvent({ body: '```\n!testme\n```', by: MEMBER, createdAt: now }),
      commentEvent({ body: '!testme please', by: MEMBER, createdAt: now }),
      commentEvent({ body: '!testme', by: 'dependabot[bot]', type: 'Bot', createdAt: now }),
      commentEvent({ body: '!testme', by: `${APP_SLUG}[bot]`, type: 'Bot', createdAt: now }),
    ].map((payload) => (s: SpotcheckServer) => accepted(s, 'issue_comment', payload));
  },
  authorization: installationToken,
  membership: (user, answer) => membership(user, answer === 'member' ? 204 : 404),
  membershipFailures: [
    {
      label: 'a 500 after retries',
      fail: (user) => membership(user, 500, 4),
      attempts: 4,
      reason: 'membership check failed: HTTP 500',
    },
    {
      label: 'a network error',
      fail: (user) => {
        api().get(`/orgs/${ORG}/members/${user}`).times(4).replyWithNetworkError('connect ECONNRESET');
      },
      attempts: 4,
      reason: 'membership check failed: network error',
    },
  ],
  reaction: () => reaction(9001),
  pullRequest: pullRequestInfo,
  requests: () => api().requests(),
  commentsThenCreate: (existing = []) => {
    existingComments(existing.map((c) => ({ ...c, type: c.login.endsWith('[bot]') ? 'Bot' : 'User' })));
    createsComment();
  },
  editsComment: (max) => editsComment(COMMENT_ID, max),
  workflows,
  pullRequestFiles,
  statuses,
  commentWrites,
  editsOf: (id) => count({ method: 'PATCH', path: `${REPO_PATH}/issues/comments/${String(id)}` }),
  statusesByContext,
  count: (what) => {
    switch (what) {
      case 'statuses':
        return count({ method: 'POST', path: /statuses/ });
      case 'workflow reads':
        return count({ method: 'GET', path: /contents/ });
      case 'pull request reads':
        return count({ method: 'GET', path: `${REPO_PATH}/pulls/${String(PR)}` });
      case 'authorizations':
        // The app's own installation token; each order's token (orderTokens) is the launch's, not the authorizer's.
        return api()
          .requests({ method: 'POST', path: /\/access_tokens$/ })
          .filter((r) => !isOrderTokenRequest(r)).length;
      case 'membership checks':
        return count({ path: new RegExp(`^/orgs/${ORG}/members/`) });
      case 'public membership reads':
        return count({ path: /\/public_members\// });
      case 'reads':
        return api()
          .requests()
          .filter((r) => !isOrderTokenRequest(r))
          .filter((r) => (r.method === 'GET' && !r.path.endsWith('/comments')) || r.path.endsWith('/access_tokens'))
          .length;
    }
  },
});

describe('the GitHub App: pull requests, end to end', () => {
  it('3. a private member (204 only with the installation token) runs', async () => {
    const s = await start();
    installationToken();
    api()
      .get(`/orgs/${ORG}/members/${MEMBER}`)
      // Private membership is visible to the org's installation only; anyone else is redirected to public members.
      .reply((r) =>
        r.headers['authorization'] === `token ${INSTALL_TOKEN}`
          ? { status: 204 }
          : { status: 302, headers: { location: `https://api.github.com/orgs/${ORG}/public_members/${MEMBER}` } },
      );
    workflows(head, { 'pr.yml': PR_WF });
    pullRequestFiles();
    statuses(head, 4);
    existingComments([]);
    createsComment();
    editsComment(COMMENT_ID, 3);

    await accepted(s, 'pull_request', pullRequestEvent('opened', { author: MEMBER, sha: head, updatedAt: Date.now() }));
    await settle(s, () => count({ method: 'POST', path: /statuses/ }) >= 4);

    expect(api().requests({ path: `/orgs/${ORG}/members/${MEMBER}` })[0]?.headers['authorization']).toBe(
      `token ${INSTALL_TOKEN}`,
    );
    expect((await allRuns(s)).map((r) => [r.workflowName, r.status])).toEqual([['pr', 'succeeded']]);
    expect(statusesByContext()).toEqual({
      'spotcheck/pr/build': ['pending', 'success'],
      'spotcheck/pr/test': ['pending', 'success'],
    });
  });

  it.each([
    ['the synchronize arrives first', 'synchronize-first'],
    ['the comment arrives first', 'comment-first'],
  ] as const)('8. head moved after the !testme comment (%s): nothing runs, the comment says why', async (_, order) => {
    const s = await start();
    const t = Date.now() - 300_000;
    installationToken();
    membership(OUTSIDER, 404); // asked once: the answer is reused for the synchronize
    existingComments([]);
    createsComment();
    await accepted(s, 'pull_request', pullRequestEvent('opened', { author: OUTSIDER, sha: head, updatedAt: t }));
    await settle(s, () => commentWrites().length >= 1);

    reaction(9001);
    membership(MEMBER, 204);
    // GitHub already has the new head when the comment is processed.
    pullRequestInfo(moved, OUTSIDER);
    editsComment(COMMENT_ID, 1);
    const comment = commentEvent({ body: '!testme', by: MEMBER, createdAt: t + 60_000 });
    const push = pullRequestEvent('synchronize', { author: OUTSIDER, sha: moved, updatedAt: t + 120_000 });
    if (order === 'synchronize-first') {
      await accepted(s, 'pull_request', push);
      await s.idle();
      await accepted(s, 'issue_comment', comment);
    } else {
      await accepted(s, 'issue_comment', comment);
      await s.idle();
      await accepted(s, 'pull_request', push);
    }
    await settle(s, () => commentWrites().length >= 2);

    expect(await allRuns(s)).toEqual([]);
    expect(count({ method: 'GET', path: /contents/ })).toBe(0);
    expect(count({ method: 'POST', path: /statuses/ })).toBe(0);
    const writes = commentWrites();
    expect(writes.map((w) => w.method)).toEqual(['POST', 'PATCH']);
    expect(writes[1]!.body.split('\n')[1]).toBe(
      `\`!testme\` by @${MEMBER} was not run: the head moved to ${moved.slice(0, 7)} after the \`!testme\` comment; comment again to run it.`,
    );
  });

  it('9. closing the PR cancels its running run; the final status is error', async () => {
    const s = await start();
    installationToken();
    membership(MEMBER, 204);
    workflows(head, { 'slow.yml': SLOW_WF });
    pullRequestFiles();
    // The close reads the workflows again (a workflow may ask for `types: [closed]`); slow.yml does not.
    workflows(head, { 'slow.yml': SLOW_WF });
    pullRequestFiles();
    statuses(head, 2);
    existingComments([]);
    createsComment();
    editsComment(COMMENT_ID, 3);

    const t = Date.now();
    await accepted(s, 'pull_request', pullRequestEvent('opened', { author: MEMBER, sha: head, updatedAt: t }));
    const running = async (): Promise<boolean> => {
      const [run] = await allRuns(s);
      if (run === undefined) return false;
      return (await s.store.listOrders(run.runId)).some((o) => o.state === 'running');
    };
    for (let i = 0; i < 400 && !(await running()); i++) await new Promise((r) => setTimeout(r, 25));
    expect(await running()).toBe(true);

    await accepted(s, 'pull_request', pullRequestEvent('closed', { author: MEMBER, sha: head, updatedAt: t + 5_000 }));
    await settle(s, () => runsFinished(s, 1));
    await settle(s, () => count({ method: 'POST', path: /statuses/ }) >= 2);

    const [run] = await allRuns(s);
    expect(run?.status).toBe('cancelled');
    const orders = await s.store.listOrders(run!.runId);
    expect(orders.map((o) => [o.name, o.state])).toEqual([['wait', 'cancelled']]);
    const final = api()
      .requests({ method: 'POST', path: /statuses/ })
      .at(-1)?.body as { state: string; description: string };
    expect(statusesByContext()).toEqual({ 'spotcheck/slow/wait': ['pending', 'error'] });
    expect(final.description).toContain('cancelled');
    expect(commentWrites().at(-1)?.body).toMatch(/cancelled/);
  });

  it('10. a delivery whose processing failed is retried on tick, and a redelivery makes the run only once', async () => {
    const s = await start();
    installationToken();
    membership(MEMBER, 204);
    // The first attempt: the listing fails 4 times (Probot's first try and 3 retries).
    api().get(`${REPO_PATH}/contents/.spotcheck/workflows`).query({ ref: head }).times(4).reply(502, {
      message: 'Bad Gateway',
    });

    const id = 'redelivered-1';
    const payload = pullRequestEvent('opened', { author: MEMBER, sha: head, updatedAt: Date.now() });
    await accepted(s, 'pull_request', payload, id);
    await s.idle();
    expect(await allRuns(s)).toEqual([]);
    // GitHub's redelivery: the delivery was answered, so it is a duplicate; the inbox owns the retry.
    expect((await deliver(s, 'pull_request', payload, id)).status).toBe(200);
    await s.tick(); // not due yet: nothing happens
    await s.idle();
    expect(count({ method: 'GET', path: /contents/ })).toBe(4);

    workflows(head, { 'pr.yml': PR_WF });
    pullRequestFiles();
    statuses(head, 4);
    existingComments([]);
    createsComment();
    editsComment(COMMENT_ID, 3);
    skew += 10_000; // past the inbox's first backoff (5 s), within the membership cache's 60 s
    await s.tick();
    await settle(s, () => runsFinished(s, 1));
    await settle(s, () => count({ method: 'POST', path: /statuses/ }) >= 4);
    expect((await deliver(s, 'pull_request', payload, id)).status).toBe(200);
    skew += 600_000;
    await s.tick();
    await s.idle();

    const runs = await allRuns(s);
    expect(runs.map((r) => [r.workflowName, r.status])).toEqual([['pr', 'succeeded']]);
    expect(statusesByContext()).toEqual({
      'spotcheck/pr/build': ['pending', 'success'],
      'spotcheck/pr/test': ['pending', 'success'],
    });
    expect(count({ path: `/orgs/${ORG}/members/${MEMBER}` })).toBe(1);
  });
  it('10. a redelivery of a delivery whose processing was given up is processed, and makes the run once', async () => {
    const s = await start();
    installationToken();
    membership(MEMBER, 204);
    // A 403 that is not a rate limit is not retried: the inbox gives up at once and says so on the PR.
    api().get(`${REPO_PATH}/contents/.spotcheck/workflows`).query({ ref: head }).reply(403, { message: 'Forbidden' });
    existingComments([]);
    createsComment();

    const id = 'given-up-1';
    const payload = pullRequestEvent('opened', { author: MEMBER, sha: head, updatedAt: Date.now() });
    await accepted(s, 'pull_request', payload, id);
    await settle(s, () => commentWrites().length >= 1);
    expect(commentWrites()[0]?.body).toContain('could not process this event');
    expect(await allRuns(s)).toEqual([]);

    // GitHub's "Redeliver" (same X-GitHub-Delivery): this time the listing works.
    workflows(head, { 'pr.yml': PR_WF });
    pullRequestFiles();
    statuses(head, 4);
    editsComment(COMMENT_ID, 4);
    await accepted(s, 'pull_request', payload, id);
    await settle(s, () => runsFinished(s, 1));
    await settle(s, () => count({ method: 'POST', path: /statuses/ }) >= 4);
    // Once processed, the same delivery is a duplicate again.
    expect((await deliver(s, 'pull_request', payload, id)).status).toBe(200);
    await s.idle();

    expect((await allRuns(s)).map((r) => [r.workflowName, r.status])).toEqual([['pr', 'succeeded']]);
    expect(statusesByContext()).toEqual({
      'spotcheck/pr/build': ['pending', 'success'],
      'spotcheck/pr/test': ['pending', 'success'],
    });
    expect(commentWrites().at(-1)?.body).not.toContain('could not process this event');
  });
});
