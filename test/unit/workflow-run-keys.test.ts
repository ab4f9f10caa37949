/**
 * The keys that shape a run rather than its steps: `permissions`, `defaults.run`, `environment`, read by the workflow
 * parser and carried by the planner onto each order.
 */
import { describe, expect, it } from 'vitest';
import { planRun } from '../../src/core/plan.ts';
import type { OrderSpec, RunStepSpec, Workflow } from '../../src/core/types.ts';
import { evaluateFlag, evaluateMinutes } from '../../src/core/workflow/evaluate-setting.ts';
import { formatDiagnostic, parseWorkflow } from '../../src/core/workflow/parse-workflow.ts';
import { makeGithubContext } from '../helpers/records.ts';

const github = makeGithubContext({ sha: '0123456789abcdef', ref: 'refs/heads/main' });

function valid(text: string): Workflow {
  const { workflow, diagnostics } = parseWorkflow('w.yml', text);
  expect(diagnostics.map(formatDiagnostic)).toEqual([]);
  if (!workflow) throw new Error('no workflow');
  return workflow;
}

function orders(text: string): OrderSpec[] {
  const result = planRun({ workflow: valid(text), github });
  if (!result.ok) throw new Error(result.diagnostics.map(formatDiagnostic).join('\n'));
  return [...result.plan.orders];
}

function firstError(text: string): string {
  const { workflow, diagnostics } = parseWorkflow('w.yml', text);
  expect(workflow).toBeUndefined();
  const first = diagnostics[0];
  if (!first) throw new Error('no diagnostic');
  return formatDiagnostic(first);
}

/** A workflow with `top` at the top level and `jobExtra` (indented 4) in job `a`, whose steps are `steps`. */
const wf = (top: string, jobExtra: string, steps = '      - run: make\n'): string =>
  `on: push\n${top}jobs:\n  a:\n    runs-on: local\n${jobExtra}    steps:\n${steps}`;

describe('permissions', () => {
  it.each([
    ['read-all at the workflow', 'permissions: read-all\n', '', 'read-all'],
    ['write-all at the workflow', 'permissions: write-all\n', '', 'write-all'],
    ['{} (every scope none)', 'permissions: {}\n', '', {}],
    [
      'a map of scopes',
      'permissions:\n  contents: read\n  pull-requests: write\n  id-token: write\n  models: read\n  issues: none\n',
      '',
      { contents: 'read', 'pull-requests': 'write', 'id-token': 'write', models: 'read', issues: 'none' },
    ],
    ['the job only', '', '    permissions: { statuses: write }\n', { statuses: 'write' }],
    [
      "the job's, replacing the workflow's whole",
      'permissions: { contents: write, issues: write }\n',
      '    permissions: { contents: read }\n',
      { contents: 'read' },
    ],
    ['read-all at the job over a map', 'permissions: { contents: write }\n', '    permissions: read-all\n', 'read-all'],
    ['neither', '', '', undefined],
  ])('%s → stored on the order', (_label, top, jobExtra, expected) => {
    const [order] = orders(wf(top, jobExtra));
    expect(order?.permissions).toEqual(expected);
  });

  it.each([
    ['read (a bare level)', 'permissions: read\n', '', 'w.yml:2:14: `permissions` must be `read-all`, `write-all`'],
    ['a list', 'permissions: [contents]\n', '', 'w.yml:2:14: `permissions` must be `read-all`'],
    [
      'an unknown scope',
      'permissions:\n  content: read\n',
      '',
      'w.yml:3:3: unknown permission scope `content` in `permissions`',
    ],
    [
      'an unknown level',
      '',
      '    permissions:\n      contents: admin\n',
      'w.yml:6:17: `jobs.a.permissions.contents` must be read, write or none, not the string `admin`',
    ],
    [
      'id-token: read (GitHub allows write or none)',
      'permissions: { id-token: read }\n',
      '',
      'w.yml:2:26: `permissions.id-token` must be write or none',
    ],
    [
      'models: write (GitHub allows read or none)',
      'permissions: { models: write }\n',
      '',
      'w.yml:2:24: `permissions.models` must be read or none',
    ],
    [
      'an expression',
      'permissions: { contents: "${{ github.ref }}" }\n',
      '',
      '`permissions.contents` must be read, write or none',
    ],
  ])('%s is an error with its position', (_label, top, jobExtra, message) => {
    expect(firstError(wf(top, jobExtra))).toContain(message);
  });
});

