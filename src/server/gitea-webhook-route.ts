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
 *
 * Besides the delivery id, the event itself is claimed (src/intake/gitea-event-keys.ts), shared with the poll of
 * Gitea (src/intake/gitea-poll.ts): an event the poll found first is answered 202 and not handed over again.
 */
import { claimGiteaEvent, freeReopenedClaim, giteaEventKey, releaseGiteaEvent } from '../intake/gitea-event-keys.ts';
import { toGiteaIntent } from '../intake/gitea-intents.ts';
import { isCapacityIntent, type Intent } from '../intake/intents.ts';
import type { Store } from '../store/store.ts';
import { json, type RouteDefinition } from './router.ts';
import { claimAndHand, giteaDeliveryClaimKey, readGiteaDelivery } from './webhook-verify.ts';

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
  readonly store: Pick<Store, 'claim' | 'release' | 'putDoc' | 'getDoc' | 'deleteDoc'>;
  /** The Gitea host from `GITEA_URL`, so two Gitea hosts (or GitHub and Gitea) never share delivery keys. */
  readonly host: string;
  /** The inbox's accept: persists the intent. A store failure answers 503 (another rejection 500) and frees the delivery for a redelivery. */
  readonly onIntent: (intent: Intent) => Promise<void>;
  /** The bot user's login: its own comments are never a request. */
  readonly botLogin: string;
  readonly now: () => number;
}

export function createGiteaWebhookRoute(opts: GiteaWebhookRouteOptions): RouteDefinition {
  // An empty key would make every signature computable by anyone: refuse to start rather than accept them.
  if (opts.secret === '') throw new TypeError('the Gitea webhook secret must not be empty');
  return {
    method: 'POST',
    pattern: GITEA_WEBHOOK_PATH,
    maxBodyBytes: MAX_GITEA_WEBHOOK_BYTES,
    async handle(req) {
      const verified = await readGiteaDelivery(req, opts);
      if (!verified.ok) return verified.response;
      const { id, event, payload, log } = verified.value;

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

      return claimAndHand({
        store: opts.store,
        claimKey: giteaDeliveryClaimKey(opts.host, id),
        now: opts.now,
        log,
        hand: async () => {
          // The same event may have been found by the poll first (src/intake/gitea-poll.ts): it runs once.
          if (isCapacityIntent(result)) return opts.onIntent(result);
          const eventKey = giteaEventKey(result);
          const claim = { by: 'webhook' as const, deliveryId: id, now: opts.now() };
          if (eventKey !== undefined && (await claimGiteaEvent(opts.store, eventKey, claim)) === 'duplicate') {
            log.info('event already found by polling Gitea');
            return;
          }
          try {
            await opts.onIntent(result);
          } catch (error) {
            if (eventKey !== undefined)
              await releaseGiteaEvent(opts.store, eventKey, claim).catch((err: unknown) =>
                log.error({ err }, 'cannot release the event claim'),
              );
            throw error;
          }
          // A close makes the next reopen an event again (if this fails, that reopen is taken for a duplicate: logged).
          await freeReopenedClaim(opts.store, result).catch((err: unknown) =>
            log.warn({ err }, 'cannot free the reopened claim of a closed pull request'),
          );
        },
      });
    },
  };
}
