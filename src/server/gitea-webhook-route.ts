/**
 * `POST /api/gitea/webhooks`: verify, normalise, de-duplicate, hand the Intent to the inbox, answer. Normalising is
 * pure and the inbox only persists, so the answer goes out well inside Gitea's delivery timeout ([webhook]
 * DELIVER_TIMEOUT, 5 s by default); the work itself runs afterwards.
 *
 * Gitea's headers (services/webhook/deliver.go): `X-Gitea-Delivery` (the hook task's UUID), `X-Gitea-Event` /
 * `X-Gitea-Event-Type`, and `X-Gitea-Signature`, the plain hex HMAC-SHA256 of the raw body keyed with the webhook's
 * secret (no `sha256=` prefix; empty when the webhook has no secret).
 *
 * Unlike GitHub, Gitea's "Replay" (models/webhook/hooktask.go ReplayHookTask) copies the payload into a new hook task
 * with a new UUID: the delivery claim stops the same task arriving twice (a retrying proxy, a task re-sent after a
 * crash), while a deliberate replay is a new delivery and is processed.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { toGiteaIntent } from '../gitea-intents.ts';
import type { Intent } from '../intents.ts';
import type { Store } from '../store/store.ts';
import { DELIVERY_CLAIM_MS } from './github-webhook-route.ts';
import { json, text, type RouteDefinition } from './router.ts';

export const GITEA_WEBHOOK_PATH = '/api/gitea/webhooks';
/**
 * Gitea sets no size limit of its own on webhook payloads; a push carries at most [webhook] PAYLOAD_COMMIT_LIMIT
 * (5) commits, so the events spotcheck takes are a few KiB. 5 MiB leaves room and bounds what a caller can make the
 * server buffer before the signature is checked.
 */
export const MAX_GITEA_WEBHOOK_BYTES = 5 * 1024 * 1024;

export interface GiteaWebhookRouteOptions {
  /** The webhook secret (`GITEA_WEBHOOK_SECRET`), the key of `X-Gitea-Signature`. */
  readonly secret: string;
  readonly store: Pick<Store, 'claim' | 'release'>;
  /** The Gitea host from `GITEA_URL`, so two Gitea hosts (or GitHub and Gitea) never share delivery keys. */
  readonly host: string;
  /** The inbox's accept: persists the intent. A rejection answers 500 and frees the delivery for a redelivery. */
  readonly onIntent: (intent: Intent) => Promise<void>;
  /** The bot user's login: its own comments are never a request. */
  readonly botLogin: string;
  readonly now: () => number;
}

/** Gitea's delivery ids are UUIDs (`uuid.New().String()` in the hook task). */
const DELIVERY_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const EVENT_NAME = /^[a-z_]{1,64}$/;
const SIGNATURE = /^[0-9a-f]{64}$/i;

export function giteaDeliveryClaimKey(host: string, deliveryId: string): string {
  return `delivery:gitea:${host.toLowerCase()}:${deliveryId.toLowerCase()}`;
}

export function createGiteaWebhookRoute(opts: GiteaWebhookRouteOptions): RouteDefinition {
  // An empty key would make every signature computable by anyone: refuse to start rather than accept them.
  if (opts.secret === '') throw new TypeError('the Gitea webhook secret must not be empty');
  const key = Buffer.from(opts.secret, 'utf8');

  return {
    method: 'POST',
    pattern: GITEA_WEBHOOK_PATH,
    maxBodyBytes: MAX_GITEA_WEBHOOK_BYTES,
    async handle(req) {
      const id = req.headers['x-gitea-delivery'];
      // The event type is finer (`pull_request_sync`, `pull_request_comment`); Gitea before 1.17 sent only the event.
      const event = req.headers['x-gitea-event-type'] ?? req.headers['x-gitea-event'];
      const signature = req.headers['x-gitea-signature'];
      if (id === undefined || event === undefined || signature === undefined)
        return text(400, 'X-Gitea-Delivery, X-Gitea-Event and X-Gitea-Signature are required');
      // Gitea sends an empty signature when the webhook has no secret: say so, it is a setup mistake.
      if (signature === '') return text(400, "X-Gitea-Signature is empty: set the webhook's secret");
      if (!DELIVERY_ID.test(id) || !EVENT_NAME.test(event))
        return text(400, 'malformed X-Gitea-Delivery or X-Gitea-Event');
      // A form-encoded webhook signs the JSON inside the `payload` field, not the body: only JSON is taken.
      const contentType = req.headers['content-type'];
      if (contentType !== undefined && !/^application\/json\s*(;|$)/i.test(contentType))
        return text(415, "expected application/json: set the webhook's content type to application/json");
      const log = req.log.child({ forge: 'gitea', host: opts.host, deliveryId: id, event });
      const body = await req.body();
      // Verify before anything else reads the body or claims the id: unsigned callers can do neither.
      if (!verify(key, body, signature)) {
        log.warn('webhook signature mismatch');
        return text(401, 'signature mismatch');
      }
      let payload: unknown;
      try {
        payload = JSON.parse(body.toString('utf8'));
      } catch {
        return text(400, 'the body is not JSON');
      }
      if (typeof payload !== 'object' || payload === null || Array.isArray(payload))
        return text(400, 'the body is not a JSON object');

      // Pure and cheap, so it runs before the claim: an event that is not ours costs no store write, and answering
      // a redelivery of it with the same reason is harmless.
      const result = toGiteaIntent(event, payload, {
        deliveryId: id,
        now: opts.now(),
        host: opts.host,
        botLogin: opts.botLogin,
      });
      if ('ignore' in result) {
        log.debug({ reason: result.ignore }, 'delivery ignored');
        // 200 with the reason: Gitea shows the response body in the webhook's delivery log.
        return json(200, { ignored: result.ignore });
      }

      const claimKey = giteaDeliveryClaimKey(opts.host, id);
      if (!(await opts.store.claim(claimKey, opts.now() + DELIVERY_CLAIM_MS))) {
        log.info('duplicate delivery');
        return json(200, { status: 'duplicate' });
      }
      try {
        await opts.onIntent(result);
      } catch (error) {
        // Released, so the same delivery arriving again is processed rather than answered "duplicate".
        await opts.store
          .release(claimKey)
          .catch((err: unknown) => log.error({ err }, 'cannot release the delivery claim'));
        log.error({ err: error }, 'webhook handler failed');
        return text(500, 'the delivery could not be processed');
      }
      return json(202, { status: 'accepted' });
    },
  };
}

/** Constant-time comparison of the expected HMAC with the sent one (both 32 bytes once decoded). */
function verify(key: Buffer, body: Buffer, signature: string): boolean {
  if (!SIGNATURE.test(signature)) return false;
  const expected = createHmac('sha256', key).update(body).digest();
  return timingSafeEqual(expected, Buffer.from(signature, 'hex'));
}
