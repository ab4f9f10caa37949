/**
 * Capacity mode's HTTP routes: the capacity bootstrap exchange (`POST /api/capacity/bootstrap`, the instance's
 * one-time token for its forge registration) and Gitea's capacity webhook (`POST /api/gitea/capacity`: a second
 * webhook the operator adds for `workflow_job` and `push`, verified like the order webhook: X-Gitea-Signature,
 * plain hex HMAC-SHA256 of the body, services/webhook/deliver.go).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { parseRef } from '../core/triggers.ts';
import type { Store } from '../store/store.ts';
import { DELIVERY_CLAIM_MS, giteaDeliveryClaimKey } from '../server/webhook-verify.ts';
import { json, text, type RouteDefinition } from '../server/router.ts';
import { toCapacityJobEvent } from './capacity-events.ts';
import type { CapacityManager } from './capacity-manager.ts';

export const CAPACITY_BOOTSTRAP_PATH = '/api/capacity/bootstrap';
export const GITEA_CAPACITY_WEBHOOK_PATH = '/api/gitea/capacity';
const MAX_BODY = 5 * 1024 * 1024;
const ZERO_SHA = /^0+$/;

export function createCapacityBootstrapRoute(manager: Pick<CapacityManager, 'exchange'>): RouteDefinition {
  return {
    method: 'POST',
    pattern: CAPACITY_BOOTSTRAP_PATH,
    maxBodyBytes: 1024,
    async handle(req) {
      // The auth scheme is case-insensitive (RFC 9110 §11.1): `bearer <token>` is the same credential.
      const auth = /^Bearer ([^\s]+)$/i.exec(req.headers.authorization ?? '');
      if (!auth) return text(401, 'invalid bootstrap token', { 'www-authenticate': 'Bearer' });
      const result = await manager.exchange(auth[1]!);
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
  readonly manager: Pick<CapacityManager, 'jobEvent' | 'push'>;
  readonly now: () => number;
}

export function createGiteaCapacityWebhookRoute(opts: GiteaCapacityWebhookOptions): RouteDefinition {
  if (opts.secret === '') throw new TypeError('the Gitea webhook secret must not be empty');
  const key = Buffer.from(opts.secret, 'utf8');
  return {
    method: 'POST',
    pattern: GITEA_CAPACITY_WEBHOOK_PATH,
    maxBodyBytes: MAX_BODY,
    async handle(req) {
      const id = req.headers['x-gitea-delivery'];
      const event = req.headers['x-gitea-event-type'] ?? req.headers['x-gitea-event'];
      const signature = req.headers['x-gitea-signature'] ?? '';
      if (id === undefined || event === undefined) return text(400, 'X-Gitea-Delivery and X-Gitea-Event are required');
      const body = await req.body();
      const expected = createHmac('sha256', key).update(body).digest();
      if (!/^[0-9a-f]{64}$/i.test(signature) || !timingSafeEqual(expected, Buffer.from(signature, 'hex')))
        return text(401, 'signature mismatch');
      let payload: Record<string, unknown>;
      try {
        payload = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
      } catch {
        return text(400, 'the body is not JSON');
      }
      // Claimed under its own prefix: the same delivery id reaching the order webhook is another consumer.
      const claimKey = `capacity:${giteaDeliveryClaimKey(opts.host, id)}`;
      if (!(await opts.store.claim(claimKey, opts.now() + DELIVERY_CLAIM_MS)))
        return json(200, { status: 'duplicate' });
      try {
        if (event === 'workflow_job') {
          const parsed = toCapacityJobEvent('gitea', opts.host, payload);
          if ('ignore' in parsed) return json(200, { ignored: parsed.ignore });
          return json(202, await opts.manager.jobEvent(parsed));
        }
        if (event === 'push') {
          const repository = payload.repository as Record<string, unknown> | undefined;
          const owner = (repository?.owner as Record<string, unknown> | undefined)?.login;
          const ref = payload.ref;
          const after = payload.after;
          if (typeof repository?.name !== 'string' || typeof owner !== 'string')
            return json(200, { ignored: 'no repository' });
          if (
            typeof ref !== 'string' ||
            parseRef(ref) === undefined ||
            typeof after !== 'string' ||
            ZERO_SHA.test(after)
          )
            return json(200, { ignored: 'not a branch or tag push' });
          const outcomes = await opts.manager.push({
            repo: { forge: 'gitea', host: opts.host.toLowerCase(), owner, name: repository.name },
            sha: after,
            ref,
            changedFiles: changedFilesOf(payload),
          });
          return json(202, { outcomes });
        }
        return json(200, { ignored: `event ${event}` });
      } catch (error) {
        await opts.store.release(claimKey).catch(() => undefined);
        req.log.error({ err: error }, 'capacity webhook failed');
        return text(500, 'the delivery could not be processed');
      }
    },
  };
}

/**
 * The push's changed paths from its commits (added, removed, modified), or null when the payload cannot tell: Gitea
 * lists at most [webhook] PAYLOAD_COMMIT_LIMIT commits, so a longer push counts as "paths match" (DESIGN.md).
 */
function changedFilesOf(payload: Record<string, unknown>): string[] | null {
  const commits = payload.commits;
  const total = payload.total_commits;
  if (!Array.isArray(commits) || (typeof total === 'number' && total > commits.length) || commits.length === 0)
    return null;
  const files = new Set<string>();
  for (const commit of commits as Record<string, unknown>[])
    for (const key of ['added', 'removed', 'modified'])
      for (const path of Array.isArray(commit[key]) ? (commit[key] as unknown[]) : [])
        if (typeof path === 'string') files.add(path);
  return [...files];
}
