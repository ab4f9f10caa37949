/**
 * Found while hunting the costliest 512 KiB workflow file: a matrix of 4,096 combinations, cut down by `exclude`
 * behind 240 filler entries that alias strings of ~100 KB, passed every parser bound and then took minutes of CPU to
 * plan, because each combination was compared with each filler by the expression language's `==`, which upper-cases
 * both strings every time. In `serve` the plan worker's budget stopped it, but `spotcheck plan`/`validate`/`run`
 * plan in-process. Expansion now folds each string once (src/core/matrix-expansion.ts `memoEquals`). Replayed: the
 * file plans within the test's timeout (a hang guard; before the fix it had not finished after 60 s of CPU), to the
 * orders GitHub's rules give. Nothing here is timed.
 */
import { describe, expect, it } from 'vitest';
import { planWorkflows } from '../../src/core/plan-workflows.ts';
import { costlyWorkflow } from '../helpers/costly-workflow.ts';

describe('a matrix whose filters compare long strings thousands of times', () => {
  it('plans, to the combinations exclude leaves', { timeout: 120_000 }, () => {
    const text = costlyWorkflow();
    expect(text.length).toBeGreaterThan(500_000);
    const { decisions, diagnostics } = planWorkflows(
      [{ path: '.spotcheck/workflows/costly.yml', text }],
      { kind: 'push', ref: 'refs/heads/main', deleted: false, changedFiles: null },
      {
        event: 'push',
        ref: 'refs/heads/main',
        sha: 'a'.repeat(40),
        repository: 'acme/widgets',
        actor: 'someone',
        serverUrl: 'https://github.com',
      },
    );
    expect(diagnostics).toEqual([]);
    expect(decisions).toHaveLength(1);
    expect(decisions[0]?.plan?.orders).toHaveLength(128);
  });
});
