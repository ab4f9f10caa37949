/**
 * `POST /api/github/webhooks`: verify, de-duplicate, hand to Probot, answer. The handlers behind `probot.receive`
 * only normalise and persist (fast), so the answer goes out well inside GitHub's 10-second delivery timeout
 * ("Handling webhook deliveries": respond with a 2XX within 10 seconds); the work itself runs afterwards.
 */
import type { Probot } from 'probot';
import type { Store } from '../store/store.ts';
import { text, type RouteDefinition } from './router.ts';
import {
  claimAndHand,
  githubDeliveryClaimKey,
  isJsonContentType,
  isSignedBy,
  parseJsonObject,
} from './webhook-verify.ts';

export const GITHUB_WEBHOOK_PATH = '/api/github/webhooks';
/**
 * GitHub caps webhook payloads at 25 MB (it does not deliver larger ones). The events spotcheck takes (push,
 * pull_request, issue_comment) are far smaller in practice, so 5 MiB leaves room and bounds what a caller can make
 * the server buffer before the signature is checked.
 */
export const MAX_GITHUB_WEBHOOK_BYTES = 5 * 1024 * 1024;

export interface GithubWebhookRouteOptions {
  /** Loaded with the app's handlers. */
  readonly probot: Probot;
  /** The app's webhook secret (WEBHOOK_SECRET), the key of `X-Hub-Signature-256`. */
  readonly secret: string;
  readonly store: Pick<Store, 'claim' | 'release'>;
  /** The GitHub host (`github.com` or the GHE host), so two hosts never share delivery keys. */
  readonly host: string;
  readonly now: () => number;
}

const DELIVERY_ID = /^[A-Za-z0-9-]{1,100}$/;
const EVENT_NAME = /^[a-z_]{1,64}$/;

export function createGithubWebhookRoute(opts: GithubWebhookRouteOptions): RouteDefinition {
  if (opts.secret === '') throw new TypeError('the GitHub webhook secret must not be empty');
  return {
    method: 'POST',
    pattern: GITHUB_WEBHOOK_PATH,
    maxBodyBytes: MAX_GITHUB_WEBHOOK_BYTES,
    async handle(req) {
      const name = req.headers['x-github-event'];
      const id = req.headers['x-github-delivery'];
      const signature = req.headers['x-hub-signature-256'];
      if (name === undefined || id === undefined || signature === undefined)
        return text(400, 'X-GitHub-Event, X-GitHub-Delivery and X-Hub-Signature-256 are required');
      if (!EVENT_NAME.test(name) || !DELIVERY_ID.test(id))
        return text(400, 'malformed X-GitHub-Event or X-GitHub-Delivery');
      // GitHub sends JSON when the webhook's content type is application/json, which the app's manifest sets.
      if (!isJsonContentType(req.headers['content-type'])) return text(415, 'expected application/json');
      const log = req.log.child({ deliveryId: id, event: name });
      const body = await req.body();
      if (body.length === 0) return text(400, 'empty body');
      await opts.probot.ready();
      // Verify before anything else reads the body or claims the id: unsigned callers can do neither.
      if (!isSignedBy('github', opts.secret, body, signature)) {
        log.warn('webhook signature mismatch');
        return text(401, 'signature mismatch');
      }
      const payload = parseJsonObject(body);
      if (!payload.ok) return payload.response;
      return claimAndHand({
        store: opts.store,
        claimKey: githubDeliveryClaimKey(opts.host, id),
        now: opts.now,
        log,
        hand: () => opts.probot.receive({ id, name, payload: payload.value } as Parameters<Probot['receive']>[0]),
      });
    },
  };
}
