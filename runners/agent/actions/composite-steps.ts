/**
 * A composite action's steps and scope, shared by its pre stage (run-action-stages.ts) and its run
 * (run-composite.ts): the manifest's steps as StepSpecs, made once per use, and the scope they run in.
 */
import { parseActionRef } from '../../../src/core/workflow/action-ref.ts';
import type { StepSpec, UsesStepSpec } from '../../../src/core/types.ts';
import type { StepDeps } from '../step-deps.ts';
import type { StepsState } from '../steps-state.ts';
import type { EvaluatedAction } from './action-inputs.ts';
import type { CompositeRuns, CompositeStep } from './action-manifest.ts';
import type { ResolvedAction } from './action-session.ts';

/** actions/runner `Constants.CompositeActionsMaxDepth`: the job's actions are depth 0, their steps' actions 1, … */
export const MAX_ACTION_DEPTH = 9;

/** The scope of a composite's steps: the using step's evaluated inputs and env, the action's folder and origin. */
export function compositeScope(action: ResolvedAction, evaluated: EvaluatedAction, state: StepsState): StepsState {
  return state.child({
    inputs: evaluated.inputs,
    actionPath: action.dir,
    env: evaluated.env,
    ...(action.repository === undefined ? {} : { repository: action.repository }),
    ...(action.ref === undefined ? {} : { ref: action.ref }),
  });
}

/**
 * The steps of the composite `step` uses as StepSpecs, the same objects for the whole order (a nested action's pre
 * and main share their state through the step they belong to, `ActionSession.stateOf`).
 */
export function compositeSteps(
  step: UsesStepSpec,
  action: ResolvedAction,
  runs: CompositeRuns,
  deps: Pick<StepDeps, 'actions'>,
): { ok: true; steps: StepSpec[] } | { ok: false; error: string } {
  return deps.actions.compositeSteps(step, () => toStepSpecs(runs.steps, action.manifest.file));
}

/** The manifest's steps as StepSpecs (a nested `uses:` parsed as the workflow parser parses one). */
function toStepSpecs(
  steps: readonly CompositeStep[],
  file: string,
): { ok: true; steps: StepSpec[] } | { ok: false; error: string } {
  const specs: StepSpec[] = [];
  for (const [index, step] of steps.entries()) {
    const base = {
      index,
      env: step.env,
      continueOnError: step.continueOnError,
      pos: { line: 0, col: 0 },
      ...(step.id === undefined ? {} : { id: step.id }),
      ...(step.name === undefined ? {} : { name: step.name }),
      ...(step.if === undefined ? {} : { if: step.if }),
      ...(step.timeoutMinutes === undefined ? {} : { timeoutMinutes: step.timeoutMinutes }),
    };
    if (step.uses !== undefined) {
      const ref = parseActionRef(step.uses);
      if (!ref.ok) return { ok: false, error: `${file}: runs.steps[${index}].uses: ${ref.error}` };
      specs.push({ ...base, uses: step.uses, action: ref.ref, with: step.with });
      continue;
    }
    specs.push({
      ...base,
      run: step.run ?? '',
      ...(step.shell === undefined ? {} : { shell: step.shell }),
      ...(step.workingDirectory === undefined ? {} : { workingDirectory: step.workingDirectory }),
    });
  }
  return { ok: true, steps: specs };
}
