import { describe, expect, it } from 'vitest';
import { checkNeedsGraph, expandMatrix, planRun } from '../../src/core/plan.ts';
import type { JobSpec, MatrixCell, MatrixSpec, MatrixValue, OrderSpec, Workflow } from '../../src/core/types.ts';
import { makeGithubContext } from '../helpers/records.ts';

const github = makeGithubContext({ sha: '0123456789abcdef', actor: 'mona' });

function job(id: string, extra: Partial<JobSpec> = {}): JobSpec {
  return {
    id,
    runsOn: 'linux',
    needs: [],
    timeoutMinutes: 30,
    env: {},
    failFast: true,
    continueOnError: false,
    outputs: {},
    steps: [{ index: 0, run: 'true', env: {}, continueOnError: false, pos: { line: 9, col: 9 } }],
    pos: { line: 5, col: 3 },
    ...extra,
  };
}

function workflow(jobs: JobSpec[], extra: Partial<Workflow> = {}): Workflow {
  return { file: '.spotcheck/workflows/ci.yml', name: 'ci', on: { push: {} }, env: {}, jobs, ...extra };
}

function matrix(
  axes: Record<string, MatrixValue[]>,
  include: MatrixCell[] = [],
  exclude: MatrixCell[] = [],
): MatrixSpec {
  return { axes, include, exclude };
}

function cellsOf(spec: MatrixSpec | undefined): MatrixCell[] {
  const result = expandMatrix(spec);
  if (!result.ok) throw new Error(result.error);
  return result.cells;
}

function plan(wf: Workflow): OrderSpec[] {
  const result = planRun({ workflow: wf, github });
  if (!result.ok) throw new Error(JSON.stringify(result.diagnostics));
  return [...result.plan.orders];
}

function planErrors(wf: Workflow): string[] {
  const result = planRun({ workflow: wf, github });
  return result.ok ? [] : result.diagnostics.map((d) => d.message);
}

