/**
 * A composite action (docs.github.com › "Metadata syntax" › `runs` for composite actions): its steps run through
 * the same per-step machinery as the job's (`if`, `env`, `continue-on-error`, `working-directory`, timeouts,
 * nested `uses`), in a scope of their own — their own `steps` context and status, the `inputs` context,
 * `github.action_path` / `$GITHUB_ACTION_PATH` — and the outputs come from the `value:` expressions over that
 * scope. The posts of the actions its steps ran are the composite's own post, run with the job's posts.
 */
import { interpolate } from '../../../src/core/workflow/expressions.ts';
import type { StepResult, UsesStepSpec } from '../../../src/core/types.ts';
import type { StepDeps, UsesRun } from '../step-deps.ts';
import type { StepRun } from '../step-process.ts';
import { joinReported, type Reported, type StepsState } from '../steps-state.ts';
import type { EvaluatedAction } from './action-inputs.ts';
import type { CompositeRuns } from './action-manifest.ts';
import type { PostStep, ResolvedAction } from './action-session.ts';
import { compositeScope, compositeSteps } from './composite-steps.ts';
import { runPostSteps } from './run-action-stages.ts';

export async function runComposite(
  step: UsesStepSpec,
  action: ResolvedAction,
  runs: CompositeRuns,
  evaluated: EvaluatedAction,
  state: StepsState,
  deps: StepDeps,
): Promise<UsesRun> {
  const specs = compositeSteps(step, action, runs, deps);
  if (!specs.ok) {
    deps.log.meta(`##[error] ${specs.error}`);
    return { outcome: 'failure', outputs: {} };
  }
  const scope = compositeScope(action, evaluated, state);
  const posts: PostStep[] = [];
  const inner: StepDeps = { ...deps, depth: deps.depth + 1, posts };
  for (const spec of specs.steps) await deps.runOneStep(spec, scope, inner);
  if (posts.length > 0) deps.posts.push(compositePost(step, posts, scope, inner, state));

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

/**
 * The posts of the actions a composite's steps ran, as the composite's own post (`Post <step name>`, condition
 * `always()`), registered with the posts of the scope that used the composite, so they run after the job's last
 * step with the job's other posts, last registered first — not when the composite ends. actions/runner: an embedded
 * action's post is only noted on the job (`ExecutionContext.RegisterPostJobStep`, `EmbeddedStepsWithPostRegistered`,
 * src/Runner.Worker/ExecutionContext.cs), and the composite's post stage runs those that were noted
 * (`CompositeActionHandler.RunAsync(ActionRunStage.Post)`, src/Runner.Worker/Handlers/CompositeActionHandler.cs).
 */
function compositePost(
  step: UsesStepSpec,
  posts: readonly PostStep[],
  scope: StepsState,
  inner: StepDeps,
  state: StepsState,
): PostStep {
  const reported: Reported[] = [];
  let failed = false;
  // Each inner post's part goes to the composite's step too (the step the job reports), as its main's did.
  const watched = posts.map((post): PostStep => ({
    ...post,
    run: async (stop) => {
      const run = await post.run(stop);
      if (run.outcome === 'failure') failed = true;
      return run;
    },
    report: (part) => {
      post.report(part);
      reported.push(part);
    },
  }));
  return {
    name: `Post ${step.name ?? `Run ${step.uses}`}`,
    condition: 'always()',
    // The inner posts' own conditions see the order's stop, as the job's posts do (runPostSteps).
    run: async (): Promise<StepRun> => {
      await runPostSteps(watched, scope, inner);
      return { outcome: failed ? 'failure' : 'success', ...joinReported(reported) };
    },
    report: (part) => state.attach(step, part),
  };
}
