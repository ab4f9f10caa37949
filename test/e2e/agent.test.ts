/**
 * The agent run for real (issue 6): a child process (bin/spotcheck-agent.js) and in-process `runAgent`, against the
 * real callback server on loopback — router, report route, log route, bootstrap route, the Orchestrator on the
 * embedded store — with a local git repository as the clone URL and an IMDSv2 stand-in per "instance".
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildGithubContext } from '../../src/core/github-context.ts';
import type { OrderRecord, OrderSpec, RunRecord, StepSpec } from '../../src/core/types.ts';
import { DEFAULT_LIMITS } from '../../src/config.ts';
import { Orchestrator, type Reporter } from '../../src/orchestrator.ts';
import { mintBootstrapToken } from '../../src/server/bootstrap-tokens.ts';
import { AGENT_BOOTSTRAP_PATH, createBootstrapRoute } from '../../src/server/bootstrap-route.ts';
import { AGENT_REPORT_PATH, createCallbackRoute } from '../../src/server/callback-route.ts';
import { createFileLogStore, type LogStore } from '../../src/server/log-store.ts';
import { createLogRoute } from '../../src/server/log-route.ts';
import { createHttpServer } from '../../src/server/node-http.ts';
import { signOrderToken } from '../../src/server/order-token.ts';
import { createRouter, type Router } from '../../src/server/router.ts';
import type { DynamoStore } from '../../src/store/dynamodb.ts';
import type { EmbeddedStore } from '../../src/store/embedded.ts';
import { buildOrderJob } from '../../runners/order-job.ts';
import type { OrderRef, Route, Runner } from '../../runners/runner.ts';
import { runAgent, type AgentOptions } from '../../runners/agent/main.ts';
import { createImdsClient } from '../../runners/agent/imds.ts';
import { redactCloneUrl, withoutCredentials } from '../../runners/agent/checkout.ts';
import { createIsolatedStore, startTestStore } from '../helpers/dynalite.ts';
import { startImdsStub, type ImdsStub } from '../helpers/imds-stub.ts';
import { plan, spec } from '../helpers/plans.ts';
import { openVisibility } from '../../src/server/auth/visibility.ts';

const SECRET = 's'.repeat(40);
const AGENT_BIN = path.resolve(import.meta.dirname, '../../bin/spotcheck-agent.js');
const silent = pino({ level: 'silent' });

let embedded: EmbeddedStore;
let root: string;
let repo: string;
let sha: string;

function git(args: string[], cwd: string): string {
  return execFileSync('git', args, {
    cwd,
    encoding: 'utf8',
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: root,
      GIT_AUTHOR_NAME: 't',
      GIT_AUTHOR_EMAIL: 't@example.com',
      GIT_COMMITTER_NAME: 't',
      GIT_COMMITTER_EMAIL: 't@example.com',
    },
  }).trim();
}

beforeAll(async () => {
  embedded = await startTestStore();
  root = await mkdtemp(path.join(tmpdir(), 'spotcheck-agent-e2e-'));
  repo = path.join(root, 'repo');
  git(['init', '--quiet', '--initial-branch=main', repo], root);
  await writeFile(path.join(repo, 'README.md'), 'checked out\n');
  git(['add', 'README.md'], repo);
  git(['commit', '--quiet', '-m', 'one'], repo);
  sha = git(['rev-parse', 'HEAD'], repo);
});

afterAll(async () => {
  await embedded.close();
  await rm(root, { recursive: true, force: true });
});

/** One cloud "instance": its IMDS, its power-off marker, the agent process. */
interface Instance {
  readonly ref: OrderRef;
  readonly token: string;
  readonly imds: ImdsStub;
  readonly marker: string;
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  stdout: string;
}

