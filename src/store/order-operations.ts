import { PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { OrderState } from '../core/types.ts';
import { Expr } from './expr.ts';
import { activePk, INDEX_SHARDS, ORDER_SK_PREFIX, orderSk, runPk, waitingIndexKeys, waitingPk } from './item-keys.ts';
import { isActive, orderItem, toOrder, type Item } from './item-mapping.ts';
import { planOrderUpdate } from './plan-order-update.ts';
import type { Store } from './store.ts';
import type { StoreTable } from './store-table.ts';

export type OrderOperations = Pick<
  Store,
  | 'listOrders'
  | 'getOrder'
  | 'getOrders'
  | 'updateOrder'
  | 'satisfyNeed'
  | 'addOrders'
  | 'listActiveOrders'
  | 'listWaitingOrders'
>;

/** The order aggregate: orders of a run, their state changes and the two sparse order indexes. */
export function orderOperations(t: StoreTable): OrderOperations {
  return {
    async listOrders(runId) {
      const e = new Expr();
      const items = await t.query(
        {
          KeyConditionExpression: `${e.name('pk')} = ${e.value(runPk(runId))} AND begins_with(${e.name('sk')}, ${e.value(ORDER_SK_PREFIX)})`,
          ConsistentRead: true,
          ...e.params(),
        },
        t.live,
      );
      return items.map(toOrder);
    },

    async getOrder(runId, orderId) {
      const item = await t.getItem({ pk: runPk(runId), sk: orderSk(orderId) });
      return t.live(item) ? toOrder(item) : undefined;
    },

    async getOrders(runId, orderIds) {
      // BatchGetItem refuses duplicate keys; answer in the order asked.
      const ids = [...new Set(orderIds)];
      if (ids.length === 0) return [];
      const items = await t.batchGet(ids.map((id) => ({ pk: runPk(runId), sk: orderSk(id) })));
      const byId = new Map(items.filter(t.live).map((item) => [item['id'] as string, toOrder(item)]));
      return ids.flatMap((id) => byId.get(id) ?? []);
    },

    async updateOrder(runId, orderId, expect, changes) {
      if (expect.states.length === 0) return undefined;
      const { set, remove, repair } = planOrderUpdate(runId, orderId, expect, changes);
      const e = new Expr();
      const updateExpression =
        Object.keys(set).length + remove.length > 0
          ? e.update(set, remove)
          : `SET ${e.name('state')} = ${e.name('state')}`;
      const conditions = [
        e.in('state', expect.states),
        `${e.name('expiresAt')} > ${e.value(t.now())}`,
        ...(expect.attempt !== undefined ? [`${e.name('attempt')} = ${e.value(expect.attempt)}`] : []),
      ];
      const out = await t.sendConditional('UpdateItem', () =>
        t.doc.send(
          new UpdateCommand({
            TableName: t.name,
            Key: { pk: runPk(runId), sk: orderSk(orderId) },
            UpdateExpression: updateExpression,
            ConditionExpression: conditions.join(' AND '),
            ReturnValues: 'ALL_NEW',
            ...e.params(),
          }),
        ),
      );
      if (out?.Attributes === undefined) return undefined;
      return toOrder(repair ? await repairWaitingIndex(t, out.Attributes) : out.Attributes);
    },

    async addOrders(run, orders) {
      await Promise.all(
        orders.map((order) => {
          const e = new Expr();
          return t.sendConditional('PutItem', () =>
            t.doc.send(
              new PutCommand({
                TableName: t.name,
                Item: orderItem(order, run.expiresAt),
                ConditionExpression: `attribute_not_exists(${e.name('pk')})`,
                ...e.params(),
              }),
            ),
          );
        }),
      );
    },

    async satisfyNeed(runId, orderId, needId) {
      const e = new Expr();
      const key = { pk: runPk(runId), sk: orderSk(orderId) };
      const doneNeeds = e.name('doneNeeds');
      const pendingNeeds = e.name('pendingNeeds');
      // One atomic UpdateItem: the string set remembers which needs were counted, so a duplicate delivery of the
      // same completion (two orchestrators, a redelivered callback) fails the condition instead of counting twice.
      const out = await t.sendConditional('UpdateItem', () =>
        t.doc.send(
          new UpdateCommand({
            TableName: t.name,
            Key: key,
            UpdateExpression: `ADD ${pendingNeeds} ${e.value(-1)}, ${doneNeeds} ${e.value(new Set([needId]))}`,
            ConditionExpression:
              `${e.name('expiresAt')} > ${e.value(t.now())} AND NOT contains(${doneNeeds}, ${e.value(needId)})` +
              ` AND ${pendingNeeds} > ${e.value(0)}`,
            ReturnValues: 'ALL_NEW',
            ...e.params(),
          }),
        ),
      );
      if (out?.Attributes !== undefined) return { order: toOrder(out.Attributes), applied: true };
      const item = await t.getItem(key);
      return t.live(item) ? { order: toOrder(item), applied: false } : undefined;
    },

    async listActiveOrders() {
      const keep = (item: Item): boolean => t.live(item) && isActive(item['state'] as OrderState);
      const shards = await Promise.all(
        Array.from({ length: INDEX_SHARDS }, (_, i) => t.queryIndex('active', activePk(i), false, keep)),
      );
      return shards.flat().map(toOrder);
    },

    async listWaitingOrders(limit) {
      if (limit <= 0) return [];
      const keep = (item: Item): boolean =>
        t.live(item) && item['state'] === 'queued' && typeof item['waitingSince'] === 'number';
      const shards = await Promise.all(
        Array.from({ length: INDEX_SHARDS }, (_, i) => t.queryIndex('waiting', waitingPk(i), false, keep, limit)),
      );
      return shards
        .flat()
        .sort((a, b) => String(a['waitSk']).localeCompare(String(b['waitSk'])))
        .slice(0, limit)
        .map(toOrder);
    },
  };
}

/**
 * Brings the waiting index in line with the record after a write whose resulting state or waitingSince the store
 * could not know in advance (e.g. `waitingSince` set while `expect.states` allowed both queued and other states).
 * Conditional on the record being unchanged; if it changed, the write that changed it set the index.
 */
async function repairWaitingIndex(t: StoreTable, item: Item): Promise<Item> {
  const order = toOrder(item);
  const want =
    order.state === 'queued' && order.waitingSince !== undefined
      ? waitingIndexKeys(order.runId, order.id, order.waitingSince)
      : undefined;
  if (item['waitPk'] === want?.waitPk && item['waitSk'] === want?.waitSk) return item;
  const e = new Expr();
  const updateExpression = want ? e.update(want, []) : e.update({}, ['waitPk', 'waitSk']);
  const condition =
    `${e.name('state')} = ${e.value(order.state)} AND ` +
    (order.waitingSince === undefined
      ? `attribute_not_exists(${e.name('waitingSince')})`
      : `${e.name('waitingSince')} = ${e.value(order.waitingSince)}`);
  const out = await t.sendConditional('UpdateItem', () =>
    t.doc.send(
      new UpdateCommand({
        TableName: t.name,
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
