import { interpolate, type ExpressionContext } from '../../src/core/workflow/expressions.ts';
import { isUsesStep, type StepSpec } from '../../src/core/types.ts';

/** A step's display name: its `name:` evaluated, else GitHub's default. */
export function stepName(step: StepSpec, ctx: ExpressionContext): string {
  if (step.name !== undefined) {
    const name = interpolate(step.name, ctx);
    return name.ok ? name.value : step.name;
  }
  // GitHub's default display names: `Run <action>` for a `uses:` step, `Run <first line>` for a `run:` step.
  if (isUsesStep(step)) return `Run ${step.uses}`;
  const firstLine = step.run.split('\n').find((line) => line.trim() !== '') ?? '';
  return `Run ${firstLine.trim()}`;
}
