import { DescribeTimeToLiveCommand } from '@aws-sdk/client-dynamodb';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OrderRecord, RepoRef } from '../../src/core/types.ts';
import { StoreError } from '../../src/errors.ts';
import { classifyAwsError } from '../../src/store/aws-error.ts';
import { createDynamoStore } from '../../src/store/dynamodb.ts';
import { startEmbeddedStore } from '../../src/store/embedded.ts';
import { repoKey } from '../../src/store/item-keys.ts';
import { countRequests } from '../../src/store/request-counter.ts';
import type { Store } from '../../src/store/store.ts';
import { TTL_ATTRIBUTE } from '../../src/store/table-schema.ts';
import { createIsolatedStore, makeFlatRun, makeOrder, makeRun, REPO, T0 } from '../helpers/dynalite.ts';
import { describeEachEngine, startTestEngine, type TestEngine } from '../helpers/engines.ts';

describeEachEngine((engine) => {
  let embedded: TestEngine;
  let store: Store;
  let runSeq = 0;
  /** Each test works on its own run ids, so tests share the engine without seeing each other's records. */
  const newRunId = (): string => `run-${String(++runSeq)}`;

  beforeAll(async () => {
    embedded = await startTestEngine(engine);
    store = embedded.store;
  });

  afterAll(async () => {
    await embedded.close();
  });

  describe('runs', () => {
    it('createRun writes the run and its orders once; a second call is a no-op returning false', async () => {
      const runId = newRunId();
      const { run, orders } = makeFlatRun(runId, 3);
      expect(await store.createRun(run, orders)).toBe(true);
      expect(await store.getRun(runId)).toEqual(run);
      expect(await store.getOrder(runId, 'o.2')).toEqual(orders[1]);

      const changed = { ...run, actor: 'someone-else' };
      expect(await store.createRun(changed, [makeOrder(runId, 'o.1', { state: 'failed' })])).toBe(false);
      expect((await store.getRun(runId))?.actor).toBe('octocat');
      expect((await store.getOrder(runId, 'o.1'))?.state).toBe('queued');
    });

    it('getRun of an unknown id is undefined', async () => {
      expect(await store.getRun('no-such-run')).toBeUndefined();
    });

    it('updateRun applies changes only from an expected status, and removes fields set to undefined', async () => {
      const runId = newRunId();
      await store.createRun(makeRun(runId, { reason: 'placeholder' }), []);

      expect(await store.updateRun(runId, { statuses: ['succeeded'] }, { status: 'failed' })).toBeUndefined();
      const updated = await store.updateRun(
        runId,
        { statuses: ['running'] },
        { status: 'cancelled', finishedAt: T0 + 5, reason: undefined },
      );
      expect(updated).toMatchObject({ status: 'cancelled', finishedAt: T0 + 5 });
      expect(updated).not.toHaveProperty('reason');
      expect(await store.getRun(runId)).toEqual(updated);
      expect(await store.updateRun(runId, { statuses: ['running'] }, { status: 'failed' })).toBeUndefined();
      expect(await store.updateRun(runId, { statuses: [] }, { status: 'failed' })).toBeUndefined();
    });

    it('updateRun of an unknown run is undefined and creates nothing', async () => {
      expect(await store.updateRun('ghost', { statuses: ['running'] }, { status: 'failed' })).toBeUndefined();
      expect(await store.getRun('ghost')).toBeUndefined();
    });
  });

  describe('listRuns', () => {
    const GITEA: RepoRef = { forge: 'gitea', host: 'gitea.example.org', owner: 'octo', name: 'app' };
    const OTHER_HOST: RepoRef = { forge: 'gitea', host: 'git.example.com', owner: 'octo', name: 'app' };
    let isolated: Store;

    beforeAll(async () => {
      isolated = await createIsolatedStore(embedded.client);
      const runs = [
        makeRun('gh-1', { createdAt: T0 + 1 }),
        makeRun('gh-2', { createdAt: T0 + 2, status: 'succeeded', concurrencyGroup: 'ci-main' }),
        makeRun('gh-3', { createdAt: T0 + 3, concurrencyGroup: 'ci-main' }),
        makeRun('gh-4', { createdAt: T0 + 4, concurrencyGroup: 'ci-other' }),
        makeRun('gt-1', { createdAt: T0 + 5, repo: GITEA, concurrencyGroup: 'ci-main' }),
        makeRun('gt-2', { createdAt: T0 + 6, repo: OTHER_HOST, status: 'failed' }),
      ];
      for (const run of runs) await isolated.createRun(run, []);
    });

    const ids = (runs: readonly { runId: string }[]): string[] => runs.map((r) => r.runId);

    it.each([
      ['one repository, newest first', { repo: REPO }, ['gh-4', 'gh-3', 'gh-2', 'gh-1']],
      ['same owner/name on another forge', { repo: GITEA }, ['gt-1']],
      ['same forge and owner/name on another host', { repo: OTHER_HOST }, ['gt-2']],
      [
        'owner/name case-insensitively',
        { repo: { ...REPO, owner: 'Octo', name: 'App' } },
        ['gh-4', 'gh-3', 'gh-2', 'gh-1'],
      ],
      ['a repository and a status', { repo: REPO, status: 'running' as const }, ['gh-4', 'gh-3', 'gh-1']],
      ['a status across repositories', { status: 'running' as const }, ['gt-1', 'gh-4', 'gh-3', 'gh-1']],
      ['everything, newest first', {}, ['gt-2', 'gt-1', 'gh-4', 'gh-3', 'gh-2', 'gh-1']],
      ['a limit', { limit: 2 }, ['gt-2', 'gt-1']],
      ['a concurrency group of one repository', { repo: REPO, concurrencyGroup: 'ci-main' }, ['gh-3', 'gh-2']],
      [
        'a concurrency group and a status',
        { repo: REPO, concurrencyGroup: 'ci-main', status: 'running' as const },
        ['gh-3'],
      ],
      ['a concurrency group on another forge', { repo: GITEA, concurrencyGroup: 'ci-main' }, ['gt-1']],
      ['an unknown repository', { repo: { ...REPO, name: 'nope' } }, []],
    ])('lists by %s', async (_what, query, expected) => {
      expect(ids(await isolated.listRuns(query))).toEqual(expected);
    });

    it('moves a run between status listings when updateRun changes its status', async () => {
      await isolated.updateRun('gh-1', { statuses: ['running'] }, { status: 'succeeded' });
      expect(ids(await isolated.listRuns({ status: 'succeeded' }))).toEqual(['gh-2', 'gh-1']);
      expect(ids(await isolated.listRuns({ status: 'running' }))).toEqual(['gt-1', 'gh-4', 'gh-3']);
      await isolated.updateRun('gh-1', { statuses: ['succeeded'] }, { status: 'running' });
    });

    it('refuses a concurrency group without a repository', async () => {
      await expect(isolated.listRuns({ concurrencyGroup: 'ci-main' })).rejects.toBeInstanceOf(StoreError);
    });

    it('keys repositories by forge, host, owner and name', () => {
      expect(new Set([REPO, GITEA, OTHER_HOST].map(repoKey)).size).toBe(3);
      expect(repoKey({ ...REPO, owner: 'a#b', name: 'c' })).not.toBe(repoKey({ ...REPO, owner: 'a', name: 'b#c' }));
    });
  });

  describe('orders', () => {
    it('getOrders batch-reads in the order asked, omits missing ids and tolerates duplicates', async () => {
      const runId = newRunId();
      const { run, orders } = makeFlatRun(runId, 150);
      await store.createRun(run, orders);
      const counter = countRequests(embedded.client);
      const asked = ['o.150', 'o.1', 'missing', 'o.1', ...orders.slice(10, 130).map((o) => o.id)];
      const got = await store.getOrders(runId, asked);
      expect(got.map((o) => o.id)).toEqual(['o.150', 'o.1', ...orders.slice(10, 130).map((o) => o.id)]);
      expect(got[0]).toEqual(orders[149]);
      // 122 distinct keys: two BatchGetItem requests of at most 100 keys.
      expect(counter.byCommand()).toEqual({ BatchGetItem: 2 });
      expect(await store.getOrders(runId, [])).toEqual([]);
    });

    it('updateOrder writes when state (and attempt) match, else returns undefined', async () => {
      const runId = newRunId();
      await store.createRun(makeRun(runId), [makeOrder(runId, 'build', { waitingSince: T0 })]);

      expect(await store.updateOrder(runId, 'build', { states: ['running'] }, { state: 'succeeded' })).toBeUndefined();
      expect(
        await store.updateOrder(runId, 'build', { states: ['queued'], attempt: 2 }, { state: 'dispatching' }),
      ).toBeUndefined();

      const dispatched = await store.updateOrder(
        runId,
        'build',
        { states: ['queued', 'interrupted'], attempt: 1 },
        { state: 'dispatching', dispatchedAt: T0 + 1, waitingSince: undefined, runner: 'local' },
      );
      expect(dispatched).toEqual({
        ...makeOrder(runId, 'build'),
        state: 'dispatching',
        dispatchedAt: T0 + 1,
        runner: 'local',
      });
      expect(dispatched).not.toHaveProperty('waitingSince');
      expect(await store.getOrder(runId, 'build')).toEqual(dispatched);

      // Nested values survive the round trip.
      const stepResults = [
        { index: 0, name: 'make', outcome: 'success', conclusion: 'success', durationMs: 3 },
      ] as const;
      const finished = await store.updateOrder(
        runId,
        'build',
        { states: ['dispatching'] },
        { state: 'succeeded', result: 'success', outputs: { v: '1', empty: '' }, stepResults },
      );
      expect(finished?.stepResults).toEqual(stepResults);
      expect(finished?.outputs).toEqual({ v: '1', empty: '' });
      expect(await store.updateOrder(runId, 'build', { states: [] }, { state: 'failed' })).toBeUndefined();
    });

    it('updateOrder never changes identity fields', async () => {
      const runId = newRunId();
      await store.createRun(makeRun(runId), [makeOrder(runId, 'a')]);
      const updated = await store.updateOrder(runId, 'a', { states: ['queued'] }, { id: 'b', runId: 'x', name: 'A' });
      expect(updated).toMatchObject({ id: 'a', runId, name: 'A' });
      // Nothing left to write: still a conditional check, answered with the record.
      expect(await store.updateOrder(runId, 'a', { states: ['queued'] }, { id: 'c' })).toEqual(updated);
      expect(await store.updateOrder(runId, 'a', { states: ['running'] }, {})).toBeUndefined();
    });

    it('updateOrder of an unknown order is undefined and creates nothing', async () => {
      const runId = newRunId();
      await store.createRun(makeRun(runId), []);
      expect(await store.updateOrder(runId, 'ghost', { states: ['queued'] }, { state: 'running' })).toBeUndefined();
      expect(await store.listOrders(runId)).toEqual([]);
    });

    it('satisfyNeed decrements once per need and reports whether this call applied', async () => {
      const runId = newRunId();
      await store.createRun(makeRun(runId), [
        makeOrder(runId, 'a'),
        makeOrder(runId, 'b'),
        makeOrder(runId, 'c', { needs: ['a', 'b'], needsOrders: ['a', 'b'], pendingNeeds: 2 }),
      ]);
      const first = await store.satisfyNeed(runId, 'c', 'a');
      expect(first?.applied).toBe(true);
      expect(first?.order.pendingNeeds).toBe(1);
      expect(first?.order).not.toHaveProperty('doneNeeds');

      const duplicate = await store.satisfyNeed(runId, 'c', 'a');
      expect(duplicate).toEqual({ applied: false, order: first?.order });

      const last = await store.satisfyNeed(runId, 'c', 'b');
      expect(last).toMatchObject({ applied: true, order: { pendingNeeds: 0 } });
      // Never below zero, whatever is reported.
      expect(await store.satisfyNeed(runId, 'c', 'z')).toMatchObject({ applied: false, order: { pendingNeeds: 0 } });
    });

    it('satisfyNeed on an unknown order is undefined and creates nothing', async () => {
      const runId = newRunId();
      await store.createRun(makeRun(runId), []);
      expect(await store.satisfyNeed(runId, 'ghost', 'a')).toBeUndefined();
      expect(await store.getOrder(runId, 'ghost')).toBeUndefined();
    });
  });

  describe('big runs', () => {
    it('writes, pages and reads a 5,000-order run; the widest order stays well under 400 KB', async () => {
      const runId = newRunId();
      const n = 5_000;
      const ids = Array.from({ length: n - 2 }, (_, i) => `test.${String(i + 1)}`);
      const orders: OrderRecord[] = [
        makeOrder(runId, 'build', { dependents: ids }),
        ...ids.map((id) =>
          makeOrder(runId, id, { needs: ['build'], needsOrders: ['build'], pendingNeeds: 1, dependents: ['report'] }),
        ),
        makeOrder(runId, 'report', { needs: ['test'], needsOrders: ids, pendingNeeds: ids.length }),
      ];
      const counter = countRequests(embedded.client);
      expect(await store.createRun(makeRun(runId, { orderCount: n }), orders)).toBe(true);
      expect(counter.byCommand()).toEqual({ PutItem: 1, BatchWriteItem: n / 25 });

      counter.reset();
      const listed = await store.listOrders(runId);
      expect(listed).toHaveLength(n);
      expect(new Set(listed.map((o) => o.id)).size).toBe(n);
      // The 1 MB page limit makes this more than one Query.
      expect(counter.byCommand()['Query']).toBeGreaterThan(1);

      // Counting every need of the widest order grows its done-set to 4,998 ids; it must still fit comfortably.
      for (const id of ids.slice(0, 50)) await store.satisfyNeed(runId, 'report', id);
      const report = await store.getOrder(runId, 'report');
      expect(report?.pendingNeeds).toBe(ids.length - 50);
      const approxBytes = (o: unknown, extra: number): number => Buffer.byteLength(JSON.stringify(o)) + extra;
      const doneNeedsBytes = ids.reduce((sum, id) => sum + id.length, 0);
      expect(approxBytes(report, doneNeedsBytes)).toBeLessThan(200_000);
      expect(approxBytes(await store.getOrder(runId, 'build'), 0)).toBeLessThan(200_000);
    });
  });

  describe('counters', () => {
    it('adds, bounds positive deltas by max, and reads 0 for a missing counter', async () => {
      expect(await store.getCounter('c1')).toBe(0);
      expect(await store.addCounter('c1', 2)).toBe(2);
      expect(await store.addCounter('c1', 3, 5)).toBe(5);
      expect(await store.addCounter('c1', 1, 5)).toBeUndefined();
      expect(await store.getCounter('c1')).toBe(5);
      // A negative delta (a release) is never bounded.
      expect(await store.addCounter('c1', -4, 5)).toBe(1);
      expect(await store.addCounter('c1', -1)).toBe(0);
    });

    it('refuses to create a counter beyond max', async () => {
      expect(await store.addCounter('c2', 3, 2)).toBeUndefined();
      expect(await store.getCounter('c2')).toBe(0);
      expect(await store.addCounter('c2', 2, 2)).toBe(2);
    });
  });

  describe('claims', () => {
    it('claims once, can be re-taken after release, and after expiry', async () => {
      const far = Date.now() + 60_000;
      expect(await store.isClaimed('delivery-1')).toBe(false);
      expect(await store.claim('delivery-1', far)).toBe(true);
      expect(await store.isClaimed('delivery-1')).toBe(true);
      expect(await store.claim('delivery-1', far)).toBe(false);
      await store.release('delivery-1');
      expect(await store.isClaimed('delivery-1')).toBe(false);
      expect(await store.claim('delivery-1', far)).toBe(true);
      expect(await store.claim('delivery-1', far)).toBe(false);

      expect(await store.claim('token-1', Date.now() - 1)).toBe(true);
      expect(await store.isClaimed('token-1')).toBe(false);
      expect(await store.claim('token-1', far)).toBe(true);
      expect(await store.claim('token-1', far)).toBe(false);
    });

    it('releasing an unknown key is harmless', async () => {
      await store.release('never-claimed');
      expect(await store.claim('never-claimed', Date.now() + 60_000)).toBe(true);
    });
  });

  describe('expiry (filtered on read, no TTL reliance)', () => {
    it('hides expired runs and orders from every read and refuses writes to them', async () => {
      let now = T0;
      const timed = await createIsolatedStore(embedded.client, { now: () => now });
      const runId = 'expiring';
      await timed.createRun(makeRun(runId, { expiresAt: T0 + 1_000 }), [
        makeOrder(runId, 'a', { state: 'running' }),
        makeOrder(runId, 'b', { waitingSince: T0, pendingNeeds: 1 }),
      ]);
      expect(await timed.getRun(runId)).toBeDefined();
      expect(await timed.listOrders(runId)).toHaveLength(2);
      expect(await timed.listActiveOrders()).toHaveLength(1);
      expect(await timed.listWaitingOrders(10)).toHaveLength(1);

      now = T0 + 1_000;
      expect(await timed.getRun(runId)).toBeUndefined();
      expect(await timed.listRuns({})).toEqual([]);
      expect(await timed.listRuns({ repo: REPO })).toEqual([]);
      expect(await timed.listOrders(runId)).toEqual([]);
      expect(await timed.getOrder(runId, 'a')).toBeUndefined();
      expect(await timed.getOrders(runId, ['a', 'b'])).toEqual([]);
      expect(await timed.listActiveOrders()).toEqual([]);
      expect(await timed.listWaitingOrders(10)).toEqual([]);
      expect(await timed.updateOrder(runId, 'a', { states: ['running'] }, { state: 'failed' })).toBeUndefined();
      expect(await timed.updateRun(runId, { statuses: ['running'] }, { status: 'failed' })).toBeUndefined();
      expect(await timed.satisfyNeed(runId, 'b', 'x')).toBeUndefined();
    });
  });

  describe('sparse indexes', () => {
    const activeIds = async (s: Store): Promise<string[]> => (await s.listActiveOrders()).map((o) => o.id).sort();
    const waitingIds = async (s: Store, limit = 100): Promise<string[]> =>
      (await s.listWaitingOrders(limit)).map((o) => o.id);

    it('an order is active exactly while dispatching, running or interrupted', async () => {
      const s = await createIsolatedStore(embedded.client);
      const runId = 'r';
      await s.createRun(makeRun(runId), [makeOrder(runId, 'a'), makeOrder(runId, 'b', { state: 'running' })]);
      expect(await activeIds(s)).toEqual(['b']);

      const steps = [
        [['queued'], 'dispatching', ['a', 'b']],
        [['dispatching'], 'running', ['a', 'b']],
        [['running'], 'interrupted', ['a', 'b']],
        [['interrupted'], 'queued', ['b']],
        [['queued'], 'dispatching', ['a', 'b']],
        [['dispatching'], 'succeeded', ['b']],
      ] as const;
      for (const [from, to, expected] of steps) {
        expect(await s.updateOrder(runId, 'a', { states: from }, { state: to })).toBeDefined();
        expect(await activeIds(s)).toEqual(expected);
      }
      // A write that leaves the state alone leaves the index alone.
      await s.updateOrder(runId, 'b', { states: ['running'] }, { handle: 'pid-1' });
      const [b] = await s.listActiveOrders();
      expect(b).toMatchObject({ id: 'b', handle: 'pid-1' });
      await s.updateOrder(runId, 'b', { states: ['running'] }, { state: 'cancelled' });
      expect(await activeIds(s)).toEqual([]);
    });

    it('an order waits while queued with waitingSince, oldest first, and leaves when it dispatches', async () => {
      const s = await createIsolatedStore(embedded.client);
      const runId = 'w';
      await s.createRun(makeRun(runId), [
        makeOrder(runId, 'late', { waitingSince: T0 + 30 }),
        makeOrder(runId, 'early', { waitingSince: T0 + 10 }),
        makeOrder(runId, 'not-waiting'),
        ...Array.from({ length: 8 }, (_, i) => makeOrder(runId, `x.${String(i + 1)}`)),
      ]);
      expect(await waitingIds(s)).toEqual(['early', 'late']);

      await s.updateOrder(runId, 'not-waiting', { states: ['queued'] }, { waitingSince: T0 + 20 });
      expect(await waitingIds(s)).toEqual(['early', 'not-waiting', 'late']);
      expect(await waitingIds(s, 2)).toEqual(['early', 'not-waiting']);
      for (const [i, id] of ['x.1', 'x.2', 'x.3', 'x.4', 'x.5', 'x.6', 'x.7', 'x.8'].entries()) {
        await s.updateOrder(runId, id, { states: ['queued'] }, { waitingSince: T0 + 100 + i });
      }
      expect(await waitingIds(s, 5)).toEqual(['early', 'not-waiting', 'late', 'x.1', 'x.2']);

      // Dispatching without touching waitingSince still leaves the waiting index.
      await s.updateOrder(runId, 'early', { states: ['queued'] }, { state: 'dispatching' });
      // Clearing waitingSince leaves it too.
      await s.updateOrder(runId, 'late', { states: ['queued'] }, { waitingSince: undefined });
      expect(await waitingIds(s, 3)).toEqual(['not-waiting', 'x.1', 'x.2']);
      // Waiting again later moves it to the back.
      await s.updateOrder(runId, 'not-waiting', { states: ['queued'] }, { waitingSince: T0 + 999 });
      expect((await waitingIds(s)).at(-1)).toBe('not-waiting');
    });

    it('keeps the waiting index right when the expected states leave the resulting state open', async () => {
      const s = await createIsolatedStore(embedded.client);
      const runId = 'm';
      await s.createRun(makeRun(runId), [
        makeOrder(runId, 'q'),
        makeOrder(runId, 'i', { state: 'interrupted', waitingSince: T0 }),
      ]);
      // waitingSince set while `queued` or `interrupted` was allowed: only the queued one may wait.
      await s.updateOrder(runId, 'q', { states: ['queued', 'interrupted'] }, { waitingSince: T0 + 1 });
      await s.updateOrder(runId, 'i', { states: ['queued', 'interrupted'] }, { waitingSince: T0 + 2 });
      expect(await waitingIds(s)).toEqual(['q']);
      // Back to queued with a waitingSince already on the record: it waits again.
      await s.updateOrder(runId, 'i', { states: ['interrupted'] }, { state: 'queued', attempt: 2 });
      expect(await waitingIds(s)).toEqual(['q', 'i']);
    });
  });

  describe('errors and requests', () => {
    it('converts a ValidationException to a permanent StoreError', async () => {
      const bad = createDynamoStore({ client: embedded.client, table: 'x' }); // table names need ≥ 3 characters
      const error: unknown = await bad.getRun('r').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StoreError);
      expect(error).toMatchObject({
        name: 'StoreError',
        retryable: false,
        context: { operation: 'GetItem', awsError: 'ValidationException' },
      });
    });

    it('converts an item over the size limit to a permanent StoreError', async () => {
      const runId = newRunId();
      const huge = makeRun(runId, { reason: 'x'.repeat(450_000) });
      await expect(store.createRun(huge, [])).rejects.toMatchObject({ name: 'StoreError', retryable: false });
    });

    it('ensureTable is idempotent', async () => {
      const s = createDynamoStore({ client: embedded.client, table: embedded.table });
      const counter = countRequests(embedded.client);
      await s.ensureTable();
      expect(counter.byCommand()['CreateTable']).toBeUndefined();
    });

    // dynalite has no TTL API (ensureTable's UpdateTimeToLive fails there, on purpose silently); DynamoDB Local has.
    it.runIf(engine === 'dynamodb-local')('ensureTable enables TTL on the ttl attribute', async () => {
      const out = await embedded.client.send(new DescribeTimeToLiveCommand({ TableName: embedded.table }));
      expect(out.TimeToLiveDescription).toEqual({ AttributeName: TTL_ATTRIBUTE, TimeToLiveStatus: 'ENABLED' });
    });

    it('costs one request per order completion step', async () => {
      const runId = newRunId();
      await store.createRun(makeRun(runId), [
        makeOrder(runId, 'a'),
        makeOrder(runId, 'b', { needs: ['a'], needsOrders: ['a'], pendingNeeds: 1 }),
      ]);
      const counter = countRequests(embedded.client);
      await store.updateOrder(runId, 'a', { states: ['queued'] }, { state: 'dispatching' });
      await store.updateOrder(runId, 'a', { states: ['dispatching'] }, { state: 'running' });
      await store.updateOrder(runId, 'a', { states: ['running'] }, { state: 'succeeded' });
      await store.satisfyNeed(runId, 'b', 'a');
      expect(counter.byCommand()).toEqual({ UpdateItem: 4 });
      expect(counter.count()).toBe(4);
      counter.reset();
      expect(counter.count()).toBe(0);
    });
  });
});

