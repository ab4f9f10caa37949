import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { formatDiagnostic, parseWorkflow, parseWorkflowFiles } from '../../src/core/workflow/parse-workflow.ts';
import { validateNeedsGraph } from '../../src/core/workflow/needs-graph.ts';
import { MAX_JOBS, MAX_STEPS_PER_JOB, MAX_WORKFLOW_FILES } from '../../src/core/limits.ts';
import type { Diagnostic, RunStepSpec, Workflow } from '../../src/core/types.ts';

const fixture = (name: string): string =>
  readFileSync(new URL(`../fixtures/workflows/valid/${name}`, import.meta.url), 'utf8');

function valid(text: string, file = 'w.yml'): Workflow {
  const { workflow, diagnostics } = parseWorkflow(file, text);
  expect(diagnostics.map(formatDiagnostic)).toEqual([]);
  if (!workflow) throw new Error('no workflow');
  return workflow;
}

function errors(text: string): Diagnostic[] {
  const result = parseWorkflow('w.yml', text);
  expect(result.workflow).toBeUndefined();
  expect(result.diagnostics.length).toBeGreaterThan(0);
  return result.diagnostics;
}

/** A minimal valid workflow with `extra` spliced into job `a` (indented 4) — for job- and step-level cases. */
const job = (extra: string, steps = '      - run: make\n'): string =>
  `on: push\njobs:\n  a:\n    runs-on: local\n${extra}    steps:\n${steps}`;

