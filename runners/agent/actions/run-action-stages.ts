/**
 * The stages GitHub's runner adds around the job's steps (actions/runner ActionManager and JobExtension): each
 * remote JavaScript action's `pre`, in step order, before the first step (honouring `pre-if`, default `always()`;
 * local actions have none, their files not being there yet); and every registered `post`, last registered first,
 * after the last step, even after a failure or a cancel (honouring `post-if`, default `always()`).
 */
import { evaluateCondition, type JobStatus } from '../../../src/core/workflow/expressions.ts';
import { isUsesStep, type StepSpec } from '../../../src/core/types.ts';
import { OrderStop } from '../order-stop.ts';
import { processContext } from '../process-context.ts';
import type { StepDeps } from '../step-deps.ts';
import { stepName } from '../step-name.ts';
import type { StepRun } from '../step-process.ts';
import type { StepsState } from '../steps-state.ts';
import { evaluateActionStep } from './action-inputs.ts';
import type { PostStep } from './action-session.ts';
import { runNodeStage } from './run-node-action.ts';

export async function runPreSteps(steps: readonly StepSpec[], state: StepsState, deps: StepDeps): Promise<void> {
  const { log } = deps;
  for (const step of steps) {
    if (!isUsesStep(step) || step.action.kind !== 'remote') continue;
    // Fetched now, as the runner downloads every action while setting up the job; a failure shows at the step.
    const resolution = await deps.actions.resolve(step.action, (line) => log.meta(line));
    if (!resolution.ok) continue;
    const { action } = resolution;
    const { runs } = action.manifest;
    if (runs.using === 'composite' || runs.using === 'docker' || runs.pre === undefined) continue;
    const name = `Pre ${stepName(step, state.ctx(state.envCtx()))}`;
    const ran = await runStage({ name, condition: runs.preIf, status: state.jobStatus }, state, deps, async () => {
      const envCtx = state.envCtx();
      const evaluated = evaluateActionStep(step, action.manifest, (env) => state.ctx(env), envCtx);
      if (!evaluated.ok) {
        log.meta(`##[error] ${evaluated.error}`);
        return { outcome: 'failure' };
      }
      const launch = {
        key: step.index,
        env: evaluated.value.env,
        inputs: evaluated.value.inputs,
        state: deps.actions.stateOf(step),
        actionName: deps.actions.actionName(step),
        workdir: deps.opts.workdir,
      };
      const run = await runNodeStage(action, runs, 'pre', launch, processContext(state, envCtx, deps));
      if (run.commands) state.apply(run.commands);
      return run;
    });
    if (ran !== undefined) state.attach(step, ran);
  }
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
