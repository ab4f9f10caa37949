/**
 * The composition root of `spotcheck serve`: reads the environment Probot users expect, builds every part with its
 * defaults (embedded store, local runner) and wires them. Nothing else in the code base reads the environment for
 * the server; every part takes its dependencies through options.
 */
import { createHmac } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import { Probot, type ProbotOctokit } from 'probot';
import { registerHandlers } from '../../handlers/index.ts';
import { registerWorkflowJobHandler } from '../../handlers/workflow-job.ts';
import {
  capacityDeliveryClaimKey,
  createCapacityBootstrapRoute,
  createGiteaCapacityWebhookRoute,
  CAPACITY_BOOTSTRAP_PATH,
} from '../server/capacity-routes.ts';
import { processCapacityIntent } from '../capacity/capacity-intake.ts';
import { createCapacityManager } from '../capacity/capacity-manager.ts';
import { capacityRoutes } from '../core/capacity.ts';
import { CodeBuildClient } from '@aws-sdk/client-codebuild';
import { EC2Client } from '@aws-sdk/client-ec2';
import { createJanitor } from '../../runners/janitor.ts';
import { codeBuildProjects, createRunners } from '../../runners/registry.ts';
import { buildOrderJob } from '../../runners/order-job.ts';
import type { Runner } from '../../runners/runner.ts';
import type { OperatorConfig } from '../config.ts';
import { needsContext } from '../core/engine.ts';
import type { RunRecord } from '../core/types.ts';
import { createAuthorizer } from '../intake/authorize.ts';
import { ConfigError } from '../errors.ts';
import type { Forge } from '../forges/forge.ts';
import { createGiteaForge, readGiteaLogin } from '../forges/gitea.ts';
import { createGitHubForges } from '../forges/github-installations.ts';
import { createForgeReporter } from '../forges/reporter/forge-reporter.ts';
import { createInbox } from '../intake/inbox.ts';
import { createIntake } from '../intake/intake.ts';
import { isCapacityIntent, type ForgeInstallation, type ForgeLookup } from '../intake/intents.ts';
import { memo } from './memo.ts';
import { Orchestrator } from '../orchestrator.ts';
import { mintBootstrapToken } from '../server/bootstrap-tokens.ts';
import { AGENT_BOOTSTRAP_PATH, createBootstrapRoute } from '../server/bootstrap-route.ts';
import { AGENT_REPORT_PATH, createCallbackRoute } from '../server/callback-route.ts';
import { createGiteaWebhookRoute, GITEA_WEBHOOK_PATH } from '../server/gitea-webhook-route.ts';
import { createGithubWebhookRoute, GITHUB_WEBHOOK_PATH } from '../server/github-webhook-route.ts';
import { giteaDeliveryClaimKey, githubDeliveryClaimKey } from '../server/webhook-verify.ts';
import { createHealthRoute } from '../server/health-route.ts';
import { createFileLogStore, type LogStore } from '../server/log-store.ts';
import { createLogRoute } from '../server/log-route.ts';
import { createDashboardRoutes } from '../server/dashboard/dashboard-routes.ts';
import {
  createMetrics,
  instrumentReporter,
  instrumentRouter,
  instrumentRunners,
  type SpotcheckMetrics,
} from '../server/metrics.ts';
import { createMetricsRoute, readOrderCounts } from '../server/metrics-route.ts';
import { createHttpServer, listenHttp } from '../server/node-http.ts';
import { createRouter, type Router } from '../server/router.ts';
import { openStore } from '../store/open-store.ts';
import type { Store } from '../store/store.ts';
import { joinUrl, trimTrailingSlashes } from '../core/url.ts';

/** The GitHub App settings, from the variables Probot documents. */
export interface GitHubSettings {
  readonly appId: string;
  readonly privateKey: string;
  readonly webhookSecret: string;
  /** REST base URL: `https://api.github.com`, or `<protocol>://<GHE_HOST>/api/v3`. */
  readonly baseUrl: string;
  /** Web host, for clone URLs and store keys. */
  readonly host: string;
  readonly protocol: 'https' | 'http';
  readonly appSlug?: string;
}

