/**
 * Red-team finding: a deleted or swapped store was not noticed. `/healthz` stayed "ok" while LevelDB answered from
 * its open files, and later failures read "Database is closed", hiding the cause. The embedded store now carries an
 * identity (a marker file in its folder and a document in its database), checked at start and on every health check.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { StoreError } from '../../src/errors.ts';
import { createHealthRoute } from '../../src/server/health-route.ts';
import type { IncomingRequest } from '../../src/server/router.ts';
import { createRouter } from '../../src/server/router.ts';
import { startEmbeddedStore, type EmbeddedStore } from '../../src/store/embedded.ts';
import { STORE_ID_FILE } from '../../src/store/store-identity.ts';

const log = pino({ level: 'silent' });
const opened: EmbeddedStore[] = [];
const folders: string[] = [];
afterEach(async () => {
  for (const e of opened.splice(0)) await e.close().catch(() => undefined);
  for (const f of folders.splice(0)) await rm(f, { recursive: true, force: true });
});

async function folder(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'spotcheck-identity-'));
  folders.push(dir);
  return join(dir, 'db');
}

async function start(dir: string): Promise<EmbeddedStore> {
  const embedded = await startEmbeddedStore({ dir });
  opened.push(embedded);
  return embedded;
}

async function healthz(embedded: EmbeddedStore): Promise<{ status: number; body: unknown }> {
  const router = createRouter([
    createHealthRoute({ store: embedded.store, identityProblem: () => embedded.identityProblem() }),
  ]);
  const req: IncomingRequest = {
    method: 'GET',
    path: '/healthz',
    query: new URLSearchParams(),
    headers: {},
    signal: new AbortController().signal,
    log,
    readBody: () => Promise.resolve(Buffer.alloc(0)),
  };
  const res = await router.handle(req);
  return { status: res.status, body: JSON.parse(typeof res.body === 'string' ? res.body : '') as unknown };
}

describe('the embedded store notices it is not the store it started as', () => {
  it('on /healthz: 503 naming a deleted folder, where the store itself still answers', async () => {
    const dir = await folder();
    const embedded = await start(dir);
    expect(await healthz(embedded)).toEqual({ status: 200, body: { status: 'ok' } });
    await rm(dir, { recursive: true, force: true });
    // LevelDB still answers from its open files: without the identity check this was "ok".
    await expect(embedded.store.getCounter('healthz')).resolves.toBe(0);
    const answer = await healthz(embedded);
    expect(answer.status).toBe(503);
    expect(answer.body).toEqual({
      status: 'unavailable',
      cause: expect.stringMatching(/marker .* is missing/) as unknown,
    });
  });

  it("on /healthz: 503 when the folder's marker names another store (a swapped database)", async () => {
    const dir = await folder();
    const embedded = await start(dir);
    await writeFile(join(dir, STORE_ID_FILE), 'a-different-store\n');
    const answer = await healthz(embedded);
    expect(answer.status).toBe(503);
    expect(answer.body).toEqual({ status: 'unavailable', cause: expect.stringMatching(/different stores/) as unknown });
  });

  it('at start: refuses a database whose marker is gone or names another store, and reopens its own', async () => {
    const dir = await folder();
    const first = await start(dir);
    await first.close();
    opened.splice(0);
    // Its own folder, unchanged: opens.
    const again = await start(dir);
    expect(await again.identityProblem()).toBeUndefined();
    await again.close();
    opened.splice(0);

    await writeFile(join(dir, STORE_ID_FILE), 'a-different-store\n');
    await expect(startEmbeddedStore({ dir })).rejects.toThrow(StoreError);
    await rm(join(dir, STORE_ID_FILE));
    await expect(startEmbeddedStore({ dir })).rejects.toThrow(/marker .* is missing/);
  });
});
