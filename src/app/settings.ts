/**
 * The server's settings from the environment Probot users expect: the GitHub App's variables, Gitea's, PORT, HOST
 * and SPOTCHECK_AGENT_SECRET. Nothing else in the code base reads the environment for the server; every part takes
 * its dependencies through options.
 */
import { execFile } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { ConfigError } from '../errors.ts';
import type { GiteaSettings, GitHubSettings } from '../forges/registry.ts';
import { trimTrailingSlashes } from '../core/url.ts';
import type { OAuthClient } from '../server/auth/login-forges.ts';

export type { GiteaSettings, GitHubSettings } from '../forges/registry.ts';

export interface ServerSettings {
  readonly port: number;
  readonly host: string;
  /** At least one forge is configured; one server serves both at once. */
  readonly github?: GitHubSettings;
  readonly gitea?: GiteaSettings;
  /** Secret for agents' per-order tokens (≥ 32 bytes). */
  readonly agentSecret: string;
  /**
   * Who the local runner's steps run as, and whether PR code may run as the server's own user. `readServerSettings`
   * always sets it; absent (settings built by hand, as in tests), steps run as the server's user and nothing is
   * refused.
   */
  readonly local?: LocalIsolation;
  /** OAuth clients people log in to the dashboard with; none: private runs are readable by nobody. */
  readonly login?: LoginSettings;
  /** Signs session cookies and badge keys (≥ 32 bytes); unset: generated into the data folder on first start. */
  readonly sessionSecret?: string;
  /** The bearer token `/metrics` wants; unset: metrics are served to nobody. */
  readonly metricsToken?: string;
}

/** Per forge, the OAuth client of the dashboard's login: the GitHub App's own client, a Gitea OAuth2 application. */
export interface LoginSettings {
  readonly github?: OAuthClient;
  readonly gitea?: OAuthClient;
}

/** An unprivileged user of this host, by name and ids. */
export interface LocalUser {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
}

export interface LocalIsolation {
  /** SPOTCHECK_LOCAL_USER: steps run as this user. Absent: as the server's own user. */
  readonly user?: LocalUser;
  /**
   * SPOTCHECK_LOCAL_PR_AS_SERVER_USER=true: without a user, still run pull_request and testme orders on the local
   * runner (their code could read the server's environment, files and store). Otherwise they are refused.
   */
  readonly pullRequestsAsServerUser: boolean;
}

/**
 * The secrets the server reads from its environment. Each may instead be read from a file named by `<NAME>_FILE`
 * (Docker and Kubernetes secrets are files), which keeps it out of the process's environment block, and each is
 * removed from `process.env` once read (`scrubSecretVariables`).
 */
export const SECRET_VARIABLES = [
  'PRIVATE_KEY',
  'WEBHOOK_SECRET',
  'GITEA_TOKEN',
  'GITEA_WEBHOOK_SECRET',
  'GITEA_CLONE_TOKEN',
  'GITEA_ACTIONS_TOKEN',
  'SPOTCHECK_AGENT_SECRET',
] as const;

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Reads the GitHub App's variables (APP_ID, PRIVATE_KEY or PRIVATE_KEY_PATH, WEBHOOK_SECRET, GHE_HOST,
 * GHE_PROTOCOL, APP_SLUG), Gitea's (GITEA_URL, GITEA_TOKEN, GITEA_WEBHOOK_SECRET, GITEA_BOT_LOGIN,
 * GITEA_CLONE_TOKEN, GITEA_ACTIONS_TOKEN), PORT, HOST and SPOTCHECK_AGENT_SECRET. A forge is configured when any of its variables is set;
 * at least one must be. Every problem is reported at once; no value is ever printed.
 */
