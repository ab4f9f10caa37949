/**
 * `POST /api/github/webhooks`: verify, de-duplicate, hand to Probot, answer. The handlers behind `probot.receive`
 * only normalise and persist (fast), so the answer goes out well inside GitHub's 10-second delivery timeout
 * ("Handling webhook deliveries": respond with a 2XX within 10 seconds); the work itself runs afterwards.
 */
import type { Probot } from 'probot';
import type { Store } from '../store/store.ts';
import { json, text, type RouteDefinition } from './router.ts';

export const GITHUB_WEBHOOK_PATH = '/api/github/webhooks';
/**
 * GitHub caps webhook payloads at 25 MB (it does not deliver larger ones). The events spotcheck takes (push,
 * pull_request, issue_comment) are far smaller in practice, so 5 MiB leaves room and bounds what a caller can make
 * the server buffer before the signature is checked.
 */
export const MAX_GITHUB_WEBHOOK_BYTES = 5 * 1024 * 1024;
/** GitHub lets a delivery be redelivered for 3 days; claims outlive that. */
export const DELIVERY_CLAIM_MS = 7 * 86_400_000;

export interface GithubWebhookRouteOptions {
  /** Loaded with the app's handlers; `probot.webhooks.verify` checks signatures with the webhook secret. */
  readonly probot: Probot;
  readonly store: Pick<Store, 'claim' | 'release'>;
  /** The GitHub host (`github.com` or the GHE host), so two hosts never share delivery keys. */
  readonly host: string;
  readonly now: () => number;
}

const DELIVERY_ID = /^[A-Za-z0-9-]{1,100}$/;
const EVENT_NAME = /^[a-z_]{1,64}$/;
const SIGNATURE = /^sha256=[0-9a-f]{64}$/;

export function deliveryClaimKey(host: string, deliveryId: string): string {
  return `delivery:github:${host}:${deliveryId}`;
}

export function createGithubWebhookRoute(opts: GithubWebhookRouteOptions): RouteDefinition {
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
      const contentType = req.headers['content-type'];
      if (contentType !== undefined && !/^application\/json\s*(;|$)/i.test(contentType))
        return text(415, 'expected application/json');
      const log = req.log.child({ deliveryId: id, event: name });
      const body = (await req.body()).toString('utf8');
      if (body === '') return text(400, 'empty body');
      await opts.probot.ready();
      // Verify before anything else reads the body or claims the id: unsigned callers can do neither.
      if (!SIGNATURE.test(signature) || !(await opts.probot.webhooks.verify(body, signature))) {
        log.warn('webhook signature mismatch');
        return text(401, 'signature mismatch');
      }
      let payload: unknown;
      try {
        payload = JSON.parse(body);
      } catch {
        return text(400, 'the body is not JSON');
      }
      if (typeof payload !== 'object' || payload === null || Array.isArray(payload))
        return text(400, 'the body is not a JSON object');

      const key = deliveryClaimKey(opts.host, id);
      if (!(await opts.store.claim(key, opts.now() + DELIVERY_CLAIM_MS))) {
        log.info('duplicate delivery');
        return json(200, { status: 'duplicate' });
      }
      try {
        await opts.probot.receive({ id, name, payload } as Parameters<Probot['receive']>[0]);
      } catch (error) {
        // Released, so GitHub's redelivery of this failed delivery is processed instead of answered "duplicate".
        await opts.store.release(key).catch((err: unknown) => log.error({ err }, 'cannot release the delivery claim'));
        log.error({ err: error }, 'webhook handler failed');
        return text(500, 'the delivery could not be processed');
      }
      return json(202, { status: 'accepted' });
    },
  };
}
