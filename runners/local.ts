import { chmodSync, createWriteStream, mkdtempSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Logger } from 'pino';
import { createActionCache, type ActionCache } from './agent/actions/action-cache.ts';
import { createRemoteActionFetcher } from './agent/actions/remote-action-fetcher.ts';
import { checkoutCommit } from './agent/checkout.ts';
import { executeOrder, finishedReport } from './agent/execute-order.ts';
import { handOver, type RunAs } from './agent/run-as.ts';
import { recordUserRoot, sweepLocalLeftovers, USER_ROOT_PREFIX } from './local-leftovers.ts';
import type { AgentReport, LaunchRequest, LaunchResult, OrderJob, OrderRef, ReportSink, Runner } from './runner.ts';

export interface LocalRunnerOptions {
  readonly sink: ReportSink;
  /**
   * Working directories go to `<dataDir>/work/`, logs to `<dataDir>/logs/` (see `logPath`). A relative folder is
   * taken relative to the process's working directory when the runner is created (git runs in other folders).
   */
  readonly dataDir: string;
  /**
   * The environment steps start from, asked once per launch. Under `serve` this is a clean PATH/HOME — never the
   * bot's own environment (private key, webhook secret, forge token, AWS credentials); `spotcheck run` passes the
   * caller's environment through, as `make` would.
   */
  readonly baseEnv: () => Record<string, string>;
  readonly logger?: Logger;
  /** SIGTERM → SIGKILL grace when a step is stopped. */
  readonly killGraceMs?: number;
  /** Log chunks are coalesced into one `log` report per this many ms … */
  readonly logFlushMs?: number;
  /** … or per this many bytes, whichever comes first. */
  readonly logFlushBytes?: number;
  readonly maxLogBytes?: number;
  /**
   * Downloaded actions, by commit, shared by all orders. Default: `<dataDir>/actions/`, or with a `user`, the
   * `actions` folder of the runner's own folder (the step user reads actions; the data folder is the server's).
   */
  readonly actionCache?: ActionCache;
  /**
   * Steps and the checkout run as this unprivileged user (the server must be root): each order gets a folder of
   * theirs (mode 0700) holding the checkout, `HOME` and the temporary folder, under a folder the runner makes in
   * the system's temporary folder, outside the data folder, which stays the server's alone.
   */
  readonly user?: { readonly name: string } & RunAs;
  /** When set, pull_request and testme orders fail with this reason instead of running (PR code as the server). */
  readonly refusePullRequests?: string;
  /**
   * At creation, kill and remove what an earlier runner on this data folder left (`sweepLocalLeftovers`): for the
   * one server that owns the folder, whose orders are retried after a crash; never for runners that may share it.
   */
  readonly sweepLeftovers?: boolean;
}

/** Events whose code comes from a pull request, which anyone may open. */
const PULL_REQUEST_EVENTS: ReadonlySet<string> = new Set(['pull_request', 'pull_request_target', 'testme']);

export type LocalRunner = Runner & {
  /** Resolves once no execution is in flight (every launched order has reported `finished` or `interrupted`). */
  idle(): Promise<void>;
};

const DEFAULT_LOG_FLUSH_MS = 250;
const DEFAULT_LOG_FLUSH_BYTES = 64 * 1024;
/** Finished executions remembered for launch idempotency; older ones are forgotten first. */
const MAX_REMEMBERED = 10_000;

/** Where the log of one attempt of one order is written; the server's log page and the CLI read it. */
export function logPath(dataDir: string, ref: OrderRef): string {
  return path.join(runLogDir(dataDir, ref.runId), `${safeSegment(ref.orderId)}.${ref.attempt}.log`);
}

/** The folder of one run's logs (removed with the run when it expires). */
export function runLogDir(dataDir: string, runId: string): string {
  return path.join(dataDir, 'logs', safeSegment(runId));
}

interface Execution {
  readonly handle: string;
  readonly controller: AbortController;
  done: boolean;
  promise: Promise<void>;
}

/**
 * Runs orders as local processes: clones the commit into a fresh directory under `dataDir`, runs the steps with
 * `executeOrder`, streams the log to a file and to the sink, and removes the directory afterwards. Steps run on
 * this host with its privileges — production routes use Spot or CodeBuild (README, "Security").
 */