/** A Gitea server and its bot user, from GITEA_URL, GITEA_TOKEN, GITEA_WEBHOOK_SECRET (and the optional rest). */
export interface GiteaSettings {
  /** Web base URL, e.g. `https://gitea.example.org` (the API is `<url>/api/v1`). */
  readonly url: string;
  readonly token: string;
  readonly webhookSecret: string;
  /** The bot user's login (its own comments are never a request); read with `GET /user` when unset. */
  readonly botLogin?: string;
  /** A read-only token (`read:repository`) for agents' clones; without it cloud runners cannot clone on Gitea. */
  readonly cloneToken?: string;
}

export interface ServerSettings {
  readonly port: number;
  readonly host: string;
  /** At least one forge is configured; one server serves both at once. */
  readonly github?: GitHubSettings;
  readonly gitea?: GiteaSettings;
  /** Secret for agents' per-order tokens (≥ 32 bytes). */
  readonly agentSecret: string;
}

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Reads the GitHub App's variables (APP_ID, PRIVATE_KEY or PRIVATE_KEY_PATH, WEBHOOK_SECRET, GHE_HOST,
 * GHE_PROTOCOL, APP_SLUG), Gitea's (GITEA_URL, GITEA_TOKEN, GITEA_WEBHOOK_SECRET, GITEA_BOT_LOGIN,
 * GITEA_CLONE_TOKEN), PORT, HOST and SPOTCHECK_AGENT_SECRET. A forge is configured when any of its variables is set;
 * at least one must be. Every problem is reported at once; no value is ever printed.
 */
export async function readServerSettings(env: Env): Promise<ServerSettings> {
  const problems: string[] = [];
  const wantsGitHub = Boolean(env.APP_ID || env.PRIVATE_KEY || env.PRIVATE_KEY_PATH || env.WEBHOOK_SECRET);
  const wantsGitea = Boolean(env.GITEA_URL || env.GITEA_TOKEN || env.GITEA_WEBHOOK_SECRET);
  if (!wantsGitHub && !wantsGitea) {
    problems.push(
      'no forge is configured: set the GitHub App (APP_ID, PRIVATE_KEY or PRIVATE_KEY_PATH, WEBHOOK_SECRET) ' +
        'and/or Gitea (GITEA_URL, GITEA_TOKEN, GITEA_WEBHOOK_SECRET)',
    );
  }
  const github = wantsGitHub ? await readGitHubSettings(env, problems) : undefined;
  const gitea = wantsGitea ? readGiteaSettings(env, problems) : undefined;
  const port = Number(env.PORT ?? '3000');
  if (!Number.isInteger(port) || port < 0 || port > 65_535) problems.push('PORT must be a port number');
  const agentSecret = env.SPOTCHECK_AGENT_SECRET;
  if (agentSecret !== undefined && Buffer.byteLength(agentSecret) < 32)
    problems.push('SPOTCHECK_AGENT_SECRET must be at least 32 bytes');
  const webhookSecret = github?.webhookSecret ?? gitea?.webhookSecret;
  if (problems.length > 0 || webhookSecret === undefined) {
    throw new ConfigError(`cannot start the server:\n  - ${problems.join('\n  - ')}`, { source: 'environment' });
  }
  return {
    port,
    host: env.HOST ?? '0.0.0.0',
    ...(github ? { github } : {}),
    ...(gitea ? { gitea } : {}),
    // Agents' tokens need a secret every replica shares; derived from a webhook secret unless set on its own.
    agentSecret: agentSecret ?? createHmac('sha256', webhookSecret).update('spotcheck agent tokens').digest('hex'),
  };
}

