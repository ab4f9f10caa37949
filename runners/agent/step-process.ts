/**
 * The one way a step's process runs, for `run:` scripts and JavaScript actions alike: fresh file-command files, the
 * step's environment over GitHub's defaults, a process group of its own with output streamed to the log, the step's
 * `timeout-minutes` and the order's stop honoured, and the file commands read back whatever the exit code (as the
 * runner processes them after every step). Expected failures are outcomes with the log line that says why.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { StepResult } from '../../src/core/types.ts';
import type { CappedLog } from './capped-log.ts';
import { minutesToMs, type OrderStop, type ProcessGroups } from './order-stop.ts';
import { startProcessGroup } from './process-group.ts';
import type { RunAs } from './run-as.ts';
import { createFileCommandFiles, readFileCommands, withPrependedPath, type FileCommandFiles } from './step-env.ts';

/** After a step's leader exits, how long to wait for its pipes to drain (a background child may hold them open). */
const DRAIN_MS = 200;

/** What every step process of the order shares. */
export interface StepProcessContext {
  /** Job env plus what earlier steps added through GITHUB_ENV (and a composite's scope env). */
  readonly envCtx: Readonly<Record<string, string>>;
  /** Where the file-command files go. */
  readonly filesDir: string;
  readonly baseEnv: Readonly<Record<string, string>>;
  /** GitHub's default variables for a step with these file-command files. */
  readonly defaults: (files: FileCommandFiles) => Record<string, string>;
  /** GITHUB_PATH entries so far, oldest first. */
  readonly prependPath: readonly string[];
  readonly stop: OrderStop;
  readonly groups: ProcessGroups;
  readonly log: CappedLog;
  /** The user step processes run as (absent: the server's own). */
  readonly runAs?: RunAs;
}

export interface ProcessLaunch {
  /** Names the file-command files (the step's index). */
  readonly key: number;
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd: string;
  /** The step's own env (evaluated `env:`, an action's INPUT_* and STATE_*): over the job env, under the defaults. */
  readonly env: Readonly<Record<string, string>>;
  /** Set by the runner after GitHub's defaults (GITHUB_ACTION, GITHUB_ACTION_PATH, …), which a step cannot override. */
  readonly runnerEnv?: Readonly<Record<string, string>>;
  readonly timeoutMinutes?: number;
}

export interface StepRun {
  readonly outcome: StepResult['outcome'];
  readonly exitCode?: number;
  /** What the step wrote to its file-command files (present when they were read). */
  readonly commands?: {
    outputs: Record<string, string>;
    env: Record<string, string>;
    path: string[];
    state: Record<string, string>;
  };
}

export async function runStepProcess(launch: ProcessLaunch, c: StepProcessContext): Promise<StepRun> {
  const files = await createFileCommandFiles(c.filesDir, launch.key, c.runAs);
  const env: Record<string, string> = {
    ...c.baseEnv,
    CI: 'true',
    ...c.envCtx,
    ...launch.env,
    ...c.defaults(files),
    ...launch.runnerEnv,
  };
  const pathValue = withPrependedPath(env.PATH, c.prependPath);
  if (pathValue !== undefined) env.PATH = pathValue;

  if (c.stop.kind !== undefined) {
    // Stopped while the step was being prepared: do not start it.
    c.log.meta(`##[cancelled] not started: the order was ${c.stop.words}`);
    return { outcome: 'cancelled' };
  }
  const exit = await waitForProcess(launch, env, c);
  if (exit.kind === 'spawn-error') {
    c.log.meta(`##[error] could not start '${launch.command}': ${exit.message}`);
    return { outcome: 'failure' };
  }
  if (exit.killedFor === 'order') {
    c.log.meta(`##[error] the step was stopped: the order was ${c.stop.words}`);
    return { outcome: 'cancelled' };
  }
  if (exit.killedFor === 'step-timeout') {
    c.log.meta(`##[error] the step exceeded its timeout of ${String(launch.timeoutMinutes)} minutes`);
    return { outcome: 'failure' };
  }

  const exitCode = exit.code ?? undefined;
  const commands = await readFileCommands(files, c.runAs);
  if (!commands.ok) {
    c.log.meta(`##[error] ${commands.error}`);
    return { outcome: 'failure', ...(exitCode === undefined ? {} : { exitCode }) };
  }
  if (exit.code !== 0) {
    c.log.meta(
      exit.signal === null
        ? `##[error] the process exited with code ${String(exit.code)}`
        : `##[error] the process was killed by ${exit.signal}`,
    );
  }
  const { ok: _ok, ...read } = commands;
  return {
    outcome: exit.code === 0 ? 'success' : 'failure',
    ...(exitCode === undefined ? {} : { exitCode }),
    commands: read,
  };
}

type ProcessEnd =
  | { kind: 'spawn-error'; message: string }
  | {
      kind: 'exit';
      code: number | null;
      signal: string | null;
      killedFor: 'order' | 'step-timeout' | undefined;
    };

/** Starts the step's process group and waits for it, killing the group on the order's stop or the step's timeout. */
async function waitForProcess(
  launch: ProcessLaunch,
  env: Record<string, string>,
  c: StepProcessContext,
): Promise<ProcessEnd> {
  let killedFor: 'order' | 'step-timeout' | undefined;
  const proc = startProcessGroup(launch.command, launch.args, {
    cwd: launch.cwd,
    env,
    onOutput: (chunk) => c.log.output(chunk),
    ...(c.runAs === undefined ? {} : { runAs: c.runAs }),
  });
  c.groups.add(proc);
  const onStop = (): void => {
    killedFor ??= 'order';
    c.groups.kill(proc);
  };
  c.stop.signal.addEventListener('abort', onStop, { once: true });
  const stepTimeoutMs = minutesToMs(launch.timeoutMinutes);
  const stepTimer =
    stepTimeoutMs === undefined
      ? undefined
      : setTimeout(() => {
          killedFor ??= 'step-timeout';
          c.groups.kill(proc);
        }, stepTimeoutMs);
  const exit = await proc.exited;
  clearTimeout(stepTimer);
  c.stop.signal.removeEventListener('abort', onStop);
  await Promise.race([proc.streamsClosed, delay(DRAIN_MS)]);
  if (exit.kind === 'spawn-error') return { kind: 'spawn-error', message: exit.message };
  return { kind: 'exit', code: exit.code, signal: exit.signal, killedFor };
}
