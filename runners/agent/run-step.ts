/**
 * One `run:` step whose condition passed: its env, script, working directory and shell evaluated, the script
 * started in a process group of its own with the step's environment, its `timeout-minutes` and the order's stop
 * honoured, and its file commands read back. Expected failures are outcomes with the log line that says why.
 */
import { randomUUID } from 'node:crypto';
import { stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { interpolate, type ExpressionContext } from '../../src/core/workflow/expressions.ts';
import type { RunStepSpec, StepResult } from '../../src/core/types.ts';

/** A step whose `timeout-minutes` the agent has evaluated (execute-order.ts), ready to run. */
export type RunnableStep = Omit<RunStepSpec, 'timeoutMinutes'> & { readonly timeoutMinutes?: number };
import type { CappedLog } from './capped-log.ts';
import { minutesToMs, type OrderStop, type ProcessGroups } from './order-stop.ts';
import { startProcessGroup } from './process-group.ts';
import { resolveShell, shellExtension } from './resolve-shell.ts';
import { createFileCommandFiles, readFileCommands, withPrependedPath, type FileCommandFiles } from './step-env.ts';

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
}

export interface StepRun {
  readonly outcome: StepResult['outcome'];
  readonly exitCode?: number;
  /** What the step wrote to its file-command files (present when they were read). */
  readonly commands?: { outputs: Record<string, string>; env: Record<string, string>; path: string[] };
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
  if (exit.killedFor === 'order') {
    c.log.meta(`##[error] the step was stopped: the order was ${c.stop.words}`);
    return { outcome: 'cancelled' };
  }
  if (exit.killedFor === 'step-timeout') {
    c.log.meta(`##[error] the step exceeded its timeout of ${String(step.timeoutMinutes)} minutes`);
    return { outcome: 'failure' };
  }

  // File commands are processed whatever the exit code, as the runner does after every step.
  const exitCode = exit.code ?? undefined;
  const commands = await readFileCommands(files);
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
  const { outputs, env: addedEnv, path: addedPath } = commands;
  return {
    outcome: exit.code === 0 ? 'success' : 'failure',
    ...(exitCode === undefined ? {} : { exitCode }),
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
    };

/** Starts the step's process group and waits for it, killing the group on the order's stop or the step's timeout. */
async function runProcess(
  step: RunnableStep,
  prepared: Extract<Prepared, { ok: true }>,
  env: Record<string, string>,
  c: StepRunContext,
): Promise<ProcessEnd> {
  let killedFor: 'order' | 'step-timeout' | undefined;
  const proc = startProcessGroup(prepared.command, prepared.args, {
    cwd: prepared.cwd,
    env,
    onOutput: (chunk) => c.log.output(chunk),
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
  if (exit.kind === 'spawn-error') return { kind: 'spawn-error', message: exit.message };
  return { kind: 'exit', code: exit.code, signal: exit.signal, killedFor };
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
