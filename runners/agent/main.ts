/**
 * The agent: the program a cloud runner starts (EC2 user data, a CodeBuild buildspec) to run one order. It exchanges
 * its one-time bootstrap token for the order, checks out the commit, runs the steps with `executeOrder` exactly as
 * the local runner does, streams log chunks and step results to the callback route, watches for a Spot
 * interruption notice, and on every exit path sends one final report and powers the machine off (the instance's
 * `InstanceInitiatedShutdownBehavior=terminate` makes that a termination).
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import pino, { type Logger } from 'pino';
import type { AgentReport, OrderJob } from '../runner.ts';
import {
  createCallbackClient,
  createReportStream,
  type Delivery,
  type ReportStreamOptions,
} from './callback-client.ts';
import { checkoutCommit, redactCloneUrl } from './checkout.ts';
import { createActionCache } from './actions/action-cache.ts';
import { createRemoteActionFetcher } from './actions/remote-action-fetcher.ts';
import { executeOrder, finishedReport } from './execute-order.ts';
import { createImdsClient, watchSpotInterruption, type SpotNotice } from './imds.ts';

export interface AgentOptions {
  /** `<public URL>/api/agent/bootstrap`. */
  readonly bootstrapUrl: string;
  readonly bootstrapToken: string;
  /** A folder the agent may use; each run makes its own directory in it and removes it at the end. */
  readonly workdir: string;
  /** The instance metadata service; `false` where there is none (CodeBuild, a developer's machine). */
  readonly imdsUrl?: string | false;
  readonly imdsPollMs?: number;
  /** Called exactly once, last, on every path (default in `agentMain`: `sudo shutdown -h now`). */
  readonly powerOff: () => Promise<void>;
  readonly fetch?: typeof fetch;
  readonly logger?: Logger;
  /** Aborted when the agent must stop (SIGTERM: the instance is shutting down). */
  readonly signal?: AbortSignal;
  /** The environment steps start from. Default: PATH and HOME only — never the agent's own (bootstrap token). */
  readonly baseEnv?: Readonly<Record<string, string>>;
  readonly killGraceMs?: number;
  /** Report retry and coalescing settings (defaults: 500 ms / 64 KiB, 1 min per progress report, 10 min final). */
  readonly reports?: ReportStreamOptions & { readonly baseBackoffMs?: number; readonly maxBackoffMs?: number };
  /** How long the bootstrap exchange is retried when the server cannot be reached. */
  readonly bootstrapDeadlineMs?: number;
  /** Downloaded actions, by commit (kept across orders when the folder outlives the agent). Default: `<workdir>/actions`. */
  readonly actionsCacheDir?: string;
}

export interface AgentResult {
  /** 0 when the order's final report was delivered; 1 otherwise. */
  readonly exitCode: number;
  /** What was (or would have been) reported last; undefined when the bootstrap failed. */
  readonly final?: AgentReport & { readonly type: 'finished' | 'interrupted' };
  readonly delivered: boolean;
}

interface BootstrapAnswer {
  readonly job: OrderJob;
  readonly reportToken: string;
  readonly reportUrl: string;
  readonly logUrl?: string;
}

type Final = AgentReport & { readonly type: 'finished' | 'interrupted' };

const DEFAULT_BOOTSTRAP_DEADLINE_MS = 5 * 60_000;

/** Runs one order start to end. Never throws; `powerOff` is called once, after everything else. */
export async function runAgent(opts: AgentOptions): Promise<AgentResult> {
  const logger = opts.logger ?? pino({ level: 'silent' });
  try {
    return await runOrder(opts, logger);
  } catch (error) {
    logger.error({ err: scrubError(error, []) }, 'agent failed');
    return { exitCode: 1, delivered: false };
  } finally {
    try {
      await opts.powerOff();
    } catch (error) {
      logger.error({ err: error }, 'power-off failed');
    }
  }
}

