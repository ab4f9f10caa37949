import { randomUUID } from 'node:crypto';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { evaluateCondition, interpolate } from '../../src/core/expressions.ts';
import type { ExpressionContext } from '../../src/core/expressions.ts';
import type { StepResult, StepSpec } from '../../src/core/types.ts';
import type { OrderJob } from '../runner.ts';
import { parseEnvFile } from './parse-env-file.ts';
import { killProcessGroup, startProcessGroup } from './process-group.ts';
import type { GroupProcess } from './process-group.ts';
import { resolveShell, shellExtension } from './resolve-shell.ts';

/** SIGTERM → SIGKILL grace, as `docker stop` and the Actions runner give a cancelled process. */
export const DEFAULT_KILL_GRACE_MS = 5_000;
/** Beyond this much step output the log keeps only step headers and ends, so a noisy step cannot fill the disk. */
export const DEFAULT_MAX_LOG_BYTES = 16 * 1024 * 1024;
/** After a step's leader exits, how long to wait for its pipes to drain (a background child may hold them open). */
const DRAIN_MS = 200;

export interface ExecuteOptions {
  readonly job: OrderJob;
  /** The checkout (GITHUB_WORKSPACE). */
  readonly workdir: string;
  /** For GITHUB_OUTPUT / GITHUB_ENV / step scripts (RUNNER_TEMP). The caller creates and removes it. */
  readonly tempDir: string;
  /** PATH, HOME … The caller decides what to pass; never the bot's secrets. Nothing else is inherited. */
  readonly baseEnv: Readonly<Record<string, string>>;
  /** Merged stdout+stderr with step headers, streamed as it comes. */
  readonly onLog: (chunk: string) => void;
  readonly onStep?: (result: StepResult) => void;
  /** Cancel: kills the current step's whole process group and marks the remaining steps cancelled. */
  readonly signal?: AbortSignal;
  readonly killGraceMs?: number;
  readonly maxLogBytes?: number;
}

export interface OrderOutcome {
  conclusion: 'success' | 'failure' | 'cancelled' | 'timed_out';
  outputs: Record<string, string>;
  stepResults: StepResult[];
  reason?: string;
}

type Outcome = StepResult['outcome'];
type StepsContext = Record<string, { outcome: Outcome; conclusion: Outcome; outputs: Record<string, string> }>;
type StopKind = 'cancelled' | 'timed_out';

/**
 * Runs one order's `run:` steps in `workdir`, with GitHub Actions' semantics (docs.github.com › workflow syntax ›
 * `jobs.<job_id>.steps`): step `if` (default `success()`), `continue-on-error`, per-step and per-order
 * `timeout-minutes`, `working-directory`, `shell`, `env`, the `GITHUB_OUTPUT` / `GITHUB_ENV` / `GITHUB_PATH` file
 * commands, and the job's `outputs` evaluated at the end over the `steps` context. Expected failures (a step exits
 * non-zero, an expression does not evaluate, a timeout) are in the outcome; this never throws for them.
 */
