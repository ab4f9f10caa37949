/**
 * Red-team finding: a 3,000-character run id in a URL was answered 500 (the store refused the over-long key). Ids
 * and names in URLs are checked at the edge (src/server/ids.ts): a malformed one names nothing, so the answer is
 * 404 on every route that takes one: the dashboard's run and order pages, logs (live tail included) and badges.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openVisibility } from '../../src/server/auth/visibility.ts';
import { createDashboardRoutes } from '../../src/server/dashboard/dashboard-routes.ts';
import { createLogRoute } from '../../src/server/log-route.ts';
import { createFileLogStore } from '../../src/server/log-store.ts';
import { createRouter, type Router } from '../../src/server/router.ts';
import { startEmbeddedStore, type EmbeddedStore } from '../../src/store/embedded.ts';

let embedded: EmbeddedStore;
let dir: string;
let router: Router;
beforeAll(async () => {
  embedded = await startEmbeddedStore({});
  dir = await mkdtemp(join(tmpdir(), 'spotcheck-long-ids-'));
  const visibility = openVisibility();
  router = createRouter([
    ...createDashboardRoutes({ store: embedded.store, visibility }),
    createLogRoute({ store: embedded.store, logs: createFileLogStore(dir), visibility, pollMs: 20 }),
  ]);
});
afterAll(async () => {
  await embedded.close();
  await rm(dir, { recursive: true, force: true });
});

const LONG = 'x'.repeat(3000);
const WIDE = 'é'.repeat(300); // 300 characters, 600 bytes
const CONTROL = encodeURIComponent('run\u0000id');

describe('malformed ids in URLs', () => {
  it.each([
    ['a run page, 3,000-character run id', `/runs/${LONG}`],
    ['an order page, 3,000-character run id', `/runs/${LONG}/orders/build`],
    ['an order page, 3,000-character order id', `/runs/r1/orders/${LONG}`],
    ['a log, both ids long', `/runs/${LONG}/orders/${LONG}/log`],
    ['a live log tail, long order id', `/runs/r1/orders/${LONG}/log?attempt=1`],
    ['a log, 600 bytes of UTF-8 in 300 characters', `/runs/${encodeURIComponent(WIDE)}/orders/build/log`],
    ['a run page, a NUL in the id', `/runs/${CONTROL}`],
    ['a badge, long owner', `/badge/${LONG}/app`],
    ['a workflow badge, long repository', `/badge/octo/${LONG}/ci`],
  ])('%s is 404', async (_name, url) => {
    const [path, search] = url.split('?');
    const res = await router.handle({
      method: 'GET',
      path: path!,
      query: new URLSearchParams(search ?? ''),
      headers: {},
      signal: new AbortController().signal,
      log: pino({ level: 'silent' }),
      readBody: () => Promise.resolve(Buffer.alloc(0)),
    });
    expect(res.status).toBe(404);
  });
});
