import { describe, expect, it } from 'vitest';
import { needsContext, transition } from '../../src/core/engine.ts';
import { newRunRecords } from '../../src/core/orchestration.ts';
import { planWorkflows } from '../../src/core/plan-workflows.ts';
import { narrowPermissions } from '../../src/core/plan-calls.ts';
import type { OrderRecord, OrderSpec, RunRecord, WorkflowRef } from '../../src/core/types.ts';
import { formatDiagnostic, parseWorkflow } from '../../src/core/workflow/parse-workflow.ts';
import { parseWorkflowRef } from '../../src/core/workflow/workflow-ref.ts';
import { readCallees, type DEFERRED } from '../../src/intake/read-callees.ts';

const CALLER = '.spotcheck/workflows/ci.yml';

const context = {
  event: 'push' as const,
  ref: 'refs/heads/main',
  sha: '0123456789abcdef0123456789abcdef01234567',
  repository: 'acme/app',
  actor: 'mona',
  serverUrl: 'https://github.com',
};

/** Plans `caller` with `files` as the repository's other files (`path` → text) and `remote` as other repositories'. */
async function plan(caller: string, files: Record<string, string> = {}, remote: Record<string, string> = {}) {
  const sources = [{ path: CALLER, text: caller }];
  const read = (ref: WorkflowRef): Promise<string | undefined | typeof DEFERRED> =>
    Promise.resolve(ref.kind === 'local' ? files[ref.path] : remote[`${ref.owner}/${ref.repo}/${ref.path}@${ref.ref}`]);
  const callees = await readCallees(sources, read);
  const result = planWorkflows(
    sources,
    { kind: 'push', ref: context.ref, deleted: false, changedFiles: null },
    context,
    undefined,
    callees,
  );
  return {
    ...result,
    orders: result.decisions[0]?.plan?.orders ?? [],
    errors: result.diagnostics.map(formatDiagnostic),
  };
}

const BUILD = [
  'on:',
  '  workflow_call:',
  '    inputs:',
  '      target: {type: string, required: true}',
  '      shards: {type: number, default: 2}',
  '      fast: {type: boolean}',
  '    outputs:',
  '      version: {value: "${{ jobs.package.outputs.v }}"}',
  '    secrets:',
  '      token: {required: false}',
  'jobs:',
  '  compile:',
  '    runs-on: ${{ inputs.target }}',
  '    steps: [{run: make}]',
  '  package:',
  '    needs: compile',
  '    runs-on: linux',
  '    outputs: {v: "${{ steps.p.outputs.v }}"}',
  '    steps: [{id: p, run: echo v=1 >> $GITHUB_OUTPUT}]',
].join('\n');

const callerOf = (call: string, after = '') =>
  [
    'on: push',
    'jobs:',
    '  lint:',
    '    runs-on: linux',
    '    steps: [{run: lint}]',
    '  build:',
    '    needs: lint',
    `${call}`,
    '  report:',
    '    needs: build',
    '    runs-on: linux',
    '    steps: [{run: "echo ${{ needs.build.outputs.version }}"}]',
    after,
  ].join('\n');

const LOCAL_CALL = '    uses: ./.github/workflows/build.yml\n    with: {target: docker}';

describe('reusable workflow references', () => {
  it.each([
    ['./.github/workflows/b.yml', { kind: 'local', path: '.github/workflows/b.yml' }],
    [
      'acme/shared/.github/workflows/b.yaml@v1',
      { kind: 'remote', owner: 'acme', repo: 'shared', path: '.github/workflows/b.yaml', ref: 'v1' },
    ],
  ])('reads %s', (uses, ref) => {
    expect(parseWorkflowRef(uses)).toEqual({ ok: true, ref });
  });

  it.each([
    ['acme/shared/.github/workflows/b.yml', 'names no version'],
    ['./.github/workflows/b.yml@v1', 'drop the `@`'],
    ['./../b.yml', 'must not be empty or contain'],
    ['acme/shared@v1', 'is not a reusable workflow reference'],
    ['acme/shared/b.txt@v1', '`.yml` or `.yaml` file'],
    ['acme/shared/b.yml@a..b', 'is not a git ref'],
  ])('refuses %s', (uses, message) => {
    const result = parseWorkflowRef(uses);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error).toContain(message);
  });
});

