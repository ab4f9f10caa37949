/**
 * Reusable workflows end to end through intake: a push, the caller read through the (fake) forge, its callees read
 * through `Forge.readFile` (one in the same repository at the same commit, one in another repository at a tag), the
 * callee's jobs run as orders of the caller's run, and a callee's output reaches a later job of the caller.
 */
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS } from '../../src/config.ts';
import type { RepoRef } from '../../src/core/types.ts';
import { DEFAULT_WORKFLOW_FOLDER_SETTINGS } from '../../src/core/workflow/workflow-files.ts';
import { createAuthorizer } from '../../src/intake/authorize.ts';
import { createIntake } from '../../src/intake/intake.ts';
import type { ForgeInstallation, OrderIntent } from '../../src/intake/intents.ts';
import type { EmbeddedStore } from '../../src/store/embedded.ts';
import type { LaunchRequest } from '../../runners/runner.ts';
import { createIsolatedStore, startTestStore } from '../helpers/dynalite.ts';
import { FakeForge } from '../helpers/fake-forge.ts';
import { createOrchestratorHarness } from '../helpers/orchestrator-harness.ts';

const T0 = Math.floor(Date.now() / 1000) * 1000;
const SHA = 'a'.repeat(40);
const REPO: RepoRef = { forge: 'github', host: 'github.com', owner: 'acme', name: 'app' };
const INSTALL: ForgeInstallation = { forge: 'github', host: 'github.com', installationId: 42 };
const silent = pino({ level: 'silent' });

const CALLER = [
  'name: ci',
  'on: push',
  'jobs:',
  '  build:',
  '    uses: ./.github/workflows/build.yml',
  '    with: {target: local}',
  '  lint:',
  '    uses: acme/shared/.github/workflows/lint.yml@v2',
  '  report:',
  '    needs: [build, lint]',
  '    runs-on: local',
  '    steps: [{run: "echo ${{ needs.build.outputs.version }}"}]',
].join('\n');

const BUILD = [
  'on:',
  '  workflow_call:',
  '    inputs: {target: {type: string, required: true}}',
  '    outputs: {version: {value: "${{ jobs.package.outputs.v }}"}}',
  'jobs:',
  '  compile:',
  '    runs-on: ${{ inputs.target }}',
  '    steps: [{run: make}]',
  '  package:',
  '    needs: compile',
  '    runs-on: local',
  '    outputs: {v: "${{ steps.p.outputs.v }}"}',
  '    steps: [{id: p, run: echo v=1.2.3 >> $GITHUB_OUTPUT}]',
].join('\n');

const LINT = 'on: workflow_call\njobs:\n  eslint: {runs-on: local, steps: [{run: npx eslint .}]}';

let embedded: EmbeddedStore;
beforeAll(async () => {
  embedded = await startTestStore();
});
afterAll(async () => {
  await embedded.close();
});

function push(): OrderIntent {
  return {
    kind: 'push',
    deliveryId: 'delivery-reusable-1',
    at: T0,
    install: INSTALL,
    repo: REPO,
    ref: 'refs/heads/main',
    before: '0'.repeat(40),
    after: SHA,
    pusher: 'alice',
    ownerIsOrg: true,
  };
}

