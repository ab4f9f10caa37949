/**
 * Operator configuration (`spotcheck.yml` beside the server, or the file named by SPOTCHECK_CONFIG): routes,
 * limits, store, forges. Validated strictly once at start-up; every error reported at once; secrets never printed.
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parse, YAMLError } from 'yaml';
import { ConfigError } from './errors.ts';
import { isLoopbackHost, trimTrailingSlashes } from './core/url.ts';
import { varNameProblem, type VarsSettings } from './core/vars.ts';
import type { ActionsConfig } from '../runners/actions-source.ts';
import { parseRouteSettings } from '../runners/route-settings.ts';
import type { Route } from '../runners/runner.ts';
import {
  DEFAULT_WORKFLOW_FOLDER_SETTINGS,
  WORKFLOW_FOLDERS,
  workflowFolderOf,
  type WorkflowFolder,
  type WorkflowFolderSettings,
} from './core/workflow/workflow-files.ts';

export interface Limits {
  /** Orders running at once across all runs; more wait in a queue (oldest first). */
  readonly maxConcurrentOrders: number;
  /** Orders one run may have after matrix expansion. */
  readonly maxOrdersPerRun: number;
  /** Attempts per order when its runner is interrupted. */
  readonly maxAttempts: number;
  /** Days a run's records are kept (expiresAt). */
  readonly retentionDays: number;
  /** MiB all order logs in the data folder may take together; over it, the oldest logs are removed first. */
  readonly logsTotalMb: number;
  /**
   * Seconds of a plan worker's time one commit's workflows may take to parse and plan (fractions allowed); past it
   * the file being read fails with a status that says so (src/intake/plan-worker-pool.ts).
   */
  readonly planSeconds: number;
  /** Plan worker threads at most (never more than the cores); 0: plan in the server's own thread. */
  readonly planWorkers: number;
  /** A plan worker's heap cap, MiB: a file that needs more fails with a status that says so. */
  readonly planMemoryMb: number;
}

export interface StoreConfig {
  /** `embedded`: dynalite on a local folder; `dynamodb`: a real table. */
  readonly kind: 'embedded' | 'dynamodb';
  /** The data folder (embedded store, order logs, working directories); absolute once loaded for a server. */
  readonly dir: string;
  readonly table: string;
  readonly region?: string;
  readonly endpoint?: string;
  /** `dynamodb` only: the KMS key (id, ARN or alias) that wraps the secrets' data keys. */
  readonly kmsKeyId?: string;
}

export interface OperatorConfig {
  /** Label → route; a route with several labels (`labels:`) is found under each (src/core/route-match.ts). */
  readonly routes: ReadonlyMap<string, Route>;
  readonly limits: Limits;
  readonly store: StoreConfig;
  /** The org whose members may run PR code; unset = the repository owner when it is an org. */
  readonly org?: string;
  /** Base URL the forge and agents reach the server at (log links, callbacks). */
  readonly publicUrl: string;
  /** Which folders of a repository hold its workflow files (`resolveWorkflowFolders`). */
  readonly workflows: WorkflowFolderSettings;
  /** The `vars` context per org (`owner/*`) and repository (`owner/name`); see src/core/vars.ts. */
  readonly vars?: VarsSettings;
  /** Where `uses: owner/repo@ref` actions are downloaded from (`runners/actions-source.ts`); absent: `{}`. */
  readonly actions?: ActionsConfig;
  /** ID tokens (src/server/oidc-routes.ts); absent: a local key in the data folder, tokens valid five minutes. */
  readonly oidc?: OidcConfig;
  /** Gitea's own settings: its poll (src/intake/gitea-poll.ts); absent: no poll. */
  readonly gitea?: GiteaConfig;
  /** Where secrets not in spotcheck's store are read through (src/server/external-secrets.ts); absent: nowhere. */
  readonly secrets?: ExternalSecretsConfig;
}

/**
 * `secrets: { awsSecretsManager?: { prefix, region? }, ssm?: { prefix, region? } }`: a secret a job names that
 * spotcheck's own store does not give it is read from AWS Secrets Manager (the secret's string) and then SSM
 * Parameter Store (decrypted) under `<prefix><owner>/<repo>/<NAME>`, then `<prefix><owner>/<NAME>`.
 */
export interface ExternalSecretsConfig {
  readonly awsSecretsManager?: ExternalSecretSource;
  readonly ssm?: ExternalSecretSource;
}