class RunWatcher implements Reporter {
  readonly #done = new Map<string, RunRecord>();
  readonly #waiters = new Map<string, (run: RunRecord) => void>();
  readonly states: [string, string, number][] = [];
  orderChanged(_run: RunRecord, order: OrderRecord): Promise<void> {
    this.states.push([order.id, order.state, order.attempt]);
    return Promise.resolve();
  }
  runChanged(run: RunRecord): Promise<void> {
    if (run.status !== 'running' && run.status !== 'pending') {
      this.#done.set(run.runId, run);
      this.#waiters.get(run.runId)?.(run);
    }
    return Promise.resolve();
  }
  finished(runId: string): Promise<RunRecord> {
    const done = this.#done.get(runId);
    if (done) return Promise.resolve(done);
    return new Promise((resolve) => this.#waiters.set(runId, resolve));
  }
}

interface Harness {
  readonly store: DynamoStore;
  readonly logs: LogStore;
  readonly orchestrator: Orchestrator;
  readonly watcher: RunWatcher;
  readonly baseUrl: string;
  readonly instances: Instance[];
  /** The clone URL jobs get (the local repository unless a test changes it). */
  cloneUrl: string;
  close(): Promise<void>;
}

let harnesses: Harness[] = [];
let runs = 0;

beforeEach(() => {
  harnesses = [];
  return async () => {
    for (const h of harnesses) await h.close();
  };
});

/** The server as `serve` wires it, and a "spot" runner that starts the real agent as a process per launch. */
async function startHarness(opts: { spawnAgents?: boolean } = {}): Promise<Harness> {
  const store = await createIsolatedStore(embedded.client);
  const dataDir = await mkdtemp(path.join(root, 'data-'));
  const logs = createFileLogStore(dataDir);
  const watcher = new RunWatcher();
  const instances: Instance[] = [];
  let baseUrl = '';
  const harness: { cloneUrl: string } = { cloneUrl: repo };

  const spawnAgent = async (ref: OrderRef): Promise<Instance> => {
    const token = await mintBootstrapToken(store, 'order', ref, 10 * 60_000);
    const imds = await startImdsStub();
    const marker = path.join(dataDir, `power-off-${ref.orderId}-${String(ref.attempt)}`);
    const workdir = path.join(dataDir, `instance-${ref.orderId}-${String(ref.attempt)}`);
    const child = spawn(process.execPath, [AGENT_BIN], {
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: root,
        SPOTCHECK_BOOTSTRAP_URL: `${baseUrl}${AGENT_BOOTSTRAP_PATH}`,
        SPOTCHECK_BOOTSTRAP_TOKEN: token,
        SPOTCHECK_WORKDIR: workdir,
        SPOTCHECK_RUNNER: 'spot',
        SPOTCHECK_IMDS_URL: imds.url,
        SPOTCHECK_IMDS_POLL_MS: '100',
        SPOTCHECK_POWER_OFF: JSON.stringify(['sh', '-c', 'echo off >> "$0"', marker]),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const instance: Instance = {
      ref,
      token,
      imds,
      marker,
      child,
      stdout: '',
      exited: new Promise((resolve) => child.once('exit', (code) => resolve(code))),
    };
    child.stdout?.on('data', (d: Buffer) => (instance.stdout += d.toString('utf8')));
    child.stderr?.on('data', (d: Buffer) => (instance.stdout += d.toString('utf8')));
    instances.push(instance);
    return instance;
  };

  const handles = new Map<string, Instance | undefined>();
  const runner: Runner = {
    kind: 'spot',
    async launch({ job }) {
      const handle = `test-instance:${job.ref.runId}/${job.ref.orderId}/${String(job.ref.attempt)}`;
      if (handles.has(handle)) return { handle };
      handles.set(handle, undefined);
      if (opts.spawnAgents !== false) handles.set(handle, await spawnAgent(job.ref));
      return { handle };
    },
    terminate(handle) {
      handles.get(handle)?.child.kill('SIGKILL');
      return Promise.resolve();
    },
    isAlive(handle) {
      const instance = handles.get(handle);
      return Promise.resolve(instance !== undefined && instance.child.exitCode === null);
    },
  };

  const jobFor = (run: RunRecord, order: OrderRecord) =>
    Promise.resolve(buildOrderJob(run, order, {}, harness.cloneUrl));
  const routes = new Map<string, Route>([['cloud', { label: 'cloud', runner: 'spot', settings: {} }]]);
  const orchestrator = new Orchestrator({
    store,
    runners: { spot: runner },
    routes,
    limits: { ...DEFAULT_LIMITS, maxConcurrentOrders: 100 },
    reporter: watcher,
    logger: silent,
    jobFor: (run, order, needs) => Promise.resolve(buildOrderJob(run, order, needs, harness.cloneUrl)),
  });
  // The bootstrap route names the absolute report URL, known once the server listens: routes are built then.
  const routing: { router: Router } = { router: createRouter([]) };
  const server = createHttpServer({ handle: (req) => routing.router.handle(req) }, { logger: silent });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${String((server.address() as AddressInfo).port)}`;
  routing.router = createRouter([
    createCallbackRoute({ store, sink: orchestrator, logs, secret: SECRET, now: Date.now }),
    createLogRoute({ store, logs, visibility: openVisibility() }),
    createBootstrapRoute({ store, secret: SECRET, jobFor, reportUrl: `${baseUrl}${AGENT_REPORT_PATH}`, now: Date.now }),
  ]);

  const full: Harness = Object.assign(harness, {
    store,
    logs,
    orchestrator,
    watcher,
    baseUrl,
    instances,
    async close() {
      for (const instance of instances) {
        if (instance.child.exitCode === null) instance.child.kill('SIGKILL');
        await instance.exited;
        await instance.imds.close();
      }
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  });
  harnesses.push(full);
  return full;
}

function step(index: number, run: string, extra: Partial<StepSpec> = {}): StepSpec {
  return { index, run, env: {}, continueOnError: false, pos: { line: 1, col: 1 }, ...extra };
}

async function startRun(h: Harness, order: Partial<OrderSpec>): Promise<string> {
  const runId = `agent-run-${String(++runs)}`;
  const github = buildGithubContext({
    event: 'push',
    ref: 'refs/heads/main',
    sha,
    repository: 'octo/app',
    actor: 'alice',
    serverUrl: 'https://github.com',
    workflow: 'ci',
  });
  await h.orchestrator.startRun({
    runId,
    repo: { forge: 'github', host: 'github.com', owner: 'octo', name: 'app' },
    plan: plan([spec('build', { runsOn: 'cloud', timeoutMinutes: 5, ...order })]),
    event: 'push',
    ref: 'refs/heads/main',
    sha,
    actor: 'alice',
    github,
  });
  return runId;
}

async function logOf(h: Harness, ref: OrderRef): Promise<string> {
  return (await h.logs.read(ref, { offset: 0, maxBytes: 1024 * 1024 })).text;
}

async function powerOffs(instance: Instance): Promise<number> {
  const text = await readFile(instance.marker, 'utf8').catch(() => '');
  return text.split('\n').filter((line) => line === 'off').length;
}

async function until(check: () => Promise<boolean> | boolean, what: string, limitMs = 20_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function post(url: string, token: string, body?: unknown): Promise<number> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  await res.body?.cancel();
  return res.status;
}

describe('the agent as a process, against the real callback server', () => {
  it('runs an order to success with outputs; the steps never see the agent environment; powers off once', async () => {
    const h = await startHarness();
    const runId = await startRun(h, {
      steps: [
        step(0, 'cat README.md'),
        step(1, 'echo "v=42" >> "$GITHUB_OUTPUT"', { id: 'out' }),
        // The step fails if the bootstrap token (or anything else of the agent's) reached it.
        step(2, 'env | sort; test -z "${SPOTCHECK_BOOTSTRAP_TOKEN:-}" && test -z "${SPOTCHECK_BOOTSTRAP_URL:-}"'),
        step(3, 'git remote get-url origin'),
      ],
      outputExprs: { v: '${{ steps.out.outputs.v }}' },
    });
    const run = await h.watcher.finished(runId);
    expect(run.status).toBe('succeeded');
    const order = await h.store.getOrder(runId, 'build');
    expect(order?.state).toBe('succeeded');
    expect(order?.outputs).toEqual({ v: '42' });
    expect(h.instances).toHaveLength(1);
    const [instance] = h.instances as [Instance];
    expect(await instance.exited).toBe(0);
    expect(await powerOffs(instance)).toBe(1);
    const log = await logOf(h, instance.ref);
    expect(log).toContain('checked out');
    expect(log).toContain('##[step] Run env | sort');
    expect(log).not.toContain(instance.token);
    expect(instance.stdout).not.toContain(instance.token);
    expect(await h.logs.isComplete(instance.ref)).toBe(true);
    // The IMDSv2 session: a token first, then looks with it.
    expect(instance.imds.requests[0]).toBe('PUT /latest/api/token 200');
    expect(instance.imds.requests).toContain('GET /latest/meta-data/spot/instance-action 404');

    // The bootstrap token was spent.
    expect(await post(`${h.baseUrl}${AGENT_BOOTSTRAP_PATH}`, instance.token)).toBe(401);
  });

  it('ends failed when a step fails, and still powers off once', async () => {
    const h = await startHarness();
    const runId = await startRun(h, { steps: [step(0, 'echo before'), step(1, 'exit 3'), step(2, 'echo never')] });
    const run = await h.watcher.finished(runId);
    expect(run.status).toBe('failed');
    const order = await h.store.getOrder(runId, 'build');
    expect(order?.state).toBe('failed');
    expect(order?.reason).toContain("step 'Run exit 3' failed");
    const [instance] = h.instances as [Instance];
    expect(await instance.exited).toBe(0);
    expect(await powerOffs(instance)).toBe(1);
    const log = await logOf(h, instance.ref);
    expect(log).toContain('before');
    expect(log).toContain('##[skipped]');
  });

  it('reports interrupted on a Spot notice mid-step; the order is retried at attempt 2 and succeeds', async () => {
    const h = await startHarness();
    const runId = await startRun(h, {
      // Only the first attempt sleeps: the retried one (a new instance, no notice) finishes at once.
      steps: [
        step(0, 'echo started; if [ "$GITHUB_RUN_ATTEMPT" = 1 ]; then sleep 30; fi; echo attempt $GITHUB_RUN_ATTEMPT'),
      ],
    });
    await until(() => h.instances.length === 1, 'the first instance');
    const first = h.instances[0]!;
    await until(async () => (await logOf(h, first.ref)).includes('started'), 'the step to start');
    first.imds.interrupt();
    expect(await first.exited).toBe(0);
    expect(await powerOffs(first)).toBe(1);

    const run = await h.watcher.finished(runId);
    expect(run.status).toBe('succeeded');
    const order = await h.store.getOrder(runId, 'build');
    expect(order?.attempt).toBe(2);
    expect(order?.state).toBe('succeeded');
    // The interrupted attempt is retried at once: a new attempt is dispatched.
    expect(h.watcher.states).toContainEqual(['build', 'dispatching', 2]);
    expect(first.stdout).toMatch(/"report":"interrupted".*"msg":"final report delivered"/);
    expect(h.instances).toHaveLength(2);
    const second = h.instances[1]!;
    expect(second.ref.attempt).toBe(2);
    expect(await second.exited).toBe(0);
    expect(await powerOffs(second)).toBe(1);
    expect(await logOf(h, second.ref)).toContain('attempt 2');
    // The first attempt's log ends at the interruption: the sleep never finished.
    expect(await logOf(h, first.ref)).not.toContain('attempt 1');
  });

  it('reports interrupted on SIGTERM (the instance shutting down) and powers off once', async () => {
    const h = await startHarness();
    const runId = await startRun(h, {
      steps: [step(0, 'echo started; if [ "$GITHUB_RUN_ATTEMPT" = 1 ]; then sleep 30; fi')],
    });
    await until(() => h.instances.length === 1, 'the first instance');
    const first = h.instances[0]!;
    await until(async () => (await logOf(h, first.ref)).includes('started'), 'the step to start');
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    expect(await powerOffs(first)).toBe(1);
    const run = await h.watcher.finished(runId);
    expect(run.status).toBe('succeeded');
    expect(first.stdout).toMatch(/"report":"interrupted".*"msg":"final report delivered"/);
    expect(h.watcher.states).toContainEqual(['build', 'dispatching', 2]);
    expect((await h.store.getOrder(runId, 'build'))?.attempt).toBe(2);
  });

  it('exits non-zero after powering off once when the bootstrap token is refused', async () => {
    const h = await startHarness({ spawnAgents: false });
    const marker = path.join(root, 'power-off-refused');
    const child = spawn(process.execPath, [AGENT_BIN], {
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        SPOTCHECK_BOOTSTRAP_URL: `${h.baseUrl}${AGENT_BOOTSTRAP_PATH}`,
        SPOTCHECK_BOOTSTRAP_TOKEN: 'A'.repeat(43),
        SPOTCHECK_IMDS_URL: 'off',
        SPOTCHECK_WORKDIR: path.join(root, 'refused'),
        SPOTCHECK_POWER_OFF: JSON.stringify(['sh', '-c', 'echo off >> "$0"', marker]),
      },
      stdio: 'ignore',
    });
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(1);
    expect((await readFile(marker, 'utf8')).trim().split('\n')).toEqual(['off']);
  });

  it('refuses forged report tokens and reports for another attempt', async () => {
    const h = await startHarness();
    const runId = await startRun(h, { steps: [step(0, 'true')] });
    await h.watcher.finished(runId);
    const [instance] = h.instances as [Instance];
    const report = { type: 'finished', conclusion: 'failure', outputs: {}, stepResults: [] };
    const claims = { runId, orderId: 'build', attempt: 1, sha, expiresAt: Date.now() + 60_000 };
    const url = `${h.baseUrl}${AGENT_REPORT_PATH}`;
    expect(await post(url, signOrderToken('f'.repeat(40), claims), report)).toBe(401);
    expect(await post(url, instance.token, report)).toBe(401);
    const real = signOrderToken(SECRET, claims);
    const [payload, mac] = real.split('.') as [string, string];
    const tampered = Buffer.from(JSON.stringify({ ...claims, attempt: 2 })).toString('base64url');
    expect(await post(url, `${tampered}.${mac}`, report)).toBe(401);
    expect(payload).not.toBe(tampered);
    // A genuine token for a finished order changes nothing.
    expect(await post(url, real, report)).toBe(409);
    expect((await h.store.getOrder(runId, 'build'))?.state).toBe('succeeded');
  });
});

describe('runAgent in-process', () => {
  async function prepared(h: Harness): Promise<{ runId: string; token: string; ref: OrderRef }> {
    // The order is dispatched by the orchestrator (spawnAgents: false), and this test plays the instance.
    const runId = await startRun(h, {
      steps: [step(0, 'echo in-process; echo "x=1" >> "$GITHUB_OUTPUT"', { id: 's' })],
      outputExprs: { x: '${{ steps.s.outputs.x }}' },
    });
    const ref = { runId, orderId: 'build', attempt: 1 };
    await until(
      async () =>
        (await h.store.getOrder(runId, 'build'))?.state === 'running' ||
        (await h.store.getOrder(runId, 'build'))?.handle !== undefined,
      'dispatch',
    );
    return { runId, token: await mintBootstrapToken(h.store, 'order', ref, 60_000), ref };
  }

  function options(h: Harness, token: string, extra: Partial<AgentOptions> = {}): AgentOptions & { offs: number[] } {
    const offs: number[] = [];
    return {
      bootstrapUrl: `${h.baseUrl}${AGENT_BOOTSTRAP_PATH}`,
      bootstrapToken: token,
      workdir: path.join(root, `inproc-${String(++runs)}`),
      imdsUrl: false,
      powerOff: () => {
        offs.push(1);
        return Promise.resolve();
      },
      baseEnv: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: root },
      logger: silent,
      reports: { baseBackoffMs: 5, maxBackoffMs: 20, flushMs: 20 },
      offs,
      ...extra,
    };
  }

  it('retries a lost final report until it is delivered', async () => {
    const h = await startHarness({ spawnAgents: false });
    const { runId, token } = await prepared(h);
    let finalAttempts = 0;
    const flaky: typeof fetch = async (input, init) => {
      const body = typeof init?.body === 'string' ? init.body : '';
      if (body.includes('"type":"finished"') && ++finalAttempts <= 3) {
        if (finalAttempts === 1) throw new TypeError('fetch failed');
        return new Response('busy', { status: finalAttempts === 2 ? 503 : 429 });
      }
      return fetch(input, init);
    };
    const opts = options(h, token, { fetch: flaky });
    const result = await runAgent(opts);
    expect(result).toMatchObject({ exitCode: 0, delivered: true, final: { type: 'finished', conclusion: 'success' } });
    expect(finalAttempts).toBe(4);
    expect(opts.offs).toHaveLength(1);
    expect((await h.watcher.finished(runId)).status).toBe('succeeded');
    expect((await h.store.getOrder(runId, 'build'))?.outputs).toEqual({ x: '1' });
  });

  it('gives up the final report at its deadline, exits 1, and still powers off once', async () => {
    const h = await startHarness({ spawnAgents: false });
    const { token } = await prepared(h);
    let finalAttempts = 0;
    const down: typeof fetch = (input, init) => {
      const body = typeof init?.body === 'string' ? init.body : '';
      if (body.includes('"type":"finished"')) {
        finalAttempts++;
        return Promise.resolve(new Response('down', { status: 502 }));
      }
      return fetch(input, init);
    };
    const opts = options(h, token, {
      fetch: down,
      reports: { baseBackoffMs: 5, maxBackoffMs: 20, flushMs: 20, finalDeadlineMs: 300 },
    });
    const result = await runAgent(opts);
    expect(result).toMatchObject({ exitCode: 1, delivered: false });
    expect(finalAttempts).toBeGreaterThan(1);
    expect(opts.offs).toHaveLength(1);
  });

  it('powers off once and exits 1 when the server cannot be reached', async () => {
    const h = await startHarness({ spawnAgents: false });
    const opts = options(h, 'A'.repeat(43), {
      bootstrapUrl: 'http://127.0.0.1:9/api/agent/bootstrap',
      bootstrapDeadlineMs: 100,
    });
    const result = await runAgent(opts);
    expect(result).toEqual({ exitCode: 1, delivered: false });
    expect(opts.offs).toHaveLength(1);
  });

  it('reports an agent error as interrupted (and powers off once) when the work directory cannot be made', async () => {
    const h = await startHarness({ spawnAgents: false });
    const { runId, token } = await prepared(h);
    const file = path.join(root, `not-a-dir-${String(++runs)}`);
    await writeFile(file, '');
    const opts = options(h, token, { workdir: file });
    const result = await runAgent(opts);
    expect(result.final?.type).toBe('interrupted');
    expect(result.delivered).toBe(true);
    expect(opts.offs).toHaveLength(1);
    expect(result.final).toMatchObject({ reason: expect.stringContaining('agent error') as unknown });
    // The orchestrator took it as an interruption: attempt 2 is dispatched.
    expect(h.watcher.states).toContainEqual(['build', 'dispatching', 2]);
    expect((await h.store.getOrder(runId, 'build'))?.attempt).toBe(2);
  });

  it('never prints clone credentials: a failing clone is reported without them', async () => {
    const h = await startHarness({ spawnAgents: false });
    h.cloneUrl = 'http://x-access-token:ghs_supersecret@127.0.0.1:9/octo/app.git';
    const { runId, token, ref } = await prepared(h);
    const opts = options(h, token);
    const result = await runAgent(opts);
    expect(result.final).toMatchObject({ type: 'finished', conclusion: 'failure' });
    expect(JSON.stringify(result.final)).not.toContain('ghs_supersecret');
    const order = await h.store.getOrder(runId, 'build');
    expect(order?.state).toBe('failed');
    expect(order?.reason).toContain('checkout failed');
    expect(order?.reason).not.toContain('ghs_supersecret');
    const log = await logOf(h, ref);
    expect(log).toContain('checkout failed');
    expect(log).not.toContain('ghs_supersecret');
    expect(opts.offs).toHaveLength(1);
  });

  it('stops the steps when the server says the order is over (cancelled)', async () => {
    const h = await startHarness({ spawnAgents: false });
    const runId = await startRun(h, {
      steps: [step(0, 'echo started; for i in $(seq 1 300); do echo tick; sleep 0.1; done; echo never')],
    });
    const ref = { runId, orderId: 'build', attempt: 1 };
    await until(async () => (await h.store.getOrder(runId, 'build'))?.handle !== undefined, 'dispatch');
    const token = await mintBootstrapToken(h.store, 'order', ref, 60_000);
    const opts = options(h, token, { killGraceMs: 200 });
    const agent = runAgent(opts);
    await until(async () => (await logOf(h, ref)).includes('started'), 'the step to start');
    await h.orchestrator.cancelRun(runId, 'cancelled by a test');
    // The next log report is refused (409): the agent stops the step instead of sleeping on.
    const result = await agent;
    expect(result.final).toMatchObject({ type: 'finished', conclusion: 'cancelled' });
    expect(opts.offs).toHaveLength(1);
    expect((await h.store.getOrder(runId, 'build'))?.state).toBe('cancelled');
  });
});

describe('the IMDSv2 client against the stand-in', () => {
  it('takes a session token, sees no notice (404), renews a rejected token, then sees the notice', async () => {
    const imds = await startImdsStub();
    try {
      // Without a token the service refuses (IMDSv2 required).
      const bare = await fetch(`${imds.url}/latest/meta-data/spot/instance-action`);
      expect(bare.status).toBe(401);
      const client = createImdsClient({ baseUrl: imds.url });
      expect(await client.instanceAction()).toEqual({ ok: true, notice: undefined });
      expect(await client.instanceAction()).toEqual({ ok: true, notice: undefined });
      // One token for both looks.
      expect(imds.requests.filter((r) => r.startsWith('PUT')).length).toBe(1);
      imds.expireTokens();
      imds.interrupt({ action: 'terminate', time: '2025-01-01T00:02:00Z' });
      expect(await client.instanceAction()).toEqual({
        ok: true,
        notice: { action: 'terminate', time: '2025-01-01T00:02:00Z' },
      });
      expect(imds.requests.filter((r) => r.startsWith('PUT')).length).toBe(2);
    } finally {
      await imds.close();
    }
  });

  it('reports an unreachable service as a result, not a throw', async () => {
    const client = createImdsClient({ baseUrl: 'http://127.0.0.1:9' });
    expect(await client.instanceAction()).toMatchObject({ ok: false });
  });
});

describe('clone URL credentials', () => {
  it.each([
    ['https://x-access-token:ghs_abc@github.com/o/r.git', 'https://github.com/o/r.git'],
    ['https://oauth2:tok@gitea.example.com/o/r.git', 'https://gitea.example.com/o/r.git'],
    ['https://github.com/o/r.git', 'https://github.com/o/r.git'],
    ['/tmp/local/repo', '/tmp/local/repo'],
  ])('%s is kept in the checkout as %s', (url, bare) => {
    expect(withoutCredentials(url)).toBe(bare);
  });

  it('removes the URL and any user-info from a message', () => {
    const url = 'https://x-access-token:ghs_abc@github.com/o/r.git';
    expect(redactCloneUrl(`fatal: unable to access '${url}/': 403`, url)).toBe(
      "fatal: unable to access '<clone-url>/': 403",
    );
    expect(redactCloneUrl('fatal: https://u:ghs_abc@github.com/x', url)).toBe('fatal: https://***@github.com/x');
  });
});
