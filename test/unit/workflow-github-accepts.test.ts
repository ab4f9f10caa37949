/**
 * Workflow syntax GitHub accepts that real repositories use (test/fixtures/real-workflows): each rule with the reason
 * GitHub accepts it, and the limits it keeps. Found by running the real-workflow corpus through `validate`.
 */
import { describe, expect, it } from 'vitest';
import { formatDiagnostic, formatNotice, parseWorkflow } from '../../src/core/workflow/parse-workflow.ts';

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
