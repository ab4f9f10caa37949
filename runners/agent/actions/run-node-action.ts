/**
 * One stage (pre, main or post) of a JavaScript action: `node <entry>` in the workspace, through the same spawn path
 * as `run:` steps (`runStepProcess`: process group, streamed output, timeouts, stop, file commands).
 *
 * Every `runs.using` Node version (node12, node16, node20, node24) runs with the agent's own Node,
 * `process.execPath`: the runner images bake one current Node, and actions written for an older one run on a newer
 * Node as they do when GitHub forces node20/node24 on them.
 */
import path from 'node:path';
import { runStepProcess, type StepProcessContext, type StepRun } from '../step-process.ts';
import { inputVariables } from './action-inputs.ts';
import type { NodeRuns } from './action-manifest.ts';
import type { ResolvedAction } from './action-session.ts';

export type NodeStage = 'pre' | 'main' | 'post';

export interface NodeStageLaunch {
  readonly key: number;
  /** The step's evaluated `env:`. */
  readonly env: Readonly<Record<string, string>>;
  readonly inputs: Readonly<Record<string, string>>;
  /** The action's intra-action state so far; what this stage saves is added to it. */
  readonly state: Record<string, string>;
  /** GITHUB_ACTION. */
  readonly actionName: string;
  readonly workdir: string;
  readonly timeoutMinutes?: number;
}

export async function runNodeStage(
  action: ResolvedAction,
  runs: NodeRuns,
  stage: NodeStage,
  launch: NodeStageLaunch,
  c: StepProcessContext,
): Promise<StepRun> {
  const entry = runs[stage];
  if (entry === undefined) return { outcome: 'success' };
  const script = path.resolve(action.dir, entry);
  if (!script.startsWith(action.dir + path.sep)) {
    c.log.meta(`##[error] ${action.manifest.file}: runs.${stage} '${entry}' is outside the action's folder`);
    return { outcome: 'failure' };
  }
  if (stage === 'main') {
    c.log.meta(`${action.manifest.name} (${runs.using}) runs with the agent's Node ${process.version}`);
  }
  const state = Object.fromEntries(Object.entries(launch.state).map(([name, value]) => [`STATE_${name}`, value]));
  const run = await runStepProcess(
    {
      key: launch.key,
      command: process.execPath,
      args: [script],
      cwd: launch.workdir,
      // As the runner orders them: the env context, then inputs, then the action's state last.
      env: { ...launch.env, ...inputVariables(launch.inputs), ...state },
      runnerEnv: {
        GITHUB_ACTION: launch.actionName,
        GITHUB_ACTION_PATH: action.dir,
        GITHUB_ACTION_REPOSITORY: action.repository ?? '',
        GITHUB_ACTION_REF: action.ref ?? '',
      },
      ...(launch.timeoutMinutes === undefined ? {} : { timeoutMinutes: launch.timeoutMinutes }),
    },
    c,
  );
  if (run.commands) Object.assign(launch.state, run.commands.state);
  return run;
}
