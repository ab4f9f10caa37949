import { describe, expect, it } from 'vitest';
import { describeUnknownJobs, selectJobs } from '../../src/core/select-jobs.ts';
import { plan, spec } from '../helpers/plans.ts';

// build ← test (2 matrix cells) ← deploy; lint stands alone.
const ci = plan([
  spec('build'),
  spec('test.1', { needs: ['build'], needsOrders: ['build'] }),
  spec('test.2', { needs: ['build'], needsOrders: ['build'] }),
  spec('deploy', { needs: ['test'], needsOrders: ['test.1', 'test.2'] }),
  spec('lint'),
]);
const docs = plan([spec('docs')], { file: '.spotcheck/workflows/docs.yml', workflowName: 'docs' });

function ids(names: string[]): string[][] {
  const result = selectJobs([ci, docs], names);
  if (!result.ok) throw new Error('expected a selection');
  return result.plans.map((p) => p.orders.map((o) => o.id));
}

describe('selectJobs (spotcheck run --job)', () => {
  it.each([
    { names: ['build'], expected: [['build'], []] },
    { names: ['test'], expected: [['build', 'test.1', 'test.2'], []] },
    { names: ['deploy'], expected: [['build', 'test.1', 'test.2', 'deploy'], []] },
    { names: ['lint', 'docs'], expected: [['lint'], ['docs']] },
    { names: ['deploy', 'build', 'deploy'], expected: [['build', 'test.1', 'test.2', 'deploy'], []] },
  ])('$names keeps the jobs and what they need, transitively', ({ names, expected }) => {
    expect(ids(names)).toEqual(expected);
  });

  it('refuses an unknown name, listing the jobs per workflow', () => {
    const result = selectJobs([ci, docs], ['tests', 'build', 'nope']);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.unknown).toEqual(['tests', 'nope']);
    expect(describeUnknownJobs(result)).toBe(
      'unknown jobs "tests", "nope"; the jobs this event runs are .spotcheck/workflows/ci.yml: build, test, deploy, lint; .spotcheck/workflows/docs.yml: docs',
    );
  });
});
