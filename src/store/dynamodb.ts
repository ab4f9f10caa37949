import {
  CreateTableCommand,
  DescribeTableCommand,
  UpdateTimeToLiveCommand,
  type DynamoDBClient,
  type GlobalSecondaryIndex,
  type TableDescription,
} from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  BatchWriteCommand,
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
  type QueryCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { setTimeout as sleep } from 'node:timers/promises';
import type { OrderRecord, OrderState, RepoRef, RunRecord, RunStatus } from '../core/types.ts';
import { RUN_STATUSES } from '../core/types.ts';
import { StoreError } from '../errors.ts';
import type { DocValue, Store, StoredDoc } from './store.ts';

/**
 * The Store on DynamoDB, single-table. Items:
 *
 * | item    | pk                | sk                | notes                                                       |
 * |---------|-------------------|-------------------|-------------------------------------------------------------|
 * | run     | `RUN#<runId>`     | `RUN`             | RunRecord + index keys                                      |
 * | order   | `RUN#<runId>`     | `ORDER#<orderId>` | OrderRecord + the run's expiresAt + `doneNeeds` (string set) |
 * | counter | `COUNTER#<key>`   | `COUNTER`         | `v`                                                         |
 * | claim   | `CLAIM#<key>`     | `CLAIM`           | `expiresAt`, `released`                                     |
 * | doc     | `DOC#<kind>#<key>`| `DOC`             | `value` (a map), `version`, `expiresAt`, `docKind`, `docKey`  |
 *
 * Global secondary indexes (all project ALL, so a query needs no second read):
 * - `byRepo` (repoPk, createdSk): runs of one repository, newest first. repoPk is built from forge, host, owner and
 *   name, so two forges or two hosts with the same owner/name never share a partition.
 * - `byStatus` (statusPk, createdSk): runs by status.
 * - `byGroup` (groupPk, createdSk): runs of one repository and concurrency group (sparse: only runs with a group).
 * - `active` (activePk, activeSk): sparse, orders in dispatching/running/interrupted. Set or removed in the same
 *   UpdateItem that changes the state, so the index never disagrees with the state it was written with.
 * - `waiting` (waitPk, waitSk): sparse, queued orders with `waitingSince`, ordered by waitingSince.
 * - `docs` (docsPk, docsSk): sparse and sharded per kind, documents whose value has a numeric `due`, ordered by it
 *   (pending inbox intents); a write without `due` removes the document from it in the same UpdateItem.
 *
 * Only conditional single-item writes (no transactions: dynalite has none) and no reliance on TTL deletion
 * (dynalite never expires; DynamoDB deletes expired items "typically within a few days"): every record carries
 * `expiresAt` and every read filters it. TTL is still enabled on `ttl` (epoch seconds, as DynamoDB TTL requires)
 * where the engine supports it, to keep the table small.
 */
export interface DynamoStoreOptions {
  readonly client: DynamoDBClient;
  readonly table: string;
  /** Epoch ms; injectable for tests. */
  readonly now?: () => number;
}

export type DynamoStore = Store & {
  /** Creates the table (on-demand billing, the indexes above) if missing and waits until it is ACTIVE. */
  ensureTable(): Promise<void>;
};

type Item = Record<string, unknown>;

const ACTIVE_STATES = ['dispatching', 'running', 'interrupted'] as const satisfies readonly OrderState[];

/**
 * The two order indexes have one partition per shard: every order of every run lands in them, and a single
 * partition key value of a GSI takes at most 1,000 writes per second before it throttles the base table
 * (DynamoDB developer guide, "Designing partition keys to distribute your workload"). Readers query every shard.
 */
const INDEX_SHARDS = 4;

const INDEXES = {
  byRepo: { pk: 'repoPk', sk: 'createdSk' },
  byStatus: { pk: 'statusPk', sk: 'createdSk' },
  byGroup: { pk: 'groupPk', sk: 'createdSk' },
  active: { pk: 'activePk', sk: 'activeSk' },
  waiting: { pk: 'waitPk', sk: 'waitSk' },
  docs: { pk: 'docsPk', sk: 'docsSk' },
} as const satisfies Record<string, { pk: string; sk: string }>;
type IndexName = keyof typeof INDEXES;

/** Attributes that exist for the table's sake and are not part of the records. */
const INTERNAL_ATTRIBUTES = [
  'pk',
  'sk',
  'kind',
  'ttl',
  'doneNeeds',
  ...new Set(Object.values(INDEXES).flatMap((i) => [i.pk, i.sk])),
] as const;

/** DynamoDB limits: BatchWriteItem takes 25 requests, BatchGetItem 100 keys (API reference). */
const BATCH_WRITE_MAX = 25;
const BATCH_GET_MAX = 100;
const BATCH_RETRY_ATTEMPTS = 10;

const DEFAULT_LIST_RUNS_LIMIT = 50;