describe('parseWorkflow: valid files', () => {
  it('parses the docs/architecture.md example (concurrency quoted) to the expected model', () => {
    const w = valid(fixture('design-example.yml'), '.spotcheck/workflows/ci.yml');
    expect(w).toEqual({
      file: '.spotcheck/workflows/ci.yml',
      name: 'ci',
      on: {
        push: { branches: ['main', 'release/**'], paths: ['src/**', 'package.json'] },
        pull_request: { branches: ['main'] },
        testme: {},
      },
      env: {},
      concurrency: { group: 'ci-${{ github.ref }}', cancelInProgress: true },
      jobs: [
        {
          id: 'build',
          runsOn: 'go',
          needs: [],
          timeoutMinutes: 20,
          env: {},
          failFast: true,
          continueOnError: false,
          outputs: {},
          steps: [{ index: 0, run: 'make build', env: {}, continueOnError: false, pos: { line: 15, col: 9 } }],
          pos: { line: 11, col: 3 },
        },
        {
          id: 'test',
          runsOn: 'docker',
          needs: ['build'],
          timeoutMinutes: 360,
          env: {},
          matrix: { axes: { shard: [1, 2, 3] }, include: [], exclude: [] },
          failFast: false,
          continueOnError: false,
          outputs: {},
          steps: [
            {
              index: 0,
              run: 'make test SHARD=${{ matrix.shard }}',
              env: {},
              continueOnError: false,
              pos: { line: 21, col: 9 },
            },
          ],
          pos: { line: 16, col: 3 },
        },
        {
          id: 'e2e',
          runsOn: 'big',
          needs: ['test'],
          if: "github.event_name == 'testme'",
          timeoutMinutes: 360,
          env: {},
          failFast: true,
          continueOnError: false,
          outputs: {},
          steps: [{ index: 0, run: './e2e.sh', env: {}, continueOnError: false, pos: { line: 27, col: 9 } }],
          pos: { line: 22, col: 3 },
        },
      ],
    });
  });

  it('explains why the verbatim docs/architecture.md concurrency line (unquoted ${{ }} in a flow mapping) is not YAML', () => {
    const text = fixture('design-example.yml').replace(
      /^concurrency:.*$/m,
      'concurrency: { group: ci-${{ github.ref }}, cancel-in-progress: true }',
    );
    const d = errors(text);
    expect(d).toHaveLength(1); // the first syntax error only, not its echoes
    expect(d[0]).toMatchObject({ line: 9, col: 27 });
    expect(d[0]?.message).toContain('must be quoted');
  });

  it('reads every supported key', () => {
    const w = valid(fixture('full.yml'));
    expect(w.name).toBe('full');
    expect(w.on).toEqual({ push: {}, testme: {} });
    // Scalars become strings as on GitHub (3.10 is the number 3.1); an empty value is "".
    expect(w.env).toEqual({ GREETING: 'hello', PY: '3.1', DEBUG: 'true', EMPTY: '', ['__proto__']: 'kept' });
    expect(Object.getPrototypeOf(w.env)).toBe(Object.prototype);
    expect(w.concurrency).toEqual({ group: 'deploy', cancelInProgress: false });
    const [setup, matrix] = w.jobs;
    expect(setup).toMatchObject({
      id: '_setup',
      name: 'Set up',
      runsOn: 'local',
      outputs: { version: '${{ steps.ver.outputs.version }}' },
    });
    expect(setup?.steps[0]).toMatchObject({ id: 'ver', name: 'Compute version' });
    expect(matrix).toMatchObject({
      needs: ['_setup'],
      runsOn: '${{ matrix.os }}',
      timeoutMinutes: 30,
      continueOnError: '${{ matrix.experimental }}',
      failFast: false,
      maxParallel: 2,
      matrix: {
        axes: { os: ['linux', 'big'], node: [18, 20] },
        include: [
          { os: 'linux', node: 20, experimental: true },
          { os: 'windows', node: 20 },
        ],
        exclude: [{ os: 'big', node: 18 }],
      },
    });
    expect(matrix?.steps[0]).toEqual({
      index: 0,
      name: 'test',
      run: 'npm ci\nnpm test\n',
      env: { NODE: '${{ matrix.node }}' },
      workingDirectory: 'app',
      shell: 'bash',
      if: '${{ success() }}',
      continueOnError: true,
      timeoutMinutes: 10,
      pos: { line: 44, col: 9 },
    });
    expect(matrix?.steps[1]).toMatchObject({ index: 1, if: 'always()', continueOnError: false });
  });

  it('expands anchors and aliases', () => {
    const w = valid(fixture('anchors.yml'));
    expect(w.name).toBe('w.yml'); // no `name:`: GitHub shows the file path
    expect(w.jobs.map((j) => [j.id, j.env, j.steps.map((s) => (s as RunStepSpec).run)])).toEqual([
      ['a', { LANG: 'C' }, ['make']],
      ['b', { LANG: 'C' }, ['make']],
    ]);
  });

  it.each([
    ['a string', 'on: testme', { testme: {} }],
    ['a list', 'on: [push, pull_request]', { push: {}, pull_request: {} }],
    ['a map with empty events', 'on:\n  push:\n  testme: {}', { push: {}, testme: {} }],
    ['a single-string filter', 'on:\n  push:\n    tags: v*', { push: { tags: ['v*'] } }],
    [
      'every push filter',
      "on:\n  push:\n    branches-ignore: [wip]\n    tags-ignore: ['x']\n    paths-ignore: [docs/**]",
      { push: { branchesIgnore: ['wip'], tagsIgnore: ['x'], pathsIgnore: ['docs/**'] } },
    ],
    [
      'negations after a positive pattern',
      "on:\n  pull_request:\n    paths: ['**', '!docs/**']",
      { pull_request: { paths: ['**', '!docs/**'] } },
    ],
  ])('`on` as %s', (_label, on, expected) => {
    expect(valid(`${on}\njobs:\n  a:\n    runs-on: local\n    steps:\n      - run: make\n`).on).toEqual(expected);
  });

  it.each([
    ['needs as a string', '    needs: b\n', { needs: ['b'] }],
    ['needs listed twice', '    needs: [b, b]\n', { needs: ['b'] }],
    ['one-element runs-on list', '', { runsOn: 'local' }],
    ['if: true', '    if: true\n', { if: 'true' }],
    ['continue-on-error: true', '    continue-on-error: true\n', { continueOnError: true }],
    ['fractional timeout', '    timeout-minutes: 1.5\n', { timeoutMinutes: 1.5 }],
  ])('job: %s', (_label, extra, expected) => {
    const text = `on: push\njobs:\n  a:\n    runs-on: [local]\n${extra}    steps:\n      - run: make\n  b:\n    runs-on: local\n    steps:\n      - run: make\n`;
    expect(valid(text).jobs[0]).toMatchObject(expected);
  });

  it('reads a runs-on list as its labels joined with ", " (one route must have them all)', () => {
    const text =
      'on: push\njobs:\n  a:\n    runs-on: [self-hosted, linux, "${{ matrix.gpu }}"]\n    steps: [{run: y}]\n';
    expect(valid(text).jobs[0]?.runsOn).toBe('self-hosted, linux, ${{ matrix.gpu }}');
  });

  it('counts matrix includes that match no combination as extra orders, and accepts include-only matrices', () => {
    const w = valid(job('    strategy:\n      matrix:\n        include: [{ a: 1 }, { a: 2 }]\n'));
    expect(w.jobs[0]?.matrix).toEqual({ axes: {}, include: [{ a: 1 }, { a: 2 }], exclude: [] });
  });

  it('accepts a matrix of exactly 256 orders after excludes', () => {
    const vals = Array.from({ length: 17 }, (_, i) => i).join(', ');
    // 17 × 16 = 272, minus the 16 combinations with x = 0 → 256.
    const text = job(
      `    strategy:\n      matrix:\n        x: [${vals}]\n        y: [${Array.from({ length: 16 }, (_, i) => i).join(', ')}]\n        exclude: [{ x: 0 }]\n`,
    );
    expect(valid(text).jobs[0]?.matrix?.exclude).toEqual([{ x: 0 }]);
  });
});