export async function readServerSettings(
  given: Env,
  host: HostUsers = THIS_HOST,
  uses: SettingsUses = {},
): Promise<ServerSettings> {
  const problems: string[] = [];
  const env = await withSecretFiles(given, problems);
  const wantsGitHub = Boolean(env.APP_ID || env.PRIVATE_KEY || env.PRIVATE_KEY_PATH || env.WEBHOOK_SECRET);
  const wantsGitea = Boolean(env.GITEA_URL || env.GITEA_TOKEN || env.GITEA_WEBHOOK_SECRET);
  if (!wantsGitHub && !wantsGitea) {
    problems.push(
      'no forge is configured: set the GitHub App (APP_ID, PRIVATE_KEY or PRIVATE_KEY_PATH, WEBHOOK_SECRET) ' +
        'and/or Gitea (GITEA_URL, GITEA_TOKEN, GITEA_WEBHOOK_SECRET)',
    );
  }
  const github = wantsGitHub ? await readGitHubSettings(env, problems) : undefined;
  const gitea = wantsGitea ? readGiteaSettings(env, problems, uses.giteaPoll === true) : undefined;
  const port = Number(env.PORT ?? '3000');
  if (!Number.isInteger(port) || port < 0 || port > 65_535) problems.push('PORT must be a port number');
  const agentSecret = env.SPOTCHECK_AGENT_SECRET;
  if (agentSecret !== undefined && Buffer.byteLength(agentSecret) < 32)
    problems.push('SPOTCHECK_AGENT_SECRET must be at least 32 bytes');
  const local = await readLocalIsolation(env, problems, host);
  const login = readLoginSettings(env, problems, { github: github !== undefined, gitea: gitea !== undefined });
  const sessionSecret = env.SPOTCHECK_SESSION_SECRET;
  if (sessionSecret !== undefined && Buffer.byteLength(sessionSecret) < 32)
    problems.push('SPOTCHECK_SESSION_SECRET must be at least 32 bytes');
  const metricsToken = env.METRICS_TOKEN;
  if (metricsToken !== undefined && Buffer.byteLength(metricsToken) < 16)
    problems.push('METRICS_TOKEN must be at least 16 bytes');
  const webhookSecret = github?.webhookSecret ?? gitea?.webhookSecret;
  // Polled without a webhook there is nothing to derive it from, and a value made up here would differ per replica
  // and per restart (every agent in flight would then be refused): the operator sets one, as every replica must share it.
  if (agentSecret === undefined && webhookSecret === undefined && (github !== undefined || gitea !== undefined))
    problems.push('SPOTCHECK_AGENT_SECRET is required when no webhook secret is set (Gitea polled without a webhook)');
  if (problems.length > 0 || (agentSecret ?? webhookSecret) === undefined) {
    throw new ConfigError(`cannot start the server:\n  - ${problems.join('\n  - ')}`, { source: 'environment' });
  }
  return {
    port,
    host: env.HOST ?? '0.0.0.0',
    ...(github ? { github } : {}),
    ...(gitea ? { gitea } : {}),
    // Agents' tokens need a secret every replica shares; derived from a webhook secret unless set on its own.
    agentSecret: agentSecret ?? agentSecretFrom(webhookSecret!),
    local,
    ...(login.github || login.gitea ? { login } : {}),
    ...(sessionSecret ? { sessionSecret } : {}),
    ...(metricsToken ? { metricsToken } : {}),
  };
}

/** What the operator config says that the settings depend on. */
export interface SettingsUses {
  /** `gitea.poll` is configured: Gitea may then go without a webhook (GITEA_WEBHOOK_SECRET unset). */
  readonly giteaPoll?: boolean;
}

function agentSecretFrom(webhookSecret: string): string {
  return createHmac('sha256', webhookSecret).update('spotcheck agent tokens').digest('hex');
}

/** `<NAME>_FILE` read into `<NAME>` for each secret variable; both set is a problem, as is an unreadable file. */
async function withSecretFiles(env: Env, problems: string[]): Promise<Env> {
  const merged: Record<string, string | undefined> = { ...env };
  for (const name of SECRET_VARIABLES) {
    const file = env[`${name}_FILE`];
    if (file === undefined || file === '') continue;
    if (env[name] !== undefined && env[name] !== '') {
      problems.push(`set ${name} or ${name}_FILE, not both`);
      continue;
    }
    try {
      // One trailing newline is the file's, not the secret's (`echo secret > file`).
      const text = await readFile(file, 'utf8');
      merged[name] = text.endsWith('\r\n') ? text.slice(0, -2) : text.endsWith('\n') ? text.slice(0, -1) : text;
    } catch {
      problems.push(`${name}_FILE names a file that cannot be read`);
    }
  }
  return merged;
}

/**
 * Removes the secret variables from the process's environment once the settings hold them, so nothing the server
 * starts can inherit them. The kernel's copy (`/proc/<pid>/environ`) keeps the values the process started with:
 * only `*_FILE` keeps a secret out of it, and only a different user for steps keeps steps from reading it.
 */
export function scrubSecretVariables(env: Record<string, string | undefined>): void {
  for (const name of SECRET_VARIABLES) delete env[name];
}

/** This host's users, as the local runner's isolation needs them (tests pass their own). */
export interface HostUsers {
  /** A user's uid and gid by name (undefined: no such user). */
  idsOf(name: string): Promise<{ uid: number; gid: number } | undefined>;
  /** Whether this process may start processes as another user. */
  isRoot(): boolean;
}

const THIS_HOST: HostUsers = { idsOf: readUserIds, isRoot: () => process.getuid?.() === 0 };

const run = promisify(execFile);