describe("expandMatrix: GitHub's documented examples, exact cells and order", () => {
  const cases: { name: string; spec: MatrixSpec | undefined; want: MatrixCell[] }[] = [
    { name: 'no matrix is one empty cell', spec: undefined, want: [{}] },
    {
      name: 'single dimension (docs "Using a single-dimension matrix")',
      spec: matrix({ version: [10, 12, 14] }),
      want: [{ version: 10 }, { version: 12 }, { version: 14 }],
    },
    {
      // docs "Adding a matrix strategy": "The above matrix will create the jobs in the following order."
      name: 'two dimensions, the first axis varying slowest',
      spec: matrix({ version: [10, 12, 14], os: ['ubuntu-latest', 'windows-latest'] }),
      want: [
        { version: 10, os: 'ubuntu-latest' },
        { version: 10, os: 'windows-latest' },
        { version: 12, os: 'ubuntu-latest' },
        { version: 12, os: 'windows-latest' },
        { version: 14, os: 'ubuntu-latest' },
        { version: 14, os: 'windows-latest' },
      ],
    },
    {
      name: 'include: fruit/animal example ("Expanding or adding matrix configurations")',
      spec: matrix({ fruit: ['apple', 'pear'], animal: ['cat', 'dog'] }, [
        { color: 'green' },
        { color: 'pink', animal: 'cat' },
        { fruit: 'apple', shape: 'circle' },
        { fruit: 'banana' },
        { fruit: 'banana', animal: 'cat' },
      ]),
      want: [
        { fruit: 'apple', animal: 'cat', color: 'pink', shape: 'circle' },
        { fruit: 'apple', animal: 'dog', color: 'green', shape: 'circle' },
        { fruit: 'pear', animal: 'cat', color: 'pink' },
        { fruit: 'pear', animal: 'dog', color: 'green' },
        { fruit: 'banana' },
        { fruit: 'banana', animal: 'cat' },
      ],
    },
    {
      name: 'include: expanding one combination (npm 6 on windows/node 16)',
      spec: matrix({ os: ['windows-latest', 'ubuntu-latest'], node: [14, 16] }, [
        { os: 'windows-latest', node: 16, npm: 6 },
      ]),
      want: [
        { os: 'windows-latest', node: 14 },
        { os: 'windows-latest', node: 16, npm: 6 },
        { os: 'ubuntu-latest', node: 14 },
        { os: 'ubuntu-latest', node: 16 },
      ],
    },
    {
      name: 'include: adding a configuration (10 jobs)',
      spec: matrix({ os: ['macos-latest', 'windows-latest', 'ubuntu-latest'], version: [12, 14, 16] }, [
        { os: 'windows-latest', version: 17 },
      ]),
      want: [
        { os: 'macos-latest', version: 12 },
        { os: 'macos-latest', version: 14 },
        { os: 'macos-latest', version: 16 },
        { os: 'windows-latest', version: 12 },
        { os: 'windows-latest', version: 14 },
        { os: 'windows-latest', version: 16 },
        { os: 'ubuntu-latest', version: 12 },
        { os: 'ubuntu-latest', version: 14 },
        { os: 'ubuntu-latest', version: 16 },
        { os: 'windows-latest', version: 17 },
      ],
    },
    {
      name: 'include only (site/datacenter)',
      spec: matrix({}, [
        { site: 'production', datacenter: 'site-a' },
        { site: 'staging', datacenter: 'site-b' },
      ]),
      want: [
        { site: 'production', datacenter: 'site-a' },
        { site: 'staging', datacenter: 'site-b' },
      ],
    },
    {
      name: 'exclude: 12 configurations minus 3 (partial match)',
      spec: matrix(
        { os: ['macos-latest', 'windows-latest'], version: [12, 14, 16], environment: ['staging', 'production'] },
        [],
        [
          { os: 'macos-latest', version: 12, environment: 'production' },
          { os: 'windows-latest', version: 16 },
        ],
      ),
      want: [
        { os: 'macos-latest', version: 12, environment: 'staging' },
        { os: 'macos-latest', version: 14, environment: 'staging' },
        { os: 'macos-latest', version: 14, environment: 'production' },
        { os: 'macos-latest', version: 16, environment: 'staging' },
        { os: 'macos-latest', version: 16, environment: 'production' },
        { os: 'windows-latest', version: 12, environment: 'staging' },
        { os: 'windows-latest', version: 12, environment: 'production' },
        { os: 'windows-latest', version: 14, environment: 'staging' },
        { os: 'windows-latest', version: 14, environment: 'production' },
      ],
    },
    {
      name: 'fail-fast example: include with all axes but new values becomes a new cell',
      spec: matrix({ version: [6, 7, 8], experimental: [false] }, [{ version: 9, experimental: true }]),
      want: [
        { version: 6, experimental: false },
        { version: 7, experimental: false },
        { version: 8, experimental: false },
        { version: 9, experimental: true },
      ],
    },
    {
      name: 'include after exclude adds an excluded combination back',
      spec: matrix({ os: ['a', 'b'] }, [{ os: 'b', extra: 1 }], [{ os: 'b' }]),
      want: [{ os: 'a' }, { os: 'b', extra: 1 }],
    },
    {
      name: 'exclude matches nested objects partially (matrix.img.os == …)',
      spec: matrix(
        {
          shared: [true, false],
          img: [
            { os: 'ubuntu', fc: 'gfortran' },
            { os: 'macos', fc: 'gfortran-13' },
          ],
        },
        [],
        [{ shared: true, img: { os: 'macos' } }],
      ),
      want: [
        { shared: true, img: { os: 'ubuntu', fc: 'gfortran' } },
        { shared: false, img: { os: 'ubuntu', fc: 'gfortran' } },
        { shared: false, img: { os: 'macos', fc: 'gfortran-13' } },
      ],
    },
    {
      name: "filters compare with the expression language's == ('12' == 12, case-insensitive strings)",
      spec: matrix({ node: [12, 14], os: ['Linux'] }, [{ node: '12', os: 'linux', tag: 'x' }]),
      want: [
        { node: 12, os: 'Linux', tag: 'x' },
        { node: 14, os: 'Linux' },
      ],
    },
    {
      name: 'everything excluded: zero cells',
      spec: matrix({ os: ['a', 'b'] }, [], [{ os: 'a' }, { os: 'b' }]),
      want: [],
    },
  ];
  it.each(cases)('$name', ({ spec, want }) => {
    expect(cellsOf(spec)).toEqual(want);
  });

  it('keeps the key order of the documented result (axes first, then added keys)', () => {
    const cells = cellsOf(
      matrix({ fruit: ['apple'], animal: ['cat'] }, [{ color: 'green' }, { fruit: 'apple', shape: 'circle' }]),
    );
    expect(Object.keys(cells[0] ?? {})).toEqual(['fruit', 'animal', 'color', 'shape']);
  });

  const errors: { name: string; spec: MatrixSpec; fragment: string }[] = [
    {
      name: 'more than 256 cells, naming the count',
      spec: matrix({ a: range(20), b: range(13) }),
      fragment: '260 orders; the maximum is 256',
    },
    { name: 'exactly 257 with an include', spec: matrix({ a: range(256) }, [{ a: 999 }]), fragment: '257 orders' },
    {
      name: 'a huge product is refused without enumerating it',
      spec: matrix({ a: range(100), b: range(100), c: range(100) }),
      fragment: '1000000 combinations',
    },
    { name: 'an empty axis', spec: matrix({ os: [] }), fragment: "Matrix vector 'os' does not contain any values" },
    {
      name: 'an exclude key that is not an axis',
      spec: matrix({ os: ['a'] }, [], [{ arch: 'x' }]),
      fragment: "exclude key 'arch'",
    },
    { name: 'an empty exclude', spec: matrix({ os: ['a'] }, [], [{}]), fragment: 'must not be empty' },
    { name: 'an empty include', spec: matrix({ os: ['a'] }, [{}]), fragment: 'does not contain any values' },
  ];
  it.each(errors)('error: $name', ({ spec, fragment }) => {
    const result = expandMatrix(spec);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error).toContain(fragment);
  });

  it('accepts exactly 256 cells', () => {
    expect(cellsOf(matrix({ a: range(16), b: range(16) }))).toHaveLength(256);
  });
});

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

