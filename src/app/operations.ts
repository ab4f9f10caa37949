/**
 * The cloud runners' operations without the HTTP server: `spotcheck watchdog` (one orchestrator tick and one
 * janitor sweep, once for an external scheduler — cron, EventBridge — or in a loop) and `spotcheck janitor`.
 *
 * Built from the operator config alone: the store (embedded folder or DynamoDB), the runners of the routes (the
 * bootstrap minter needs only the public URL: agents exchange their token with the server, not with this process),
 * and an Orchestrator whose Reporter reaches the forge when the GitHub App's variables are in the environment and
 * is off otherwise; with them, an order the watchdog ends has its `GITHUB_TOKEN` revoked, as at serve's own ends. GitHub credentials are never required: a re-drive needs none (cloud agents get their clone
 * credentials at the bootstrap exchange, from the server).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { CodeBuildClient } from '@aws-sdk/client-codebuild';
import type { EC2Client } from '@aws-sdk/client-ec2';
import pino, { type Logger } from 'pino';
import { createJanitor, type Janitor, type SweepResult } from '../../runners/janitor.ts';
import { buildOrderJob } from '../../runners/order-job.ts';
import { codeBuildProjects, createRunners, type RunnerKind } from '../../runners/registry.ts';
import type { ExecutionStatus, Route, Runner } from '../../runners/runner.ts';
import { loadOperatorConfig, type OperatorConfig } from '../config.ts';
import { ConfigError, RunnerError } from '../errors.ts';
import { createBootstrapMinter } from './agent-bootstrap.ts';
import { createAwsClients } from './aws-clients.ts';
import { createOrderTokens, type OrderTokens } from './order-tokens.ts';
import { Orchestrator, type Reporter } from '../orchestrator.ts';
import { openStore } from '../store/open-store.ts';
import type { Store } from '../store/store.ts';

type Env = Readonly<Record<string, string | undefined>>;

export interface OperationsOptions {
  readonly config: OperatorConfig;
  /** Read for the GitHub App's variables only (reporting); nothing else here reads the environment. */
  readonly env: Env;
  readonly logger: Logger;
  /** Epoch ms. */
  readonly now?: () => number;
  /** An open store (tests, or a caller that holds one); otherwise opened from `config.store` and closed by `close`. */
  readonly store?: Store;
  /** AWS client factories by the routes' region (tests pass mocked clients); default: the SDK's credential chain. */
  readonly ec2?: (region: string | undefined) => EC2Client;
  readonly codebuild?: (region: string | undefined) => CodeBuildClient;
  /** Replaces the forge-or-off reporter (tests). */
  readonly reporter?: Reporter;
  readonly janitorGraceMs?: number;
  /** How long an order sits in `dispatching` without a handle before a tick re-drives its launch. */
  readonly redriveAfterMs?: number;
}

export interface Operations {
  readonly store: Store;
  readonly orchestrator: Orchestrator;
  readonly runners: Partial<Record<RunnerKind, Runner>>;
  /** Undefined when no route uses spot or codebuild: there is nothing of ours in AWS to sweep. */
  readonly janitor: Janitor | undefined;
  /** Whether the orchestrator's statuses and comments reach the forge. */
  readonly reporting: boolean;
  /** One watchdog tick, then one janitor sweep; waits for the forge writes the tick caused. */
  tick(): Promise<{ readonly sweep: SweepResult | undefined }>;
  /** One janitor sweep (undefined without a janitor). */
  sweep(options?: { readonly dryRun?: boolean }): Promise<SweepResult | undefined>;
  close(): Promise<void>;
}

/**
 * Builds the parts. Throws ConfigError for invalid route settings or GitHub variables that are set but wrong
 * (a half-configured app is a mistake to report, not a reason to silently stop reporting).
 */