/** `id -u NAME` and `id -g NAME`: the host's user database, NSS included, which Node cannot read itself. */
async function readUserIds(name: string): Promise<{ uid: number; gid: number } | undefined> {
  try {
    const [uid, gid] = await Promise.all([run('id', ['-u', '--', name]), run('id', ['-g', '--', name])]);
    return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
  } catch {
    return undefined;
  }
}

async function readLocalIsolation(env: Env, problems: string[], host: HostUsers): Promise<LocalIsolation> {
  const optIn = env.SPOTCHECK_LOCAL_PR_AS_SERVER_USER;
  if (optIn !== undefined && optIn !== '' && optIn !== 'true' && optIn !== 'false')
    problems.push('SPOTCHECK_LOCAL_PR_AS_SERVER_USER must be true or false');
  const pullRequestsAsServerUser = optIn === 'true';
  const name = env.SPOTCHECK_LOCAL_USER?.trim();
  if (name === undefined || name === '') return { pullRequestsAsServerUser };
  const found = await host.idsOf(name);
  if (found === undefined || !Number.isInteger(found.uid) || !Number.isInteger(found.gid)) {
    problems.push(`SPOTCHECK_LOCAL_USER names no user of this host (create it: useradd --system ${name})`);
    return { pullRequestsAsServerUser };
  }
  if (found.uid === 0) problems.push('SPOTCHECK_LOCAL_USER must be an unprivileged user, not root (uid 0)');
  // Starting a process as another user needs root (CAP_SETUID and CAP_SETGID).
  if (!host.isRoot())
    problems.push('SPOTCHECK_LOCAL_USER needs the server to run as root, to start steps as that user');
  return { user: { name, ...found }, pullRequestsAsServerUser };
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

/**
 * Gitea's variables. GITEA_WEBHOOK_SECRET may be left unset only when Gitea is polled (`gitea.poll`): then no webhook
 * route is served at all, so nothing unsigned is ever taken as a delivery.
 */
function readGiteaSettings(env: Env, problems: string[], polled: boolean): GiteaSettings | undefined {
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
  if (!webhookSecret && !polled)
    problems.push(
      'GITEA_WEBHOOK_SECRET is required (the webhook secret set in Gitea), unless gitea.poll is configured',
    );
  if (problems.length > before || !url || !token) return undefined;
  return {
    url: trimTrailingSlashes(url.href),
    token,
    ...(webhookSecret ? { webhookSecret } : {}),
    ...(env.GITEA_BOT_LOGIN ? { botLogin: env.GITEA_BOT_LOGIN } : {}),
    ...(env.GITEA_CLONE_TOKEN ? { cloneToken: env.GITEA_CLONE_TOKEN } : {}),
    ...(env.GITEA_ACTIONS_TOKEN ? { actionsToken: env.GITEA_ACTIONS_TOKEN } : {}),
  };
}

/**
 * GITHUB_CLIENT_ID/GITHUB_CLIENT_SECRET (the GitHub App's client, Probot's names) and GITEA_OAUTH_CLIENT_ID/
 * GITEA_OAUTH_CLIENT_SECRET (a Gitea OAuth2 application): both of a pair, and only for a configured forge.
 */
function readLoginSettings(
  env: Env,
  problems: string[],
  configured: { readonly github: boolean; readonly gitea: boolean },
): LoginSettings {
  const pair = (forge: 'github' | 'gitea', idName: string, secretName: string, id?: string, secret?: string) => {
    if (!id && !secret) return undefined;
    if (!id || !secret) {
      problems.push(`${idName} and ${secretName} go together: set both or neither`);
      return undefined;
    }
    if (!configured[forge]) {
      problems.push(`${idName} is set but ${forge === 'github' ? 'the GitHub App' : 'Gitea'} is not configured`);
      return undefined;
    }
    return { clientId: id, clientSecret: secret };
  };
  const github = pair(
    'github',
    'GITHUB_CLIENT_ID',
    'GITHUB_CLIENT_SECRET',
    env.GITHUB_CLIENT_ID,
    env.GITHUB_CLIENT_SECRET,
  );
  const gitea = pair(
    'gitea',
    'GITEA_OAUTH_CLIENT_ID',
    'GITEA_OAUTH_CLIENT_SECRET',
    env.GITEA_OAUTH_CLIENT_ID,
    env.GITEA_OAUTH_CLIENT_SECRET,
  );
  return { ...(github ? { github } : {}), ...(gitea ? { gitea } : {}) };
}

/** PATH and HOME only: what a step needs to find its tools, nothing of the bot's own secrets. */
export function cleanStepEnv(env: Env): Record<string, string> {
  return {
    PATH: env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    HOME: env.HOME ?? '/tmp',
    ...(env.LANG ? { LANG: env.LANG } : {}),
  };
}
