/**
 * Lost GitHub webhooks, recovered: GitHub never retries a failed delivery by itself ("Handling failed webhook
 * deliveries": it is up to the receiver to list them and ask for a redelivery, possible for 3 days). So a reconcile,
 * as the App (its JWT), lists the App's recent deliveries ("List deliveries for an app webhook", newest first, paged
 * by `cursor`), finds events none of whose attempts reached us (a status code outside 200–399, or none: a timeout,
 * a refused connection), and asks GitHub to redeliver each ("Redeliver a delivery for an app webhook") — once per
 * event and window, recorded in the store, and a bounded number per reconcile.
 *
 * An event whose delivery claim we hold was stored even though GitHub saw a failure (we answered after its 10 s
 * limit): it is not redelivered, since the webhook route would only answer "duplicate".
 */
import type { Logger } from 'pino';
import type { ProbotOctokit } from 'probot';
import type { Store } from '../store/store.ts';
import { githubDeliveryClaimKey } from './webhook-verify.ts';

/** The document kind that records a redelivery asked for, keyed by the event's GUID. */
export const REDELIVERY_KIND = 'github-redelivery';

/** The document kind whose one document per GitHub host says a reconcile ran recently (its lease). */
export const REDELIVERY_LEASE_KIND = 'github-redelivery-lease';

/** GitHub redelivers deliveries of the past 3 days only. */
export const GITHUB_REDELIVERY_WINDOW_MS = 3 * 86_400_000;

const DEFAULTS = { maxRedeliveries: 10, maxPages: 10, windowMs: GITHUB_REDELIVERY_WINDOW_MS } as const;

/** The App's octokit calls this needs (Probot's `probot.auth()` without an installation id). */
export type AppHookOctokit = Pick<ProbotOctokit, 'paginate' | 'rest'>;

export interface GitHubRedeliveryOptions {
  /** The octokit acting as the App itself (a JWT), e.g. `() => probot.auth()`. */
  readonly app: () => Promise<AppHookOctokit>;
  readonly store: Pick<Store, 'isClaimed' | 'putDoc' | 'deleteDoc'>;
  /** The App's web host (`github.com` or GHE_HOST): the delivery claims' key. */
  readonly host: string;
  readonly logger: Logger;
  readonly now: () => number;
  /** Redeliveries asked for per reconcile, accepted or not (10 by default). */
  readonly maxRedeliveries?: number;
  /** Pages of 100 deliveries read per reconcile (10 by default). */
  readonly maxPages?: number;
  /** How far back deliveries are looked at (GitHub's 3 days by default). */
  readonly windowMs?: number;
}

export interface RedeliverySummary {
  /** Deliveries (attempts) read within the window. */
  readonly listed: number;
  /** Events none of whose attempts succeeded and whose claim we do not hold. */
  readonly lost: number;
  /** Redeliveries GitHub accepted. */
  readonly redelivered: number;
}

interface Attempt {
  readonly id: number;
  readonly guid: string;
  readonly deliveredAt: number;
  readonly statusCode: number;
}

/** An event, by GUID: its newest attempt (the one to redeliver) and whether any attempt reached us. */
interface Event {
  readonly newest: Attempt;
  readonly delivered: boolean;
}

/** A delivery reached us when we answered 2xx or 3xx (GitHub's own `status=success` range). */
function isDelivered(statusCode: number): boolean {
  return statusCode >= 200 && statusCode < 400;
}

export function createGitHubRedelivery(opts: GitHubRedeliveryOptions): { reconcile(): Promise<RedeliverySummary> } {
  const { store, host, logger, now } = opts;
  const maxRedeliveries = opts.maxRedeliveries ?? DEFAULTS.maxRedeliveries;
  const maxPages = opts.maxPages ?? DEFAULTS.maxPages;
  const windowMs = opts.windowMs ?? DEFAULTS.windowMs;

  /** The attempts within the window, newest first (GitHub's order), reading pages until one reaches past it. */
  async function listAttempts(octokit: AppHookOctokit, since: number): Promise<Attempt[]> {
    const attempts: Attempt[] = [];
    let pages = 0;
    for await (const page of octokit.paginate.iterator(octokit.rest.apps.listWebhookDeliveries, { per_page: 100 })) {
      let older = false;
      for (const d of page.data) {
        const deliveredAt = Date.parse(d.delivered_at);
        if (!(deliveredAt >= since)) {
          older = true;
          continue;
        }
        attempts.push({ id: d.id, guid: d.guid, deliveredAt, statusCode: d.status_code });
      }
      pages += 1;
      if (older || pages >= maxPages) break;
    }
    return attempts;
  }

  /** Records the redelivery once per event; false when it was asked for before (here or by another replica). */
  async function recordAttempt(attempt: Attempt, at: number): Promise<boolean> {
    const version = await store.putDoc(
      REDELIVERY_KIND,
      attempt.guid,
      { deliveryId: attempt.id, at },
      { expiresAt: attempt.deliveredAt + windowMs },
    );
    return version !== undefined;
  }

  return {
    async reconcile() {
      const at = now();
      const octokit = await opts.app();
      const attempts = await listAttempts(octokit, at - windowMs);
      const events = new Map<string, Event>();
      for (const attempt of attempts) {
        const seen = events.get(attempt.guid);
        events.set(attempt.guid, {
          newest: seen?.newest ?? attempt,
          delivered: (seen?.delivered ?? false) || isDelivered(attempt.statusCode),
        });
      }
      // Oldest first, so that events are replayed in the order they happened.
      const undelivered = [...events.values()]
        .filter((e) => !e.delivered)
        .map((e) => e.newest)
        .sort((a, b) => a.deliveredAt - b.deliveredAt);
      let lost = 0;
      let asked = 0;
      let redelivered = 0;
      for (const attempt of undelivered) {
        if (asked >= maxRedeliveries) break;
        if (await store.isClaimed(githubDeliveryClaimKey(host, attempt.guid))) continue;
        lost += 1;
        if (!(await recordAttempt(attempt, at))) continue;
        asked += 1;
        const log = logger.child({ deliveryId: attempt.guid, hookDeliveryId: attempt.id });
        try {
          await octokit.rest.apps.redeliverWebhookDelivery({ delivery_id: attempt.id });
          redelivered += 1;
          log.info('asked GitHub to redeliver a failed webhook delivery');
        } catch (error) {
          // GitHub's own trouble (5xx, no answer) is worth another try next time; a refusal (4xx: too old, gone) is not.
          const status = (error as { status?: unknown }).status;
          if (typeof status !== 'number' || status >= 500) await store.deleteDoc(REDELIVERY_KIND, attempt.guid);
          log.warn({ err: error }, 'cannot redeliver a failed webhook delivery');
        }
      }
      return { listed: attempts.length, lost, redelivered };
    },
  };
}
