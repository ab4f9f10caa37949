/**
 * Who may manage secrets on the dashboard, and the forms' CSRF tokens. A logged-in person manages a repository's
 * (and its environments') secrets when the forge says they administer it, and an organization's when the forge says
 * they own it — asked with their own token on every page and every form post, never cached, so a revoked admin
 * loses the pages at once. Any error denies.
 *
 * The forms are POSTs with a token bound to the session (OWASP CSRF cheat sheet, "Synchronizer token pattern"): an
 * HMAC of the session id under a key of its own, so it needs no storage, dies with the session, and a page of
 * another site cannot read it. SameSite=Lax on the session cookie already keeps it off cross-site POSTs; the token
 * also holds against a same-site attacker (a sibling subdomain) and a browser that ignores SameSite. A request
 * whose `Origin` or `Sec-Fetch-Site` says another site is refused as well.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { RouterRequest } from '../router.ts';
import type { LoginForge } from './login-forges.ts';
import { deriveKey, type Sessions, type Viewer } from './sessions.ts';

/** What a secrets page is about: an organization, or a repository (with its environments). */
export type AdminTarget =
  | { readonly level: 'org'; readonly owner: string }
  | { readonly level: 'repo'; readonly owner: string; readonly name: string };

/** A logged-in person, the forge they logged in with, and their token for it (server side only). */
export interface AdminSession {
  readonly viewer: Viewer;
  readonly forge: LoginForge;
  readonly token: string;
}

export interface SecretAdmins {
  /** The session of a login the server still offers; undefined without one. */
  sessionOf(req: Pick<RouterRequest, 'headers'>): Promise<AdminSession | undefined>;
  /** Whether the forge says this person administers the target; false on any error (logged). */
  mayAdminister(req: Pick<RouterRequest, 'log'>, session: AdminSession, target: AdminTarget): Promise<boolean>;
  /** The CSRF token the session's forms carry. */
  csrfToken(session: AdminSession): string;
  /** Whether a form post is this session's own: its token, and no header saying another site sent it. */
  isOwnPost(req: Pick<RouterRequest, 'headers'>, session: AdminSession, token: string): boolean;
}

export interface SecretAdminsOptions {
  readonly sessions: Pick<Sessions, 'read'>;
  readonly loginForges: readonly LoginForge[];
  /** The server's session secret: the CSRF key is derived from it. */
  readonly secret: Buffer;
  /** The server's public URL: a post's `Origin`, when sent, must be its origin. */
  readonly publicUrl: string;
}

export function createSecretAdmins(opts: SecretAdminsOptions): SecretAdmins {
  const csrfKey = deriveKey(opts.secret, 'csrf tokens');
  const publicOrigin = new URL(opts.publicUrl).origin;
  const tokenOf = (sid: string): string => createHmac('sha256', csrfKey).update(sid).digest('base64url');
  return {
    async sessionOf(req) {
      const session = await opts.sessions.read(req.headers.cookie);
      if (session === undefined) return undefined;
      const { viewer, token } = session;
      const forge = opts.loginForges.find((f) => f.forge === viewer.forge && f.host === viewer.host);
      return forge === undefined ? undefined : { viewer, forge, token };
    },
    async mayAdminister(req, { viewer, forge, token }, target) {
      try {
        return target.level === 'org'
          ? await forge.isOrgOwner(token, viewer.login, target.owner)
          : (await forge.repoAccess(token, target.owner, target.name)).admin;
      } catch (error) {
        req.log.warn({ err: error, forge: forge.forge }, 'secrets: the admin check failed; denied');
        return false;
      }
    },
    csrfToken: (session) => tokenOf(session.viewer.sid),
    isOwnPost(req, session, token) {
      const origin = req.headers.origin;
      // `Origin: null` (a sandboxed frame, a redirect across origins) is no origin of ours either.
      if (origin !== undefined && origin !== publicOrigin) return false;
      const site = req.headers['sec-fetch-site'];
      if (site !== undefined && site !== 'same-origin' && site !== 'none') return false;
      const wanted = Buffer.from(tokenOf(session.viewer.sid));
      const given = Buffer.from(token);
      return given.length === wanted.length && timingSafeEqual(given, wanted);
    },
  };
}
