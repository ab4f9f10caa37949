/**
 * Red-team finding: each route read `Authorization` with its own pattern, so `bearer <token>` worked at the capacity
 * bootstrap and not at the agent bootstrap, callbacks, the OIDC token route or /metrics. One parser
 * (src/server/auth-header.ts) now serves them all: `Bearer` or `token`, any case, exactly one credential.
 */
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildOrderJob } from '../../runners/order-job.ts';
import { bearerCredential } from '../../src/server/auth-header.ts';
import { AGENT_BOOTSTRAP_PATH, createBootstrapRoute } from '../../src/server/bootstrap-route.ts';
import { mintBootstrapToken } from '../../src/server/bootstrap-tokens.ts';
import { createRouter } from '../../src/server/router.ts';
import type { EmbeddedStore } from '../../src/store/embedded.ts';
import { createIsolatedStore, makeOrder, makeRun, startTestStore } from '../helpers/dynalite.ts';

const NOW = Date.now();

let embedded: EmbeddedStore;
beforeAll(async () => {
  embedded = await startTestStore();
});
afterAll(async () => {
  await embedded.close();
});

describe('Authorization headers', () => {
  it.each([
    ['Bearer abc.DEF-_~+/=', 'abc.DEF-_~+/='],
    ['bearer abc', 'abc'],
    ['BEARER abc', 'abc'],
    ['token abc', 'abc'],
    ['Token  abc', 'abc'],
    ['Bearer abc b', undefined],
    ['Bearer ', undefined],
    ['Bearer', undefined],
    ['Basic dXNlcjpwYXNz', undefined],
    ['Bearerabc', undefined],
    [' Bearer abc', undefined],
    ['Bearer a\tb', undefined],
    [undefined, undefined],
  ])('%j carries %j', (header, credential) => {
    expect(bearerCredential(header)).toBe(credential);
  });

  it('the agent bootstrap takes a lower-case scheme and refuses two credentials', async () => {
    const store = await createIsolatedStore(embedded.client);
    const run = makeRun('run-1', { orderCount: 1 });
    await store.createRun(run, [makeOrder('run-1', 'build', { state: 'dispatching' })]);
    const router = createRouter([
      createBootstrapRoute({
        store,
        secret: 'x'.repeat(32),
        reportUrl: 'https://ci.example.com/api/agent/report',
        now: () => NOW,
        jobFor: (r, o) => Promise.resolve(buildOrderJob(r, o, {}, 'https://github.com/octo/app.git')),
      }),
    ]);
    const post = async (authorization: string): Promise<number> =>
      (
        await router.handle({
          method: 'POST',
          path: AGENT_BOOTSTRAP_PATH,
          query: new URLSearchParams(),
          headers: { authorization },
          signal: new AbortController().signal,
          log: pino({ level: 'silent' }),
          readBody: () => Promise.resolve(Buffer.alloc(0)),
        })
      ).status;
    const token = await mintBootstrapToken(
      store,
      'order',
      { runId: 'run-1', orderId: 'build', attempt: 1 },
      60_000,
      NOW,
    );
    expect(await post(`Bearer ${token} ${token}`)).toBe(401);
    expect(await post(`bearer ${token}`)).toBe(200);
  });
});
