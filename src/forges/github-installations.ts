/**
 * GitHub forges per installation. Each Forge wraps `probot.auth(installationId)` (Probot's octokit: retries,
 * throttling, installation tokens minted and refreshed by @octokit/auth-app); clone tokens are minted separately
 * by the app itself, narrowed to one repository and `contents: read`.
 */
import type { Probot } from 'probot';
import type { RepoRef } from '../core/types.ts';
import type { TokenPermissions } from '../core/token-permissions.ts';
import type { Forge } from './forge.ts';
import { createGitHubForge } from './github.ts';

export interface GitHubForgesOptions {
  readonly probot: Probot;
  /** Web host (`github.com`, or GHE_HOST). */
  readonly host: string;
  /** The app's slug, or a promise of it (read from GitHub in the background): forges are built once it is known. */
  readonly appSlug: string | PromiseLike<string>;
  /** Clone URL scheme (GHE_PROTOCOL); `https` by default. */
  readonly protocol?: 'https' | 'http';
  /** How long a Forge is reused for an installation; installation tokens live 1 h and auth-app renews them. */
  readonly cacheMs?: number;
  readonly now?: () => number;
}

export interface GitHubForges {
  /** The Forge acting as this installation (a number, or the `installationId` of an intent's installation). */
  forInstallation(install: number | { readonly installationId?: number }): Promise<Forge>;
}

const DEFAULT_CACHE_MS = 10 * 60 * 1000;

export function createGitHubForges(opts: GitHubForgesOptions): GitHubForges {
  const { probot, host, appSlug } = opts;
  const cacheMs = opts.cacheMs ?? DEFAULT_CACHE_MS;
  const now = opts.now ?? Date.now;
  const cache = new Map<number, { readonly forge: Promise<Forge>; readonly expiresAt: number }>();

  /**
   * "Create an installation access token for an app", called as the app (JWT, through Probot's octokit, so GHE_HOST's
   * `/api/v3` base applies): a token for this repository only, with only the permissions asked for (clone tokens
   * read contents; order tokens follow the job's `permissions:`), so a leaked token reaches one repository and no
   * further than asked. The installation octokit's own token is never handed out: it carries every permission the
   * app was granted.
   */
  async function mintToken(
    installationId: number,
    repo: RepoRef,
    permissions: TokenPermissions,
  ): Promise<{ token: string; expiresAt: number }> {
    const app = await probot.auth();
    const { data } = await app.rest.apps.createInstallationAccessToken({
      installation_id: installationId,
      repositories: [repo.name],
      permissions,
    });
    return { token: data.token, expiresAt: Date.parse(data.expires_at) };
  }

  /** What the installation was granted ("Get an installation for the authenticated app"), read once per Forge. */
  function installationPermissions(installationId: number): () => Promise<Readonly<Record<string, string>>> {
    let read: Promise<Readonly<Record<string, string>>> | undefined;
    return () => {
      read ??= probot
        .auth()
        .then((app) => app.rest.apps.getInstallation({ installation_id: installationId }))
        .then(({ data }) => data.permissions as Readonly<Record<string, string>>);
      // A failed read is not kept: the next order asks again.
      read.catch(() => (read = undefined));
      return read;
    };
  }

  async function build(installationId: number): Promise<Forge> {
    const octokit = await probot.auth(installationId);
    return createGitHubForge({
      octokit,
      host,
      appSlug: await appSlug,
      mintToken: (repo, permissions) => mintToken(installationId, repo, permissions),
      installationPermissions: installationPermissions(installationId),
      ...(opts.protocol === undefined ? {} : { protocol: opts.protocol }),
    });
  }

  return {
    forInstallation(install) {
      const installationId = typeof install === 'number' ? install : install.installationId;
      if (installationId === undefined || !Number.isSafeInteger(installationId) || installationId <= 0) {
        return Promise.reject(new TypeError('a GitHub forge needs the installation id of the event'));
      }
      const at = now();
      for (const [id, entry] of cache) if (entry.expiresAt <= at) cache.delete(id);
      const cached = cache.get(installationId);
      if (cached !== undefined) return cached.forge;
      const forge = build(installationId);
      cache.set(installationId, { forge, expiresAt: at + cacheMs });
      // A failed build is not cached: the next event tries again.
      forge.catch(() => cache.delete(installationId));
      return forge;
    },
  };
}
