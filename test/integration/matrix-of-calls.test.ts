/**
 * A matrix of calls through the orchestrator on the embedded store: the calling job's `strategy` applies to its cells
 * as GitHub applies it, each cell being one call with all of its callee's jobs. Under `max-parallel` a cell holds its
 * place from its first job's dispatch to its last job's end; under `fail-fast` a failed job of one cell cancels the
 * other cells' jobs, running or waiting, and not its own cell's.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildGithubContext } from '../../src/core/github-context.ts';
import { planRun } from '../../src/core/plan.ts';
import type { RunPlan } from '../../src/core/types.ts';
import { parseWorkflow } from '../../src/core/workflow/parse-workflow.ts';
import { createDynamoStore, type DynamoStore } from '../../src/store/dynamodb.ts';
import { startEmbeddedStore, type EmbeddedStore } from '../../src/store/embedded.ts';
import type { LaunchRequest } from '../../runners/runner.ts';
import { createOrchestratorHarness, testRunInput } from '../helpers/orchestrator-harness.ts';

let embedded: EmbeddedStore;
let store: DynamoStore;
let tables = 0;
beforeAll(async () => {
  embedded = await startEmbeddedStore({});
});
beforeEach(async () => {
  store = createDynamoStore({ client: embedded.client, table: `matrix-of-calls-${++tables}` });
  await store.ensureTable();
});
afterAll(async () => {
  await embedded.close();
});

/** Two jobs that start together and one after the first. */
const CALLEE = [
  'on: workflow_call',
  'jobs:',
  '  one: {runs-on: local, steps: [{run: x}]}',
  '  two: {runs-on: local, steps: [{run: x}]}',
  '  three: {needs: one, runs-on: local, steps: [{run: x}]}',
].join('\n');

function planOf(strategy: string): RunPlan {
  const caller = [
    'on: push',
    'jobs:',
    '  build:',
    `    strategy: {matrix: {t: [a, b, c]}, ${strategy}}`,
    '    uses: ./b.yml',
    '  after:',
    '    needs: build',
    '    if: always()',
    '    runs-on: local',
    '    steps: [{run: x}]',
  ].join('\n');
  const parsed = parseWorkflow('.spotcheck/workflows/ci.yml', caller);
  const callee = parseWorkflow('b.yml', CALLEE);
  if (!parsed.workflow || !callee.workflow) throw new Error('unparsable test workflow');
  const calleeWorkflow = callee.workflow;
  const github = buildGithubContext({
    event: 'push',
    ref: 'refs/heads/main',
    sha: 'a'.repeat(40),
    repository: 'o/n',
    actor: 'alice',
    serverUrl: 'https://github.com',
    workflow: 'ci',
  });
  const planned = planRun({
    workflow: parsed.workflow,
    github,
    callees: () => ({ kind: 'workflow', workflow: calleeWorkflow }),
  });
  if (!planned.ok) throw new Error(JSON.stringify(planned.diagnostics));
  return planned.plan;
}

let runs = 0;

/** Starts the run with every order held (dispatched, not reporting) until `finish` ends it, as `conclude` says. */
async function startHeld(strategy: string, conclude: (orderId: string) => 'success' | 'failure' = () => 'success') {
  const launched: LaunchRequest[] = [];
  const { orchestrator, instant } = createOrchestratorHarness({
    store,
    conclude: (request) => (launched.push(request), 'hang'),
  });
  const runId = `run-${++runs}`;
  await orchestrator.startRun(
    testRunInput({
      runId,
      repo: { forge: 'github', host: 'github.com', owner: 'o', name: 'n' },
      plan: planOf(strategy),
      sha: 'a'.repeat(40),
      actor: 'alice',
    }),
  );
  const finish = async (orderId: string) => {
    const ref = { runId, orderId, attempt: 1 };
    await orchestrator.report(ref, { type: 'running' });
    await orchestrator.report(ref, { type: 'finished', conclusion: conclude(orderId), outputs: {}, stepResults: [] });
    await instant.idle();
  };
  const ids = () => launched.map((r) => r.order.id).sort();
  const states = async () =>
    Object.fromEntries((await store.listOrders(runId)).map((o) => [o.id, [o.state, o.reason ?? '']]));
  return { runId, finish, ids, states, terminated: instant.terminated };
}

