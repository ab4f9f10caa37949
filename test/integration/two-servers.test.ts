/**
 * Two `spotcheck serve` processes, one store: what running several replicas of the container image means. Both are
 * real child processes (`node bin/spotcheck.js serve`) on DynamoDB — one dynalite engine started here, in this
 * process — and a GitHub API stand-in on loopback (GHE_HOST, GHE_PROTOCOL=http). Every signed delivery goes to
 * both servers at once, as a load balancer retrying on another replica would send it. Each event must be processed
 * exactly once: one run per matched workflow, one commit status per order and state, and no request to GitHub made
 * twice for the same delivery.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunRecord } from '../../src/core/types.ts';
import { createDynamoStore, type DynamoStore } from '../../src/store/dynamodb.ts';
import { startDynamoEndpoint, type DynamoEndpoint } from '../helpers/dynalite.ts';
import { githubExample, signGitHubBody } from '../helpers/webhook-examples.ts';

const ROOT = new URL('../..', import.meta.url).pathname;
const SECRET = 'two-servers-webhook-secret';
const INSTALLATION = 5151;
const TABLE = 'spotcheck-two-servers';
const SKIP_LABEL = 'nowhere';
const READY_TIMEOUT_MS = 30_000;
const SETTLE_TIMEOUT_MS = 60_000;

/** `ci` (two orders, one needing the other) and `lint` match every push to main; `docs` never matches (paths). */
const WORKFLOWS: Record<string, string> = {
  '.spotcheck/workflows/ci.yml': `name: ci
on:
  push:
    branches: [main]
jobs:
  build:
    runs-on: ${SKIP_LABEL}
    steps:
      - run: make
  test:
    needs: build
    runs-on: ${SKIP_LABEL}
    steps:
      - run: make test
`,
  '.spotcheck/workflows/lint.yml': `name: lint
on: push
jobs:
  lint:
    runs-on: ${SKIP_LABEL}
    steps:
      - run: make lint
`,
  '.spotcheck/workflows/docs.yml': `name: docs
on:
  push:
    paths: ['docs/**']
jobs:
  site:
    runs-on: ${SKIP_LABEL}
    steps:
      - run: make site
`,
};
const MATCHED = { ci: 2, lint: 1 } as const;
const ORDERS_PER_PUSH = MATCHED.ci + MATCHED.lint;
const PUSHES = 3;

interface Logged {
  readonly method: string;
  readonly path: string;
  readonly body: string;
}

/** GitHub's REST API under GHE's `/api/v3` prefix: the few endpoints a push needs, every request logged. */
async function startGitHubStandIn(): Promise<{ host: string; log: Logged[]; close(): Promise<void> }> {
  const log: Logged[] = [];
  const json = (status: number, value: unknown) => ({ status, body: JSON.stringify(value) });
  const answer = (method: string, path: string): { status: number; body: string; raw?: boolean } => {
    if (method === 'POST' && /^\/api\/v3\/app\/installations\/\d+\/access_tokens$/.test(path))
      return json(201, { token: 'ghs_two_servers', expires_at: '2099-01-01T00:00:00Z', permissions: {} });
    // The servers' reconcile of lost deliveries (one of them per interval, a lease in the store): none were lost.
    if (method === 'GET' && path.startsWith('/api/v3/app/hook/deliveries')) return json(200, []);
    const repo = /^\/api\/v3\/repos\/[^/]+\/[^/]+\/(.+)$/.exec(path)?.[1];
    if (repo === undefined) return json(404, { message: 'Not Found' });
    if (method === 'POST' && repo.startsWith('statuses/')) return json(201, { id: 1 });
    if (method === 'GET' && repo.startsWith('compare/'))
      return json(200, { status: 'ahead', files: [{ filename: 'README.md', status: 'modified' }] });
    if (method === 'GET' && repo === 'contents/.spotcheck/workflows')
      return json(
        200,
        Object.entries(WORKFLOWS).map(([file, text], i) => ({
          type: 'file',
          name: file.split('/').pop(),
          path: file,
          size: Buffer.byteLength(text),
          sha: String(i + 1).padStart(40, '0'),
        })),
      );
    const file = repo.startsWith('contents/')
      ? WORKFLOWS[decodeURIComponent(repo.slice('contents/'.length))]
      : undefined;
    if (method === 'GET' && file !== undefined) return { status: 200, body: file, raw: true };
    return json(404, { message: 'Not Found' });
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      // Octokit encodes the `/` of a contents path (`.spotcheck%2Fworkflows`); GitHub reads both spellings.
      const path = decodeURIComponent((req.url ?? '/').split('?')[0] ?? '/');
      const method = req.method ?? 'GET';
      log.push({ method, path, body: Buffer.concat(chunks).toString('utf8') });
      const a = answer(method, path);
      res.writeHead(a.status, { 'content-type': a.raw ? 'text/plain; charset=utf-8' : 'application/json' });
      res.end(a.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    host: `127.0.0.1:${String(port)}`,
    log,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

interface Child {
  readonly url: string;
  readonly process: ChildProcess;
  readonly logPath: string;
}

async function startServe(env: Record<string, string>, logPath: string): Promise<Child> {
  const port = await freePort();
  const url = `http://127.0.0.1:${String(port)}`;
  const fd = openSync(logPath, 'a');
  let child: ChildProcess;
  try {
    child = spawn(process.execPath, ['bin/spotcheck.js', 'serve'], {
      cwd: ROOT,
      env: { ...env, PORT: String(port), HOST: '127.0.0.1' },
      stdio: ['ignore', fd, fd],
    });
  } finally {
    closeSync(fd);
  }
  const started: Child = { url, process: child, logPath };
  for (let waited = 0; waited < READY_TIMEOUT_MS; waited += 100) {
    if (child.exitCode !== null || child.signalCode !== null) break;
    const ok = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1_000) }).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return started;
    await sleep(100);
  }
  await stopServe(started);
  throw new Error(`spotcheck serve did not become healthy:\n${await readFile(logPath, 'utf8').catch(() => '')}`);
}

