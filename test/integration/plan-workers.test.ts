/**
 * The plan worker pool (src/intake/plan-worker-pool.ts): it plans what in-process planning plans, ends a request at
 * its time budget or its heap cap with a diagnostic on the file being read, replaces a worker that crashed, and
 * leaves the server's thread free while a worker is busy. Budgets here are far from the work measured against them
 * (a small file's milliseconds and the costly file's many seconds against 2 s), so a busy machine does not change
 * the outcome.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS, parseConfig } from '../../src/config.ts';
import type { RepoRef, WorkflowRef, WorkflowSource } from '../../src/core/types.ts';
import { DEFAULT_WORKFLOW_FOLDER_SETTINGS } from '../../src/core/workflow/workflow-files.ts';
import { createAuthorizer } from '../../src/intake/authorize.ts';
import { createIntake } from '../../src/intake/intake.ts';
import type { OrderIntent } from '../../src/intake/intents.ts';
import { createPlanWorkerPool, type PlanWorkerPool } from '../../src/intake/plan-worker-pool.ts';
import { planInProcess, type PlanRequest } from '../../src/intake/planner.ts';
import type { DEFERRED } from '../../src/intake/read-callees.ts';
import { createHealthRoute } from '../../src/server/health-route.ts';
import { createHttpServer, listenHttp } from '../../src/server/node-http.ts';
import { createRouter } from '../../src/server/router.ts';
import { startEmbeddedStore, type EmbeddedStore } from '../../src/store/embedded.ts';
import { COSTLY_WORKFLOW_PATH, costlyWorkflow, manyKeysWorkflow } from '../helpers/costly-workflow.ts';
import { createIsolatedStore, startTestStore } from '../helpers/dynalite.ts';
import { FakeForge } from '../helpers/fake-forge.ts';
import { createOrchestratorHarness } from '../helpers/orchestrator-harness.ts';

const ROOT = new URL('../../', import.meta.url);
const silent = pino({ level: 'silent' });
const SHA = 'a'.repeat(40);
const REPO: RepoRef = { forge: 'github', host: 'github.com', owner: 'acme', name: 'app' };

const CI: WorkflowSource = {
  path: '.spotcheck/workflows/ci.yml',
  text: [
    'name: ci',
    'on: [push, pull_request]',
    'env: { MODE: fast }',
    'jobs:',
    '  test:',
    '    runs-on: local',
    '    strategy:',
    '      matrix:',
    '        node: [20, 22]',
    '        os: [linux, mac]',
    '        include: [{ node: 24, os: linux, experimental: true }]',
    '        exclude: [{ node: 20, os: mac }]',
    '    steps:',
    '      - run: echo ${{ matrix.node }} ${{ github.sha }} ${{ vars.REGION }}',
    '  build:',
    '    uses: ./.spotcheck/workflows/build.yml',
    '    with: { target: local }',
    '  shared:',
    '    needs: [test, build]',
    '    uses: acme/shared/.github/workflows/lint.yml@v1',
    '',
  ].join('\n'),
};
const BUILD = [
  'on:',
  '  workflow_call:',
  '    inputs: { target: { type: string, required: true } }',
  'jobs:',
  '  compile:',
  '    runs-on: ${{ inputs.target }}',
  '    strategy: { matrix: { arch: [x64, arm64] } }',
  "    steps: [{ run: 'make ${{ matrix.arch }}' }]",
  '',
].join('\n');
const LINT = 'on: workflow_call\njobs:\n  lint:\n    runs-on: local\n    steps: [{ run: lint }]\n';
const NOTICE: WorkflowSource = {
  path: '.spotcheck/workflows/nightly.yml',
  text: 'on:\n  push:\n  schedule:\n    - cron: "0 3 * * *"\njobs:\n  a:\n    runs-on: local\n    steps: [{ run: "true" }]\n',
};
const INVALID: WorkflowSource = {
  path: '.spotcheck/workflows/bad.yml',
  text: 'on: push\njobs:\n  a:\n    runs-on: local\n    steps:\n      - uses: actions/checkout\n        run: both\n',
};
const TINY: WorkflowSource = {
  path: '.spotcheck/workflows/tiny.yml',
  text: 'on: push\njobs:\n  a:\n    runs-on: local\n    steps: [{ run: "true" }]\n',
};
const COSTLY: WorkflowSource = { path: COSTLY_WORKFLOW_PATH, text: costlyWorkflow() };
/** A worker that never finishes reading costly.yml: a file too costly to parse, on any machine. */
const SLOW_READING = new URL('test/fixtures/plan-worker/slow-reading-entry.js', ROOT);
/** The shape whose parsed document is the largest in memory. */
const BULKY: WorkflowSource = { path: COSTLY_WORKFLOW_PATH, text: manyKeysWorkflow() };

