/**
 * The GitHub App end to end: `startSpotcheckServer` listening on loopback with the embedded store and the local
 * runner; a push delivery signed with the webhook secret is POSTed to it; the local runner executes the orders
 * (checked out from a real git repository); statuses arrive at GitHub's API (nock, every request checked against
 * GitHub's OpenAPI description).
 */
import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startSpotcheckServer, type SpotcheckServer } from '../../src/app/start-server.ts';
import { defaultConfig, parseConfig } from '../../src/config.ts';
import type { LaunchRequest, Runner } from '../../runners/runner.ts';
import { useGitHubApi, testPrivateKey } from '../helpers/github-api.ts';
import { githubExample, signGitHubBody } from '../helpers/webhook-examples.ts';

const exec = promisify(execFile);
import { makeTwoCommitRepo } from '../helpers/e2e-repo.ts';

const SECRET = 'e2e-webhook-secret';
const INSTALLATION = 4242;
const WORKFLOW = `name: ci
# No order token (permissions: {}): this test counts the push path's requests; order tokens have their own tests.
permissions: {}
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

const api = useGitHubApi();
let dir: string;
let repo: string;
let server: SpotcheckServer | undefined;

beforeEach(async () => {
  ({ dir, repo } = await makeTwoCommitRepo('spotcheck-e2e-', { '.spotcheck/workflows/ci.yml': WORKFLOW }));
});

afterEach(async () => {
  await server?.close();
  server = undefined;
  await rm(dir, { recursive: true, force: true });
});

async function sha(rev: string): Promise<string> {
  return (await exec('git', ['-C', repo, 'rev-parse', rev])).stdout.trim();
}

interface StartOptions {
  /** A spot route for `runs-on: local` and this fake in place of the spot runner; no cloneUrlFor override. */
  readonly spot?: Runner;
}

async function start(appSlug: string | null = 'spotcheck', opts: StartOptions = {}): Promise<SpotcheckServer> {
  const base = defaultConfig({ dataDir: join(dir, 'data'), publicUrl: 'https://ci.example.com' });
  const config = opts.spot
    ? parseConfig(
        'routes: { local: { runner: spot, instanceTypes: [c7i.large], subnets: [subnet-0123456789abcdef0], ami: ami-0123456789abcdef0 } }',
        'test',
        base,
      )
    : base;
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
        ...(appSlug === null ? {} : { appSlug }),
      },
    },
    config,
    logger: pino({ level: 'silent' }),
    tickMs: 0,
    stepEnv: () => ({ PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir }),
    ...(opts.spot ? { runners: { spot: opts.spot } } : { cloneUrlFor: () => Promise.resolve(repo) }),
  });
  return server;
}

async function deliver(url: string, name: string, payload: unknown, id: string, secret = SECRET): Promise<Response> {
  const body = JSON.stringify(payload);
  return fetch(`${url}/api/github/webhooks`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-github-event': name,
      'x-github-delivery': id,
      'x-hub-signature-256': signGitHubBody(secret, body),
    },
    body,
  });
}

async function settle(s: SpotcheckServer, done: () => boolean): Promise<void> {
  for (let i = 0; i < 600 && !done(); i++) {
    await s.idle();
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  await s.idle();
}

describe('the GitHub App, end to end', () => {
  it('reads its slug once, in the background, when APP_SLUG is unset', async () => {
    api()
      .get('/app')
      .reply(200, { id: 1, slug: 'spotcheck-ci', name: 'spotcheck', owner: { login: 'acme' } });
    const s = await start(null);
    expect((await fetch(`${s.url}/healthz`)).status).toBe(200);
    const asked = () => api().requests({ method: 'GET', path: '/app' }).length;
    for (let i = 0; i < 400 && asked() === 0; i++) await new Promise((resolve) => setTimeout(resolve, 25));
    expect(asked()).toBe(1);
  });

  it('a signed push runs the workflows on the local runner and reports statuses', async () => {
    const after = await sha('HEAD');
    const before = await sha('HEAD~1');
    const s = await start();
    const payload = githubExample('push', (p) => p['ref'] === 'refs/heads/master' && p['installation'] !== undefined);
    Object.assign(payload, { ref: 'refs/heads/main', before, after, deleted: false });
    (payload['installation'] as { id: number }).id = INSTALLATION;
    const repository = payload['repository'] as Record<string, unknown>;
    const owner = (repository['owner'] as { login: string }).login;
    const name = repository['name'] as string;
    const path = `/repos/${owner}/${name}`;

    api()
      .post(`/app/installations/${INSTALLATION}/access_tokens`)
      .reply(201, { token: 'ghs_install', expires_at: '2099-01-01T00:00:00Z', permissions: {} });
    api()
      .get(`${path}/contents/.spotcheck/workflows`)
      .query({ ref: after })
      .reply(200, [
        { type: 'file', name: 'ci.yml', path: '.spotcheck/workflows/ci.yml', size: WORKFLOW.length, sha: 'b1' },
      ]);
    api().get(`${path}/contents/.spotcheck/workflows/ci.yml`).query({ ref: after }).reply(200, WORKFLOW);
    api()
      .get(`${path}/compare/${before}...${after}`)
      .query(() => true)
      .reply(200, { files: [{ filename: 'README.md', status: 'modified' }] });
    api()
      .post(new RegExp(`^${path}/statuses/${after}$`))
      .times(6)
      .reply(201, { id: 1 });

    const answer = await deliver(s.url, 'push', payload, 'd-1');
    expect(answer.status).toBe(202);
    const duplicate = await deliver(s.url, 'push', payload, 'd-1');
    expect(duplicate.status).toBe(200);
    const forged = await deliver(s.url, 'push', payload, 'd-2', 'not-the-secret');
    expect(forged.status).toBe(401);

    await settle(s, () => api().requests({ method: 'POST', path: /statuses/ }).length >= 6);
    const statuses = api()
      .requests({ method: 'POST', path: /statuses/ })
      .map((r) => r.body as { context: string; state: string; target_url: string });
    const byContext = new Map<string, string[]>();
    for (const st of statuses) byContext.set(st.context, [...(byContext.get(st.context) ?? []), st.state]);
    expect(Object.fromEntries(byContext)).toEqual({
      'spotcheck/ci/build': ['pending', 'success'],
      'spotcheck/ci/test (1)': ['pending', 'success'],
      'spotcheck/ci/test (2)': ['pending', 'success'],
    });
    expect(statuses[0]?.target_url).toMatch(/^https:\/\/ci\.example\.com\/runs\/[^/]+\/orders\/[^/]+\/log$/);

    // Budget: W = 1 workflow file → at most W + 3 requests to read and plan (token, listing, file, compare).
    const reads = api()
      .requests()
      .filter((r) => r.method === 'GET' || r.path.endsWith('/access_tokens'));
    expect(reads.length).toBeLessThanOrEqual(1 + 3);

    // The log page serves what the local runner wrote.
    const runs = await s.store.listRuns({ status: 'succeeded' });
    expect(runs).toHaveLength(1);
    const log = await fetch(`${s.url}/runs/${encodeURIComponent(runs[0]!.runId)}/orders/test.2/log`);
    expect(log.status).toBe(200);
    expect(await log.text()).toContain(`shard 2 saw hello from ${after}`);
  });

  it('a cloud launch mints no clone token: the agent gets its clone URL from the bootstrap exchange', async () => {
    const after = await sha('HEAD');
    const before = await sha('HEAD~1');
    const launched: LaunchRequest[] = [];
    const spot: Runner = {
      kind: 'spot',
      launch(request) {
        launched.push(request);
        return Promise.resolve({ handle: `fake:${request.job.ref.orderId}` });
      },
      terminate: () => Promise.resolve(),
      isAlive: () => Promise.resolve(true),
    };
    const s = await start('spotcheck', { spot });
    const payload = githubExample('push', (p) => p['ref'] === 'refs/heads/master' && p['installation'] !== undefined);
    Object.assign(payload, { ref: 'refs/heads/main', before, after, deleted: false });
    (payload['installation'] as { id: number }).id = INSTALLATION;
    const repository = payload['repository'] as Record<string, unknown>;
    const path = `/repos/${(repository['owner'] as { login: string }).login}/${repository['name'] as string}`;

    // The installation's own token, for reading the workflows and writing statuses: the one token request.
    api()
      .post(`/app/installations/${INSTALLATION}/access_tokens`)
      .reply(201, { token: 'ghs_install', expires_at: '2099-01-01T00:00:00Z', permissions: {} });
    api()
      .get(`${path}/contents/.spotcheck/workflows`)
      .query({ ref: after })
      .reply(200, [
        { type: 'file', name: 'ci.yml', path: '.spotcheck/workflows/ci.yml', size: WORKFLOW.length, sha: 'b1' },
      ]);
    api().get(`${path}/contents/.spotcheck/workflows/ci.yml`).query({ ref: after }).reply(200, WORKFLOW);
    api()
      .get(`${path}/compare/${before}...${after}`)
      .query(() => true)
      .reply(200, { files: [{ filename: 'README.md', status: 'modified' }] });
    // The run starts: `pending` for its three orders; only `build` launches (the others need it).
    api()
      .post(new RegExp(`^${path}/statuses/${after}$`))
      .times(3)
      .reply(201, { id: 1 });

    expect((await deliver(s.url, 'push', payload, 'd-cloud')).status).toBe(202);
    await settle(s, () => launched.length >= 1 && api().requests({ method: 'POST', path: /statuses/ }).length >= 3);

    expect(launched.map((l) => [l.job.ref.orderId, l.job.cloneUrl])).toEqual([['build', '']]);
    expect(api().requests({ method: 'POST', path: /\/access_tokens$/ })).toHaveLength(1);
  });
});