export interface ExternalSecretSource {
  /** Ends with `/`; SSM's starts with `/` too (a parameter hierarchy). */
  readonly prefix: string;
  readonly region?: string;
}

/** `gitea: { poll: { … } }`. */
export interface GiteaConfig {
  readonly poll?: GiteaPollConfig;
}

/**
 * `gitea.poll`: poll the enrolled repositories every `intervalSeconds` for what their webhook may have lost (or as
 * the only intake, with no webhook). `repos`: `owner/name` and `owner/*` entries; absent: every repository the bot
 * user can see.
 */
export interface GiteaPollConfig {
  readonly intervalSeconds: number;
  readonly repos?: readonly string[];
  readonly maxReposPerInterval: number;
  readonly maxRequestsPerInterval: number;
}

/** The poll's defaults: cc-ci polled every 30 s; a minute leaves Gitea room with many repositories. */
export const DEFAULT_GITEA_POLL = {
  intervalSeconds: 60,
  maxReposPerInterval: 50,
  maxRequestsPerInterval: 500,
} as const;
/** Below this the poll would cost Gitea more than it saves; the tick (15 s) is the finer grain anyway. */
const MIN_GITEA_POLL_SECONDS = 15;

/**
 * `oidc: { kmsKeyId?, previousKmsKeyIds?, region?, tokenMinutes? }`: with `kmsKeyId` ID tokens are signed by that KMS
 * key (RSA_2048, SIGN_VERIFY), the previous ones still published; without it, by a local key in the data folder.
 */
export interface OidcConfig {
  readonly kmsKeyId?: string;
  readonly previousKmsKeyIds?: readonly string[];
  readonly region?: string;
  /** How long an ID token is valid (GitHub's live minutes; at most 60, STS's longest web identity session window). */
  readonly tokenMinutes?: number;
}

const RUNNER_KINDS = ['local', 'spot', 'codebuild', 'skip'] as const;

/**
 * Labels every install knows, all one route on the local runner (what `spotcheck run` and the demo use): the labels
 * people write for a Linux job, GitHub-hosted Ubuntu images included, so `runs-on: [self-hosted, linux]` finds it.
 */
export const DEFAULT_LOCAL_LABELS = [
  'local',
  'self-hosted',
  'linux',
  'ubuntu-latest',
  // Ubuntu 26.04 is GitHub's newest hosted image (public preview, 2026); real files name it (curl's CI).
  'ubuntu-26.04',
  'ubuntu-24.04',
  'ubuntu-22.04',
  'ubuntu-slim',
] as const;

export const DEFAULT_LIMITS: Limits = {
  maxConcurrentOrders: 4,
  maxOrdersPerRun: 1000,
  maxAttempts: 3,
  retentionDays: 30,
  logsTotalMb: 2048,
  planSeconds: 10,
  planWorkers: 2,
  planMemoryMb: 256,
};

/** Where the server is reached when neither PUBLIC_URL nor `publicUrl` says otherwise. */
export const DEFAULT_PUBLIC_URL = 'http://localhost:3000';

export function defaultConfig(overrides: { dataDir?: string; publicUrl?: string } = {}): OperatorConfig {
  const local: Route = { label: 'local', runner: 'local', settings: {} };
  return {
    routes: new Map(DEFAULT_LOCAL_LABELS.map((label) => [label, local])),
    limits: DEFAULT_LIMITS,
    store: { kind: 'embedded', dir: overrides.dataDir ?? '.spotcheck-data', table: 'spotcheck' },
    publicUrl: overrides.publicUrl ?? DEFAULT_PUBLIC_URL,
    workflows: DEFAULT_WORKFLOW_FOLDER_SETTINGS,
  };
}

/**
 * Parses and validates a config document; throws one ConfigError listing every problem. With `baseDir` (the
 * config file's folder), relative paths written in the document are resolved against it, as tsconfig or docker
 * compose resolve theirs: where the server is started from must not change where its data goes.
 */
