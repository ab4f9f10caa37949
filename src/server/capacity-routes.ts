/**
 * Capacity mode's HTTP routes: the capacity bootstrap exchange (`POST /api/capacity/bootstrap`, the instance's
 * one-time token for its forge registration) and Gitea's capacity webhook (`POST /api/gitea/capacity`: a second
 * webhook the operator adds for `workflow_job` and `push`, verified like the order webhook: X-Gitea-Signature,
 * plain hex HMAC-SHA256 of the body, services/webhook/deliver.go).
 */
import { bearerCredential } from './auth-header.ts';
import type { Route } from '../../runners/runner.ts';
import type { CapacityIntent } from '../intake/intents.ts';
import { json, text, type RouteDefinition } from './router.ts';
import { MAX_GITEA_WEBHOOK_BYTES } from './gitea-webhook-route.ts';
import { claimAndHand, giteaDeliveryClaimKey, readGiteaDelivery } from './webhook-verify.ts';
import type { Store } from '../store/store.ts';
import { toCapacityJobIntent, toCapacityPushIntent } from '../intake/capacity-intents.ts';
import type { CapacityManager } from '../capacity/capacity-manager.ts';

export const CAPACITY_BOOTSTRAP_PATH = '/api/capacity/bootstrap';
export const GITEA_CAPACITY_WEBHOOK_PATH = '/api/gitea/capacity';

/** Claimed under its own prefix: the same delivery id reaching the order webhook is another consumer. */
export function capacityDeliveryClaimKey(host: string, deliveryId: string): string {
  return `capacity:${giteaDeliveryClaimKey(host, deliveryId)}`;
}

export function createCapacityBootstrapRoute(manager: Pick<CapacityManager, 'exchange'>): RouteDefinition {
  return {
    method: 'POST',
    pattern: CAPACITY_BOOTSTRAP_PATH,
    maxBodyBytes: 1024,
    async handle(req) {
      const credential = bearerCredential(req.headers.authorization);
      if (credential === undefined) return text(401, 'invalid bootstrap token', { 'www-authenticate': 'Bearer' });
      const result = await manager.exchange(credential);
      if (!result.ok) {
        req.log.info({ reason: result.reason }, 'capacity bootstrap refused');
        if (result.status === 401) return text(401, 'invalid bootstrap token', { 'www-authenticate': 'Bearer' });
        return text(result.status, result.reason, result.status === 503 ? { 'retry-after': '5' } : {});
      }
      req.log.info({ runner: result.answer.runnerName }, 'capacity runner bootstrapped');
      // A registration inside: no cache may keep it.
      return json(200, result.answer, { 'cache-control': 'no-store' });
    },
  };
}

export interface GiteaCapacityWebhookOptions {
  readonly secret: string;
  readonly host: string;
  readonly store: Pick<Store, 'claim' | 'release'>;
  /** The operator's routes: a queued job no capacity route claims is answered at once and never persisted. */
  readonly routes: ReadonlyMap<string, Route>;
  /** The inbox's accept: persists the intent. A store failure answers 503 (another rejection 500) and frees the delivery for a redelivery. */
  readonly onIntent: (intent: CapacityIntent) => Promise<void>;
  readonly now: () => number;
}

/**
 * Verified like the order webhook (webhook-verify.ts), normalised by a pure guard, claimed, persisted as an intent
 * and answered 202; the launch or the teardown runs when the inbox processes the intent (Gitea's [webhook]
 * DELIVER_TIMEOUT is 5 s, shorter than an EC2 launch on a bad day).
 */
export function createGiteaCapacityWebhookRoute(opts: GiteaCapacityWebhookOptions): RouteDefinition {
  if (opts.secret === '') throw new TypeError('the Gitea webhook secret must not be empty');
  return {
    method: 'POST',
    pattern: GITEA_CAPACITY_WEBHOOK_PATH,
    maxBodyBytes: MAX_GITEA_WEBHOOK_BYTES,
    async handle(req) {
      const verified = await readGiteaDelivery(req, opts);
      if (!verified.ok) return verified.response;
      const { id, event, payload, log } = verified.value;
      const ctx = { forge: 'gitea', host: opts.host, deliveryId: id, now: opts.now(), routes: opts.routes } as const;
      const result =
        event === 'workflow_job'
          ? toCapacityJobIntent(payload, ctx)
          : event === 'push'
            ? toCapacityPushIntent(payload, ctx)
            : { ignore: `event ${event}` };
      if ('ignore' in result) {
        log.debug({ reason: result.ignore }, 'capacity delivery ignored');
        return json(200, { ignored: result.ignore });
      }
      return claimAndHand({
        store: opts.store,
        claimKey: capacityDeliveryClaimKey(opts.host, id),
        now: opts.now,
        log,
        hand: () => opts.onIntent(result),
      });
    },
  };
}