/** SIGTERM (serve closes: answers, background work, store), SIGKILL if it does not exit in time. */
async function stopServe(child: Child): Promise<'exited' | 'killed' | 'gone'> {
  const p = child.process;
  if (p.exitCode !== null || p.signalCode !== null) return 'gone';
  const exited = new Promise<void>((resolve) => p.once('exit', () => resolve()));
  p.kill('SIGTERM');
  if (await Promise.race([exited.then(() => true), sleep(15_000).then(() => false)])) return 'exited';
  p.kill('SIGKILL');
  await exited;
  return 'killed';
}

let dir: string;
let engine: DynamoEndpoint;
let store: DynamoStore;
let github: Awaited<ReturnType<typeof startGitHubStandIn>>;
const servers: Child[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'spotcheck-two-servers-'));
  engine = await startDynamoEndpoint();
  github = await startGitHubStandIn();
  await writeFile(
    join(dir, 'spotcheck.yml'),
    [
      'store:',
      '  kind: dynamodb',
      `  endpoint: ${engine.endpoint}`,
      `  table: ${TABLE}`,
      '  region: eu-west-1',
      'routes:',
      `  ${SKIP_LABEL}: skip`,
      '',
    ].join('\n'),
  );
  const privateKey = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  }).privateKey;
  // Nothing of this process's environment: the servers get what a container would.
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: dir,
    LOG_LEVEL: process.env.KEEP_TWO_SERVERS ? 'debug' : 'info',
    APP_ID: '1',
    APP_SLUG: 'spotcheck',
    PRIVATE_KEY: privateKey,
    WEBHOOK_SECRET: SECRET,
    GHE_HOST: github.host,
    GHE_PROTOCOL: 'http',
    PUBLIC_URL: 'http://spotcheck.test',
    SPOTCHECK_CONFIG: join(dir, 'spotcheck.yml'),
    // dynalite accepts any credentials; the SDK needs some to sign with.
    AWS_ACCESS_KEY_ID: 'two-servers',
    AWS_SECRET_ACCESS_KEY: 'two-servers',
    AWS_REGION: 'eu-west-1',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
  // Started one after the other: both run ensureTable on the same table, and the second finds it made.
  for (const name of ['a', 'b']) {
    servers.push(await startServe({ ...env, SPOTCHECK_DATA_DIR: join(dir, name) }, join(dir, `${name}.log`)));
  }
  store = createDynamoStore({ client: engine.client, table: TABLE });
}, 90_000);

afterAll(async () => {
  await Promise.all(servers.map((s) => stopServe(s)));
  await github?.close();
  await engine?.close();
  // KEEP_TWO_SERVERS=1 keeps the servers' logs (at debug level) for a look after a failure.
  if (dir && !process.env.KEEP_TWO_SERVERS) await rm(dir, { recursive: true, force: true });
  else console.log(`two-servers logs kept in ${dir}`);
}, 60_000);

function pushDelivery(n: number): { body: string; after: string; before: string } {
  const payload = githubExample('push', (p) => p['ref'] === 'refs/heads/master' && p['installation'] !== undefined);
  const after = (n + 1).toString(16).padStart(2, '0').repeat(20);
  const before = 'f'.repeat(40);
  Object.assign(payload, { ref: 'refs/heads/main', before, after, deleted: false, created: false });
  (payload['installation'] as { id: number }).id = INSTALLATION;
  return { body: JSON.stringify(payload), after, before };
}

async function post(url: string, body: string, deliveryId: string): Promise<{ status: number; text: string }> {
  const response = await fetch(`${url}/api/github/webhooks`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-github-event': 'push',
      'x-github-delivery': deliveryId,
      'x-hub-signature-256': signGitHubBody(SECRET, body),
    },
    body,
    signal: AbortSignal.timeout(15_000),
  });
  return { status: response.status, text: await response.text() };
}

