import pino from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { OrderRecord, RunRecord } from '../../src/core/types.ts';
import { buildOrderJob } from '../../runners/order-job.ts';
import { BOOTSTRAP_DOC_KIND, hashBootstrapToken, mintBootstrapToken } from '../../src/server/bootstrap-tokens.ts';
import {
  AGENT_BOOTSTRAP_PATH,
  DEFAULT_REPORT_TOKEN_SLACK_MS,
  createBootstrapRoute,
  type BootstrapAnswer,
} from '../../src/server/bootstrap-route.ts';
import { verifyOrderToken } from '../../src/server/order-token.ts';
import { createRouter, type Router, type RouterResponse } from '../../src/server/router.ts';
import type { DynamoStore } from '../../src/store/dynamodb.ts';
import type { EmbeddedStore } from '../../src/store/embedded.ts';
import { createIsolatedStore, makeOrder, makeRun, startTestStore } from '../helpers/dynalite.ts';

const SECRET = 'x'.repeat(32);
const NOW = Date.now();
const TTL = 10 * 60_000;
const CLONE_URL = 'https://x-access-token:ghs_secret@github.com/octo/app.git';

let embedded: EmbeddedStore;
let store: DynamoStore;
let clock: number;
let jobCalls: { run: RunRecord; order: OrderRecord }[];
let jobFails: number;
let router: Router;

beforeAll(async () => {
  embedded = await startTestStore();
});
afterAll(async () => {
  await embedded.close();
});
beforeEach(async () => {
  store = await createIsolatedStore(embedded.client);
  clock = NOW;
  jobCalls = [];
  jobFails = 0;
  router = createRouter([
    createBootstrapRoute({
      store,
      secret: SECRET,
      reportUrl: 'https://ci.example.com/api/agent/report',
      logUrl: (run, order) => `https://ci.example.com/runs/${run.runId}/orders/${order.id}/log`,
      now: () => clock,
      jobFor: (run, order) => {
        jobCalls.push({ run, order });
        if (jobFails > 0) {
          jobFails--;
          return Promise.reject(new Error('the forge is down'));
        }
        return Promise.resolve(buildOrderJob(run, order, {}, CLONE_URL));
      },
    }),
  ]);
});

async function seed(order: Partial<OrderRecord> = {}): Promise<{ run: RunRecord; token: string }> {
  const run = makeRun('run-1', { orderCount: 1 });
  await store.createRun(run, [makeOrder('run-1', 'build', { state: 'dispatching', ...order })]);
  const token = await mintBootstrapToken(store, 'order', { runId: 'run-1', orderId: 'build', attempt: 1 }, TTL, NOW);
  return { run, token };
}

function post(authorization: string | undefined): Promise<RouterResponse> {
  return router.handle({
    method: 'POST',
    path: AGENT_BOOTSTRAP_PATH,
    query: new URLSearchParams(),
    headers: authorization === undefined ? {} : { authorization },
    signal: new AbortController().signal,
    log: pino({ level: 'silent' }),
    readBody: () => Promise.resolve(Buffer.alloc(0)),
  });
}

function body(res: RouterResponse): BootstrapAnswer {
  return JSON.parse(textOf(res)) as BootstrapAnswer;
}

function textOf(res: RouterResponse): string {
  const { body } = res;
  return typeof body === 'string' ? body : Buffer.isBuffer(body) ? body.toString('utf8') : '';
}

