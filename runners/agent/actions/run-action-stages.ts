/**
 * The stages GitHub's runner adds around the job's steps (actions/runner ActionManager and JobExtension): each
 * remote action's `pre`, in step order, before the first step (honouring `pre-if`, default `always()`; local
 * actions have none, their files not being there yet), a remote composite's being the pres of the actions its steps
 * use; and every registered `post`, last registered first, after the last step, even after a failure or a cancel
 * (honouring `post-if`, default `always()`).
 */
import { evaluateCondition, type JobStatus } from '../../../src/core/workflow/expressions.ts';
import { isUsesStep, type StepSpec, type UsesStepSpec } from '../../../src/core/types.ts';
import { OrderStop } from '../order-stop.ts';
import { processContext } from '../process-context.ts';
import type { StepDeps } from '../step-deps.ts';
import { stepName } from '../step-name.ts';
import type { StepRun } from '../step-process.ts';
import { joinReported, type StepsState } from '../steps-state.ts';
import { evaluateActionStep } from './action-inputs.ts';
import type { NodeRuns } from './action-manifest.ts';
import type { PostStep, ResolvedAction } from './action-session.ts';
import { compositeScope, compositeSteps, MAX_ACTION_DEPTH } from './composite-steps.ts';
import { runNodeStage } from './run-node-action.ts';

export async function runPreSteps(steps: readonly StepSpec[], state: StepsState, deps: StepDeps): Promise<void> {
  for (const step of steps) {
    if (!isUsesStep(step)) continue;
    const plan = await planPre(step, deps, 0);
    if (plan === undefined) continue;
    const ran = await runPre(plan, state, deps);
    if (ran !== undefined) state.attach(step, ran);
  }
}

/** An action's pre stage to run: a JavaScript action's `pre`, or a composite's (its steps' actions' pres). */
type PrePlan =
  | { readonly kind: 'node'; readonly step: UsesStepSpec; readonly action: ResolvedAction; readonly runs: NodeRuns }
  | {
      readonly kind: 'composite';
      readonly step: UsesStepSpec;
      readonly action: ResolvedAction;
      readonly inner: readonly PrePlan[];
    };

/**
 * The pre stage of a step's action, if it has one. Every remote action is fetched now, as the runner downloads every
 * action while it sets up the job (a failure shows at the step). A remote composite has a pre stage when an action
 * its steps use has one, at any depth: actions/runner collects the embedded actions' pres under their composite
 * (`_cachedEmbeddedPreSteps`, registered after the recursion so the composite's `HasPre` sees its whole subtree;
 * src/Runner.Worker/ActionManager.cs `PrepareActionsRecursiveAsync`) and runs them as the composite's pre stage
 * (`CompositeActionHandler.RunAsync(ActionRunStage.Pre)`). A local (`./`) action, and so a local composite's steps,
 * has none: its files are read only when its step runs.
 */
async function planPre(step: UsesStepSpec, deps: StepDeps, depth: number): Promise<PrePlan | undefined> {
  if (step.action.kind !== 'remote' || depth > MAX_ACTION_DEPTH) return undefined;
  const resolution = await deps.actions.resolve(step.action, (line) => deps.log.meta(line));
  if (!resolution.ok) return undefined;
  const { action } = resolution;
  const { runs } = action.manifest;
  if (runs.using === 'composite') {
    const specs = compositeSteps(step, action, runs, deps);
    if (!specs.ok) return undefined;
    const inner: PrePlan[] = [];
    for (const spec of specs.steps) {
      if (!isUsesStep(spec)) continue;
      const plan = await planPre(spec, deps, depth + 1);
      if (plan !== undefined) inner.push(plan);
    }
    return inner.length === 0 ? undefined : { kind: 'composite', step, action, inner };
  }
  if (runs.using === 'docker' || runs.pre === undefined) return undefined;
  return { kind: 'node', step, action, runs };
}