async function runOrder(opts: AgentOptions, logger: Logger): Promise<AgentResult> {
  const doFetch = opts.fetch ?? fetch;
  const boot = await exchangeBootstrapToken(opts, doFetch, logger);
  if (!boot.ok) {
    logger.error({ status: boot.status, why: boot.error }, 'bootstrap exchange failed');
    return { exitCode: 1, delivered: false };
  }
  const { job, reportToken, reportUrl } = boot.answer;
  const log = logger.child({ runId: job.ref.runId, orderId: job.ref.orderId, attempt: job.ref.attempt });
  const secrets = [
    job.cloneUrl,
    reportToken,
    opts.bootstrapToken,
    job.actionsSource?.token ?? '',
    job.idToken?.token ?? '',
  ];
  log.info('order received');

  const client = createCallbackClient({
    reportUrl,
    reportToken,
    fetch: doFetch,
    logger: log,
    ...(opts.reports?.baseBackoffMs === undefined ? {} : { baseBackoffMs: opts.reports.baseBackoffMs }),
    ...(opts.reports?.maxBackoffMs === undefined ? {} : { maxBackoffMs: opts.reports.maxBackoffMs }),
  });

  const controller = new AbortController();
  let interruption: string | undefined;
  const interrupt = (reason: string): void => {
    interruption ??= reason;
    controller.abort(reason);
  };
  const stream = createReportStream(client, {
    ...opts.reports,
    // The order is over on the server (cancelled, timed out, superseded) or the token is refused: stop working.
    onRefused: () => controller.abort('the server no longer accepts reports for this order'),
  });
  const onExternalStop = (): void => interrupt(`the agent was stopped: ${reasonOf(opts.signal)}`);
  if (opts.signal?.aborted === true) onExternalStop();
  else opts.signal?.addEventListener('abort', onExternalStop, { once: true });

  let imdsErrorLogged = false;
  const watch =
    opts.imdsUrl === false
      ? undefined
      : watchSpotInterruption({
          imds: createImdsClient({
            ...(opts.imdsUrl === undefined ? {} : { baseUrl: opts.imdsUrl }),
            fetch: doFetch,
          }),
          ...(opts.imdsPollMs === undefined ? {} : { intervalMs: opts.imdsPollMs }),
          onNotice: (notice: SpotNotice) => {
            log.warn({ action: notice.action, time: notice.time }, 'spot interruption notice');
            // AWS gives two minutes (the Spot interruption notice): stop the steps now and report while we can.
            interrupt(`Spot interruption notice: ${notice.action} at ${notice.time || 'an unknown time'}`);
          },
          onError: (error) => {
            if (imdsErrorLogged) return;
            imdsErrorLogged = true;
            log.warn({ why: error }, 'cannot read the instance metadata service; interruption notices are not seen');
          },
        });

  let workBase: string | undefined;
  let final: Final;
  try {
    stream.send({ type: 'running' });
    await mkdir(opts.workdir, { recursive: true });
    workBase = await mkdtemp(path.join(opts.workdir, 'order-'));
    final = await execute(job, workBase, controller.signal, stream, opts);
  } catch (error) {
    log.error({ err: scrubError(error, secrets) }, 'execution failed');
    final = { type: 'interrupted', reason: `agent error: ${scrub(messageOf(error), secrets)}` };
  } finally {
    watch?.stop();
    opts.signal?.removeEventListener('abort', onExternalStop);
  }
  // An interruption (Spot notice, SIGTERM) is not the order's fault: `interrupted` lets the orchestrator retry it.
  if (interruption !== undefined) final = { type: 'interrupted', reason: interruption };

  const delivery: Delivery = await stream.finish(final);
  if (delivery.ok) log.info({ report: final.type }, 'final report delivered');
  else log.error({ report: final.type, status: delivery.status, why: delivery.error }, 'final report not delivered');
  if (workBase !== undefined) await rm(workBase, { recursive: true, force: true }).catch(() => undefined);
  return { exitCode: delivery.ok ? 0 : 1, final, delivered: delivery.ok };
}

async function execute(
  job: OrderJob,
  workBase: string,
  signal: AbortSignal,
  stream: ReturnType<typeof createReportStream>,
  opts: AgentOptions,
): Promise<Final> {
  const workdir = path.join(workBase, 'src');
  const tempDir = path.join(workBase, 'tmp');
  await mkdir(tempDir);
  const baseEnv = opts.baseEnv ?? cleanBaseEnv(process.env, opts.workdir);
  const onLog = (chunk: string): void => stream.log(chunk);

  onLog(`##[checkout] ${job.sha}\n`);
  const checkout = await checkoutCommit(job, workdir, baseEnv, signal);
  if (!checkout.ok) {
    // checkoutCommit already removed the clone URL (it carries a token) from git's message.
    onLog(`##[error] checkout failed: ${checkout.error}\n`);
    if (signal.aborted)
      return { type: 'finished', conclusion: 'cancelled', outputs: {}, stepResults: [], reason: reasonOf(signal) };
    return {
      type: 'finished',
      conclusion: checkout.timedOut ? 'timed_out' : 'failure',
      outputs: {},
      stepResults: [],
      reason: `checkout failed: ${checkout.error}`,
    };
  }
  const outcome = await executeOrder({
    job,
    workdir,
    tempDir,
    baseEnv,
    onLog,
    onStep: (result) => stream.send({ type: 'step', result }),
    signal,
    actionFetcher: createRemoteActionFetcher({
      source: job.actionsSource,
      cache: createActionCache({
        dir: opts.actionsCacheDir ?? path.join(opts.workdir, 'actions'),
        ...(opts.fetch === undefined ? {} : { fetch: opts.fetch }),
      }),
    }),
    ...(opts.killGraceMs === undefined ? {} : { killGraceMs: opts.killGraceMs }),
  });
  onLog(`##[conclusion] ${outcome.conclusion}${outcome.reason === undefined ? '' : `: ${outcome.reason}`}\n`);
  return finishedReport(outcome);
}

