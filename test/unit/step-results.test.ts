import { describe, expect, it } from 'vitest';
import { withStepResult } from '../../src/core/step-results.ts';
import type { StepResult } from '../../src/core/types.ts';

const step = (index: number, outcome: StepResult['outcome'] = 'success'): StepResult => ({
  index,
  name: `s${String(index)}`,
  outcome,
  conclusion: outcome,
  durationMs: 1,
});

describe('withStepResult', () => {
  it.each([
    { before: [], add: step(0), after: ['s0:success'] },
    { before: [step(0)], add: step(1, 'failure'), after: ['s0:success', 's1:failure'] },
    { before: [step(2)], add: step(1), after: ['s1:success', 's2:success'] },
    { before: [step(0), step(1)], add: step(1, 'failure'), after: ['s0:success', 's1:failure'] },
  ])('$before.length known + step $add.index → $after', ({ before, add, after }) => {
    expect(withStepResult(before, add).map((s) => `${s.name}:${s.outcome}`)).toEqual(after);
  });

  it('does not change the list it was given', () => {
    const before = [step(1)];
    withStepResult(before, step(0));
    expect(before.map((s) => s.index)).toEqual([1]);
  });
});
