/**
 * Who may read what, as on GitHub: a public repository's runs are readable by anyone; a private repository's only
 * by a logged-in user the forge says can pull it (`GET /repos/{owner}/{repo}` with the user's token), cached a few
 * minutes per session and repository (with whether they administer it, which decides a link to its secrets). A run recorded before intake kept `repoPrivate`, a failed check and a
 * viewer of another forge are all "no": the answer fails closed.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { RepoRef, RunRecord } from '../../core/types.ts';
import type { RouterRequest, RouterResponse } from '../router.ts';
import type { LoginForge, RepoAccess } from './login-forges.ts';
import { deriveKey, type Sessions, type Viewer } from './sessions.ts';

export const LOGIN_PATH = '/login';
export const DEFAULT_ACCESS_CACHE_MS = 5 * 60_000;
const MAX_CACHED = 10_000;

export type VisibleRun = Pick<RunRecord, 'repo' | 'repoPrivate'>;

export interface Visibility {
  /** The forges people can log in with (none: private runs are readable by nobody). */
  readonly loginForges: readonly LoginForge[];
  viewerOf(req: Pick<RouterRequest, 'headers'>): Promise<Viewer | undefined>;
  mayRead(req: Pick<RouterRequest, 'headers' | 'log'>, run: VisibleRun): Promise<boolean>;
  /**
   * Whether the forge said (within the cache's minutes) that the viewer administers the repository: for showing a
   * link to its secrets only; the secrets pages ask the forge afresh (auth/secret-admins.ts).
   */
  administers(req: Pick<RouterRequest, 'headers' | 'log'>, repo: RepoRef): Promise<boolean>;
  /** The badge key of a repository: an HMAC of it under the server's secret. */
  badgeKey(repo: RepoRef): string;
  isBadgeKey(repo: RepoRef, key: string): boolean;
}

export interface VisibilityOptions {
  readonly sessions: Sessions;
  readonly loginForges: readonly LoginForge[];
  readonly secret: Buffer;
  readonly now: () => number;
  readonly cacheMs?: number;
}

export function isPublicRun(run: VisibleRun): boolean {
  return run.repoPrivate === false;
}

export function createVisibility(opts: VisibilityOptions): Visibility {
  const cacheMs = opts.cacheMs ?? DEFAULT_ACCESS_CACHE_MS;
  const cache = new Map<string, { readonly access: RepoAccess; readonly until: number }>();
  const badgeKey = deriveKey(opts.secret, 'badge keys');
  const keyOf = (repo: RepoRef): string =>
    createHmac('sha256', badgeKey)
      .update(`${repo.forge}\n${repo.host.toLowerCase()}\n${repo.owner.toLowerCase()}/${repo.name.toLowerCase()}`)
      .digest('base64url')
      .slice(0, 32);
  /** The viewer's access to the repository, cached per session; undefined for no viewer or another forge's. */
  const accessOf = async (
    req: Pick<RouterRequest, 'headers' | 'log'>,
    repo: RepoRef,
  ): Promise<RepoAccess | undefined> => {
    const session = await opts.sessions.read(req.headers.cookie);
    if (session === undefined) return undefined;
    const { viewer, token } = session;
    if (viewer.forge !== repo.forge || viewer.host !== repo.host.toLowerCase()) return undefined;
    const forge = opts.loginForges.find((f) => f.forge === viewer.forge && f.host === viewer.host);
    if (forge === undefined) return undefined;
    const key = `${viewer.sid}\n${repo.owner.toLowerCase()}/${repo.name.toLowerCase()}`;
    const now = opts.now();
    const cached = cache.get(key);
    if (cached !== undefined && cached.until > now) return cached.access;
    let access: RepoAccess;
    try {
      access = await forge.repoAccess(token, repo.owner, repo.name);
    } catch (error) {
      // Denied, and not remembered: the next page view asks again.
      req.log.warn({ err: error, forge: forge.forge }, 'repository access check failed; denied');
      return undefined;
    }
    cache.delete(key);
    cache.set(key, { access, until: now + cacheMs });
    if (cache.size > MAX_CACHED) cache.delete(cache.keys().next().value as string);
    return access;
  };
  return {
    loginForges: opts.loginForges,
    async viewerOf(req) {
      return (await opts.sessions.read(req.headers.cookie))?.viewer;
    },
    async mayRead(req, run) {
      if (isPublicRun(run)) return true;
      return (await accessOf(req, run.repo))?.pull === true;
    },
    async administers(req, repo) {
      return (await accessOf(req, repo))?.admin === true;
    },
    badgeKey: keyOf,
    isBadgeKey(repo, key) {
      const wanted = Buffer.from(keyOf(repo));
      const given = Buffer.from(key);
      return given.length === wanted.length && timingSafeEqual(given, wanted);
    },
  };
}

/** Where to log in, coming back to `redirect`. */
export function loginPath(redirect: string, forge?: Pick<RepoRef, 'forge'>): string {
  const query = new URLSearchParams({ redirect });
  if (forge !== undefined && forge.forge !== 'local') query.set('forge', forge.forge);
  return `${LOGIN_PATH}?${query.toString()}`;
}

/**
 * The answer for a run the viewer may not read, or undefined when they may: a redirect to log in for someone not
 * logged in (when there is a login at all), else `notFound` (the run's existence is not told).
 */
export async function refusalFor(
  visibility: Visibility,
  req: Pick<RouterRequest, 'headers' | 'log' | 'path' | 'query'>,
  run: VisibleRun,
  notFound: () => RouterResponse,
): Promise<RouterResponse | undefined> {
  if (await visibility.mayRead(req, run)) return undefined;
  if (visibility.loginForges.length > 0 && (await visibility.viewerOf(req)) === undefined) {
    const query = req.query.toString();
    const back = `${req.path}${query === '' ? '' : `?${query}`}`;
    return { status: 302, headers: { location: loginPath(back, run.repo), 'cache-control': 'no-store' }, body: '' };
  }
  return notFound();
}

/** Everything readable: for `spotcheck run`'s local dashboard and tests of pages, never for `serve`. */
export function openVisibility(): Visibility {
  return {
    loginForges: [],
    viewerOf: () => Promise.resolve(undefined),
    mayRead: () => Promise.resolve(true),
    administers: () => Promise.resolve(false),
    badgeKey: () => '',
    isBadgeKey: () => true,
  };
}
