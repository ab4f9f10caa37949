/**
 * Signed values, cookies and the one check every redirect goes through. A signed value is
 * `base64url(JSON) "." base64url(HMAC-SHA256(key, purpose "\n" payload))`: the purpose is part of the MAC, so a
 * login-state cookie can never be replayed as a session cookie. Cookies follow RFC 6265bis: HttpOnly (no script
 * reads them), SameSite=Lax (sent on a top-level navigation back from the forge, never on a cross-site POST) and
 * Secure when the public URL is https.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export type SignedPurpose = 'session' | 'login-state';

export function signValue(key: Buffer, purpose: SignedPurpose, value: unknown): string {
  const payload = Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
  return `${payload}.${macOf(key, purpose, payload)}`;
}

/** The value, when the MAC is the key's for this purpose; undefined for anything else (tampered, other purpose). */
export function verifyValue(key: Buffer, purpose: SignedPurpose, signed: string): unknown {
  const dot = signed.indexOf('.');
  if (dot <= 0 || signed.length > 4096) return undefined;
  const payload = signed.slice(0, dot);
  const given = Buffer.from(signed.slice(dot + 1), 'base64url');
  const wanted = Buffer.from(macOf(key, purpose, payload), 'base64url');
  if (given.length !== wanted.length || !timingSafeEqual(given, wanted)) return undefined;
  try {
    return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}

function macOf(key: Buffer, purpose: SignedPurpose, payload: string): string {
  return createHmac('sha256', key).update(`${purpose}\n${payload}`).digest('base64url');
}

/** `Cookie:` header → name → value (the first of a repeated name; RFC 6265 §5.4 sends the most specific first). */
export function parseCookies(header: string | undefined): Map<string, string> {
  const cookies = new Map<string, string>();
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    if (name !== '' && !cookies.has(name)) cookies.set(name, part.slice(eq + 1).trim());
  }
  return cookies;
}

export interface CookieOptions {
  readonly path: string;
  /** Seconds; 0 deletes the cookie. */
  readonly maxAge: number;
  readonly secure: boolean;
}

export function serializeCookie(name: string, value: string, options: CookieOptions): string {
  return [
    `${name}=${value}`,
    `Path=${options.path}`,
    `Max-Age=${String(Math.max(0, Math.floor(options.maxAge)))}`,
    'HttpOnly',
    'SameSite=Lax',
    ...(options.secure ? ['Secure'] : []),
  ].join('; ');
}

const ORIGIN = 'http://spotcheck.invalid';

/**
 * Where to send the browser back to: a same-origin path (`/runs/x?y#z`), never another site. Anything else
 * (an absolute URL, `//host`, `/\host` which browsers read as `//host`, control characters) becomes `fallback`.
 */
export function safeRedirect(value: string | null | undefined, fallback = '/runs'): string {
  if (value === null || value === undefined || value === '' || value.length > 2048) return fallback;
  if (!value.startsWith('/') || value.startsWith('//') || value.includes('\\')) return fallback;
  for (let i = 0; i < value.length; i++)
    if (value.charCodeAt(i) < 0x20 || value.charCodeAt(i) === 0x7f) return fallback;
  let url: URL;
  try {
    url = new URL(value, ORIGIN);
  } catch {
    return fallback;
  }
  if (url.origin !== ORIGIN) return fallback;
  return `${url.pathname}${url.search}${url.hash}`;
}
