/**
 * `spotcheck serve` (`npm start`): the GitHub App server, configured by the environment Probot users expect plus
 * PUBLIC_URL and SPOTCHECK_CONFIG (`spotcheck serve --help` lists every variable). Runs until SIGINT or SIGTERM,
 * then closes cleanly.
 */
import pino, { type Logger } from 'pino';
import PinoPretty from 'pino-pretty';
import { readServerSettings, scrubSecretVariables, type ServerSettings } from './settings.ts';
import { LOCAL_PR_REFUSAL } from './app.ts';
import { startSpotcheckServer } from './start-server.ts';
import { DEFAULT_PUBLIC_URL, loadOperatorConfig, type OperatorConfig } from '../config.ts';
import { ConfigError } from '../errors.ts';
import { joinUrl } from '../core/url.ts';
import { GITEA_WEBHOOK_PATH } from '../server/gitea-webhook-route.ts';
import { GITHUB_WEBHOOK_PATH } from '../server/github-webhook-route.ts';
import { HEALTH_PATH } from '../server/health-route.ts';
import { METRICS_PATH } from '../server/metrics-route.ts';
import { RUNS_PATH } from '../server/dashboard/view-parts.ts';

type Env = Readonly<Record<string, string | undefined>>;

export interface ServeIo {
  readonly err: NodeJS.WritableStream;
  readonly env: Env;
  /** Where logs go; pretty when it is a terminal (the process's stdout by default). */
  readonly out?: NodeJS.WritableStream & { isTTY?: boolean };
  /** What relative paths in the environment are relative to (the process's working directory by default). */
  readonly cwd?: string;
  /** Resolves when the server should stop (defaults to SIGINT/SIGTERM). */
  readonly stopped?: Promise<void>;
}

export async function serveCommand(io: ServeIo): Promise<number> {
  let server: Awaited<ReturnType<typeof startSpotcheckServer>>;
  let logger: Logger;
  try {
    logger = createServeLogger(io.env, io.out ?? process.stdout);
    const config = await loadOperatorConfig(io.env, io.cwd ?? process.cwd());
    const settings = await readServerSettings(io.env, undefined, { giteaPoll: config.gitea?.poll !== undefined });
    // Held by the settings now: nothing the server starts may inherit them (see scrubSecretVariables's limits).
    scrubSecretVariables(process.env);
    server = await startSpotcheckServer({ settings, config, logger, tickMs: readTickSeconds(io.env) * 1000 });
    announce(logger, settings, config, server.url, Boolean(io.env.PUBLIC_URL));
    announceLocalIsolation(logger, settings, config);
  } catch (error) {
    if (error instanceof ConfigError) {
      io.err.write(`spotcheck: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
  await (io.stopped ??
    new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    }));
  logger.info('stopping');
  await server.close();
  // Everything spotcheck owns is closed; a library timer (an HTTP agent's keep-alive, a rate limiter's clock) must
  // not keep a stopped server alive past a container's stop timeout.
  if (io.stopped === undefined) setTimeout(() => process.exit(0), 2000).unref();
  return 0;
}

/** The watchdog tick's period (and so the finest grain of the Gitea poll): 15 s, as the scheduled Lambda's minute. */
export const DEFAULT_TICK_SECONDS = 15;

/**
 * SPOTCHECK_TICK_SECONDS: a shorter tick, for tests and demos, never a longer one (the watchdog repairs crashes and
 * reclaims capacity on it). Only the tick: the Gitea poll still waits its `intervalSeconds` (at least 15) between
 * polls, so this cannot make the poll cost Gitea more.
 */
export function readTickSeconds(env: Env): number {
  const raw = env.SPOTCHECK_TICK_SECONDS;
  if (raw === undefined || raw === '') return DEFAULT_TICK_SECONDS;
  const seconds = Number(raw);
  if (!/^\d+$/.test(raw) || seconds < 1 || seconds > DEFAULT_TICK_SECONDS)
    throw new ConfigError(`SPOTCHECK_TICK_SECONDS must be a whole number from 1 to ${String(DEFAULT_TICK_SECONDS)}`, {
      source: 'environment',
    });
  return seconds;
}

const LOG_FORMATS = ['json', 'pretty'] as const;

/**
 * JSON lines (what log collectors read) unless a person is watching: on a terminal, or with LOG_FORMAT=pretty, the
 * lines go through pino-pretty in this process (a stream, not a worker-thread transport, so nothing is lost at exit).
 */
export function createServeLogger(env: Env, out: NodeJS.WritableStream & { isTTY?: boolean }): Logger {
  const format = env.LOG_FORMAT === undefined || env.LOG_FORMAT === '' ? undefined : env.LOG_FORMAT;
  if (format !== undefined && !(LOG_FORMATS as readonly string[]).includes(format))
    throw new ConfigError(`LOG_FORMAT must be ${LOG_FORMATS.join(' or ')}`, { source: 'environment' });
  const options = { level: env.LOG_LEVEL ?? 'info', base: { app: 'spotcheck' } };
  const pretty = format === 'pretty' || (format === undefined && out.isTTY === true);
  if (!pretty) return out === process.stdout ? pino(options) : pino(options, out);
  return pino(
    options,
    PinoPretty({ destination: out, colorize: out.isTTY === true, ignore: 'pid,hostname,app', sync: true }),
  );
}

/**
 * One line per address an operator needs on the first start: where the dashboard is, the webhook URL to paste into
 * each configured forge, the health check and the metrics. From PUBLIC_URL (env or file) when set, else the address
 * the server listens on (`0.0.0.0` shown as `localhost`).
 */
function announce(
  logger: Logger,
  settings: ServerSettings,
  config: OperatorConfig,
  listening: string,
  publicUrlFromEnv: boolean,
): void {
  const configured = publicUrlFromEnv || config.publicUrl !== DEFAULT_PUBLIC_URL;
  const base = configured ? config.publicUrl : listening.replace(/\/\/(0\.0\.0\.0|\[::\]|::)(?=:)/, '//localhost');
  logger.info({ url: joinUrl(base, RUNS_PATH) }, 'dashboard');
  if (settings.github) logger.info({ url: joinUrl(base, GITHUB_WEBHOOK_PATH) }, 'GitHub App webhook URL');
  if (settings.gitea?.webhookSecret !== undefined)
    logger.info({ url: joinUrl(base, GITEA_WEBHOOK_PATH) }, 'Gitea webhook URL');
  else if (settings.gitea) logger.info('Gitea: polled, no webhook (GITEA_WEBHOOK_SECRET is unset)');
  logger.info({ url: joinUrl(base, HEALTH_PATH) }, 'health check');
  logger.info({ url: joinUrl(base, METRICS_PATH) }, 'Prometheus metrics');
}

/** Who the local runner's steps run as, said once at start when a route uses it, with what that means for PRs. */
function announceLocalIsolation(logger: Logger, settings: ServerSettings, config: OperatorConfig): void {
  if (![...config.routes.values()].some((route) => route.runner === 'local')) return;
  const local = settings.local;
  if (local?.user !== undefined) logger.info({ user: local.user.name }, 'local runner: steps run as their own user');
  else if (local?.pullRequestsAsServerUser === true)
    logger.warn(
      { optIn: 'SPOTCHECK_LOCAL_PR_AS_SERVER_USER' },
      "local runner: pull_request and testme orders run as the server's own user and can read its secrets",
    );
  else logger.warn({ reason: LOCAL_PR_REFUSAL }, 'local runner: pull_request and testme orders are refused');
}