export function parseConfig(
  text: string,
  source: string,
  base: OperatorConfig = defaultConfig(),
  baseDir?: string,
): OperatorConfig {
  const errors: string[] = [];
  let doc: unknown;
  try {
    doc = parse(text, { maxAliasCount: 50, uniqueKeys: true });
  } catch (error) {
    throw new ConfigError(`${source}: ${yamlErrorSummary(error)}`, { source });
  }
  if (doc === null || doc === undefined) return base;
  if (!isMap(doc)) throw new ConfigError(`${source}: the top level must be a map`, { source });
  checkKeys(
    doc,
    [
      'routes',
      'limits',
      'store',
      'org',
      'publicUrl',
      'defaultRoutes',
      'workflows',
      'actions',
      'vars',
      'oidc',
      'gitea',
      'secrets',
    ],
    '',
    errors,
  );

  const routes = new Map<string, Route>(doc.defaultRoutes === false ? [] : base.routes);
  if (doc.routes !== undefined) {
    if (!isMap(doc.routes)) errors.push('routes: must be a map of label → route');
    else
      for (const [label, raw] of Object.entries(doc.routes)) {
        const route = parseRoute(label, raw, errors);
        if (route) for (const key of [label, ...routeLabels(label, raw, errors)]) routes.set(key, route);
      }
  }
  const limits = { ...base.limits };
  if (doc.limits !== undefined) {
    if (!isMap(doc.limits)) errors.push('limits: must be a map');
    else {
      checkKeys(doc.limits, Object.keys(DEFAULT_LIMITS), 'limits.', errors);
      for (const key of Object.keys(DEFAULT_LIMITS) as (keyof Limits)[]) {
        const value = doc.limits[key];
        if (value === undefined) continue;
        const problem = limitProblem(key, value);
        if (problem === undefined) limits[key] = value as number;
        else errors.push(`limits.${key}: ${problem}`);
      }
    }
  }
  let store = base.store;
  if (doc.store !== undefined) {
    if (!isMap(doc.store)) errors.push('store: must be a map');
    else {
      checkKeys(doc.store, ['kind', 'dir', 'table', 'region', 'endpoint', 'kmsKeyId'], 'store.', errors);
      const kind = doc.store.kind ?? base.store.kind;
      if (kind !== 'embedded' && kind !== 'dynamodb') errors.push('store.kind: must be "embedded" or "dynamodb"');
      const dir = str(doc.store.dir, 'store.dir', errors);
      store = {
        kind: kind === 'dynamodb' ? 'dynamodb' : 'embedded',
        dir: dir === undefined ? base.store.dir : baseDir === undefined ? dir : resolve(baseDir, dir),
        table: str(doc.store.table, 'store.table', errors) ?? base.store.table,
        ...optional('region', str(doc.store.region, 'store.region', errors)),
        ...optional('endpoint', str(doc.store.endpoint, 'store.endpoint', errors)),
        ...optional('kmsKeyId', str(doc.store.kmsKeyId, 'store.kmsKeyId', errors)),
      };
    }
  }
  const org = str(doc.org, 'org', errors) ?? base.org;
  const publicUrl = httpUrl(str(doc.publicUrl, 'publicUrl', errors), 'publicUrl', errors) ?? base.publicUrl;
  const workflows =
    doc.workflows === undefined ? base.workflows : parseWorkflowFolders(doc.workflows, base.workflows, errors);
  const actions = doc.actions === undefined ? base.actions : parseActions(doc.actions, baseDir, errors);
  const vars = doc.vars === undefined ? undefined : parseVars(doc.vars, errors);
  const oidc = doc.oidc === undefined ? base.oidc : parseOidc(doc.oidc, errors);
  const gitea = doc.gitea === undefined ? base.gitea : parseGitea(doc.gitea, errors);
  const secrets = doc.secrets === undefined ? base.secrets : parseExternalSecrets(doc.secrets, errors);
  // A public URL from the base (PUBLIC_URL) is checked by loadOperatorConfig, which names it.
  const insecure = doc.publicUrl === undefined ? undefined : insecureBootstrapProblem(publicUrl, routes);
  if (insecure !== undefined) errors.push(`publicUrl: ${insecure}`);
  if (errors.length > 0) {
    throw new ConfigError(
      `${source}: ${errors.length} problem${errors.length === 1 ? '' : 's'}:\n  - ${errors.join('\n  - ')}`,
      {
        source,
      },
    );
  }
  return {
    routes,
    limits,
    store,
    publicUrl,
    workflows,
    ...optional('actions', actions),
    ...optional('org', org),
    ...optional('vars', vars),
    ...optional('oidc', oidc),
    ...optional('gitea', gitea),
    ...optional('secrets', secrets),
  };
}