/** What to look at when the assertion fails: the GitHub requests and the servers' last log lines. */
async function diagnostics(): Promise<string> {
  const logs = await Promise.all(
    servers.map(async (s) => (await readFile(s.logPath, 'utf8').catch(() => '')).split('\n').slice(-15).join('\n')),
  );
  return [`GitHub requests: ${github.log.map((r) => `${r.method} ${r.path}`).join(', ')}`, ...logs].join('\n');
}

async function allRuns(): Promise<RunRecord[]> {
  return store.listRuns({ limit: 100 });
}

describe('two spotcheck serve processes on one store', () => {
  it('process each delivery sent to both exactly once', async () => {
    expect(servers).toHaveLength(2);
    const deliveries = Array.from({ length: PUSHES }, (_, n) => ({ id: randomUUID(), ...pushDelivery(n) }));

    // Each delivery to both servers at the same moment.
    const answers = await Promise.all(
      deliveries.map(async (d) => Promise.all(servers.map((s) => post(s.url, d.body, d.id)))),
    );
    for (const pair of answers) {
      // One server takes the delivery (202), the other finds it claimed (200 duplicate).
      expect(pair.map((a) => a.status).sort()).toEqual([200, 202]);
      expect(pair.find((a) => a.status === 200)?.text).toContain('duplicate');
    }

    // Settled: every expected run exists and is over (the skip route ends orders without executing them), and every
    // order's final status reached GitHub.
    const expectedRuns = PUSHES * Object.keys(MATCHED).length;
    const finalStatuses = () =>
      github.log.filter((r) => r.path.includes('/statuses/') && !r.body.includes('"pending"')).length;
    for (let waited = 0; waited < SETTLE_TIMEOUT_MS; waited += 200) {
      const runs = await allRuns();
      const over = runs.length >= expectedRuns && runs.every((r) => r.status !== 'running' && r.status !== 'pending');
      // The first tick of each server also tries the reconcile of lost deliveries (one of them holds the lease).
      const reconciled = github.log.some((r) => r.method === 'GET' && r.path.includes('/app/hook/deliveries'));
      if (over && reconciled && finalStatuses() >= PUSHES * ORDERS_PER_PUSH) break;
      await sleep(200);
    }
    // Then both servers stop, so nothing can reach the stand-in after this: its log is complete. (SIGKILL after the
    // grace period: whether serve exits promptly on SIGTERM is not what this test is about.)
    await Promise.all(servers.map((s) => stopServe(s)));

    const runs = await allRuns();
    expect(runs, await diagnostics()).toHaveLength(expectedRuns);
    const perShaWorkflow = new Map<string, number>();
    for (const run of runs) {
      const key = `${run.sha} ${run.workflowName}`;
      perShaWorkflow.set(key, (perShaWorkflow.get(key) ?? 0) + 1);
    }
    expect([...perShaWorkflow.keys()].sort()).toEqual(
      deliveries.flatMap((d) => Object.keys(MATCHED).map((w) => `${d.after} ${w}`)).sort(),
    );
    expect([...perShaWorkflow.values()].every((count) => count === 1)).toBe(true);
    for (const run of runs) {
      const orders = await store.listOrders(run.runId);
      expect(orders).toHaveLength(MATCHED[run.workflowName as keyof typeof MATCHED]);
      expect(orders.every((o) => o.state === 'skipped')).toBe(true);
    }

    // GitHub saw each piece of work once: one listing, one compare and one read per workflow file per delivery.
    const count = (method: string, pattern: RegExp) =>
      github.log.filter((r) => r.method === method && pattern.test(r.path)).length;
    expect(count('GET', /\/contents\/\.spotcheck\/workflows$/)).toBe(PUSHES);
    expect(count('GET', /\/compare\//)).toBe(PUSHES);
    expect(count('GET', /\/contents\/\.spotcheck\/workflows\/.+\.yml$/)).toBe(PUSHES * Object.keys(WORKFLOWS).length);
    // Installation tokens are cached per process: at most one per server.
    expect(count('POST', /\/access_tokens$/)).toBeLessThanOrEqual(servers.length);
    expect(github.log.filter((r) => !/access_tokens|contents|compare|statuses|hook\/deliveries/.test(r.path))).toEqual(
      [],
    );
    // One reconcile of lost deliveries for the two servers: the lease in the shared store lets one of them run it.
    expect(count('GET', /\/app\/hook\/deliveries/)).toBe(1);

    // One commit status per order and state, and every order's context reported.
    const statuses = github.log
      .filter((r) => r.method === 'POST' && r.path.includes('/statuses/'))
      .map((r) => ({
        sha: r.path.split('/').pop() ?? '',
        ...(JSON.parse(r.body) as { context: string; state: string }),
      }));
    const keys = statuses.map((s) => `${s.sha} ${s.context} ${s.state}`);
    expect(new Set(keys).size).toBe(keys.length);
    const contexts = new Set(statuses.map((s) => `${s.sha} ${s.context}`));
    expect(contexts.size).toBe(PUSHES * ORDERS_PER_PUSH);
  }, 120_000);
});
