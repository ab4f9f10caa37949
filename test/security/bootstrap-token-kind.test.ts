/**
 * Red-team finding: a bootstrap token shown at the wrong endpoint was used up there. An order's token at the
 * capacity exchange, or a capacity runner's token at the agent bootstrap, was claimed before its kind was looked at,
 * so the instance it was meant for could no longer exchange it. Replayed through both endpoints on one store: the
 * wrong endpoint refuses (401) and the right one still answers.
 */
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildOrderJob } from '../../runners/order-job.ts';
import { createCapacityManager } from '../../src/capacity/capacity-manager.ts';
import { AGENT_BOOTSTRAP_PATH, createBootstrapRoute } from '../../src/server/bootstrap-route.ts';
import { mintBootstrapToken } from '../../src/server/bootstrap-tokens.ts';
import { CAPACITY_BOOTSTRAP_PATH, createCapacityBootstrapRoute } from '../../src/server/capacity-routes.ts';
import { createRouter, type Router } from '../../src/server/router.ts';
import type { DynamoStore } from '../../src/store/dynamodb.ts';
import type { EmbeddedStore } from '../../src/store/embedded.ts';
import { createIsolatedStore, makeOrder, makeRun, startTestStore } from '../helpers/dynalite.ts';

const NOW = Date.now();
const TTL = 10 * 60_000;
const ORDER = { runId: 'run-1', orderId: 'build', attempt: 1 } as const;
/** A capacity runner's token: the pseudo-run `capacity`, the runner's name as the order. */
const RUNNER = { runId: 'capacity', orderId: 'spotcheck-cap-1', attempt: 1 } as const;

let embedded: EmbeddedStore;
beforeAll(async () => {
  embedded = await startTestStore();
});
afterAll(async () => {
  await embedded.close();
});

async function setup(): Promise<{ store: DynamoStore; router: Router }> {
  const store = await createIsolatedStore(embedded.client);
  const run = makeRun(ORDER.runId, { orderCount: 1 });
  await store.createRun(run, [makeOrder(ORDER.runId, ORDER.orderId, { state: 'dispatching' })]);
  const manager = createCapacityManager({
    store,
    routes: new Map(),
    forges: { forInstallation: () => Promise.reject(new Error('no forge in this test')) },
    ec2: () => {
      throw new Error('no EC2 in this test');
    },
    bootstrapUrl: 'https://ci.example.com/api/capacity/bootstrap',
    clock: () => NOW,
  });
  const router = createRouter([
    createBootstrapRoute({
      store,
      secret: 'x'.repeat(32),
      reportUrl: 'https://ci.example.com/api/agent/report',
      now: () => NOW,
      jobFor: (r, o) => Promise.resolve(buildOrderJob(r, o, {}, 'https://github.com/octo/app.git')),
    }),
    createCapacityBootstrapRoute(manager),
  ]);
  return { store, router };
}

async function post(router: Router, path: string, token: string): Promise<number> {
  const res = await router.handle({
    method: 'POST',
    path,
    query: new URLSearchParams(),
    headers: { authorization: `Bearer ${token}` },
    signal: new AbortController().signal,
    log: pino({ level: 'silent' }),
    readBody: () => Promise.resolve(Buffer.alloc(0)),
  });
  return res.status;
}

describe('bootstrap tokens at the wrong endpoint', () => {
  it('an order token shown at the capacity exchange is refused and still bootstraps its agent', async () => {
    const { store, router } = await setup();
    const token = await mintBootstrapToken(store, 'order', ORDER, TTL, NOW);
    expect(await post(router, CAPACITY_BOOTSTRAP_PATH, token)).toBe(401);
    expect(await post(router, AGENT_BOOTSTRAP_PATH, token)).toBe(200);
  });

  it('a capacity token shown at the agent bootstrap is refused and still reaches the capacity exchange', async () => {
    const { store, router } = await setup();
    const token = await mintBootstrapToken(store, 'capacity', RUNNER, TTL, NOW);
    expect(await post(router, AGENT_BOOTSTRAP_PATH, token)).toBe(401);
    // Not used up: the exchange takes it and finds no such runner (409), rather than refusing a used token (401).
    expect(await post(router, CAPACITY_BOOTSTRAP_PATH, token)).toBe(409);
  });
});
