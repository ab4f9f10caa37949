/**
 * Red-team finding: a full disk crashed `serve` and lost a delivery already answered 202. dynalite threw LevelDB's
 * error in a callback (the process died), an intent was left without its index entry (the inbox never saw it), and
 * the forge's redelivery was answered "duplicate". Replayed here with the embedded engine's database failing at
 * chosen operations (ENOSPC, as LevelDB reports a full disk), no root tricks needed.
 */
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { StoreError } from '../../src/errors.ts';
import { createInbox, INBOX_KIND } from '../../src/intake/inbox.ts';
import type { Intent } from '../../src/intake/intents.ts';
import { claimAndHand } from '../../src/server/webhook-verify.ts';
import dynaliteDb from 'dynalite/db/index.js';
import { installDynaliteErrorGuard, type LevelFaults, type LevelOperation } from '../../src/store/dynalite-errors.ts';
import { startEmbeddedStore, type EmbeddedStore } from '../../src/store/embedded.ts';

const logger = pino({ level: 'silent' });
const HOUR = 3_600_000;

function diskFull(): Error {
  return Object.assign(new Error('IO error: /data/db/000005.log: No space left on device'), { code: 'ENOSPC' });
}

/** Fails the matching operations while armed: the disk fills, then space is freed. */
function switchableFaults(match: (operation: LevelOperation, key: string, value: unknown) => boolean) {
  let armed = false;
  let failed = 0;
  const faults: LevelFaults = (operation, key, value) => {
    if (!armed || !match(operation, key, value)) return undefined;
    failed++;
    return diskFull();
  };
  return {
    faults,
    arm: () => (armed = true),
    disarm: () => (armed = false),
    failed: () => failed,
  };
}

let embedded: EmbeddedStore | undefined;
afterEach(async () => {
  await embedded?.close();
  embedded = undefined;
});

describe('a full disk under the embedded store', () => {
  it('fails the write as a StoreError and the process and engine live on', async () => {
    const disk = switchableFaults((operation) => operation === 'put' || operation === 'batch');
    embedded = await startEmbeddedStore({ levelFaults: disk.faults });
    const { store } = embedded;
    disk.arm();
    const write = store.putDoc('note', 'a', { text: 'x' }, { expiresAt: Date.now() + HOUR });
    await expect(write).rejects.toBeInstanceOf(StoreError);
    await expect(write).rejects.toThrow(/ENOSPC/);
    expect(disk.failed()).toBeGreaterThan(0);
    disk.disarm();
    // Space freed: the same engine answers again.
    expect(await store.putDoc('note', 'a', { text: 'x' }, { expiresAt: Date.now() + HOUR })).toBe(1);
    expect((await store.getDoc('note', 'a'))?.value).toEqual({ text: 'x' });
  });

  it('fails reads and listings (a failing I/O stream) as StoreErrors too', async () => {
    const disk = switchableFaults((operation) => operation === 'get' || operation === 'iterate');
    embedded = await startEmbeddedStore({ levelFaults: disk.faults });
    const { store } = embedded;
    disk.arm();
    await expect(store.getDoc('note', 'a')).rejects.toBeInstanceOf(StoreError);
    await expect(store.listDocs('note', { limit: 10 })).rejects.toBeInstanceOf(StoreError);
    disk.disarm();
    expect(await store.listDocs('note', { limit: 10 })).toEqual([]);
  });

  it('answers a delivery whose intent could not be stored 503, and processes its redelivery', async () => {
    const disk = switchableFaults(
      (operation, key, value) =>
        operation === 'put' && key.startsWith('item-') && JSON.stringify(value).includes('DOC#intent#'),
    );
    embedded = await startEmbeddedStore({ levelFaults: disk.faults });
    const { store } = embedded;
    const processed: string[] = [];
    const inbox = createInbox({
      store,
      logger,
      process: (intent) => {
        processed.push(intent.deliveryId);
        return Promise.resolve();
      },
    });
    const intent = {
      kind: 'push',
      deliveryId: 'd-1',
      install: { forge: 'gitea', host: 'gitea.test' },
    } as unknown as Intent;
    const deliver = () =>
      claimAndHand({
        store,
        claimKey: 'gitea:gitea.test:d-1',
        now: Date.now,
        log: logger,
        hand: () => inbox.accept(intent),
      });

    disk.arm();
    const first = await deliver();
    expect(first.status).toBe(503);
    expect(first.headers?.['retry-after']).toBe('60');
    disk.disarm();
    // The claim was released: the forge's redelivery is processed, not answered "duplicate".
    const again = await deliver();
    expect(again.status).toBe(202);
    await inbox.idle();
    expect(processed).toEqual(['d-1']);
  });

  it('a sweep indexes an intent whose index entry a failed write lost', async () => {
    const table = 'spotcheck';
    const disk = switchableFaults(
      (operation, key) => operation === 'put' && key.startsWith(`index-global~${table}~docs~`),
    );
    embedded = await startEmbeddedStore({ table, levelFaults: disk.faults });
    const { store } = embedded;
    const now = Date.now();
    const entry = { intent: { deliveryId: 'd-2' }, status: 'pending', attempts: 1, expiresAt: now + HOUR };
    expect(await store.putDoc(INBOX_KIND, 'k', { ...entry, due: now - 1 }, { expiresAt: now + HOUR })).toBe(1);
    // A retry's write moves `due`: dynalite deletes the old index entry, then fails to put the new one.
    disk.arm();
    await expect(
      store.putDoc(INBOX_KIND, 'k', { ...entry, due: now - 2 }, { expiresAt: now + HOUR, ifVersion: 1 }),
    ).rejects.toBeInstanceOf(StoreError);
    disk.disarm();
    expect(await store.getDoc(INBOX_KIND, 'k')).toMatchObject({ version: 1 });
    expect(await store.listDocs(INBOX_KIND, { limit: 10 })).toEqual([]); // the inbox would never see it

    const inbox = createInbox({ store, logger, process: () => Promise.resolve() });
    expect(await inbox.sweep()).toBe(1);
    expect((await store.listDocs(INBOX_KIND, { limit: 10 })).map((d) => d.key)).toEqual(['k']);
    expect(await inbox.sweep()).toBe(0);
  });
});

describe('a database closed under a request', () => {
  it('fails the stream and the callback, instead of throwing in a dynalite callback', async () => {
    // CI once died here: a retried Query reached dynalite after its database closed, `values()` threw "Database is
    // not open" inside a dynalite callback, and the process had an uncaught exception.
    installDynaliteErrorGuard();
    const { db } = dynaliteDb.create({});
    await new Promise<void>((resolve) => {
      (db as unknown as { close(cb: () => void): void }).close(resolve);
    });
    const streamError = await new Promise<unknown>((resolve) => {
      db.createValueStream({}).on('error', resolve).resume();
    });
    expect(streamError).toMatchObject({ statusCode: 500 });
    expect((streamError as { body: { message: string } }).body.message).toMatch(/not open/);
    const getError = await new Promise<unknown>((resolve) => {
      db.get('item-x', (err: unknown) => {
        resolve(err);
      });
    });
    expect(getError).toMatchObject({ statusCode: 500 });
  });
});