describe('planRun: ids, names, needs', () => {
  it('uses the job id for plain jobs and <job>.<n> for matrix cells, in file and expansion order', () => {
    const orders = plan(
      workflow([job('build'), job('test', { needs: ['build'], matrix: matrix({ shard: [1, 2, 3] }) })]),
    );
    expect(orders.map((o) => o.id)).toEqual(['build', 'test.1', 'test.2', 'test.3']);
    expect(orders.map((o) => o.matrix)).toEqual([{}, { shard: 1 }, { shard: 2 }, { shard: 3 }]);
  });

  it('names orders after the job name or id, with the cross-product values appended as GitHub displays them', () => {
    const orders = plan(
      workflow([
        job('build'),
        job('lint', { name: 'Lint code' }),
        job('test', {
          name: 'Unit',
          matrix: matrix({ os: ['linux', 'mac'], node: [20], flag: [true] }, [
            { os: 'linux', extra: 'x' },
            { os: 'win', node: 18.5 },
          ]),
        }),
      ]),
    );
    expect(orders.map((o) => o.name)).toEqual([
      'build',
      'Lint code',
      'Unit (linux, 20, true)',
      'Unit (mac, 20, true)',
      'Unit (win, 18.5)',
    ]);
  });

  it('shows nested primitive values and skips null and empty strings', () => {
    const orders = plan(workflow([job('t', { matrix: matrix({ img: [{ os: 'ubuntu', cc: null, v: '' }], n: [1] }) })]));
    expect(orders[0]?.name).toBe('t (ubuntu, 1)');
  });

  it('evaluates a name with expressions per cell and appends nothing', () => {
    const orders = plan(
      workflow([
        job('test', { name: 'Node ${{ matrix.node }} on ${{ github.ref_name }}', matrix: matrix({ node: [18, 20] }) }),
      ]),
    );
    expect(orders.map((o) => o.name)).toEqual(['Node 18 on main', 'Node 20 on main']);
  });

  it('truncates display names at 100 characters like GitHub', () => {
    const orders = plan(workflow([job('t', { name: 'n'.repeat(120) })]));
    expect(orders[0]?.name).toHaveLength(100);
    expect(orders[0]?.name.endsWith('...')).toBe(true);
  });

  it('lists every order of every needed job in needsOrders, across matrix jobs', () => {
    const orders = plan(
      workflow([
        job('a', { matrix: matrix({ x: [1, 2] }) }),
        job('b'),
        job('c', { needs: ['a', 'b'], matrix: matrix({ y: ['p', 'q'] }) }),
        job('d', { needs: ['c'] }),
      ]),
    );
    const byId = new Map(orders.map((o) => [o.id, o]));
    expect(byId.get('a.1')?.needsOrders).toEqual([]);
    expect(byId.get('c.1')?.needsOrders).toEqual(['a.1', 'a.2', 'b']);
    expect(byId.get('c.2')?.needsOrders).toEqual(['a.1', 'a.2', 'b']);
    expect(byId.get('c.2')?.needs).toEqual(['a', 'b']);
    expect(byId.get('d')?.needsOrders).toEqual(['c.1', 'c.2']);
  });

  it('gives a fully excluded matrix job zero orders; its dependents keep the need but wait on no order', () => {
    const orders = plan(
      workflow([job('a', { matrix: matrix({ x: [1] }, [], [{ x: 1 }]) }), job('b', { needs: ['a'] })]),
    );
    expect(orders.map((o) => o.id)).toEqual(['b']);
    expect(orders[0]?.needs).toEqual(['a']);
    expect(orders[0]?.needsOrders).toEqual([]);
  });
});

