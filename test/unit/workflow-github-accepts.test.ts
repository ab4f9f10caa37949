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