describe('parseWorkflow: errors, with positions', () => {
  it.each([
    // [label, text, line, col, message fragment]
    [
      'unknown top-level key',
      'on: push\npermissionz: {}\njobs: {a: {runs-on: x, steps: [{run: y}]}}',
      2,
      1,
      'unknown key `permissionz` in the top level of a workflow; allowed keys: name, run-name, on, env, concurrency, permissions, defaults, jobs',
    ],
    ['missing on', 'jobs: {a: {runs-on: x, steps: [{run: y}]}}', 1, 1, 'missing `on:`'],
    ['missing jobs', 'on: push', 1, 1, 'missing `jobs:`'],
    ['empty jobs', 'on: push\njobs: {}', 2, 7, '`jobs` is empty'],
    [
      'unknown event',
      'on: [push, workflow_dispatchh]\njobs: {a: {runs-on: x, steps: [{run: y}]}}',
      1,
      12,
      'unknown event `workflow_dispatchh`: GitHub defines no such event',
    ],
    [
      'unknown event in map form',
      'on:\n  pull_requests: {}\njobs: {a: {runs-on: x, steps: [{run: y}]}}',
      2,
      3,
      'unknown event `pull_requests`',
    ],
    [
      'types on testme',
      'on:\n  testme:\n    types: [opened]\njobs: {a: {runs-on: x, steps: [{run: y}]}}',
      3,
      5,
      '`testme` has no activity types',
    ],
    [
      'unknown pull_request type',
      'on:\n  pull_request:\n    types: [opened, merged]\njobs: {a: {runs-on: x, steps: [{run: y}]}}',
      3,
      21,
      '`merged` is not an activity type of `pull_request`',
    ],
    [
      'empty pull_request types',
      'on:\n  pull_request:\n    types: []\njobs: {a: {runs-on: x, steps: [{run: y}]}}',
      3,
      12,
      '`on.pull_request.types` is an empty list',
    ],
    [
      'typo in a push filter is still strict',
      'on:\n  push:\n    branch: [main]\n  schedule: [{cron: "0 0 * * *"}]\njobs: {a: {runs-on: x, steps: [{run: y}]}}',
      3,
      5,
      'unknown key `branch` in `on.push`',
    ],
    [
      'foreign event key GitHub does not define',
      'on:\n  issues:\n    type: [opened]\njobs: {a: {runs-on: x, steps: [{run: y}]}}',
      3,
      5,
      'unknown key `type` in `on.issues`; allowed keys: types',
    ],
    [
      'foreign event without keys',
      'on:\n  fork:\n    types: [x]\njobs: {a: {runs-on: x, steps: [{run: y}]}}',
      3,
      5,
      '`on.fork` takes no keys',
    ],
    [
      'foreign event not a mapping',
      'on:\n  release: published\njobs: {a: {runs-on: x, steps: [{run: y}]}}',
      2,
      12,
      '`on.release` must be a mapping (or empty)',
    ],
    [
      'schedule not a list',
      'on:\n  schedule:\n    cron: "0 0 * * *"\njobs: {a: {runs-on: x, steps: [{run: y}]}}',
      3,
      5,
      '`on.schedule` must be a list',
    ],
    [
      'schedule entry key typo',
      'on:\n  schedule:\n    - crom: "0 0 * * *"\njobs: {a: {runs-on: x, steps: [{run: y}]}}',
      3,
      7,
      'unknown key `crom` in `on.schedule` entry',
    ],
    [
      'workflow_dispatch inputs not a mapping',
      'on:\n  workflow_dispatch:\n    inputs: [a]\njobs: {a: {runs-on: x, steps: [{run: y}]}}',
      3,
      13,
      '`on.workflow_dispatch.inputs` must be a mapping',
    ],
    [
      'foreign event listed twice',
      'on: [schedule, schedule]\njobs: {a: {runs-on: x, steps: [{run: y}]}}',
      1,
      16,
      'event `schedule` is listed twice',
    ],
    [
      'tags on testme',
      'on:\n  testme:\n    tags: [v1]\njobs: {a: {runs-on: x, steps: [{run: y}]}}',
      3,
      5,
      'tag filters apply to `push` only',
    ],
    [
      'branches with branches-ignore',
      'on:\n  push:\n    branches: [a]\n    branches-ignore: [b]\njobs: {a: {runs-on: x, steps: [{run: y}]}}',
      4,
      5,
      'cannot both filter',
    ],
    [
      '! in an ignore list',
      "on:\n  push:\n    paths-ignore: ['!x']\njobs: {a: {runs-on: x, steps: [{run: y}]}}",
      3,
      20,
      'cannot hold `!` patterns',
    ],
    [
      'only negations',
      "on:\n  push:\n    branches: ['!x']\njobs: {a: {runs-on: x, steps: [{run: y}]}}",
      3,
      15,
      'only `!` patterns',
    ],
    [
      'empty filter list',
      'on:\n  push:\n    branches: []\njobs: {a: {runs-on: x, steps: [{run: y}]}}',
      3,
      15,
      'empty list',
    ],
    [
      'too long pattern',
      `on:\n  push:\n    branches: [${'a'.repeat(256)}]\njobs: {a: {runs-on: x, steps: [{run: y}]}}`,
      3,
      16,
      'at most 255',
    ],
    [
      'too many patterns',
      `on:\n  push:\n    branches: [${Array.from({ length: 101 }, (_, i) => `b${i}`).join(', ')}]\njobs: {a: {runs-on: x, steps: [{run: y}]}}`,
      3,
      15,
      'at most 100',
    ],
    [
      'invalid pattern (filter-pattern.ts)',
      "on:\n  push:\n    branches: ['[z-a]']\njobs: {a: {runs-on: x, steps: [{run: y}]}}",
      3,
      16,
      '`on.push.branches` pattern `[z-a]`',
    ],
    [
      'expression in a filter',
      "on:\n  push:\n    branches: ['${{ x }}']\njobs: {a: {runs-on: x, steps: [{run: y}]}}",
      3,
      16,
      'cannot use `${{ }}` expressions',
    ],
    [
      'bad job id',
      'on: push\njobs:\n  1a: {runs-on: x, steps: [{run: y}]}',
      3,
      3,
      'job id `1a` must start with a letter or `_`',
    ],
    [
      'with without uses',
      job('    with: {a: 1}\n'),
      5,
      5,
      '`with:` passes inputs to a reusable workflow, and this job has no `uses:`',
    ],
    ['services', job('    services:\n      db: postgres\n'), 5, 5, '`services:` containers are not supported'],
    ['container', job('    container: node:20\n'), 5, 5, '`container:` is not supported'],
    [
      'unknown job key',
      job('    runs_on: x\n'),
      5,
      5,
      'unknown key `runs_on` in job `a`; allowed keys: name, runs-on, needs',
    ],
    ['needs: 3', job('    needs: 3\n'), 5, 12, '`jobs.a.needs` must name jobs by id, but this is the number `3`'],
    [
      'unknown need',
      job('    needs: [nope]\n'),
      5,
      13,
      'job `a` needs `nope`, which is not a job in this workflow (jobs: `a`)',
    ],
    ['self need', job('    needs: a\n'), 5, 12, 'job `a` needs itself'],
    [
      'a runs-on label with a comma',
      'on: push\njobs:\n  a:\n    runs-on: [linux, "x,y"]\n    steps: [{run: y}]',
      4,
      22,
      'a runner label cannot contain a comma',
    ],
    ['missing runs-on', 'on: push\njobs:\n  a:\n    steps: [{run: y}]', 3, 3, 'has no `runs-on`'],
    ['missing steps', 'on: push\njobs:\n  a:\n    runs-on: x', 3, 3, 'has no `steps`'],
    [
      'timeout as text around an expression',
      job('    timeout-minutes: ${{ 5 }} minutes\n'),
      5,
      22,
      'must be a number of minutes or a `${{ }}` expression, not the string',
    ],
    ['timeout zero', job('    timeout-minutes: 0\n'), 5, 22, 'more than 0'],
    [
      'matrix expression',
      job('    strategy:\n      matrix: ${{ fromJSON(x) }}\n'),
      6,
      15,
      "Unrecognized named-value: 'x'",
    ],
    ['empty axis', job('    strategy:\n      matrix:\n        os: []\n'), 7, 13, 'an axis needs at least one value'],
    [
      'exclude key not an axis',
      job('    strategy:\n      matrix:\n        os: [a]\n        exclude: [{ oz: a }]\n'),
      8,
      19,
      'key `oz` is not a matrix axis',
    ],
    [
      'all excluded',
      job('    strategy:\n      matrix:\n        os: [a]\n        exclude: [{ os: a }]\n'),
      7,
      9,
      'no combination',
    ],
    ['fail-fast not boolean', job('    strategy:\n      fail-fast: "no"\n'), 6, 18, 'must be true or false'],
    ['max-parallel 0', job('    strategy:\n      max-parallel: 0\n'), 6, 21, 'whole number of at least 1'],
    ['uses without a version', job('', '      - uses: actions/checkout\n'), 6, 15, 'names no version'],
    [
      'uses and run',
      job('', '      - uses: actions/checkout@v4\n        run: x\n'),
      6,
      9,
      'has both `run:` and `uses:`',
    ],
    ['uses with shell', job('', '      - uses: ./a\n        shell: sh\n'), 7, 9, 'applies to `run:` steps only'],
    ['step without run', job('', '      - name: nothing\n'), 6, 9, 'has neither `run:` nor `uses:`'],
    [
      'with on a run step',
      job('', '      - run: x\n        with: {a: 1}\n'),
      7,
      9,
      'passes inputs to an action, and this step has no `uses:`',
    ],
    [
      'duplicate step id',
      job('', '      - {id: s, run: x}\n      - {id: s, run: y}\n'),
      7,
      9,
      'step id `s` is already used by another step of this job (line 6)',
    ],
    ['bad step id', job('', '      - {id: "a b", run: x}\n'), 6, 14, 'step id `a b` must start'],
    [
      'step continue-on-error as a string',
      job('', '      - run: x\n        continue-on-error: maybe\n'),
      7,
      28,
      'must be true, false or a `${{ }}` expression, not the string `maybe`',
    ],
    [
      'env value as a map',
      'on: push\nenv:\n  A: {b: 1}\njobs: {a: {runs-on: x, steps: [{run: y}]}}',
      3,
      6,
      '`env.A` must be a string, not a mapping',
    ],
    ['bad if expression', job('    if: github.ref ==\n'), 5, 9, '`jobs.a.if`'],
    ['bad template expression', job('', '      - run: echo ${{ matrix.x\n'), 6, 14, '`jobs.a.steps[0].run`'],
    [
      'concurrency without group',
      'on: push\nconcurrency: {cancel-in-progress: true}\njobs: {a: {runs-on: x, steps: [{run: y}]}}',
      2,
      14,
      'needs a `group`',
    ],
    ['top level a list', '- on: push', 1, 1, 'must be a mapping'],
    ['merge key', 'on: push\nx: &x {runs-on: x, steps: [{run: y}]}\njobs:\n  a:\n    <<: *x', 2, 1, 'unknown key `x`'],
    [
      'multi-document',
      'on: push\njobs: {a: {runs-on: x, steps: [{run: y}]}}\n---\non: push\n',
      3,
      1,
      'one YAML document',
    ],
    ['undefined alias', 'on: push\njobs: *nope', 2, 7, 'alias `*nope` refers to no anchor'],
    ['custom tag', 'on: !weird push\njobs: {a: {runs-on: x, steps: [{run: y}]}}', 1, 5, 'custom `!tags`'],
  ])('%s', (_label, text, line, col, fragment) => {
    const d = errors(text);
    const hit = d.find((x) => x.message.includes(fragment));
    expect(hit, d.map(formatDiagnostic).join('\n')).toBeDefined();
    expect(hit).toMatchObject({ file: 'w.yml', line, col });
  });

  it('reports every problem of a file at once, sorted by position', () => {
    const text = [
      'on: [push, schedulee]',
      'jobs:',
      '  a:',
      '    runs-on: []',
      '    needs: [zz]',
      '    steps:',
      '      - uses: foo@v1',
      '      - run: ok',
      '        colour: red',
    ].join('\n');
    const d = errors(text);
    expect(d.map((x) => [x.line, x.col])).toEqual([
      [1, 12],
      [4, 14],
      [7, 15],
      [9, 9],
    ]);
    expect(d.map(formatDiagnostic)[0]).toBe(
      'w.yml:1:12: unknown event `schedulee`: GitHub defines no such event (spotcheck runs workflows on push, pull_request and testme, a `!testme` comment on a pull request)',
    );
  });

  it('rejects more jobs and steps than the limits', () => {
    const jobs = Array.from({ length: MAX_JOBS + 1 }, (_, i) => `  j${i}: {runs-on: x, steps: [{run: y}]}`).join('\n');
    expect(errors(`on: push\njobs:\n${jobs}`)[0]?.message).toContain(`at most ${MAX_JOBS} are allowed`);
    const steps = Array.from({ length: MAX_STEPS_PER_JOB + 1 }, () => '      - run: y\n').join('');
    expect(errors(job('', steps))[0]?.message).toContain(`at most ${MAX_STEPS_PER_JOB} are allowed`);
  });

  it('rejects a matrix whose includes add orders past 256', () => {
    const include = Array.from({ length: 2 }, (_, i) => `{ x: new${i} }`).join(', ');
    const vals = Array.from({ length: 255 }, (_, i) => i).join(', ');
    const d = errors(job(`    strategy:\n      matrix:\n        x: [${vals}]\n        include: [${include}]\n`));
    expect(d[0]?.message).toContain('expands to 257 orders');
  });

  it('caps the diagnostics of one file and says how many were left out', () => {
    const keys = Array.from({ length: 80 }, (_, i) => `bad${i}: 1`).join('\n');
    const d = parseWorkflow('w.yml', `on: push\n${keys}\njobs: {a: {runs-on: x, steps: [{run: y}]}}`).diagnostics;
    expect(d).toHaveLength(51);
    expect(d[50]?.message).toContain('and 30 more problems');
  });
});

