import type { OrderRecord, OrderState, RunRecord } from '../core/types.ts';
import type { DocValue, StoredDoc } from './store.ts';
import { activeIndexKeys, orderSk, RUN_SK, runIndexKeys, runPk, waitingIndexKeys } from './item-keys.ts';
import { KEY_ATTRIBUTES, TTL_ATTRIBUTE } from './table-schema.ts';

/** An item as the document client reads and writes it. */
export type Item = Record<string, unknown>;

/** The order states the `active` index holds (the watchdog's). */
export const ACTIVE_STATES = ['dispatching', 'running', 'interrupted'] as const satisfies readonly OrderState[];
export const isActive = (state: OrderState): boolean => (ACTIVE_STATES as readonly string[]).includes(state);

/** Attributes that exist for the table's sake and are not part of the records. */
const INTERNAL_ATTRIBUTES: readonly string[] = ['kind', TTL_ATTRIBUTE, 'doneNeeds', ...KEY_ATTRIBUTES];

/** Identity and index-defining fields: fixed at creation, skipped by updates. */
export const FIXED_RUN_FIELDS: ReadonlySet<string> = new Set(['runId', 'repo', 'createdAt', 'concurrencyGroup']);
export const FIXED_ORDER_FIELDS: ReadonlySet<string> = new Set(['runId', 'id']);

/** DynamoDB TTL takes epoch seconds; rounding up never deletes an item before its `expiresAt`. */
export const ttlOf = (expiresAt: number): number => Math.ceil(expiresAt / 1000);

/** The numeric `due` of a document value (what puts it in the `docs` index), if it has one. */
export function dueOf(value: unknown): number | undefined {
  const due = typeof value === 'object' && value !== null ? (value as Item)['due'] : undefined;
  return typeof due === 'number' && Number.isFinite(due) ? due : undefined;
}

function strip(item: Item, extra: readonly string[] = []): Item {
  const out: Item = { ...item };
  for (const k of INTERNAL_ATTRIBUTES) delete out[k];
  for (const k of extra) delete out[k];
  return out;
}

export const toRun = (item: Item): RunRecord => strip(item) as unknown as RunRecord;
/** Orders carry their run's `expiresAt` for read filtering; it is not part of OrderRecord. */
export const toOrder = (item: Item): OrderRecord => strip(item, ['expiresAt']) as unknown as OrderRecord;
export const toDoc = (item: Item): StoredDoc => ({
  value: item['value'] as DocValue,
  version: item['version'] as number,
});

export function runItem(run: RunRecord): Item {
  return {
    ...run,
    ...runIndexKeys(run),
    pk: runPk(run.runId),
    sk: RUN_SK,
    kind: 'run',
    [TTL_ATTRIBUTE]: ttlOf(run.expiresAt),
  };
}

/** An order as written at run creation, in the sparse indexes its state puts it in. */
export function orderItem(order: OrderRecord, expiresAt: number): Item {
  const item: Item = {
    ...order,
    pk: runPk(order.runId),
    sk: orderSk(order.id),
    kind: 'order',
    expiresAt,
    [TTL_ATTRIBUTE]: ttlOf(expiresAt),
  };
  if (isActive(order.state)) Object.assign(item, activeIndexKeys(order.runId, order.id));
  if (order.state === 'queued' && order.waitingSince !== undefined) {
    Object.assign(item, waitingIndexKeys(order.runId, order.id, order.waitingSince));
  }
  return item;
}

/** Splits changes into SET and REMOVE (a key present with `undefined` means remove), skipping fixed fields. */
export function splitChanges(changes: object, fixed: ReadonlySet<string>): { set: Item; remove: string[] } {
  const set: Item = {};
  const remove: string[] = [];
  for (const [k, v] of Object.entries(changes) as [string, unknown][]) {
    if (fixed.has(k)) continue;
    if (v === undefined) remove.push(k);
    else set[k] = v;
  }
  return { set, remove };
}
