/**
 * `POST /api/agent/bootstrap`: a cloud agent's first call. It presents the one-time bootstrap token from its user
 * data (`Authorization: Bearer <token>`) and gets its order: the job (steps, env, a clone URL with short-lived
 * read-only credentials), the per-order report token, and where to report. The token is good for one exchange
 * (docs/architecture.md, "Security model"); an order that is finished or at another attempt gets nothing.
 */
import { bearerCredential } from './auth-header.ts';
import type { OrderRecord, RunRecord } from '../core/types.ts';
import { isFinalOrderState } from '../core/types.ts';
import type { OrderJob } from '../../runners/runner.ts';
import { redeemBootstrapToken } from './bootstrap-tokens.ts';
import type { Store } from '../store/store.ts';
import { signOrderToken } from './order-token.ts';
import { json, text, type RouteDefinition, type RouterResponse } from './router.ts';

export const AGENT_BOOTSTRAP_PATH = '/api/agent/bootstrap';

/** What the agent gets in exchange for its bootstrap token. */
export interface BootstrapAnswer {
  readonly job: OrderJob;
  /** Bearer token for `reportUrl`, bound to run, order, attempt and SHA (order-token.ts). */
  readonly reportToken: string;
  readonly reportUrl: string;
  /** The order's log page, for the agent's own log lines. */
  readonly logUrl?: string;
}

export interface BootstrapRouteOptions {
  readonly store: Pick<Store, 'getDoc' | 'claim' | 'release' | 'getRun' | 'getOrder'>;
  /** The order token secret (≥ 32 bytes), the one the callback route verifies with. */
  readonly secret: string | Uint8Array;
  /** Builds the job: the server asks the forge for clone credentials scoped to the repository, read-only. */
  readonly jobFor: (run: RunRecord, order: OrderRecord) => Promise<OrderJob>;
  /**
   * The secrets the order gets (the run's trust, the job's environment), opened now: they travel only in this
   * one-time answer. Absent: none.
   */
  readonly secretsFor?: (run: RunRecord, order: OrderRecord) => Promise<Readonly<Record<string, string>>>;
  /** The callback route's absolute URL (`<public URL>/api/agent/report`). */
  readonly reportUrl: string;
  readonly logUrl?: (run: RunRecord, order: OrderRecord) => string;
  readonly now: () => number;
  /**
   * How long the report token lasts beyond the order's timeout: room for the checkout, a final report retried
   * for a while after a lost callback (the agent retries it up to 10 minutes), and clock skew.
   */
  readonly reportTokenSlackMs?: number;
  /** The report token's lifetime for an order without a timeout. */
  readonly reportTokenMaxMs?: number;
}

export const DEFAULT_REPORT_TOKEN_SLACK_MS = 30 * 60_000;
export const DEFAULT_REPORT_TOKEN_MAX_MS = 24 * 60 * 60_000;

export function createBootstrapRoute(opts: BootstrapRouteOptions): RouteDefinition {
  const slackMs = opts.reportTokenSlackMs ?? DEFAULT_REPORT_TOKEN_SLACK_MS;
  const maxMs = opts.reportTokenMaxMs ?? DEFAULT_REPORT_TOKEN_MAX_MS;
  return {
    method: 'POST',
    pattern: AGENT_BOOTSTRAP_PATH,
    // The token travels in the header; a body is not expected.
    maxBodyBytes: 1024,
    async handle(req) {
      const credential = bearerCredential(req.headers.authorization);
      const now = opts.now();
      const redeemed =
        credential === undefined ? undefined : await redeemBootstrapToken(opts.store, 'order', credential, now);
      if (!redeemed?.ok) {
        req.log.info({ reason: redeemed?.reason ?? 'missing' }, 'agent bootstrap refused: token');
        // One answer for unknown, expired and used tokens: nothing for a prober to tell apart.
        return text(401, 'invalid bootstrap token', { 'www-authenticate': 'Bearer' });
      }
      const { ref } = redeemed;
      const log = req.log.child({ ...ref });
      const [run, order] = await Promise.all([
        opts.store.getRun(ref.runId),
        opts.store.getOrder(ref.runId, ref.orderId),
      ]);
      if (!run || !order) return conflict(log, 'the order is not known');
      if (isFinalOrderState(order.state)) return conflict(log, 'the order is finished');
      if (order.attempt !== ref.attempt) return conflict(log, 'the attempt was superseded');

      let job: OrderJob;
      try {
        job = await opts.jobFor(run, order);
        const secrets = await opts.secretsFor?.(run, order);
        if (secrets !== undefined && Object.keys(secrets).length > 0) job = { ...job, secrets };
      } catch (error) {
        // Not the agent's fault (the forge did not give credentials, a secret did not open): give the token back so
        // its retry can work.
        log.warn({ err: error }, 'agent bootstrap: the job could not be built');
        await opts.store.release(redeemed.claimKey);
        return text(503, 'the order cannot be prepared right now; retry', { 'retry-after': '5' });
      }
      const timeoutMs =
        Number.isFinite(order.timeoutMinutes) && order.timeoutMinutes > 0
          ? Math.min(order.timeoutMinutes * 60_000 + slackMs, maxMs)
          : maxMs;
      const reportToken = signOrderToken(opts.secret, { ...ref, sha: run.sha, expiresAt: now + timeoutMs });
      const answer: BootstrapAnswer = {
        job,
        reportToken,
        reportUrl: opts.reportUrl,
        ...(opts.logUrl === undefined ? {} : { logUrl: opts.logUrl(run, order) }),
      };
      log.info('agent bootstrapped');
      // Credentials inside: no cache may keep it.
      return json(200, answer, { 'cache-control': 'no-store' });
    },
  };
}

function conflict(log: { info(obj: object, msg: string): void }, message: string): RouterResponse {
  log.info({ why: message }, 'agent bootstrap refused: order state');
  return text(409, message);
}