/** Identity and index-defining fields: fixed at creation, skipped by updates. */
const FIXED_RUN_FIELDS: ReadonlySet<string> = new Set(['runId', 'repo', 'createdAt', 'concurrencyGroup']);
const FIXED_ORDER_FIELDS: ReadonlySet<string> = new Set(['runId', 'id']);

// ---------------------------------------------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------------------------------------------

const part = (s: string): string => encodeURIComponent(s);
const runPk = (runId: string): string => `RUN#${part(runId)}`;
const orderSk = (orderId: string): string => `ORDER#${part(orderId)}`;
/** Sorts as a string in numeric order (epoch ms have 13 digits until the year 2286). */
const timeKey = (ms: number): string => String(Math.max(0, Math.trunc(ms))).padStart(15, '0');

/**
 * GitHub and Gitea treat owner and repository names case-insensitively (`Octo/Repo` and `octo/repo` are one
 * repository), and so do host names (RFC 4343), so the key lowercases them.
 */
export function repoKey(repo: RepoRef): string {
  return ['REPO', repo.forge, repo.host.toLowerCase(), repo.owner.toLowerCase(), repo.name.toLowerCase()]
    .map(part)
    .join('#');
}

/** FNV-1a: a stable, cheap spread of orders over the index shards. */
function shardOf(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % INDEX_SHARDS;
}

function activeIndexKeys(runId: string, orderId: string): Item {
  return {
    activePk: `ACTIVE#${String(shardOf(`${runId}/${orderId}`))}`,
    activeSk: `${part(runId)}#${part(orderId)}`,
  };
}

function waitingIndexKeys(runId: string, orderId: string, waitingSince: number): Item {
  return {
    waitPk: `WAITING#${String(shardOf(`${runId}/${orderId}`))}`,
    waitSk: `${timeKey(waitingSince)}#${part(runId)}#${part(orderId)}`,
  };
}

function runIndexKeys(run: Pick<RunRecord, 'runId' | 'repo' | 'status' | 'createdAt' | 'concurrencyGroup'>): Item {
  const createdSk = `${timeKey(run.createdAt)}#${part(run.runId)}`;
  const keys: Item = { repoPk: repoKey(run.repo), statusPk: `STATUS#${run.status}`, createdSk };
  if (run.concurrencyGroup !== undefined) keys['groupPk'] = `${repoKey(run.repo)}#GROUP#${part(run.concurrencyGroup)}`;
  return keys;
}

const docPk = (kind: string, key: string): string => `DOC#${part(kind)}#${part(key)}`;

function docIndexKeys(kind: string, key: string, due: number): Item {
  return {
    docsPk: `DOCS#${part(kind)}#${String(shardOf(key))}`,
    docsSk: `${timeKey(due)}#${part(key)}`,
  };
}

const dueOf = (value: unknown): number | undefined => {
  const due = typeof value === 'object' && value !== null ? (value as Item)['due'] : undefined;
  return typeof due === 'number' && Number.isFinite(due) ? due : undefined;
};

const toDoc = (item: Item): StoredDoc => ({ value: item['value'] as DocValue, version: item['version'] as number });

const isActive = (state: OrderState): boolean => (ACTIVE_STATES as readonly string[]).includes(state);
const ttlOf = (expiresAt: number): number => Math.ceil(expiresAt / 1000);

// ---------------------------------------------------------------------------------------------------------------
// Items <-> records
// ---------------------------------------------------------------------------------------------------------------

function strip(item: Item, extra: readonly string[] = []): Item {
  const out: Item = { ...item };
  for (const k of INTERNAL_ATTRIBUTES) delete out[k];
  for (const k of extra) delete out[k];
  return out;
}

const toRun = (item: Item): RunRecord => strip(item) as unknown as RunRecord;
/** Orders carry their run's `expiresAt` for read filtering; it is not part of OrderRecord. */
const toOrder = (item: Item): OrderRecord => strip(item, ['expiresAt']) as unknown as OrderRecord;

function runItem(run: RunRecord): Item {
  return { ...run, ...runIndexKeys(run), pk: runPk(run.runId), sk: 'RUN', kind: 'run', ttl: ttlOf(run.expiresAt) };
}

function orderItem(order: OrderRecord, expiresAt: number): Item {
  const item: Item = {
    ...order,
    pk: runPk(order.runId),
    sk: orderSk(order.id),
    kind: 'order',
    expiresAt,
    ttl: ttlOf(expiresAt),
  };
  if (isActive(order.state)) Object.assign(item, activeIndexKeys(order.runId, order.id));
  if (order.state === 'queued' && order.waitingSince !== undefined) {
    Object.assign(item, waitingIndexKeys(order.runId, order.id, order.waitingSince));
  }
  return item;
}

// ---------------------------------------------------------------------------------------------------------------
// Expressions
// ---------------------------------------------------------------------------------------------------------------