async function readGitHubSettings(env: Env, problems: string[]): Promise<GitHubSettings | undefined> {
  const before = problems.length;
  const appId = env.APP_ID?.trim();
  if (!appId || !/^\d+$/.test(appId)) problems.push('APP_ID must be the GitHub App id (a number)');
  let privateKey = env.PRIVATE_KEY?.replace(/\\n/g, '\n');
  if (!privateKey && env.PRIVATE_KEY_PATH) {
    try {
      privateKey = await readFile(env.PRIVATE_KEY_PATH, 'utf8');
    } catch {
      problems.push('PRIVATE_KEY_PATH names a file that cannot be read');
    }
  }
  if (!privateKey) problems.push('PRIVATE_KEY or PRIVATE_KEY_PATH is required');
  else if (!privateKey.includes('PRIVATE KEY-----')) problems.push('the private key is not a PEM key');
  const webhookSecret = env.WEBHOOK_SECRET;
  if (!webhookSecret) problems.push('WEBHOOK_SECRET is required (the GitHub App webhook secret)');
  const protocol = env.GHE_PROTOCOL ?? 'https';
  if (protocol !== 'https' && protocol !== 'http') problems.push('GHE_PROTOCOL must be https or http');
  if (problems.length > before || !appId || !privateKey || !webhookSecret) return undefined;
  const gheHost = env.GHE_HOST?.trim();
  const scheme = protocol === 'http' ? 'http' : 'https';
  return {
    appId,
    privateKey,
    webhookSecret,
    baseUrl: gheHost ? `${scheme}://${gheHost}/api/v3` : 'https://api.github.com',
    host: gheHost ?? 'github.com',
    protocol: scheme,
    ...(env.APP_SLUG ? { appSlug: env.APP_SLUG } : {}),
  };
}

function readGiteaSettings(env: Env, problems: string[]): GiteaSettings | undefined {
  const before = problems.length;
  let url: URL | undefined;
  try {
    url = new URL(env.GITEA_URL ?? '');
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error('scheme');
  } catch {
    problems.push("GITEA_URL must be the Gitea server's http(s) URL");
  }
  const token = env.GITEA_TOKEN;
  if (!token) problems.push("GITEA_TOKEN is required (the bot user's access token)");
  const webhookSecret = env.GITEA_WEBHOOK_SECRET;
  if (!webhookSecret) problems.push('GITEA_WEBHOOK_SECRET is required (the webhook secret set in Gitea)');
  if (problems.length > before || !url || !token || !webhookSecret) return undefined;
  return {
    url: trimTrailingSlashes(url.href),
    token,
    webhookSecret,
    ...(env.GITEA_BOT_LOGIN ? { botLogin: env.GITEA_BOT_LOGIN } : {}),
    ...(env.GITEA_CLONE_TOKEN ? { cloneToken: env.GITEA_CLONE_TOKEN } : {}),
  };
}

export interface SpotcheckAppOptions {
  /** The forges and the agents' secret (a server's port and host are the Node transport's business). */
  readonly settings: Pick<ServerSettings, 'github' | 'gitea' | 'agentSecret'>;
  /** Gitea's `fetch` (tests stub it; Probot's octokit has its own). */
  readonly giteaFetch?: typeof fetch;
  readonly config: OperatorConfig;
  readonly logger: Logger;
  readonly now?: () => number;
  /** The environment steps on the local runner start from (PATH and HOME only, by default). */
  readonly stepEnv?: () => Record<string, string>;
  /**
   * Where an order's checkout comes from, asked when a local-runner order launches and when a cloud agent exchanges
   * its bootstrap token. By default the forge's clone credentials: on GitHub a token minted for this repository
   * only, reading contents only; on Gitea the bot's GITEA_CLONE_TOKEN. Tests point it at a local repository.
   */
  readonly cloneUrlFor?: (run: RunRecord) => Promise<string>;
  /** Runners by kind, used instead of the ones the routes would build (tests pass fakes). */
  readonly runners?: Partial<Record<Runner['kind'], Runner>>;
  /**
   * Probot's `Octokit` option: retry and throttling stay on; tests pass `ProbotOctokit.defaults(...)` with shorter
   * retry pauses so "500 after retries" takes milliseconds, not the 14 s of plugin-retry's 1 s·n² pauses.
   */
  readonly Octokit?: typeof ProbotOctokit;
  /** Where order logs live; files under the data directory by default (S3 on Lambda). */
  readonly logs?: LogStore;
  /**
   * Whether routes may use the local runner. A Lambda has no host to run steps on: there a `local` route is a
   * configuration error, reported at start-up like every other one.
   */
  readonly localRunner?: boolean;
  /** The app's metrics (a registry of its own); one is made when unset. */
  readonly metrics?: SpotcheckMetrics;
  /** Pauses between attempts to read the app's slug when APP_SLUG is unset (tests shorten them). */
  readonly appSlugRetry?: AppSlugRetry;
}

