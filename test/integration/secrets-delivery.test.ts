import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CallSecrets, RunTrust } from '../../src/core/types.ts';
import { mintBootstrapToken } from '../../src/server/bootstrap-tokens.ts';
import { AGENT_BOOTSTRAP_PATH, createBootstrapRoute, type BootstrapAnswer } from '../../src/server/bootstrap-route.ts';
import { orderSecretsReader } from '../../src/server/order-secrets.ts';
import { createRouter, type Router } from '../../src/server/router.ts';
import { localDataKeys } from '../../src/store/data-keys.ts';
import { createDynamoStore, type DynamoStore } from '../../src/store/dynamodb.ts';
import type { EmbeddedStore } from '../../src/store/embedded.ts';
import { createSecretStore } from '../../src/store/secret-store.ts';
import { buildOrderJob } from '../../runners/order-job.ts';
import { renderUserData } from '../../runners/user-data.ts';
import { createIsolatedStore, makeOrder, makeRun, REPO, startTestStore } from '../helpers/dynalite.ts';

const VALUES = { ORG_TOKEN: 'org-value-9f8e', REPO_PUBLIC: 'public-value-7d6c', DEPLOY_KEY: 'prod-value-5b4a' };
let embedded: EmbeddedStore;
let store: DynamoStore;
let dir: string;
let router: Router;
const logLines: string[] = [];

beforeAll(async () => {
  embedded = await startTestStore();
  store = await createIsolatedStore(embedded.client);
  dir = await mkdtemp(join(tmpdir(), 'spotcheck-delivery-'));
  const secrets = createSecretStore({
    client: embedded.client,
    table: `test-delivery-${String(process.pid)}`,
    keys: localDataKeys(join(dir, 'secrets.key')),
  });
  await createDynamoStore({ client: embedded.client, table: `test-delivery-${String(process.pid)}` }).ensureTable();
  await secrets.set(
    { level: 'org', forge: 'github', host: 'github.com', owner: 'octo' },
    'ORG_TOKEN',
    VALUES.ORG_TOKEN,
    {
      outsiders: false,
    },
  );
  await secrets.set({ level: 'repo', repo: REPO }, 'REPO_PUBLIC', VALUES.REPO_PUBLIC, { outsiders: true });
  await secrets.set({ level: 'environment', repo: REPO, environment: 'prod' }, 'DEPLOY_KEY', VALUES.DEPLOY_KEY, {
    outsiders: false,
  });
  router = createRouter([
    createBootstrapRoute({
      store,
      secret: 'x'.repeat(32),
      reportUrl: 'https://ci.example.com/api/agent/report',
      now: () => Date.now(),
      jobFor: (run, order) => Promise.resolve(buildOrderJob(run, order, {}, 'https://example.com/octo/app.git')),
      secretsFor: orderSecretsReader(secrets),
    }),
  ]);
});

afterAll(async () => {
  await embedded.close();
  await rm(dir, { recursive: true, force: true });
});

let runs = 0;
async function exchange(
  trust: RunTrust | undefined,
  environment?: string,
  secretsPassed?: readonly CallSecrets[],
): Promise<BootstrapAnswer> {
  const runId = `run-${String(++runs)}`;
  const run = makeRun(runId, { orderCount: 1, ...(trust === undefined ? {} : { trust }) });
  await store.createRun(run, [
    makeOrder(runId, 'deploy', {
      state: 'dispatching',
      ...(environment ? { environment: { name: environment } } : {}),
      ...(secretsPassed ? { secretsPassed } : {}),
    }),
  ]);
  const token = await mintBootstrapToken(store, 'order', { runId, orderId: 'deploy', attempt: 1 }, 60_000);
  const log = pino({ level: 'debug' }, { write: (line: string) => void logLines.push(line) });
  const res = await router.handle({
    method: 'POST',
    path: AGENT_BOOTSTRAP_PATH,
    query: new URLSearchParams(),
    headers: { authorization: `Bearer ${token}` },
    signal: new AbortController().signal,
    log,
    readBody: () => Promise.resolve(Buffer.alloc(0)),
  });
  expect(res.status).toBe(200);
  return JSON.parse(typeof res.body === 'string' ? res.body : '{}') as BootstrapAnswer;
}

describe('secrets in the bootstrap exchange', () => {
  it('a member run naming the environment gets org, repo and environment secrets', async () => {
    expect((await exchange('member', 'prod')).job.secrets).toEqual(VALUES);
  });

  it('a member run without an environment gets org and repo secrets', async () => {
    expect((await exchange('member')).job.secrets).toEqual({
      ORG_TOKEN: VALUES.ORG_TOKEN,
      REPO_PUBLIC: VALUES.REPO_PUBLIC,
    });
  });

  it('a called workflow’s job gets what each call passes: inherit, a renaming map, none; its environment’s own', async () => {
    expect((await exchange('member', undefined, ['inherit'])).job.secrets).toEqual({
      ORG_TOKEN: VALUES.ORG_TOKEN,
      REPO_PUBLIC: VALUES.REPO_PUBLIC,
    });
    // `secrets: { token: ${{ secrets.ORG_TOKEN }} }` one level up, then `inherit`: only the renamed one arrives.
    const renamed = await exchange('member', undefined, [{ token: '${{ secrets.ORG_TOKEN }}' }, 'inherit']);
    expect(renamed.job.secrets).toEqual({ TOKEN: VALUES.ORG_TOKEN });
    // A call without `secrets:` passes none; the called job's environment still gives its own.
    expect((await exchange('member', undefined, [{}])).job.secrets ?? {}).toEqual({});
    expect((await exchange('member', 'prod', [{}])).job.secrets).toEqual({ DEPLOY_KEY: VALUES.DEPLOY_KEY });
    // An outsider's run passes only what it was given.
    expect((await exchange('approved-outsider', undefined, ['inherit'])).job.secrets).toEqual({
      REPO_PUBLIC: VALUES.REPO_PUBLIC,
    });
  });

  it("an approved outsider's run gets only the flagged one, even naming the environment; no trust recorded is the same", async () => {
    expect((await exchange('approved-outsider', 'prod')).job.secrets).toEqual({ REPO_PUBLIC: VALUES.REPO_PUBLIC });
    expect((await exchange(undefined)).job.secrets).toEqual({ REPO_PUBLIC: VALUES.REPO_PUBLIC });
  });

  it('no value reaches the server log, nor the user data a cloud launch renders', () => {
    expect(logLines.length).toBeGreaterThan(0);
    const rendered = renderUserData({
      bootstrapUrl: 'https://ci.example.com/api/agent/bootstrap',
      bootstrapToken: 'A'.repeat(43),
      maxLifetimeMinutes: 60,
    });
    for (const value of Object.values(VALUES)) {
      for (const line of logLines) expect(line).not.toContain(value);
      expect(rendered.script).not.toContain(value);
      expect(Buffer.from(rendered.base64, 'base64').toString('utf8')).not.toContain(value);
    }
  });
});