/** Collects placeholders so every name and value is referenced exactly once (DynamoDB rejects unused ones). */
class Expr {
  readonly names: Record<string, string> = {};
  readonly values: Record<string, unknown> = {};
  private n = 0;
  private v = 0;
  private readonly nameIds = new Map<string, string>();

  name(attribute: string): string {
    let id = this.nameIds.get(attribute);
    if (id === undefined) {
      id = `#n${String(this.n++)}`;
      this.nameIds.set(attribute, id);
      this.names[id] = attribute;
    }
    return id;
  }

  value(value: unknown): string {
    const id = `:v${String(this.v++)}`;
    this.values[id] = value;
    return id;
  }

  in(attribute: string, values: readonly unknown[]): string {
    return `${this.name(attribute)} IN (${values.map((x) => this.value(x)).join(', ')})`;
  }

  /** `SET a = :a, ...  REMOVE b, ...` for a map where `undefined` means remove. */
  update(set: Item, remove: readonly string[]): string {
    const sets = Object.entries(set).map(([k, v]) => `${this.name(k)} = ${this.value(v)}`);
    const removes = remove.map((k) => this.name(k));
    return [sets.length > 0 ? `SET ${sets.join(', ')}` : '', removes.length > 0 ? `REMOVE ${removes.join(', ')}` : '']
      .filter((s) => s !== '')
      .join(' ');
  }

  params(): { ExpressionAttributeNames: Record<string, string>; ExpressionAttributeValues?: Item } {
    return Object.keys(this.values).length > 0
      ? { ExpressionAttributeNames: this.names, ExpressionAttributeValues: this.values }
      : { ExpressionAttributeNames: this.names };
  }
}

/** Splits changes into SET and REMOVE (a key present with `undefined` means remove), skipping fixed fields. */
function splitChanges(changes: object, fixed: ReadonlySet<string>): { set: Item; remove: string[] } {
  const set: Item = {};
  const remove: string[] = [];
  for (const [k, v] of Object.entries(changes) as [string, unknown][]) {
    if (fixed.has(k)) continue;
    if (v === undefined) remove.push(k);
    else set[k] = v;
  }
  return { set, remove };
}

// ---------------------------------------------------------------------------------------------------------------
// Errors: the one place where DynamoDB errors are classified.
// ---------------------------------------------------------------------------------------------------------------

/**
 * Retryable per the DynamoDB developer guide ("Error handling with DynamoDB"): throttling and limit errors, server
 * faults (5xx) and network failures. The SDK's retry strategy has already retried these `maxAttempts` times when
 * we see them; the flag tells our caller whether trying again later can help. Everything else (ValidationException,
 * ResourceNotFoundException, an item over 400 KB, bad credentials) is permanent.
 */
const RETRYABLE_NAMES: ReadonlySet<string> = new Set([
  'ThrottlingException',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'InternalServerError',
  'ServiceUnavailable',
  'TransactionConflictException',
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
]);
const RETRYABLE_CODES: ReadonlySet<string> = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'ENOTFOUND',
]);

export type AwsErrorClass = 'condition-failed' | 'retryable' | 'permanent';

export function classifyAwsError(error: unknown): AwsErrorClass {
  if (typeof error !== 'object' || error === null) return 'permanent';
  const e = error as { name?: unknown; code?: unknown; $fault?: unknown; $retryable?: unknown };
  const name = typeof e.name === 'string' ? e.name : '';
  if (name === 'ConditionalCheckFailedException') return 'condition-failed';
  if (RETRYABLE_NAMES.has(name) || e.$fault === 'server' || e.$retryable !== undefined) return 'retryable';
  if (typeof e.code === 'string' && RETRYABLE_CODES.has(e.code)) return 'retryable';
  return 'permanent';
}

function toStoreError(error: unknown, operation: string, table: string): StoreError {
  const e = error as { name?: unknown; message?: unknown };
  const awsName = typeof e.name === 'string' ? e.name : 'Error';
  const message = typeof e.message === 'string' ? e.message : String(error);
  return new StoreError(`store ${operation} failed: ${awsName}: ${message}`, {
    cause: error,
    retryable: classifyAwsError(error) === 'retryable',
    context: { operation, table, awsError: awsName },
  });
}

/** Exponential backoff with full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"). */
const backoffMs = (attempt: number): number => Math.random() * Math.min(2_000, 25 * 2 ** attempt);

// ---------------------------------------------------------------------------------------------------------------
// The store
// ---------------------------------------------------------------------------------------------------------------

