/**
 * The composition of `spotcheck serve`: builds every part with its defaults (embedded store, local runner) and wires
 * them, in small named steps: store and metrics, forges, reporter, runners and janitor, orchestrator, inbox and
 * intake, capacity mode, GitHub's handlers, routes. The settings come from ./settings.ts; the Node transport and the
 * timer are ./start-server.ts's, the Lambda's ./lambda-app.ts's.
 */
import { rm } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { ProbotOctokit } from 'probot';
import { registerHandlers } from '../../handlers/index.ts';
import { registerWorkflowJobHandler } from '../../handlers/workflow-job.ts';
import {
  createCapacityBootstrapRoute,
  createGiteaCapacityWebhookRoute,
  CAPACITY_BOOTSTRAP_PATH,
} from '../server/capacity-routes.ts';
import { processCapacityIntent } from '../capacity/capacity-intake.ts';
import { createCapacityManager, type CapacityManager } from '../capacity/capacity-manager.ts';
import { capacityRoutes } from '../core/capacity.ts';
import { createJanitor, type Janitor } from '../../runners/janitor.ts';
import { codeBuildProjects, createRunners } from '../../runners/registry.ts';
import { actionsSourceFor, type ForgeSite } from '../../runners/actions-source.ts';
import { buildOrderJob, type OrderAccess } from '../../runners/order-job.ts';
import { runLogDir, type LocalRunnerOptions } from '../../runners/local.ts';
import type { ActionsSource, ReportSink, Runner } from '../../runners/runner.ts';
import type { OperatorConfig } from '../config.ts';
import { needsContext } from '../core/engine.ts';
import type { OrderRecord, RunRecord } from '../core/types.ts';
import { createAuthorizer } from '../intake/authorize.ts';
import type { AppSlugRetry } from '../forges/app-slug.ts';
import { openForges, type ForgeSet } from '../forges/registry.ts';
import { createForgeReporter, type ForgeReporter } from '../forges/reporter/forge-reporter.ts';
import { createGiveUp } from '../intake/give-up.ts';
import { createInbox, type Inbox } from '../intake/inbox.ts';
import { createGiteaPoller } from '../intake/gitea-poll.ts';
import { createGiteaPollSource } from '../forges/gitea-poll-source.ts';
import { createIntake, type Notices } from '../intake/intake.ts';
import { createPlanWorkerPool, type PlanWorkerPool } from '../intake/plan-worker-pool.ts';
import { planInProcess, type Planner } from '../intake/planner.ts';
import { isCapacityIntent, type Intent } from '../intake/intents.ts';
import { createBootstrapMinter } from './agent-bootstrap.ts';
import { createOrderTokens, forgeUrlsFor, type OrderTokens } from './order-tokens.ts';
import { createAwsClients, type AwsClients } from './aws-clients.ts';
import { cleanStepEnv, type LocalIsolation, type ServerSettings } from './settings.ts';
import { createDashboardAuth, type DashboardAuth } from './dashboard-auth.ts';
import { Orchestrator } from '../orchestrator.ts';
import { createBootstrapRoute } from '../server/bootstrap-route.ts';
import { AGENT_REPORT_PATH, createCallbackRoute } from '../server/callback-route.ts';
import { deliveryClaimKeyOf } from '../server/delivery-claims.ts';
import { createGitHubRedelivery, REDELIVERY_LEASE_KIND } from '../server/github-redelivery.ts';
import { createGiteaWebhookRoute, GITEA_WEBHOOK_PATH } from '../server/gitea-webhook-route.ts';
import { createGithubWebhookRoute, GITHUB_WEBHOOK_PATH } from '../server/github-webhook-route.ts';
import { createHealthRoute } from '../server/health-route.ts';
import { pruneLogs } from '../server/log-pruning.ts';
import { createFileLogStore, type LogStore } from '../server/log-store.ts';
import { createLogRoute } from '../server/log-route.ts';
import { createDashboardRoutes, type DashboardOptions } from '../server/dashboard/dashboard-routes.ts';
import { createSecretsRoutes } from '../server/dashboard/secrets-routes.ts';
import { secretsPath } from '../server/dashboard/secrets-page.ts';
import {
  createMetrics,
  instrumentReporter,
  instrumentRouter,
  instrumentRunners,
  type SpotcheckMetrics,
} from '../server/metrics.ts';
import { createMetricsRoute, readOrderCounts } from '../server/metrics-route.ts';
import { orderSecretsReader } from '../server/order-secrets.ts';
import { DEFAULT_ID_TOKEN_LIFETIME_SECONDS, idTokenRefusal } from '../core/id-token-claims.ts';
import { localIdTokenSigner, type IdTokenSigner } from '../server/id-token-signer.ts';
import { kmsIdTokenSigner } from '../server/kms-id-token-signer.ts';
import { createOidcRoutes, idTokenRequestFor } from '../server/oidc-routes.ts';
import { KMSClient } from '@aws-sdk/client-kms';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SSMClient } from '@aws-sdk/client-ssm';
import { awsExternalSecrets, type ExternalSecrets } from '../server/external-secrets.ts';
import { join } from 'node:path';
import { createRouter, type RouteDefinition, type Router } from '../server/router.ts';
import type { ExpiredItems } from '../store/expiry-sweep.ts';
import { openStore } from '../store/open-store.ts';
import type { Store } from '../store/store.ts';
import type { SecretStore } from '../store/secret-store.ts';
import { joinUrl } from '../core/url.ts';