export interface StartServerOptions extends SpotcheckAppOptions {
  readonly settings: ServerSettings;
  /** Watchdog and inbox reconcile interval; 0 disables the timer (tests call `tick`). */
  readonly tickMs?: number;
}

/** What one tick did, for the scheduled handler's summary and its metrics. */
export interface TickSummary {
  /** Intents the inbox retried. */
  readonly reconciled: number;
  /** Instances and builds the janitor terminated (undefined: no cloud runner, no janitor). */
  readonly swept?: number;
}

/** Everything `spotcheck serve` is but the HTTP server and the timer: what the Node and Lambda transports share. */
export interface SpotcheckApp {
  readonly router: Router;
  readonly store: Store;
  readonly orchestrator: Orchestrator;
  readonly logs: LogStore;
  readonly metrics: SpotcheckMetrics;
  /** One watchdog tick, inbox reconcile and janitor sweep (what the timer or the schedule runs). */
  tick(): Promise<TickSummary>;
  /** Waits for background work (intent processing, reporting, local executions) to settle. */
  idle(): Promise<void>;
  /** Waits for background work, then closes the store and the SDK clients. */
  close(): Promise<void>;
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

/**
 * The composition: store, Probot (its webhooks loaded here, once, before any request can reach
 * `verifyAndReceive`), forges, runners, orchestrator, inbox, intake, reporter and the router.
 */
export async function createSpotcheckApp(options: SpotcheckAppOptions): Promise<SpotcheckApp> {
  const { settings, config, logger } = options;
  const now = options.now ?? Date.now;
  const dataDir = config.store.dir;
  const opened = await openStore(config, dataDir);
  const { store } = opened;
  const metrics = options.metrics ?? createMetrics({ orderCounts: () => readOrderCounts(store) });
  const forgeSet = await openForges(settings, {
    logger,
    now,
    ...(options.Octokit ? { Octokit: options.Octokit } : {}),
    ...(options.giteaFetch ? { giteaFetch: options.giteaFetch } : {}),
    ...(options.appSlugRetry ? { appSlugRetry: options.appSlugRetry } : {}),
  });
  const { probot, appSlug, gitea, giteaBot, forRun: forgeForRun, lookup: forges, notConfigured } = forgeSet;
  const github = settings.github;
  const giteaSettings = settings.gitea;

  const logs = options.logs ?? createFileLogStore(dataDir);
  const cloneUrlFor =
    options.cloneUrlFor ??
    (async (run: RunRecord) => {
      const forge = await (forgeForRun(run) ?? notConfigured(run.repo.forge));
      return (await forge.cloneCredentials(run.repo)).url;
    });
  const reporter = createForgeReporter({
    store,
    forges: { forRun: (run) => forgeForRun(run) ?? Promise.resolve(undefined) },
    publicUrl: config.publicUrl,
    logger: logger.child({ name: 'reporter' }),
    now,
  });
  const sink = { report: (...args: Parameters<Orchestrator['report']>) => orchestrator.report(...args) };
  const ec2Clients = new Map<string | undefined, EC2Client>();
  const codeBuildClients = new Map<string | undefined, CodeBuildClient>();
  const bootstrapUrl = joinUrl(config.publicUrl, AGENT_BOOTSTRAP_PATH);
  const runners = {
    ...createRunners(config.routes, {
      ...(options.localRunner === false
        ? {}
        : {
            local: {
              sink,
              dataDir,
              // Steps never inherit the bot's environment: no private key, webhook secret, token or AWS credentials.
              baseEnv: options.stepEnv ?? (() => cleanStepEnv(process.env)),
              logger: logger.child({ name: 'local-runner' }),
            },
          }),
      // Cloud agents get a one-time token in their user data and exchange it here; the order travels that way.
      bootstrap: async ({ job, order }) => ({
        url: bootstrapUrl,
        token: await mintBootstrapToken(store, job.ref, (order.timeoutMinutes + 30) * 60_000, now()),
      }),
      clock: now,
      logger,
      ec2: (region) => memo(ec2Clients, region, () => new EC2Client(region ? { region } : {})),
      codebuild: (region) => memo(codeBuildClients, region, () => new CodeBuildClient(region ? { region } : {})),
    }),
    ...options.runners,
  };
  // The janitor sweeps what the cloud runners may have left behind (a crash between launch and write, a lost
  // terminate): instances and builds tagged by spotcheck with no live order, past the grace period.
  const [ec2] = ec2Clients.values();
  const [codebuild] = codeBuildClients.values();
  const janitor = ec2
    ? createJanitor({
        ec2,
        ...(codebuild ? { codebuild, projects: codeBuildProjects(config.routes.values()) } : {}),
        store,
        clock: now,
        logger: logger.child({ name: 'janitor' }),
      })
    : undefined;
  const orchestrator: Orchestrator = new Orchestrator({
    store,
    runners: instrumentRunners(runners, metrics),
    routes: config.routes,
    limits: config.limits,
    reporter: instrumentReporter(reporter, metrics),
    logger: logger.child({ name: 'orchestrator' }),
    now,
    // Only the local runner clones from the job's URL. A cloud agent gets its clone URL from the bootstrap exchange
    // (the bootstrap route below), minted when it starts, so a cloud launch mints none.
    jobFor: async (run, order, needs, runner) =>
      buildOrderJob(run, order, needs, runner === 'local' ? await cloneUrlFor(run) : ''),
  });
  const authorizer = createAuthorizer({ forges, ...(config.org ? { org: config.org } : {}), now });
  const intake = createIntake({
    forges,
    orchestrator,
    store,
    authorizer,
    config: { limits: config.limits, publicUrl: config.publicUrl },
    notices: async (install, repo, pr, line) =>
      reporter.notice({ repo, pr, forge: await forges.forInstallation(install) }, line),
    logger: logger.child({ name: 'intake' }),
    now,
  });
  const inbox = createInbox({
    store,
    // Capacity intents exist only when capacity mode is on (the handler and the route are registered with it).
    process: async (intent) => {
      if (!isCapacityIntent(intent)) return intake.process(intent);
      if (capacity) await processCapacityIntent(capacity, intent, capacityLog);
    },
    logger: logger.child({ name: 'inbox' }),
    now,
    onGiveUp: async (intent) => {
      // The delivery was answered 2xx, so its claim stands and GitHub's "Redeliver" would be answered "duplicate":
      // released, a redelivery reaches the inbox, which takes a given-up intent as a request to try again.
      const claim =
        intent.install.forge === 'gitea'
          ? (isCapacityIntent(intent) ? capacityDeliveryClaimKey : giteaDeliveryClaimKey)(
              intent.install.host,
              intent.deliveryId,
            )
          : github && githubDeliveryClaimKey(github.host, intent.deliveryId);
      if (claim) {
        await store
          .release(claim)
          .catch((error: unknown) => logger.warn({ err: error }, 'cannot release the delivery claim'));
      }
      if (intent.kind === 'push' || isCapacityIntent(intent)) return;
      const line = 'spotcheck could not process this event after several attempts; comment `!testme` to try again.';
      await reporter.notice(
        { repo: intent.repo, pr: intent.pr, forge: await forges.forInstallation(intent.install) },
        line,
      );
    },
  });
  // Capacity mode (src/capacity/): only when a route is marked `capacity: true`.
  const capacityLog = logger.child({ name: 'capacity' });
  const capacity =
    capacityRoutes(config.routes).size === 0
      ? undefined
      : createCapacityManager({
          store,
          routes: config.routes,
          forges,
          ec2: (region) => memo(ec2Clients, region, () => new EC2Client(region ? { region } : {})),
          bootstrapUrl: joinUrl(config.publicUrl, CAPACITY_BOOTSTRAP_PATH),
          clock: now,
          logger: capacityLog,
        });
  if (probot && appSlug) {
    await probot.load((app) => {
      // Until GitHub has told the slug, the handlers' `sender.type === 'Bot'` guard is what keeps the app's own
      // comments from being requests.
      registerHandlers(app, (intent) => inbox.accept(intent), { appSlug: () => appSlug.current() ?? '', now });
      if (capacity && github)
        registerWorkflowJobHandler(app, (intent) => inbox.accept(intent), {
          host: github.host,
          routes: config.routes,
          now,
        });
    });
  }

  const routes = [
    ...(probot && github
      ? [createGithubWebhookRoute({ probot, secret: github.webhookSecret, store, host: github.host, now })]
      : []),
    ...(gitea && giteaSettings && giteaBot
      ? [
          createGiteaWebhookRoute({
            secret: giteaSettings.webhookSecret,
            store,
            host: gitea.host,
            onIntent: (intent) => inbox.accept(intent),
            botLogin: giteaBot,
            now,
          }),
        ]
      : []),
    ...(capacity ? [createCapacityBootstrapRoute(capacity)] : []),
    ...(capacity && gitea && giteaSettings
      ? [
          createGiteaCapacityWebhookRoute({
            secret: giteaSettings.webhookSecret,
            host: gitea.host,
            store,
            routes: config.routes,
            onIntent: (intent) => inbox.accept(intent),
            now,
          }),
        ]
      : []),
    createCallbackRoute({ store, sink: orchestrator, logs, secret: settings.agentSecret, now }),
    createBootstrapRoute({
      store,
      secret: settings.agentSecret,
      // The agent's job: needs' results read now, clone credentials short-lived and scoped to the repository.
      jobFor: async (run, order) => {
        const needs = new Map((await store.getOrders(run.runId, order.needsOrders)).map((o) => [o.id, o]));
        return buildOrderJob(
          run,
          order,
          needsContext(order, (id) => needs.get(id)),
          await cloneUrlFor(run),
        );
      },
      reportUrl: joinUrl(config.publicUrl, AGENT_REPORT_PATH),
      now,
    }),
    createLogRoute({ store, logs, now }),
    ...createDashboardRoutes({ store, now }),
    createHealthRoute({ store }),
    createMetricsRoute({ metrics }),
  ];
  const router = instrumentRouter(createRouter(routes), metrics, {
    now,
    webhookPaths: { [GITHUB_WEBHOOK_PATH]: 'github', [GITEA_WEBHOOK_PATH]: 'gitea' },
  });

  const tick = async (): Promise<TickSummary> => {
    await orchestrator.tick();
    const reconciled = await inbox.reconcile();
    const swept = await janitor?.sweep();
    if (capacity) {
      await capacity.reconcile().catch((error: unknown) => logger.error({ err: error }, 'capacity reconcile failed'));
      await capacity.sweep().catch((error: unknown) => logger.error({ err: error }, 'capacity sweep failed'));
    }
    return { reconciled, ...(swept === undefined ? {} : { swept: swept.terminated.length }) };
  };
  const idle = async (): Promise<void> => {
    await inbox.idle();
    await (runners.local as { idle?: () => Promise<void> } | undefined)?.idle?.();
    await reporter.idle();
  };
  logger.info(
    { appSlug: appSlug?.current(), github: github?.baseUrl, gitea: gitea?.host, giteaBot },
    'spotcheck is composed',
  );
  return {
    router,
    store,
    orchestrator,
    logs,
    metrics,
    tick,
    idle,
    async close() {
      // First, so that work waiting for a slug GitHub never told fails rather than holding `idle` forever.
      forgeSet.close();
      await idle();
      await opened.close();
      for (const client of [...ec2Clients.values(), ...codeBuildClients.values()]) client.destroy();
    },
  };
}

/** The configured forges: GitHub (Probot, per installation) and/or one Gitea server, and how to find them. */
export interface ForgeSet {
  readonly probot?: Probot;
  /** The GitHub App's slug: APP_SLUG, or read from GitHub in the background. */
  readonly appSlug?: AppSlug;
  readonly gitea?: Forge;
  readonly giteaBot?: string;
  /** The forge acting for an intent (GitHub: its installation). */
  readonly lookup: ForgeLookup;
  /** The forge acting for a run: Gitea's bot, or the GitHub installation that reported the event. */
  readonly forRun: (run: RunRecord) => Promise<Forge> | undefined;
  readonly notConfigured: (forge: string) => never;
  /** Stops the background work (asking GitHub for the app's slug). */
  close(): void;
}

export async function openForges(
  settings: Pick<ServerSettings, 'github' | 'gitea'>,
  options: {
    readonly logger: Logger;
    readonly now: () => number;
    readonly Octokit?: typeof ProbotOctokit;
    readonly giteaFetch?: typeof fetch;
    readonly appSlugRetry?: AppSlugRetry;
  },
): Promise<ForgeSet> {
  const { logger, now } = options;
  const github = settings.github;
  const probot = github
    ? new Probot({
        appId: github.appId,
        privateKey: github.privateKey,
        secret: github.webhookSecret,
        baseUrl: github.baseUrl,
        log: logger.child({ name: 'probot' }),
        ...(options.Octokit === undefined ? {} : { Octokit: options.Octokit }),
      })
    : undefined;
  const appSlug =
    github && probot
      ? watchAppSlug(probot, logger, {
          ...(github.appSlug ? { fixed: github.appSlug } : {}),
          ...(options.appSlugRetry ? { retry: options.appSlugRetry } : {}),
        })
      : undefined;
  const githubForges =
    github && probot && appSlug
      ? createGitHubForges({ probot, host: github.host, appSlug: appSlug.known, protocol: github.protocol, now })
      : undefined;
  const giteaSettings = settings.gitea;
  const giteaFetch = options.giteaFetch ?? fetch;
  const giteaBot = giteaSettings
    ? (giteaSettings.botLogin ??
      (await readGiteaLogin({ baseUrl: giteaSettings.url, token: giteaSettings.token, fetch: giteaFetch })))
    : undefined;
  const gitea =
    giteaSettings && giteaBot
      ? createGiteaForge({
          baseUrl: giteaSettings.url,
          token: giteaSettings.token,
          botLogin: giteaBot,
          fetch: giteaFetch,
          ...(giteaSettings.cloneToken ? { cloneToken: giteaSettings.cloneToken } : {}),
        })
      : undefined;
  const notConfigured = (forge: string): never => {
    throw new ConfigError(`no ${forge} forge is configured on this server`, { source: 'forge' });
  };
  const forges: ForgeLookup = {
    forInstallation: (install: ForgeInstallation) => {
      if (install.forge === 'gitea') {
        if (!gitea || install.host.toLowerCase() !== gitea.host) return notConfigured(`gitea (${install.host})`);
        return Promise.resolve(gitea);
      }
      return githubForges ? githubForges.forInstallation(install) : notConfigured('github');
    },
  };
  /** The forge acting for a run: Gitea's bot, or the GitHub installation that reported the event. */
  const forgeForRun = (run: RunRecord): Promise<Forge> | undefined => {
    if (run.repo.forge === 'gitea') return gitea && run.repo.host === gitea.host ? Promise.resolve(gitea) : undefined;
    return run.installationId === undefined ? undefined : githubForges?.forInstallation(run.installationId);
  };

  return {
    ...(probot ? { probot } : {}),
    ...(appSlug ? { appSlug } : {}),
    ...(gitea ? { gitea } : {}),
    ...(giteaBot ? { giteaBot } : {}),
    lookup: forges,
    forRun: forgeForRun,
    notConfigured,
    close: () => appSlug?.stop(),
  };
}

/** PATH and HOME only: what a step needs to find its tools, nothing of the bot's own secrets. */
export function cleanStepEnv(env: Env): Record<string, string> {
  return {
    PATH: env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    HOME: env.HOME ?? '/tmp',
    ...(env.LANG ? { LANG: env.LANG } : {}),
  };
}

/** Pauses between attempts to read the app's slug: doubling from `firstMs` up to `maxMs`. */
export interface AppSlugRetry {
  readonly firstMs: number;
  readonly maxMs: number;
}

/** The app's slug (its comments are `<slug>[bot]`'s), once known. */
export interface AppSlug {
  current(): string | undefined;
  /** Resolves once known; rejects when stopped before. */
  readonly known: Promise<string>;
  stop(): void;
}

const DEFAULT_SLUG_RETRY: AppSlugRetry = { firstMs: 1000, maxMs: 5 * 60_000 };

/**
 * APP_SLUG, or `GET /app` in the background, retried with backoff until GitHub answers. The server must not wait
 * for it: offline or with GitHub down, Probot's retries made the first request take 20 s and more, during which the
 * server was not listening and its health check failed. Forges that need the slug (the sticky comment is found by
 * its author, `<slug>[bot]`) wait for `known`.
 */
export function watchAppSlug(
  probot: Probot,
  logger: Logger,
  opts: { readonly fixed?: string; readonly retry?: AppSlugRetry } = {},
): AppSlug {
  if (opts.fixed !== undefined) {
    const slug = opts.fixed;
    return { current: () => slug, known: Promise.resolve(slug), stop: () => undefined };
  }
  const retry = opts.retry ?? DEFAULT_SLUG_RETRY;
  let slug: string | undefined;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let fail: (error: Error) => void = () => undefined;
  const known = new Promise<string>((resolve, reject) => {
    fail = reject;
    const attempt = async (pauseMs: number): Promise<void> => {
      try {
        const app = await probot.auth();
        const { data } = await app.rest.apps.getAuthenticated();
        if (!data?.slug) throw new Error('GitHub answered GET /app without a slug');
        slug = data.slug;
        logger.info({ appSlug: slug }, 'read the app slug from GitHub');
        resolve(slug);
        return;
      } catch (error) {
        if (stopped) return;
        logger.warn({ err: error, retryInMs: pauseMs }, 'cannot read the app slug yet; retrying (set APP_SLUG)');
      }
      if (stopped) return;
      timer = setTimeout(() => void attempt(Math.min(pauseMs * 2, retry.maxMs)), pauseMs);
      // A timer waiting for GitHub must not keep a finished `watchdog --once` alive.
      timer.unref();
    };
    void attempt(retry.firstMs);
  });
  // Nobody may be waiting yet; a stop before the slug is known is not an unhandled rejection.
  known.catch(() => undefined);
  return {
    current: () => slug,
    known,
    stop() {
      stopped = true;
      clearTimeout(timer);
      fail(new Error('stopped before GitHub told the app slug'));
    },
  };
}
