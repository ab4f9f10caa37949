import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { interpolate } from '../../src/core/workflow/expressions.ts';
import type { StepResult, StrategyContext } from '../../src/core/types.ts';
import type { AgentReport, OrderJob } from '../runner.ts';
import { ActionSession, type PostStep } from './actions/action-session.ts';
import { runPostSteps, runPreSteps } from './actions/run-action-stages.ts';
import { createCappedLog, type CappedLog } from './capped-log.ts';
import { Masker } from './masker.ts';
import { minutesToMs, OrderStop, ProcessGroups } from './order-stop.ts';
import { runOneStep } from './run-one-step.ts';
import type { ExecuteOptions, StepDeps } from './step-deps.ts';
import { runnerContext } from './step-env.ts';
import { handOver } from './run-as.ts';
import { StepsState, type PreparedOrder } from './steps-state.ts';
import { WorkflowCommands } from './workflow-commands.ts';

/** SIGTERM → SIGKILL grace, as `docker stop` and the Actions runner give a cancelled process. */
export const DEFAULT_KILL_GRACE_MS = 5_000;
/** Beyond this much step output the log keeps only step headers and ends, so a noisy step cannot fill the disk. */
export const DEFAULT_MAX_LOG_BYTES = 16 * 1024 * 1024;

export type { ExecuteOptions } from './step-deps.ts';

export interface OrderOutcome {
  conclusion: 'success' | 'failure' | 'cancelled' | 'timed_out';
  outputs: Record<string, string>;
  stepResults: StepResult[];
  reason?: string;
}

/**
 * Runs one order's steps in `workdir`, with GitHub Actions' semantics (docs.github.com › workflow syntax ›
 * `jobs.<job_id>.steps`): step `if` (default `success()`), `continue-on-error`, per-step and per-order
 * `timeout-minutes`, `working-directory`, `shell`, `env`, the `GITHUB_OUTPUT` / `GITHUB_ENV` / `GITHUB_PATH` /
 * `GITHUB_STATE` file commands, `uses:` actions (JavaScript and composite; their `pre` stages before the first step
 * and `post` stages after the last, as GitHub's runner orders them), and the job's `outputs` evaluated at the end
 * over the `steps` context. Expected failures (a step exits non-zero, an expression does not evaluate, a timeout,
 * an action that cannot be found) are in the outcome; this never throws for them.
 */
export async function executeOrder(opts: ExecuteOptions): Promise<OrderOutcome> {
  const { job } = opts;
  // One masker for everything the order sends out: log, step names, annotations, summaries, outputs, reason.
  const masker = orderMasker(opts);
  const mask = (text: string): string => masker.mask(text);
  const log = createCappedLog(opts.onLog, opts.maxLogBytes ?? DEFAULT_MAX_LOG_BYTES, mask);
  const commands = new WorkflowCommands({ masker, workspace: opts.workdir });
  const stop = new OrderStop(opts.signal, minutesToMs(job.timeoutMinutes));
  const groups = new ProcessGroups(opts.killGraceMs ?? DEFAULT_KILL_GRACE_MS);
  try {
    const order = await prepareOrder(opts, log);
    if (!order.ok) return { conclusion: 'failure', outputs: {}, stepResults: [], reason: mask(order.reason) };
    const state = new StepsState(order, { mask, ...(opts.onStep === undefined ? {} : { onStep: opts.onStep }) });
    const posts: PostStep[] = [];
    const actions = new ActionSession(opts.actionFetcher, opts.workdir);
    const deps: StepDeps = { opts, log, stop, groups, actions, commands, mask, depth: 0, posts, runOneStep };
    await runPreSteps(job.steps, state, deps);
    for (const step of job.steps) await runOneStep(step, state, deps);
    await runPostSteps(posts, state, deps);
    return conclude(job, order, state, { stop, signal: opts.signal, log, masker });
  } finally {
    stop.dispose();
    await groups.killAll();
  }
}

/** What is masked from the start: the order's token, every secret, the actions source's token, the caller's. */
function orderMasker(opts: ExecuteOptions): Masker {
  const { job } = opts;
  const masker = new Masker();
  const values = [job.token, ...Object.values(job.secrets ?? {}), job.actionsSource?.token, ...(opts.masks ?? [])];
  for (const value of values) if (value !== undefined) masker.add(value);
  return masker;
}

/**
 * The `finished` report of an outcome. Step summaries are left out: each went with its step's `step` report (the
 * server keeps it from there, src/core/step-results.ts), and a summary may be 1 MiB, too much to send twice.
 */
export function finishedReport(outcome: OrderOutcome): AgentReport & { readonly type: 'finished' } {
  const stepResults = outcome.stepResults.map(({ summary: _sent, ...result }) => result);
  return { type: 'finished', ...outcome, stepResults };
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
  await handOver([filesDir, eventPath], opts.runAs);

  const github = {
    ...job.github,
    sha: job.sha,
    repository: job.github.repository || job.repository,
    workspace: opts.workdir,
    job: jobId,
    run_attempt: String(job.ref.attempt),
    event_path: eventPath,
    ...forgeContext(job),
    // GitHub's github.token and secrets.GITHUB_TOKEN; not in the steps' env (GitHub puts it there only when asked).
    token: job.token ?? '',
  };
  const runner = runnerContext(opts.tempDir);
  // `secrets` is evaluated here, on the runner, and nowhere else (the job's values; the masker registers them).
  const secrets = { ...job.secrets, ...(job.token === undefined ? {} : { GITHUB_TOKEN: job.token }) };
  const baseCtx = {
    github,
    matrix: job.matrix,
    needs: job.needs,
    runner,
    strategy: strategyOf(job),
    secrets,
    vars: job.vars ?? {},
    inputs: job.inputs ?? {},
  };

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

/** `github.server_url`, `api_url` and `graphql_url` from the forge the run came from (as the env variables). */
function forgeContext(job: OrderJob): { server_url: string; api_url: string; graphql_url: string } {
  const urls = job.forgeUrls;
  if (urls === undefined) return { server_url: job.github.server_url, api_url: '', graphql_url: '' };
  return { server_url: urls.server, api_url: urls.api, graphql_url: urls.graphql };
}

/** The `strategy` context; a job without a matrix is one job of one (GitHub's values for such a job). */
function strategyOf(job: OrderJob): StrategyContext {
  return job.strategy ?? { 'fail-fast': true, 'job-index': 0, 'job-total': 1, 'max-parallel': 1 };
}

function cancelReason(signal: AbortSignal | undefined): string {
  const reason: unknown = signal?.reason;
  return typeof reason === 'string' && reason !== '' ? reason : 'the order was cancelled';
}
