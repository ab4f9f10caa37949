/**
 * Workflow syntax GitHub accepts that real repositories use (test/fixtures/real-workflows): each rule with the reason
 * GitHub accepts it, and the limits it keeps. Found by running the real-workflow corpus through `validate`.
 */
import { describe, expect, it } from 'vitest';
import { planWorkflows } from '../../src/core/plan-workflows.ts';
import { isUsesStep, type WorkflowRef } from '../../src/core/types.ts';
import { formatActionRef, parseActionRef } from '../../src/core/workflow/action-ref.ts';
import { formatDiagnostic, formatNotice, parseWorkflow } from '../../src/core/workflow/parse-workflow.ts';
import { formatWorkflowRef, parseWorkflowRef } from '../../src/core/workflow/workflow-ref.ts';
import { readCallees, type DEFERRED } from '../../src/intake/read-callees.ts';

function parsed(text: string): { errors: string[]; notices: string[] } {
  const result = parseWorkflow('w.yml', text);
  return { errors: result.diagnostics.map(formatDiagnostic), notices: result.notices.map(formatNotice) };
}

describe('run-name', () => {
  // GitHub: "The name for workflow runs generated from the workflow", a string that may use expressions over the
  // github and inputs contexts (workflow syntax, `run-name`); actions/runner's schema lists github, inputs, vars.
  it.each([
    ['a plain string', 'run-name: Deploy'],
    ['expressions over github and inputs', 'run-name: "Deploy ${{ inputs.tag_name }} by @${{ github.actor }}"'],
    ['the vars context', "run-name: ${{ vars.RELEASE_TITLE || 'Release' }}"],
  ])('is accepted with %s, and noted as ignored', (_label, line) => {
    const { errors, notices } = parsed(`name: d\n${line}\non: push\njobs: {a: {runs-on: x, steps: [{run: y}]}}\n`);
    expect(errors).toEqual([]);
    expect(notices).toEqual([
      'w.yml:2:1: ignored: `run-name` is accepted but ignored: spotcheck names runs after the workflow and the event',
    ]);
  });

  it.each([
    [
      'a context GitHub does not give it',
      'run-name: ${{ matrix.os }}',
      '`run-name` can read only the github, inputs and vars contexts, not `matrix`',
    ],
    ['bad expression syntax', 'run-name: ${{ github. }}', '`run-name`: '],
    ['an empty name', "run-name: ''", '`run-name` must not be empty'],
    ['a mapping', 'run-name: {a: b}', '`run-name` must be a string'],
  ])('is refused with %s', (_label, line, says) => {
    const { errors } = parsed(`${line}\non: push\njobs: {a: {runs-on: x, steps: [{run: y}]}}\n`);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain(says);
  });
});

describe('environment.deployment', () => {
  // GitHub, "Using environments without deployments": `deployment: false` opts a job out of the deployment object
  // GitHub creates for an environment; true is the default, and an expression may decide it.
  const withEnvironment = (environment: string): string =>
    `on: push\njobs:\n  a:\n    runs-on: x\n    environment:\n${environment}    steps: [{run: y}]\n`;

  it.each([
    ['false', '      name: staging\n      deployment: false\n'],
    ['true', '      name: release-gate\n      deployment: true\n'],
    [
      'an expression',
      "      name: staging\n      deployment: ${{ github.ref_name == 'main' }}\n      url: https://x\n",
    ],
  ])('is accepted as %s, and noted as ignored', (_label, environment) => {
    const { errors, notices } = parsed(withEnvironment(environment));
    expect(errors).toEqual([]);
    expect(notices).toEqual([
      'w.yml:7:7: ignored: `jobs.a.environment.deployment` is accepted but ignored: spotcheck records no deployments',
    ]);
  });

  it('keeps the environment’s name and url', () => {
    const { workflow } = parseWorkflow(
      'w.yml',
      withEnvironment('      name: staging\n      url: https://x\n      deployment: false\n'),
    );
    expect(workflow?.jobs[0]?.environment).toEqual({ name: 'staging', url: 'https://x' });
  });

  it.each([
    [
      'a string',
      '      name: staging\n      deployment: no-thanks\n',
      '`jobs.a.environment.deployment` must be true, false or a `${{ }}` expression',
    ],
    [
      'an unknown key beside it',
      '      name: staging\n      deploy: false\n',
      'unknown key `deploy` in `jobs.a.environment`; allowed keys: name, url, deployment',
    ],
  ])('is refused with %s', (_label, environment, says) => {
    const { errors } = parsed(withEnvironment(environment));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain(says);
  });
});

