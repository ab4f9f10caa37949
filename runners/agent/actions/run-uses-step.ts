/**
 * A `uses:` step whose condition passed: the action resolved (local folder, or fetched), its env and inputs
 * evaluated, then its main run — a JavaScript action's `main` (its `post` registered to run later), or a composite
 * action's steps. The step's result is one entry whatever the action does inside.
 */
import type { UsesStepSpec } from '../../../src/core/types.ts';
import type { StepDeps, UsesRun } from '../step-deps.ts';
import { processContext } from '../process-context.ts';
import type { StepsState } from '../steps-state.ts';
import { evaluateActionStep } from './action-inputs.ts';
import type { NodeRuns } from './action-manifest.ts';
import type { ResolvedAction } from './action-session.ts';
import { MAX_ACTION_DEPTH } from './composite-steps.ts';
import { isLocalCheckout } from './local-checkout.ts';
import { runComposite } from './run-composite.ts';
import { runNodeStage } from './run-node-action.ts';

/** `timeoutMinutes`: the step's, evaluated. */
export async function runUsesStep(
  step: UsesStepSpec,
  timeoutMinutes: number | undefined,
  state: StepsState,
  deps: StepDeps,
): Promise<UsesRun> {
  const { log } = deps;
  const fail = (line: string): UsesRun => {
    log.meta(`##[error] ${line}`);
    return { outcome: 'failure', outputs: {} };
  };
  if (deps.depth > MAX_ACTION_DEPTH) {
    return fail(`Composite action depth exceeded max depth ${MAX_ACTION_DEPTH}`);
  }
  const resolution = await deps.actions.resolve(step.action, (line) => log.meta(line));
  if (!resolution.ok) return fail(resolution.error);
  const { action } = resolution;
  const envCtx = state.envCtx();
  const evaluated = evaluateActionStep(step, action.manifest, (env) => state.ctx(env), envCtx);
  if (!evaluated.ok) return fail(evaluated.error);
  for (const warning of evaluated.value.warnings) log.meta(`##[warning] ${warning}`);
  const { github } = state.order;
  if (
    deps.opts.job.localRepository === true &&
    step.action.kind === 'remote' &&
    isLocalCheckout(step.action, evaluated.value.inputs, github)
  ) {
    log.meta(`The workspace already holds the working tree at ${github.sha}: ${step.uses} is skipped in a local run`);
    return { outcome: 'success', outputs: {} };
  }
  const { runs } = action.manifest;
  if (runs.using === 'composite') return runComposite(step, action, runs, evaluated.value, state, deps);
  if (runs.using === 'docker') return fail(`${step.uses}: docker actions need a runner that declares Docker`);
  return runNodeMain({ step, timeoutMinutes }, { action, runs }, evaluated.value, state, deps);
}

async function runNodeMain(
  { step, timeoutMinutes }: { step: UsesStepSpec; timeoutMinutes: number | undefined },
  target: { action: ResolvedAction; runs: NodeRuns },
  evaluated: { env: Record<string, string>; inputs: Record<string, string> },
  state: StepsState,
  deps: StepDeps,
): Promise<UsesRun> {
  const { action, runs } = target;
  const actionState = deps.actions.stateOf(step);
  const launch = {
    key: step.index,
    env: evaluated.env,
    inputs: evaluated.inputs,
    state: actionState,
    actionName: deps.actions.actionName(step),
    workdir: deps.opts.workdir,
  };
  const run = await runNodeStage(
    action,
    runs,
    'main',
    { ...launch, ...(timeoutMinutes === undefined ? {} : { timeoutMinutes }) },
    processContext(state, state.envCtx(), deps),
  );
  // The runner registers the post once main has run, whatever main's outcome (actions/runner ActionRunner).
  if (runs.post !== undefined) {
    const name = `Post ${step.name ?? `Run ${step.uses}`}`;
    deps.posts.push({
      name,
      condition: runs.postIf,
      run: (stop) =>
        runNodeStage(action, runs, 'post', launch, { ...processContext(state, state.envCtx(), deps), stop }),
      report: (reported) => state.attach(step, reported),
    });
  }
  if (run.commands) state.apply(run.commands);
  return {
    outcome: run.outcome,
    ...(run.exitCode === undefined ? {} : { exitCode: run.exitCode }),
    outputs: run.commands?.outputs ?? {},
    ...(run.annotations === undefined ? {} : { annotations: run.annotations }),
    ...(run.summary === undefined ? {} : { summary: run.summary }),
  };
}
