/**
 * Retention on the embedded store: dynalite has no TTL, so expired runs, orders and documents stay on disk unless
 * the sweep deletes them. A fake clock decides what has expired; the table is read raw afterwards, so the items are
 * gone, not merely filtered on read.
 */
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDynamoStore, type DynamoStore } from '../../src/store/dynamodb.ts';
import { startEmbeddedStore, type EmbeddedStore } from '../../src/store/embedded.ts';
import { deleteExpiredItems } from '../../src/store/expiry-sweep.ts';
import { makeOrder, makeRun, T0 } from '../helpers/dynalite.ts';

const DAY = 86_400_000;
const TABLE = 'expiry-sweep';
let embedded: EmbeddedStore;
let store: DynamoStore;
let now = T0;

beforeAll(async () => {
  embedded = await startEmbeddedStore({});
  store = createDynamoStore({ client: embedded.client, table: TABLE, now: () => now });
  await store.ensureTable();
});
afterAll(async () => {
  await embedded.close();
});

async function rawKeys(): Promise<string[]> {
  const doc = DynamoDBDocumentClient.from(embedded.client);
  const out = await doc.send(new ScanCommand({ TableName: TABLE }));
  return (out.Items ?? []).map((item) => `${String(item['pk'])} ${String(item['sk'])}`).sort();
}

describe('the expiry sweep', () => {
  it('deletes expired runs, orders and documents from the table, and only those', async () => {
    now = T0;
    await store.createRun(makeRun('old', { createdAt: T0, expiresAt: T0 + DAY }), [
      makeOrder('old', 'a'),
      makeOrder('old', 'b'),
    ]);
    await store.createRun(makeRun('new', { createdAt: T0, expiresAt: T0 + 3 * DAY }), [makeOrder('new', 'a')]);
    await store.putDoc('note', 'old', { text: 'x' }, { expiresAt: T0 + DAY });
    await store.putDoc('note', 'new', { text: 'y' }, { expiresAt: T0 + 3 * DAY });
    const before = await rawKeys();

    // A day and a half on: "old" is past its expiresAt, "new" is not.
    now = T0 + 1.5 * DAY;
    expect(await store.getRun('old')).toBeUndefined();
    expect((await rawKeys()).length).toBe(before.length);

    const swept = await deleteExpiredItems({ client: embedded.client, table: TABLE }, now);
    expect(swept.runIds).toEqual(['old']);
    // The run, its two orders and the document.
    expect(swept.deleted).toBe(4);
    const after = await rawKeys();
    expect(after.length).toBe(before.length - 4);
    expect(after.some((key) => key.includes('old'))).toBe(false);
    expect((await store.getRun('new'))?.runId).toBe('new');
    expect((await store.listOrders('new')).map((o) => o.id)).toEqual(['a']);
    expect((await store.getDoc('note', 'new'))?.value).toEqual({ text: 'y' });

    // Nothing left to delete until "new" expires too; an item is never deleted before its expiresAt.
    expect((await deleteExpiredItems({ client: embedded.client, table: TABLE }, now)).deleted).toBe(0);
    expect((await deleteExpiredItems({ client: embedded.client, table: TABLE }, T0 + 3 * DAY)).deleted).toBe(0);
    const later = await deleteExpiredItems({ client: embedded.client, table: TABLE }, T0 + 3 * DAY + 1000);
    expect(later.runIds).toEqual(['new']);
  });
});
