/**
 * Who may read what, as on GitHub: a public repository's runs are readable by anyone; a private repository's only
 * by a logged-in user the forge says can pull it (`GET /repos/{owner}/{repo}` with the user's token), cached a few
 * minutes per session and repository. A run recorded before intake kept `repoPrivate`, a failed check and a
 * viewer of another forge are all "no": the answer fails closed.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { RepoRef, RunRecord } from '../../core/types.ts';
import type { RouterRequest, RouterResponse } from '../router.ts';
import type { LoginForge } from './login-forges.ts';
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
  const cache = new Map<string, { readonly allowed: boolean; readonly until: number }>();
  const badgeKey = deriveKey(opts.secret, 'badge keys');
  const keyOf = (repo: RepoRef): string =>
    createHmac('sha256', badgeKey)
      .update(`${repo.forge}\n${repo.host.toLowerCase()}\n${repo.owner.toLowerCase()}/${repo.name.toLowerCase()}`)
      .digest('base64url')
      .slice(0, 32);
  return {
    loginForges: opts.loginForges,
    async viewerOf(req) {
      return (await opts.sessions.read(req.headers.cookie))?.viewer;
    },
    async mayRead(req, run) {
      if (isPublicRun(run)) return true;
      const session = await opts.sessions.read(req.headers.cookie);
      if (session === undefined) return false;
      const { viewer, token } = session;
      const { repo } = run;
      if (viewer.forge !== repo.forge || viewer.host !== repo.host.toLowerCase()) return false;
      const forge = opts.loginForges.find((f) => f.forge === viewer.forge && f.host === viewer.host);
      if (forge === undefined) return false;
      const key = `${viewer.sid}\n${repo.owner.toLowerCase()}/${repo.name.toLowerCase()}`;
      const now = opts.now();
      const cached = cache.get(key);
      if (cached !== undefined && cached.until > now) return cached.allowed;
      let allowed: boolean;
      try {
        allowed = await forge.mayPull(token, repo.owner, repo.name);
      } catch (error) {
        // Denied, and not remembered: the next page view asks again.
        req.log.warn({ err: error, forge: forge.forge }, 'repository access check failed; denied');
        return false;
      }
      cache.delete(key);
      cache.set(key, { allowed, until: now + cacheMs });
      if (cache.size > MAX_CACHED) cache.delete(cache.keys().next().value as string);
      return allowed;
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
    badgeKey: () => '',
    isBadgeKey: () => true,
  };
}