describe('reusable workflows through intake', () => {
  it("runs a local and a remote callee's jobs in the caller's run, and feeds a callee output to a later job", async () => {
    const store = await createIsolatedStore(embedded.client);
    const forge = new FakeForge();
    forge.workflows.set(SHA, [{ path: '.spotcheck/workflows/ci.yml', text: CALLER }]);
    forge.files.set(`acme/app@${SHA}:.github/workflows/build.yml`, BUILD);
    forge.files.set('acme/shared@v2:.github/workflows/lint.yml', LINT);
    const launched: LaunchRequest[] = [];
    const { orchestrator, instant } = createOrchestratorHarness({
      store,
      logger: silent,
      conclude: (request) => {
        launched.push(request);
        return 'success';
      },
      // The agent would evaluate the output from the step; the instant runner answers it directly.
      outputs: (request) => (request.order.id === 'build.package' ? { v: '1.2.3' } : {}),
    });
    const forges = { forInstallation: () => Promise.resolve(forge) };
    const intake = createIntake({
      forges,
      orchestrator,
      store,
      authorizer: createAuthorizer({ forges, now: () => T0 }),
      config: {
        limits: DEFAULT_LIMITS,
        publicUrl: 'https://ci.example.com',
        workflows: DEFAULT_WORKFLOW_FOLDER_SETTINGS,
      },
      notices: () => Promise.resolve(),
      logger: silent,
      now: () => T0,
    });

    await intake.process(push());
    await instant.idle();

    expect(forge.methods()).toEqual(['readWorkflows', 'readFile', 'readFile']);
    expect(forge.calls.filter((c) => c.method === 'readFile').map((c) => c.args.slice(1))).toEqual([
      [SHA, '.github/workflows/build.yml'],
      ['v2', '.github/workflows/lint.yml'],
    ]);
    const runs = await store.listRuns({ repo: REPO, limit: 10 });
    expect(runs.map((r) => [r.workflowName, r.status])).toEqual([['ci', 'succeeded']]);
    const orders = await store.listOrders(runs[0]!.runId);
    expect(orders.map((o) => [o.id, o.name, o.state]).sort()).toEqual([
      ['build.compile', 'build / compile', 'succeeded'],
      ['build.package', 'build / package', 'succeeded'],
      ['lint.eslint', 'lint / eslint', 'succeeded'],
      ['report', 'report', 'succeeded'],
    ]);
    // The callee's jobs ran in needs order, before the job that needs their caller.
    const ids = launched.map((r) => r.order.id);
    expect(ids.indexOf('build.compile')).toBeLessThan(ids.indexOf('build.package'));
    expect(ids.indexOf('build.package')).toBeLessThan(ids.indexOf('report'));
    expect(ids.indexOf('lint.eslint')).toBeLessThan(ids.indexOf('report'));
    expect(launched.find((r) => r.order.id === 'build.compile')?.job.inputs).toEqual({ target: 'local' });
    expect(launched.find((r) => r.order.id === 'report')?.job.needs).toEqual({
      build: { result: 'success', outputs: { version: '1.2.3' } },
      lint: { result: 'success', outputs: {} },
    });
  });

  it("skips every callee job when the calling job's if is false, and the job that needs the call", async () => {
    const { orders } = await runPush(
      "on: push\njobs:\n  build:\n    if: github.ref == 'refs/heads/release'\n    uses: ./b.yml\n  after:\n    needs: build\n    runs-on: local\n    steps: [{run: x}]",
      {
        'b.yml':
          'on: workflow_call\njobs:\n  one: {runs-on: local, steps: [{run: x}]}\n  two: {runs-on: local, steps: [{run: x}]}',
      },
    );
    expect(orders.map((o) => [o.id, o.state, o.reason]).sort()).toEqual([
      ['after', 'skipped', 'skipped: needed job "build" was skipped'],
      ['build.one', 'skipped', 'skipped: if: github.ref == \'refs/heads/release\' was false (calling job "build")'],
      ['build.two', 'skipped', 'skipped: if: github.ref == \'refs/heads/release\' was false (calling job "build")'],
    ]);
  });

  it('fails the call when a callee job fails: its later jobs and the dependents of the call are skipped', async () => {
    const { orders, runStatus } = await runPush(
      'on: push\njobs:\n  build:\n    uses: ./b.yml\n  after:\n    needs: build\n    runs-on: local\n    steps: [{run: x}]\n  cleanup:\n    needs: build\n    if: failure()\n    runs-on: local\n    steps: [{run: x}]',
      {
        'b.yml':
          'on: workflow_call\njobs:\n  one: {runs-on: local, steps: [{run: x}]}\n  two: {needs: one, runs-on: local, steps: [{run: x}]}',
      },
      (request) => (request.order.id === 'build.one' ? 'failure' : 'success'),
    );
    expect(runStatus).toBe('failed');
    expect(orders.map((o) => [o.id, o.state]).sort()).toEqual([
      ['after', 'skipped'],
      ['build.one', 'failed'],
      ['build.two', 'skipped'],
      ['cleanup', 'succeeded'],
    ]);
  });

  it("runs a callee under its caller's if: always() after a failed need, its later jobs included", async () => {
    const { orders } = await runPush(
      'on: push\njobs:\n  lint: {runs-on: local, steps: [{run: x}]}\n  build:\n    needs: lint\n    if: always()\n    uses: ./b.yml\n  plain:\n    needs: lint\n    runs-on: local\n    steps: [{run: x}]',
      {
        'b.yml':
          'on: workflow_call\njobs:\n  one: {runs-on: local, steps: [{run: x}]}\n  two: {needs: one, runs-on: local, steps: [{run: x}]}',
      },
      (request) => (request.order.id === 'lint' ? 'failure' : 'success'),
    );
    expect(orders.map((o) => [o.id, o.state]).sort()).toEqual([
      ['build.one', 'succeeded'],
      ['build.two', 'succeeded'],
      ['lint', 'failed'],
      ['plain', 'skipped'],
    ]);
  });

  describe('a with: that reads needs', () => {
    const caller = (shards: string) =>
      [
        'on: push',
        'jobs:',
        '  setup:',
        '    runs-on: local',
        '    outputs: {version: "${{ steps.s.outputs.version }}", shards: "${{ steps.s.outputs.shards }}"}',
        '    steps: [{id: s, run: x}]',
        '  release:',
        '    needs: setup',
        '    uses: ./r.yml',
        `    with: {version: "\${{ needs.setup.outputs.version }}", shards: "${shards}"}`,
      ].join('\n');
    const callee = [
      'on:',
      '  workflow_call:',
      '    inputs: {version: {type: string, required: true}, shards: {type: number, required: true}}',
      'jobs:',
      '  build:',
      '    runs-on: local',
      '    env: {VERSION: "${{ inputs.version }}"}',
      '    steps: [{run: x}]',
      '  publish:',
      '    needs: build',
      "    if: startsWith(inputs.version, '1.')",
      '    runs-on: local',
      '    steps: [{run: x}]',
      '  never:',
      "    if: inputs.version == 'nope'",
      '    runs-on: local',
      '    steps: [{run: x}]',
    ].join('\n');
    const outputs = (request: LaunchRequest) =>
      request.order.id === 'setup' ? { version: '1.4.0', shards: 'three' } : {};

    it("evaluates it when the calling job is ready: the callee's jobs, their env and if, see the values", async () => {
      const { orders, launched, runStatus } = await runPush(
        caller("${{ fromJSON('3') }}"),
        { 'r.yml': callee },
        undefined,
        outputs,
      );
      expect(runStatus).toBe('succeeded');
      expect(orders.map((o) => [o.id, o.state]).sort()).toEqual([
        ['release.build', 'succeeded'],
        ['release.never', 'skipped'],
        ['release.publish', 'succeeded'],
        ['setup', 'succeeded'],
      ]);
      const build = launched.find((r) => r.order.id === 'release.build')!;
      expect(build.job.inputs).toEqual({ version: '1.4.0', shards: 3 });
      expect(build.order.env).toEqual({ VERSION: '${{ inputs.version }}' });
      expect(orders.find((o) => o.id === 'release.publish')?.inputs).toEqual({ version: '1.4.0', shards: 3 });
    });

    it('fails every job of the call with the reason when a value is of the wrong type, and the run', async () => {
      const { orders, launched, runStatus } = await runPush(
        caller('${{ needs.setup.outputs.shards }}'),
        { 'r.yml': callee },
        undefined,
        outputs,
      );
      expect(runStatus).toBe('failed');
      expect(launched.map((r) => r.order.id)).toEqual(['setup']);
      const reason =
        'with.shards must be a number, not the string \'three\' (input `shards` of `./r.yml` is a number) (calling job "release")';
      expect(orders.map((o) => [o.id, o.state, o.reason]).sort()).toEqual([
        ['release.build', 'failed', reason],
        ['release.never', 'failed', reason],
        ['release.publish', 'failed', reason],
        ['setup', 'succeeded', undefined],
      ]);
    });
  });

  it("names a dynamic matrix's cells inside a callee `caller / job (a)`, and its later jobs see the matrix job", async () => {
    const callee = [
      'on: workflow_call',
      'jobs:',
      '  gen:',
      '    runs-on: local',
      '    outputs: {m: "${{ steps.s.outputs.m }}"}',
      '    steps: [{id: s, run: x}]',
      '  test:',
      '    needs: gen',
      '    strategy: {matrix: "${{ fromJSON(needs.gen.outputs.m) }}"}',
      '    runs-on: local',
      '    outputs: {seen: "${{ steps.s.outputs.seen }}"}',
      '    steps: [{id: s, run: x}]',
      '  after: {needs: test, runs-on: local, steps: [{run: x}]}',
    ].join('\n');
    const { orders, launched, runStatus } = await runPush(
      'on: push\njobs:\n  build:\n    uses: ./m.yml\n    secrets: inherit',
      { 'm.yml': callee },
      undefined,
      (request) =>
        request.order.id === 'build.gen'
          ? { m: '{"os": ["a", "b"]}' }
          : { seen: JSON.stringify(request.order.matrix['os']) },
    );
    expect(runStatus).toBe('succeeded');
    expect(orders.map((o) => [o.id, o.job, o.name, o.state]).sort()).toEqual([
      ['build.after', 'build.after', 'build / after', 'succeeded'],
      ['build.gen', 'build.gen', 'build / gen', 'succeeded'],
      ['build.test', 'build.test', 'build / test', 'succeeded'],
      ['build.test.1', 'build.test', 'build / test (a)', 'succeeded'],
      ['build.test.2', 'build.test', 'build / test (b)', 'succeeded'],
    ]);
    expect(orders.find((o) => o.id === 'build.test.2')).toMatchObject({ scope: 'build', secretsPassed: ['inherit'] });
    expect(launched.find((r) => r.order.id === 'build.after')?.job.needs).toEqual({
      test: { result: 'success', outputs: { seen: '"b"' } },
    });
  });

  it('fails the caller file with a status when a remote callee cannot be read, and starts nothing', async () => {
    const store = await createIsolatedStore(embedded.client);
    const forge = new FakeForge();
    forge.workflows.set(SHA, [
      {
        path: '.spotcheck/workflows/ci.yml',
        text: 'on: push\njobs:\n  lint:\n    uses: acme/shared/.github/workflows/lint.yml@v9',
      },
    ]);
    const { orchestrator } = createOrchestratorHarness({ store, logger: silent });
    const forges = { forInstallation: () => Promise.resolve(forge) };
    const intake = createIntake({
      forges,
      orchestrator,
      store,
      authorizer: createAuthorizer({ forges, now: () => T0 }),
      config: {
        limits: DEFAULT_LIMITS,
        publicUrl: 'https://ci.example.com',
        workflows: DEFAULT_WORKFLOW_FOLDER_SETTINGS,
      },
      notices: () => Promise.resolve(),
      logger: silent,
      now: () => T0,
    });
    await intake.process(push());
    expect(await store.listRuns({ repo: REPO, limit: 10 })).toEqual([]);
    const status = forge.statusesAt(SHA).get('spotcheck/ci.yml');
    expect(status?.state).toBe('failure');
    expect(status?.description).toContain(
      'could not be read: no file `.github/workflows/lint.yml` in acme/shared at v9',
    );
  });
});

