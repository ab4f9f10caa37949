/** `spotcheck serve`'s Node transport: the composition behind an HTTP server, and the timer that ticks it. */
import { createSpotcheckApp, type SpotcheckAppOptions } from './app.ts';
import type { ServerSettings } from './settings.ts';
import type { Orchestrator } from '../orchestrator.ts';
import { createHttpServer, listenHttp } from '../server/node-http.ts';
import type { Store } from '../store/store.ts';

export interface StartServerOptions extends SpotcheckAppOptions {
  readonly settings: ServerSettings;
  /** Watchdog and inbox reconcile interval; 0 disables the timer (tests call `tick`). */
  readonly tickMs?: number;
}

export interface SpotcheckServer {
  readonly url: string;
  readonly store: Store;
  readonly orchestrator: Orchestrator;
  /** One watchdog tick and inbox reconcile (what the timer runs). */
  tick(): Promise<void>;
  /** Waits for background work (intent processing, reporting, local executions) to settle. */
  idle(): Promise<void>;
  close(): Promise<void>;
}

export async function startSpotcheckServer(options: StartServerOptions): Promise<SpotcheckServer> {
  const { settings, logger } = options;
  const app = await createSpotcheckApp(options);
  const http = createHttpServer(app.router, { logger: logger.child({ name: 'http' }) });
  const listening = await listenHttp(http, { port: settings.port, host: settings.host });
  logger.info({ url: listening.url }, 'spotcheck is listening');

  let ticking = false;
  const timer =
    (options.tickMs ?? 15_000) > 0
      ? setInterval(() => {
          if (ticking) return;
          ticking = true;
          app
            .tick()
            .catch((error: unknown) => logger.error({ err: error }, 'tick failed'))
            .finally(() => (ticking = false));
        }, options.tickMs ?? 15_000)
      : undefined;
  timer?.unref();

  return {
    url: listening.url,
    store: app.store,
    orchestrator: app.orchestrator,
    async tick() {
      await app.tick();
    },
    idle: () => app.idle(),
    async close() {
      if (timer) clearInterval(timer);
      http.closeAllConnections();
      await listening.close();
      await app.close();
    },
  };
}
