import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { claimOperations } from './claim-operations.ts';
import { counterOperations } from './counter-operations.ts';
import { docOperations } from './doc-operations.ts';
import { ensureTable } from './ensure-table.ts';
import { orderOperations } from './order-operations.ts';
import { runOperations } from './run-operations.ts';
import type { Store } from './store.ts';
import { StoreTable } from './store-table.ts';

/**
 * The Store on DynamoDB, single-table: the table's shape is in table-schema.ts, the items and their keys in
 * item-keys.ts and item-mapping.ts, the operations by aggregate in `*-operations.ts` over one StoreTable.
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
  /** Creates the table (on-demand billing, the indexes of table-schema.ts) if missing and waits until it is ACTIVE. */
  ensureTable(): Promise<void>;
};

export function createDynamoStore(opts: DynamoStoreOptions): DynamoStore {
  const t = new StoreTable(opts.client, opts.table, opts.now ?? Date.now);
  return {
    ensureTable: () => ensureTable(opts.client, opts.table),
    ...runOperations(t),
    ...orderOperations(t),
    ...counterOperations(t),
    ...claimOperations(t),
    ...docOperations(t),
  };
}
