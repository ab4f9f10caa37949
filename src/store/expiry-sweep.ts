/**
 * DynamoDB deletes items whose `ttl` (epoch seconds) has passed; dynalite has no TTL, so the embedded store grows
 * without bound unless something else deletes them. This does what DynamoDB's TTL does, for the embedded engine
 * only: scan for items past their `ttl` and delete each, on the condition that it is still past (a writer that
 * renewed an item in between keeps it). Reads already filter expired items, so this is cleanup, never correctness.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeleteCommand } from '@aws-sdk/lib-dynamodb';
import { Expr } from './expr.ts';
import { StoreTable } from './store-table.ts';
import { TTL_ATTRIBUTE } from './table-schema.ts';

export interface ExpiredItems {
  readonly deleted: number;
  /** The runs among them, whose log files go too. */
  readonly runIds: readonly string[];
}

/** Deletes up to `limit` items whose `ttl` is before `now` (epoch ms). */
export async function deleteExpiredItems(
  opts: { readonly client: DynamoDBClient; readonly table: string },
  now: number,
  limit = 5_000,
): Promise<ExpiredItems> {
  const t = new StoreTable(opts.client, opts.table, () => now);
  // ttl is expiresAt rounded up to a second: a ttl before this second's start is an expiresAt before now.
  const cutoff = Math.floor(now / 1000);
  const e = new Expr();
  const past = `${e.name(TTL_ATTRIBUTE)} < ${e.value(cutoff)}`;
  const items = await t.scan({ FilterExpression: past, ...e.params() }, () => true, limit);
  let deleted = 0;
  const runIds: string[] = [];
  for (const item of items) {
    const out = await t.sendConditional('DeleteItem', () =>
      t.doc.send(
        new DeleteCommand({
          TableName: opts.table,
          Key: { pk: item['pk'], sk: item['sk'] },
          ConditionExpression: past,
          ...e.params(),
        }),
      ),
    );
    if (out === undefined) continue;
    deleted++;
    if (item['kind'] === 'run' && typeof item['runId'] === 'string') runIds.push(item['runId']);
  }
  return { deleted, runIds };
}
