import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { Expr } from './expr.ts';
import { counterKey } from './item-keys.ts';
import type { Store } from './store.ts';
import type { StoreTable } from './store-table.ts';

export type CounterOperations = Pick<Store, 'addCounter' | 'getCounter'>;

/** Named counters (capacity slots): one atomic ADD each, bounded by a condition. */
export function counterOperations(t: StoreTable): CounterOperations {
  return {
    async addCounter(key, delta, max) {
      const e = new Expr();
      const v = e.name('v');
      let condition: string | undefined;
      if (max !== undefined && delta > 0) {
        // A missing counter counts as 0, so it may be created only when delta itself fits under max.
        const bound = `${v} <= ${e.value(max - delta)}`;
        condition = max - delta >= 0 ? `attribute_not_exists(${v}) OR ${bound}` : bound;
      }
      const out = await t.sendConditional('UpdateItem', () =>
        t.doc.send(
          new UpdateCommand({
            TableName: t.name,
            Key: counterKey(key),
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
      const item = await t.getItem(counterKey(key));
      const value = item?.['v'];
      return typeof value === 'number' ? value : 0;
    },
  };
}
