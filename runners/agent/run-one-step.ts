/**
 * One step of a scope (the job's, or a composite action's), with GitHub Actions' per-step semantics
 * (docs.github.com › workflow syntax › `jobs.<job_id>.steps`): its header, `if` (default `success()`),
 * `continue-on-error`, `timeout-minutes`, then a `run:` script or a `uses:` action, its end line and result.
 */
import { evaluateFlag, evaluateMinutes } from '../../src/core/workflow/evaluate-setting.ts';
import { evaluateCondition } from '../../src/core/workflow/expressions.ts';
import { isUsesStep, type StepResult, type StepSpec } from '../../src/core/types.ts';
import { runUsesStep } from './actions/run-uses-step.ts';
import { runStep, type RunnableStep } from './run-step.ts';
import { processContext } from './process-context.ts';
import type { StepDeps } from './step-deps.ts';
import { stepName } from './step-name.ts';
import type { StepsState } from './steps-state.ts';

type Outcome = StepResult['outcome'];
/** What a step's run leaves on its result beside the outcome. */
type Reported = Pick<StepResult, 'annotations' | 'summary'>;

/** Header and end markers: a composite's own steps log under the `uses:` step's header with their own. */
function markers(deps: StepDeps): { header: string; end: string } {
  return deps.depth === 0 ? { header: '##[step]', end: '##[end]' } : { header: '##[sub-step]', end: '##[sub-end]' };
}

export async function runOneStep(step: StepSpec, state: StepsState, deps: StepDeps): Promise<void> {
  const { log, stop } = deps;
  const startedAt = Date.now();
  const envCtx = state.envCtx();
  const name = stepName(step, state.ctx(envCtx));
  const mark = markers(deps);
  log.meta(`${mark.header} ${name}`);

  const stepOutputs: Record<string, string> = {};
  // Until the step's own `continue-on-error` is evaluated, a failure (of its `if`, say) is not forgiven.
  let continueOnError = false;
  const finish = (outcome: Outcome, exitCode?: number, reported: Reported = {}): void => {
    const result = state.record(step, name, { outcome, exitCode, continueOnError, ...reported }, startedAt);
    if (step.id !== undefined) {
      state.steps[step.id] = { outcome: result.outcome, conclusion: result.conclusion, outputs: stepOutputs };
    }
    const code = exitCode === undefined ? '' : `, exit code ${exitCode}`;
    const coe = outcome === 'failure' && continueOnError ? ' (continue-on-error)' : '';
    log.meta(`${mark.end} ${outcome}${coe}${code}`);
  };

  if (stop.kind !== undefined) {
    log.meta(`##[cancelled] not started: the order was ${stop.words}`);
    return finish('cancelled');
  }
  const condition = evaluateCondition(step.if, state.ctx(envCtx), state.jobStatus);
  if (!condition.ok) {
    log.meta(`##[error] if: ${condition.error}`);
    return finish('failure');
  }
  if (!condition.value) {
    log.meta(`##[skipped] condition is false: ${step.if ?? 'success()'}`);
    return finish('skipped');
  }
  // GitHub's runner evaluates both before the step starts, with the step's contexts (steps, env, job, runner, …).
  const coe = evaluateFlag(step.continueOnError, state.ctx(envCtx));
  const timeout =
    step.timeoutMinutes === undefined ? undefined : evaluateMinutes(step.timeoutMinutes, state.ctx(envCtx));
  if (!coe.ok) {
    log.meta(`##[error] continue-on-error: ${coe.error}`);
    return finish('failure');
  }
  if (timeout?.ok === false) {
    log.meta(`##[error] timeout-minutes: ${timeout.error}`);
    return finish('failure');
  }
  continueOnError = coe.value;
  const timeoutMinutes = timeout?.ok === true ? { timeoutMinutes: timeout.value } : {};

  if (isUsesStep(step)) {
    const ran = await runUsesStep(step, timeout?.ok === true ? timeout.value : undefined, state, deps);
    Object.assign(stepOutputs, ran.outputs);
    return finish(ran.outcome, ran.exitCode, reportedOf(ran));
  }
  const { timeoutMinutes: _written, ...rest } = step;
  const runnable: RunnableStep = { ...rest, ...timeoutMinutes };
  const run = await runStep(runnable, {
    ...processContext(state, envCtx, deps),
    ctx: (env) => state.ctx(env),
    workdir: deps.opts.workdir,
    tempDir: deps.opts.tempDir,
    runnerEnv: state.runnerEnv(),
  });
  if (run.commands) {
    Object.assign(stepOutputs, run.commands.outputs);
    state.apply(run.commands);
  }
  finish(run.outcome, run.exitCode, reportedOf(run));
}

function reportedOf(run: { readonly annotations?: StepResult['annotations']; readonly summary?: string }): Reported {
  return {
    ...(run.annotations === undefined ? {} : { annotations: run.annotations }),
    ...(run.summary === undefined ? {} : { summary: run.summary }),
  };
}