/** A push of `caller` with `files` in the same repository at the same commit; every order concludes by `conclude`. */
async function runPush(
  caller: string,
  files: Record<string, string>,
  conclude: (request: LaunchRequest) => 'success' | 'failure' = () => 'success',
  outputs?: (request: LaunchRequest) => Record<string, string>,
) {
  const store = await createIsolatedStore(embedded.client);
  const forge = new FakeForge();
  forge.workflows.set(SHA, [{ path: '.spotcheck/workflows/ci.yml', text: caller }]);
  for (const [path, text] of Object.entries(files)) forge.files.set(`acme/app@${SHA}:${path}`, text);
  const launched: LaunchRequest[] = [];
  const { orchestrator, instant } = createOrchestratorHarness({
    store,
    logger: silent,
    conclude: (request) => (launched.push(request), conclude(request)),
    ...(outputs === undefined ? {} : { outputs }),
  });
  const forges = { forInstallation: () => Promise.resolve(forge) };
  const intake = createIntake({
    forges,
    orchestrator,
    store,
    authorizer: createAuthorizer({ forges, now: () => T0 }),
    config: {
      limits: DEFAULT_LIMITS,
      publicUrl: 'https://ci.example.com',
      workflows: DEFAULT_WORKFLOW_FOLDER_SETTINGS,
    },
    notices: () => Promise.resolve(),
    logger: silent,
    now: () => T0,
  });
  await intake.process(push());
  await instant.idle();
  const [run] = await store.listRuns({ repo: REPO, limit: 10 });
  if (run === undefined) throw new Error(`no run: ${JSON.stringify(forge.statuses)}`);
  return { orders: await store.listOrders(run.runId), runStatus: run.status, launched };
}