/**
 * Secrets Manager's name characters (`A-Za-z0-9/_+=.@-`, "CreateSecret" Name) and SSM's (`a-zA-Z0-9_.-/`, a
 * hierarchy starting with `/`, no `aws`/`ssm` prefix: "Creating Parameter Store parameters"). A prefix ends with `/`,
 * so it is a folder the IAM policy can grant (`<prefix>*`) and owners cannot reach past.
 */
const SECRETS_MANAGER_PREFIX = /^[\w/+=.@-]+\/$/;
const SSM_PREFIX = /^\/[\w/.-]*\/$/;

function parseExternalSecrets(raw: unknown, errors: string[]): ExternalSecretsConfig | undefined {
  if (!isMap(raw)) {
    errors.push('secrets: must be a map');
    return undefined;
  }
  checkKeys(raw, ['awsSecretsManager', 'ssm'], 'secrets.', errors);
  const source = (key: 'awsSecretsManager' | 'ssm', pattern: RegExp, what: string) => {
    const value = raw[key];
    if (value === undefined) return undefined;
    if (!isMap(value)) {
      errors.push(`secrets.${key}: must be a map with a prefix`);
      return undefined;
    }
    checkKeys(value, ['prefix', 'region'], `secrets.${key}.`, errors);
    const prefix = str(value.prefix, `secrets.${key}.prefix`, errors);
    if (prefix === undefined) {
      errors.push(`secrets.${key}.prefix: is required`);
      return undefined;
    }
    if (!pattern.test(prefix) || prefix.length > 256 || /^\/?(aws|ssm)/i.test(prefix)) {
      errors.push(`secrets.${key}.prefix: must be ${what}`);
      return undefined;
    }
    return { prefix, ...optional('region', str(value.region, `secrets.${key}.region`, errors)) };
  };
  const awsSecretsManager = source(
    'awsSecretsManager',
    SECRETS_MANAGER_PREFIX,
    "a Secrets Manager name prefix ending in / (letters, digits and /_+=.@-, not starting with aws), e.g. 'spotcheck/'",
  );
  const ssm = source(
    'ssm',
    SSM_PREFIX,
    "a parameter path starting and ending with / (letters, digits and _.-, not starting with /aws or /ssm), e.g. '/spotcheck/'",
  );
  return { ...optional('awsSecretsManager', awsSecretsManager), ...optional('ssm', ssm) };
}

/** `gitea: { poll: { intervalSeconds?, repos?, maxReposPerInterval?, maxRequestsPerInterval? } }`. */
function parseGitea(raw: unknown, errors: string[]): GiteaConfig | undefined {
  if (!isMap(raw)) {
    errors.push('gitea: must be a map with poll');
    return undefined;
  }
  checkKeys(raw, ['poll'], 'gitea.', errors);
  if (raw.poll === undefined) return {};
  // `poll: {}` (or `poll:` with nothing under it) turns the poll on with every default.
  const poll = raw.poll === null ? {} : raw.poll;
  if (!isMap(poll)) {
    errors.push('gitea.poll: must be a map (intervalSeconds, repos, maxReposPerInterval, maxRequestsPerInterval)');
    return {};
  }
  checkKeys(poll, ['intervalSeconds', 'repos', 'maxReposPerInterval', 'maxRequestsPerInterval'], 'gitea.poll.', errors);
  const whole = (key: keyof typeof DEFAULT_GITEA_POLL, min: number): number => {
    const value = poll[key];
    if (value === undefined) return DEFAULT_GITEA_POLL[key];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
      errors.push(`gitea.poll.${key}: must be a whole number of at least ${String(min)}`);
      return DEFAULT_GITEA_POLL[key];
    }
    return value;
  };
  return {
    poll: {
      intervalSeconds: whole('intervalSeconds', MIN_GITEA_POLL_SECONDS),
      maxReposPerInterval: whole('maxReposPerInterval', 1),
      // A repository costs three requests at least (branches, pull requests, comments).
      maxRequestsPerInterval: whole('maxRequestsPerInterval', 3),
      ...optional('repos', poll.repos === undefined ? undefined : repoPatterns(poll.repos, 'gitea.poll.repos', errors)),
    },
  };
}