const context = {
  ref: 'refs/heads/main',
  sha: SHA,
  repository: 'acme/app',
  actor: 'mona',
  serverUrl: 'https://github.com',
};

function request(sources: readonly WorkflowSource[]): PlanRequest {
  return {
    sources,
    events: [
      {
        event: { kind: 'push', ref: 'refs/heads/main', deleted: false, changedFiles: ['src/a.ts'] },
        context: { ...context, event: 'push', payload: { ref: 'refs/heads/main' } },
      },
      {
        event: { kind: 'pull_request', baseRef: 'main', changedFiles: null, action: 'opened' },
        context: { ...context, event: 'pull_request', ref: 'refs/pull/7/head', baseRef: 'main', headRef: 'feature' },
      },
    ],
    limits: { maxOrdersPerRun: 100 },
    vars: { REGION: 'eu-west-1' },
  };
}

/** Callees by `uses:` spelling; every read is counted. */
function calleeReader(): {
  read: (ref: WorkflowRef) => Promise<string | undefined | typeof DEFERRED>;
  reads: string[];
} {
  const files: Record<string, string> = {
    '.spotcheck/workflows/build.yml': BUILD,
    'acme/shared/.github/workflows/lint.yml@v1': LINT,
  };
  const reads: string[] = [];
  return {
    reads,
    read: (ref) => {
      const key = ref.kind === 'local' ? ref.path : `${ref.owner}/${ref.repo}/${ref.path}@${ref.ref}`;
      reads.push(key);
      return Promise.resolve(files[key]);
    },
  };
}

const pools: PlanWorkerPool[] = [];
function pool(options: { budgetMs?: number; memoryMb?: number; entry?: URL; workers?: number } = {}): PlanWorkerPool {
  const created = createPlanWorkerPool({
    workers: options.workers ?? 1,
    budgetMs: options.budgetMs ?? 60_000,
    memoryMb: options.memoryMb ?? DEFAULT_LIMITS.planMemoryMb,
    logger: silent,
    ...(options.entry ? { entry: options.entry } : {}),
  });
  pools.push(created);
  return created;
}
afterEach(async () => {
  for (const p of pools.splice(0)) await p.close();
});

describe('a plan worker', () => {
  it('plans what in-process planning plans: matrices, local and remote calls, diagnostics, notices', async () => {
    const sources = [CI, NOTICE, INVALID];
    const inProcess = calleeReader();
    const expected = await planInProcess(request(sources), inProcess.read);
    const inWorker = calleeReader();
    const got = await pool().planner(request(sources), inWorker.read);

    expect(got).toStrictEqual(expected);
    // The callees were read on this side, once each, as in-process planning reads them.
    expect(inWorker.reads).toEqual(inProcess.reads);
    expect(inWorker.reads).toEqual(['.spotcheck/workflows/build.yml', 'acme/shared/.github/workflows/lint.yml@v1']);
    // What was compared is worth comparing: both events planned, matrix cells and callee jobs in the orders.
    const push = got[0]!;
    expect(push.decisions.map((d) => [d.file, d.plan?.orders.length])).toEqual([
      ['.spotcheck/workflows/ci.yml', 4 + 2 + 1],
      ['.spotcheck/workflows/nightly.yml', 1],
    ]);
    expect(new Set(push.diagnostics.map((d) => d.file))).toEqual(new Set(['.spotcheck/workflows/bad.yml']));
    expect(push.notices.map((n) => n.file)).toContain('.spotcheck/workflows/nightly.yml');
    expect(got[1]!.decisions.filter((d) => d.plan !== undefined).map((d) => d.file)).toEqual([
      '.spotcheck/workflows/ci.yml',
    ]);
  });

  it('rejects with the forge error when a callee cannot be read, and stays usable', async () => {
    const workers = pool();
    const failure = new Error('the forge answered 502');
    await expect(workers.planner(request([CI]), () => Promise.reject(failure))).rejects.toBe(failure);
    const again = await workers.planner(request([TINY]), calleeReader().read);
    expect(again[0]!.decisions.map((d) => d.file)).toEqual([TINY.path]);
    expect(workers.stats()).toEqual({ started: 1, stopped: 0 });
  });
});

