/**
 * The DynamoDB store's pure parts: keys and shards, items <-> records, the update plan that keeps the sparse order
 * indexes in the same write as the state, the expression builder and the table's shape. The store's behaviour on
 * a real engine is in test/integration/store*.test.ts.
 */
import { describe, expect, it } from 'vitest';
import type { OrderRecord, OrderState } from '../../src/core/types.ts';
import { Expr } from '../../src/store/expr.ts';
import {
  activeIndexKeys,
  docIndexKeys,
  INDEX_SHARDS,
  orderSk,
  repoKey,
  runIndexKeys,
  runPk,
  shardOf,
  timeKey,
  waitingIndexKeys,
} from '../../src/store/item-keys.ts';
import { dueOf, orderItem, runItem, splitChanges, toOrder, toRun, ttlOf } from '../../src/store/item-mapping.ts';
import { planOrderUpdate } from '../../src/store/plan-order-update.ts';
import type { RecordChanges } from '../../src/store/store.ts';
import { KEY_ATTRIBUTES, STORE_INDEXES, tableDefinition } from '../../src/store/table-schema.ts';
import { makeOrder, makeRun, T0 } from '../helpers/records.ts';

const REPO = { forge: 'github', host: 'github.com', owner: 'octo', name: 'app' } as const;

describe('keys', () => {
  it('encodes every caller-given part, so a # inside an id cannot forge another key', () => {
    expect(runPk('a#b')).toBe('RUN#a%23b');
    expect(orderSk('x#y')).toBe('ORDER#x%23y');
    expect(activeIndexKeys('a#b', 'c').activeSk).not.toBe(activeIndexKeys('a', 'b#c').activeSk);
  });

  it('keys a repository case-insensitively by forge, host, owner and name', () => {
    expect(repoKey({ ...REPO, host: 'GitHub.com', owner: 'Octo', name: 'App' })).toBe(repoKey(REPO));
    expect(repoKey({ ...REPO, forge: 'gitea' })).not.toBe(repoKey(REPO));
    expect(repoKey(REPO)).toBe('REPO#github#github.com#octo#app');
  });

  it('time keys sort as strings in numeric order, and clamp below zero', () => {
    const times = [0, 9, 10, 1_000, T0, T0 + 1, 99_999_999_999_999];
    const keys = times.map(timeKey);
    expect([...keys].sort()).toEqual(keys);
    expect(timeKey(-5)).toBe(timeKey(0));
    expect(timeKey(1.9)).toBe(timeKey(1));
  });

  it('spreads keys over every shard, stably', () => {
    const shards = Array.from({ length: 200 }, (_, i) => shardOf(`run-${String(i)}/o.1`));
    expect(new Set(shards)).toEqual(new Set(Array.from({ length: INDEX_SHARDS }, (_, i) => i)));
    expect(shardOf('run-1/o.1')).toBe(shards[1]);
  });

  it('puts the waiting and docs sort keys in time order first', () => {
    expect(waitingIndexKeys('r', 'o', 5).waitSk).toBe(`${timeKey(5)}#r#o`);
    expect(docIndexKeys('intent', 'k', 7)).toEqual({
      docsPk: `DOCS#intent#${String(shardOf('k'))}`,
      docsSk: `${timeKey(7)}#k`,
    });
  });

  it('gives a run a group key only when it has a concurrency group', () => {
    const run = makeRun({ runId: 'r1', createdAt: T0 });
    expect(runIndexKeys(run)).not.toHaveProperty('groupPk');
    expect(runIndexKeys({ ...run, concurrencyGroup: 'ci' }).groupPk).toBe(`${repoKey(run.repo)}#GROUP#ci`);
  });
});

describe('items <-> records', () => {
  it('a run round-trips through its item; the item has its keys and TTL in epoch seconds', () => {
    const run = makeRun({ runId: 'r1', expiresAt: T0 + 1 });
    const item = runItem(run);
    expect(item).toMatchObject({ pk: 'RUN#r1', sk: 'RUN', kind: 'run', ttl: ttlOf(T0 + 1) });
    expect(ttlOf(1_001)).toBe(2);
    expect(toRun(item)).toEqual(run);
  });

  it.each<[OrderState, number | undefined, boolean, boolean]>([
    ['queued', undefined, false, false],
    ['queued', T0, false, true],
    ['dispatching', undefined, true, false],
    ['running', T0, true, false],
    ['interrupted', undefined, true, false],
    ['succeeded', undefined, false, false],
  ])('an order %s (waitingSince %s) is active: %s, waiting: %s', (state, waitingSince, active, waiting) => {
    const order = makeOrder('o.1', { runId: 'r1', state, ...(waitingSince !== undefined ? { waitingSince } : {}) });
    const item = orderItem(order, T0 + 1);
    expect('activePk' in item).toBe(active);
    expect('waitPk' in item).toBe(waiting);
    // The run's expiresAt is on the item for read filtering, not on the record.
    expect(item['expiresAt']).toBe(T0 + 1);
    expect(toOrder({ ...item, doneNeeds: new Set(['a']) })).toEqual(order);
  });

  it('splits changes into SET and REMOVE and skips fixed fields', () => {
    expect(splitChanges({ id: 'x', state: 'running', reason: undefined }, new Set(['id']))).toEqual({
      set: { state: 'running' },
      remove: ['reason'],
    });
  });

  it('a document is listable only with a finite numeric due', () => {
    expect(dueOf({ due: 5 })).toBe(5);
    expect(dueOf({ due: '5' })).toBeUndefined();
    expect(dueOf({ due: Infinity })).toBeUndefined();
    expect(dueOf(null)).toBeUndefined();
  });
});