describe('classifyAwsError', () => {
  it.each([
    [{ name: 'ConditionalCheckFailedException', $fault: 'client' }, 'condition-failed'],
    [{ name: 'ProvisionedThroughputExceededException', $fault: 'client' }, 'retryable'],
    [{ name: 'ThrottlingException', $fault: 'client' }, 'retryable'],
    [{ name: 'RequestLimitExceeded', $fault: 'client' }, 'retryable'],
    [{ name: 'InternalServerError', $fault: 'server' }, 'retryable'],
    [{ name: 'SomethingNew', $fault: 'server' }, 'retryable'],
    [{ name: 'Error', code: 'ECONNRESET' }, 'retryable'],
    [{ name: 'TimeoutError' }, 'retryable'],
    [{ name: 'ValidationException', $fault: 'client' }, 'permanent'],
    [{ name: 'ResourceNotFoundException', $fault: 'client' }, 'permanent'],
    ['a string', 'permanent'],
  ])('classifies %j as %s', (error, expected) => {
    expect(classifyAwsError(error)).toBe(expected);
  });
});

describe('on-disk folder', () => {
  it('persists across close and reopen', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'spotcheck-store-'));
    try {
      const first = await startEmbeddedStore({ dir });
      const { run, orders } = makeFlatRun('persisted', 2);
      await first.store.createRun(run, orders);
      await first.store.updateOrder('persisted', 'o.1', { states: ['queued'] }, { state: 'running' });
      await first.store.addCounter('cap', 3);
      await first.close();

      const second = await startEmbeddedStore({ dir });
      try {
        expect(await second.store.getRun('persisted')).toEqual(run);
        expect((await second.store.listOrders('persisted')).map((o) => [o.id, o.state])).toEqual([
          ['o.1', 'running'],
          ['o.2', 'queued'],
        ]);
        expect((await second.store.listActiveOrders()).map((o) => o.id)).toEqual(['o.1']);
        expect(await second.store.getCounter('cap')).toBe(3);
      } finally {
        await second.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