describe('the time budget and the heap cap', () => {
  it('ends a request at its budget, names the file, and plans the other files in a new worker', async () => {
    const workers = pool({ budgetMs: 2000, entry: SLOW_READING });
    const [push] = await workers.planner(request([TINY, COSTLY]), calleeReader().read);

    expect(push!.diagnostics).toEqual([
      {
        file: COSTLY_WORKFLOW_PATH,
        line: 1,
        col: 1,
        message: `spotcheck stopped reading ${COSTLY_WORKFLOW_PATH} after 2 s: the file is too costly to parse`,
      },
    ]);
    expect(push!.decisions.map((d) => [d.file, d.plan?.orders.length])).toEqual([[TINY.path, 1]]);
    expect(workers.stats()).toEqual({ started: 2, stopped: 1 });
  });

  it('ends a worker that needs more heap than its cap, and a new one plans the next request', async () => {
    const workers = pool({ memoryMb: 32 });
    const [push] = await workers.planner(request([BULKY]), calleeReader().read);
    expect(push!.decisions).toEqual([]);
    expect(push!.diagnostics).toEqual([
      {
        file: COSTLY_WORKFLOW_PATH,
        line: 1,
        col: 1,
        message: `spotcheck stopped reading ${COSTLY_WORKFLOW_PATH}: it needed more than 32 MiB`,
      },
    ]);
    const [next] = await workers.planner(request([TINY]), calleeReader().read);
    expect(next!.decisions.map((d) => d.file)).toEqual([TINY.path]);
    expect(workers.stats()).toEqual({ started: 2, stopped: 1 });
  });

  it('replaces a worker that crashed', async () => {
    const workers = pool({ entry: new URL('test/fixtures/plan-worker/crashing-entry.js', ROOT) });
    const crash: WorkflowSource = { path: '.spotcheck/workflows/crash.yml', text: TINY.text };
    const [push] = await workers.planner(request([crash, TINY]), calleeReader().read);
    expect(push!.diagnostics).toEqual([
      {
        file: crash.path,
        line: 1,
        col: 1,
        message: `spotcheck stopped reading ${crash.path}: the plan worker ended (it exited with code 3)`,
      },
    ]);
    expect(push!.decisions.map((d) => d.file)).toEqual([TINY.path]);
    const [next] = await workers.planner(request([TINY]), calleeReader().read);
    expect(next!.decisions.map((d) => d.file)).toEqual([TINY.path]);
    expect(workers.stats()).toEqual({ started: 2, stopped: 1 });
  });
});

describe('the server while a worker is busy', () => {
  let embedded: EmbeddedStore;
  beforeAll(async () => {
    embedded = await startEmbeddedStore({});
  });
  afterAll(async () => {
    await embedded.close();
  });

  it('answers a health check while the costly file is being parsed', async () => {
    const server = await listenHttp(
      createHttpServer(createRouter([createHealthRoute({ store: embedded.store })]), { logger: silent }),
      { port: 0, host: '127.0.0.1' },
    );
    try {
      const reading: string[] = [];
      const logger = pino({ level: 'debug' }, { write: (line: string) => reading.push(line) });
      const workers = createPlanWorkerPool({ workers: 1, budgetMs: 60_000, memoryMb: 256, logger });
      pools.push(workers);
      let planned = false;
      const planning = workers.planner(request([COSTLY]), calleeReader().read).then(
        () => {
          planned = true;
        },
        () => undefined,
      );
      // Asked once the worker said it is reading the costly file: a health check before that would show nothing.
      await waitFor(() => reading.some((line) => line.includes(COSTLY_WORKFLOW_PATH)));
      const res = await fetch(`${server.url}/healthz`);
      expect([res.status, await res.json()]).toEqual([200, { status: 'ok' }]);
      expect(planned).toBe(false);
      await workers.close();
      await planning;
    } finally {
      await server.close();
    }
  });
});

