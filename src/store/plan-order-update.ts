import type { OrderRecord, OrderState } from '../core/types.ts';
import { activeIndexKeys, waitingIndexKeys } from './item-keys.ts';
import { FIXED_ORDER_FIELDS, isActive, splitChanges, type Item } from './item-mapping.ts';
import type { RecordChanges } from './store.ts';

export interface OrderUpdatePlan {
  /** Attributes to SET, the sparse index keys included. */
  readonly set: Item;
  /** Attributes to REMOVE, without duplicates. */
  readonly remove: readonly string[];
  /**
   * The waiting index cannot be decided before the write (the resulting state or waitingSince is only known from
   * the record it returns): the caller brings the index in line afterwards.
   */
  readonly repair: boolean;
}

/**
 * What an updateOrder writes: the changes, plus the sparse `active` and `waiting` index keys set or removed in the
 * same UpdateItem as the state that decides them, so an index never disagrees with the state it was written with.
 */
export function planOrderUpdate(
  runId: string,
  orderId: string,
  expect: { readonly states: readonly OrderState[] },
  changes: RecordChanges<OrderRecord>,
): OrderUpdatePlan {
  const { set, remove } = splitChanges(changes, FIXED_ORDER_FIELDS);
  const state = changes.state;
  if (state !== undefined) {
    if (isActive(state)) Object.assign(set, activeIndexKeys(runId, orderId));
    else remove.push('activePk', 'activeSk');
  }
  // Whether the order is queued after the write: known from `changes.state`, or from `expect.states` when they
  // agree; unknown when they are mixed (then the record returned by the write decides).
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
  return { set, remove: [...new Set(remove)], repair };
}
