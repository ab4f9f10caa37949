import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countRequests } from '../../src/store/request-counter.ts';
import type { Store } from '../../src/store/store.ts';
import { createIsolatedStore } from '../helpers/dynalite.ts';
import { describeEachEngine, startTestEngine, type TestEngine } from '../helpers/engines.ts';

const HOUR = 3_600_000;
describeEachEngine((engine) => {
  let embedded: TestEngine;
  let store: Store;
  let clock = 1_760_000_000_000;
  const now = (): number => clock;
  const later = (): number => clock + HOUR;

  beforeAll(async () => {
    embedded = await startTestEngine(engine);
    store = await createIsolatedStore(embedded.client, { now });
  });

  afterAll(async () => {
    await embedded.close();
  });

  describe('putDoc / getDoc', () => {
    it('creates once, then writes only at the expected version', async () => {
      expect(await store.putDoc('k', 'a', { x: 1 }, { expiresAt: later() })).toBe(1);
      expect(await store.putDoc('k', 'a', { x: 2 }, { expiresAt: later() })).toBeUndefined();
      expect(await store.getDoc('k', 'a')).toEqual({ value: { x: 1 }, version: 1 });

      expect(await store.putDoc('k', 'a', { x: 3 }, { expiresAt: later(), ifVersion: 2 })).toBeUndefined();
      expect(await store.putDoc('k', 'a', { x: 3, nested: { s: '' } }, { expiresAt: later(), ifVersion: 1 })).toBe(2);
      expect(await store.getDoc('k', 'a')).toEqual({ value: { x: 3, nested: { s: '' } }, version: 2 });
    });

    it('a version condition on a missing document fails and creates nothing', async () => {
      expect(await store.putDoc('k', 'missing', { x: 1 }, { expiresAt: later(), ifVersion: 1 })).toBeUndefined();
      expect(await store.getDoc('k', 'missing')).toBeUndefined();
    });

    it('kinds and keys do not collide (separators in keys are encoded)', async () => {
      await store.putDoc('k#x', 'y', { who: 'first' }, { expiresAt: later() });
      expect(await store.putDoc('k', 'x#y', { who: 'second' }, { expiresAt: later() })).toBe(1);
      expect((await store.getDoc('k#x', 'y'))?.value).toEqual({ who: 'first' });
      expect((await store.getDoc('k', 'x#y'))?.value).toEqual({ who: 'second' });
    });

    it('an expired document reads as absent and can be created again, with a version the old holder cannot match', async () => {
      await store.putDoc('exp', 'a', { x: 1 }, { expiresAt: clock + 10 });
      clock += 20;
      expect(await store.getDoc('exp', 'a')).toBeUndefined();
      expect(await store.putDoc('exp', 'a', { x: 1 }, { expiresAt: clock + 10, ifVersion: 1 })).toBeUndefined();
      const version = await store.putDoc('exp', 'a', { x: 2 }, { expiresAt: later() });
      expect(version).toBe(2);
      expect(await store.getDoc('exp', 'a')).toEqual({ value: { x: 2 }, version: 2 });
    });

    it('two writers at one version: exactly one wins', async () => {
      await store.putDoc('race', 'a', { n: 0 }, { expiresAt: later() });
      const results = await Promise.all(
        Array.from({ length: 6 }, (_, i) =>
          store.putDoc('race', 'a', { n: i + 1 }, { expiresAt: later(), ifVersion: 1 }),
        ),
      );
      expect(results.filter((r) => r === 2)).toHaveLength(1);
      expect(results.filter((r) => r === undefined)).toHaveLength(5);
    });

    it('deleteDoc removes; deleting a missing document is fine', async () => {
      await store.putDoc('del', 'a', { x: 1 }, { expiresAt: later() });
      await store.deleteDoc('del', 'a');
      await store.deleteDoc('del', 'a');
      expect(await store.getDoc('del', 'a')).toBeUndefined();
      expect(await store.putDoc('del', 'a', { x: 1 }, { expiresAt: later() })).toBe(1);
    });

    it('each write is one conditional request', async () => {
      const counter = countRequests(embedded.client);
      await store.putDoc('count', 'a', { due: 5 }, { expiresAt: later() });
      await store.putDoc('count', 'a', { done: true }, { expiresAt: later(), ifVersion: 1 });
      expect(counter.byCommand()).toEqual({ UpdateItem: 2 });
    });
  });

  describe('listDocs', () => {
    it('lists documents with a numeric due, soonest first, up to dueBefore (inclusive) and limit', async () => {
      const kind = 'inbox';
      const dues = [50, 10, 40, 30, 20];
      for (const [i, due] of dues.entries()) {
        await store.putDoc(kind, `d${String(i)}`, { due, i }, { expiresAt: later() });
      }
      await store.putDoc(kind, 'no-due', { i: 99 }, { expiresAt: later() });
      await store.putDoc('other', 'x', { due: 1 }, { expiresAt: later() });

      const all = await store.listDocs(kind, { limit: 100 });
      expect(all.map((d) => d.value['due'])).toEqual([10, 20, 30, 40, 50]);
      expect(all[0]).toEqual({ key: 'd1', value: { due: 10, i: 1 }, version: 1 });

      expect((await store.listDocs(kind, { dueBefore: 30, limit: 100 })).map((d) => d.key)).toEqual(['d1', 'd4', 'd3']);
      expect((await store.listDocs(kind, { dueBefore: 29, limit: 100 })).map((d) => d.key)).toEqual(['d1', 'd4']);
      expect((await store.listDocs(kind, { limit: 2 })).map((d) => d.key)).toEqual(['d1', 'd4']);
      expect(await store.listDocs(kind, { limit: 0 })).toEqual([]);
    });

    it('a write without due takes the document out of the listing; a new due moves it', async () => {
      const kind = 'moves';
      await store.putDoc(kind, 'a', { due: 1 }, { expiresAt: later() });
      await store.putDoc(kind, 'b', { due: 2 }, { expiresAt: later() });
      await store.putDoc(kind, 'a', { done: true }, { expiresAt: later(), ifVersion: 1 });
      expect((await store.listDocs(kind, { limit: 10 })).map((d) => d.key)).toEqual(['b']);
      await store.putDoc(kind, 'a', { due: 3 }, { expiresAt: later(), ifVersion: 2 });
      expect((await store.listDocs(kind, { limit: 10 })).map((d) => [d.key, d.version])).toEqual([
        ['b', 1],
        ['a', 3],
      ]);
    });

    it('expired documents are not listed', async () => {
      const kind = 'expiring';
      await store.putDoc(kind, 'a', { due: 1 }, { expiresAt: clock + 5 });
      await store.putDoc(kind, 'b', { due: 2 }, { expiresAt: later() });
      clock += 10;
      expect((await store.listDocs(kind, { limit: 10 })).map((d) => d.key)).toEqual(['b']);
    });
  });
});
