/**
 * The forge registry: the configured forges (GitHub through Probot, per installation; one Gitea server and its bot
 * user), found by kind and host for an intent, and by repository for a run.
 */
import type { Logger } from 'pino';
import { Probot, type ProbotOctokit } from 'probot';
import type { ForgeKind, RunRecord } from '../core/types.ts';
import { ConfigError } from '../errors.ts';
import { watchAppSlug, type AppSlug, type AppSlugRetry } from './app-slug.ts';
import type { Forge } from './forge.ts';
import { createGiteaForge, readGiteaLogin } from './gitea.ts';
import { createGitHubForges } from './github-installations.ts';

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
  /** Unset: Gitea is only polled (`gitea.poll`) and no webhook route is served. */
  readonly webhookSecret?: string;
  /** The bot user's login (its own comments are never a request); read with `GET /user` when unset. */
  readonly botLogin?: string;
  /** A read-only token (`read:repository`) for agents' clones; without it cloud runners cannot clone on Gitea. */
  readonly cloneToken?: string;
  /**
   * The token an order's steps get as `github.token` (GITEA_ACTIONS_TOKEN; unset: the clone token, which a checkout
   * hands to steps anyway). Gitea has no per-order scoped tokens: this one is shared, read-only, never revoked.
   */
  readonly actionsToken?: string;
}

/** Where a forge acts: its kind and host, and on GitHub the app's installation. */
export interface ForgeInstallation {
  readonly forge: ForgeKind;
  readonly host: string;
  readonly installationId?: number;
}

/** The configured forges: GitHub (Probot, per installation) and/or one Gitea server, and how to find them. */
export interface ForgeSet {
  readonly probot?: Probot;
  /** The GitHub App's slug: APP_SLUG, or read from GitHub in the background. */
  readonly appSlug?: AppSlug;
  readonly gitea?: Forge;
  readonly giteaBot?: string;
  /** The forge acting for an intent (GitHub: its installation). */
  readonly lookup: {
    forInstallation(install: ForgeInstallation): Promise<Forge>;
  };
  /** The forge acting for a run: Gitea's bot, or the GitHub installation that reported the event. */
  readonly forRun: (run: RunRecord) => Promise<Forge> | undefined;
  readonly notConfigured: (forge: string) => never;
  /** Stops the background work (asking GitHub for the app's slug). */
  close(): void;
}

export async function openForges(
  settings: { readonly github?: GitHubSettings | undefined; readonly gitea?: GiteaSettings | undefined },
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
          ...(giteaSettings.actionsToken ? { actionsToken: giteaSettings.actionsToken } : {}),
        })
      : undefined;
  const notConfigured = (forge: string): never => {
    throw new ConfigError(`no ${forge} forge is configured on this server`, { source: 'forge' });
  };
  const forges: ForgeSet['lookup'] = {
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