type Exchange =
  | { readonly ok: true; readonly answer: BootstrapAnswer }
  | { readonly ok: false; readonly status?: number; readonly error: string };

/**
 * The one-time exchange. Retried while the server cannot be reached or answers 5xx (the instance may boot before a
 * load balancer sees the server); a 4xx is final — the token is spent, expired or unknown, or the order is over.
 */
async function exchangeBootstrapToken(opts: AgentOptions, doFetch: typeof fetch, logger: Logger): Promise<Exchange> {
  const deadline = Date.now() + (opts.bootstrapDeadlineMs ?? DEFAULT_BOOTSTRAP_DEADLINE_MS);
  const base = opts.reports?.baseBackoffMs ?? 500;
  const cap = opts.reports?.maxBackoffMs ?? 30_000;
  for (let attempt = 0; ; attempt++) {
    let result: Exchange & { retry: boolean };
    try {
      const res = await doFetch(opts.bootstrapUrl, {
        method: 'POST',
        headers: { authorization: `Bearer ${opts.bootstrapToken}` },
        signal: AbortSignal.timeout(30_000),
      });
      if (res.ok) {
        const answer = parseBootstrapAnswer(await res.json().catch(() => undefined));
        return answer === undefined ? { ok: false, status: res.status, error: 'the answer is not an order' } : answer;
      }
      const body = (await res.text().catch(() => '')).trim().slice(0, 200);
      result = { ok: false, status: res.status, error: body, retry: res.status >= 500 || res.status === 429 };
    } catch (error) {
      result = { ok: false, error: scrub(messageOf(error), [opts.bootstrapToken]), retry: true };
    }
    const wait = Math.random() * Math.min(cap, base * 2 ** attempt);
    if (!result.retry || Date.now() + wait >= deadline) return result;
    logger.debug({ status: result.status, attempt }, 'bootstrap exchange failed; retrying');
    if (opts.signal?.aborted === true) return result;
    await delay(wait);
  }
}

function parseBootstrapAnswer(value: unknown): { ok: true; answer: BootstrapAnswer } | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { job, reportToken, reportUrl, logUrl } = value as Record<string, unknown>;
  if (typeof reportToken !== 'string' || typeof reportUrl !== 'string') return undefined;
  if (typeof job !== 'object' || job === null) return undefined;
  const j = job as Record<string, unknown>;
  const ref = j.ref as Record<string, unknown> | null | undefined;
  if (typeof ref !== 'object' || ref === null || typeof ref.runId !== 'string' || typeof ref.orderId !== 'string')
    return undefined;
  if (typeof j.cloneUrl !== 'string' || typeof j.sha !== 'string' || !Array.isArray(j.steps)) return undefined;
  return {
    ok: true,
    answer: {
      job: job as OrderJob,
      reportToken,
      reportUrl,
      ...(typeof logUrl === 'string' ? { logUrl } : {}),
    },
  };
}

/** PATH and HOME from the agent's environment, nothing else: the agent's own variables hold its bootstrap token. */
export function cleanBaseEnv(env: NodeJS.ProcessEnv, workdir: string): Record<string, string> {
  return { PATH: env.PATH ?? '/usr/local/bin:/usr/bin:/bin', HOME: env.HOME ?? workdir };
}

