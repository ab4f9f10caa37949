/**
 * One `run:` step whose condition passed: its env, script, working directory and shell evaluated, the script
 * written, then run through `runStepProcess` (the one spawn path steps and actions share). Expected failures are
 * outcomes with the log line that says why.
 */
import { randomUUID } from 'node:crypto';
import { stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { interpolate, type ExpressionContext } from '../../src/core/workflow/expressions.ts';
import type { RunStepSpec } from '../../src/core/types.ts';
import { resolveShell, shellExtension } from './resolve-shell.ts';
import { handOver } from './run-as.ts';
import { runStepProcess, type StepProcessContext, type StepRun } from './step-process.ts';

export type { StepRun } from './step-process.ts';

/** A step whose `timeout-minutes` the agent has evaluated (execute-order.ts), ready to run. */
export type RunnableStep = Omit<RunStepSpec, 'timeoutMinutes'> & { readonly timeoutMinutes?: number };

export interface StepRunContext extends StepProcessContext {
  /** The expression context for a given `env`. */
  readonly ctx: (env: Record<string, string>) => ExpressionContext;
  readonly workdir: string;
  readonly tempDir: string;
  /** Variables the runner sets over the defaults (in a composite action: GITHUB_ACTION_PATH and friends). */
  readonly runnerEnv?: Readonly<Record<string, string>>;
}

export async function runStep(step: RunnableStep, c: StepRunContext): Promise<StepRun> {
  const scriptPath = path.join(c.tempDir, `step-${step.index}-${randomUUID()}${shellExtension(step.shell)}`);
  const prepared = await prepareStep(step, { ctx: c.ctx, envCtx: c.envCtx, workdir: c.workdir, scriptPath });
  if (!prepared.ok) {
    c.log.meta(`##[error] ${prepared.error}`);
    return { outcome: 'failure' };
  }
  await handOver([scriptPath], c.runAs);
  const { command, args, cwd, env } = prepared;
  const timeout = step.timeoutMinutes === undefined ? {} : { timeoutMinutes: step.timeoutMinutes };
  const runnerEnv = c.runnerEnv === undefined ? {} : { runnerEnv: c.runnerEnv };
  return runStepProcess({ key: step.index, command, args, cwd, env, ...timeout, ...runnerEnv }, c);
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
