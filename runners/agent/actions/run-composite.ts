/**
 * A composite action (docs.github.com › "Metadata syntax" › `runs` for composite actions): its steps run through
 * the same per-step machinery as the job's (`if`, `env`, `continue-on-error`, `working-directory`, timeouts,
 * nested `uses`), in a scope of their own — their own `steps` context and status, the `inputs` context,
 * `github.action_path` / `$GITHUB_ACTION_PATH` — then the posts of the actions they ran, and the outputs from the
 * `value:` expressions over that scope.
 */
import { parseActionRef } from '../../../src/core/workflow/action-ref.ts';
import { interpolate } from '../../../src/core/workflow/expressions.ts';
import type { StepResult, StepSpec, UsesStepSpec } from '../../../src/core/types.ts';
import type { StepDeps, UsesRun } from '../step-deps.ts';
import { joinReported, type StepsState } from '../steps-state.ts';
import type { EvaluatedAction } from './action-inputs.ts';
import type { CompositeRuns, CompositeStep } from './action-manifest.ts';
import type { PostStep, ResolvedAction } from './action-session.ts';
import { runPostSteps } from './run-action-stages.ts';

export async function runComposite(
  step: UsesStepSpec,
  action: ResolvedAction,
  runs: CompositeRuns,
  evaluated: EvaluatedAction,
  state: StepsState,
  deps: StepDeps,
): Promise<UsesRun> {
  const specs = toStepSpecs(runs.steps, action.manifest.file);
  if (!specs.ok) {
    deps.log.meta(`##[error] ${specs.error}`);
    return { outcome: 'failure', outputs: {} };
  }
  const scope = state.child({
    inputs: evaluated.inputs,
    actionPath: action.dir,
    env: evaluated.env,
    ...(action.repository === undefined ? {} : { repository: action.repository }),
    ...(action.ref === undefined ? {} : { ref: action.ref }),
  });
  const posts: PostStep[] = [];
  const inner: StepDeps = { ...deps, depth: deps.depth + 1, posts };
  for (const spec of specs.steps) await deps.runOneStep(spec, scope, inner);
  // Posts of the actions used inside run when the composite ends (actions/runner's embedded post steps).
  await runPostSteps(posts, scope, inner);

  const outputs: Record<string, string> = {};
  const ctx = scope.ctx(scope.envCtx());
  for (const [name, spec] of Object.entries(action.manifest.outputs)) {
    const value = interpolate(spec.value ?? '', ctx);
    if (value.ok) outputs[name] = value.value;
    else deps.log.meta(`##[warning] ${step.uses}: outputs.${name}: ${value.error}`);
  }
  const outcome = deps.stop.kind !== undefined ? 'cancelled' : scope.jobStatus;
  return { outcome, outputs, ...reportedOf(scope.results) };
}

/**
 * The composite's steps' annotations and summaries on the `uses:` step's result (its steps have no results of their
 * own outside the action, as on GitHub, where their annotations and summaries show for the job).
 */
function reportedOf(results: readonly StepResult[]): Pick<UsesRun, 'annotations' | 'summary'> {
  return joinReported(results);
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