export function createLocalRunner(options: LocalRunnerOptions): LocalRunner {
  const dataDir = path.resolve(options.dataDir);
  const owner = options.sweepLeftovers === true && sweepLocalLeftovers(dataDir, options.logger);
  const userRoot = options.user === undefined ? undefined : createUserRoot();
  if (userRoot !== undefined && owner) recordUserRoot(dataDir, userRoot);
  const opts: RunnerOptions = {
    ...options,
    dataDir,
    workRoot: userRoot ?? path.join(dataDir, 'work'),
    actionCache: options.actionCache ?? createActionCache({ dir: path.join(userRoot ?? dataDir, 'actions') }),
  };
  const executions = new Map<string, Execution>();
  const inFlight = new Set<Execution>();

  const forgetOldest = (): void => {
    if (executions.size <= MAX_REMEMBERED) return;
    for (const [handle, execution] of executions) {
      if (executions.size <= MAX_REMEMBERED) break;
      if (execution.done) executions.delete(handle);
    }
  };

  return {
    kind: 'local',

    launch(request: LaunchRequest): Promise<LaunchResult> {
      const handle = handleOf(request.job.ref);
      // Idempotent per run/order/attempt (the Runner contract): a repeated launch starts nothing.
      if (executions.has(handle)) return Promise.resolve({ handle });
      const execution: Execution = {
        handle,
        controller: new AbortController(),
        done: false,
        promise: Promise.resolve(),
      };
      executions.set(handle, execution);
      inFlight.add(execution);
      execution.promise = new Promise<void>((resolve) => setImmediate(resolve))
        .then(() => runExecution(request.job, execution.controller.signal, opts))
        .catch((err: unknown) => opts.logger?.error({ err, handle }, 'local execution crashed'))
        .finally(() => {
          execution.done = true;
          inFlight.delete(execution);
          forgetOldest();
        });
      return Promise.resolve({ handle });
    },

    terminate(handle: string, reason: string): Promise<void> {
      const execution = executions.get(handle);
      // Terminating a gone or unknown handle is not an error (the Runner contract).
      if (execution !== undefined && !execution.done) execution.controller.abort(reason);
      return Promise.resolve();
    },

    isAlive(handle: string): Promise<boolean> {
      const execution = executions.get(handle);
      return Promise.resolve(execution !== undefined && !execution.done);
    },

    async idle(): Promise<void> {
      while (inFlight.size > 0) {
        await Promise.all([...inFlight].map((execution) => execution.promise));
      }
    },
  };
}

type RunnerOptions = LocalRunnerOptions & { readonly actionCache: ActionCache; readonly workRoot: string };

/**
 * The folder the step user's order folders (and the action cache) live in: made fresh at start in the system's
 * temporary folder (mkdtemp: a name nobody could have prepared, mode 0700), then opened to others for traversal
 * only (0711): the step user reaches their own folders in it but cannot list it.
 */
function createUserRoot(): string {
  const dir = mkdtempSync(path.join(tmpdir(), USER_ROOT_PREFIX));
  chmodSync(dir, 0o711);
  return dir;
}

function handleOf(ref: OrderRef): string {
  return `local:${ref.runId}/${ref.orderId}/${ref.attempt}`;
}

