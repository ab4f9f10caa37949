/**
 * The inbox: accepted Intents persisted as store documents (kind `intent`, keyed by delivery id), processed in the
 * background after the webhook is answered, retried with exponential backoff by `reconcile()` (the server's
 * periodic tick), and given up after `maxAttempts` with an error log. GitHub does not redeliver a delivery that
 * was answered 2xx, so work that fails after the answer must be recovered here, not lost.
 *
 * Single-flight across replicas: a replica takes an intent by a conditional version bump that sets a lease
 * (`leaseUntil`, also its `due`), so while one replica processes it no other can take it; when the lease expires
 * (the replica died), the intent is due again and reconcile picks it up. Processing is idempotent (deterministic run
 * ids), so a lease that expires under a slow replica costs work, never a duplicate run.
 */
import type { Logger } from 'pino';
import { isRetryable } from '../errors.ts';
import type { Intent } from './intents.ts';
import type { DocValue, Store } from '../store/store.ts';

export const INBOX_KIND = 'intent';

export type InboxStatus = 'pending' | 'done' | 'failed';

/** The document's value. `due` is present only while pending (so only pending intents are listed). */
export interface InboxEntry<I extends Intent = Intent> {
  readonly intent: I;
  readonly status: InboxStatus;
  readonly attempts: number;
  readonly expiresAt: number;
  readonly due?: number;
  readonly leaseUntil?: number;
  /** The last failure, one line. */
  readonly error?: string;
}

export interface InboxOptions<I extends Intent = Intent> {
  readonly store: Store;
  readonly process: (intent: I) => Promise<void>;
  readonly logger: Logger;
  readonly now?: () => number;
  readonly maxAttempts?: number;
  /** Delay before attempt `attempt + 1` after attempt `attempt` (1-based) failed. */
  readonly backoff?: (attempt: number) => number;
  /** How long one processing attempt holds the intent. */
  readonly leaseMs?: number;
  /** How long an intent is remembered (done ones too: a duplicate within this window does nothing). */
  readonly retentionMs?: number;
  /** Intents taken per reconcile. */
  readonly batchSize?: number;
  /** Pending intents a sweep compares at most. */
  readonly sweepLimit?: number;
  /** Called once when an intent is given up (e.g. a one-line note in the PR's sticky comment). */
  readonly onGiveUp?: (intent: I, error: string) => Promise<void>;
}

/** Generic over what it carries: the app's inbox takes every Intent; a test's may take order intents only. */
export interface Inbox<I extends Intent = Intent> {
  /** Persists the intent, starts processing it in the background (not awaited) and returns. */
  accept(intent: I): Promise<void>;
  /** Processes every due pending intent (retries, and intents whose replica died); returns how many it took. */
  reconcile(): Promise<number>;
  /**
   * Finds pending intents the listing index lost (an engine fault between an intent's write and its index entry's:
   * dynalite writes them separately) and writes them again, which indexes them. Returns how many it restored.
   */
  sweep(): Promise<number>;
  /** Resolves when the background processing started by `accept` has settled (tests, shutdown). */
  idle(): Promise<void>;
}

const MINUTE = 60_000;

/**
 * An intent's inbox key: the delivery id within its forge and host (two forges' ids never collide). Gitea's capacity
 * webhook is a webhook of its own, so its deliveries are keyed apart from the order webhook's.
 */
export function inboxKey(intent: Intent): string {
  const consumer = intent.kind === 'capacity-push' || intent.kind === 'capacity-job' ? 'capacity:' : '';
  return `${intent.install.forge}:${intent.install.host.toLowerCase()}:${consumer}${intent.deliveryId}`;
}

/** 5 s, 10 s, 20 s … capped at 15 min: with 8 attempts an intent is retried for about 10 minutes. */
export const DEFAULT_BACKOFF = (attempt: number): number =>
  Math.min(5_000 * 2 ** Math.max(0, attempt - 1), 15 * MINUTE);

function errorLine(error: unknown): string {
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return message.replace(/\s+/g, ' ').slice(0, 500);
}

