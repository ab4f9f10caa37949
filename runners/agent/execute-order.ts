import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { evaluateFlag, evaluateMinutes } from '../../src/core/workflow/evaluate-setting.ts';
import { evaluateCondition, interpolate } from '../../src/core/workflow/expressions.ts';
import type { ExpressionContext } from '../../src/core/workflow/expressions.ts';
import { isUsesStep, type StepResult, type StepSpec, type StrategyContext } from '../../src/core/types.ts';
import type { OrderJob } from '../runner.ts';
import { createCappedLog, type CappedLog } from './capped-log.ts';
import { hashFiles } from './hash-files.ts';
import { Masker } from './masker.ts';
import { minutesToMs, OrderStop, ProcessGroups } from './order-stop.ts';
import { runStep, type RunnableStep, type StepRun } from './run-step.ts';
import { addToPath, defaultVariables, runnerContext } from './step-env.ts';
import { WorkflowCommands } from './workflow-commands.ts';

/** SIGTERM → SIGKILL grace, as `docker stop` and the Actions runner give a cancelled process. */
export const DEFAULT_KILL_GRACE_MS = 5_000;
/** Beyond this much step output the log keeps only step headers and ends, so a noisy step cannot fill the disk. */
export const DEFAULT_MAX_LOG_BYTES = 16 * 1024 * 1024;

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
  /** Values masked from the start (secrets), beside the order's token and what steps add with `::add-mask::`. */
  readonly masks?: readonly string[];
}

export interface OrderOutcome {
  conclusion: 'success' | 'failure' | 'cancelled' | 'timed_out';
  outputs: Record<string, string>;
  stepResults: StepResult[];
  reason?: string;
}

type Outcome = StepResult['outcome'];
type StepsContext = Record<string, { outcome: Outcome; conclusion: Outcome; outputs: Record<string, string> }>;

/**
 * Runs one order's `run:` steps in `workdir`, with GitHub Actions' semantics (docs.github.com › workflow syntax ›
 * `jobs.<job_id>.steps`): step `if` (default `success()`), `continue-on-error`, per-step and per-order
 * `timeout-minutes`, `working-directory`, `shell`, `env`, the `GITHUB_OUTPUT` / `GITHUB_ENV` / `GITHUB_PATH` file
 * commands, and the job's `outputs` evaluated at the end over the `steps` context. Expected failures (a step exits
 * non-zero, an expression does not evaluate, a timeout) are in the outcome; this never throws for them.
 */
export async function executeOrder(opts: ExecuteOptions): Promise<OrderOutcome> {
  const { job } = opts;
  // One masker for everything the order sends out: log, step names, annotations, summaries, outputs, reason.
  const masker = new Masker();
  if (job.token !== undefined) masker.add(job.token);
  for (const value of opts.masks ?? []) masker.add(value);
  const mask = (text: string): string => masker.mask(text);
  const log = createCappedLog(opts.onLog, opts.maxLogBytes ?? DEFAULT_MAX_LOG_BYTES, mask);
  const commands = new WorkflowCommands({ masker, workspace: opts.workdir });
  const stop = new OrderStop(opts.signal, minutesToMs(job.timeoutMinutes));
  const groups = new ProcessGroups(opts.killGraceMs ?? DEFAULT_KILL_GRACE_MS);
  try {
    const order = await prepareOrder(opts, log);
    if (!order.ok) return { conclusion: 'failure', outputs: {}, stepResults: [], reason: mask(order.reason) };
    const state = new StepsState(order, opts.onStep, masker);
    for (const step of job.steps) await runOneStep(step, order, state, { opts, log, stop, groups, commands, mask });
    return conclude(job, order, state, { stop, signal: opts.signal, log, masker });
  } finally {
    stop.dispose();
    await groups.killAll();
  }
}

/** What every step of the order shares: the contexts, the job env, the files' places. */
interface PreparedOrder {
  readonly ok: true;
  readonly baseCtx: Omit<ExpressionContext, 'env' | 'steps' | 'job'>;
  readonly github: OrderJob['github'] & { readonly repository: string };
  readonly jobId: string;
  readonly jobEnv: Readonly<Record<string, string>>;
  readonly filesDir: string;
  readonly eventPath: string;
  readonly workdir: string;
}