export interface SpotcheckAppOptions {
  /** The forges and the agents' secret (a server's port and host are the Node transport's business). */
  readonly settings: Pick<
    ServerSettings,
    'github' | 'gitea' | 'agentSecret' | 'local' | 'login' | 'sessionSecret' | 'metricsToken'
  >;
  /** Gitea's `fetch` (tests stub it; Probot's octokit has its own). */
  readonly giteaFetch?: typeof fetch;
  /** The `fetch` of people's login: the forges' OAuth and REST endpoints with the user's token (tests stub it). */
  readonly loginFetch?: typeof fetch;
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
  /** The clients secrets are read through with (`secrets:` in the operator config); tests pass mocked ones. */
  readonly externalSecretClients?: {
    readonly secretsManager?: SecretsManagerClient;
    readonly ssm?: SSMClient;
  };
  /** The app's metrics (a registry of its own); one is made when unset. */
  readonly metrics?: SpotcheckMetrics;
  /** Pauses between attempts to read the app's slug when APP_SLUG is unset (tests shorten them). */
  readonly appSlugRetry?: AppSlugRetry;
  /**
   * How often the tick asks GitHub for the App's failed deliveries to redeliver them (5 minutes by default; 0: never).
   */
  readonly redeliveryMs?: number;
  /**
   * The plan worker's entry module: the tsx entry of the sources by default; the Lambda bundle passes its own. Plan
   * workers are used when `limits.planWorkers` is above 0 (src/intake/plan-worker-pool.ts).
   */
  readonly planWorkerEntry?: URL;
}

/** What one tick did, for the scheduled handler's summary and its metrics. */
export interface TickSummary {
  /** Intents the inbox retried. */
  readonly reconciled: number;
  /** Instances and builds the janitor terminated (undefined: no cloud runner, no janitor). */
  readonly swept?: number;
  /** Failed GitHub deliveries GitHub was asked to redeliver (undefined: no GitHub App, or not this tick). */
  readonly redelivered?: number;
  /** Events the poll of Gitea found and stored (undefined: no poll configured, or not this tick). */
  readonly polled?: number;
}