/** Runs one pre stage in `state`'s scope (a composite's inside a scope of its own, as its steps run). */
async function runPre(plan: PrePlan, state: StepsState, deps: StepDeps): Promise<StepRun | undefined> {
  const { log } = deps;
  const { step, action } = plan;
  const name = `Pre ${stepName(step, state.ctx(state.envCtx()))}`;
  const condition = plan.kind === 'node' ? plan.runs.preIf : 'always()';
  return runStage({ name, condition, status: state.jobStatus }, state, deps, async () => {
    const envCtx = state.envCtx();
    const evaluated = evaluateActionStep(step, action.manifest, (env) => state.ctx(env), envCtx);
    if (!evaluated.ok) {
      log.meta(`##[error] ${evaluated.error}`);
      return { outcome: 'failure' };
    }
    if (plan.kind === 'composite') {
      const scope = compositeScope(action, evaluated.value, state);
      const inner = { ...deps, depth: deps.depth + 1 };
      const parts: StepRun[] = [];
      for (const nested of plan.inner) {
        const ran = await runPre(nested, scope, inner);
        if (ran !== undefined) parts.push(ran);
      }
      return { outcome: scope.jobStatus === 'failure' ? 'failure' : 'success', ...joinReported(parts) };
    }
    const launch = {
      key: step.index,
      env: evaluated.value.env,
      inputs: evaluated.value.inputs,
      state: deps.actions.stateOf(step),
      actionName: deps.actions.actionName(step),
      workdir: deps.opts.workdir,
    };
    const run = await runNodeStage(action, plan.runs, 'pre', launch, processContext(state, envCtx, deps));
    if (run.commands) state.apply(run.commands);
    return run;
  });
}

/**
 * Once the order was stopped, the posts still run as on GitHub (whose runner runs post steps after a cancel, so
 * actions clean up), under a stop of their own: this long, then they are killed in turn.
 */
export const DEFAULT_POST_GRACE_MS = 60_000;

export async function runPostSteps(posts: readonly PostStep[], state: StepsState, deps: StepDeps): Promise<void> {
  if (posts.length === 0) return;
  const stopped = deps.stop.kind;
  // The job status post-if sees: cancelled() after a cancel; a timeout is a failure (as in the job's outputs).
  const status: JobStatus = stopped === 'cancelled' ? 'cancelled' : stopped === undefined ? state.jobStatus : 'failure';
  const stop =
    stopped === undefined ? deps.stop : new OrderStop(undefined, deps.opts.postGraceMs ?? DEFAULT_POST_GRACE_MS);
  const postDeps = { ...deps, stop };
  try {
    for (const post of [...posts].reverse()) {
      const ran = await runStage({ name: post.name, condition: post.condition, status }, state, postDeps, async () => {
        const run = await post.run(stop);
        if (run.commands) state.apply(run.commands);
        return run;
      });
      if (ran !== undefined) post.report(ran);
    }
  } finally {
    if (stop !== deps.stop) stop.dispose();
  }
}

/**
 * A pre or post stage: its header, condition, run and end line; a failure fails the scope as GitHub's does. The run,
 * for its annotations and summary (undefined when it did not run).
 */
async function runStage(
  stage: { readonly name: string; readonly condition: string; readonly status: JobStatus },
  state: StepsState,
  deps: StepDeps,
  run: () => Promise<StepRun>,
): Promise<StepRun | undefined> {
  const { log } = deps;
  const { name, condition } = stage;
  const header = deps.depth === 0 ? '##[step]' : '##[sub-step]';
  const end = deps.depth === 0 ? '##[end]' : '##[sub-end]';
  log.meta(`${header} ${name}`);
  const verdict = evaluateCondition(condition, state.ctx(state.envCtx()), stage.status);
  if (!verdict.ok) {
    log.meta(`##[error] ${verdict.error}`);
    state.fail(name);
    log.meta(`${end} failure`);
    return undefined;
  }
  if (!verdict.value) {
    log.meta(`##[skipped] condition is false: ${condition}`);
    log.meta(`${end} skipped`);
    return undefined;
  }
  const ran = await run();
  if (ran.outcome === 'failure') state.fail(name);
  log.meta(`${end} ${ran.outcome}${ran.exitCode === undefined ? '' : `, exit code ${ran.exitCode}`}`);
  return ran;
}