describe('validateNeedsGraph', () => {
  const jobs = (spec: Record<string, string[]>) => Object.entries(spec).map(([id, needs]) => ({ id, needs }));

  it.each([
    ['a chain', { a: [], b: ['a'], c: ['b'] }, ['a', 'b', 'c']],
    ['a diamond, file order among equals', { d: ['b', 'c'], c: ['a'], b: ['a'], a: [] }, ['a', 'c', 'b', 'd']],
    ['independent jobs', { x: [], y: [] }, ['x', 'y']],
  ])('orders %s', (_label, spec, order) => {
    expect(validateNeedsGraph(jobs(spec))).toEqual({ problems: [], order });
  });

  it('names each cycle once, starting from its first job in file order', () => {
    const { problems, order } = validateNeedsGraph(
      jobs({ a: ['c'], b: ['a'], c: ['b'], d: ['a'], e: ['f'], f: ['e'], g: ['g'] }),
    );
    expect(order).toBeUndefined();
    expect(problems.map((p) => [p.kind, p.job, p.need, p.cycle?.join(' → ')])).toEqual([
      ['cycle', 'a', 'c', 'a → c → b → a'],
      ['cycle', 'e', 'f', 'e → f → e'],
      ['cycle', 'g', 'g', 'g → g'],
    ]);
    expect(problems[0]?.message).toBe(
      'jobs form a cycle through `needs`: a → c → b → a; no job of it could ever start',
    );
  });

  it('reports unknown needs and leaves them out of the graph', () => {
    const { problems } = validateNeedsGraph(jobs({ a: ['x'], b: ['a'] }));
    expect(problems).toEqual([
      {
        kind: 'unknown-need',
        job: 'a',
        need: 'x',
        message: 'job `a` needs `x`, which is not a job in this workflow (jobs: `a`, `b`)',
      },
    ]);
  });
});