function reasonOf(signal: AbortSignal | undefined): string {
  const reason: unknown = signal?.reason;
  return typeof reason === 'string' && reason !== '' ? reason : 'stopped';
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Removes every secret (and any user-info part of a URL) from a message. */
function scrub(message: string, secrets: readonly string[]): string {
  let out = message;
  for (const secret of secrets) if (secret !== '') out = redactCloneUrl(out, secret);
  return redactCloneUrl(out, '');
}

function scrubError(error: unknown, secrets: readonly string[]): { name: string; message: string } {
  return {
    name: error instanceof Error ? error.name : 'Error',
    message: scrub(messageOf(error), secrets),
  };
}

/** `sudo shutdown -h now`, or the command named by `SPOTCHECK_POWER_OFF` (a JSON argv array; `none` for none). */
export function powerOffCommand(env: NodeJS.ProcessEnv): (() => Promise<void>) | undefined {
  const raw = env.SPOTCHECK_POWER_OFF;
  if (raw === 'none') return () => Promise.resolve();
  let argv: string[] = ['sudo', 'shutdown', '-h', 'now'];
  if (raw !== undefined && raw !== '') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      return undefined;
    }
    if (!Array.isArray(parsed) || parsed.length === 0 || !parsed.every((a) => typeof a === 'string')) return undefined;
    argv = parsed;
  }
  const [command, ...args] = argv as [string, ...string[]];
  return () =>
    new Promise<void>((resolve, reject) => {
      const child = spawn(command, args, { stdio: 'ignore', env: cleanBaseEnv(env, '/') });
      child.once('error', reject);
      child.once('close', (code) =>
        code === 0 ? resolve() : reject(new Error(`${command} exited with ${String(code)}`)),
      );
    });
}

/**
 * The program: reads `SPOTCHECK_BOOTSTRAP_URL` and `SPOTCHECK_BOOTSTRAP_TOKEN` (user data exports them for the
 * agent only), `SPOTCHECK_WORKDIR`, `SPOTCHECK_RUNNER` (`codebuild`: no metadata service, and no power-off — the
 * build ends when the agent exits), `SPOTCHECK_IMDS_URL` (`off` where there is none), `SPOTCHECK_IMDS_POLL_MS` and
 * `SPOTCHECK_POWER_OFF`; SIGTERM and SIGINT stop the order (reported `interrupted`). Returns the exit code.
 * Misconfigured, it still powers off: an instance that cannot work must not linger.
 */
export async function agentMain(
  env: NodeJS.ProcessEnv,
  logger: Logger = pino({ name: 'spotcheck-agent' }),
): Promise<number> {
  const bootstrapUrl = env.SPOTCHECK_BOOTSTRAP_URL ?? '';
  const bootstrapToken = env.SPOTCHECK_BOOTSTRAP_TOKEN ?? '';
  // Not passed on to anything the agent starts (steps get a clean environment anyway).
  delete env.SPOTCHECK_BOOTSTRAP_TOKEN;
  const codebuild = env.SPOTCHECK_RUNNER === 'codebuild';
  const powerOff = powerOffCommand(
    codebuild && env.SPOTCHECK_POWER_OFF === undefined ? { SPOTCHECK_POWER_OFF: 'none' } : env,
  );
  const imdsRaw = codebuild ? 'off' : env.SPOTCHECK_IMDS_URL;
  const pollMs = Number(env.SPOTCHECK_IMDS_POLL_MS ?? '');
  const problems = [
    ...(bootstrapUrl === '' ? ['SPOTCHECK_BOOTSTRAP_URL is not set'] : []),
    ...(bootstrapToken === '' ? ['SPOTCHECK_BOOTSTRAP_TOKEN is not set'] : []),
    ...(powerOff === undefined ? ['SPOTCHECK_POWER_OFF is not a JSON array of strings'] : []),
  ];
  const doPowerOff = powerOff ?? powerOffCommand({ ...env, SPOTCHECK_POWER_OFF: '' })!;
  if (problems.length > 0) {
    logger.error({ problems }, 'the agent is not configured');
    await doPowerOff().catch((err: unknown) => logger.error({ err }, 'power-off failed'));
    return 2;
  }

  const controller = new AbortController();
  const onSignal = (name: NodeJS.Signals) => (): void => controller.abort(`${name}: the instance is shutting down`);
  const handlers = (['SIGTERM', 'SIGINT'] as const).map((name) => [name, onSignal(name)] as const);
  // `on`, not `once`: a second signal while the final report is on its way must not kill the agent before it.
  for (const [name, handler] of handlers) process.on(name, handler);
  try {
    const result = await runAgent({
      bootstrapUrl,
      bootstrapToken,
      workdir: env.SPOTCHECK_WORKDIR || path.join(tmpdir(), 'spotcheck-agent'),
      ...(imdsRaw === 'off' ? { imdsUrl: false } : imdsRaw ? { imdsUrl: imdsRaw } : {}),
      ...(Number.isFinite(pollMs) && pollMs > 0 ? { imdsPollMs: pollMs } : {}),
      powerOff: doPowerOff,
      logger,
      signal: controller.signal,
      baseEnv: cleanBaseEnv(env, tmpdir()),
    });
    return result.exitCode;
  } finally {
    for (const [name, handler] of handlers) process.off(name, handler);
  }
}