describe('POST /api/agent/bootstrap', () => {
  it('exchanges a fresh token for the job, a report token bound to the order, and the URLs', async () => {
    const { run, token } = await seed();
    const res = await post(`Bearer ${token}`);
    expect(res.status).toBe(200);
    expect(res.headers?.['cache-control']).toBe('no-store');
    const answer = body(res);
    expect(answer.reportUrl).toBe('https://ci.example.com/api/agent/report');
    expect(answer.logUrl).toBe('https://ci.example.com/runs/run-1/orders/build/log');
    expect(answer.job.ref).toEqual({ runId: 'run-1', orderId: 'build', attempt: 1 });
    expect(answer.job.cloneUrl).toBe(CLONE_URL);
    expect(answer.job.sha).toBe(run.sha);
    expect(jobCalls).toHaveLength(1);
    expect(jobCalls[0]?.order.id).toBe('build');
    const verdict = verifyOrderToken(SECRET, answer.reportToken, NOW);
    expect(verdict).toEqual({
      ok: true,
      claims: {
        runId: 'run-1',
        orderId: 'build',
        attempt: 1,
        sha: run.sha,
        // The order's 10-minute timeout plus room for the final report's retries.
        expiresAt: NOW + 10 * 60_000 + DEFAULT_REPORT_TOKEN_SLACK_MS,
      },
    });
  });

  it('exchanges a token once: the second presentation is refused and builds no job', async () => {
    const { token } = await seed();
    expect((await post(`Bearer ${token}`)).status).toBe(200);
    const again = await post(`Bearer ${token}`);
    expect(again.status).toBe(401);
    expect(again.headers?.['www-authenticate']).toBe('Bearer');
    expect(jobCalls).toHaveLength(1);
  });

  it('lets exactly one of two concurrent exchanges win', async () => {
    const { token } = await seed();
    const answers = await Promise.all([post(`Bearer ${token}`), post(`Bearer ${token}`), post(`Bearer ${token}`)]);
    expect(answers.map((a) => a.status).sort()).toEqual([200, 401, 401]);
    expect(jobCalls).toHaveLength(1);
  });

  it('refuses an expired token', async () => {
    const { token } = await seed();
    clock = NOW + TTL;
    expect((await post(`Bearer ${token}`)).status).toBe(401);
    expect(jobCalls).toHaveLength(0);
  });

  it.each([
    ['no header', undefined],
    ['another scheme', 'Basic dXNlcjpwYXNz'],
    ['an empty bearer', 'Bearer '],
    ['a malformed token', 'Bearer not-a-token'],
    ['an unknown well-formed token', `Bearer ${'A'.repeat(43)}`],
  ])('refuses %s with 401', async (_name, header) => {
    await seed();
    expect((await post(header)).status).toBe(401);
    expect(jobCalls).toHaveLength(0);
  });

  it.each([
    ['finished', { state: 'succeeded' as const }],
    ['cancelled', { state: 'cancelled' as const }],
    ['at another attempt', { attempt: 2 }],
  ])('refuses an order that is %s with 409', async (_name, order) => {
    const { token } = await seed(order);
    const res = await post(`Bearer ${token}`);
    expect(res.status).toBe(409);
    expect(jobCalls).toHaveLength(0);
  });

  it('refuses a token whose order does not exist with 409', async () => {
    const token = await mintBootstrapToken(store, 'order', { runId: 'gone', orderId: 'x', attempt: 1 }, TTL, NOW);
    expect((await post(`Bearer ${token}`)).status).toBe(409);
  });

  it('gives the token back when the job cannot be built, so the agent retry works', async () => {
    const { token } = await seed();
    jobFails = 1;
    const first = await post(`Bearer ${token}`);
    expect(first.status).toBe(503);
    expect(textOf(first)).not.toContain('forge');
    const second = await post(`Bearer ${token}`);
    expect(second.status).toBe(200);
    expect(jobCalls).toHaveLength(2);
    expect((await post(`Bearer ${token}`)).status).toBe(401);
  });

  it('keeps only the hash of the token in the store', async () => {
    const { token } = await seed();
    expect(await store.getDoc(BOOTSTRAP_DOC_KIND, token)).toBeUndefined();
    const doc = await store.getDoc(BOOTSTRAP_DOC_KIND, hashBootstrapToken(token));
    expect(doc?.value).toEqual({ kind: 'order', runId: 'run-1', orderId: 'build', attempt: 1, expiresAt: NOW + TTL });
    expect(JSON.stringify(doc)).not.toContain(token);
  });

  it('mints distinct 256-bit base64url tokens', async () => {
    const ref = { runId: 'r', orderId: 'o', attempt: 1 };
    const tokens = await Promise.all(
      Array.from({ length: 5 }, () => mintBootstrapToken(store, 'order', ref, TTL, NOW)),
    );
    expect(new Set(tokens).size).toBe(5);
    for (const token of tokens) expect(Buffer.from(token, 'base64url')).toHaveLength(32);
  });
});
