import type { StepResult } from './types.ts';

/**
 * The step results of a running order after one more live `step` report: a result replaces the one with the same
 * index (a re-sent report changes nothing), and the list stays in step order whatever order the reports arrived in.
 * The `finished` report's full list replaces this one when the order ends.
 */
export function withStepResult(steps: readonly StepResult[], result: StepResult): StepResult[] {
  return [...steps.filter((s) => s.index !== result.index), result].sort((a, b) => a.index - b.index);
}
