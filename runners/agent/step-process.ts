/**
 * The one way a step's process runs, for `run:` scripts and JavaScript actions alike: fresh file-command files, the
 * step's environment over GitHub's defaults, a process group of its own with output streamed to the log, the step's
 * `timeout-minutes` and the order's stop honoured, its output read line by line for workflow commands
 * (`::add-mask::`, `::group::`, annotations, `::save-state`, …), and the file commands and step summary read back
 * whatever the exit code (as the runner processes them after every step). Expected failures are outcomes with the
 * log line that says why.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { Annotation, StepResult } from '../../src/core/types.ts';
import type { CappedLog } from './capped-log.ts';
import { minutesToMs, type OrderStop, type ProcessGroups } from './order-stop.ts';
import { startProcessGroup } from './process-group.ts';
import type { RunAs } from './run-as.ts';
import {
  createFileCommandFiles,
  readFileCommands,
  readStepSummary,
  withPrependedPath,
  type FileCommandFiles,
} from './step-env.ts';
import {
  LineBuffer,
  MAX_ANNOTATIONS_PER_STEP,
  type StepCommandEffects,
  type WorkflowCommands,
} from './workflow-commands.ts';

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
  /** The order's workflow-command processor: every line a step's process prints goes through it. */
  readonly commands: WorkflowCommands;
  /** The order's masker, for what leaves the agent other than the log (the step summary). */
  readonly mask: (text: string) => string;
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
  /** `::error|warning|notice::` lines (and the runner's own errors about commands), masked, capped per level. */
  readonly annotations?: readonly Annotation[];
  /** What the step wrote to `$GITHUB_STEP_SUMMARY`, masked; absent when empty or over GitHub's limit. */
  readonly summary?: string;
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
  const { effects } = exit;
  const annotations = effects.annotations.length === 0 ? {} : { annotations: effects.annotations };
  if (exit.killedFor === 'order') {
    c.log.meta(`##[error] the step was stopped: the order was ${c.stop.words}`);
    return { outcome: 'cancelled', ...annotations };
  }
  if (exit.killedFor === 'step-timeout') {
    c.log.meta(`##[error] the step exceeded its timeout of ${String(launch.timeoutMinutes)} minutes`);
    return { outcome: 'failure', ...annotations };
  }
  return readBack(exit, files, c);
}

/** After the process: file commands merged with the printed commands', and the step summary, whatever the exit. */
async function readBack(
  exit: Extract<ProcessEnd, { kind: 'exit' }>,
  files: FileCommandFiles,
  c: StepProcessContext,
): Promise<StepRun> {
  const { effects } = exit;
  const exitCode = exit.code === null ? {} : { exitCode: exit.code };
  const commands = await readFileCommands(files, c.runAs);
  const summary = await readStepSummary(files.GITHUB_STEP_SUMMARY, c.runAs);
  if (summary.kind === 'too-large') {
    // The runner's context.Error: an error line and an error annotation; the step's outcome is not changed.
    c.log.meta(`##[error]${summary.error}`);
    const errors = effects.annotations.filter((a) => a.level === 'error').length;
    if (errors < MAX_ANNOTATIONS_PER_STEP) effects.annotations.push({ level: 'error', message: summary.error });
  }
  const reported = {
    ...exitCode,
    ...(effects.annotations.length === 0 ? {} : { annotations: effects.annotations }),
    ...(summary.kind === 'ok' ? { summary: c.mask(summary.text) } : {}),
  };
  if (!commands.ok) {
    c.log.meta(`##[error] ${commands.error}`);
    return { outcome: 'failure', ...reported };
  }
  if (exit.code !== 0) {
    c.log.meta(
      exit.signal === null
        ? `##[error] the process exited with code ${String(exit.code)}`
        : `##[error] the process was killed by ${exit.signal}`,
    );
  }
  return {
    // A command the runner could not process (set-env refused, say) fails a step that exited 0.
    outcome: exit.code === 0 && !effects.failed ? 'success' : 'failure',
    ...reported,
    // Commands act as they are printed, the files after the step: a file's value wins over a command's.
    commands: {
      outputs: { ...effects.outputs, ...commands.outputs },
      env: { ...effects.env, ...commands.env },
      path: [...effects.path, ...commands.path],
      state: { ...effects.state, ...commands.state },
    },
  };
}

type ProcessEnd =
  | { kind: 'spawn-error'; message: string }
  | {
      kind: 'exit';
      code: number | null;
      signal: string | null;
      killedFor: 'order' | 'step-timeout' | undefined;
      /** What the workflow commands the process printed did. */
      effects: StepCommandEffects;
    };

/**
 * Starts the step's process group and waits for it, killing the group on the order's stop or the step's timeout.
 * Every process the agent starts for a step goes through here, so this is where its output meets the workflow
 * commands: split into lines (a value to mask may straddle two reads), each line processed, what it prints logged.
 */
async function waitForProcess(
  launch: ProcessLaunch,
  env: Record<string, string>,
  c: StepProcessContext,
): Promise<ProcessEnd> {
  let killedFor: 'order' | 'step-timeout' | undefined;
  const scope = c.commands.forStep(env);
  // A buffer per stream, as the runner reads stdout and stderr line by line each: their partial lines never mix.
  const safeCut = (text: string): number => c.commands.safeCut(text);
  const buffers = { stdout: new LineBuffer(safeCut), stderr: new LineBuffer(safeCut) };
  const print = (printed: readonly string[]): void => {
    if (printed.length > 0) c.log.output(`${printed.join('\n')}\n`);
  };
  const proc = startProcessGroup(launch.command, launch.args, {
    cwd: launch.cwd,
    env,
    onOutput: (chunk, stream) => print(buffers[stream].push(chunk).flatMap((line) => scope.line(line))),
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
  for (const buffer of [buffers.stdout, buffers.stderr]) {
    const rest = buffer.end();
    if (rest !== undefined) print(scope.line(rest));
  }
  if (exit.kind === 'spawn-error') return { kind: 'spawn-error', message: exit.message };
  return { kind: 'exit', code: exit.code, signal: exit.signal, killedFor, effects: scope.effects() };
}