export function createDynamoStore(opts: DynamoStoreOptions): DynamoStore {
  const { table } = opts;
  const now = opts.now ?? Date.now;
  const doc = DynamoDBDocumentClient.from(opts.client, {
    marshallOptions: { removeUndefinedValues: true },
  });

  /** Sends; converts every error to a StoreError. */
  async function send<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      throw toStoreError(error, operation, table);
    }
  }

  /** Sends a conditional write; a failed condition is `undefined`, an expected outcome. */
  async function sendConditional<T>(operation: string, fn: () => Promise<T>): Promise<T | undefined> {
    try {
      return await fn();
    } catch (error) {
      if (classifyAwsError(error) === 'condition-failed') return undefined;
      throw toStoreError(error, operation, table);
    }
  }

  const live = (item: Item | undefined): item is Item =>
    item !== undefined && typeof item['expiresAt'] === 'number' && item['expiresAt'] > now();

  async function getItem(pk: string, sk: string): Promise<Item | undefined> {
    const out = await send('GetItem', () =>
      doc.send(new GetCommand({ TableName: table, Key: { pk, sk }, ConsistentRead: true })),
    );
    return out.Item;
  }

  /**
   * Pages through a query until `limit` items passed `keep` or the query is exhausted. DynamoDB applies `Limit`
   * before any filter, so filtering here and paging is the same work a FilterExpression would do.
   */
  async function query(
    input: Omit<QueryCommandInput, 'TableName' | 'ExclusiveStartKey'>,
    keep: (item: Item) => boolean,
    limit = Infinity,
  ): Promise<Item[]> {
    const items: Item[] = [];
    let start: Item | undefined;
    do {
      const page = await send('Query', () =>
        doc.send(new QueryCommand({ ...input, TableName: table, ...(start ? { ExclusiveStartKey: start } : {}) })),
      );
      for (const item of page.Items ?? []) {
        if (keep(item)) items.push(item);
        if (items.length >= limit) return items;
      }
      start = page.LastEvaluatedKey;
    } while (start !== undefined);
    return items;
  }

  function queryIndex(
    index: IndexName,
    pkValue: string,
    newestFirst: boolean,
    keep: (item: Item) => boolean,
    limit = Infinity,
    skBefore?: string,
  ) {
    const e = new Expr();
    const keyCondition =
      `${e.name(INDEXES[index].pk)} = ${e.value(pkValue)}` +
      (skBefore === undefined ? '' : ` AND ${e.name(INDEXES[index].sk)} < ${e.value(skBefore)}`);
    return query(
      {
        IndexName: index,
        KeyConditionExpression: keyCondition,
        ScanIndexForward: !newestFirst,
        ...(Number.isFinite(limit) ? { Limit: Math.min(1000, Math.max(limit, 1)) } : {}),
        ...e.params(),
      },
      keep,
      limit,
    );
  }

  async function batchWrite(items: readonly Item[]): Promise<void> {
    for (let i = 0; i < items.length; i += BATCH_WRITE_MAX) {
      let requests = items.slice(i, i + BATCH_WRITE_MAX).map((Item) => ({ PutRequest: { Item } }));
      // UnprocessedItems are the same puts again, so retrying them is idempotent (BatchWriteItem API reference
      // recommends exponential backoff before resending them).
      for (let attempt = 0; requests.length > 0; attempt++) {
        if (attempt >= BATCH_RETRY_ATTEMPTS) {
          throw new StoreError(`store BatchWriteItem left ${String(requests.length)} items unprocessed`, {
            retryable: true,
            context: { operation: 'BatchWriteItem', table, unprocessed: requests.length },
          });
        }
        if (attempt > 0) await sleep(backoffMs(attempt));
        const batch = requests;
        const out = await send('BatchWriteItem', () =>
          doc.send(new BatchWriteCommand({ RequestItems: { [table]: batch } })),
        );
        requests = (out.UnprocessedItems?.[table] ?? []).flatMap((r) =>
          r.PutRequest?.Item ? [{ PutRequest: { Item: r.PutRequest.Item } }] : [],
        );
      }
    }
  }

  async function batchGet(keys: readonly Item[]): Promise<Item[]> {
    const found: Item[] = [];
    for (let i = 0; i < keys.length; i += BATCH_GET_MAX) {
      let pending = keys.slice(i, i + BATCH_GET_MAX);
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt >= BATCH_RETRY_ATTEMPTS) {
          throw new StoreError(`store BatchGetItem left ${String(pending.length)} keys unprocessed`, {
            retryable: true,
            context: { operation: 'BatchGetItem', table, unprocessed: pending.length },
          });
        }
        if (attempt > 0) await sleep(backoffMs(attempt));
        const batch = pending;
        const out = await send('BatchGetItem', () =>
          doc.send(new BatchGetCommand({ RequestItems: { [table]: { Keys: batch, ConsistentRead: true } } })),
        );
        found.push(...(out.Responses?.[table] ?? []));
        pending = out.UnprocessedKeys?.[table]?.Keys ?? [];
      }
    }
    return found;
  }

  /**
   * Brings the waiting index in line with the record after a write whose resulting state or waitingSince the
   * store could not know in advance (e.g. `waitingSince` set while `expect.states` allowed both queued and other
   * states). Conditional on the record being unchanged; if it changed, the write that changed it set the index.
   */
  async function repairWaitingIndex(item: Item): Promise<Item> {
    const order = toOrder(item);
    const want =
      order.state === 'queued' && order.waitingSince !== undefined
        ? waitingIndexKeys(order.runId, order.id, order.waitingSince)
        : undefined;
    if (item['waitPk'] === want?.['waitPk'] && item['waitSk'] === want?.['waitSk']) return item;
    const e = new Expr();
    const updateExpression = want ? e.update(want, []) : e.update({}, ['waitPk', 'waitSk']);
    const condition =
      `${e.name('state')} = ${e.value(order.state)} AND ` +
      (order.waitingSince === undefined
        ? `attribute_not_exists(${e.name('waitingSince')})`
        : `${e.name('waitingSince')} = ${e.value(order.waitingSince)}`);
    const out = await sendConditional('UpdateItem', () =>
      doc.send(
        new UpdateCommand({
          TableName: table,
          Key: { pk: item['pk'] as string, sk: item['sk'] as string },
          UpdateExpression: updateExpression,
          ConditionExpression: condition,
          ReturnValues: 'ALL_NEW',
          ...e.params(),
        }),
      ),
    );
    return out?.Attributes ?? item;
  }

  const store: DynamoStore = {
    async ensureTable() {
      let description = await describeTable(opts.client, table);
      if (description === undefined) {
        try {
          await opts.client.send(new CreateTableCommand(tableDefinition(table)));
        } catch (error) {
          // Another replica created it first: fine, wait for it like they do.
          if ((error as { name?: unknown }).name !== 'ResourceInUseException') {
            throw toStoreError(error, 'CreateTable', table);
          }
        }
      }
      for (let attempt = 0; ; attempt++) {
        description = await describeTable(opts.client, table);
        const indexesReady = (description?.GlobalSecondaryIndexes ?? []).every((i) => i.IndexStatus === 'ACTIVE');
        if (description?.TableStatus === 'ACTIVE' && indexesReady) break;
        if (attempt >= 600) {
          throw new StoreError(`table ${table} did not become ACTIVE`, {
            retryable: true,
            context: { operation: 'ensureTable', table, status: description?.TableStatus },
          });
        }
        await sleep(Math.min(1_000, 20 * 2 ** attempt));
      }
      const present = new Set((description.GlobalSecondaryIndexes ?? []).map((i) => i.IndexName));
      const missing = Object.keys(INDEXES).filter((name) => !present.has(name));
      if (missing.length > 0) {
        throw new StoreError(`table ${table} exists without the indexes ${missing.join(', ')}`, {
          retryable: false,
          context: { operation: 'ensureTable', table },
        });
      }
      try {
        await opts.client.send(
          new UpdateTimeToLiveCommand({
            TableName: table,
            TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true },
          }),
        );
      } catch {
        // Best effort: dynalite has no UpdateTimeToLive, DynamoDB refuses to enable it twice, and an operator may
        // not grant the permission. Correctness never depends on TTL: reads filter on expiresAt.
      }
    },

    async createRun(run, orders) {
      const e = new Expr();
      const created = await sendConditional('PutItem', () =>
        doc.send(
          new PutCommand({
            TableName: table,
            Item: runItem(run),
            ConditionExpression: `attribute_not_exists(${e.name('pk')})`,
            ...e.params(),
          }),
        ),
      );
      if (created === undefined) return false;
      // The run goes first so that a repeated createRun is refused before it could overwrite orders that have
      // moved on; orders are unconditional puts in batches (BatchWriteItem takes no conditions).
      await batchWrite(orders.map((o) => orderItem(o, run.expiresAt)));
      return true;
    },

    async getRun(runId) {
      const item = await getItem(runPk(runId), 'RUN');
      return live(item) ? toRun(item) : undefined;
    },

    async listOrders(runId) {
      const e = new Expr();
      const items = await query(
        {
          KeyConditionExpression: `${e.name('pk')} = ${e.value(runPk(runId))} AND begins_with(${e.name('sk')}, ${e.value('ORDER#')})`,
          ConsistentRead: true,
          ...e.params(),
        },
        live,
      );
      return items.map(toOrder);
    },

    async getOrder(runId, orderId) {
      const item = await getItem(runPk(runId), orderSk(orderId));
      return live(item) ? toOrder(item) : undefined;
    },

    async getOrders(runId, orderIds) {
      // BatchGetItem refuses duplicate keys; answer in the order asked.
      const ids = [...new Set(orderIds)];
      if (ids.length === 0) return [];
      const items = await batchGet(ids.map((id) => ({ pk: runPk(runId), sk: orderSk(id) })));
      const byId = new Map(items.filter(live).map((item) => [item['id'] as string, toOrder(item)]));
      return ids.flatMap((id) => byId.get(id) ?? []);
    },

    async updateOrder(runId, orderId, expect, changes) {
      if (expect.states.length === 0) return undefined;
      const { set, remove } = splitChanges(changes, FIXED_ORDER_FIELDS);
      const state = changes.state;
      // Keep the sparse indexes in the same write as the state change.
      if (state !== undefined) {
        if (isActive(state)) Object.assign(set, activeIndexKeys(runId, orderId));
        else remove.push('activePk', 'activeSk');
      }
      // Whether the order is queued after the write: known from `changes.state`, or from `expect.states` when they
      // agree; unknown when they are mixed (then the record returned by the write decides, see repairWaitingIndex).
      const queuedAfter =
        state !== undefined
          ? state === 'queued'
          : expect.states.every((s) => s === 'queued')
            ? true
            : expect.states.includes('queued')
              ? undefined
              : false;
      let repair = false;
      if ('state' in changes || 'waitingSince' in changes) {
        const waitingSince = changes.waitingSince;
        if (queuedAfter === false || ('waitingSince' in changes && waitingSince === undefined)) {
          remove.push('waitPk', 'waitSk');
        } else if (waitingSince !== undefined) {
          Object.assign(set, waitingIndexKeys(runId, orderId, waitingSince));
          repair = queuedAfter === undefined;
        } else {
          repair = true; // queued now, waitingSince not given: the record after the write says whether it waits.
        }
      }
      const e = new Expr();
      const updateExpression =
        Object.keys(set).length + remove.length > 0
          ? e.update(set, [...new Set(remove)])
          : `SET ${e.name('state')} = ${e.name('state')}`;
      const conditions = [
        e.in('state', expect.states),
        `${e.name('expiresAt')} > ${e.value(now())}`,
        ...(expect.attempt !== undefined ? [`${e.name('attempt')} = ${e.value(expect.attempt)}`] : []),
      ];
      const out = await sendConditional('UpdateItem', () =>
        doc.send(
          new UpdateCommand({
            TableName: table,
            Key: { pk: runPk(runId), sk: orderSk(orderId) },
            UpdateExpression: updateExpression,
            ConditionExpression: conditions.join(' AND '),
            ReturnValues: 'ALL_NEW',
            ...e.params(),
          }),
        ),
      );
      if (out?.Attributes === undefined) return undefined;
      return toOrder(repair ? await repairWaitingIndex(out.Attributes) : out.Attributes);
    },

    async satisfyNeed(runId, orderId, needId) {
      const e = new Expr();
      const key = { pk: runPk(runId), sk: orderSk(orderId) };
      const doneNeeds = e.name('doneNeeds');
      const pendingNeeds = e.name('pendingNeeds');
      // One atomic UpdateItem: the string set remembers which needs were counted, so a duplicate delivery of the
      // same completion (two orchestrators, a redelivered callback) fails the condition instead of counting twice.
      const out = await sendConditional('UpdateItem', () =>
        doc.send(
          new UpdateCommand({
            TableName: table,
            Key: key,
            UpdateExpression: `ADD ${pendingNeeds} ${e.value(-1)}, ${doneNeeds} ${e.value(new Set([needId]))}`,
            ConditionExpression:
              `${e.name('expiresAt')} > ${e.value(now())} AND NOT contains(${doneNeeds}, ${e.value(needId)})` +
              ` AND ${pendingNeeds} > ${e.value(0)}`,
            ReturnValues: 'ALL_NEW',
            ...e.params(),
          }),
        ),
      );
      if (out?.Attributes !== undefined) return { order: toOrder(out.Attributes), applied: true };
      const item = await getItem(key.pk, key.sk);
      return live(item) ? { order: toOrder(item), applied: false } : undefined;
    },

    async updateRun(runId, expect, changes) {
      if (expect.statuses.length === 0) return undefined;
      const { set, remove } = splitChanges(changes, FIXED_RUN_FIELDS);
      if (changes.status !== undefined) set['statusPk'] = `STATUS#${changes.status}`;
      if (changes.expiresAt !== undefined) set['ttl'] = ttlOf(changes.expiresAt);
      const e = new Expr();
      const updateExpression =
        Object.keys(set).length + remove.length > 0
          ? e.update(set, remove)
          : `SET ${e.name('status')} = ${e.name('status')}`;
      const out = await sendConditional('UpdateItem', () =>
        doc.send(
          new UpdateCommand({
            TableName: table,
            Key: { pk: runPk(runId), sk: 'RUN' },
            UpdateExpression: updateExpression,
            ConditionExpression: `${e.in('status', expect.statuses)} AND ${e.name('expiresAt')} > ${e.value(now())}`,
            ReturnValues: 'ALL_NEW',
            ...e.params(),
          }),
        ),
      );
      return out?.Attributes === undefined ? undefined : toRun(out.Attributes);
    },

    async addCounter(key, delta, max) {
      const e = new Expr();
      const v = e.name('v');
      let condition: string | undefined;
      if (max !== undefined && delta > 0) {
        // A missing counter counts as 0, so it may be created only when delta itself fits under max.
        const bound = `${v} <= ${e.value(max - delta)}`;
        condition = max - delta >= 0 ? `attribute_not_exists(${v}) OR ${bound}` : bound;
      }
      const out = await sendConditional('UpdateItem', () =>
        doc.send(
          new UpdateCommand({
            TableName: table,
            Key: { pk: `COUNTER#${part(key)}`, sk: 'COUNTER' },
            UpdateExpression: `ADD ${v} ${e.value(delta)}`,
            ...(condition !== undefined ? { ConditionExpression: condition } : {}),
            ReturnValues: 'UPDATED_NEW',
            ...e.params(),
          }),
        ),
      );
      const value: unknown = out?.Attributes?.['v'];
      return typeof value === 'number' ? value : undefined;
    },

    async getCounter(key) {
      const item = await getItem(`COUNTER#${part(key)}`, 'COUNTER');
      const value = item?.['v'];
      return typeof value === 'number' ? value : 0;
    },

    async listRuns(q) {
      const limit = q.limit ?? DEFAULT_LIST_RUNS_LIMIT;
      if (limit <= 0) return [];
      const keep = (item: Item): boolean => live(item) && (q.status === undefined || item['status'] === q.status);
      // Index sort keys are `<createdAt>#<runId>`, newest first: the page after a run is every key below its own.
      const before = q.before === undefined ? undefined : `${timeKey(q.before.createdAt)}#${part(q.before.runId)}`;
      let items: Item[];
      if (q.concurrencyGroup !== undefined) {
        if (q.repo === undefined) {
          throw new StoreError('listRuns: concurrencyGroup needs repo', {
            retryable: false,
            context: { operation: 'listRuns', table },
          });
        }
        items = await queryIndex(
          'byGroup',
          `${repoKey(q.repo)}#GROUP#${part(q.concurrencyGroup)}`,
          true,
          keep,
          limit,
          before,
        );
      } else if (q.repo !== undefined) {
        items = await queryIndex('byRepo', repoKey(q.repo), true, keep, limit, before);
      } else {
        // Without a repository, the newest of each status partition merged: one query per status.
        const statuses: readonly RunStatus[] = q.status !== undefined ? [q.status] : RUN_STATUSES;
        const perStatus = await Promise.all(
          statuses.map((s) => queryIndex('byStatus', `STATUS#${s}`, true, keep, limit, before)),
        );
        items = perStatus.flat().sort((a, b) => String(b['createdSk']).localeCompare(String(a['createdSk'])));
      }
      return items.slice(0, limit).map(toRun);
    },

    async listActiveOrders() {
      const keep = (item: Item): boolean => live(item) && isActive(item['state'] as OrderState);
      const shards = await Promise.all(
        Array.from({ length: INDEX_SHARDS }, (_, i) => queryIndex('active', `ACTIVE#${String(i)}`, false, keep)),
      );
      return shards.flat().map(toOrder);
    },

    async listWaitingOrders(limit) {
      if (limit <= 0) return [];
      const keep = (item: Item): boolean =>
        live(item) && item['state'] === 'queued' && typeof item['waitingSince'] === 'number';
      const shards = await Promise.all(
        Array.from({ length: INDEX_SHARDS }, (_, i) =>
          queryIndex('waiting', `WAITING#${String(i)}`, false, keep, limit),
        ),
      );
      return shards
        .flat()
        .sort((a, b) => String(a['waitSk']).localeCompare(String(b['waitSk'])))
        .slice(0, limit)
        .map(toOrder);
    },

    async claim(key, expiresAt) {
      const e = new Expr();
      const pk = e.name('pk');
      const out = await sendConditional('PutItem', () =>
        doc.send(
          new PutCommand({
            TableName: table,
            Item: {
              pk: `CLAIM#${part(key)}`,
              sk: 'CLAIM',
              kind: 'claim',
              expiresAt,
              ttl: ttlOf(expiresAt),
              released: false,
            },
            ConditionExpression: `attribute_not_exists(${pk}) OR ${e.name('released')} = ${e.value(true)} OR ${e.name('expiresAt')} < ${e.value(now())}`,
            ...e.params(),
          }),
        ),
      );
      return out !== undefined;
    },

    async release(key) {
      const e = new Expr();
      // Conditional on existence so releasing an unknown key does not create an item.
      await sendConditional('UpdateItem', () =>
        doc.send(
          new UpdateCommand({
            TableName: table,
            Key: { pk: `CLAIM#${part(key)}`, sk: 'CLAIM' },
            UpdateExpression: `SET ${e.name('released')} = ${e.value(true)}`,
            ConditionExpression: `attribute_exists(${e.name('pk')})`,
            ...e.params(),
          }),
        ),
      );
    },

    async putDoc(kind, key, value, options) {
      const e = new Expr();
      const set: Item = {
        kind: 'doc',
        docKind: kind,
        docKey: key,
        value,
        expiresAt: options.expiresAt,
        ttl: ttlOf(options.expiresAt),
      };
      const remove: string[] = [];
      const due = dueOf(value);
      // The listing index is kept in the same write as the value that decides it, so it never lists a stale `due`.
      if (due !== undefined) Object.assign(set, docIndexKeys(kind, key, due));
      else remove.push('docsPk', 'docsSk');
      const version = e.name('version');
      const expiresAt = e.name('expiresAt');
      // An expired document counts as absent (reads filter it), so "must not exist" also takes an expired one. The
      // version keeps counting up across such a re-creation, so a writer holding the old version can never match.
      const condition =
        options.ifVersion === undefined
          ? `attribute_not_exists(${e.name('pk')}) OR ${expiresAt} <= ${e.value(now())}`
          : `${version} = ${e.value(options.ifVersion)} AND ${expiresAt} > ${e.value(now())}`;
      const out = await sendConditional('UpdateItem', () =>
        doc.send(
          new UpdateCommand({
            TableName: table,
            Key: { pk: docPk(kind, key), sk: 'DOC' },
            UpdateExpression: `${e.update(set, remove)} ADD ${version} ${e.value(1)}`,
            ConditionExpression: condition,
            ReturnValues: 'UPDATED_NEW',
            ...e.params(),
          }),
        ),
      );
      const written: unknown = out?.Attributes?.['version'];
      return typeof written === 'number' ? written : undefined;
    },

    async getDoc(kind, key) {
      const item = await getItem(docPk(kind, key), 'DOC');
      return live(item) ? toDoc(item) : undefined;
    },

    async deleteDoc(kind, key) {
      // Idempotent by nature: deleting a missing item succeeds, and nothing else depends on the old value.
      await send('DeleteItem', () =>
        doc.send(new DeleteCommand({ TableName: table, Key: { pk: docPk(kind, key), sk: 'DOC' } })),
      );
    },

    async listDocs(kind, q) {
      if (q.limit <= 0 || (q.dueBefore !== undefined && q.dueBefore < 0)) return [];
      const keep = (item: Item): boolean => live(item) && dueOf(item['value']) !== undefined;
      const shards = await Promise.all(
        Array.from({ length: INDEX_SHARDS }, (_, i) => {
          const e = new Expr();
          const pk = `${e.name('docsPk')} = ${e.value(`DOCS#${part(kind)}#${String(i)}`)}`;
          // docsSk starts with the zero-padded due, so `< timeKey(dueBefore + 1)` is exactly `due <= dueBefore`.
          const sk = q.dueBefore === undefined ? '' : ` AND ${e.name('docsSk')} < ${e.value(timeKey(q.dueBefore + 1))}`;
          return query(
            {
              IndexName: 'docs',
              KeyConditionExpression: pk + sk,
              Limit: Math.min(1000, q.limit),
              ...e.params(),
            },
            keep,
            q.limit,
          );
        }),
      );
      return shards
        .flat()
        .sort((a, b) => String(a['docsSk']).localeCompare(String(b['docsSk'])))
        .slice(0, q.limit)
        .map((item) => ({ key: item['docKey'] as string, ...toDoc(item) }));
    },
  };
  return store;
}

