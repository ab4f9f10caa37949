/**
 * One `run:` step whose condition passed: its env, script, working directory and shell evaluated, the script
 * started in a process group of its own with the step's environment, its `timeout-minutes` and the order's stop
 * honoured, its output read line by line for workflow commands (`::add-mask::`, `::group::`, annotations, …), and
 * its file commands and step summary read back. Expected failures are outcomes with the log line that says why.
 */
import { randomUUID } from 'node:crypto';
import { stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { interpolate, type ExpressionContext } from '../../src/core/workflow/expressions.ts';
import type { Annotation, RunStepSpec, StepResult } from '../../src/core/types.ts';

/** A step whose `timeout-minutes` the agent has evaluated (execute-order.ts), ready to run. */
export type RunnableStep = Omit<RunStepSpec, 'timeoutMinutes'> & { readonly timeoutMinutes?: number };
import type { CappedLog } from './capped-log.ts';
import { minutesToMs, type OrderStop, type ProcessGroups } from './order-stop.ts';
import { startProcessGroup } from './process-group.ts';
import { resolveShell, shellExtension } from './resolve-shell.ts';
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

export interface StepRunContext {
  /** The expression context for a given `env`. */
  readonly ctx: (env: Record<string, string>) => ExpressionContext;
  /** Job env plus what earlier steps added through GITHUB_ENV. */
  readonly envCtx: Readonly<Record<string, string>>;
  readonly workdir: string;
  readonly tempDir: string;
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
  /** The order's workflow-command processor: every line a step's process prints goes through it. */
  readonly commands: WorkflowCommands;
  /** The order's masker, for what leaves the agent other than the log (the step summary). */
  readonly mask: (text: string) => string;
}

export interface StepRun {
  readonly outcome: StepResult['outcome'];
  readonly exitCode?: number;
  /** What the step wrote to its file-command files (present when they were read). */
  readonly commands?: { outputs: Record<string, string>; env: Record<string, string>; path: string[] };
  /** `::error|warning|notice::` lines (and the runner's own errors about commands), masked, capped per level. */
  readonly annotations?: readonly Annotation[];
  /** `::save-state` values, for the action's post step as `STATE_<name>`. */
  readonly state?: Record<string, string>;
  /** What the step wrote to `$GITHUB_STEP_SUMMARY`, masked; absent when empty or over GitHub's limit. */
  readonly summary?: string;
}

export async function runStep(step: RunnableStep, c: StepRunContext): Promise<StepRun> {
  const scriptPath = path.join(c.tempDir, `step-${step.index}-${randomUUID()}${shellExtension(step.shell)}`);
  const prepared = await prepareStep(step, { ctx: c.ctx, envCtx: c.envCtx, workdir: c.workdir, scriptPath });
  if (!prepared.ok) {
    c.log.meta(`##[error] ${prepared.error}`);
    return { outcome: 'failure' };
  }
  const files = await createFileCommandFiles(c.filesDir, step.index);
  const env: Record<string, string> = { ...c.baseEnv, CI: 'true', ...c.envCtx, ...prepared.env, ...c.defaults(files) };
  const pathValue = withPrependedPath(env.PATH, c.prependPath);
  if (pathValue !== undefined) env.PATH = pathValue;

  if (c.stop.kind !== undefined) {
    // Stopped while the step was being prepared: do not start it.
    c.log.meta(`##[cancelled] not started: the order was ${c.stop.words}`);
    return { outcome: 'cancelled' };
  }
  const exit = await runProcess(step, prepared, env, c);
  if (exit.kind === 'spawn-error') {
    c.log.meta(`##[error] could not start '${prepared.command}': ${exit.message}`);
    return { outcome: 'failure' };
  }
  const { effects } = exit;
  const fromCommands = {
    ...(effects.annotations.length === 0 ? {} : { annotations: effects.annotations }),
    ...(Object.keys(effects.state).length === 0 ? {} : { state: effects.state }),
  };
  if (exit.killedFor === 'order') {
    c.log.meta(`##[error] the step was stopped: the order was ${c.stop.words}`);
    return { outcome: 'cancelled', ...fromCommands };
  }
  if (exit.killedFor === 'step-timeout') {
    c.log.meta(`##[error] the step exceeded its timeout of ${String(step.timeoutMinutes)} minutes`);
    return { outcome: 'failure', ...fromCommands };
  }

  // File commands are processed whatever the exit code, as the runner does after every step.
  const exitCode = exit.code ?? undefined;
  const commands = await readFileCommands(files);
  const summary = await readStepSummary(files.GITHUB_STEP_SUMMARY);
  if (summary.kind === 'too-large') {
    // The runner's context.Error: an error line and an error annotation; the step's outcome is not changed.
    c.log.meta(`##[error]${summary.error}`);
    const errors = effects.annotations.filter((a) => a.level === 'error').length;
    if (errors < MAX_ANNOTATIONS_PER_STEP) effects.annotations.push({ level: 'error', message: summary.error });
  }
  const withSummary = {
    ...(exitCode === undefined ? {} : { exitCode }),
    ...fromCommands,
    ...(effects.annotations.length === 0 ? {} : { annotations: effects.annotations }),
    ...(summary.kind === 'ok' ? { summary: c.mask(summary.text) } : {}),
  };
  if (!commands.ok) {
    c.log.meta(`##[error] ${commands.error}`);
    return { outcome: 'failure', ...withSummary };
  }
  if (exit.code !== 0) {
    c.log.meta(
      exit.signal === null
        ? `##[error] the process exited with code ${String(exit.code)}`
        : `##[error] the process was killed by ${exit.signal}`,
    );
  }
  // Commands act as they are printed, the files after the step: a file's value wins over a command's.
  const outputs = { ...effects.outputs, ...commands.outputs };
  const addedEnv = { ...effects.env, ...commands.env };
  const addedPath = [...effects.path, ...commands.path];
  return {
    // A command the runner could not process (set-env refused, say) fails a step that exited 0.
    outcome: exit.code === 0 && !effects.failed ? 'success' : 'failure',
    ...withSummary,
    commands: { outputs, env: addedEnv, path: addedPath },
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
async function runProcess(
  step: RunnableStep,
  prepared: Extract<Prepared, { ok: true }>,
  env: Record<string, string>,
  c: StepRunContext,
): Promise<ProcessEnd> {
  let killedFor: 'order' | 'step-timeout' | undefined;
  const scope = c.commands.forStep(env);
  // A buffer per stream, as the runner reads stdout and stderr line by line each: their partial lines never mix.
  const buffers = { stdout: new LineBuffer(), stderr: new LineBuffer() };
  const print = (printed: readonly string[]): void => {
    if (printed.length > 0) c.log.output(`${printed.join('\n')}\n`);
  };
  const proc = startProcessGroup(prepared.command, prepared.args, {
    cwd: prepared.cwd,
    env,
    onOutput: (chunk, stream) => print(buffers[stream].push(chunk).flatMap((line) => scope.line(line))),
  });
  c.groups.add(proc);
  const onStop = (): void => {
    killedFor ??= 'order';
    c.groups.kill(proc);
  };
  c.stop.signal.addEventListener('abort', onStop, { once: true });
  const stepTimeoutMs = minutesToMs(step.timeoutMinutes);
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

interface PrepareInput {
  readonly ctx: (env: Record<string, string>) => ExpressionContext;
  readonly envCtx: Readonly<Record<string, string>>;
  readonly workdir: string;
  readonly scriptPath: string;
}

type Prepared =
  | { ok: true; env: Record<string, string>; cwd: string; command: string; args: readonly string[] }
  | { ok: false; error: string };

/** Evaluates the step's env, script and working directory, and writes the script file. */
async function prepareStep(step: RunnableStep, input: PrepareInput): Promise<Prepared> {
  const stepEnv: Record<string, string> = {};
  for (const [name, template] of Object.entries(step.env)) {
    const value = interpolate(template, input.ctx({ ...input.envCtx }));
    if (!value.ok) return { ok: false, error: `env.${name}: ${value.error}` };
    stepEnv[name] = value.value;
  }
  // The `env` context inside the step includes the step's own env.
  const ctx = input.ctx({ ...input.envCtx, ...stepEnv });
  const script = interpolate(step.run, ctx);
  if (!script.ok) return { ok: false, error: `run: ${script.error}` };

  let cwd = input.workdir;
  if (step.workingDirectory !== undefined) {
    const dir = interpolate(step.workingDirectory, ctx);
    if (!dir.ok) return { ok: false, error: `working-directory: ${dir.error}` };
    cwd = path.resolve(input.workdir, dir.value);
    const isDir = await stat(cwd).then(
      (s) => s.isDirectory(),
      () => false,
    );
    if (!isDir) return { ok: false, error: `working-directory '${dir.value}' does not exist` };
  }

  const shell = resolveShell(step.shell, input.scriptPath);
  if (!shell.ok) return { ok: false, error: `shell: ${shell.error}` };
  await writeFile(input.scriptPath, script.value);
  return { ok: true, env: stepEnv, cwd, command: shell.command, args: shell.args };
}