describe('planRun: graph validation', () => {
  it('reports an unknown need at the job', () => {
    const result = planRun({ workflow: workflow([job('a', { needs: ['ghost'], pos: { line: 7, col: 3 } })]), github });
    expect(result).toEqual({
      ok: false,
      diagnostics: [
        {
          file: '.spotcheck/workflows/ci.yml',
          line: 7,
          col: 3,
          message: 'job `a` needs `ghost`, which is not a job in this workflow (jobs: `a`)',
        },
      ],
    });
  });

  const cycles: { name: string; jobs: JobSpec[]; want: string[] }[] = [
    { name: 'self', jobs: [job('a', { needs: ['a'] })], want: ['job `a` needs itself'] },
    {
      name: 'two',
      jobs: [job('a', { needs: ['b'] }), job('b', { needs: ['a'] })],
      want: ['jobs form a cycle through `needs`: a → b → a; no job of it could ever start'],
    },
    {
      name: 'three behind a root',
      jobs: [job('root'), job('x', { needs: ['root', 'z'] }), job('y', { needs: ['x'] }), job('z', { needs: ['y'] })],
      want: ['jobs form a cycle through `needs`: x → z → y → x; no job of it could ever start'],
    },
  ];
  it.each(cycles)('names a cycle: $name', ({ jobs, want }) => {
    expect(checkNeedsGraph(jobs, 'f.yml').map((d) => d.message)).toEqual(want);
    expect(planErrors(workflow(jobs))).toEqual(want);
  });

  it('accepts a diamond', () => {
    const jobs = [job('a'), job('b', { needs: ['a'] }), job('c', { needs: ['a'] }), job('d', { needs: ['b', 'c'] })];
    expect(checkNeedsGraph(jobs, 'f.yml')).toEqual([]);
  });

  it('handles a long chain without recursion limits', () => {
    const jobs = range(2000).map((i) => job(`j${i}`, { needs: i === 0 ? [] : [`j${i - 1}`] }));
    expect(checkNeedsGraph(jobs, 'f.yml')).toEqual([]);
  });
});

