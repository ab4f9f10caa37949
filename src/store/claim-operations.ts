import { PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { Expr } from './expr.ts';
import { claimKey } from './item-keys.ts';
import { ttlOf } from './item-mapping.ts';
import type { Store } from './store.ts';
import type { StoreTable } from './store-table.ts';
import { TTL_ATTRIBUTE } from './table-schema.ts';

export type ClaimOperations = Pick<Store, 'claim' | 'release' | 'isClaimed'>;

/** Claims taken once (webhook deliveries, bootstrap tokens): a conditional put, released by a flag. */
export function claimOperations(t: StoreTable): ClaimOperations {
  return {
    async claim(key, expiresAt) {
      const e = new Expr();
      const pk = e.name('pk');
      const out = await t.sendConditional('PutItem', () =>
        t.doc.send(
          new PutCommand({
            TableName: t.name,
            Item: { ...claimKey(key), kind: 'claim', expiresAt, [TTL_ATTRIBUTE]: ttlOf(expiresAt), released: false },
            ConditionExpression: `attribute_not_exists(${pk}) OR ${e.name('released')} = ${e.value(true)} OR ${e.name('expiresAt')} < ${e.value(t.now())}`,
            ...e.params(),
          }),
        ),
      );
      return out !== undefined;
    },

    async release(key) {
      const e = new Expr();
      // Conditional on existence so releasing an unknown key does not create an item.
      await t.sendConditional('UpdateItem', () =>
        t.doc.send(
          new UpdateCommand({
            TableName: t.name,
            Key: claimKey(key),
            UpdateExpression: `SET ${e.name('released')} = ${e.value(true)}`,
            ConditionExpression: `attribute_exists(${e.name('pk')})`,
            ...e.params(),
          }),
        ),
      );
    },

    async isClaimed(key) {
      const item = await t.getItem(claimKey(key));
      return t.live(item) && item['released'] !== true;
    },
  };
}
