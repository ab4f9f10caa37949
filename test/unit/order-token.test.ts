import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  MIN_SECRET_BYTES,
  signOrderToken,
  verifyOrderToken,
  type OrderTokenClaims,
} from '../../src/server/order-token.ts';

const SECRET = 's'.repeat(MIN_SECRET_BYTES);
const OTHER_SECRET = 't'.repeat(MIN_SECRET_BYTES);
const NOW = 1_760_000_000_000;
const CLAIMS: OrderTokenClaims = {
  runId: 'run-1',
  orderId: 'test.2',
  attempt: 1,
  sha: 'a'.repeat(40),
  expiresAt: NOW + 3_600_000,
};

function parts(token: string): [string, string] {
  const [payload, signature] = token.split('.');
  return [payload!, signature!];
}

function encode(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/** A tiny deterministic PRNG (mulberry32), so a fuzz failure reproduces. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('order tokens', () => {
  it('round-trips the claims', () => {
    const token = signOrderToken(SECRET, CLAIMS);
    expect(token).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    expect(verifyOrderToken(SECRET, token, NOW)).toEqual({ ok: true, claims: CLAIMS });
    expect(verifyOrderToken(Buffer.from(SECRET), token, NOW).ok).toBe(true);
  });

  it.each([
    ['one ms before expiry', CLAIMS.expiresAt - 1, { ok: true, claims: CLAIMS }],
    ['at expiry', CLAIMS.expiresAt, { ok: false, reason: 'expired' }],
    ['after expiry', CLAIMS.expiresAt + 60_000, { ok: false, reason: 'expired' }],
  ])('expiry: %s', (_name, now, verdict) => {
    expect(verifyOrderToken(SECRET, signOrderToken(SECRET, CLAIMS), now)).toEqual(verdict);
  });

  const token = signOrderToken(SECRET, CLAIMS);
  const other = signOrderToken(SECRET, { ...CLAIMS, orderId: 'build' });
  const [payload, signature] = parts(token);
  const [otherPayload, otherSignature] = parts(other);

  it.each([
    ['a tampered payload (another order)', `${encode({ ...CLAIMS, orderId: 'build' })}.${signature}`],
    ['a tampered payload (a later attempt)', `${encode({ ...CLAIMS, attempt: 2 })}.${signature}`],
    ['a tampered payload (a later expiry)', `${encode({ ...CLAIMS, expiresAt: NOW * 2 })}.${signature}`],
    ["this payload with another order's signature", `${payload}.${otherSignature}`],
    ["another order's payload with this signature", `${otherPayload}.${signature}`],
    [
      'a flipped signature bit',
      `${payload}.${Buffer.from(Buffer.from(signature, 'base64url').map((b, i) => (i === 0 ? b ^ 1 : b))).toString('base64url')}`,
    ],
  ])('refuses %s as bad-signature', (_name, forged) => {
    expect(verifyOrderToken(SECRET, forged, NOW)).toEqual({ ok: false, reason: 'bad-signature' });
  });

  it("another order's token carries that order's claims, never this one's", () => {
    const verdict = verifyOrderToken(SECRET, other, NOW);
    expect(verdict.ok && verdict.claims.orderId).toBe('build');
  });

  it('refuses a token made with another secret', () => {
    expect(verifyOrderToken(OTHER_SECRET, token, NOW)).toEqual({ ok: false, reason: 'bad-signature' });
    expect(verifyOrderToken(SECRET, signOrderToken(OTHER_SECRET, CLAIMS), NOW)).toEqual({
      ok: false,
      reason: 'bad-signature',
    });
  });

  it('refuses secrets shorter than 32 bytes', () => {
    expect(() => signOrderToken('short', CLAIMS)).toThrow(RangeError);
    expect(() => verifyOrderToken('x'.repeat(MIN_SECRET_BYTES - 1), token, NOW)).toThrow(RangeError);
  });

  it.each([
    ['empty', ''],
    ['no dot', payload],
    ['three parts', `${token}.x`],
    ['empty signature', `${payload}.`],
    ['empty payload', `.${signature}`],
    ['non-base64url characters', `${payload}.${signature.slice(0, -1)}+`],
    ['a short signature', `${payload}.${signature.slice(0, 20)}`],
    [
      'a signature with padding bits that re-encode differently',
      `${payload}.${signature.slice(0, -1)}${signature.endsWith('A') ? 'B' : 'A'}`,
    ],
    ['padding', `${payload}=.${signature}`],
    ['huge', `${'a'.repeat(10_000)}.${signature}`],
  ])('refuses a malformed token: %s', (_name, bad) => {
    const verdict = verifyOrderToken(SECRET, bad, NOW);
    expect(verdict.ok).toBe(false);
    expect(verdict).not.toHaveProperty('claims');
  });

  /** Correctly signed (the documented construction: HMAC-SHA256 over a versioned prefix and the payload). */
  function signedPayload(value: unknown): string {
    const encoded = Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
    const mac = createHmac('sha256', SECRET).update('spotcheck-order-token.v1.').update(encoded).digest();
    return `${encoded}.${mac.toString('base64url')}`;
  }

  it('the construction the shape tests rely on verifies', () => {
    expect(verifyOrderToken(SECRET, signedPayload(CLAIMS), NOW)).toEqual({ ok: true, claims: CLAIMS });
  });

  it.each([
    ['attempt 0', { ...CLAIMS, attempt: 0 }],
    ['a fractional attempt', { ...CLAIMS, attempt: 1.5 }],
    ['a string attempt', { ...CLAIMS, attempt: '1' }],
    ['an empty run id', { ...CLAIMS, runId: '' }],
    ['a numeric order id', { ...CLAIMS, orderId: 7 }],
    ['no sha', { runId: 'r', orderId: 'o', attempt: 1, expiresAt: NOW * 2 }],
    ['a string expiry', { ...CLAIMS, expiresAt: 'never' }],
    ['an array', [1, 2]],
    ['null', null],
    ['not JSON', 'not json'],
  ])('a signed payload of the wrong shape is malformed: %s', (_name, value) => {
    expect(verifyOrderToken(SECRET, signedPayload(value), NOW)).toEqual({ ok: false, reason: 'malformed' });
  });

  it('never throws on random input (fuzz)', () => {
    const random = prng(42);
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/{}":, \u00e9\u0000';
    let refused = 0;
    for (let i = 0; i < 500; i++) {
      const length = Math.floor(random() * 200);
      let candidate = '';
      for (let j = 0; j < length; j++) candidate += alphabet[Math.floor(random() * alphabet.length)];
      // Half of them look like tokens: a real payload or signature with one side replaced.
      if (i % 2 === 0) candidate = random() < 0.5 ? `${payload}.${candidate}` : `${candidate}.${signature}`;
      const verdict = verifyOrderToken(SECRET, candidate, NOW);
      if (!verdict.ok) refused++;
    }
    expect(refused).toBe(500);
  });
});