describe('intake through the pool', () => {
  let embedded: EmbeddedStore;
  beforeAll(async () => {
    embedded = await startTestStore();
  });
  afterAll(async () => {
    await embedded.close();
  });

  it('fails the costly file with a status that says why, from `limits.planSeconds`, and starts the other run', async () => {
    const { limits } = parseConfig('limits:\n  planSeconds: 2\n', 'spotcheck.yml');
    const workers = pool({ budgetMs: limits.planSeconds * 1000, entry: SLOW_READING });
    const store = await createIsolatedStore(embedded.client);
    const forge = new FakeForge();
    forge.workflows.set(SHA, [TINY, COSTLY]);
    const { orchestrator } = createOrchestratorHarness({ store, conclude: () => 'hang', logger: silent });
    const forges = { forInstallation: () => Promise.resolve(forge) };
    const intake = createIntake({
      forges,
      orchestrator,
      store,
      authorizer: createAuthorizer({ forges, now: Date.now }),
      config: { limits, publicUrl: 'https://ci.example.com', workflows: DEFAULT_WORKFLOW_FOLDER_SETTINGS },
      notices: () => Promise.resolve(),
      planner: workers.planner,
      logger: silent,
    });
    const push: OrderIntent = {
      kind: 'push',
      deliveryId: 'plan-workers-1',
      at: Date.now(),
      install: { forge: 'github', host: 'github.com', installationId: 42 },
      repo: REPO,
      ref: 'refs/heads/main',
      before: 'c'.repeat(40),
      after: SHA,
      pusher: 'alice',
      ownerIsOrg: true,
    };
    await intake.process(push);

    const status = forge.statusesAt(SHA).get('spotcheck/costly.yml');
    expect(status).toMatchObject({
      state: 'failure',
      description: `1:1 spotcheck stopped reading ${COSTLY_WORKFLOW_PATH} after 2 s: the file is too costly to parse`,
    });
    expect((await store.listRuns({ repo: REPO, limit: 10 })).map((r) => r.file)).toEqual([TINY.path]);
  });
});

describe('the Lambda bundle', () => {
  it('carries its own plan worker, which plans what in-process planning plans, and imports on its own', async () => {
    const outdir = await mkdtemp(join(tmpdir(), 'spotcheck-bundle-'));
    try {
      await promisify(execFile)(process.execPath, ['scripts/bundle-lambda.mjs', `--outdir=${outdir}`], {
        cwd: ROOT,
      });
      const workers = pool({ entry: pathToFileURL(join(outdir, 'plan-worker.mjs')) });
      const expected = await planInProcess(request([CI, INVALID]), calleeReader().read);
      expect(await workers.planner(request([CI, INVALID]), calleeReader().read)).toStrictEqual(expected);
      // The handlers import with no node_modules beside them, as on Lambda (the temporary folder has none above it):
      // a package the bundle leaves out, or LevelDB's native addon pulled in through the embedded store, fails here.
      for (const handler of ['lambda.mjs', 'scheduled.mjs']) {
        const imported = await promisify(execFile)(
          process.execPath,
          ['--input-type=module', '-e', `await import(${JSON.stringify(pathToFileURL(join(outdir, handler)).href)})`],
          { cwd: outdir },
        );
        expect(imported.stderr).toBe('');
      }
    } finally {
      await rm(outdir, { recursive: true, force: true });
    }
  });
});

async function waitFor(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 10));
}