describe('parsing calls and on.workflow_call', () => {
  it('reads a calling job with its with, secrets, needs, if and strategy', () => {
    const text = callerOf(
      `${LOCAL_CALL}\n    secrets: inherit\n    if: github.ref == 'refs/heads/main'\n    strategy: {matrix: {os: [a, b]}}`,
    );
    const { workflow, diagnostics } = parseWorkflow(CALLER, text);
    expect(diagnostics).toEqual([]);
    const build = workflow?.jobs.find((j) => j.id === 'build');
    expect(build?.call).toMatchObject({
      uses: './.github/workflows/build.yml',
      workflow: { kind: 'local', path: '.github/workflows/build.yml' },
      with: { target: 'docker' },
      secrets: 'inherit',
    });
    expect(build?.needs).toEqual(['lint']);
    expect(build?.matrix?.axes).toEqual({ os: ['a', 'b'] });
  });

  it('reads the declared inputs, outputs and secrets of a callable workflow', () => {
    const { workflow, diagnostics } = parseWorkflow('b.yml', BUILD);
    expect(diagnostics).toEqual([]);
    expect(workflow?.call).toEqual({
      inputs: {
        target: { type: 'string', required: true },
        shards: { type: 'number', required: false, default: 2 },
        fast: { type: 'boolean', required: false },
      },
      outputs: { version: '${{ jobs.package.outputs.v }}' },
      secrets: { token: { required: false } },
    });
  });

  it.each([
    [
      'runs-on on a calling job',
      '    uses: ./b.yml\n    runs-on: linux',
      'unknown key `runs-on` in job `build`, which calls a reusable workflow,',
    ],
    ['steps on a calling job', '    uses: ./b.yml\n    steps: [{run: x}]', 'unknown key `steps`'],
    ['a bad reference', '    uses: acme/shared/b.yml', 'names no version'],
    ['secrets neither inherit nor a map', '    uses: ./b.yml\n    secrets: all', 'must be `inherit` or a mapping'],
  ])('refuses %s', (_label, call, message) => {
    const errors = parseWorkflow(CALLER, callerOf(call)).diagnostics.map(formatDiagnostic);
    expect(errors.join('\n')).toContain(message);
  });

  it.each([
    ['an input without a type', 'inputs: {a: {required: true}}', 'needs a `type`'],
    ['an input of another type', 'inputs: {a: {type: choice}}', 'must be string, number or boolean'],
    ['a default of the wrong type', 'inputs: {a: {type: number, default: fast}}', 'must be a number'],
    ['an output without value', 'outputs: {a: {description: x}}', 'needs a `value`'],
  ])('refuses %s in on.workflow_call', (_label, section, message) => {
    const text = `on:\n  workflow_call: {${section}}\njobs:\n  a: {runs-on: x, steps: [{run: y}]}`;
    expect(parseWorkflow('b.yml', text).diagnostics.map(formatDiagnostic).join('\n')).toContain(message);
  });

  it('says a workflow_call-only file runs only when called', () => {
    const result = parseWorkflow('b.yml', BUILD);
    expect(result.workflow?.on).toEqual({});
    expect(result.notices.map((n) => n.message)).toContain(
      '`workflow_call`: this workflow runs when another one calls it (`jobs.<id>.uses`), never by itself',
    );
  });
});