describe('planRun: per-cell fields', () => {
  it('evaluates runs-on from the matrix', () => {
    const orders = plan(workflow([job('t', { runsOn: '${{ matrix.os }}', matrix: matrix({ os: ['go', 'docker'] }) })]));
    expect(orders.map((o) => o.runsOn)).toEqual(['go', 'docker']);
  });

  it('evaluates runs-on from github and strategy', () => {
    const orders = plan(
      workflow([
        job('t', { runsOn: "${{ github.ref_name == 'main' && 'big' || 'small' }}-${{ strategy.job-index }}" }),
      ]),
    );
    expect(orders[0]?.runsOn).toBe('big-0');
  });

  it('reports a runs-on that evaluates to nothing', () => {
    expect(planErrors(workflow([job('t', { runsOn: '${{ matrix.nope }}', matrix: matrix({ os: ['a'] }) })]))).toEqual([
      "Job 't' (matrix cell 1): runs-on '${{ matrix.nope }}' evaluated to an empty label",
    ]);
  });

  it('evaluates continue-on-error per cell (docs example with matrix.experimental)', () => {
    const orders = plan(
      workflow([
        job('t', {
          continueOnError: '${{ matrix.experimental }}',
          matrix: matrix({ version: [6, 7, 8], experimental: [false] }, [{ version: 9, experimental: true }]),
        }),
      ]),
    );
    expect(orders.map((o) => o.continueOnError)).toEqual([false, false, false, true]);
  });

  it('refuses a continue-on-error that is not boolean', () => {
    const errors = planErrors(
      workflow([job('t', { continueOnError: '${{ matrix.os }}', matrix: matrix({ os: ['a'] }) })]),
    );
    expect(errors).toEqual([
      "Job 't' (matrix cell 1): continue-on-error '${{ matrix.os }}' must evaluate to true or false, got \"a\"",
    ]);
  });

  it('merges env with the job winning, evaluating only plan-time values', () => {
    const orders = plan(
      workflow(
        [
          job('t', {
            env: {
              SHARED: 'job',
              OS: '${{ matrix.os }}',
              STEP: '${{ steps.a.outputs.b }}',
              NEED: '${{ needs.x.outputs.y }}',
              MIXED: '${{ matrix.os }}/${{ runner.os }}',
            },
            matrix: matrix({ os: ['linux'] }),
          }),
        ],
        { env: { SHARED: 'workflow', ONLY_WF: '${{ github.sha }}' } },
      ),
    );
    expect(orders[0]?.env).toEqual({
      SHARED: 'job',
      ONLY_WF: '0123456789abcdef',
      OS: 'linux',
      STEP: '${{ steps.a.outputs.b }}',
      NEED: '${{ needs.x.outputs.y }}',
      MIXED: '${{ matrix.os }}/${{ runner.os }}',
    });
  });

  it('does not hand on a plan-time result that itself looks like an expression', () => {
    const evil = { ...github, event: { head_commit: { message: '${{ toJSON(github) }}' } } };
    const result = planRun({
      workflow: workflow([job('t', { env: { MSG: '${{ github.event.head_commit.message }}' } })]),
      github: evil,
    });
    expect(result.ok && result.plan.orders[0]?.env).toEqual({ MSG: '${{ github.event.head_commit.message }}' });
  });

  it('copies timeout, fail-fast, max-parallel, steps, outputs and if through', () => {
    const spec = job('t', {
      timeoutMinutes: 7,
      failFast: false,
      maxParallel: 2,
      if: "needs.build.result == 'failure'",
      outputs: { v: '${{ steps.a.outputs.v }}' },
      matrix: matrix({ n: [1] }),
    });
    const order = plan(workflow([spec]))[0];
    expect(order).toMatchObject({
      timeoutMinutes: 7,
      failFast: false,
      maxParallel: 2,
      if: "needs.build.result == 'failure'",
      outputExprs: { v: '${{ steps.a.outputs.v }}' },
      steps: spec.steps,
    });
  });

  it('records each order’s strategy context: its index in the matrix, the cell count, fail-fast, max-parallel', () => {
    const cells = plan(workflow([job('t', { failFast: false, maxParallel: 2, matrix: matrix({ n: [1, 2, 3] }) })]));
    expect(cells.map((o) => o.strategy)).toEqual(
      [0, 1, 2].map((i) => ({
        'fail-fast': false,
        'job-index': i,
        'job-total': 3,
        'max-parallel': 2,
      })),
    );
    expect(plan(workflow([job('single')]))[0]?.strategy).toEqual({
      'fail-fast': true,
      'job-index': 0,
      'job-total': 1,
      'max-parallel': 1,
    });
  });

  it('leaves if and maxParallel absent when the job has none', () => {
    const order = plan(workflow([job('t')]))[0];
    expect(order !== undefined && 'if' in order).toBe(false);
    expect(order !== undefined && 'maxParallel' in order).toBe(false);
  });

  it('reports every interpolation error at the job position, with the file', () => {
    const result = planRun({
      workflow: workflow([
        job('a', { runsOn: '${{ secrets.X }}', pos: { line: 3, col: 3 } }),
        job('b', { name: '${{ matrix.os', pos: { line: 8, col: 3 } }),
      ]),
      github,
    });
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.diagnostics.map((d) => [d.file, d.line, d.col])).toEqual([
        ['.spotcheck/workflows/ci.yml', 3, 3],
        ['.spotcheck/workflows/ci.yml', 8, 3],
      ]);
      expect(result.diagnostics[0]?.message).toContain("'secrets'");
      expect(result.diagnostics[1]?.message).toContain('not closed');
    }
  });

  it('reports a matrix error at the job', () => {
    expect(planErrors(workflow([job('t', { matrix: matrix({ a: range(300) }) })]))).toEqual([
      "Job 't': Matrix expands to 300 orders; the maximum is 256",
    ]);
  });
});