describe('a matrix of calls', () => {
  it('under max-parallel 1, runs one cell at a time: its jobs together, the next cell when its last job ends', async () => {
    const held = await startHeld('max-parallel: 1');
    expect(held.ids()).toEqual(['build.1.one', 'build.1.two']);
    await held.finish('build.1.one');
    // The cell holds its place between its jobs: its third job starts, the next cell does not.
    expect(held.ids()).toEqual(['build.1.one', 'build.1.three', 'build.1.two']);
    await held.finish('build.1.two');
    expect(held.ids()).toHaveLength(3);
    await held.finish('build.1.three');
    expect(held.ids().filter((id) => id.startsWith('build.2.'))).toEqual(['build.2.one', 'build.2.two']);
    expect(held.ids().filter((id) => id.startsWith('build.3.'))).toEqual([]);
    for (const id of ['build.2.one', 'build.2.two', 'build.2.three']) await held.finish(id);
    for (const id of ['build.3.one', 'build.3.two', 'build.3.three']) await held.finish(id);
    await held.finish('after');
    const states = await held.states();
    expect(Object.values(states).every(([state]) => state === 'succeeded')).toBe(true);
    expect(Object.keys(states)).toHaveLength(10);
  });

  it('under max-parallel 2, runs two cells at once, and the third when either is over', async () => {
    const held = await startHeld('max-parallel: 2');
    expect(held.ids()).toEqual(['build.1.one', 'build.1.two', 'build.2.one', 'build.2.two']);
    for (const id of ['build.2.one', 'build.2.two']) await held.finish(id);
    expect(held.ids()).not.toContain('build.3.one');
    await held.finish('build.2.three');
    expect(held.ids()).toContain('build.3.one');
    expect(held.ids()).toContain('build.3.two');
  });

  it("under fail-fast, a failed job of one cell cancels the other cells' jobs, running and waiting, not its own", async () => {
    const held = await startHeld('max-parallel: 2', (id) => (id === 'build.1.one' ? 'failure' : 'success'));
    await held.finish('build.1.one');
    const states = await held.states();
    const cancelled = ['cancelled', 'cancelled by fail-fast: build (a) / one failed'];
    expect(states).toMatchObject({
      'build.1.one': ['failed', ''],
      'build.1.two': ['dispatching', ''],
      'build.1.three': ['skipped', 'skipped: needed job "one" failed'],
      'build.2.one': cancelled,
      'build.2.two': cancelled,
      'build.2.three': cancelled,
      'build.3.one': cancelled,
      'build.3.two': cancelled,
      'build.3.three': cancelled,
      after: ['queued', ''],
    });
    // Only what was running is terminated; the third cell never started.
    expect(held.terminated.map((h) => h.split('/')[1]).sort()).toEqual(['build.2.one#1', 'build.2.two#1']);
    expect(held.ids()).toEqual(['build.1.one', 'build.1.two', 'build.2.one', 'build.2.two']);
    await held.finish('build.1.two');
    expect((await held.states())['after']?.[0]).toBe('dispatching');
  });

  it('without fail-fast, the other cells go on', async () => {
    const held = await startHeld('fail-fast: false', (id) => (id === 'build.1.one' ? 'failure' : 'success'));
    await held.finish('build.1.one');
    const states = await held.states();
    expect(Object.values(states).filter(([state]) => state === 'cancelled')).toEqual([]);
    expect(states['build.2.one']?.[0]).toBe('dispatching');
  });
});
