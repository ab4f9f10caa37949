import { describe, expect, it } from 'vitest';
import { validateNeedsGraph } from '../../src/core/workflow/needs-graph.ts';

const jobs = (spec: Record<string, string[]>) => Object.entries(spec).map(([id, needs]) => ({ id, needs }));
const summary = (spec: Record<string, string[]>) => {
  const { problems, order } = validateNeedsGraph(jobs(spec));
  return {
    problems: problems.map((p) => `${p.kind} ${p.job}→${p.need}${p.cycle ? ` [${p.cycle.join(' ')}]` : ''}`),
    order,
  };
};

describe('validateNeedsGraph: the cases between the plain ones', () => {
  it.each<[string, Record<string, string[]>, string[], string[] | undefined]>([
    ['no jobs', {}, [], []],
    ['a need listed twice is one edge', { a: [], b: ['a', 'a'] }, [], ['a', 'b']],
    [
      'a job downstream of a cycle is not a cycle of its own',
      { x: ['a'], a: ['b'], b: ['a'] },
      ['cycle a→b [a b a]'],
      undefined,
    ],
    ['a job needing itself and another', { a: [], b: ['a', 'b'] }, ['cycle b→b [b b]'], undefined],
    [
      'two cycles through one job: the first is named, the other shows once it is fixed',
      { a: ['b', 'c'], b: ['a'], c: ['a'] },
      ['cycle a→b [a b a]'],
      undefined,
    ],
    [
      'an unknown need and a cycle in one graph',
      { a: ['ghost'], b: ['c'], c: ['b'] },
      ['unknown-need a→ghost', 'cycle b→c [b c b]'],
      undefined,
    ],
    [
      'a cycle entered from its last job in file order',
      { c: ['a'], b: ['c'], a: ['b'] },
      ['cycle c→a [c a b c]'],
      undefined,
    ],
  ])('%s', (_label, spec, problems, order) => {
    expect(summary(spec)).toEqual(order ? { problems, order } : { problems, order: undefined });
  });

  it('names the jobs there are when a need is unknown', () => {
    const [problem] = validateNeedsGraph([{ id: 'a', needs: ['a-typo'] }]).problems;
    expect(problem?.message).toBe('job `a` needs `a-typo`, which is not a job in this workflow (jobs: `a`)');
  });
});