describe('defaults.run', () => {
  const steps =
    '      - run: a\n' + '      - run: b\n        shell: sh\n' + '      - run: c\n        working-directory: own\n';
  it.each([
    ['none', '', '', [{}, { shell: 'sh' }, { wd: 'own' }]],
    [
      'the workflow',
      'defaults: { run: { shell: python, working-directory: wf } }\n',
      '',
      [
        { shell: 'python', wd: 'wf' },
        { shell: 'sh', wd: 'wf' },
        { shell: 'python', wd: 'own' },
      ],
    ],
    [
      'the job over the workflow',
      'defaults: { run: { shell: python, working-directory: wf } }\n',
      '    defaults:\n      run:\n        working-directory: ${{ matrix.dir || github.ref_name }}\n',
      [
        { shell: 'python', wd: '${{ matrix.dir || github.ref_name }}' },
        { shell: 'sh', wd: '${{ matrix.dir || github.ref_name }}' },
        { shell: 'python', wd: 'own' },
      ],
    ],
    [
      'a job shell template',
      '',
      "    defaults: { run: { shell: 'bash -x {0}' } }\n",
      [{ shell: 'bash -x {0}' }, { shell: 'sh' }, { shell: 'bash -x {0}', wd: 'own' }],
    ],
  ])('%s: a step keeps its own, else the job’s, else the workflow’s', (_label, top, jobExtra, expected) => {
    const [order] = orders(wf(top, jobExtra, steps));
    const got = (order?.steps as RunStepSpec[] | undefined)?.map((s) => ({
      ...(s.shell !== undefined ? { shell: s.shell } : {}),
      ...(s.workingDirectory !== undefined ? { wd: s.workingDirectory } : {}),
    }));
    expect(got).toEqual(expected);
  });

  it.each([
    ['an unknown shell', 'defaults: { run: { shell: zsh } }\n', '', 'w.yml:2:27: unknown shell `zsh`'],
    ['an unknown job shell', '', '    defaults: { run: { shell: fish } }\n', 'w.yml:5:31: unknown shell `fish`'],
    [
      'an expression shell',
      "defaults: { run: { shell: '${{ matrix.sh }}' } }\n",
      '',
      '`shell` cannot use `${{ }}` expressions',
    ],
    [
      'an expression in the workflow’s working-directory (GitHub allows none there)',
      "defaults: { run: { working-directory: '${{ github.ref }}' } }\n",
      '',
      '`defaults.run.working-directory` cannot use `${{ }}` expressions',
    ],
    [
      'an unknown key under run',
      'defaults: { run: { sh: bash } }\n',
      '',
      'w.yml:2:20: unknown key `sh` in `defaults.run`; allowed keys: shell, working-directory',
    ],
    [
      'an unknown key under defaults',
      '',
      '    defaults: { step: {} }\n',
      'w.yml:5:17: unknown key `step` in `jobs.a.defaults`; allowed keys: run',
    ],
    ['defaults as a string', 'defaults: bash\n', '', 'w.yml:2:11: `defaults` must be a mapping with `run:`'],
  ])('%s is an error with its position', (_label, top, jobExtra, message) => {
    expect(firstError(wf(top, jobExtra))).toContain(message);
  });
});

describe('environment', () => {
  it.each([
    ['a name', '    environment: production\n', { name: 'production' }],
    [
      'name and url',
      '    environment: { name: staging, url: "https://staging.example.com" }\n',
      { name: 'staging', url: 'https://staging.example.com' },
    ],
    [
      'a name from github, evaluated at plan time',
      "    environment: ${{ github.ref_name == 'main' && 'production' || 'review' }}\n",
      { name: 'production' },
    ],
    [
      'a url from steps, kept for later',
      '    environment:\n      name: preview-${{ github.ref_name }}\n      url: ${{ steps.deploy.outputs.url }}\n',
      { name: 'preview-main', url: '${{ steps.deploy.outputs.url }}' },
    ],
  ])('%s → stored on the order', (_label, jobExtra, expected) => {
    const [order] = orders(wf('', jobExtra));
    expect(order?.environment).toEqual(expected);
  });

  it('is absent when the job names none', () => {
    expect(orders(wf('', ''))[0]).not.toHaveProperty('environment');
  });

  it.each([
    [
      'a list',
      '    environment: [prod]\n',
      'w.yml:5:18: `jobs.a.environment` must be an environment name or a mapping',
    ],
    ['no name', '    environment: { url: "https://x" }\n', 'w.yml:5:18: `jobs.a.environment` needs a `name`'],
    ['an empty name', "    environment: ''\n", 'w.yml:5:18: `jobs.a.environment` must not be empty'],
    [
      'an unknown key',
      '    environment: { name: p, reviewers: [a] }\n',
      'w.yml:5:29: unknown key `reviewers` in `jobs.a.environment`; allowed keys: name, url, deployment',
    ],
    ['a bad expression', "    environment: '${{ github. }}'\n", 'w.yml:5:18: `jobs.a.environment`'],
  ])('%s is an error with its position', (_label, jobExtra, message) => {
    expect(firstError(wf('', jobExtra))).toContain(message);
  });
});