describe('parseWorkflowFiles and formatDiagnostic', () => {
  it('returns the valid workflows and the diagnostics of the others', () => {
    const { workflows, diagnostics } = parseWorkflowFiles([
      { path: 'a.yml', text: fixture('design-example.yml') },
      { path: 'b.yml', text: 'on: push\njobs: {}' },
      { path: 'c.yml', text: fixture('anchors.yml') },
    ]);
    expect(workflows.map((w) => w.file)).toEqual(['a.yml', 'c.yml']);
    expect(diagnostics.map(formatDiagnostic)).toEqual([
      'b.yml:2:7: `jobs` is empty: a workflow needs at least one job',
    ]);
  });

  it('reads at most MAX_WORKFLOW_FILES files', () => {
    const files = Array.from({ length: MAX_WORKFLOW_FILES + 3 }, (_, i) => ({
      path: `w${i}.yml`,
      text: fixture('anchors.yml'),
    }));
    const { workflows, diagnostics } = parseWorkflowFiles(files);
    expect(workflows).toHaveLength(MAX_WORKFLOW_FILES);
    expect(diagnostics).toHaveLength(1);
    expect(diagnostics[0]?.file).toBe(`w${MAX_WORKFLOW_FILES}.yml`);
  });
});

describe('parseWorkflow: hashFiles() where GitHub evaluates it', () => {
  it.each([
    ['run', "      - run: echo ${{ hashFiles('**/go.sum') }}\n"],
    ['name', "      - name: deps ${{ hashFiles('go.sum', '!vendor/**') }}\n        run: make\n"],
    ['env', '      - run: make\n        env: { KEY: "${{ hashFiles(\'*.lock\') }}" }\n'],
    ['if', "      - if: hashFiles('package-lock.json') != ''\n        run: make\n"],
    ['working-directory', "      - run: make\n        working-directory: ${{ hashFiles('x') }}\n"],
  ])('accepts it in a step’s %s', (_field, steps) => {
    expect(valid(job('', steps)).jobs[0]?.steps).toHaveLength(1);
  });

  it.each([
    [
      'runs-on',
      "on: push\njobs:\n  a:\n    runs-on: ${{ hashFiles('x') }}\n    steps: [{ run: make }]\n",
      'jobs.a.runs-on',
    ],
    ['job if', job("    if: hashFiles('x') != ''\n"), 'jobs.a.if'],
    ['job env', job('    env: { K: "${{ hashFiles(\'x\') }}" }\n'), 'jobs.a.env.K'],
    ['job outputs', job('    outputs: { o: "${{ hashFiles(\'x\') }}" }\n'), 'jobs.a.outputs.o'],
    [
      'workflow env',
      'on: push\nenv: { K: "${{ hashFiles(\'x\') }}" }\njobs:\n  a:\n    runs-on: local\n    steps: [{ run: make }]\n',
      'env.K',
    ],
  ])('refuses it in %s, saying where it is available', (_label, text, path) => {
    const messages = errors(text).map((d) => d.message);
    expect(messages).toHaveLength(1);
    expect(messages[0]).toContain(`\`${path}\``);
    expect(messages[0]).toContain("Unrecognized function: 'hashFiles'");
    expect(messages[0]).toContain("available only in a step's fields");
  });
});