/** A non-empty list of `owner/name` and `owner/*`, each once (case-insensitively). */
function repoPatterns(raw: unknown, where: string, errors: string[]): readonly string[] {
  if (!Array.isArray(raw) || raw.length === 0) {
    errors.push(`${where}: must be a non-empty list of owner/name or owner/*`);
    return [];
  }
  const seen = new Set<string>();
  const patterns: string[] = [];
  raw.forEach((value: unknown, i) => {
    if (typeof value !== 'string' || value.includes('..') || !REPO_PATTERN.test(value)) {
      errors.push(`${where}[${String(i)}]: must be owner/name or owner/*`);
      return;
    }
    if (seen.has(value.toLowerCase()))
      errors.push(`${where}[${String(i)}]: written twice (names are case-insensitive)`);
    seen.add(value.toLowerCase());
    patterns.push(value);
  });
  return patterns;
}

function parseOidc(raw: unknown, errors: string[]): OidcConfig | undefined {
  if (!isMap(raw)) {
    errors.push('oidc: must be a map');
    return undefined;
  }
  checkKeys(raw, ['kmsKeyId', 'previousKmsKeyIds', 'region', 'tokenMinutes'], 'oidc.', errors);
  const previous = raw.previousKmsKeyIds;
  if (previous !== undefined && (!Array.isArray(previous) || !previous.every((id) => typeof id === 'string' && id)))
    errors.push('oidc.previousKmsKeyIds: must be a list of KMS key ids');
  const minutes = raw.tokenMinutes;
  if (
    minutes !== undefined &&
    (typeof minutes !== 'number' || !Number.isInteger(minutes) || minutes < 1 || minutes > 60)
  )
    errors.push('oidc.tokenMinutes: must be a whole number from 1 to 60');
  return {
    ...optional('kmsKeyId', str(raw.kmsKeyId, 'oidc.kmsKeyId', errors)),
    ...optional('region', str(raw.region, 'oidc.region', errors)),
    ...(Array.isArray(previous)
      ? { previousKmsKeyIds: previous.filter((id): id is string => typeof id === 'string') }
      : {}),
    ...(typeof minutes === 'number' ? { tokenMinutes: minutes } : {}),
  };
}

/** Reads and parses a config file; relative paths in it are resolved against its folder. */
export async function loadConfig(path: string | undefined, base?: OperatorConfig): Promise<OperatorConfig> {
  if (path === undefined) return base ?? defaultConfig();
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read config ${path}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`, {
      source: path,
      cause: error,
    });
  }
  return readActionsToken(parseConfig(text, path, base, dirname(resolve(path))), path);
}

/** `actions.tokenFile` read once at start-up (trimmed, as `echo token > file` writes a newline). */
async function readActionsToken(config: OperatorConfig, source: string): Promise<OperatorConfig> {
  if (config.actions?.tokenFile === undefined) return config;
  const { tokenFile, ...actions } = config.actions;
  let token: string;
  try {
    token = (await readFile(tokenFile, 'utf8')).trim();
  } catch (error) {
    throw new ConfigError(
      `${source}: actions.tokenFile: cannot read ${tokenFile}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`,
      { source, cause: error },
    );
  }
  if (token === '') throw new ConfigError(`${source}: actions.tokenFile: ${tokenFile} is empty`, { source });
  return { ...config, actions: { ...actions, token } };
}

/**
 * The operator config of a long-running command (`serve`, `watchdog`, `janitor`), read once at start-up with every
 * path absolute: the defaults, SPOTCHECK_DATA_DIR (relative to `cwd`), the file `configPath` or SPOTCHECK_CONFIG
 * (relative to `cwd`; the paths written in it relative to its own folder), then PUBLIC_URL, which wins over the file.
 * The local runner clones into and runs steps under the data folder, with the step's folder as the working
 * directory, so a relative folder would be resolved once per directory change (a clone of `<dir>/work/<order>` landed in `<dir>/work/<order>/<dir>/work/<order>/src`).
 */
export async function loadOperatorConfig(
  env: Readonly<Record<string, string | undefined>>,
  cwd: string,
  configPath?: string,
): Promise<OperatorConfig> {
  const publicUrl = env.PUBLIC_URL ? env.PUBLIC_URL : undefined;
  const problems: string[] = [];
  httpUrl(publicUrl, 'PUBLIC_URL', problems);
  if (problems.length > 0) throw new ConfigError(`environment: ${problems.join('; ')}`, { source: 'environment' });
  const dataDir = resolve(cwd, env.SPOTCHECK_DATA_DIR ? env.SPOTCHECK_DATA_DIR : defaultConfig().store.dir);
  const base = defaultConfig({ dataDir, ...(publicUrl === undefined ? {} : { publicUrl }) });
  const file = configPath ?? (env.SPOTCHECK_CONFIG ? env.SPOTCHECK_CONFIG : undefined);
  const loaded = await loadConfig(file === undefined ? undefined : resolve(cwd, file), base);
  if (publicUrl === undefined) return loaded;
  const insecure = insecureBootstrapProblem(publicUrl, loaded.routes);
  if (insecure !== undefined) throw new ConfigError(`environment: PUBLIC_URL: ${insecure}`, { source: 'environment' });
  return { ...loaded, publicUrl };
}

/** Runners whose agents fetch their order from the public URL with a one-time bootstrap token. */
const CLOUD_RUNNERS: readonly string[] = ['spot', 'codebuild'] satisfies readonly (typeof RUNNER_KINDS)[number][];

/**
 * Cloud agents present their bootstrap token at `<publicUrl>/api/agent/bootstrap` (and capacity runners at
 * `/api/capacity/bootstrap`): over plain http anyone on the path reads the token and takes the order's job, clone
 * credentials and secrets. So with a cloud route the public URL must be https, unless its host is loopback.
 */
export function insecureBootstrapProblem(publicUrl: string, routes: ReadonlyMap<string, Route>): string | undefined {
  let url: URL;
  try {
    url = new URL(publicUrl);
  } catch {
    return undefined; // reported as not a URL already
  }
  if (url.protocol !== 'http:' || isLoopbackHost(url.hostname)) return undefined;
  const cloud = [...routes.values()].find((route) => CLOUD_RUNNERS.includes(route.runner));
  if (cloud === undefined) return undefined;
  return `must be https:// (or http on a loopback host): the ${cloud.runner} route "${cloud.label}" hands agents a one-time bootstrap token for ${url.origin}, which plain http would show to anyone on the path`;
}