describe('job concurrency, as planned', () => {
  it.each([
    ['a group name', '    concurrency: deploy\n', { group: 'deploy', cancelInProgress: false }],
    [
      'a mapping, the group from github and matrix at plan time',
      '    concurrency: { group: "deploy-${{ github.ref_name }}", cancel-in-progress: true }\n',
      { group: 'deploy-main', cancelInProgress: true },
    ],
    [
      'a group reading needs, kept for later',
      '    concurrency: ${{ needs.x.outputs.g }}\n',
      { group: '${{ needs.x.outputs.g }}', cancelInProgress: false },
    ],
    [
      // GitHub: "specify cancel-in-progress as an expression with any of the allowed expression contexts"; evaluated
      // with the group when the order is ready (the engine).
      'cancel-in-progress as an expression, kept for the dispatch',
      '    concurrency: { group: g, cancel-in-progress: "${{ github.ref != \'refs/heads/main\' }}" }\n',
      { group: 'g', cancelInProgress: "${{ github.ref != 'refs/heads/main' }}" },
    ],
  ])('%s → stored on the order', (_label, jobExtra, expected) => {
    const [order] = orders(wf('', jobExtra));
    expect(order?.concurrency).toEqual(expected);
  });

  it.each([
    ['no group', '    concurrency: { cancel-in-progress: true }\n', 'w.yml:5:18: `jobs.a.concurrency` needs a `group`'],
    [
      'cancel-in-progress as a string',
      '    concurrency: { group: g, cancel-in-progress: yes }\n',
      'w.yml:5:50: `jobs.a.concurrency.cancel-in-progress` must be true or false',
    ],
    [
      'cancel-in-progress as a bad expression',
      '    concurrency: { group: g, cancel-in-progress: "${{ github. }}" }\n',
      'w.yml:5:50: `jobs.a.concurrency.cancel-in-progress`',
    ],
    ['a list', '    concurrency: [g]\n', 'w.yml:5:18: `jobs.a.concurrency` must be a group name or a mapping'],
    [
      'queue',
      '    concurrency: { group: g, queue: max }\n',
      'w.yml:5:30: `queue` is not supported in `jobs.a.concurrency`',
    ],
  ])('%s is an error with its position', (_label, jobExtra, message) => {
    expect(firstError(wf('', jobExtra))).toContain(message);
  });
});

/** A workflow whose job `a` runs on `runsOn` (a YAML flow value). */
const runsOn = (value: string): string => `on: push\njobs:\n  a:\n    runs-on: ${value}\n    steps: [{run: make}]\n`;

describe('runs-on as {group, labels}', () => {
  it.each([
    ['group only', '{ group: big-boxes }', 'big-boxes'],
    ['labels as a string', '{ labels: gpu }', 'gpu'],
    ['group and a label list', '{ group: big-boxes, labels: [linux, gpu] }', 'big-boxes, linux, gpu'],
    ['the group repeated in the labels', '{ group: gpu, labels: [gpu, linux] }', 'gpu, linux'],
    ['a group from the matrix', '{ group: "${{ github.ref_name }}-boxes", labels: [linux] }', 'main-boxes, linux'],
  ])('%s → one route must have every label, the group among them', (_label, value, expected) => {
    const [order] = orders(runsOn(value));
    expect(order?.runsOn).toBe(expected);
  });

  it.each([
    ['neither key', '{}', 'w.yml:4:14: `jobs.a.runs-on` needs a `group`, `labels` or both'],
    [
      'an unknown key',
      '{ group: g, label: x }',
      'w.yml:4:26: unknown key `label` in `jobs.a.runs-on`; allowed keys: group, labels',
    ],
    ['an empty label list', '{ group: g, labels: [] }', 'w.yml:4:34: `jobs.a.runs-on.labels` is an empty list'],
    [
      'a label with a comma',
      '{ labels: ["a,b"] }',
      'w.yml:4:25: `jobs.a.runs-on.labels`: a runner label cannot contain a comma',
    ],
    ['a mapping as a label', '{ labels: [{x: 1}] }', 'w.yml:4:25: `jobs.a.runs-on.labels` must be a string'],
  ])('%s is an error with its position', (_label, value, message) => {
    expect(firstError(runsOn(value))).toContain(message);
  });
});