describe('planning a call', () => {
  it("plans the callee's jobs as orders of the caller's run, named `caller / job`, wired to the caller's needs", async () => {
    const { orders, errors } = await plan(callerOf(LOCAL_CALL), { '.github/workflows/build.yml': BUILD });
    expect(errors).toEqual([]);
    expect(orders.map((o) => [o.id, o.job, o.name, o.runsOn, o.needs, o.needsOrders])).toEqual([
      ['lint', 'lint', 'lint', 'linux', [], []],
      ['build.compile', 'build.compile', 'build / compile', 'docker', [], ['lint']],
      ['build.package', 'build.package', 'build / package', 'linux', ['compile'], ['build.compile', 'lint']],
      ['report', 'report', 'report', 'linux', ['build'], ['build.compile', 'build.package']],
    ]);
    const compile = orders[1]!;
    expect(compile.inputs).toEqual({ target: 'docker', shards: 2, fast: false });
    expect(compile.scope).toBe('build');
    expect(compile.gates).toEqual([{ caller: 'build', needs: ['lint'], matrix: {} }]);
    expect(orders[3]!.calls).toEqual({
      build: {
        jobs: { compile: { orders: ['build.compile'] }, package: { orders: ['build.package'] } },
        outputs: { version: '${{ jobs.package.outputs.v }}' },
      },
    });
  });

  it("gives the dependent the callee's outputs, and the callee's jobs their own needs (engine needs context)", async () => {
    const { orders } = await plan(callerOf(LOCAL_CALL), { '.github/workflows/build.yml': BUILD });
    const done = new Map(orders.map((o) => [o.id, record(o, o.id === 'build.package' ? { v: '1.2.3' } : { x: 'y' })]));
    const report = orders.find((o) => o.id === 'report')!;
    expect(needsContext(report, (id) => done.get(id))).toEqual({
      build: { result: 'success', outputs: { version: '1.2.3' } },
    });
    const pkg = orders.find((o) => o.id === 'build.package')!;
    expect(needsContext(pkg, (id) => done.get(id))).toEqual({ compile: { result: 'success', outputs: { x: 'y' } } });
  });

  it('plans a matrix of calls, one set of callee orders per cell, ids `<call>.<n>.<job>`', async () => {
    const call =
      '    strategy: {matrix: {t: [arm, x86]}}\n    uses: ./.github/workflows/build.yml\n    with: {target: "${{ matrix.t }}"}';
    const { orders, errors } = await plan(callerOf(call), { '.github/workflows/build.yml': BUILD });
    expect(errors).toEqual([]);
    expect(orders.filter((o) => o.scope !== undefined).map((o) => [o.id, o.name, o.runsOn])).toEqual([
      ['build.1.compile', 'build (arm) / compile', 'arm'],
      ['build.1.package', 'build (arm) / package', 'linux'],
      ['build.2.compile', 'build (x86) / compile', 'x86'],
      ['build.2.package', 'build (x86) / package', 'linux'],
    ]);
    expect(orders.find((o) => o.id === 'report')?.needsOrders).toEqual([
      'build.1.compile',
      'build.1.package',
      'build.2.compile',
      'build.2.package',
    ]);
    // Each cell's orders know the calling job's strategy, and how many orders their cell has.
    expect(orders.find((o) => o.id === 'build.2.package')?.gates).toEqual([
      {
        caller: 'build.2',
        needs: ['lint'],
        matrix: { t: 'x86' },
        strategy: { job: 'build', failFast: true, orders: 2 },
      },
    ]);
  });

  it('gives a nested matrix of calls its own strategy, keyed by the calling job inside its cell', async () => {
    const outer = [
      'on: workflow_call',
      'jobs:',
      '  inner:',
      '    strategy: {matrix: {n: [1, 2]}, max-parallel: 1, fail-fast: false}',
      '    uses: ./leaf.yml',
    ].join('\n');
    const leaf = 'on: workflow_call\njobs:\n  l: {runs-on: linux, steps: [{run: x}]}';
    const caller = 'on: push\njobs:\n  ci:\n    strategy: {matrix: {t: [a, b]}}\n    uses: ./outer.yml';
    const { orders, errors } = await plan(caller, { 'outer.yml': outer, 'leaf.yml': leaf });
    expect(errors).toEqual([]);
    expect(orders.map((o) => o.id)).toEqual(['ci.1.inner.1.l', 'ci.1.inner.2.l', 'ci.2.inner.1.l', 'ci.2.inner.2.l']);
    expect(orders[3]!.gates?.map((g) => [g.caller, g.strategy])).toEqual([
      ['ci.2', { job: 'ci', failFast: true, orders: 2 }],
      ['ci.2.inner.2', { job: 'ci.2.inner', failFast: false, maxParallel: 1, orders: 1 }],
    ]);
  });

  it('reads a remote callee and a local call inside it from that repository at that ref', async () => {
    const remote = {
      'acme/shared/.github/workflows/outer.yml@v1':
        'on: workflow_call\njobs:\n  inner:\n    uses: ./.github/workflows/leaf.yml',
      'acme/shared/.github/workflows/leaf.yml@v1':
        'on: workflow_call\njobs:\n  leaf: {runs-on: linux, steps: [{run: x}]}',
    };
    const caller = 'on: push\njobs:\n  ci:\n    uses: acme/shared/.github/workflows/outer.yml@v1';
    const { orders, errors } = await plan(caller, {}, remote);
    expect(errors).toEqual([]);
    expect(orders.map((o) => [o.id, o.name])).toEqual([['ci.inner.leaf', 'ci / inner / leaf']]);
    expect(orders[0]!.gates?.map((g) => g.caller)).toEqual(['ci', 'ci.inner']);
  });

  it.each([
    [
      'an undeclared input',
      '    uses: ./.github/workflows/build.yml\n    with: {target: a, colour: red}',
      'with: input `colour` is not defined by `./.github/workflows/build.yml` (its on.workflow_call.inputs: target, shards, fast)',
    ],
    ['a missing required input', '    uses: ./.github/workflows/build.yml', 'with: input `target` is required'],
    [
      'a type mismatch',
      '    uses: ./.github/workflows/build.yml\n    with: {target: a, shards: many}',
      "with.shards must be a number, not the string 'many'",
    ],
    [
      'an evaluated type mismatch',
      '    uses: ./.github/workflows/build.yml\n    with: {target: a, fast: "${{ github.ref }}"}',
      'with.fast must be a boolean',
    ],
    [
      'an undeclared secret',
      '    uses: ./.github/workflows/build.yml\n    with: {target: a}\n    secrets: {pat: x}',
      'secrets: `pat` is not defined',
    ],
    [
      'a with reading steps',
      '    uses: ./.github/workflows/build.yml\n    with: {target: "${{ steps.a.outputs.b }}"}',
      "with.target: reads `steps`; a call's `with:` may read github, needs, strategy, matrix, inputs and vars",
    ],
    [
      'a with reading secrets',
      '    uses: ./.github/workflows/build.yml\n    with: {target: "${{ secrets.token }}"}',
      'with.target: reads `secrets`',
    ],
    [
      'a missing file',
      '    uses: ./.github/workflows/nope.yml',
      '`./.github/workflows/nope.yml` could not be read: no file `.github/workflows/nope.yml` at this commit',
    ],
  ])('reports %s at the calling job', async (_label, call, message) => {
    const { errors } = await plan(callerOf(call), { '.github/workflows/build.yml': BUILD });
    expect(errors.join('\n')).toContain(`${CALLER}:6:3: Job 'build': ${message}`);
  });

  it('refuses a callee that does not list workflow_call', async () => {
    const { errors } = await plan(callerOf('    uses: ./x.yml'), {
      'x.yml': 'on: push\njobs:\n  a: {runs-on: l, steps: [{run: x}]}',
    });
    expect(errors.join('\n')).toContain('is not a reusable workflow: its `on` does not list `workflow_call`');
  });

  it('refuses a cycle', async () => {
    const files = {
      'a.yml': 'on: workflow_call\njobs:\n  j:\n    uses: ./b.yml',
      'b.yml': 'on: workflow_call\njobs:\n  j:\n    uses: ./a.yml',
    };
    const { errors } = await plan('on: push\njobs:\n  top:\n    uses: ./a.yml', files);
    expect(errors.join('\n')).toContain('`./a.yml` calls itself: ./a.yml → ./b.yml → ./a.yml is a cycle');
  });

  it("holds GitHub's nesting limit: ten levels (the caller and nine called)", async () => {
    const chain = (levels: number) =>
      Object.fromEntries(
        Array.from({ length: levels }, (_, i) => [
          `w${i + 1}.yml`,
          i + 1 < levels
            ? `on: workflow_call\njobs:\n  j:\n    uses: ./w${i + 2}.yml`
            : 'on: workflow_call\njobs:\n  leaf: {runs-on: l, steps: [{run: x}]}',
        ]),
      );
    const ok = await plan('on: push\njobs:\n  top:\n    uses: ./w1.yml', chain(9));
    expect(ok.errors).toEqual([]);
    expect(ok.orders).toHaveLength(1);
    const deep = await plan('on: push\njobs:\n  top:\n    uses: ./w1.yml', chain(10));
    expect(deep.errors.join('\n')).toContain('would be level 11 of nested workflows; GitHub connects at most 10');
  });

  it("holds GitHub's limit of 50 unique reusable workflows per run", async () => {
    const callee = 'on: workflow_call\njobs:\n  a: {runs-on: l, steps: [{run: x}]}';
    const caller = (n: number) =>
      `on: push\njobs:\n${Array.from({ length: n }, (_, i) => `  c${i}:\n    uses: ./w${i}.yml`).join('\n')}`;
    const files = Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`w${i}.yml`, callee]));
    const fifty = await plan(caller(50), files);
    expect(fifty.errors).toEqual([]);
    expect(fifty.orders).toHaveLength(50);
    const more = await plan(caller(51), files);
    expect(more.errors).toEqual([
      `${CALLER}:103:3: Job 'c50': \`./w50.yml\` is one more unique reusable workflow than the 50 GitHub allows per run`,
    ]);
  });

  it('narrows the callee jobs’ permissions to the calling job’s', () => {
    expect(narrowPermissions({ contents: 'read' }, 'write-all')).toEqual({ contents: 'read' });
    expect(narrowPermissions('read-all', { issues: 'write', contents: 'none' })).toEqual({ issues: 'read' });
    expect(narrowPermissions(undefined, { issues: 'write' })).toEqual({ issues: 'write' });
  });

  it('keeps the secrets passed, for the secrets work to honour', async () => {
    const { orders } = await plan(callerOf(`${LOCAL_CALL}\n    secrets: {token: from-the-caller}`), {
      '.github/workflows/build.yml': BUILD,
    });
    expect(orders.find((o) => o.id === 'build.compile')?.secretsPassed).toEqual([{ token: 'from-the-caller' }]);
  });
});

