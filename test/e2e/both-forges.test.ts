/**
 * One server, both forges: `startSpotcheckServer` with the GitHub App AND a Gitea server configured, listening on
 * loopback (embedded store, local runner on a temporary git repository). A GitHub push and a Gitea push for
 * repositories with the same owner/name, under the same delivery id, are both run; their runs, delivery claims and
 * store keys do not collide, and each forge gets the statuses of its own run only. Each forge's API is its own
 * description-checked nock harness (both open at once; they share one hold on the network).
 */
import { createHmac, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startSpotcheckServer, type SpotcheckServer } from '../../src/app/start-server.ts';
import { openForges } from '../../src/forges/registry.ts';
import { defaultConfig } from '../../src/config.ts';
import type { RepoRef, RunRecord } from '../../src/core/types.ts';
import { prKey, runIdFor } from '../../src/intake/intake.ts';
import type { ForgeInstallation } from '../../src/intake/intents.ts';
import { giteaDeliveryClaimKey, githubDeliveryClaimKey } from '../../src/server/webhook-verify.ts';
import { useGiteaApi } from '../helpers/gitea-api.ts';
import { testPrivateKey, useGitHubApi } from '../helpers/github-api.ts';
import { githubExample, signGitHubBody } from '../helpers/webhook-examples.ts';
import { makeTwoCommitRepo } from '../helpers/e2e-repo.ts';

const GITHUB_SECRET = 'both-forges-github-secret';
const GITEA_SECRET = 'both-forges-gitea-secret';
const INSTALLATION = 4545;
const OWNER = 'acme';
const NAME = 'widgets';
const PATH = `/repos/${OWNER}/${NAME}`;
const GITEA_HOST = 'gitea.example.org';
const GITHUB_REPO: RepoRef = { forge: 'github', host: 'github.com', owner: OWNER, name: NAME };
const GITEA_REPO: RepoRef = { forge: 'gitea', host: GITEA_HOST, owner: OWNER, name: NAME };
const WORKFLOW = `name: ci
# No order token (permissions: {}): this test counts the push path's requests; order tokens have their own tests.
permissions: {}
on:
  push:
    branches: [main]
jobs:
  build:
    runs-on: local
    steps:
      - run: test -f README.md
  test:
    needs: build
    runs-on: local
    steps:
      - run: echo "tested $GITHUB_SHA"
`;

const github = useGitHubApi();
const gitea = useGiteaApi();
let dir: string;
let repo: string;
let before: string;
let after: string;
let server: SpotcheckServer | undefined;

beforeEach(async () => {
  ({ dir, repo, first: before, second: after } = await makeTwoCommitRepo('spotcheck-e2e-both-'));
});

afterEach(async () => {
  await server?.close();
  server = undefined;
  await rm(dir, { recursive: true, force: true });
});

async function start(): Promise<SpotcheckServer> {
  server = await startSpotcheckServer({
    settings: {
      port: 0,
      host: '127.0.0.1',
      agentSecret: 'x'.repeat(40),
      github: {
        appId: '1',
        privateKey: testPrivateKey(),
        webhookSecret: GITHUB_SECRET,
        baseUrl: 'https://api.github.com',
        host: 'github.com',
        protocol: 'https',
        appSlug: 'spotcheck',
      },
      gitea: {
        url: gitea().baseUrl,
        token: 'gitea_both_token',
        webhookSecret: GITEA_SECRET,
        botLogin: 'spotcheck-bot',
      },
    },
    config: defaultConfig({ dataDir: join(dir, 'data'), publicUrl: 'https://ci.example.com' }),
    logger: pino({ level: 'silent' }),
    tickMs: 0,
    stepEnv: () => ({ PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir }),
    cloneUrlFor: () => Promise.resolve(repo),
  });
  return server;
}

type Payload = Record<string, unknown>;

function githubPush(): Payload {
  const payload = githubExample('push', (p) => p['ref'] === 'refs/heads/master' && p['installation'] !== undefined);
  Object.assign(payload, { ref: 'refs/heads/main', before, after, deleted: false });
  (payload['installation'] as { id: number }).id = INSTALLATION;
  const repository = payload['repository'] as Payload;
  Object.assign(repository, {
    name: NAME,
    full_name: `${OWNER}/${NAME}`,
    html_url: `https://github.com/${OWNER}/${NAME}`,
  });
  Object.assign(repository['owner'] as Payload, { login: OWNER });
  return payload;
}

