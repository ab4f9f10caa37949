import type { OrderRecord, OrderState, RepoRef, RunRecord, RunStatus } from '../core/types.ts';

/**
 * A partial update. A key present with the value `undefined` removes that field from the stored record (e.g.
 * `{ waitingSince: undefined }`); an absent key leaves the field as it is. (`Partial<T>` cannot say this under
 * `exactOptionalPropertyTypes`.)
 */
export type RecordChanges<T> = { readonly [K in keyof T]?: T[K] | undefined };

/** A small JSON object kept by kind and key (inbox intents, PR head records). A numeric `due` makes it listable. */
export type DocValue = Readonly<Record<string, unknown>>;

export interface StoredDoc {
  readonly value: DocValue;
  /** 1 when created; +1 per write. The condition for the next write (`ifVersion`). */
  readonly version: number;
}

export interface PutDocOptions {
  /** Epoch ms after which the document reads as absent (filtered on read, like every record). */
  readonly expiresAt: number;
  /** Omitted: the document must not exist (or have expired). A number: its current version must equal it. */
  readonly ifVersion?: number;
}

/**
 * Persistence stays dumb: conditional writes and reads. The engine decides which transitions are legal; a lost
 * race is an expected outcome (`undefined`), never an exception. No transactions (dynalite has none) and no TTL
 * reliance: records carry `expiresAt` and reads filter them.
 */
export interface Store {
  /** Writes the run and all its orders. Idempotent: a second call with the same runId is a no-op returning false. */
  createRun(run: RunRecord, orders: readonly OrderRecord[]): Promise<boolean>;
  getRun(runId: string): Promise<RunRecord | undefined>;
  /** Every order of a run (paginated query). Used at run start/end and for rendering, not per completion. */
  listOrders(runId: string): Promise<OrderRecord[]>;
  getOrder(runId: string, orderId: string): Promise<OrderRecord | undefined>;
  /** Batch read of a few orders (dependents, needs, siblings). Missing ids are omitted. */
  getOrders(runId: string, orderIds: readonly string[]): Promise<OrderRecord[]>;
  /**
   * Applies `changes` iff the order's state is one of `expect.states` (and its attempt equals `expect.attempt`
   * when given). Returns the record after the write, or undefined when the condition failed. A key of `changes`
   * set to `undefined` removes that field.
   */
  updateOrder(
    runId: string,
    orderId: string,
    expect: { readonly states: readonly OrderState[]; readonly attempt?: number },
    changes: RecordChanges<OrderRecord>,
  ): Promise<OrderRecord | undefined>;
  /**
   * Adds orders to an existing run (the cells of a dynamic matrix), each only if absent: a repeated call, or one
   * racing another replica, leaves the first write (and whatever state it has reached since) alone.
   */
  addOrders(run: Pick<RunRecord, 'runId' | 'expiresAt'>, orders: readonly OrderRecord[]): Promise<void>;
  /**
   * Records, at most once per `needId`, that a need of `orderId` is final: decrements `pendingNeeds` by one.
   * Returns the order after the call and whether this call was the one that decremented.
   */
  satisfyNeed(
    runId: string,
    orderId: string,
    needId: string,
  ): Promise<{ readonly order: OrderRecord; readonly applied: boolean } | undefined>;
  /**
   * Applies `changes` iff the run's status is one of `expect.statuses`; undefined when the condition failed. A key
   * of `changes` set to `undefined` removes that field.
   */
  updateRun(
    runId: string,
    expect: { readonly statuses: readonly RunStatus[] },
    changes: RecordChanges<RunRecord>,
  ): Promise<RunRecord | undefined>;
  /**
   * Atomically adds `delta` to a named counter (created at 0). With `max`, a positive delta is applied only if the
   * result stays ≤ max; returns the new value, or undefined when the bound refused it.
   */
  addCounter(key: string, delta: number, max?: number): Promise<number | undefined>;
  getCounter(key: string): Promise<number>;
  /**
   * Newest first. `repo` narrows to one repository; `status` to one status; `concurrencyGroup` needs `repo`;
   * `before` pages.
   */
  listRuns(query: {
    readonly repo?: RepoRef;
    readonly status?: RunStatus;
    readonly concurrencyGroup?: string;
    readonly limit?: number;
    /**
     * A page cursor: only runs listed after this one (older, or as old with a smaller id), so the last run of a page
     * is the cursor of the next. The run itself need not exist any more.
     */
    readonly before?: { readonly createdAt: number; readonly runId: string };
  }): Promise<RunRecord[]>;
  /** Orders in dispatching, running or interrupted across all runs (for the watchdog), via a sparse index. */
  listActiveOrders(): Promise<OrderRecord[]>;
  /**
   * Orders held back while ready (state `queued`, `waitingSince` set: a capacity cap or max-parallel), oldest
   * first, via a sparse index.
   */
  listWaitingOrders(limit: number): Promise<OrderRecord[]>;
  /**
   * Claims a key once (webhook delivery ids, bootstrap tokens). Returns true for the first claim; a claim whose
   * previous holder released it (failed processing) can be taken again.
   */
  claim(key: string, expiresAt: number): Promise<boolean>;
  release(key: string): Promise<void>;
  /** Whether the key is claimed now: taken, not released, not expired (what a second `claim` would refuse). */
  isClaimed(key: string): Promise<boolean>;
  /**
   * Writes a document iff the `ifVersion` condition holds; returns its new version, or undefined when the condition
   * failed (an expected outcome: another writer won). A numeric `value.due` puts it in the listing of its kind.
   */
  putDoc(kind: string, key: string, value: DocValue, options: PutDocOptions): Promise<number | undefined>;
  getDoc(kind: string, key: string): Promise<StoredDoc | undefined>;
  /** Deleting a missing document is not an error. */
  deleteDoc(kind: string, key: string): Promise<void>;
  /**
   * Documents of a kind that have a numeric `due` field (≤ `dueBefore` when given), soonest due first, via a sparse
   * index: documents without `due` are not listed.
   */
  listDocs(
    kind: string,
    query: { readonly dueBefore?: number; readonly limit: number },
  ): Promise<(StoredDoc & { readonly key: string })[]>;
  /**
   * The same documents as `listDocs` without a `dueBefore`, in no order, read from the table itself (a full scan):
   * what a sweep compares with the listing to find documents an engine fault left out of the index.
   */
  scanDocs(kind: string, query: { readonly limit: number }): Promise<(StoredDoc & { readonly key: string })[]>;
}