/** The file-commands directory and event file, the `github`/`runner` contexts, and the job env evaluated. */
async function prepareOrder(
  opts: ExecuteOptions,
  log: CappedLog,
): Promise<PreparedOrder | { ok: false; reason: string }> {
  const { job } = opts;
  // Order ids are the job id, or `<job>.<n>` for matrix cells; job ids cannot contain dots (GitHub's job id rule).
  const jobId = job.ref.orderId.replace(/\.\d+$/, '');
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
  const runner = runnerContext(opts.tempDir);
  const baseCtx = { github, matrix: job.matrix, needs: job.needs, runner, strategy: strategyOf(job) };

  // Workflow env then job env, each entry seeing the ones before it.
  const jobEnv: Record<string, string> = {};
  for (const [name, template] of Object.entries(job.env)) {
    const value = interpolate(template, { ...baseCtx, env: { ...jobEnv } });
    if (!value.ok) {
      log.meta(`##[error] env.${name}: ${value.error}`);
      return { ok: false, reason: `env.${name}: ${value.error}` };
    }
    jobEnv[name] = value.value;
  }
  return { ok: true, baseCtx, github, jobId, jobEnv, filesDir, eventPath, workdir: opts.workdir };
}

/** What the steps so far left for the next ones: results, the `steps` context, GITHUB_ENV/PATH additions. */
class StepsState {
  readonly results: StepResult[] = [];
  readonly steps: StepsContext = {};
  readonly addedEnv: Record<string, string> = {};
  readonly prependPath: string[] = [];
  jobStatus: 'success' | 'failure' = 'success';
  firstFailure: string | undefined;
  readonly #order: PreparedOrder;
  readonly #onStep: ((result: StepResult) => void) | undefined;
  readonly #masker: Masker;

  constructor(order: PreparedOrder, onStep: ((result: StepResult) => void) | undefined, masker: Masker) {
    this.#order = order;
    this.#onStep = onStep;
    this.#masker = masker;
  }