/** Gitea's multi-commit push capture, moved onto a repository with the same owner and name. */
function giteaPush(): Payload {
  const url = new URL('../fixtures/gitea/captured/push-multi-commit.json', import.meta.url);
  const payload = JSON.parse(readFileSync(url, 'utf8')) as Payload;
  const repository = payload['repository'] as Payload;
  Object.assign(repository, { name: NAME, full_name: `${OWNER}/${NAME}` });
  Object.assign(repository['owner'] as Payload, { login: OWNER, username: OWNER });
  Object.assign(payload, { before, after, commits: [], total_commits: 0, head_commit: null });
  return payload;
}

async function deliverGitHub(s: SpotcheckServer, payload: unknown, id: string): Promise<Response> {
  const body = JSON.stringify(payload);
  return fetch(`${s.url}/api/github/webhooks`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-github-event': 'push',
      'x-github-delivery': id,
      'x-hub-signature-256': signGitHubBody(GITHUB_SECRET, body),
    },
    body,
  });
}

async function deliverGitea(s: SpotcheckServer, payload: unknown, id: string): Promise<Response> {
  const body = JSON.stringify(payload);
  return fetch(`${s.url}/api/gitea/webhooks`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-gitea-delivery': id,
      'x-gitea-event': 'push',
      'x-gitea-event-type': 'push',
      'x-gitea-signature': createHmac('sha256', GITEA_SECRET).update(body).digest('hex'),
    },
    body,
  });
}

async function settle(s: SpotcheckServer, done: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; i < 400 && !(await done()); i++) {
    await s.idle();
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  await s.idle();
}

async function finished(s: SpotcheckServer, n: number): Promise<boolean> {
  const runs = await s.store.listRuns({ limit: 100 });
  return runs.length === n && runs.every((r) => ['succeeded', 'failed', 'cancelled'].includes(r.status));
}

