/**
 * Per-order tokens for agents (docs/architecture.md, "Security model": agents are untrusted; each order gets an HMAC
 * token bound to run, order, attempt and SHA, with an expiry). A token is `base64url(JSON claims) '.' base64url(HMAC)`,
 * the MAC computed with HMAC-SHA256 over a versioned prefix and the encoded claims, and compared in constant time
 * (`crypto.timingSafeEqual`). The claims are read only after the MAC checks out.
 */
import { isWellFormedId } from './ids.ts';
import { createHmac, timingSafeEqual } from 'node:crypto';

export interface OrderTokenClaims {
  readonly runId: string;
  readonly orderId: string;
  readonly attempt: number;
  readonly sha: string;
  /** Epoch ms after which the token is refused. */
  readonly expiresAt: number;
}

export type OrderTokenVerdict =
  | { readonly ok: true; readonly claims: OrderTokenClaims }
  | { readonly ok: false; readonly reason: 'malformed' | 'bad-signature' | 'expired' };

/** HMAC-SHA256 keys should be at least as long as the hash output (RFC 2104 §3). */
export const MIN_SECRET_BYTES = 32;
/** Far above any real token (a few hundred bytes): a bound before any decoding work. */
const MAX_TOKEN_LENGTH = 4096;
/** Domain separation: a MAC made with the same secret for another purpose never verifies here. */
const MAC_PREFIX = 'spotcheck-order-token.v1.';
const BASE64URL = /^[A-Za-z0-9_-]+$/;
const MAC_BYTES = 32;

export function signOrderToken(secret: string | Uint8Array, claims: OrderTokenClaims): string {
  const key = secretKey(secret);
  const payload = Buffer.from(
    JSON.stringify({
      runId: claims.runId,
      orderId: claims.orderId,
      attempt: claims.attempt,
      sha: claims.sha,
      expiresAt: claims.expiresAt,
    }),
  ).toString('base64url');
  return `${payload}.${mac(key, payload).toString('base64url')}`;
}

/** Never throws for any token (only for a secret that is too short: a configuration error). */
export function verifyOrderToken(secret: string | Uint8Array, token: string, now: number): OrderTokenVerdict {
  const key = secretKey(secret);
  if (typeof token !== 'string' || token.length > MAX_TOKEN_LENGTH) return { ok: false, reason: 'malformed' };
  const parts = token.split('.');
  if (parts.length !== 2) return { ok: false, reason: 'malformed' };
  const [payload, signature] = parts as [string, string];
  if (!BASE64URL.test(payload) || !BASE64URL.test(signature)) return { ok: false, reason: 'malformed' };
  const given = Buffer.from(signature, 'base64url');
  // Re-encoding must give the same text, so one MAC has exactly one spelling.
  if (given.length !== MAC_BYTES || given.toString('base64url') !== signature)
    return { ok: false, reason: 'malformed' };
  if (!timingSafeEqual(given, mac(key, payload))) return { ok: false, reason: 'bad-signature' };
  const claims = parseClaims(payload);
  if (claims === undefined) return { ok: false, reason: 'malformed' };
  if (now >= claims.expiresAt) return { ok: false, reason: 'expired' };
  return { ok: true, claims };
}

function secretKey(secret: string | Uint8Array): Buffer {
  const key = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : Buffer.from(secret);
  if (key.length < MIN_SECRET_BYTES)
    throw new RangeError(`the order token secret must be at least ${String(MIN_SECRET_BYTES)} bytes`);
  return key;
}

function mac(key: Buffer, payload: string): Buffer {
  return createHmac('sha256', key).update(MAC_PREFIX).update(payload).digest();
}

function parseClaims(payload: string): OrderTokenClaims | undefined {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const { runId, orderId, attempt, sha, expiresAt } = value as Record<string, unknown>;
  if (!isId(runId) || !isId(orderId) || !isId(sha)) return undefined;
  if (typeof attempt !== 'number' || !Number.isSafeInteger(attempt) || attempt < 1) return undefined;
  if (typeof expiresAt !== 'number' || !Number.isFinite(expiresAt)) return undefined;
  return { runId, orderId, attempt, sha, expiresAt };
}

function isId(value: unknown): value is string {
  return typeof value === 'string' && isWellFormedId(value);
}
