import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  BatchWriteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  ScanCommand,
  type QueryCommandInput,
  type ScanCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { setTimeout as sleep } from 'node:timers/promises';
import { StoreError } from '../errors.ts';
import { classifyAwsError, toStoreError } from './aws-error.ts';
import { Expr } from './expr.ts';
import type { Item } from './item-mapping.ts';
import { STORE_INDEXES, type StoreIndexName } from './table-schema.ts';

/** DynamoDB limits: BatchWriteItem takes 25 requests, BatchGetItem 100 keys (API reference). */
const BATCH_WRITE_MAX = 25;
const BATCH_GET_MAX = 100;
const BATCH_RETRY_ATTEMPTS = 10;

/** Exponential backoff with full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"). */
const backoffMs = (attempt: number): number => Math.random() * Math.min(2_000, 25 * 2 ** attempt);

/**
 * The context every store operation shares: the document client, the table name and the clock, with the reads and
 * batch writes they have in common. Every error leaves here as a StoreError; a failed condition as `undefined`.
 */
export class StoreTable {
  readonly doc: DynamoDBDocumentClient;

  constructor(
    readonly client: DynamoDBClient,
    readonly name: string,
    /** Epoch ms. */
    readonly now: () => number,
  ) {
    this.doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  }

  /** Sends; converts every error to a StoreError. */
  async send<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      throw toStoreError(error, operation, this.name);
    }
  }

  /** Sends a conditional write; a failed condition is `undefined`, an expected outcome. */
  async sendConditional<T>(operation: string, fn: () => Promise<T>): Promise<T | undefined> {
    try {
      return await fn();
    } catch (error) {
      if (classifyAwsError(error) === 'condition-failed') return undefined;
      throw toStoreError(error, operation, this.name);
    }
  }

  /** Every read filters expired records: correctness never relies on TTL deletion. */
  readonly live = (item: Item | undefined): item is Item =>
    item !== undefined && typeof item['expiresAt'] === 'number' && item['expiresAt'] > this.now();

  async getItem(key: { readonly pk: string; readonly sk: string }): Promise<Item | undefined> {
    const out = await this.send('GetItem', () =>
      this.doc.send(new GetCommand({ TableName: this.name, Key: { pk: key.pk, sk: key.sk }, ConsistentRead: true })),
    );
    return out.Item;
  }

  /**
   * Pages through a query until `limit` items passed `keep` or the query is exhausted. DynamoDB applies `Limit`
   * before any filter, so filtering here and paging is the same work a FilterExpression would do.
   */
  async query(
    input: Omit<QueryCommandInput, 'TableName' | 'ExclusiveStartKey'>,
    keep: (item: Item) => boolean,
    limit = Infinity,
  ): Promise<Item[]> {
    return this.#pages(
      (start) =>
        this.send('Query', () =>
          this.doc.send(
            new QueryCommand({ ...input, TableName: this.name, ...(start ? { ExclusiveStartKey: start } : {}) }),
          ),
        ),
      keep,
      limit,
    );
  }

  /**
   * Pages through the whole table (not an index) until `limit` items passed `keep`: for sweeps that must see what
   * an index lost, never for a request's read.
   */
  async scan(
    input: Omit<ScanCommandInput, 'TableName' | 'ExclusiveStartKey'>,
    keep: (item: Item) => boolean,
    limit = Infinity,
  ): Promise<Item[]> {
    return this.#pages(
      (start) =>
        this.send('Scan', () =>
          this.doc.send(
            new ScanCommand({ ...input, TableName: this.name, ...(start ? { ExclusiveStartKey: start } : {}) }),
          ),
        ),
      keep,
      limit,
    );
  }

  /** Follows `LastEvaluatedKey` from page to page, keeping what passes `keep`, until `limit` items or the end. */
  async #pages(
    page: (start: Item | undefined) => Promise<{ Items?: Item[] | undefined; LastEvaluatedKey?: Item | undefined }>,
    keep: (item: Item) => boolean,
    limit: number,
  ): Promise<Item[]> {
    const items: Item[] = [];
    let start: Item | undefined;
    do {
      const out = await page(start);
      for (const item of out.Items ?? []) {
        if (keep(item)) items.push(item);
        if (items.length >= limit) return items;
      }
      start = out.LastEvaluatedKey;
    } while (start !== undefined);
    return items;
  }

  /** One partition of an index, newest or oldest first, optionally only sort keys below `skBefore`. */
  queryIndex(
    index: StoreIndexName,
    pkValue: string,
    newestFirst: boolean,
    keep: (item: Item) => boolean,
    limit = Infinity,
    skBefore?: string,
  ): Promise<Item[]> {
    const e = new Expr();
    const keyCondition =
      `${e.name(STORE_INDEXES[index].pk)} = ${e.value(pkValue)}` +
      (skBefore === undefined ? '' : ` AND ${e.name(STORE_INDEXES[index].sk)} < ${e.value(skBefore)}`);
    return this.query(
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

  async batchWrite(items: readonly Item[]): Promise<void> {
    const table = this.name;
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
        const out = await this.send('BatchWriteItem', () =>
          this.doc.send(new BatchWriteCommand({ RequestItems: { [table]: batch } })),
        );
        requests = (out.UnprocessedItems?.[table] ?? []).flatMap((r) =>
          r.PutRequest?.Item ? [{ PutRequest: { Item: r.PutRequest.Item } }] : [],
        );
      }
    }
  }

  async batchGet(keys: readonly Item[]): Promise<Item[]> {
    const table = this.name;
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
        const out = await this.send('BatchGetItem', () =>
          this.doc.send(new BatchGetCommand({ RequestItems: { [table]: { Keys: batch, ConsistentRead: true } } })),
        );
        found.push(...(out.Responses?.[table] ?? []));
        pending = out.UnprocessedKeys?.[table]?.Keys ?? [];
      }
    }
    return found;
  }
}
