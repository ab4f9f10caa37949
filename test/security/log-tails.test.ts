/**
 * Red-team finding: live log tails had no per-client limit; each holds a connection and polls the store, so one
 * client could open hundreds. Replayed through the real log route on a real HTTP server: a client gets at most its
 * share of live sessions (429 beyond, with Retry-After), others are not affected, and a slot comes back when the
 * client closes a session.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openVisibility } from '../../src/server/auth/visibility.ts';
import { createFileLogStore } from '../../src/server/log-store.ts';
import { createLogRoute, orderLogPath } from '../../src/server/log-route.ts';
import { createRouter, type IncomingRequest } from '../../src/server/router.ts';
import { startEmbeddedStore, type EmbeddedStore } from '../../src/store/embedded.ts';
import { makeOrder, makeRun } from '../helpers/dynalite.ts';

const log = pino({ level: 'silent' });
let embedded: EmbeddedStore;
let dataDir: string;

beforeAll(async () => {
  embedded = await startEmbeddedStore({});
  dataDir = await mkdtemp(path.join(tmpdir(), 'spotcheck-tails-'));
  await embedded.store.createRun(makeRun('tails', { orderCount: 1 }), [
    makeOrder('tails', 'build', { state: 'running' }),
  ]);
});
afterAll(async () => {
  await embedded.close();
  await rm(dataDir, { recursive: true, force: true });
});

function get(client: string, signal: AbortSignal): IncomingRequest {
  return {
    method: 'GET',
    path: orderLogPath('tails', 'build'),
    query: new URLSearchParams(),
    headers: {},
    signal,
    log,
    client,
    readBody: () => Promise.resolve(Buffer.alloc(0)),
  };
}

describe('live log tails per client', () => {
  it('a client gets 3 live sessions here, a 4th is 429; another client is served; closing one frees a slot', async () => {
    const router = createRouter([
      createLogRoute({
        store: embedded.store,
        logs: createFileLogStore(dataDir),
        visibility: openVisibility(),
        pollMs: 10,
        maxTailsPerClient: 3,
        maxTails: 4,
      }),
    ]);
    const sessions = Array.from({ length: 3 }, () => new AbortController());
    const open = await Promise.all(sessions.map((c) => router.handle(get('198.51.100.7', c.signal))));
    expect(open.map((r) => r.status)).toEqual([200, 200, 200]);

    const refused = await router.handle(get('198.51.100.7', new AbortController().signal));
    expect(refused.status).toBe(429);
    expect(refused.headers?.['retry-after']).toBe('30');

    // Another address is not held back by the first one's sessions.
    const other = new AbortController();
    expect((await router.handle(get('203.0.113.9', other.signal))).status).toBe(200);

    // The first client goes away from one session: its slot is free again.
    sessions[0]!.abort();
    expect((await router.handle(get('198.51.100.7', new AbortController().signal))).status).toBe(200);

    // The total bound (4) holds across clients: 3 of the first and 1 of the other are open, so a third is refused.
    expect((await router.handle(get('192.0.2.1', new AbortController().signal))).status).toBe(429);
  });

  it('a HEAD holds no slot', async () => {
    const router = createRouter([
      createLogRoute({
        store: embedded.store,
        logs: createFileLogStore(dataDir),
        visibility: openVisibility(),
        maxTailsPerClient: 1,
      }),
    ]);
    for (let i = 0; i < 5; i++) {
      const head = await router.handle({ ...get('198.51.100.8', new AbortController().signal), method: 'HEAD' });
      expect(head.status).toBe(200);
    }
    expect((await router.handle(get('198.51.100.8', new AbortController().signal))).status).toBe(200);
  });
});