/** One attempt, start to end. Every path reports exactly one `finished` or `interrupted`, last. */
async function runExecution(job: OrderJob, signal: AbortSignal, opts: RunnerOptions): Promise<void> {
  const { ref } = job;
  const logger = opts.logger?.child({ runId: ref.runId, orderId: ref.orderId, attempt: ref.attempt });
  const reporter = createReporter(opts.sink, ref, logger, {
    flushMs: opts.logFlushMs ?? DEFAULT_LOG_FLUSH_MS,
    flushBytes: opts.logFlushBytes ?? DEFAULT_LOG_FLUSH_BYTES,
  });
  const refusal = opts.refusePullRequests;
  if (refusal !== undefined && PULL_REQUEST_EVENTS.has(job.github.event_name)) {
    reporter.log(`##[error] ${refusal}\n`);
    await reporter.send({ type: 'finished', conclusion: 'failure', outputs: {}, stepResults: [], reason: refusal });
    return;
  }
  let final: AgentReport | undefined;
  let workBase: string | undefined;
  let logFile: ReturnType<typeof createWriteStream> | undefined;
  try {
    void reporter.send({ type: 'running' });
    const file = logPath(opts.dataDir, ref);
    await mkdir(path.dirname(file), { recursive: true });
    const stream = createWriteStream(file, { flags: 'w' });
    stream.on('error', (err) => logger?.warn({ err }, 'cannot write the order log'));
    logFile = stream;
    const onLog = (chunk: string): void => {
      stream.write(chunk);
      reporter.log(chunk);
    };

    await mkdir(opts.workRoot, { recursive: true });
    workBase = await mkdtemp(path.join(opts.workRoot, `${safeSegment(ref.runId)}-${safeSegment(ref.orderId)}-`));
    const workdir = path.join(workBase, 'src');
    const tempDir = path.join(workBase, 'tmp');
    await mkdir(tempDir, { mode: 0o700 });
    let baseEnv = opts.baseEnv();
    const { user } = opts;
    if (user !== undefined) {
      // The order's folder, HOME and temporary folder are the step user's (mkdtemp and mkdir make them 0700);
      // git creates the checkout in it as that user.
      const home = path.join(workBase, 'home');
      await mkdir(home, { mode: 0o700 });
      await handOver([workBase, tempDir, home], user);
      baseEnv = { ...baseEnv, HOME: home, TMPDIR: tempDir, USER: user.name, LOGNAME: user.name };
    }

    onLog(`##[checkout] ${job.sha}\n`);
    const checkout = await checkoutCommit(job, workdir, baseEnv, signal, user);
    if (!checkout.ok) {
      onLog(`##[error] checkout failed: ${checkout.error}\n`);
      final = signal.aborted
        ? { type: 'finished', conclusion: 'cancelled', outputs: {}, stepResults: [], reason: reasonOf(signal) }
        : {
            type: 'finished',
            conclusion: checkout.timedOut ? 'timed_out' : 'failure',
            outputs: {},
            stepResults: [],
            reason: `checkout failed: ${checkout.error}`,
          };
    } else {
      const outcome = await executeOrder({
        job,
        workdir,
        tempDir,
        baseEnv,
        onLog,
        onStep: (result) => void reporter.send({ type: 'step', result }),
        signal,
        actionFetcher: createRemoteActionFetcher({ source: job.actionsSource, cache: opts.actionCache }),
        ...(user === undefined ? {} : { runAs: { uid: user.uid, gid: user.gid } }),
        ...(opts.killGraceMs === undefined ? {} : { killGraceMs: opts.killGraceMs }),
        ...(opts.maxLogBytes === undefined ? {} : { maxLogBytes: opts.maxLogBytes }),
      });
      onLog(`##[conclusion] ${outcome.conclusion}${outcome.reason === undefined ? '' : `: ${outcome.reason}`}\n`);
      final = finishedReport(outcome);
    }
  } catch (err) {
    logger?.error({ err }, 'local execution failed');
    final = { type: 'interrupted', reason: `local runner error: ${err instanceof Error ? err.message : String(err)}` };
  } finally {
    if (logFile !== undefined) {
      const stream = logFile;
      await new Promise<void>((resolve) => stream.end(resolve));
    }
    if (workBase !== undefined) {
      await rm(workBase, { recursive: true, force: true }).catch((err: unknown) =>
        logger?.warn({ err }, 'cannot remove the working directory'),
      );
    }
  }
  await reporter.send(final ?? { type: 'interrupted', reason: 'local runner error: no outcome' });
}

interface Reporter {
  /** Queues a report after every earlier one (and after the log chunks buffered so far). */
  send(report: AgentReport): Promise<void>;
  log(chunk: string): void;
}

/**
 * Reports to the sink strictly in order. Log chunks are coalesced so a chatty step costs a few reports a second,
 * not one per write. A failing sink is logged and skipped: the orchestrator's watchdog (`isAlive`) recovers an
 * order whose reports were lost.
 */
function createReporter(
  sink: ReportSink,
  ref: OrderRef,
  logger: Logger | undefined,
  limits: { readonly flushMs: number; readonly flushBytes: number },
): Reporter {
  let chain = Promise.resolve();
  let buffered: string[] = [];
  let bufferedBytes = 0;
  let timer: NodeJS.Timeout | undefined;

  const enqueue = (report: AgentReport): Promise<void> => {
    chain = chain.then(
      () =>
        sink.report(ref, report).catch((err: unknown) => {
          logger?.warn({ err, report: report.type }, 'report to the sink failed');
        }),
      () => undefined,
    );
    return chain;
  };
  const flush = (): void => {
    clearTimeout(timer);
    timer = undefined;
    if (buffered.length === 0) return;
    const chunk = buffered.join('');
    buffered = [];
    bufferedBytes = 0;
    void enqueue({ type: 'log', chunk });
  };

  return {
    send(report) {
      flush();
      return enqueue(report);
    },
    log(chunk) {
      buffered.push(chunk);
      bufferedBytes += Buffer.byteLength(chunk);
      if (bufferedBytes >= limits.flushBytes) flush();
      else timer ??= setTimeout(flush, limits.flushMs);
    },
  };
}

function reasonOf(signal: AbortSignal): string {
  const reason: unknown = signal.reason;
  return typeof reason === 'string' && reason !== '' ? reason : 'the order was cancelled';
}

/** A path segment that cannot escape its directory. */
function safeSegment(value: string): string {
  const cleaned = value.replace(/[^A-Za-z0-9._-]/g, '_');
  return /^\.*$/.test(cleaned) ? `_${cleaned}` : cleaned;
}
