/**
 * What every webhook route does before its own work, written once: the forge's delivery headers, the HMAC of the
 * raw body, the JSON object inside, and the delivery claim that answers a repeated delivery "duplicate".
 *
 * Signatures: GitHub sends `X-Hub-Signature-256: sha256=<hex>` ("Validating webhook deliveries"); Gitea sends
 * `X-Gitea-Signature: <hex>`, the plain hex HMAC-SHA256 of the raw body keyed with the webhook's secret
 * (services/webhook/deliver.go; empty when the webhook has no secret). Both are compared in constant time.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Logger } from 'pino';
import { StoreError } from '../errors.ts';
import type { Store } from '../store/store.ts';
import { json, text, type RouterRequest, type RouterResponse } from './router.ts';

/** GitHub lets a delivery be redelivered for 3 days; claims outlive that. */
export const DELIVERY_CLAIM_MS = 7 * 86_400_000;

export type SignatureScheme = 'github' | 'gitea';

const SIGNATURES: Record<SignatureScheme, RegExp> = {
  github: /^sha256=([0-9a-f]{64})$/,
  gitea: /^([0-9a-f]{64})$/i,
};

export function githubDeliveryClaimKey(host: string, deliveryId: string): string {
  return `delivery:github:${host}:${deliveryId}`;
}

export function giteaDeliveryClaimKey(host: string, deliveryId: string): string {
  return `delivery:gitea:${host.toLowerCase()}:${deliveryId.toLowerCase()}`;
}

/** Whether `signature` is the HMAC-SHA256 of `body` under `secret`, in the forge's notation. */
export function isSignedBy(scheme: SignatureScheme, secret: string, body: Buffer, signature: string): boolean {
  // An empty key would make every signature computable by anyone.
  if (secret === '') return false;
  const hex = SIGNATURES[scheme].exec(signature)?.[1];
  if (hex === undefined) return false;
  const expected = createHmac('sha256', secret).update(body).digest();
  return timingSafeEqual(expected, Buffer.from(hex, 'hex'));
}

/** Webhooks are taken as JSON only (a form-encoded one signs the JSON inside a field, not the body). */
export function isJsonContentType(contentType: string | undefined): boolean {
  return contentType === undefined || /^application\/json\s*(;|$)/i.test(contentType);
}

/** What a check answers: the value, or the response to send instead. */
export type Checked<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly response: RouterResponse };

function refuse(status: number, message: string): { readonly ok: false; readonly response: RouterResponse } {
  return { ok: false, response: text(status, message) };
}

/** The body as a JSON object, or the 400 to answer. */
export function parseJsonObject(body: Buffer): Checked<Record<string, unknown>> {
  let payload: unknown;
  try {
    payload = JSON.parse(body.toString('utf8'));
  } catch {
    return refuse(400, 'the body is not JSON');
  }
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload))
    return refuse(400, 'the body is not a JSON object');
  return { ok: true, value: payload as Record<string, unknown> };
}

/** Gitea's delivery ids are UUIDs (`uuid.New().String()` in the hook task). */
const GITEA_DELIVERY_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const EVENT_NAME = /^[a-z_]{1,64}$/;

export interface VerifiedDelivery {
  readonly id: string;
  readonly event: string;
  readonly payload: Record<string, unknown>;
  readonly log: Logger;
}

/**
 * A Gitea delivery's headers, signature and JSON body, checked in that order (the signature before anything reads
 * the body or claims the id: unsigned callers can do neither). Used by both Gitea routes (orders and capacity).
 */
export async function readGiteaDelivery(
  req: RouterRequest,
  opts: { readonly secret: string; readonly host: string },
): Promise<Checked<VerifiedDelivery>> {
  const id = req.headers['x-gitea-delivery'];
  // The event type is finer (`pull_request_sync`, `pull_request_comment`); Gitea before 1.17 sent only the event.
  const event = req.headers['x-gitea-event-type'] ?? req.headers['x-gitea-event'];
  const signature = req.headers['x-gitea-signature'];
  if (id === undefined || event === undefined || signature === undefined)
    return refuse(400, 'X-Gitea-Delivery, X-Gitea-Event and X-Gitea-Signature are required');
  // Gitea sends an empty signature when the webhook has no secret: say so, it is a setup mistake.
  if (signature === '') return refuse(400, "X-Gitea-Signature is empty: set the webhook's secret");
  if (!GITEA_DELIVERY_ID.test(id) || !EVENT_NAME.test(event))
    return refuse(400, 'malformed X-Gitea-Delivery or X-Gitea-Event');
  if (!isJsonContentType(req.headers['content-type']))
    return refuse(415, "expected application/json: set the webhook's content type to application/json");
  const log = req.log.child({ forge: 'gitea', host: opts.host, deliveryId: id, event });
  const body = await req.body();
  if (!isSignedBy('gitea', opts.secret, body, signature)) {
    log.warn('webhook signature mismatch');
    return refuse(401, 'signature mismatch');
  }
  const payload = parseJsonObject(body);
  if (!payload.ok) return payload;
  return { ok: true, value: { id, event, payload: payload.value, log } };
}

/**
 * Claims the delivery, then hands it over (the inbox's accept, or Probot's receive, which ends in the inbox):
 * 200 "duplicate" when it was claimed before; 503 when the store failed (the claim could not be taken or the intent
 * could not be stored), 500 when the hand-over failed otherwise, in both cases with the claim released so the same
 * delivery arriving again is processed rather than answered "duplicate"; else 202. Never 2xx for an intent that was
 * not stored: GitHub does not redeliver a delivery answered 2xx, so that would lose it.
 */
export async function claimAndHand(opts: {
  readonly store: Pick<Store, 'claim' | 'release'>;
  readonly claimKey: string;
  readonly now: () => number;
  readonly log: Logger;
  readonly hand: () => Promise<void>;
}): Promise<RouterResponse> {
  const { store, claimKey, log } = opts;
  let claimed: boolean;
  try {
    claimed = await store.claim(claimKey, opts.now() + DELIVERY_CLAIM_MS);
  } catch (error) {
    log.error({ err: error }, 'cannot claim the delivery');
    return storeUnavailable();
  }
  if (!claimed) {
    log.info('duplicate delivery');
    return json(200, { status: 'duplicate' });
  }
  try {
    await opts.hand();
  } catch (error) {
    await store.release(claimKey).catch((err: unknown) => log.error({ err }, 'cannot release the delivery claim'));
    log.error({ err: error }, 'webhook handler failed');
    return isStoreFailure(error) ? storeUnavailable() : text(500, 'the delivery could not be processed');
  }
  return json(202, { status: 'accepted' });
}

function storeUnavailable(): RouterResponse {
  return text(503, 'the delivery could not be stored; deliver it again later', { 'retry-after': '60' });
}

/** A StoreError, also inside Probot's AggregateError of its handlers' errors or as a cause. */
function isStoreFailure(error: unknown, depth = 0): boolean {
  if (error instanceof StoreError) return true;
  if (depth > 4 || typeof error !== 'object' || error === null) return false;
  const { errors, cause } = error as { errors?: unknown; cause?: unknown };
  if (Array.isArray(errors) && errors.some((e) => isStoreFailure(e, depth + 1))) return true;
  return cause !== undefined && isStoreFailure(cause, depth + 1);
}