/** Everything `spotcheck serve` is but the HTTP server and the timer: what the Node and Lambda transports share. */
export interface SpotcheckApp {
  readonly router: Router;
  readonly store: Store;
  /** The sealed secrets (`spotcheck secrets` and the dashboard's secrets pages write them). */
  readonly secrets: SecretStore;
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

/** What every step of the composition shares. */
interface Base {
  readonly options: SpotcheckAppOptions;
  readonly config: OperatorConfig;
  readonly logger: Logger;
  readonly now: () => number;
  readonly store: Store;
  /** For the health check: why the store is not the one it started as (store/store-identity.ts). */
  readonly identityProblem: () => Promise<string | undefined>;
  /** The order's secrets, opened: only for a job an agent holds (local launch, bootstrap exchange). */
  readonly secretsFor: (run: RunRecord, order: OrderRecord) => Promise<Readonly<Record<string, string>>>;
  /** The sealed secrets, for the dashboard's secrets pages (names and flags; they never open a value). */
  readonly secrets: SecretStore;
}

type Runners = Partial<Record<Runner['kind'], Runner>>;

/**
 * The composition: store, Probot (its webhooks loaded here, once, before any request can reach
 * `verifyAndReceive`), forges, runners, orchestrator, inbox, intake, reporter and the router.
 */
export async function createSpotcheckApp(options: SpotcheckAppOptions): Promise<SpotcheckApp> {
  const { settings, config, logger } = options;
  const now = options.now ?? Date.now;
  const opened = await openStore(config, config.store.dir);
  const external = buildExternalSecrets(options);
  const base: Base = {
    options,
    config,
    logger,
    now,
    store: opened.store,
    identityProblem: opened.identityProblem,
    secretsFor: orderSecretsReader(opened.secrets, external.secrets),
    secrets: opened.secrets,
  };
  const { store } = opened;
  const metrics = options.metrics ?? createMetrics({ orderCounts: () => readOrderCounts(store) });
  const forgeSet = await openForges(settings, {
    logger,
    now,
    ...(options.Octokit ? { Octokit: options.Octokit } : {}),
    ...(options.giteaFetch ? { giteaFetch: options.giteaFetch } : {}),
    ...(options.appSlugRetry ? { appSlugRetry: options.appSlugRetry } : {}),
  });
  const logs = options.logs ?? createFileLogStore(config.store.dir);
  const cloneUrlFor = options.cloneUrlFor ?? cloneUrlFromForge(forgeSet);
  const reporter = buildReporter(base, forgeSet);
  const aws = createAwsClients();
  // The runners report to the orchestrator, built after them.
  const sink: ReportSink = { report: (...args) => orchestrator.report(...args) };
  const runners = buildRunners(base, sink, aws);
  const tokens = createOrderTokens({
    store,
    forgeFor: (run) => forgeSet.forRun(run) ?? forgeSet.notConfigured(run.repo.forge),
    secret: settings.agentSecret,
    logger: logger.child({ name: 'order-tokens' }),
    now,
  });
  const access = orderAccess(settings, tokens, (run, order) =>
    idTokenRequestFor(config.publicUrl, settings.agentSecret, run, order, now()),
  );
  const idTokens = buildIdTokenSigner(base);
  const janitor = buildJanitor(base, aws);
  const orchestrator: Orchestrator = new Orchestrator({
    store,
    runners: instrumentRunners(runners, metrics),
    routes: config.routes,
    limits: config.limits,
    reporter: instrumentReporter(reporter, metrics),
    logger: logger.child({ name: 'orchestrator' }),
    now,
    // Only the local runner clones from the job's URL and reads the job's token, actions token and secrets. A cloud
    // agent gets them from the bootstrap exchange (the bootstrap route), minted when it starts, so a cloud launch
    // mints none: nothing of them can reach user data or a build's environment.
    jobFor: async (run, order, needs, runner) => {
      if (runner !== 'local') return buildOrderJob(run, order, needs, '', actionsSourceOf(base, run, false));
      const job = buildOrderJob(
        run,
        order,
        needs,
        await cloneUrlFor(run),
        actionsSourceOf(base, run, true),
        await access(run, order),
      );
      const secrets = await base.secretsFor(run, order);
      return Object.keys(secrets).length === 0 ? job : { ...job, secrets };
    },
    revokeOrderToken: (run, order) => tokens.revoke(run, order),
  });
  const capacity = buildCapacity(base, forgeSet, aws);
  const planWorkers = buildPlanWorkers(base);
  const inbox = buildInbox(base, forgeSet, reporter, orchestrator, capacity, planWorkers?.planner ?? planInProcess);
  await loadGitHubHandlers(base, forgeSet, inbox, capacity);
  const auth = await createDashboardAuth({
    settings,
    store,
    publicUrl: config.publicUrl,
    dataDir: config.store.dir,
    now,
    ...(options.loginFetch ? { fetch: options.loginFetch } : {}),
  });
  const routes = buildRoutes(base, forgeSet, {
    inbox,
    capacity,
    orchestrator,
    logs,
    metrics,
    cloneUrlFor,
    access,
    signer: idTokens.signer,
    auth,
  });
  const router = instrumentRouter(createRouter(routes), metrics, {
    now,
    webhookPaths: { [GITHUB_WEBHOOK_PATH]: 'github', [GITEA_WEBHOOK_PATH]: 'gitea' },
  });

  const sweepIndex = indexSweeper(base, inbox);
  await sweepIndex();
  const redeliver = redeliverer(base, forgeSet);
  const pollGitea = giteaPoller(base, forgeSet, inbox);
  const sweepExpired = expirySweeper(base, opened.deleteExpired);
  // Only the log files this server writes (the default file store); a store passed in keeps its own logs.
  const pruneLogFolder = options.logs === undefined ? logPruner(base) : () => Promise.resolve();
  const tick = async (): Promise<TickSummary> => {
    await orchestrator.tick();
    await sweepIndex();
    await sweepExpired();
    await pruneLogFolder();
    const reconciled = await inbox.reconcile();
    const redelivered = await redeliver();
    const polled = await pollGitea();
    const swept = await janitor?.sweep();
    if (capacity) {
      await capacity.reconcile().catch((error: unknown) => logger.error({ err: error }, 'capacity reconcile failed'));
      await capacity.sweep().catch((error: unknown) => logger.error({ err: error }, 'capacity sweep failed'));
    }
    return {
      reconciled,
      ...(swept === undefined ? {} : { swept: swept.terminated.length }),
      ...(redelivered === undefined ? {} : { redelivered }),
      ...(polled === undefined ? {} : { polled }),
    };
  };
  const idle = async (): Promise<void> => {
    await inbox.idle();
    await (runners.local as { idle?: () => Promise<void> } | undefined)?.idle?.();
    await reporter.idle();
  };
  logger.info(
    {
      appSlug: forgeSet.appSlug?.current(),
      github: settings.github?.baseUrl,
      gitea: forgeSet.gitea?.host,
      giteaBot: forgeSet.giteaBot,
    },
    'spotcheck is composed',
  );
  return {
    router,
    store,
    secrets: opened.secrets,
    orchestrator,
    logs,
    metrics,
    tick,
    idle,
    async close() {
      // First, so that work waiting for a slug GitHub never told fails rather than holding `idle` forever.
      forgeSet.close();
      await idle();
      await planWorkers?.close();
      await opened.close();
      aws.destroy();
      idTokens.close();
      external.close();
    },
  };
}

/**
 * Secrets read through from AWS when the operator config's `secrets:` names a Secrets Manager or SSM prefix; the
 * clients made here (in the prefix's region) are closed with the app, those the options passed are their owner's.
 */
function buildExternalSecrets({ config, externalSecretClients: given }: SpotcheckAppOptions): {
  readonly secrets?: ExternalSecrets;
  close(): void;
} {
  const { awsSecretsManager, ssm } = config.secrets ?? {};
  if (awsSecretsManager === undefined && ssm === undefined) return { close: () => undefined };
  const regionOf = (region: string | undefined) => (region === undefined ? {} : { region });
  const made: { destroy(): void }[] = [];
  const own = <T extends { destroy(): void }>(client: T): T => {
    made.push(client);
    return client;
  };
  const secrets = awsExternalSecrets({
    ...(awsSecretsManager === undefined
      ? {}
      : {
          secretsManager: {
            prefix: awsSecretsManager.prefix,
            client: given?.secretsManager ?? own(new SecretsManagerClient(regionOf(awsSecretsManager.region))),
          },
        }),
    ...(ssm === undefined
      ? {}
      : { ssm: { prefix: ssm.prefix, client: given?.ssm ?? own(new SSMClient(regionOf(ssm.region))) } }),
  });
  return { secrets, close: () => made.forEach((client) => client.destroy()) };
}

/** Where a run's actions come from: the operator's `actions:` source, or by default per the run's forge. */
function actionsSourceOf(
  { options, config }: Pick<Base, 'options' | 'config'>,
  run: RunRecord,
  withToken: boolean,
): ActionsSource {
  const { github, gitea } = options.settings;
  const forge: ForgeSite | undefined =
    run.repo.forge === 'github' && github
      ? { kind: 'github', url: `${github.protocol}://${github.host}`, apiUrl: github.baseUrl }
      : run.repo.forge === 'gitea' && gitea
        ? { kind: 'gitea', url: gitea.url, apiUrl: `${gitea.url}/api/v1` }
        : undefined;
  return actionsSourceFor(config.actions ?? {}, forge, withToken);
}

/**
 * What only an agent's job carries: the order's token (minted now), the forge's URLs, and where to ask for ID tokens
 * when the job may have them (its permissions grant `id-token: write`, and the run is not an outsider's).
 */
function orderAccess(
  settings: SpotcheckAppOptions['settings'],
  tokens: OrderTokens,
  idTokenRequest: (run: RunRecord, order: OrderRecord) => OrderAccess['idToken'],
): (run: RunRecord, order: OrderRecord) => Promise<OrderAccess> {
  return async (run, order) => ({
    token: await tokens.issue(run, order),
    forgeUrls: forgeUrlsFor(run.repo.forge, settings),
    ...(idTokenRefusal(run, order) === undefined ? { idToken: idTokenRequest(run, order) } : {}),
  });
}

/**
 * The ID token signer: the operator's KMS key when `oidc.kmsKeyId` is set (deployed), else a local key pair in the
 * data folder, made on first use and rotated weekly (embedded).
 */
function buildIdTokenSigner({ config, now }: Pick<Base, 'config' | 'now'>): {
  readonly signer: IdTokenSigner;
  close(): void;
} {
  const oidc = config.oidc;
  if (oidc?.kmsKeyId === undefined)
    return {
      signer: localIdTokenSigner({ keyFile: join(config.store.dir, 'oidc-signing-keys.json'), now }),
      close: () => undefined,
    };
  const kms = new KMSClient(oidc.region === undefined ? {} : { region: oidc.region });
  return {
    signer: kmsIdTokenSigner({
      kms,
      keyId: oidc.kmsKeyId,
      ...(oidc.previousKmsKeyIds === undefined ? {} : { previousKeyIds: oidc.previousKmsKeyIds }),
    }),
    close: () => kms.destroy(),
  };
}

/** By default an order's checkout comes from the forge's clone credentials for the run's repository. */
function cloneUrlFromForge(forgeSet: ForgeSet): (run: RunRecord) => Promise<string> {
  return async (run) => {
    const forge = await (forgeSet.forRun(run) ?? forgeSet.notConfigured(run.repo.forge));
    return (await forge.cloneCredentials(run.repo)).url;
  };
}

function buildReporter({ store, config, logger, now }: Base, forgeSet: ForgeSet): ForgeReporter {
  return createForgeReporter({
    store,
    forges: { forRun: (run) => forgeSet.forRun(run) ?? Promise.resolve(undefined) },
    publicUrl: config.publicUrl,
    logger: logger.child({ name: 'reporter' }),
    now,
  });
}

function buildRunners({ options, config, logger, now, store }: Base, sink: ReportSink, aws: AwsClients): Runners {
  return {
    ...createRunners(config.routes, {
      ...(options.localRunner === false
        ? {}
        : {
            local: {
              sink,
              dataDir: config.store.dir,
              // Steps never inherit the bot's environment: no private key, webhook secret, token or AWS credentials.
              baseEnv: options.stepEnv ?? (() => cleanStepEnv(process.env)),
              logger: logger.child({ name: 'local-runner' }),
              // The server owns its data folder: what a crashed start left goes before any order is retried.
              sweepLeftovers: true,
              ...localIsolation(options.settings.local),
            },
          }),
      // Cloud agents get a one-time token in their user data and exchange it here; the order travels that way.
      bootstrap: createBootstrapMinter(store, config.publicUrl, now),
      clock: now,
      logger,
      ec2: aws.ec2,
      codebuild: aws.codebuild,
    }),
    ...options.runners,
  };
}

/** Why a pull request's order does not run on the local runner without a step user (the start-up log says it too). */
export const LOCAL_PR_REFUSAL =
  "pull_request and testme orders do not run on the local runner as the server's own user: their code could read " +
  "the server's secrets, files and store. Set SPOTCHECK_LOCAL_USER to run them as an unprivileged user, or opt in " +
  'with SPOTCHECK_LOCAL_PR_AS_SERVER_USER=true';

function localIsolation(local: LocalIsolation | undefined): Pick<LocalRunnerOptions, 'user' | 'refusePullRequests'> {
  if (local === undefined) return {};
  if (local.user !== undefined) return { user: local.user };
  return local.pullRequestsAsServerUser ? {} : { refusePullRequests: LOCAL_PR_REFUSAL };
}

/**
 * The janitor sweeps what the cloud runners may have left behind (a crash between launch and write, a lost
 * terminate): instances and builds tagged by spotcheck with no live order, past the grace period. Called after
 * the runners are built: a route's runner makes its region's client, and no client means nothing to sweep.
 */
function buildJanitor({ config, logger, now, store }: Base, aws: AwsClients): Janitor | undefined {
  const { ec2, codebuild } = aws.first();
  return ec2
    ? createJanitor({
        ec2,
        ...(codebuild ? { codebuild, projects: codeBuildProjects(config.routes.values()) } : {}),
        store,
        clock: now,
        logger: logger.child({ name: 'janitor' }),
      })
    : undefined;
}

/** Capacity mode (src/capacity/): only when a route is marked `capacity: true`. */
function buildCapacity(
  { config, logger, now, store }: Base,
  forgeSet: ForgeSet,
  aws: AwsClients,
): CapacityManager | undefined {
  if (capacityRoutes(config.routes).size === 0) return undefined;
  return createCapacityManager({
    store,
    routes: config.routes,
    forges: forgeSet.lookup,
    ec2: aws.ec2,
    bootstrapUrl: joinUrl(config.publicUrl, CAPACITY_BOOTSTRAP_PATH),
    clock: now,
    logger: logger.child({ name: 'capacity' }),
  });
}

/**
 * The plan workers: parsing and planning repository content off this thread, under `limits.planSeconds` and
 * `limits.planMemoryMb` (issue 16); none with `limits.planWorkers: 0` (planning then shares this thread).
 */
function buildPlanWorkers({ options, config, logger }: Base): PlanWorkerPool | undefined {
  if (config.limits.planWorkers === 0) return undefined;
  return createPlanWorkerPool({
    workers: config.limits.planWorkers,
    budgetMs: config.limits.planSeconds * 1000,
    memoryMb: config.limits.planMemoryMb,
    logger: logger.child({ name: 'plan-workers' }),
    ...(options.planWorkerEntry ? { entry: options.planWorkerEntry } : {}),
  });
}

/** The inbox, processing order intents through the intake and capacity intents through capacity mode. */
function buildInbox(
  { options, config, logger, now, store }: Base,
  forgeSet: ForgeSet,
  reporter: ForgeReporter,
  orchestrator: Orchestrator,
  capacity: CapacityManager | undefined,
  planner: Planner,
): Inbox {
  const forges = forgeSet.lookup;
  const notices: Notices = async (install, repo, pr, line) =>
    reporter.notice({ repo, pr, forge: await forges.forInstallation(install) }, line);
  const authorizer = createAuthorizer({ forges, ...(config.org ? { org: config.org } : {}), now });
  const intake = createIntake({
    forges,
    orchestrator,
    store,
    authorizer,
    config: {
      limits: config.limits,
      publicUrl: config.publicUrl,
      workflows: config.workflows,
      ...(config.vars === undefined ? {} : { vars: config.vars }),
    },
    notices,
    planner,
    logger: logger.child({ name: 'intake' }),
    now,
  });
  const capacityLog = logger.child({ name: 'capacity' });
  const githubHost = options.settings.github?.host;
  return createInbox({
    store,
    // Capacity intents exist only when capacity mode is on (the handler and the route are registered with it).
    process: async (intent) => {
      if (!isCapacityIntent(intent)) return intake.process(intent);
      if (capacity) await processCapacityIntent(capacity, intent, capacityLog);
    },
    logger: logger.child({ name: 'inbox' }),
    now,
    onGiveUp: createGiveUp({
      store,
      claimKeyOf: (intent: Intent) => deliveryClaimKeyOf(intent, githubHost),
      notices,
      logger,
    }),
  });
}

/** How often the embedded store's inbox is swept for intents its index lost. */
const INDEX_SWEEP_MS = 10 * 60_000;

/**
 * The inbox sweep, at start and then at most every INDEX_SWEEP_MS from the tick. Only the embedded engine needs it:
 * dynalite writes an item and its index entries separately, so a disk error between them loses the entry, while
 * DynamoDB maintains its indexes itself (and a table scan there costs money). A failed sweep is logged and retried
 * next time; it never stops the tick.
 */
function indexSweeper({ config, logger, now }: Base, inbox: Inbox): () => Promise<void> {
  let last: number | undefined;
  return async () => {
    if (config.store.kind !== 'embedded') return;
    const at = now();
    if (last !== undefined && at - last < INDEX_SWEEP_MS) return;
    last = at;
    await inbox.sweep().catch((error: unknown) => logger.error({ err: error }, 'inbox index sweep failed'));
  };
}

/** How often GitHub's failed deliveries are looked for by default (a request or a few as the App, plus redeliveries). */
const REDELIVERY_MS = 5 * 60_000;

/**
 * The reconcile of lost GitHub deliveries (server/github-redelivery.ts), from the tick at most every `redeliveryMs`
 * across replicas and Lambda containers: a lease document in the store, taken only when absent or expired, says
 * when it last ran. The first tick after a restart usually runs it, so deliveries lost while the server was down are
 * asked for again when it comes back. A failed reconcile is logged and tried at the next interval; it never stops the
 * tick.
 */
function redeliverer({ options, store, logger, now }: Base, forgeSet: ForgeSet): () => Promise<number | undefined> {
  const { probot } = forgeSet;
  const github = options.settings.github;
  const intervalMs = options.redeliveryMs ?? REDELIVERY_MS;
  if (!probot || !github || intervalMs <= 0) return () => Promise.resolve(undefined);
  const redelivery = createGitHubRedelivery({
    app: () => probot.auth(),
    store,
    host: github.host,
    logger: logger.child({ name: 'redelivery' }),
    now,
  });
  return async () => {
    try {
      const at = now();
      const lease = await store.putDoc(REDELIVERY_LEASE_KIND, github.host, { at }, { expiresAt: at + intervalMs });
      if (lease === undefined) return undefined;
      const summary = await redelivery.reconcile();
      if (summary.lost > 0) logger.info(summary, 'failed GitHub deliveries reconciled');
      return summary.redelivered;
    } catch (error) {
      logger.error({ err: error }, 'cannot reconcile failed GitHub deliveries');
      return undefined;
    }
  };
}

/**
 * The poll of Gitea (intake/gitea-poll.ts), when `gitea.poll` is configured: from the tick at most every
 * `intervalSeconds` across replicas and Lambda containers, through a lease document as the GitHub reconcile has. The
 * tick's own period (15 s) is the finest grain. A failed poll is logged and tried at the next interval; it never
 * stops the tick.
 */
function giteaPoller({ options, config, store, logger, now }: Base, forgeSet: ForgeSet, inbox: Inbox) {
  const settings = options.settings.gitea;
  const poll = config.gitea?.poll;
  const { gitea, giteaBot } = forgeSet;
  if (!poll || !settings || !gitea || !giteaBot) return () => Promise.resolve(undefined);
  const poller = createGiteaPoller({
    source: createGiteaPollSource({
      baseUrl: settings.url,
      token: settings.token,
      ...(options.giteaFetch ? { fetch: options.giteaFetch } : {}),
    }),
    store,
    accept: (intent) => inbox.accept(intent),
    host: gitea.host,
    botLogin: giteaBot,
    settings: {
      maxReposPerInterval: poll.maxReposPerInterval,
      maxRequestsPerInterval: poll.maxRequestsPerInterval,
      ...(poll.repos === undefined ? {} : { repos: poll.repos }),
    },
    intervalMs: poll.intervalSeconds * 1000,
    logger: logger.child({ name: 'gitea-poll' }),
    now,
  });
  return async (): Promise<number | undefined> => {
    try {
      const summary = await poller.pollIfDue();
      if (summary === undefined) return undefined;
      if (summary.accepted > 0 || summary.failed > 0) logger.info(summary, 'Gitea polled');
      return summary.accepted;
    } catch (error) {
      logger.error({ err: error }, 'cannot poll Gitea');
      return undefined;
    }
  };
}

/** How often the embedded store is swept for expired items (retention is days; an hour late is nothing). */
const EXPIRY_SWEEP_MS = 60 * 60_000;

/**
 * Retention for the embedded store, from the tick at most every EXPIRY_SWEEP_MS (the first tick sweeps): expired
 * runs, orders and documents are deleted, and the log folders of the expired runs with them. A DynamoDB table does
 * this itself (TTL), so there is nothing to call. A failed sweep is logged and retried next time.
 */
function expirySweeper(
  { config, logger, now }: Base,
  deleteExpired: ((now: number) => Promise<ExpiredItems>) | undefined,
): () => Promise<void> {
  let last: number | undefined;
  return async () => {
    if (deleteExpired === undefined) return;
    const at = now();
    if (last !== undefined && at - last < EXPIRY_SWEEP_MS) return;
    last = at;
    try {
      const expired = await deleteExpired(at);
      for (const runId of expired.runIds)
        await rm(runLogDir(config.store.dir, runId), { recursive: true, force: true });
      if (expired.deleted > 0)
        logger.info({ deleted: expired.deleted, runs: expired.runIds.length }, 'expired items deleted');
    } catch (error) {
      logger.error({ err: error }, 'expiry sweep failed');
    }
  };
}

/** How often the log folder's total is checked against `limits.logsTotalMb`. */
const LOG_PRUNE_MS = 5 * 60_000;

/** The log folder's total cap, from the tick at most every LOG_PRUNE_MS; a failure is logged and retried. */
function logPruner({ config, logger, now }: Base): () => Promise<void> {
  let last: number | undefined;
  return async () => {
    const at = now();
    if (last !== undefined && at - last < LOG_PRUNE_MS) return;
    last = at;
    try {
      const pruned = await pruneLogs(config.store.dir, config.limits.logsTotalMb * 1024 * 1024);
      if (pruned.removed > 0) logger.warn(pruned, 'order logs over limits.logsTotalMb: the oldest were removed');
    } catch (error) {
      logger.error({ err: error }, 'log pruning failed');
    }
  };
}

/** Probot's handlers, loaded once, before any request can reach `verifyAndReceive`. */
async function loadGitHubHandlers(
  { options, config, now }: Base,
  forgeSet: ForgeSet,
  inbox: Inbox,
  capacity: CapacityManager | undefined,
): Promise<void> {
  const { probot, appSlug } = forgeSet;
  const github = options.settings.github;
  if (!probot || !appSlug) return;
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

interface RouteParts {
  readonly inbox: Inbox;
  readonly capacity: CapacityManager | undefined;
  readonly orchestrator: Orchestrator;
  readonly logs: LogStore;
  readonly metrics: SpotcheckMetrics;
  readonly cloneUrlFor: (run: RunRecord) => Promise<string>;
  readonly access: (run: RunRecord, order: OrderRecord) => Promise<OrderAccess>;
  readonly signer: IdTokenSigner;
  readonly auth: DashboardAuth;
}

function buildRoutes(base: Base, forgeSet: ForgeSet, parts: RouteParts): RouteDefinition[] {
  const { store, now } = base;
  const { logs, metrics, auth } = parts;
  const { visibility } = auth;
  return [
    ...buildWebhookRoutes(base, forgeSet, parts),
    createCallbackRoute({ store, sink: parts.orchestrator, logs, secret: base.options.settings.agentSecret, now }),
    buildBootstrapRoute(base, parts.cloneUrlFor, parts.access),
    createLogRoute({ store, logs, visibility, now }),
    ...createDashboardRoutes({ store, visibility, now, ...secretsLinkOf(auth) }),
    ...auth.routes,
    ...(auth.secretAdmins === undefined
      ? []
      : createSecretsRoutes({ secrets: base.secrets, admins: auth.secretAdmins })),
    ...createOidcRoutes({
      publicUrl: base.config.publicUrl,
      signer: parts.signer,
      store,
      agentSecret: base.options.settings.agentSecret,
      lifetimeSeconds: (base.config.oidc?.tokenMinutes ?? DEFAULT_ID_TOKEN_LIFETIME_SECONDS / 60) * 60,
      now,
    }),
    createHealthRoute({ store, identityProblem: base.identityProblem }),
    createMetricsRoute({ metrics, token: base.options.settings.metricsToken }),
  ];
}

/** A run page links to its repository's secrets for someone the forge says administers it. */
function secretsLinkOf({ secretAdmins, visibility }: DashboardAuth): Pick<DashboardOptions, 'secretsLink'> {
  if (secretAdmins === undefined) return {};
  return {
    secretsLink: async (req, run) =>
      (await visibility.administers(req, run.repo)) ? secretsPath(run.repo.owner, run.repo.name) : undefined,
  };
}

/** One webhook route per configured forge, and capacity mode's when it is on. */
function buildWebhookRoutes(
  { options, config, now, store }: Base,
  forgeSet: ForgeSet,
  { inbox, capacity }: RouteParts,
): RouteDefinition[] {
  const { probot, gitea, giteaBot } = forgeSet;
  const { github, gitea: giteaSettings } = options.settings;
  const onIntent = (intent: Intent): Promise<void> => inbox.accept(intent);
  return [
    ...(probot && github
      ? [createGithubWebhookRoute({ probot, secret: github.webhookSecret, store, host: github.host, now })]
      : []),
    // Without a webhook secret Gitea is only polled: no route, so nothing unsigned is ever taken as a delivery.
    ...(gitea && giteaSettings?.webhookSecret !== undefined && giteaBot
      ? [
          createGiteaWebhookRoute({
            secret: giteaSettings.webhookSecret,
            store,
            host: gitea.host,
            onIntent,
            botLogin: giteaBot,
            now,
          }),
        ]
      : []),
    ...(capacity ? [createCapacityBootstrapRoute(capacity)] : []),
    ...(capacity && gitea && giteaSettings?.webhookSecret !== undefined
      ? [
          createGiteaCapacityWebhookRoute({
            secret: giteaSettings.webhookSecret,
            host: gitea.host,
            store,
            routes: config.routes,
            onIntent,
            now,
          }),
        ]
      : []),
  ];
}

/** The agent's job: needs' results read now, clone credentials short-lived and scoped to the repository. */
function buildBootstrapRoute(
  { options, config, now, store, secretsFor }: Base,
  cloneUrlFor: (run: RunRecord) => Promise<string>,
  access: (run: RunRecord, order: OrderRecord) => Promise<OrderAccess>,
): RouteDefinition {
  return createBootstrapRoute({
    store,
    secretsFor,
    secret: options.settings.agentSecret,
    jobFor: async (run, order) => {
      const needs = new Map((await store.getOrders(run.runId, order.needsOrders)).map((o) => [o.id, o]));
      return buildOrderJob(
        run,
        order,
        needsContext(order, (id) => needs.get(id)),
        await cloneUrlFor(run),
        actionsSourceOf({ options, config }, run, true),
        await access(run, order),
      );
    },
    reportUrl: joinUrl(config.publicUrl, AGENT_REPORT_PATH),
    now,
  });
}