export async function openOperations(options: OperationsOptions): Promise<Operations> {
  const { config, logger } = options;
  const now = options.now ?? Date.now;
  const opened = options.store
    ? { store: options.store, close: () => Promise.resolve() }
    : await openStore(config, config.store.dir);
  const { store } = opened;
  const aws = createAwsClients({ ec2: options.ec2, codebuild: options.codebuild });
  const { ec2: ec2For, codebuild: codeBuildFor } = aws;
  const closers: (() => Promise<void>)[] = [];
  const close = async (): Promise<void> => {
    for (const closer of closers.reverse()) await closer();
    aws.destroy();
    await opened.close();
  };

  try {
    const cloudRoutes = [...config.routes.values()].filter((r) => r.runner === 'spot' || r.runner === 'codebuild');
    const cloud = createRunners(cloudRoutes, {
      // The same tokens as serve's: agents exchange them with the server, not with this process.
      bootstrap: createBootstrapMinter(store, config.publicUrl, now),
      clock: now,
      logger,
      ec2: ec2For,
      codebuild: codeBuildFor,
    });
    const hasLocal = [...config.routes.values()].some((r) => r.runner === 'local');
    const runners: Partial<Record<RunnerKind, Runner>> = { ...cloud, ...(hasLocal ? { local: serveOnlyLocal } : {}) };

    const forgeSide = await openForgeSide(options, store, now);
    if (forgeSide) closers.push(() => Promise.resolve(forgeSide.close()));
    const forgeReporter = options.reporter ? undefined : forgeSide;
    if (forgeReporter) closers.push(() => forgeReporter.idle());
    const reporter = options.reporter ?? forgeReporter?.reporter ?? silentReporter;

    const janitor =
      cloudRoutes.length > 0
        ? createJanitor({
            // The janitor also lists instances when only CodeBuild routes exist (a spot route removed from the config
            // may have left some behind); it takes the spot routes' region, else the CodeBuild one.
            ec2: ec2For(regionOf(cloudRoutes, 'spot') ?? regionOf(cloudRoutes, 'codebuild')),
            ...(cloud.codebuild
              ? {
                  codebuild: codeBuildFor(regionOf(cloudRoutes, 'codebuild')),
                  projects: codeBuildProjects(cloudRoutes),
                }
              : {}),
            store,
            clock: now,
            logger: logger.child({ name: 'janitor' }),
            ...(options.janitorGraceMs === undefined ? {} : { graceMs: options.janitorGraceMs }),
          })
        : undefined;

    const orchestrator = new Orchestrator({
      store,
      runners,
      routes: config.routes,
      limits: config.limits,
      reporter,
      logger: logger.child({ name: 'orchestrator' }),
      now,
      // Cloud runners put only the one-time bootstrap token in a launch; the agent gets its clone credentials from
      // the server at the exchange. No clone URL is minted (nor a GitHub credential needed) to re-drive a launch.
      jobFor: (run, order, needs) => Promise.resolve(buildOrderJob(run, order, needs, '')),
      // An order this tick ends (timed out, its instance gone) gives its GITHUB_TOKEN back, as serve's ends do: the
      // token was kept sealed under the agents' secret, which the forge settings give this process too.
      ...(forgeSide === undefined ? {} : { revokeOrderToken: (run, order) => forgeSide.tokens.revoke(run, order) }),
      ...(options.redriveAfterMs === undefined ? {} : { redriveAfterMs: options.redriveAfterMs }),
    });

    return {
      store,
      orchestrator,
      runners,
      janitor,
      reporting: forgeReporter !== undefined || options.reporter !== undefined,
      async tick() {
        await orchestrator.tick();
        const sweep = await janitor?.sweep();
        await forgeReporter?.idle();
        return { sweep };
      },
      sweep: (opts) => (janitor ? janitor.sweep(opts) : Promise.resolve(undefined)),
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

/**
 * Local executions are child processes of the `spotcheck serve` that started them: this process can neither see,
 * stop nor start them. A launch is refused as retryable, so the order stays in `dispatching` for serve's own tick;
 * an execution counts as alive, so it is never failed from here. (An order past its deadline is still marked
 * timed_out by the tick; its process ends at its own timeout in serve, which enforces `timeout-minutes`.)
 */
const serveOnlyLocal: Runner & { inspect(handle: string): Promise<ExecutionStatus> } = {
  kind: 'local',
  launch: () =>
    Promise.reject(
      new RunnerError('local orders are launched by spotcheck serve, not by the external watchdog', {
        retryable: true,
        context: { runner: 'local' },
      }),
    ),
  terminate: () => Promise.resolve(),
  isAlive: () => Promise.resolve(true),
  inspect: (handle) =>
    Promise.resolve({ alive: true, interrupted: false, reason: `${handle} belongs to spotcheck serve` }),
};

const silentReporter: Reporter = {
  orderChanged: () => Promise.resolve(),
  runChanged: () => Promise.resolve(),
};

/** The forges' variables (src/app/settings.ts `readServerSettings`): any of them set means "report". */
const FORGE_VARIABLES = [
  'APP_ID',
  'PRIVATE_KEY',
  'PRIVATE_KEY_PATH',
  'WEBHOOK_SECRET',
  'GITEA_URL',
  'GITEA_TOKEN',
  'GITEA_WEBHOOK_SECRET',
] as const;

/**
 * The forge side, when the forges' variables are set: the reporter (statuses, the sticky comment) and the orders'
 * kept `GITHUB_TOKEN`s (order-tokens.ts), which the watchdog revokes when it ends an order.
 */
async function openForgeSide(
  options: OperationsOptions,
  store: Store,
  now: () => number,
): Promise<{ reporter: Reporter; tokens: OrderTokens; idle(): Promise<void>; close(): void } | undefined> {
  const { env, logger, config } = options;
  if (!FORGE_VARIABLES.some((name) => env[name] !== undefined && env[name] !== '')) {
    logger.info('reporting is off: no forge credentials (GitHub App or Gitea) in the environment');
    return undefined;
  }
  // Loaded on demand: Probot and the forge stack are not needed when reporting is off.
  const [{ readServerSettings }, { openForges }, { createForgeReporter }] = await Promise.all([
    import('./settings.ts'),
    import('../forges/registry.ts'),
    import('../forges/reporter/forge-reporter.ts'),
  ]);
  const settings = await readServerSettings(env, undefined, { giteaPoll: config.gitea?.poll !== undefined });
  const forges = await openForges(settings, { logger, now });
  const reporter = createForgeReporter({
    store,
    forges: { forRun: (run) => forges.forRun(run) ?? Promise.resolve(undefined) },
    publicUrl: config.publicUrl,
    logger: logger.child({ name: 'reporter' }),
    now,
  });
  const tokens = createOrderTokens({
    store,
    forgeFor: (run) => forges.forRun(run) ?? forges.notConfigured(run.repo.forge),
    secret: settings.agentSecret,
    logger: logger.child({ name: 'order-tokens' }),
    now,
  });
  return { reporter, tokens, idle: () => reporter.idle(), close: () => forges.close() };
}

function regionOf(routes: readonly Route[], runner: 'spot' | 'codebuild'): string | undefined {
  const route = routes.find((r) => r.runner === runner);
  const region = route?.settings.region;
  return typeof region === 'string' ? region : undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// The commands

export interface OperationsIo {
  readonly out: NodeJS.WritableStream;
  readonly err: NodeJS.WritableStream;
  readonly env: Env;
  /** What relative paths (SPOTCHECK_DATA_DIR, `--config`) are relative to; the process's by default. */
  readonly cwd?: string;
}

export interface WatchdogCommandOptions {
  readonly once: boolean;
  /** Seconds between ticks without `once`. */
  readonly intervalSeconds: number;
  readonly configPath?: string;
  /** Ends the loop (SIGINT/SIGTERM); a tick in progress finishes first. */
  readonly signal?: AbortSignal;
  /** Test seams. */
  readonly operations?: Partial<Omit<OperationsOptions, 'config' | 'env' | 'logger'>>;
}

export interface JanitorCommandOptions {
  readonly dryRun: boolean;
  readonly configPath?: string;
  readonly operations?: Partial<Omit<OperationsOptions, 'config' | 'env' | 'logger'>>;
}

/**
 * `spotcheck watchdog [--once] [--interval SECONDS]`. Exit 0 after the tick (`--once`) or when stopped; 1 when the
 * single tick failed (the scheduler should see it); 2 for an invalid config. In the loop a failed tick is logged
 * and the next one runs.
 */
export async function watchdogCommand(io: OperationsIo, options: WatchdogCommandOptions): Promise<number> {
  const logger = operationsLogger(io);
  const ops = await open(io, logger, options.configPath, options.operations);
  if (typeof ops === 'number') return ops;
  try {
    if (!ops.reporting) io.err.write('spotcheck: reporting is off (no GitHub App credentials in the environment)\n');
    for (;;) {
      try {
        const { sweep } = await ops.tick();
        const active = (await ops.store.listActiveOrders()).length;
        writeTick(io, active, sweep);
      } catch (error) {
        if (options.once) {
          io.err.write(`spotcheck: watchdog tick failed: ${messageOf(error)}\n`);
          return 1;
        }
        logger.error({ err: error }, 'watchdog tick failed');
      }
      if (options.once || options.signal?.aborted) return 0;
      try {
        await sleep(options.intervalSeconds * 1000, undefined, options.signal ? { signal: options.signal } : {});
      } catch {
        return 0; // aborted while waiting
      }
    }
  } finally {
    await ops.close();
  }
}

/** `spotcheck janitor [--dry-run]`: one line per execution ended (or that would be), with the reason. Exit 0. */
export async function janitorCommand(io: OperationsIo, options: JanitorCommandOptions): Promise<number> {
  const logger = operationsLogger(io);
  // A sweep reports nothing to the forge: no reporter, no GitHub credentials read.
  const ops = await open(io, logger, options.configPath, { reporter: silentReporter, ...options.operations });
  if (typeof ops === 'number') return ops;
  try {
    if (!ops.janitor) {
      io.out.write('janitor: no spot or codebuild routes, nothing to sweep\n');
      return 0;
    }
    let result: SweepResult | undefined;
    try {
      result = await ops.sweep({ dryRun: options.dryRun });
    } catch (error) {
      io.err.write(`spotcheck: janitor sweep failed: ${messageOf(error)}\n`);
      return 1;
    }
    writeSweep(io, result, options.dryRun);
    return 0;
  } finally {
    await ops.close();
  }
}

async function open(
  io: OperationsIo,
  logger: Logger,
  configPath: string | undefined,
  seams: WatchdogCommandOptions['operations'],
): Promise<Operations | number> {
  try {
    const config = await loadOperatorConfig(io.env, io.cwd ?? process.cwd(), configPath);
    return await openOperations({ ...seams, config, env: io.env, logger });
  } catch (error) {
    if (error instanceof ConfigError) {
      io.err.write(`spotcheck: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
}

function operationsLogger(io: OperationsIo): Logger {
  return pino({ level: io.env.LOG_LEVEL ?? 'warn', base: { app: 'spotcheck' } }, pino.destination(2));
}

function writeTick(io: OperationsIo, active: number, sweep: SweepResult | undefined): void {
  const janitor =
    sweep === undefined
      ? 'no janitor (no cloud routes)'
      : `janitor terminated ${sweep.terminated.length}, kept ${sweep.kept.length}`;
  io.out.write(`watchdog: tick done, ${active} order${active === 1 ? '' : 's'} active; ${janitor}\n`);
  if (sweep) for (const id of sweep.terminated) io.out.write(`terminated ${id}: ${sweep.reasons[id] ?? ''}\n`);
}

function writeSweep(io: OperationsIo, sweep: SweepResult | undefined, dryRun: boolean): void {
  if (sweep === undefined) return;
  const ids = dryRun ? sweep.wouldTerminate : sweep.terminated;
  for (const id of ids)
    io.out.write(`${dryRun ? 'would terminate' : 'terminated'} ${id}: ${sweep.reasons[id] ?? ''}\n`);
  const failed = dryRun ? [] : Object.keys(sweep.reasons).filter((id) => !sweep.terminated.includes(id));
  for (const id of failed) io.out.write(`could not terminate ${id}: ${sweep.reasons[id] ?? ''}\n`);
  io.out.write(
    `janitor${dryRun ? ' (dry run)' : ''}: ${ids.length} ${dryRun ? 'would be terminated' : 'terminated'}, ` +
      `${sweep.kept.length} kept\n`,
  );
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
