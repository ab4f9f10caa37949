/**
 * `spotcheck serve` (`npm start`): the GitHub App server, configured by the environment Probot users expect plus
 * PUBLIC_URL and SPOTCHECK_CONFIG. Runs until SIGINT or SIGTERM, then closes cleanly.
 */
import pino from 'pino';
import { readServerSettings, startSpotcheckServer } from './app.ts';
import { loadOperatorConfig } from './config.ts';
import { ConfigError } from './errors.ts';

export interface ServeIo {
  readonly err: NodeJS.WritableStream;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** What relative paths in the environment are relative to (the process's working directory by default). */
  readonly cwd?: string;
  /** Resolves when the server should stop (defaults to SIGINT/SIGTERM). */
  readonly stopped?: Promise<void>;
}

export async function serveCommand(io: ServeIo): Promise<number> {
  const logger = pino({ level: io.env.LOG_LEVEL ?? 'info', base: { app: 'spotcheck' } });
  let server: Awaited<ReturnType<typeof startSpotcheckServer>>;
  try {
    const config = await loadOperatorConfig(io.env, io.cwd ?? process.cwd());
    const settings = await readServerSettings(io.env);
    server = await startSpotcheckServer({ settings, config, logger });
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
