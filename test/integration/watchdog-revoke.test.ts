/**
 * The external watchdog (`spotcheck watchdog`, src/app/operations.ts) ends a stuck order as serve would, its
 * `GITHUB_TOKEN` included: revoked with `DELETE /installation/token`, authenticated as that token (GitHub, "Revoke an
 * installation access token"), checked against GitHub's OpenAPI description by the nock harness. A token GitHub
 * already let expire (401) is no failure; the order ends either way and the kept token is gone.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openOperations } from '../../src/app/operations.ts';
import { createOrderTokens, ORDER_TOKEN_DOC_KIND } from '../../src/app/order-tokens.ts';
import { readServerSettings } from '../../src/app/settings.ts';
import { defaultConfig } from '../../src/config.ts';
import type { Reporter } from '../../src/orchestrator.ts';
import type { DynamoStore } from '../../src/store/dynamodb.ts';
import type { EmbeddedStore } from '../../src/store/embedded.ts';
import { createIsolatedStore, makeOrder, makeRun, startTestStore } from '../helpers/dynalite.ts';
import { FakeForge } from '../helpers/fake-forge.ts';
import { testPrivateKey, useGitHubApi } from '../helpers/github-api.ts';

const NOW = Date.UTC(2025, 0, 31, 9, 0, 0);
const ENV = {
  APP_ID: '12345',
  PRIVATE_KEY: testPrivateKey(),
  WEBHOOK_SECRET: 'a webhook secret of some length',
  APP_SLUG: 'spotcheck-test',
};
/** Statuses and comments are not what this test is about. */
const quietReporter: Reporter = { orderChanged: () => Promise.resolve(), runChanged: () => Promise.resolve() };

const api = useGitHubApi();
let embedded: EmbeddedStore;
let dir: string;

beforeAll(async () => {
  embedded = await startTestStore();
  dir = await mkdtemp(join(tmpdir(), 'spotcheck-watchdog-revoke-'));
});
afterAll(async () => {
  await embedded.close();
  await rm(dir, { recursive: true, force: true });
});

/** A running order past its deadline on a local route, with its GITHUB_TOKEN kept as serve keeps it. */
async function stuckOrder(store: DynamoStore, runId: string): Promise<string> {
  const run = makeRun(runId, { orderCount: 1, installationId: 42, trust: 'member' });
  const order = makeOrder(runId, 'build', {
    state: 'running',
    runner: 'local',
    handle: 'pid-1',
    startedAt: NOW - 20 * 60_000,
    deadline: NOW - 60_000,
    permissions: { contents: 'read' },
  });
  await store.createRun(run, [order]);
  const { agentSecret } = await readServerSettings(ENV);
  const tokens = createOrderTokens({
    store,
    forgeFor: () => Promise.resolve(new FakeForge({ kind: 'github' })),
    secret: agentSecret,
    logger: pino({ level: 'silent' }),
    now: () => NOW,
  });
  const token = await tokens.issue(run, order);
  if (token === undefined) throw new Error('the fake forge minted no token');
  return token;
}

async function tickOnce(store: DynamoStore): Promise<void> {
  const ops = await openOperations({
    config: defaultConfig({ dataDir: dir }),
    env: ENV,
    logger: pino({ level: 'silent' }),
    now: () => NOW,
    store,
    reporter: quietReporter,
  });
  try {
    await ops.tick();
  } finally {
    await ops.close();
  }
}

describe('the external watchdog revokes the GITHUB_TOKEN of an order it ends', () => {
  it('times the order out and revokes its token with the token itself', async () => {
    const store = await createIsolatedStore(embedded.client, { now: () => NOW });
    const token = await stuckOrder(store, 'run-stuck');
    api().delete('/installation/token').reply(204);

    await tickOnce(store);

    expect((await store.getOrder('run-stuck', 'build'))?.state).toBe('timed_out');
    const [revoke] = api().requests();
    expect(api().requests()).toHaveLength(1);
    expect(revoke?.endpoint).toBe('DELETE /installation/token');
    expect(revoke?.headers.authorization).toBe(`token ${token}`);
    expect(await store.getDoc(ORDER_TOKEN_DOC_KIND, 'run-stuck/build/1')).toBeUndefined();
    // A second tick finds nothing more to end or revoke (an unexpected request would fail the harness).
    await tickOnce(store);
  });

  it('tolerates a token that already expired (401)', async () => {
    const store = await createIsolatedStore(embedded.client, { now: () => NOW });
    await stuckOrder(store, 'run-expired');
    api().delete('/installation/token').reply(401, { message: 'Bad credentials', status: '401' });

    await tickOnce(store);

    expect((await store.getOrder('run-expired', 'build'))?.state).toBe('timed_out');
    expect(api().requests()).toHaveLength(1);
    expect(await store.getDoc(ORDER_TOKEN_DOC_KIND, 'run-expired/build/1')).toBeUndefined();
  });
});