/**
 * An absolute http(s) URL, or a problem: the public URL is the base of every log link, callback and webhook URL,
 * and a relative or scheme-less one (`ci.example.com`) would make all of them broken links.
 */
function httpUrl(value: string | undefined, where: string, errors: string[]): string | undefined {
  if (value === undefined) return undefined;
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.hostname === '') {
    errors.push(`${where}: must be an absolute http(s) URL, such as https://ci.example.com`);
    return undefined;
  }
  return value;
}

/** `actions:`: a source URL or `self`, its kind and API, a token or a token file (never both, never printed). */
function parseActions(raw: unknown, baseDir: string | undefined, errors: string[]): ActionsConfig {
  if (!isMap(raw)) {
    errors.push('actions: must be a map with url (and kind, apiUrl, token or tokenFile)');
    return {};
  }
  checkKeys(raw, ['url', 'kind', 'apiUrl', 'token', 'tokenFile'], 'actions.', errors);
  const rawUrl = str(raw.url, 'actions.url', errors);
  const url = rawUrl === 'self' ? rawUrl : httpUrl(rawUrl, 'actions.url', errors);
  const kind: ActionsConfig['kind'] = raw.kind === 'github' || raw.kind === 'gitea' ? raw.kind : undefined;
  if (raw.kind !== undefined && kind === undefined) errors.push('actions.kind: must be github or gitea');
  const apiUrl = httpUrl(str(raw.apiUrl, 'actions.apiUrl', errors), 'actions.apiUrl', errors);
  if (url === 'self' && (raw.kind !== undefined || apiUrl !== undefined))
    errors.push("actions: kind and apiUrl are the forge's own when url is self");
  if ((raw.kind !== undefined || apiUrl !== undefined) && rawUrl === undefined)
    errors.push('actions: kind and apiUrl need a url');
  // Messages name the key, never the value: it is a secret.
  const token = str(raw.token, 'actions.token', errors);
  const tokenFile = str(raw.tokenFile, 'actions.tokenFile', errors);
  if (token !== undefined && tokenFile !== undefined) errors.push('actions: token and tokenFile cannot both be set');
  return {
    ...optional('url', url === undefined ? undefined : trimTrailingSlashes(url)),
    ...optional('kind', kind),
    ...optional('apiUrl', apiUrl === undefined ? undefined : trimTrailingSlashes(apiUrl)),
    ...optional('token', token),
    ...optional(
      'tokenFile',
      tokenFile === undefined || baseDir === undefined ? tokenFile : resolve(baseDir, tokenFile),
    ),
  };
}

