/**
 * Dynamic matrices through the orchestrator on the embedded store: job `a` prints a matrix as an output, job `b`
 * expands to its cells when `a` is done, and `c` (which needs `b`) waits for every cell.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildGithubContext } from '../../src/core/github-context.ts';
import { planRun } from '../../src/core/plan.ts';
import type { OrderRecord, RunPlan } from '../../src/core/types.ts';
import { parseWorkflowFiles } from '../../src/core/workflow/parse-workflow.ts';
import { createDynamoStore, type DynamoStore } from '../../src/store/dynamodb.ts';
import { startEmbeddedStore, type EmbeddedStore } from '../../src/store/embedded.ts';
import type { LaunchRequest } from '../../runners/runner.ts';
import { createOrchestratorHarness, NULL_REPORTER, testRunInput } from '../helpers/orchestrator-harness.ts';

let embedded: EmbeddedStore;
let store: DynamoStore;
let tables = 0;
beforeAll(async () => {
  embedded = await startEmbeddedStore({});
});
beforeEach(async () => {
  store = createDynamoStore({ client: embedded.client, table: `dynamic-matrix-${++tables}` });
  await store.ensureTable();
});
afterAll(async () => {
  await embedded.close();
});

const WORKFLOW = `
on: push
jobs:
  a:
    runs-on: local
    outputs: { m: '\${{ steps.s.outputs.m }}' }
    steps: [{ id: s, run: echo }]
  b:
    needs: a
    runs-on: \${{ matrix.label }}
    strategy:
      matrix: \${{ fromJSON(needs.a.outputs.m) }}
    outputs: { seen: '\${{ steps.s.outputs.seen }}' }
    steps: [{ id: s, run: 'echo \${{ matrix.n }}' }]
  c:
    needs: b
    runs-on: local
    steps: [{ run: echo }]
`;

function planOf(text: string): RunPlan {
  const { workflows, diagnostics } = parseWorkflowFiles([{ path: '.spotcheck/workflows/ci.yml', text }]);
  expect(diagnostics).toEqual([]);
  const github = buildGithubContext({
    event: 'push',
    ref: 'refs/heads/main',
    sha: 'a'.repeat(40),
    repository: 'o/n',
    actor: 'alice',
    serverUrl: 'https://github.com',
    workflow: 'ci',
  });
  const planned = planRun({ workflow: workflows[0]!, github });
  if (!planned.ok) throw new Error(JSON.stringify(planned.diagnostics));
  return planned.plan;
}

let runs = 0;
async function runWith(matrixJson: string, conclude?: (r: LaunchRequest) => 'success' | 'failure') {
  const launched: LaunchRequest[] = [];
  let finished: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (finished = resolve));
  const { orchestrator, instant } = createOrchestratorHarness({
    store,
    reporter: {
      ...NULL_REPORTER,
      runChanged: (run) => (
        run.status !== 'running' && run.status !== 'pending' ? finished() : undefined,
        Promise.resolve()
      ),
    },
    outputs: (r) => (r.order.job === 'a' ? { m: matrixJson } : { seen: JSON.stringify(r.order.matrix['n'] ?? '') }),
    ...(conclude === undefined ? {} : { conclude }),
  });
  const launch = instant.launch.bind(instant);
  instant.launch = (r) => (launched.push(r), launch(r));
  const runId = `run-${++runs}`;
  await orchestrator.startRun(
    testRunInput({
      runId,
      repo: { forge: 'github', host: 'github.com', owner: 'o', name: 'n' },
      plan: planOf(WORKFLOW),
      sha: 'a'.repeat(40),
      actor: 'alice',
    }),
  );
  await done;
  const orders = await store.listOrders(runId);
  const run = await store.getRun(runId);
  const byId = new Map<string, OrderRecord>(orders.map((o) => [o.id, o]));
  return { run, orders, byId, launched, orchestrator };
}

describe('a dynamic matrix', () => {
  it('plans one order for the job, shown as expanded at run time', () => {
    const plan = planOf(WORKFLOW);
    expect(plan.orders.map((o) => [o.id, o.dynamicMatrix !== undefined])).toEqual([
      ['a', false],
      ['b', true],
      ['c', false],
    ]);
  });

  it('expands into the cells from the needed job output; they run, and the dependent waits for all of them', async () => {
    const { run, byId, launched } = await runWith(JSON.stringify({ n: [1, 2, 3], label: ['local'] }));
    expect(run?.status).toBe('succeeded');
    expect(launched.map((r) => r.order.id).sort()).toEqual(['a', 'b.1', 'b.2', 'b.3', 'c']);
    // c launched after every cell finished.
    const c = byId.get('c')!;
    for (const id of ['b.1', 'b.2', 'b.3']) expect(byId.get(id)!.finishedAt!).toBeLessThanOrEqual(c.dispatchedAt!);
    expect(launched.findIndex((r) => r.order.id === 'c')).toBe(4);
    expect(byId.get('b')).toMatchObject({ state: 'succeeded', result: 'success', cells: 3, cellsWritten: true });
    expect(byId.get('b.2')).toMatchObject({ name: 'b (2, local)', runsOn: 'local', matrix: { n: 2, label: 'local' } });
    expect(byId.get('b.2')?.strategy).toMatchObject({ 'job-index': 1, 'job-total': 3 });
    expect(launched.find((r) => r.order.id === 'c')?.job.needs).toEqual({
      b: { result: 'success', outputs: { seen: '3' } },
    });
  });

  it('fails the job, and skips its dependent, when the matrix has more than 256 cells', async () => {
    const { run, byId, launched } = await runWith(JSON.stringify({ n: Array.from({ length: 300 }, (_, i) => i) }));
    expect(run?.status).toBe('failed');
    expect(byId.get('b')?.state).toBe('failed');
    expect(byId.get('b')?.reason).toContain('the matrix from needs.a.outputs.m');
    expect(byId.get('b')?.reason).toContain('300');
    expect(byId.get('b')?.reason).toContain('256');
    expect(byId.get('c')?.state).toBe('skipped');
    expect(launched.map((r) => r.order.id)).toEqual(['a']);
  });

  it.each([
    ['not JSON', '{oops', 'strategy.matrix (needs.a.outputs.m)'],
    ['a list', '[1, 2]', 'not a mapping of axes'],
    ['an empty axis', '{"n": []}', "Matrix vector 'n' does not contain any values"],
    ['an empty mapping', '{}', 'Matrix must define at least one vector'],
  ])('fails the job with a clear reason when the output is %s', async (_, json, reason) => {
    const { run, byId } = await runWith(json);
    expect(run?.status).toBe('failed');
    expect(byId.get('b')?.reason).toContain(reason);
    expect([...byId.keys()].sort()).toEqual(['a', 'b', 'c']);
  });

  it('a failing cell fails the job under fail-fast, cancelling the other cells, not the job', async () => {
    const { run, byId } = await runWith(JSON.stringify({ n: [1, 2], label: ['local'] }), (r) =>
      r.order.id === 'b.1' ? 'failure' : 'success',
    );
    expect(run?.status).toBe('failed');
    expect(byId.get('b.1')?.state).toBe('failed');
    expect(byId.get('b')).toMatchObject({ state: 'failed', result: 'failure' });
    expect(byId.get('c')?.state).toBe('skipped');
  });
});
