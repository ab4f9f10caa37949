/**
 * People's sessions. The cookie carries only a signed session id and its expiry; the forge token stays on the
 * server, in a store document, encrypted (AES-256-GCM) with a key derived from the session secret. Why server-side:
 * the token never reaches the browser (a stolen cookie is worthless once the session is deleted or expired, and
 * logout really ends it), every replica reads the same store, and the cookie stays small. The cost is one document
 * read per request, which the store answers locally.
 */
import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import type { ForgeKind } from '../../core/types.ts';
import type { Store } from '../../store/store.ts';
import { parseCookies, serializeCookie, signValue, verifyValue } from './cookies.ts';

export const SESSION_COOKIE = 'spotcheck_session';
const SESSION_DOC = 'session';
/** A working day; GitHub's user tokens live 8 hours too (a session never outlives its token). */
export const DEFAULT_SESSION_TTL_MS = 8 * 3_600_000;

/** Who is looking, as the forge they logged in with told. */
export interface Viewer {
  readonly sid: string;
  readonly forge: ForgeKind;
  /** Lower-cased forge host. */
  readonly host: string;
  readonly login: string;
}

export interface Sessions {
  /** Stores the session; answers the `Set-Cookie` value that carries it. */
  create(who: Omit<Viewer, 'sid'>, token: string, maxAgeMs?: number): Promise<string>;
  /** The viewer and their forge token; undefined without a valid, unexpired session. */
  read(cookieHeader: string | undefined): Promise<{ readonly viewer: Viewer; readonly token: string } | undefined>;
  /** Deletes the session (if any); answers the `Set-Cookie` value that clears the cookie. */
  destroy(cookieHeader: string | undefined): Promise<string>;
}

export interface SessionOptions {
  readonly store: Pick<Store, 'putDoc' | 'getDoc' | 'deleteDoc'>;
  /** The server's session secret (≥ 32 bytes). */
  readonly secret: Buffer;
  /** Cookies get `Secure` (the public URL is https). */
  readonly secure: boolean;
  readonly now: () => number;
  readonly ttlMs?: number;
}

export function createSessions(opts: SessionOptions): Sessions {
  const ttlMs = opts.ttlMs ?? DEFAULT_SESSION_TTL_MS;
  const macKey = deriveKey(opts.secret, 'session cookies');
  const tokenKey = deriveKey(opts.secret, 'session tokens at rest');
  const cookie = (value: string, maxAgeMs: number): string =>
    serializeCookie(SESSION_COOKIE, value, { path: '/', maxAge: maxAgeMs / 1000, secure: opts.secure });
  const sidOf = (header: string | undefined): { sid: string; exp: number } | undefined => {
    const raw = parseCookies(header).get(SESSION_COOKIE);
    if (raw === undefined) return undefined;
    const value = verifyValue(macKey, 'session', raw) as { sid?: unknown; exp?: unknown } | undefined;
    if (typeof value?.sid !== 'string' || typeof value.exp !== 'number' || value.exp <= opts.now()) return undefined;
    return { sid: value.sid, exp: value.exp };
  };
  return {
    async create(who, token, maxAgeMs = ttlMs) {
      const sid = randomBytes(24).toString('base64url');
      const lifetime = Math.min(ttlMs, maxAgeMs);
      const exp = opts.now() + lifetime;
      await opts.store.putDoc(
        SESSION_DOC,
        sid,
        { forge: who.forge, host: who.host, login: who.login, token: seal(tokenKey, token, sid) },
        { expiresAt: exp },
      );
      return cookie(signValue(macKey, 'session', { sid, exp }), lifetime);
    },
    async read(header) {
      const found = sidOf(header);
      if (found === undefined) return undefined;
      const doc = await opts.store.getDoc(SESSION_DOC, found.sid);
      const v = doc?.value;
      if (v === undefined) return undefined;
      const { forge, host, login, token } = v;
      if ((forge !== 'github' && forge !== 'gitea') || typeof host !== 'string' || typeof login !== 'string')
        return undefined;
      const opened = typeof token === 'string' ? open(tokenKey, token, found.sid) : undefined;
      if (opened === undefined) return undefined;
      return { viewer: { sid: found.sid, forge, host, login }, token: opened };
    },
    async destroy(header) {
      const found = sidOf(header);
      if (found !== undefined) await opts.store.deleteDoc(SESSION_DOC, found.sid);
      return cookie('', 0);
    },
  };
}

/** A key for one use of the secret (HMAC as a KDF: one secret, keys that cannot stand in for each other). */
export function deriveKey(secret: Buffer, use: string): Buffer {
  return createHmac('sha256', secret).update(`spotcheck ${use}`).digest();
}

/** AES-256-GCM with the session id as associated data: a sealed token is only good for its own session. */
function seal(key: Buffer, plain: string, sid: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(sid));
  const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
}

function open(key: Buffer, sealed: string, sid: string): string | undefined {
  const raw = Buffer.from(sealed, 'base64url');
  if (raw.length < 29) return undefined;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
    decipher.setAAD(Buffer.from(sid));
    decipher.setAuthTag(raw.subarray(12, 28));
    return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
  } catch {
    return undefined;
  }
}