describe('parseWorkflow: GitHub events spotcheck does not act on', () => {
  const jobs = 'jobs: {a: {runs-on: x, steps: [{run: y}]}}';
  const notices = (text: string): string[] =>
    parseWorkflow('w.yml', text).notices.map((n) => `${n.level} ${n.line}:${n.col} ${n.message}`);

  it.each([
    ['string form', 'on: schedule', {}],
    ['list form', 'on: [push, workflow_dispatch, release]', { push: {} }],
    [
      'map form with their keys',
      [
        'on:',
        '  pull_request: {types: [opened, closed], branches: [main]}',
        '  issues: {types: [opened]}',
        '  workflow_run: {workflows: [ci], types: [completed], branches: [main]}',
        '  workflow_dispatch: {inputs: {level: {type: choice, options: [a, b]}}}',
        '  workflow_call: {inputs: {}, secrets: {}, outputs: {}}',
        '  pull_request_target: {types: [labeled], paths-ignore: [docs/**]}',
        '  schedule: [{cron: "0 0 * * *"}, {cron: "30 5 * * 1", timezone: Europe/Paris}]',
        '  fork:',
        '  merge_group: {types: [checks_requested]}',
      ].join('\n'),
      { pull_request: { types: ['opened', 'closed'], branches: ['main'] } },
    ],
  ])('accepts them in %s, keeping only spotcheck events', (_label, on, expected) => {
    expect(valid(`${on}\n${jobs}`).on).toEqual(expected);
  });

  it('accepts every event of GitHub\'s "Events that trigger workflows" list', () => {
    const events = [
      'branch_protection_rule',
      'check_run',
      'check_suite',
      'create',
      'delete',
      'deployment',
      'deployment_status',
      'discussion',
      'discussion_comment',
      'fork',
      'gollum',
      'issue_comment',
      'issues',
      'label',
      'merge_group',
      'milestone',
      'page_build',
      'public',
      'pull_request',
      'pull_request_review',
      'pull_request_review_comment',
      'pull_request_target',
      'push',
      'registry_package',
      'release',
      'repository_dispatch',
      'schedule',
      'status',
      'watch',
      'workflow_call',
      'workflow_dispatch',
      'workflow_run',
    ];
    const w = valid(`on: [${events.join(', ')}]\n${jobs}`);
    expect(w.on).toEqual({ push: {}, pull_request: {} });
    // One notice per foreign event: all but push and pull_request.
    expect(parseWorkflow('w.yml', `on: [${events.join(', ')}]\n${jobs}`).notices).toHaveLength(events.length - 2);
  });

  it('says of each foreign event that it is not a spotcheck trigger, with its position', () => {
    expect(notices(`on: [push, workflow_dispatch]\n${jobs}`)).toEqual([
      'notice 1:12 `workflow_dispatch` is not a spotcheck trigger: spotcheck never runs this workflow for it (it runs on push, pull_request and testme); to run a workflow by hand, comment `!testme` on a pull request',
    ]);
  });

  it("notes each foreign event's keys as accepted but ignored (validate --verbose)", () => {
    const text = `on:\n  issues:\n    types: [opened]\n  schedule:\n    - cron: "0 0 * * *"\n  push:\n    branches: [main]\n${jobs}`;
    expect(notices(text)).toEqual([
      'notice 2:3 `issues` is not a spotcheck trigger: spotcheck never runs this workflow for it (it runs on push, pull_request and testme)',
      'ignored 3:5 `on.issues.types` is accepted but ignored: `issues` is not a spotcheck trigger',
      'notice 4:3 `schedule` is not a spotcheck trigger: spotcheck never runs this workflow for it (it runs on push, pull_request and testme)',
      'ignored 5:7 `on.schedule.cron` is accepted but ignored: `schedule` is not a spotcheck trigger',
    ]);
  });

  it('has no notices for an invalid file (the errors come first)', () => {
    const result = parseWorkflow('w.yml', `on: [schedule, nope]\n${jobs}`);
    expect(result.diagnostics.map((d) => d.message)).toEqual([expect.stringContaining('unknown event `nope`')]);
    expect(result.notices).toEqual([]);
  });

  it('parses pull_request types, deduplicated', () => {
    expect(valid(`on:\n  pull_request:\n    types: closed\n${jobs}`).on).toEqual({
      pull_request: { types: ['closed'] },
    });
    expect(valid(`on:\n  pull_request:\n    types: [labeled, labeled, unlabeled]\n${jobs}`).on).toEqual({
      pull_request: { types: ['labeled', 'unlabeled'] },
    });
  });
});