  /** The env the next step starts from: job env, then GITHUB_ENV additions. */
  envCtx(): Record<string, string> {
    return { ...this.#order.jobEnv, ...this.addedEnv };
  }

  /** The contexts of a step's fields, with the runner's step-time function hashFiles() over the workspace. */
  ctx(env: Record<string, string>): ExpressionContext {
    const workdir = this.#order.workdir;
    return {
      ...this.#order.baseCtx,
      env,
      steps: this.steps,
      job: { status: this.jobStatus },
      functions: { hashFiles: (patterns) => hashFiles(patterns, workdir) },
    };
  }

  /**
   * Records a step's end; `continue-on-error` (as evaluated) turns a failure's conclusion into success. The name is
   * masked here (it may interpolate a secret); annotations and summary come masked from the step run.
   */
  record(
    step: StepSpec,
    name: string,
    end: { outcome: Outcome; exitCode: number | undefined; continueOnError: boolean; run?: StepRun },
    startedAt: number,
  ): StepResult {
    const { outcome, exitCode, run } = end;
    const conclusion: Outcome = outcome === 'failure' && end.continueOnError ? 'success' : outcome;
    const result: StepResult = {
      index: step.index,
      name: this.#masker.mask(name),
      outcome,
      conclusion,
      ...(exitCode === undefined ? {} : { exitCode }),
      durationMs: Date.now() - startedAt,
      ...(run?.annotations === undefined ? {} : { annotations: run.annotations }),
      ...(run?.summary === undefined ? {} : { summary: run.summary }),
    };
    this.results.push(result);
    this.#onStep?.(result);
    if (conclusion === 'failure') {
      this.jobStatus = 'failure';
      this.firstFailure ??= name;
    }
    return result;
  }
}

interface StepDeps {
  readonly opts: ExecuteOptions;
  readonly log: CappedLog;
  readonly stop: OrderStop;
  readonly groups: ProcessGroups;
  readonly commands: WorkflowCommands;
  readonly mask: (text: string) => string;
}

/** One step: its header, its condition, its run, its end line and result. */
async function runOneStep(step: StepSpec, order: PreparedOrder, state: StepsState, deps: StepDeps): Promise<void> {
  const { opts, log, stop } = deps;
  const startedAt = Date.now();
  const envCtx = state.envCtx();
  const name = stepName(step, state.ctx(envCtx));
  log.meta(`##[step] ${name}`);

  const stepOutputs: Record<string, string> = {};
  // Until the step's own `continue-on-error` is evaluated, a failure (of its `if`, say) is not forgiven.
  let continueOnError = false;
  const finish = (outcome: Outcome, exitCode?: number, run?: StepRun): void => {
    const end = { outcome, exitCode, continueOnError, ...(run === undefined ? {} : { run }) };
    const result = state.record(step, name, end, startedAt);
    if (step.id !== undefined) {
      state.steps[step.id] = { outcome: result.outcome, conclusion: result.conclusion, outputs: stepOutputs };
    }
    const code = exitCode === undefined ? '' : `, exit code ${exitCode}`;
    const coe = outcome === 'failure' && continueOnError ? ' (continue-on-error)' : '';
    log.meta(`##[end] ${outcome}${coe}${code}`);
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
  if (isUsesStep(step)) {
    // The action runner comes with the actions issue (#14); until then a `uses:` step fails with this line.
    log.meta(`##[error] ${step.uses}: this agent cannot run actions yet`);
    return finish('failure');
  }
  const { timeoutMinutes: _written, ...rest } = step;
  const runnable: RunnableStep = timeout?.ok === true ? { ...rest, timeoutMinutes: timeout.value } : rest;

  const run = await runStep(runnable, {
    ctx: (env) => state.ctx(env),
    envCtx,
    workdir: opts.workdir,
    tempDir: opts.tempDir,
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
    stop,
    groups: deps.groups,
    log,
    commands: deps.commands,
    mask: deps.mask,
  });
  if (run.commands) {
    Object.assign(stepOutputs, run.commands.outputs);
    Object.assign(state.addedEnv, run.commands.env);
    addToPath(state.prependPath, run.commands.path);
  }
  finish(run.outcome, run.exitCode, run);
}

/** The job's outputs (GitHub evaluates `jobs.<id>.outputs` once the steps are done), conclusion and reason. */
function conclude(
  job: OrderJob,
  order: PreparedOrder,
  state: StepsState,
  end: { stop: OrderStop; signal: AbortSignal | undefined; log: CappedLog; masker: Masker },
): OrderOutcome {
  const { stop, signal, log, masker } = end;
  const outputs: Record<string, string> = {};
  const finalCtx = {
    ...order.baseCtx,
    env: state.envCtx(),
    steps: state.steps,
    job: { status: stop.kind === 'cancelled' ? 'cancelled' : stop.kind === undefined ? state.jobStatus : 'failure' },
  };
  for (const [name, template] of Object.entries(job.outputExprs)) {
    const value = interpolate(template, finalCtx);
    if (!value.ok) log.meta(`##[warning] outputs.${name}: ${value.error}`);
    // The runner's rule (JobExtension.cs): an output that would be masked is not passed on at all.
    else if (masker.contains(value.value)) log.meta(`##[warning]Skip output '${name}' since it may contain secret.`);
    else outputs[name] = value.value;
  }
  const conclusion = stop.kind ?? state.jobStatus;
  const reason =
    stop.kind === 'timed_out'
      ? `the order exceeded its timeout of ${String(job.timeoutMinutes)} minutes`
      : stop.kind === 'cancelled'
        ? cancelReason(signal)
        : state.firstFailure === undefined
          ? undefined
          : `step '${state.firstFailure}' failed`;
  return {
    conclusion,
    outputs,
    stepResults: state.results,
    ...(reason === undefined ? {} : { reason: masker.mask(reason) }),
  };
}

function stepName(step: StepSpec, ctx: ExpressionContext): string {
  if (step.name !== undefined) {
    const name = interpolate(step.name, ctx);
    return name.ok ? name.value : step.name;
  }
  // GitHub's default display names: `Run <action>` for a `uses:` step, `Run <first line>` for a `run:` step.
  if (isUsesStep(step)) return `Run ${step.uses}`;
  const firstLine = step.run.split('\n').find((line) => line.trim() !== '') ?? '';
  return `Run ${firstLine.trim()}`;
}

/** The `strategy` context; a job without a matrix is one job of one (GitHub's values for such a job). */
function strategyOf(job: OrderJob): StrategyContext {
  return job.strategy ?? { 'fail-fast': true, 'job-index': 0, 'job-total': 1, 'max-parallel': 1 };
}

function cancelReason(signal: AbortSignal | undefined): string {
  const reason: unknown = signal?.reason;
  return typeof reason === 'string' && reason !== '' ? reason : 'the order was cancelled';
}