export function createInbox<I extends Intent = Intent>(options: InboxOptions<I>): Inbox<I> {
  const { store, logger } = options;
  const now = options.now ?? Date.now;
  const maxAttempts = options.maxAttempts ?? 8;
  const backoff = options.backoff ?? DEFAULT_BACKOFF;
  const leaseMs = options.leaseMs ?? 5 * MINUTE;
  const retentionMs = options.retentionMs ?? 7 * 24 * 60 * MINUTE;
  const batchSize = options.batchSize ?? 100;
  const sweepLimit = options.sweepLimit ?? 10_000;
  const inflight = new Set<Promise<unknown>>();

  const write = (key: string, entry: InboxEntry<I>, ifVersion: number | undefined) =>
    store.putDoc(INBOX_KIND, key, entry as unknown as DocValue, {
      expiresAt: entry.expiresAt,
      ...(ifVersion === undefined ? {} : { ifVersion }),
    });

  /** Takes the intent if it is pending and not leased, processes it, records the outcome. True if it was taken. */
  async function processKey(key: string): Promise<boolean> {
    const doc = await store.getDoc(INBOX_KIND, key);
    if (doc === undefined) return false;
    const entry = doc.value as unknown as InboxEntry<I>;
    const start = now();
    if (entry.status !== 'pending' || (entry.leaseUntil !== undefined && entry.leaseUntil > start)) return false;
    const attempts = entry.attempts + 1;
    const { error: _previous, ...rest } = entry;
    const leased: InboxEntry<I> = { ...rest, attempts, leaseUntil: start + leaseMs, due: start + leaseMs };
    const version = await write(key, leased, doc.version);
    if (version === undefined) return false; // another replica took it first
    const log = logger.child({ deliveryId: entry.intent.deliveryId, intent: entry.intent.kind, attempt: attempts });
    try {
      await options.process(entry.intent);
      const { due: _due, leaseUntil: _lease, ...settled } = leased;
      const marked = await write(key, { ...settled, status: 'done' }, version);
      if (marked === undefined) log.warn('intent lease lost before it was marked done');
      else log.debug('intent processed');
    } catch (error) {
      const line = errorLine(error);
      const { due: _due, leaseUntil: _lease, ...settled } = leased;
      // Only errors that say so (`retryable: false`) are given up on before maxAttempts (errors.ts, isRetryable).
      if (attempts >= maxAttempts || !isRetryable(error, { unknown: true })) {
        await write(key, { ...settled, status: 'failed', error: line }, version);
        log.error({ err: error }, 'intent failed; giving up');
        await options.onGiveUp?.(entry.intent, line).catch((e: unknown) => {
          log.warn({ err: e }, 'intent give-up notice failed');
        });
      } else {
        await write(key, { ...settled, status: 'pending', error: line, due: now() + backoff(attempts) }, version);
        log.warn({ err: error }, 'intent failed; will retry');
      }
    }
    return true;
  }

  function track(work: Promise<unknown>): void {
    inflight.add(work);
    void work.finally(() => inflight.delete(work));
  }

  return {
    async accept(intent) {
      const at = now();
      const key = inboxKey(intent);
      const entry: InboxEntry<I> = { intent, status: 'pending', attempts: 0, expiresAt: at + retentionMs, due: at };
      const created = await write(key, entry, undefined);
      if (created === undefined) {
        const existing = await store.getDoc(INBOX_KIND, key);
        const previous = existing?.value as unknown as InboxEntry<I> | undefined;
        // An explicit redelivery of an intent that was given up is a request to try again.
        if (existing !== undefined && previous?.status === 'failed') {
          await write(key, { ...entry, expiresAt: previous.expiresAt }, existing.version);
        } else {
          logger.debug({ deliveryId: key }, 'intent already accepted');
          if (previous?.status !== 'pending') return;
        }
      }
      track(
        processKey(key).catch((error: unknown) => {
          // Processing failed before its outcome could be written (e.g. the store is down): reconcile retries.
          logger.warn({ err: error, deliveryId: key }, 'intent processing interrupted');
        }),
      );
    },

    async reconcile() {
      const due = await store.listDocs(INBOX_KIND, { dueBefore: now(), limit: batchSize });
      let taken = 0;
      for (const doc of due) {
        try {
          if (await processKey(doc.key)) taken++;
        } catch (error) {
          logger.warn({ err: error, deliveryId: doc.key }, 'intent processing interrupted');
        }
      }
      return taken;
    },

    async sweep() {
      // The table first, then the index: an intent settled between the two reads is rewritten under its old
      // version, which fails harmlessly, rather than a new one being missed.
      const stored = await store.scanDocs(INBOX_KIND, { limit: sweepLimit });
      if (stored.length === 0) return 0;
      const listed = await store.listDocs(INBOX_KIND, { limit: sweepLimit });
      const indexed = new Set(listed.map((doc) => doc.key));
      let restored = 0;
      for (const doc of stored) {
        if (indexed.has(doc.key)) continue;
        const entry = doc.value as unknown as InboxEntry<I>;
        if ((await write(doc.key, entry, doc.version)) === undefined) continue;
        restored++;
        logger.warn({ deliveryId: doc.key }, 'intent was missing from the listing index; indexed again');
      }
      return restored;
    },

    async idle() {
      while (inflight.size > 0) await Promise.allSettled([...inflight]);
    },
  };
}