describe('one server, GitHub and Gitea', () => {
  it('pushes to same-named repositories on both forges, under one delivery id, run once each without colliding', async () => {
    const s = await start();
    github()
      .post(`/app/installations/${String(INSTALLATION)}/access_tokens`)
      .reply(201, { token: 'ghs_both', expires_at: '2099-01-01T00:00:00Z', permissions: {} });
    github()
      .get(`${PATH}/contents/.spotcheck/workflows`)
      .query({ ref: after })
      .reply(200, [
        { type: 'file', name: 'ci.yml', path: '.spotcheck/workflows/ci.yml', size: WORKFLOW.length, sha: 'b1' },
      ]);
    github().get(`${PATH}/contents/.spotcheck/workflows/ci.yml`).query({ ref: after }).reply(200, WORKFLOW);
    github()
      .get(`${PATH}/compare/${before}...${after}`)
      .query(() => true)
      .reply(200, { files: [{ filename: 'README.md', status: 'modified' }] });
    github().post(`${PATH}/statuses/${after}`).times(4).reply(201, { id: 1 });

    gitea()
      .get(`${PATH}/contents/.spotcheck/workflows`)
      .query({ ref: after })
      .reply(200, [
        { type: 'file', name: 'ci.yml', path: '.spotcheck/workflows/ci.yml', size: WORKFLOW.length, sha: 'b1' },
      ]);
    gitea().get(`${PATH}/raw/.spotcheck/workflows/ci.yml`).query({ ref: after }).reply(200, WORKFLOW);
    gitea()
      .get(`${PATH}/compare/${before}...${after}`)
      .reply(200, { total_commits: 1, commits: [{ sha: after, files: [{ filename: 'README.md' }] }] });
    gitea().post(`${PATH}/statuses/${after}`).times(4).reply(201, { id: 1 });

    // GitHub's and Gitea's delivery ids are both UUIDs: the same string from both forges is two deliveries.
    const id = randomUUID();
    expect((await deliverGitHub(s, githubPush(), id)).status).toBe(202);
    expect((await deliverGitea(s, giteaPush(), id)).status).toBe(202);
    // ...and each is still a duplicate of itself.
    expect((await deliverGitea(s, giteaPush(), id)).status).toBe(200);
    expect((await deliverGitHub(s, githubPush(), id)).status).toBe(200);

    await settle(s, () => finished(s, 2));
    await settle(
      s,
      () =>
        github().requests({ method: 'POST', path: /statuses/ }).length >= 4 &&
        gitea().requests({ method: 'POST', path: /statuses/ }).length >= 4,
    );

    const runs = await s.store.listRuns({ limit: 100 });
    expect(runs.map((r) => [r.repo.forge, r.workflowName, r.sha, r.status]).sort()).toEqual([
      ['gitea', 'ci', after, 'succeeded'],
      ['github', 'ci', after, 'succeeded'],
    ]);
    const [a, b] = runs as [RunRecord, RunRecord];
    expect(a.runId).not.toBe(b.runId);
    const onGitHub = await s.store.listRuns({ repo: GITHUB_REPO });
    const onGitea = await s.store.listRuns({ repo: GITEA_REPO });
    expect(onGitHub.map((r) => r.repo)).toEqual([GITHUB_REPO]);
    expect(onGitea.map((r) => r.repo)).toEqual([GITEA_REPO]);
    expect(onGitHub[0]!.runId).toMatch(/^gh-/);
    expect(onGitea[0]!.runId).toMatch(/^gt-/);
    // A second Gitea host's repository of the same name has no runs here.
    expect(await s.store.listRuns({ repo: { ...GITEA_REPO, host: 'gitea.other.org' } })).toEqual([]);

    // Each forge got the statuses of its own run, and only those.
    const links = (statuses: readonly { body: unknown }[]) =>
      new Set(statuses.map((r) => /\/runs\/([^/]+)\//.exec((r.body as { target_url: string }).target_url)?.[1]));
    const githubStatuses = github().requests({ method: 'POST', path: /statuses/ });
    const giteaStatuses = gitea().requests({ method: 'POST', path: /statuses/ });
    expect(githubStatuses).toHaveLength(4);
    expect(giteaStatuses).toHaveLength(4);
    expect(links(githubStatuses)).toEqual(new Set([onGitHub[0]!.runId]));
    expect(links(giteaStatuses)).toEqual(new Set([onGitea[0]!.runId]));
    for (const statuses of [githubStatuses, giteaStatuses]) {
      expect(statuses.map((r) => (r.body as { state: string }).state).sort()).toEqual([
        'pending',
        'pending',
        'success',
        'success',
      ]);
    }
  });
});

describe('store keys include the forge and the host', () => {
  const id = '6f1c2a4e-8d3b-4c5a-9e7f-0a1b2c3d4e5f';
  const hosts = [
    { forge: 'github', host: 'github.com' },
    { forge: 'github', host: 'ghe.example.com' },
    { forge: 'gitea', host: 'gitea.example.org' },
    { forge: 'gitea', host: 'git.example.net' },
  ] as const;

  it('run ids, delivery claims and pull request keys differ for every forge and host, same repository', () => {
    const runIds = hosts.map((h) => runIdFor(h, id, '.spotcheck/workflows/ci.yml'));
    const claims = hosts.map((h) =>
      h.forge === 'gitea' ? giteaDeliveryClaimKey(h.host, id) : githubDeliveryClaimKey(h.host, id),
    );
    const prs = hosts.map((h) => prKey({ ...h, owner: OWNER, name: NAME }, 7));
    for (const keys of [runIds, claims, prs]) expect(new Set(keys).size).toBe(hosts.length);
  });

  it('a server for one Gitea host does not act for another', async () => {
    const forges = await openForges(
      { gitea: { url: 'https://gitea.example.org', token: 't', webhookSecret: 's', botLogin: 'spotcheck-bot' } },
      { logger: pino({ level: 'silent' }), now: Date.now },
    );
    expect(forges.gitea?.host).toBe('gitea.example.org');
    // Callers await the lookup inside async code (the intake, the authorizer), as here.
    const lookup = async (install: ForgeInstallation) => forges.lookup.forInstallation(install);
    await expect(lookup({ forge: 'gitea', host: 'git.example.net' })).rejects.toThrow(
      /no gitea \(git\.example\.net\) forge is configured/,
    );
    await expect(lookup({ forge: 'github', host: 'github.com' })).rejects.toThrow(/no github forge is configured/);
    const run = { repo: { ...GITEA_REPO, host: 'git.example.net' } } as RunRecord;
    expect(forges.forRun(run)).toBeUndefined();
    expect(await forges.forRun({ repo: GITEA_REPO } as RunRecord)).toBe(forges.gitea);
  });
});