describe('timeout-minutes and continue-on-error as expressions', () => {
  const matrixJob = (extra: string, steps = '      - run: make\n'): string =>
    `on: push\njobs:\n  a:\n    runs-on: local\n    strategy: { matrix: { t: [5, 30] } }\n${extra}    steps:\n${steps}`;

  it('evaluates a job timeout per matrix cell when the run is planned', () => {
    const planned = orders(matrixJob('    timeout-minutes: ${{ matrix.t }}\n'));
    expect(planned.map((o) => o.timeoutMinutes)).toEqual([5, 30]);
  });

  it('keeps step expressions for the agent, which evaluates them with the step contexts', () => {
    const [order] = orders(
      matrixJob(
        '',
        "      - run: make\n        timeout-minutes: ${{ matrix.t }}\n        continue-on-error: ${{ github.ref_name != 'main' }}\n",
      ),
    );
    expect(order?.steps[0]).toMatchObject({
      timeoutMinutes: '${{ matrix.t }}',
      continueOnError: "${{ github.ref_name != 'main' }}",
    });
  });

  it.each([
    ['a string', "${{ 'soon' }}", "timeout-minutes '${{ 'soon' }}' must evaluate to a number of minutes, got \"soon\""],
    [
      'zero',
      "${{ fromJSON('0') }}",
      "timeout-minutes '${{ fromJSON('0') }}' must be more than 0 and at most 7200 minutes, got 0",
    ],
    [
      'past five days',
      "${{ fromJSON('99999') }}",
      "timeout-minutes '${{ fromJSON('99999') }}' must be more than 0 and at most 7200 minutes, got 99999",
    ],
  ])('a job timeout that evaluates to %s fails the plan at the job', (_label, expr, message) => {
    const result = planRun({ workflow: valid(matrixJob(`    timeout-minutes: ${expr}\n`)), github });
    expect(result.ok).toBe(false);
    const first = result.ok ? undefined : result.diagnostics[0];
    expect(first && formatDiagnostic(first)).toContain(`w.yml:3:3: Job 'a' (matrix cell 1): ${message}`);
  });
});

describe('evaluateMinutes and evaluateFlag', () => {
  const ctx = { github: { ref_name: 'main' }, matrix: { t: 5, s: '15', no: 'x' } };
  it.each([
    [7, { ok: true, value: 7 }],
    ['${{ matrix.t }}', { ok: true, value: 5 }],
    ['${{ matrix.s }}', { ok: true, value: 15 }],
    ['${{ matrix.no }}', { ok: false, error: `'\${{ matrix.no }}' must evaluate to a number of minutes, got "x"` }],
    [
      '${{ matrix.none }}',
      { ok: false, error: `'\${{ matrix.none }}' must evaluate to a number of minutes, got null` },
    ],
    ['${{ true }}', { ok: false, error: `'\${{ true }}' must evaluate to a number of minutes, got true` }],
  ])('minutes %s', (value, expected) => {
    expect(evaluateMinutes(value, ctx)).toEqual(expected);
  });

  it.each([
    [false, { ok: true, value: false }],
    ["${{ github.ref_name == 'main' }}", { ok: true, value: true }],
    ['${{ matrix.t }}', { ok: false, error: `'\${{ matrix.t }}' must evaluate to true or false, got 5` }],
    ["${{ 'true' }}", { ok: false, error: `'\${{ 'true' }}' must evaluate to true or false, got "true"` }],
  ])('flag %s', (value, expected) => {
    expect(evaluateFlag(value, ctx)).toEqual(expected);
  });
});
