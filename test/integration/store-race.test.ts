import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OrderRecord } from '../../src/core/types.ts';
import { createDynamoStore } from '../../src/store/dynamodb.ts';
import { countRequests } from '../../src/store/request-counter.ts';
import type { Store } from '../../src/store/store.ts';
import { makeOrder, makeRun } from '../helpers/dynalite.ts';
import { describeEachEngine, startTestEngine, type TestEngine } from '../helpers/engines.ts';

/**
 * Two orchestrators (two Store instances on two DynamoDB clients, so two connection pools) race on the same
 * records. Conditional writes must make exactly one of them win every race, whatever the interleaving.
 */
let embedded: TestEngine;
let otherClient: DynamoDBClient;
let a: Store;
let b: Store;

const FANOUT = 64;
const deps = Array.from({ length: FANOUT }, (_, i) => `dep.${String(i + 1)}`);

/** root → dep.1 … dep.64 → final (pendingNeeds 64). */
function fanOutRun(runId: string): OrderRecord[] {
  return [
    makeOrder(runId, 'root', { dependents: deps }),
    ...deps.map((id) =>
      makeOrder(runId, id, { needs: ['root'], needsOrders: ['root'], pendingNeeds: 1, dependents: ['final'] }),
    ),
    makeOrder(runId, 'final', { needs: ['dep'], needsOrders: deps, pendingNeeds: FANOUT }),
  ];
}

/** Every completion delivered twice, once to each orchestrator, all in flight at once. */
function deliverTwice<T>(ids: readonly string[], call: (store: Store, id: string) => Promise<T>): Promise<T[]> {
  return Promise.all(ids.flatMap((id) => [call(a, id), call(b, id)]));
}

describeEachEngine((engine) => {
  beforeAll(async () => {
    embedded = await startTestEngine(engine);
    otherClient = embedded.secondClient();
    a = embedded.store;
    b = createDynamoStore({ client: otherClient, table: embedded.table });
  });

  afterAll(async () => {
    otherClient.destroy();
    await embedded.close();
  });

  describe('two orchestrators racing', () => {
    it.each([1, 2, 3])('fan-in: 64 needs delivered twice each decrement exactly once (round %i)', async (round) => {
      const runId = `fan-in-${String(round)}`;
      await a.createRun(makeRun(runId, { orderCount: FANOUT + 2 }), fanOutRun(runId));
      const counters = [countRequests(embedded.client), countRequests(otherClient)];

      const results = await deliverTwice(deps, (s, dep) => s.satisfyNeed(runId, 'final', dep));
      const requests = counters.map((c) => c.byCommand());

      expect(results).toHaveLength(2 * FANOUT);
      expect(results.filter((r) => r?.applied === true)).toHaveLength(FANOUT);
      // …and one per need: of each need's two deliveries, exactly one counted.
      const appliedPerNeed = deps.map((_, i) => [results[2 * i], results[2 * i + 1]].filter((r) => r?.applied).length);
      expect(appliedPerNeed).toEqual(deps.map(() => 1));
      // Exactly one caller saw the count reach 0: the one that will dispatch `final`.
      expect(results.filter((r) => r?.applied === true && r.order.pendingNeeds === 0)).toHaveLength(1);
      expect((await a.getOrder(runId, 'final'))?.pendingNeeds).toBe(0);
      // Flat cost: one UpdateItem per delivery, plus one GetItem per refused duplicate.
      expect(requests.reduce((n, r) => n + (r['UpdateItem'] ?? 0), 0)).toBe(2 * FANOUT);
      expect(requests.reduce((n, r) => n + (r['GetItem'] ?? 0), 0)).toBe(FANOUT);
    });

    it('fan-out: the root completion delivered twice readies each dependent exactly once', async () => {
      const runId = 'fan-out';
      await a.createRun(makeRun(runId, { orderCount: FANOUT + 2 }), fanOutRun(runId));

      const results = await deliverTwice(deps, (s, dep) => s.satisfyNeed(runId, dep, 'root'));

      const readied = results.filter((r) => r?.applied === true && r.order.pendingNeeds === 0).map((r) => r?.order.id);
      expect(readied.sort()).toEqual([...deps].sort());
      const after = await a.getOrders(runId, deps);
      expect(after.map((o) => o.pendingNeeds)).toEqual(deps.map(() => 0));
    });

    it('dispatch: 64 concurrent queued → dispatching transitions on one order, exactly one wins', async () => {
      const runId = 'dispatch';
      await a.createRun(makeRun(runId), fanOutRun(runId));

      const attempts = Array.from({ length: FANOUT / 2 }, (_, i) => `orchestrator-${String(i)}`);
      const results = await deliverTwice(attempts, (s, who) =>
        s.updateOrder(runId, 'root', { states: ['queued'], attempt: 1 }, { state: 'dispatching', handle: who }),
      );

      const winners = results.filter((r) => r !== undefined);
      expect(results).toHaveLength(FANOUT);
      expect(winners).toHaveLength(1);
      const stored = await b.getOrder(runId, 'root');
      expect(stored).toEqual(winners[0]);
      expect((await a.listActiveOrders()).filter((o) => o.runId === runId).map((o) => o.id)).toEqual(['root']);
    });

    it('capacity: 100 concurrent increments under a cap of 10, exactly 10 succeed', async () => {
      const results = await Promise.all(
        Array.from({ length: 100 }, (_, i) => (i % 2 === 0 ? a : b).addCounter('cap', 1, 10)),
      );

      const granted = results.filter((r) => r !== undefined);
      expect(granted.sort((x, y) => x - y)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      expect(await b.getCounter('cap')).toBe(10);
    });

    it('claims: 20 concurrent claims of one delivery id, exactly one wins', async () => {
      const expiresAt = Date.now() + 60_000;
      const results = await deliverTwice(
        Array.from({ length: 10 }, () => 'delivery-42'),
        (s, key) => s.claim(key, expiresAt),
      );
      expect(results.filter(Boolean)).toHaveLength(1);
    });
  });
});