/** `owner/*` (every repository of an org or user) or `owner/name`: the names GitHub and Gitea allow. */
const REPO_PATTERN = /^[A-Za-z0-9_.-]+\/(?:\*|[A-Za-z0-9_.-]+)$/;

/**
 * `workflows: { folders: [...], repos: { 'owner/*': { folders }, 'owner/name': { folders } } }`: the folders for
 * every repository, then per org and per repository (the most specific wins, `resolveWorkflowFolders`).
 */
function parseWorkflowFolders(raw: unknown, base: WorkflowFolderSettings, errors: string[]): WorkflowFolderSettings {
  if (!isMap(raw)) {
    errors.push('workflows: must be a map with folders and/or repos');
    return base;
  }
  checkKeys(raw, ['folders', 'repos'], 'workflows.', errors);
  const folders = raw.folders === undefined ? base.folders : folderList(raw.folders, 'workflows.folders', errors);
  const repos = new Map<string, readonly WorkflowFolder[]>();
  if (raw.repos !== undefined) {
    if (!isMap(raw.repos)) errors.push('workflows.repos: must be a map of owner/* or owner/name → { folders }');
    else
      for (const [pattern, entry] of Object.entries(raw.repos)) {
        const where = `workflows.repos.${pattern}`;
        const key = pattern.toLowerCase();
        if (pattern.includes('..') || !REPO_PATTERN.test(pattern)) {
          errors.push(`${where}: must be owner/* or owner/name`);
          continue;
        }
        // GitHub and Gitea names are case-insensitive: two spellings of one repository are one entry.
        if (repos.has(key)) errors.push(`${where}: written twice (names are case-insensitive)`);
        if (!isMap(entry)) {
          errors.push(`${where}: must be a map with folders`);
          continue;
        }
        checkKeys(entry, ['folders'], `${where}.`, errors);
        if (entry.folders === undefined) errors.push(`${where}.folders: required`);
        else repos.set(key, folderList(entry.folders, `${where}.folders`, errors));
      }
  }
  return { folders, repos };
}

/**
 * `vars: { 'owner/*': { NAME: value }, 'owner/name': { NAME: value } }`: the `vars` context per org and repository.
 * Values are strings (numbers and booleans are written as their text, as GitHub stores every variable as a string).
 */
function parseVars(raw: unknown, errors: string[]): VarsSettings {
  const settings = new Map<string, Record<string, string>>();
  if (!isMap(raw)) {
    errors.push('vars: must be a map of owner/* or owner/name → { NAME: value }');
    return settings;
  }
  for (const [pattern, entry] of Object.entries(raw)) {
    const where = `vars.${pattern}`;
    const key = pattern.toLowerCase();
    if (pattern.includes('..') || !REPO_PATTERN.test(pattern)) {
      errors.push(`${where}: must be owner/* or owner/name`);
      continue;
    }
    if (settings.has(key)) errors.push(`${where}: written twice (names are case-insensitive)`);
    if (!isMap(entry)) {
      errors.push(`${where}: must be a map of variable names to values`);
      continue;
    }
    const values: Record<string, string> = {};
    for (const [name, value] of Object.entries(entry)) {
      const problem = varNameProblem(name);
      if (problem !== undefined) errors.push(`${where}.${name}: the name ${problem}`);
      else if (Object.hasOwn(values, name.toUpperCase())) errors.push(`${where}.${name}: written twice`);
      else {
        const text = varValue(value);
        if (text === undefined) errors.push(`${where}.${name}: must be a string`);
        else values[name.toUpperCase()] = text;
      }
    }
    settings.set(key, values);
  }
  return settings;
}