function record(spec: OrderSpec, outputs: Record<string, string>): OrderRecord {
  return {
    ...spec,
    runId: 'r',
    seq: 0,
    wave: 0,
    state: 'succeeded',
    attempt: 1,
    pendingNeeds: 0,
    dependents: [],
    result: 'success',
    outputs,
    createdAt: 0,
  };
}

describe('a call whose with: reads needs (evaluated when the calling job is ready)', () => {
  const CALLEE = [
    'on:',
    '  workflow_call:',
    '    inputs:',
    '      version: {type: string, required: true}',
    '      shards: {type: number, default: 1}',
    '      os: {type: string, default: linux}',
    'jobs:',
    '  release:',
    '    name: Release ${{ inputs.version }}',
    "    if: inputs.version != '0.0.0'",
    '    runs-on: ${{ inputs.os }}',
    '    env: {V: "${{ inputs.version }}", OS: "${{ inputs.os }}"}',
    '    steps: [{run: "echo ${{ inputs.version }}"}]',
  ].join('\n');
  const caller = (values: string) =>
    [
      'on: push',
      'jobs:',
      '  setup:',
      '    runs-on: linux',
      '    outputs: {v: "${{ steps.s.outputs.v }}"}',
      '    steps: [{id: s, run: x}]',
      '  rel:',
      '    needs: setup',
      '    uses: ./c.yml',
      `    with: ${values}`,
    ].join('\n');

  it('keeps those values on the callee orders, and plans what does not read them', async () => {
    const { orders, errors } = await plan(caller('{version: "${{ needs.setup.outputs.v }}", os: docker}'), {
      'c.yml': CALLEE,
    });
    expect(errors).toEqual([]);
    const release = orders.find((o) => o.id === 'rel.release')!;
    // GitHub shows a name it cannot evaluate yet as written, until the job starts.
    expect(release.name).toBe('rel / Release ${{ inputs.version }}');
    expect(release.runsOn).toBe('docker');
    expect(release.inputs).toEqual({ shards: 1, os: 'docker' });
    expect(release.env).toEqual({ V: '${{ inputs.version }}', OS: 'docker' });
    expect(release.gates?.[0]?.lateWith?.values).toEqual({
      version: { value: '${{ needs.setup.outputs.v }}', type: 'string' },
    });
  });

  it('refuses a runs-on that reads such an input, at the callee job', async () => {
    const { errors } = await plan(caller('{version: "1", os: "${{ needs.setup.outputs.v }}"}'), { 'c.yml': CALLEE });
    expect(errors).toEqual([
      "c.yml:8:3: Job 'release': runs-on reads `inputs.os`, which the call's `with:` sets from `needs`; spotcheck evaluates runs-on when the run is planned, from inputs known then",
    ]);
  });

  it('passes a late input on through a nested call, and refuses what reads it at plan time there', async () => {
    const outer = [
      'on:',
      '  workflow_call:',
      '    inputs: {v: {type: string, required: true}}',
      'jobs:',
      '  inner:',
      "    if: inputs.v != ''",
      '    uses: ./leaf.yml',
      '    with: {version: "${{ inputs.v }}"}',
    ].join('\n');
    const leaf =
      'on:\n  workflow_call:\n    inputs: {version: {type: string}}\njobs:\n  l: {runs-on: linux, steps: [{run: x}]}';
    const { orders, errors } = await plan(
      caller('{v: "${{ needs.setup.outputs.v }}"}').replace('./c.yml', './outer.yml'),
      { 'outer.yml': outer, 'leaf.yml': leaf },
    );
    expect(errors).toEqual([]);
    const l = orders.find((o) => o.id === 'rel.inner.l')!;
    expect(l.gates?.map((g) => g.lateWith?.values)).toEqual([
      { v: { value: '${{ needs.setup.outputs.v }}', type: 'string' } },
      { version: { value: '${{ inputs.v }}', type: 'string' } },
    ]);
    expect(l.inputs).toEqual({});
  });

  /** The callee order `rel.release` made ready after `setup` succeeded with `outputs`. */
  async function readyRelease(values: string, outputs: Record<string, string>, files = { 'c.yml': CALLEE }) {
    const { decisions, errors } = await plan(caller(values), files);
    expect(errors).toEqual([]);
    const github = { ...context, event_name: 'push' } as unknown as RunRecord['github'];
    const { run, orders } = newRunRecords(
      {
        runId: 'r',
        repo: { forge: 'github', host: 'github.com', owner: 'acme', name: 'app' },
        plan: decisions[0]!.plan!,
        event: 'push',
        ref: context.ref,
        sha: context.sha,
        actor: 'mona',
        github,
      },
      0,
      1,
    );
    const records = new Map(orders.map((o) => [o.id, o]));
    records.set('setup', { ...records.get('setup')!, state: 'succeeded', result: 'success', outputs });
    records.set('rel.release', { ...records.get('rel.release')!, pendingNeeds: 0 });
    const [decision] = transition({ run, orders: records }, { type: 'ready', orderId: 'rel.release' }, 5).decisions;
    return decision!;
  }

  it('evaluates them with the needs, and the callee job runs with them (its if included)', async () => {
    const decision = await readyRelease('{version: "${{ needs.setup.outputs.v }}"}', { v: '1.2.3' });
    expect(decision.changes).toMatchObject({
      state: 'dispatching',
      inputs: { version: '1.2.3', shards: 1, os: 'linux' },
    });
    const skipped = await readyRelease('{version: "${{ needs.setup.outputs.v }}"}', { v: '0.0.0' });
    expect(skipped.changes).toMatchObject({
      state: 'skipped',
      reason: "skipped: if: inputs.version != '0.0.0' was false",
    });
  });

  it.each([
    [
      'a string output for a number input',
      '{version: "1", shards: "${{ needs.setup.outputs.v }}"}',
      'with.shards must be a number, not the string \'3\' (input `shards` of `./c.yml` is a number) (calling job "rel")',
    ],
    [
      'an expression that does not evaluate',
      '{version: "${{ fromJSON(needs.setup.outputs.v) == fromJSON(\'{\') }}"}',
      'with.version: ',
    ],
  ])('fails the callee job with the reason on %s', async (_label, values, reason) => {
    const decision = await readyRelease(values, { v: '3' });
    expect(decision.changes.state).toBe('failed');
    expect(decision.changes.reason).toContain(reason);
  });

  it('takes a number from fromJSON of an output, as GitHub does', async () => {
    const decision = await readyRelease('{version: "1", shards: "${{ fromJSON(needs.setup.outputs.v) }}"}', {
      v: '3',
    });
    expect(decision.changes).toMatchObject({ state: 'dispatching', inputs: { version: '1', shards: 3 } });
  });
});
