/**
 * The forges people log in with, in our words: where to send the browser, how to turn the code into a token, who
 * the token is, and whether it may read a repository. GitHub: the App's user-authorization flow (GitHub docs,
 * "Generating a user access token for a GitHub App": `GET /login/oauth/authorize`, `POST /login/oauth/access_token`);
 * the App's permissions bound the token, and `GET /repos/{owner}/{repo}` answers 404 for a repository the user
 * cannot see. Gitea: an OAuth2 application (Gitea docs, "OAuth2 provider"), the same two endpoints under the web root.
 *
 * Who may manage secrets is asked the same way, with the user's token: a repository's admins (`permissions.admin`
 * of `GET /repos/{owner}/{repo}` on both forges), an organization's owners (GitHub: `GET /user/memberships/orgs/{org}`
 * answers `role: admin` for an owner, with `state: active`; Gitea: `GET /users/{username}/orgs/{org}/permissions`
 * answers `is_owner`, and Gitea's own organization secrets API asks for ownership). Anything else is no.
 */
import type { ForgeKind } from '../../core/types.ts';
import { SpotcheckError } from '../../errors.ts';

/** A forge answered the login flow with something other than what it documents. */
export class ForgeLoginError extends SpotcheckError {
  override readonly name: string = 'ForgeLoginError';
}

export interface LoginForge {
  readonly forge: ForgeKind;
  /** Lower-cased host, as run records carry it. */
  readonly host: string;
  /** What the login button says. */
  readonly label: string;
  authorizeUrl(state: string, redirectUri: string): string;
  /** The user's token for an authorization code; `expiresInS` when the forge says how long it lives. */
  exchangeCode(code: string, redirectUri: string): Promise<{ readonly token: string; readonly expiresInS?: number }>;
  /** The login the token belongs to. */
  readLogin(token: string): Promise<string>;
  /**
   * What the token's user may do with the repository: read it (200 with `permissions.pull`), administer it (200
   * with `permissions.admin`); anything else is neither.
   */
  repoAccess(token: string, owner: string, name: string): Promise<RepoAccess>;
  /** Whether the token's user (`login`) owns the organization `org`; anything else (a user account too) is no. */
  isOrgOwner(token: string, login: string, org: string): Promise<boolean>;
}

export interface RepoAccess {
  readonly pull: boolean;
  readonly admin: boolean;
}

export interface OAuthClient {
  readonly clientId: string;
  readonly clientSecret: string;
}

interface LoginForgeOptions {
  readonly forge: ForgeKind;
  readonly host: string;
  readonly label: string;
  /** Web root: `/login/oauth/...` lives under it. */
  readonly webUrl: string;
  /** REST root: `/user` and `/repos/...` live under it. */
  readonly apiUrl: string;
  readonly client: OAuthClient;
  readonly fetch: typeof fetch;
  /** Extra authorize parameters (Gitea wants `response_type=code`). */
  readonly authorizeExtra?: Readonly<Record<string, string>>;
}

export function createGitHubLogin(
  opts: Omit<LoginForgeOptions, 'forge' | 'label' | 'authorizeExtra'> & { readonly label?: string },
): LoginForge {
  return createLoginForge({ ...opts, forge: 'github', label: opts.label ?? 'GitHub' });
}

export function createGiteaLogin(
  opts: Omit<LoginForgeOptions, 'forge' | 'label' | 'authorizeExtra' | 'apiUrl'> & { readonly label?: string },
): LoginForge {
  return createLoginForge({
    ...opts,
    forge: 'gitea',
    label: opts.label ?? 'Gitea',
    apiUrl: `${opts.webUrl}/api/v1`,
    authorizeExtra: { response_type: 'code' },
  });
}

function createLoginForge(opts: LoginForgeOptions): LoginForge {
  const { client } = opts;
  const api = async (token: string, path: string): Promise<Response> =>
    opts.fetch(`${opts.apiUrl}${path}`, {
      headers: { authorization: `Bearer ${token}`, accept: 'application/json', 'user-agent': 'spotcheck' },
      signal: AbortSignal.timeout(10_000),
    });
  return {
    forge: opts.forge,
    host: opts.host.toLowerCase(),
    label: opts.label,
    authorizeUrl(state, redirectUri) {
      const query = new URLSearchParams({
        client_id: client.clientId,
        redirect_uri: redirectUri,
        state,
        ...opts.authorizeExtra,
      });
      return `${opts.webUrl}/login/oauth/authorize?${query.toString()}`;
    },
    async exchangeCode(code, redirectUri) {
      const res = await opts.fetch(`${opts.webUrl}/login/oauth/access_token`, {
        method: 'POST',
        // A form body: what both forges' token endpoints take (RFC 6749 §4.1.3); JSON comes back on `accept`.
        headers: {
          accept: 'application/json',
          'content-type': 'application/x-www-form-urlencoded',
          'user-agent': 'spotcheck',
        },
        body: new URLSearchParams({
          client_id: client.clientId,
          client_secret: client.clientSecret,
          code,
          redirect_uri: redirectUri,
          grant_type: 'authorization_code',
        }).toString(),
        signal: AbortSignal.timeout(10_000),
      });
      const body = (await res.json().catch(() => undefined)) as Record<string, unknown> | undefined;
      const token = body?.['access_token'];
      // GitHub answers 200 with `{ error: 'bad_verification_code' }` for a bad code.
      if (!res.ok || typeof token !== 'string' || token === '')
        throw new ForgeLoginError('the forge did not exchange the code for a token', {
          context: { status: res.status, error: typeof body?.['error'] === 'string' ? body['error'] : undefined },
        });
      const expires = body?.['expires_in'];
      return typeof expires === 'number' && expires > 0 ? { token, expiresInS: expires } : { token };
    },
    async readLogin(token) {
      const res = await api(token, '/user');
      const body = (await res.json().catch(() => undefined)) as Record<string, unknown> | undefined;
      const login = body?.['login'];
      if (!res.ok || typeof login !== 'string' || login === '')
        throw new ForgeLoginError('the forge did not say who the token is', { context: { status: res.status } });
      return login;
    },
    async repoAccess(token, owner, name) {
      const res = await api(token, `/repos/${encodeURIComponent(owner)}/${encodeURIComponent(name)}`);
      if (res.status !== 200) return { pull: false, admin: false };
      const body = (await res.json().catch(() => undefined)) as { permissions?: unknown } | undefined;
      const permissions = body?.permissions;
      if (typeof permissions !== 'object' || permissions === null) return { pull: false, admin: false };
      const { pull, admin } = permissions as Record<string, unknown>;
      return { pull: pull === true, admin: admin === true };
    },
    async isOrgOwner(token, login, org) {
      const path =
        opts.forge === 'github'
          ? `/user/memberships/orgs/${encodeURIComponent(org)}`
          : `/users/${encodeURIComponent(login)}/orgs/${encodeURIComponent(org)}/permissions`;
      const res = await api(token, path);
      if (res.status !== 200) return false;
      const body = (await res.json().catch(() => undefined)) as Record<string, unknown> | undefined;
      if (opts.forge === 'github') return body?.['role'] === 'admin' && body['state'] === 'active';
      return body?.['is_owner'] === true;
    },
  };
}
