/**
 * One-time bootstrap tokens (docs/architecture.md, "Security model": no secret in EC2 user data — any process on the
 * instance can read it — so user data carries a one-time token the agent exchanges once for its order). The store keeps
 * only the token's SHA-256, so a read of the table gives nothing an agent could present; the exchange is made once by a
 * `claim` (a conditional write), and a token past its expiry reads as absent.
 *
 * Each token has a kind, the one endpoint that takes it (an order's agent, or a capacity runner): a token shown at
 * the other endpoint is refused before it is claimed, so it is not used up there (issue 16).
 */
import { createHash, randomBytes } from 'node:crypto';
import type { OrderRef } from '../../runners/runner.ts';
import type { Store } from '../store/store.ts';

/** Store documents of this kind hold one minted token each, keyed by the token's hash. */
export const BOOTSTRAP_DOC_KIND = 'bootstrap';
/** 32 random bytes: 256 bits, beyond guessing; base64url so it travels in a header and a shell variable as is. */
const TOKEN_BYTES = 32;
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;
/** The run id capacity tokens carry (src/capacity/capacity-runners.ts CAPACITY_BOOTSTRAP_RUN). */
const CAPACITY_TOKEN_RUN = 'capacity';

/** `order`: `POST /api/agent/bootstrap` (an order's agent); `capacity`: `POST /api/capacity/bootstrap`. */
export type BootstrapKind = 'order' | 'capacity';

export type RedeemResult =
  | { readonly ok: true; readonly ref: OrderRef; readonly claimKey: string }
  | { readonly ok: false; readonly reason: 'malformed' | 'unknown' | 'wrong-kind' | 'used' };

/**
 * Mints a token for one attempt of one order; valid for `ttlMs` from `now`. The caller puts the token in the
 * instance's user data and forgets it.
 */
export async function mintBootstrapToken(
  store: Pick<Store, 'putDoc'>,
  kind: BootstrapKind,
  ref: OrderRef,
  ttlMs: number,
  now: number = Date.now(),
): Promise<string> {
  const token = randomBytes(TOKEN_BYTES).toString('base64url');
  const expiresAt = now + ttlMs;
  const written = await store.putDoc(
    BOOTSTRAP_DOC_KIND,
    hashBootstrapToken(token),
    { kind, runId: ref.runId, orderId: ref.orderId, attempt: ref.attempt, expiresAt },
    { expiresAt },
  );
  // A collision of 256 random bits does not happen; a refused write means the store is not what we think it is.
  if (written === undefined) throw new Error('a bootstrap token with this hash exists already');
  return token;
}

/**
 * Exchanges a token of `kind` once: the first call for a live token returns its order; a second call, an expired or
 * unknown token, or a token of another kind (left unclaimed) returns a refusal. `claimKey` lets the caller give the token back (`store.release`) when it could not
 * answer through no fault of the agent (the job could not be built), so the agent's retry can succeed.
 */
export async function redeemBootstrapToken(
  store: Pick<Store, 'getDoc' | 'claim'>,
  kind: BootstrapKind,
  token: string,
  now: number,
): Promise<RedeemResult> {
  if (!TOKEN_PATTERN.test(token)) return { ok: false, reason: 'malformed' };
  const hash = hashBootstrapToken(token);
  const doc = await store.getDoc(BOOTSTRAP_DOC_KIND, hash);
  const ref = doc === undefined ? undefined : parseRef(doc.value);
  // The store filters expired documents on read; the explicit check keeps that true under any store and clock.
  if (doc === undefined || ref === undefined || !(typeof doc.value.expiresAt === 'number' && now < doc.value.expiresAt))
    return { ok: false, reason: 'unknown' };
  // Tokens minted before kinds were recorded are order tokens unless they name the capacity pseudo-run.
  const minted = doc.value.kind ?? (ref.runId === CAPACITY_TOKEN_RUN ? 'capacity' : 'order');
  if (minted !== kind) return { ok: false, reason: 'wrong-kind' };
  const claimKey = `${BOOTSTRAP_DOC_KIND}:${hash}`;
  if (!(await store.claim(claimKey, doc.value.expiresAt))) return { ok: false, reason: 'used' };
  return { ok: true, ref, claimKey };
}

export function hashBootstrapToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

function parseRef(value: Readonly<Record<string, unknown>>): OrderRef | undefined {
  const { runId, orderId, attempt } = value;
  if (typeof runId !== 'string' || typeof orderId !== 'string') return undefined;
  if (typeof attempt !== 'number' || !Number.isSafeInteger(attempt) || attempt < 1) return undefined;
  return { runId, orderId, attempt };
}