async function describeTable(client: DynamoDBClient, table: string): Promise<TableDescription | undefined> {
  try {
    const out = await client.send(new DescribeTableCommand({ TableName: table }));
    return out.Table;
  } catch (error) {
    if ((error as { name?: unknown }).name === 'ResourceNotFoundException') return undefined;
    throw toStoreError(error, 'DescribeTable', table);
  }
}

function tableDefinition(table: string) {
  const attributes = new Set<string>(['pk', 'sk', ...Object.values(INDEXES).flatMap((i) => [i.pk, i.sk])]);
  const indexes: GlobalSecondaryIndex[] = Object.entries(INDEXES).map(([name, i]) => ({
    IndexName: name,
    KeySchema: [
      { AttributeName: i.pk, KeyType: 'HASH' },
      { AttributeName: i.sk, KeyType: 'RANGE' },
    ],
    Projection: { ProjectionType: 'ALL' },
  }));
  return {
    TableName: table,
    BillingMode: 'PAY_PER_REQUEST' as const,
    AttributeDefinitions: [...attributes].map((name) => ({ AttributeName: name, AttributeType: 'S' as const })),
    KeySchema: [
      { AttributeName: 'pk', KeyType: 'HASH' as const },
      { AttributeName: 'sk', KeyType: 'RANGE' as const },
    ],
    GlobalSecondaryIndexes: indexes,
  };
}