describe('self-repository references: uses: $/path', () => {
  // GitHub (changelog 2026-07-30, "Reference same-repository actions with self-repository syntax"; actions/runner
  // `SelfRepositoryPrefix`): a `uses:` starting with `$/` is the workflow's own repository at the commit running, no
  // checkout needed, wherever `./` works: steps and reusable workflow calls.
  it.each([
    ['$/.github/actions/issues-helper', { kind: 'local', path: '.github/actions/issues-helper', self: true }],
    ['$/', { kind: 'local', path: '.', self: true }],
    ['$/./tools//lint', { kind: 'local', path: 'tools/lint', self: true }],
  ])('a step action %j is the repository’s own, written back as it was', (uses, ref) => {
    const parsed = parseActionRef(uses);
    expect(parsed).toEqual({ ok: true, ref });
    if (parsed.ok) expect(formatActionRef(parsed.ref)).toBe(uses === '$/./tools//lint' ? '$/tools/lint' : uses);
  });

  it.each([
    ['$/.github/actions/x@v1', 'is read at the commit running; drop the `@`'],
    ['$/../other', 'must stay inside the repository'],
    ['$//etc/x', 'drop the leading `/`'],
  ])('a step action %j is refused', (uses, says) => {
    const parsed = parseActionRef(uses);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error).toContain(says);
  });

  it('a reusable workflow call `$/path` is the caller’s repository at its commit, as `./path` is', () => {
    expect(parseWorkflowRef('$/.github/workflows/check-fmt.yml')).toEqual({
      ok: true,
      ref: { kind: 'local', path: '.github/workflows/check-fmt.yml' },
    });
    const ref = parseWorkflowRef('$/.github/workflows/check-fmt.yml');
    if (ref.ok) expect(formatWorkflowRef(ref.ref)).toBe('./.github/workflows/check-fmt.yml');
    expect(parseWorkflowRef('$/.github/workflows/x.yml@main')).toMatchObject({ ok: false });
    expect(parseWorkflowRef('$/../x.yml')).toMatchObject({ ok: false });
  });

  const CALLEE = [
    'on: workflow_call',
    'jobs:',
    '  lint:',
    '    runs-on: linux',
    '    steps:',
    '      - uses: $/.github/actions/setup',
    '      - uses: ./.github/actions/in-workspace',
  ].join('\n');

  async function plan(caller: string, files: Record<string, string>, remote: Record<string, string>) {
    const sources = [{ path: '.github/workflows/ci.yml', text: caller }];
    const read = (ref: WorkflowRef): Promise<string | undefined | typeof DEFERRED> =>
      Promise.resolve(
        ref.kind === 'local' ? files[ref.path] : remote[`${ref.owner}/${ref.repo}/${ref.path}@${ref.ref}`],
      );
    const planned = planWorkflows(
      sources,
      { kind: 'push', ref: 'refs/heads/main', deleted: false, changedFiles: null },
      {
        event: 'push',
        ref: 'refs/heads/main',
        sha: 'a'.repeat(40),
        repository: 'acme/app',
        actor: 'mona',
        serverUrl: 'https://github.com',
      },
      undefined,
      await readCallees(sources, read),
    );
    expect(planned.diagnostics.map(formatDiagnostic)).toEqual([]);
    return (planned.decisions[0]?.plan?.orders ?? []).map((o) => o.steps.filter(isUsesStep).map((s) => s.action));
  }

  it('a call `$/path` plans the callee from the caller’s repository, its `$/` actions staying the workspace’s', async () => {
    const actions = await plan(
      'on: push\njobs:\n  check:\n    uses: $/.github/workflows/lint.yml\n',
      { '.github/workflows/lint.yml': CALLEE },
      {},
    );
    expect(actions).toEqual([
      [
        { kind: 'local', path: '.github/actions/setup', self: true },
        { kind: 'local', path: '.github/actions/in-workspace' },
      ],
    ]);
  });

  it('in a workflow read from another repository, `$/` actions are that repository’s at its ref; `./` stays the workspace', async () => {
    const actions = await plan(
      'on: push\njobs:\n  check:\n    uses: octo/tools/.github/workflows/lint.yml@v2\n',
      {},
      { 'octo/tools/.github/workflows/lint.yml@v2': CALLEE },
    );
    expect(actions).toEqual([
      [
        { kind: 'remote', owner: 'octo', repo: 'tools', path: '.github/actions/setup', ref: 'v2' },
        { kind: 'local', path: '.github/actions/in-workspace' },
      ],
    ]);
  });
});