export async function executeOrder(opts: ExecuteOptions): Promise<OrderOutcome> {
  const { job } = opts;
  const graceMs = opts.killGraceMs ?? DEFAULT_KILL_GRACE_MS;
  const log = createCappedLog(opts.onLog, opts.maxLogBytes ?? DEFAULT_MAX_LOG_BYTES);
  // Order ids are the job id, or `<job>.<n>` for matrix cells; job ids cannot contain dots (GitHub's job id rule).
  const jobId = job.ref.orderId.replace(/\.\d+$/, '');

  let stopKind: StopKind | undefined;
  const stop = new AbortController();
  const requestStop = (kind: StopKind): void => {
    if (stopKind !== undefined) return;
    stopKind = kind;
    stop.abort();
  };
  const onAbort = (): void => requestStop('cancelled');
  if (opts.signal?.aborted === true) requestStop('cancelled');
  else opts.signal?.addEventListener('abort', onAbort, { once: true });
  const orderTimeoutMs = minutesToMs(job.timeoutMinutes);
  const orderTimer =
    orderTimeoutMs === undefined ? undefined : setTimeout(() => requestStop('timed_out'), orderTimeoutMs);

  const groups: GroupProcess[] = [];
  const kills: Promise<void>[] = [];
  const killGroup = (proc: GroupProcess): void => {
    if (proc.pid !== undefined) kills.push(killProcessGroup(proc.pid, graceMs));
  };

  try {
    const filesDir = path.join(opts.tempDir, '_runner_file_commands');
    await mkdir(filesDir, { recursive: true });
    const eventPath = path.join(opts.tempDir, 'event.json');
    await writeFile(eventPath, JSON.stringify(job.github.event));

    const github = {
      ...job.github,
      sha: job.sha,
      repository: job.github.repository || job.repository,
      workspace: opts.workdir,
      job: jobId,
      run_attempt: String(job.ref.attempt),
      event_path: eventPath,
    };
    const runner = { os: runnerOs(), arch: runnerArch(), temp: opts.tempDir, name: 'spotcheck' };
    const needs = job.needs;
    const baseCtx = { github, matrix: job.matrix, needs, runner };

    // Workflow env then job env, each entry seeing the ones before it.
    const jobEnv: Record<string, string> = {};
    for (const [name, template] of Object.entries(job.env)) {
      const value = interpolate(template, { ...baseCtx, env: { ...jobEnv } });
      if (!value.ok) {
        log.meta(`##[error] env.${name}: ${value.error}`);
        return { conclusion: 'failure', outputs: {}, stepResults: [], reason: `env.${name}: ${value.error}` };
      }
      jobEnv[name] = value.value;
    }

    const stepResults: StepResult[] = [];
    const steps: StepsContext = {};
    const addedEnv: Record<string, string> = {};
    const prependPath: string[] = [];
    let jobStatus: 'success' | 'failure' = 'success';
    let firstFailure: string | undefined;

    const record = (
      step: StepSpec,
      name: string,
      outcome: Outcome,
      exitCode: number | undefined,
      startedAt: number,
    ) => {
      const conclusion: Outcome = outcome === 'failure' && step.continueOnError ? 'success' : outcome;
      const result: StepResult = {
        index: step.index,
        name,
        outcome,
        conclusion,
        ...(exitCode === undefined ? {} : { exitCode }),
        durationMs: Date.now() - startedAt,
      };
      stepResults.push(result);
      opts.onStep?.(result);
      if (conclusion === 'failure') {
        jobStatus = 'failure';
        firstFailure ??= name;
      }
      return result;
    };

    for (const step of job.steps) {
      const startedAt = Date.now();
      const ctx = (env: Record<string, string>): ExpressionContext => ({
        ...baseCtx,
        env,
        steps,
        job: { status: jobStatus },
      });
      const envCtx = { ...jobEnv, ...addedEnv };
      const name = stepName(step, ctx(envCtx));
      log.meta(`##[step] ${name}`);

      const stepOutputs: Record<string, string> = {};
      const finish = (outcome: Outcome, exitCode?: number): void => {
        const result = record(step, name, outcome, exitCode, startedAt);
        if (step.id !== undefined) {
          steps[step.id] = { outcome: result.outcome, conclusion: result.conclusion, outputs: stepOutputs };
        }
        const code = exitCode === undefined ? '' : `, exit code ${exitCode}`;
        const coe = outcome === 'failure' && step.continueOnError ? ' (continue-on-error)' : '';
        log.meta(`##[end] ${outcome}${coe}${code}`);
      };

      if (stopKind !== undefined) {
        log.meta(`##[cancelled] not started: the order was ${stopKind === 'timed_out' ? 'timed out' : 'cancelled'}`);
        finish('cancelled');
        continue;
      }

      const condition = evaluateCondition(step.if, ctx(envCtx), jobStatus);
      if (!condition.ok) {
        log.meta(`##[error] if: ${condition.error}`);
        finish('failure');
        continue;
      }
      if (!condition.value) {
        log.meta(`##[skipped] condition is false: ${step.if ?? 'success()'}`);
        finish('skipped');
        continue;
      }

      const prepared = await prepareStep(step, {
        ctx,
        envCtx,
        workdir: opts.workdir,
        scriptPath: path.join(opts.tempDir, `step-${step.index}-${randomUUID()}${shellExtension(step.shell)}`),
      });
      if (!prepared.ok) {
        log.meta(`##[error] ${prepared.error}`);
        finish('failure');
        continue;
      }

      const files = {
        GITHUB_OUTPUT: path.join(filesDir, `set_output_${step.index}_${randomUUID()}`),
        GITHUB_ENV: path.join(filesDir, `set_env_${step.index}_${randomUUID()}`),
        GITHUB_PATH: path.join(filesDir, `add_path_${step.index}_${randomUUID()}`),
        GITHUB_STEP_SUMMARY: path.join(filesDir, `step_summary_${step.index}_${randomUUID()}`),
      };
      await Promise.all(Object.values(files).map((file) => writeFile(file, '')));

      const defaults = defaultVariables({
        job,
        github,
        jobId,
        workdir: opts.workdir,
        tempDir: opts.tempDir,
        eventPath,
        files,
      });
      const env: Record<string, string> = { ...opts.baseEnv, CI: 'true', ...envCtx, ...prepared.env, ...defaults };
      if (prependPath.length > 0) {
        // Most recently added first, as the runner joins its PrependPath list in reverse.
        const base = env.PATH;
        env.PATH = [...prependPath].reverse().join(path.delimiter) + (base ? path.delimiter + base : '');
      }

      if (stopKind !== undefined) {
        // Stopped while the step was being prepared: do not start it.
        log.meta(`##[cancelled] not started: the order was ${stopKind === 'timed_out' ? 'timed out' : 'cancelled'}`);
        finish('cancelled');
        continue;
      }
      let killedFor: 'order' | 'step-timeout' | undefined;
      const proc = startProcessGroup(prepared.command, prepared.args, {
        cwd: prepared.cwd,
        env,
        onOutput: (chunk) => log.output(chunk),
      });
      groups.push(proc);
      const onStop = (): void => {
        killedFor ??= 'order';
        killGroup(proc);
      };
      stop.signal.addEventListener('abort', onStop, { once: true });
      const stepTimeoutMs = minutesToMs(step.timeoutMinutes);
      const stepTimer =
        stepTimeoutMs === undefined
          ? undefined
          : setTimeout(() => {
              killedFor ??= 'step-timeout';
              killGroup(proc);
            }, stepTimeoutMs);
      const exit = await proc.exited;
      clearTimeout(stepTimer);
      stop.signal.removeEventListener('abort', onStop);
      await Promise.race([proc.streamsClosed, delay(DRAIN_MS)]);

      if (exit.kind === 'spawn-error') {
        log.meta(`##[error] could not start '${prepared.command}': ${exit.message}`);
        finish('failure');
        continue;
      }
      if (killedFor === 'order') {
        log.meta(
          `##[error] the step was stopped: the order was ${stopKind === 'timed_out' ? 'timed out' : 'cancelled'}`,
        );
        finish('cancelled');
        continue;
      }
      if (killedFor === 'step-timeout') {
        log.meta(`##[error] the step exceeded its timeout of ${String(step.timeoutMinutes)} minutes`);
        finish('failure');
        continue;
      }

      // File commands are processed whatever the exit code, as the runner does after every step.
      const commands = await readFileCommands(files);
      if (!commands.ok) {
        log.meta(`##[error] ${commands.error}`);
        finish('failure', exit.code ?? undefined);
        continue;
      }
      Object.assign(stepOutputs, commands.outputs);
      Object.assign(addedEnv, commands.env);
      for (const dir of commands.path) {
        const at = prependPath.indexOf(dir);
        if (at >= 0) prependPath.splice(at, 1);
        prependPath.push(dir);
      }
      if (exit.code !== 0) {
        log.meta(
          exit.signal === null
            ? `##[error] the process exited with code ${String(exit.code)}`
            : `##[error] the process was killed by ${exit.signal}`,
        );
      }
      finish(exit.code === 0 ? 'success' : 'failure', exit.code ?? undefined);
    }

    // Job outputs: GitHub evaluates `jobs.<id>.outputs` once the steps are done, over the `steps` context.
    const outputs: Record<string, string> = {};
    const finalCtx = {
      ...baseCtx,
      env: { ...jobEnv, ...addedEnv },
      steps,
      job: { status: stopKind === 'cancelled' ? 'cancelled' : stopKind === undefined ? jobStatus : 'failure' },
    };
    for (const [name, template] of Object.entries(job.outputExprs)) {
      const value = interpolate(template, finalCtx);
      if (value.ok) outputs[name] = value.value;
      else log.meta(`##[warning] outputs.${name}: ${value.error}`);
    }

    const conclusion = stopKind ?? jobStatus;
    const reason =
      stopKind === 'timed_out'
        ? `the order exceeded its timeout of ${String(job.timeoutMinutes)} minutes`
        : stopKind === 'cancelled'
          ? cancelReason(opts.signal)
          : firstFailure === undefined
            ? undefined
            : `step '${firstFailure}' failed`;
    return { conclusion, outputs, stepResults, ...(reason === undefined ? {} : { reason }) };
  } finally {
    clearTimeout(orderTimer);
    opts.signal?.removeEventListener('abort', onAbort);
    // Background processes live until the order ends, as on GitHub's runner ("Cleaning up orphan processes").
    for (const proc of groups) killGroup(proc);
    await Promise.all(kills);
    for (const proc of groups) proc.detach();
  }
}