describe('planOrderUpdate', () => {
  const active = activeIndexKeys('r', 'o');
  const waiting = waitingIndexKeys('r', 'o', T0);
  const ACTIVE = ['activePk', 'activeSk'];
  const WAITING = ['waitPk', 'waitSk'];

  it.each<[string, readonly OrderState[], RecordChanges<OrderRecord>, object, readonly string[], boolean]>([
    [
      'to an active state: into active, out of waiting',
      ['queued'],
      { state: 'running' },
      { state: 'running', ...active },
      WAITING,
      false,
    ],
    [
      'to a final state: out of both',
      ['running'],
      { state: 'failed' },
      { state: 'failed' },
      [...ACTIVE, ...WAITING],
      false,
    ],
    [
      'queued, waitingSince set: into waiting',
      ['queued'],
      { waitingSince: T0 },
      { waitingSince: T0, ...waiting },
      [],
      false,
    ],
    [
      'waitingSince removed: out of waiting',
      ['queued'],
      { waitingSince: undefined },
      {},
      ['waitingSince', ...WAITING],
      false,
    ],
    [
      'back to queued, no waitingSince: the record decides',
      ['dispatching'],
      { state: 'queued' },
      { state: 'queued' },
      ACTIVE,
      true,
    ],
    [
      'waitingSince under mixed states: set, then checked',
      ['queued', 'running'],
      { waitingSince: T0 },
      { waitingSince: T0, ...waiting },
      [],
      true,
    ],
    [
      'waitingSince on a state that is not queued: out of waiting',
      ['running'],
      { waitingSince: T0 },
      { waitingSince: T0 },
      WAITING,
      false,
    ],
    ['neither state nor waitingSince: indexes untouched', ['running'], { attempt: 2 }, { attempt: 2 }, [], false],
  ])('%s', (_, states, changes, set, remove, repair) => {
    expect(planOrderUpdate('r', 'o', { states }, changes)).toEqual({ set, remove, repair });
  });

  it('never writes identity fields', () => {
    const plan = planOrderUpdate('r', 'o', { states: ['running'] }, { id: 'x', runId: 'y', state: 'failed' });
    expect(plan.set).toEqual({ state: 'failed' });
  });
});

describe('Expr', () => {
  it('names each attribute once, values each use, and omits values when there are none', () => {
    const e = new Expr();
    expect(e.update({ a: 1, b: 2 }, ['c'])).toBe('SET #n0 = :v0, #n1 = :v1 REMOVE #n2');
    expect(e.in('a', ['x', 'y'])).toBe('#n0 IN (:v2, :v3)');
    expect(e.params()).toEqual({
      ExpressionAttributeNames: { '#n0': 'a', '#n1': 'b', '#n2': 'c' },
      ExpressionAttributeValues: { ':v0': 1, ':v1': 2, ':v2': 'x', ':v3': 'y' },
    });
    const names = new Expr();
    expect(names.update({}, ['a'])).toBe('REMOVE #n0');
    expect(names.params()).toEqual({ ExpressionAttributeNames: { '#n0': 'a' } });
  });
});

describe('table schema', () => {
  it('defines every index key and the table key as string attributes, each once', () => {
    const def = tableDefinition('t');
    const names = def.AttributeDefinitions.map((a) => a.AttributeName);
    expect(new Set(names).size).toBe(names.length);
    expect([...names].sort()).toEqual([...KEY_ATTRIBUTES].sort());
    expect(names).toEqual(expect.arrayContaining(['pk', 'sk', 'repoPk', 'createdSk', 'docsSk']));
    expect(def.GlobalSecondaryIndexes.map((i) => i.IndexName)).toEqual(Object.keys(STORE_INDEXES));
  });
});