/** A variable's value as GitHub stores it: text (numbers and booleans as written, an empty value as ''). */
function varValue(value: unknown): string | undefined {
  if (value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}

/** A non-empty list of the known folders, each once, in the order written. */
function folderList(raw: unknown, where: string, errors: string[]): readonly WorkflowFolder[] {
  if (!Array.isArray(raw) || raw.length === 0) {
    errors.push(`${where}: must be a non-empty list of folders`);
    return [];
  }
  const folders: WorkflowFolder[] = [];
  raw.forEach((value: unknown, i) => {
    const folder = typeof value === 'string' ? workflowFolderOf(value) : undefined;
    if (folder === undefined)
      errors.push(`${where}[${String(i)}]: must be one of ${WORKFLOW_FOLDERS.join(', ')} (a folder in the repository)`);
    else if (!folders.includes(folder)) folders.push(folder);
  });
  return folders;
}

function parseRoute(label: string, raw: unknown, errors: string[]): Route | undefined {
  const where = `routes.${label}`;
  if (typeof raw === 'string') raw = { runner: raw };
  if (!isMap(raw)) {
    errors.push(`${where}: must be a runner name (${RUNNER_KINDS.join(', ')}) or a map with "runner"`);
    return undefined;
  }
  const runner = raw.runner;
  if (!(RUNNER_KINDS as readonly unknown[]).includes(runner)) {
    errors.push(`${where}.runner: must be one of ${RUNNER_KINDS.join(', ')}`);
    return undefined;
  }
  const kind = runner as Route['runner'];
  const { runner: _runner, labels: _labels, ...settings } = raw;
  const route: Route = { label, runner: kind, settings };
  // Each runner kind owns its settings schema (runners/route-settings.ts); its messages name the key and what it
  // must be, never the value, so a secret pasted into a route does not end up in a log. `local` and `skip` routes
  // take no settings but `docker` (whether the runner has a Docker engine), so anything else is a mistake.
  const problems =
    kind === 'local' || kind === 'skip'
      ? [
          ...Object.keys(settings)
            .filter((key) => key !== 'docker')
            .map((key) => `${where}.${key}: unknown key for a ${kind} route (it takes only runner and docker)`),
          ...routeSettingsErrors(route),
        ]
      : routeSettingsErrors(route);
  errors.push(...problems);
  return problems.length === 0 ? route : undefined;
}

/**
 * A route's other labels (`labels: [self-hosted, linux, gpu]`): the route serves a `runs-on` list only when it has
 * every label of it, as a GitHub self-hosted runner does. A comma never appears in a label (runners register their
 * labels as one comma-separated list).
 */
function routeLabels(label: string, raw: unknown, errors: string[]): string[] {
  const labels = isMap(raw) ? raw.labels : undefined;
  if (labels === undefined) return [];
  if (!Array.isArray(labels) || labels.some((l) => typeof l !== 'string' || l === '' || l.includes(','))) {
    errors.push(`routes.${label}.labels: must be a list of labels (non-empty, without commas)`);
    return [];
  }
  return labels as string[];
}

function routeSettingsErrors(route: Route): readonly string[] {
  const parsed = parseRouteSettings(route);
  return parsed.ok ? [] : parsed.errors;
}

/**
 * A YAML syntax error in one line, without the source excerpt `yaml` appends to its messages: the excerpt is the
 * config's own text, and the line next to the error may hold a secret.
 */
function yamlErrorSummary(error: unknown): string {
  if (error instanceof YAMLError) {
    const head = (error.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '');
    // Some messages end with the offending source text (`Unresolved tag: !x`): keep only the description.
    const what = head.split(': ')[0] ?? head;
    const where = error.linePos ? ` at line ${error.linePos[0].line}, column ${error.linePos[0].col}` : '';
    return `not valid YAML${where}: ${what}`;
  }
  // Failures while building values (an alias without its anchor, the alias-count guard) are not YAMLErrors but
  // may still end with source text (`Unresolved alias ...: name`): keep only the description here too.
  const message = error instanceof Error ? error.message : 'unreadable';
  return `not valid YAML: ${message.split('\n')[0]?.split(': ')[0] ?? 'unreadable'}`;
}

/** Limits are positive whole numbers, but for `planSeconds` (fractions too) and `planWorkers` (0 too). */
function limitProblem(key: keyof Limits, value: unknown): string | undefined {
  if (key === 'planSeconds')
    return typeof value === 'number' && Number.isFinite(value) && value > 0 ? undefined : 'must be a positive number';
  if (key === 'planWorkers')
    return typeof value === 'number' && Number.isInteger(value) && value >= 0 ? undefined : 'must be a whole number';
  return typeof value === 'number' && Number.isInteger(value) && value >= 1
    ? undefined
    : 'must be a positive whole number';
}

function checkKeys(map: Record<string, unknown>, allowed: readonly string[], prefix: string, errors: string[]): void {
  for (const key of Object.keys(map))
    if (!allowed.includes(key)) errors.push(`${prefix}${key}: unknown key (allowed: ${allowed.join(', ')})`);
}

function str(value: unknown, where: string, errors: string[]): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value === '') {
    errors.push(`${where}: must be a non-empty string`);
    return undefined;
  }
  return value;
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

function isMap(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