interface PrepareInput {
  readonly ctx: (env: Record<string, string>) => ExpressionContext;
  readonly envCtx: Record<string, string>;
  readonly workdir: string;
  readonly scriptPath: string;
}

type Prepared =
  | { ok: true; env: Record<string, string>; cwd: string; command: string; args: readonly string[] }
  | { ok: false; error: string };

/** Evaluates the step's env, script and working directory, and writes the script file. */
async function prepareStep(step: StepSpec, input: PrepareInput): Promise<Prepared> {
  const stepEnv: Record<string, string> = {};
  for (const [name, template] of Object.entries(step.env)) {
    const value = interpolate(template, input.ctx(input.envCtx));
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

type FileCommands =
  | { ok: true; outputs: Record<string, string>; env: Record<string, string>; path: string[] }
  | { ok: false; error: string };

async function readFileCommands(files: {
  GITHUB_OUTPUT: string;
  GITHUB_ENV: string;
  GITHUB_PATH: string;
}): Promise<FileCommands> {
  const read = (file: string) => readFile(file, 'utf8').catch(() => '');
  const [outputText, envText, pathText] = await Promise.all([
    read(files.GITHUB_OUTPUT),
    read(files.GITHUB_ENV),
    read(files.GITHUB_PATH),
  ]);
  const outputs = parseEnvFile(outputText);
  if (!outputs.ok) return { ok: false, error: `Unable to process file command 'output': ${outputs.error}` };
  const env = parseEnvFile(envText);
  if (!env.ok) return { ok: false, error: `Unable to process file command 'env': ${env.error}` };
  return {
    ok: true,
    outputs: Object.fromEntries(outputs.pairs),
    env: Object.fromEntries(env.pairs),
    path: pathText.split('\n').filter((line) => line !== ''),
  };
}

interface DefaultsInput {
  readonly job: OrderJob;
  readonly github: OrderJob['github'] & { readonly repository: string };
  readonly jobId: string;
  readonly workdir: string;
  readonly tempDir: string;
  readonly eventPath: string;
  readonly files: Readonly<Record<'GITHUB_OUTPUT' | 'GITHUB_ENV' | 'GITHUB_PATH' | 'GITHUB_STEP_SUMMARY', string>>;
}

/**
 * GitHub's default variables (docs.github.com › variables › "Default environment variables"), and the same under
 * `SPOTCHECK_*`. Applied last: "you can't overwrite the value of the default environment variables named
 * `GITHUB_*` and `RUNNER_*`".
 */
function defaultVariables(input: DefaultsInput): Record<string, string> {
  const { github } = input;
  const githubVars: Record<string, string> = {
    GITHUB_ACTIONS: 'true',
    GITHUB_SHA: input.job.sha,
    GITHUB_REF: github.ref,
    GITHUB_REF_NAME: github.ref_name,
    GITHUB_REF_TYPE: github.ref_type,
    GITHUB_REPOSITORY: github.repository,
    GITHUB_REPOSITORY_OWNER: github.repository_owner,
    GITHUB_EVENT_NAME: github.event_name,
    GITHUB_EVENT_PATH: input.eventPath,
    GITHUB_WORKSPACE: input.workdir,
    GITHUB_JOB: input.jobId,
    GITHUB_RUN_ID: github.run_id,
    GITHUB_RUN_ATTEMPT: String(input.job.ref.attempt),
    GITHUB_ACTOR: github.actor,
    GITHUB_WORKFLOW: github.workflow,
    GITHUB_SERVER_URL: github.server_url,
    GITHUB_BASE_REF: github.base_ref,
    GITHUB_HEAD_REF: github.head_ref,
    ...input.files,
  };
  const spotcheckVars = Object.fromEntries(
    Object.entries(githubVars).map(([name, value]) => [name.replace(/^GITHUB_/, 'SPOTCHECK_'), value]),
  );
  return {
    ...githubVars,
    ...spotcheckVars,
    RUNNER_OS: runnerOs(),
    RUNNER_ARCH: runnerArch(),
    RUNNER_TEMP: input.tempDir,
  };
}

function stepName(step: StepSpec, ctx: ExpressionContext): string {
  if (step.name !== undefined) {
    const name = interpolate(step.name, ctx);
    return name.ok ? name.value : step.name;
  }
  // GitHub's default display name for a `run:` step.
  const firstLine = step.run.split('\n').find((line) => line.trim() !== '') ?? '';
  return `Run ${firstLine.trim()}`;
}

function cancelReason(signal: AbortSignal | undefined): string {
  const reason: unknown = signal?.reason;
  return typeof reason === 'string' && reason !== '' ? reason : 'the order was cancelled';
}

/** Minutes (fractions allowed) to a timer delay, or undefined for "no limit". */
function minutesToMs(minutes: number | undefined): number | undefined {
  if (minutes === undefined || !Number.isFinite(minutes) || minutes <= 0) return undefined;
  // setTimeout fires at once above 2^31-1 ms (~24.8 days); GitHub's own cap is 35 days for self-hosted jobs.
  return Math.min(Math.round(minutes * 60_000), 2 ** 31 - 1);
}

function runnerOs(): string {
  return process.platform === 'darwin' ? 'macOS' : process.platform === 'win32' ? 'Windows' : 'Linux';
}

function runnerArch(): string {
  const arches: Record<string, string> = { x64: 'X64', arm64: 'ARM64', arm: 'ARM', ia32: 'X86' };
  return arches[process.arch] ?? process.arch.toUpperCase();
}

interface CappedLog {
  /** Step output: counted against the cap; past it, dropped after one notice. */
  output(chunk: string): void;
  /** Headers, ends and errors: always written (a handful of lines per step). */
  meta(line: string): void;
}

function createCappedLog(onLog: (chunk: string) => void, maxBytes: number): CappedLog {
  let written = 0;
  let truncated = false;
  let atLineStart = true;
  const emit = (chunk: string): void => {
    if (chunk === '') return;
    atLineStart = chunk.endsWith('\n');
    onLog(chunk);
  };
  return {
    output(chunk) {
      if (truncated) return;
      const bytes = Buffer.byteLength(chunk);
      if (written + bytes <= maxBytes) {
        written += bytes;
        emit(chunk);
        return;
      }
      const room = maxBytes - written;
      written = maxBytes;
      truncated = true;
      emit(
        Buffer.from(chunk)
          .subarray(0, room)
          .toString('utf8')
          .replace(/\uFFFD$/, ''),
      );
      emit(`${atLineStart ? '' : '\n'}##[warning] log truncated at ${maxBytes} bytes; further step output dropped\n`);
    },
    meta(line) {
      emit(`${atLineStart ? '' : '\n'}${line}\n`);
    },
  };
}