describe('planRun: concurrency', () => {
  it('interpolates the group with github', () => {
    const result = planRun({
      workflow: workflow([job('a')], { concurrency: { group: 'ci-${{ github.ref }}', cancelInProgress: true } }),
      github,
    });
    expect(result.ok && result.plan.concurrency).toEqual({ group: 'ci-refs/heads/main', cancelInProgress: true });
  });

  it.each([
    ["${{ github.ref != 'refs/heads/main' }}", false],
    ["${{ github.ref == 'refs/heads/main' }}", true],
  ])('evaluates cancel-in-progress written as an expression: %s', (cancel, want) => {
    const result = planRun({
      workflow: workflow([job('a')], { concurrency: { group: 'ci', cancelInProgress: cancel } }),
      github,
    });
    expect(result.ok && result.plan.concurrency).toEqual({ group: 'ci', cancelInProgress: want });
  });

  it('has no concurrency when the workflow declares none', () => {
    const result = planRun({ workflow: workflow([job('a')]), github });
    expect(result.ok && 'concurrency' in result.plan).toBe(false);
  });

  it('reports a bad group', () => {
    expect(
      planErrors(workflow([job('a')], { concurrency: { group: 'ci-${{ secrets.x }}', cancelInProgress: false } }))[0],
    ).toContain('concurrency.group');
  });

  it('carries file and workflow name', () => {
    const result = planRun({ workflow: workflow([job('a')]), github });
    expect(result.ok && [result.plan.file, result.plan.workflowName]).toEqual(['.spotcheck/workflows/ci.yml', 'ci']);
  });
});
