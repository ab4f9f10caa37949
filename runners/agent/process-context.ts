import type { StepDeps } from './step-deps.ts';
import { defaultVariables } from './step-env.ts';
import type { StepProcessContext } from './step-process.ts';
import type { StepsState } from './steps-state.ts';

/** What a step's process needs from the order: env, file-command places, defaults, stop, groups, log. */
export function processContext(state: StepsState, envCtx: Record<string, string>, deps: StepDeps): StepProcessContext {
  const { opts } = deps;
  const order = state.order;
  return {
    envCtx,
    filesDir: order.filesDir,
    baseEnv: opts.baseEnv,
    defaults: (files) =>
      defaultVariables({
        job: opts.job,
        github: order.github,
        jobId: order.jobId,
        workdir: opts.workdir,
        tempDir: opts.tempDir,
        eventPath: order.eventPath,
        files,
      }),
    prependPath: state.prependPath,
    stop: deps.stop,
    groups: deps.groups,
    log: deps.log,
    ...(opts.runAs === undefined ? {} : { runAs: opts.runAs }),
    commands: deps.commands,
    mask: deps.mask,
  };
}
