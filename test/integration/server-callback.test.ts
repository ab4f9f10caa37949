import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Orchestrator } from '../../src/orchestrator.ts';
import { startEmbeddedStore, type EmbeddedStore } from '../../src/store/embedded.ts';
import { AGENT_REPORT_PATH, createCallbackRoute, MAX_LOG_CHUNK_BYTES } from '../../src/server/callback-route.ts';
import { createFileLogStore } from '../../src/server/log-store.ts';
import { createHttpServer, listenHttp, type ListeningServer } from '../../src/server/node-http.ts';
import { signOrderToken, type OrderTokenClaims } from '../../src/server/order-token.ts';
import { createRouter } from '../../src/server/router.ts';
import { logPath } from '../../runners/local.ts';
import { createOrchestratorHarness, testRunInput } from '../helpers/orchestrator-harness.ts';
import { plan, spec } from '../helpers/plans.ts';

const SECRET = 'k'.repeat(32);
const SHA = 'b'.repeat(40);
const logger = pino({ level: 'silent' });

let embedded: EmbeddedStore;
let listening: ListeningServer;
let orchestrator: Orchestrator;
let dataDir: string;
const clock = Date.now();

beforeAll(async () => {
  embedded = await startEmbeddedStore({});
  dataDir = await mkdtemp(path.join(tmpdir(), 'spotcheck-callback-'));
  // The runner launches and stays silent: every report in these tests comes over HTTP, as from a cloud agent.
  ({ orchestrator } = createOrchestratorHarness({
    store: embedded.store,
    limits: { maxConcurrentOrders: 100, maxAttempts: 3 },
    conclude: () => 'hang',
    logger,
  }));
  const route = createCallbackRoute({
    store: embedded.store,
    sink: orchestrator,
    logs: createFileLogStore(dataDir),
    secret: SECRET,
    now: () => clock,
  });
  listening = await listenHttp(createHttpServer(createRouter([route]), { logger }), { port: 0, host: '127.0.0.1' });
});
afterAll(async () => {
  await listening.close();
  await embedded.close();
  await rm(dataDir, { recursive: true, force: true });
});

let runs = 0;
/** A run of two independent orders, `build` and `lint`, both dispatched and waiting for their agents. */
async function startRun(): Promise<string> {
  const runId = `cb-${String(++runs)}`;
  await orchestrator.startRun(
    testRunInput({
      runId,
      repo: { forge: 'github', host: 'github.com', owner: 'o', name: 'n' },
      plan: plan([spec('build'), spec('lint')]),
      sha: SHA,
      actor: 'alice',
    }),
  );
  return runId;
}

function token(runId: string, overrides: Partial<OrderTokenClaims> = {}, secret = SECRET): string {
  return signOrderToken(secret, {
    runId,
    orderId: 'build',
    attempt: 1,
    sha: SHA,
    expiresAt: clock + 3_600_000,
    ...overrides,
  });
}

async function post(
  bearer: string | undefined,
  body: unknown,
  raw?: string,
): Promise<{ status: number; text: string }> {
  const res = await fetch(`${listening.url}${AGENT_REPORT_PATH}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(bearer === undefined ? {} : { authorization: `Bearer ${bearer}` }),
    },
    body: raw ?? JSON.stringify(body),
  });
  return { status: res.status, text: await res.text() };
}

async function state(runId: string, orderId: string): Promise<[string, number] | undefined> {
  const order = await embedded.store.getOrder(runId, orderId);
  return order && [order.state, order.attempt];
}

const FINISHED = { type: 'finished', conclusion: 'success', outputs: { version: '1.2.3' }, stepResults: [] };

describe('POST /api/agent/report', () => {
  it('a good running then finished moves the order, and nothing moves it after that', async () => {
    const runId = await startRun();
    expect(await state(runId, 'build')).toEqual(['dispatching', 1]);
    expect((await post(token(runId), { type: 'running' })).status).toBe(204);
    expect(await state(runId, 'build')).toEqual(['running', 1]);
    const step = { index: 0, name: 'make', outcome: 'success', conclusion: 'success', exitCode: 0, durationMs: 12 };
    expect((await post(token(runId), { type: 'step', result: step })).status).toBe(204);
    expect((await post(token(runId), { ...FINISHED, stepResults: [step] })).status).toBe(204);
    const order = await embedded.store.getOrder(runId, 'build');
    expect([order?.state, order?.result, order?.outputs]).toEqual(['succeeded', 'success', { version: '1.2.3' }]);
    // Finished: a replay, a late log line, or a contradicting verdict are all refused.
    for (const report of [FINISHED, { type: 'log', chunk: 'late\n' }, { ...FINISHED, conclusion: 'failure' }])
      expect(await post(token(runId), report)).toEqual({ status: 409, text: 'the order is finished\n' });
    expect(await state(runId, 'build')).toEqual(['succeeded', 1]);
    expect(await state(runId, 'lint')).toEqual(['dispatching', 1]);
  });

  it.each([
    ['no token', undefined],
    ['a token made with another secret', 'forged'],
    ['a token with a tampered order', 'tampered'],
    ['an expired token', 'expired'],
    ['a malformed token', 'not-a-token'],
  ])('refuses %s with 401 and changes nothing', async (_name, kind) => {
    const runId = await startRun();
    const bearer =
      kind === 'forged'
        ? token(runId, {}, 'x'.repeat(32))
        : kind === 'tampered'
          ? `${Buffer.from(JSON.stringify({ runId, orderId: 'build', attempt: 1, sha: SHA, expiresAt: clock * 2 })).toString('base64url')}.${token(runId, { orderId: 'lint' }).split('.')[1] ?? ''}`
          : kind === 'expired'
            ? token(runId, { expiresAt: clock - 1 })
            : (kind ?? undefined);
    const res = await post(bearer, FINISHED);
    expect(res.status).toBe(401);
    expect(res.text).toBe(kind === 'expired' ? 'token expired\n' : 'invalid token\n');
    expect(await state(runId, 'build')).toEqual(['dispatching', 1]);
  });

  it("another order's token cannot touch this order, and the body cannot name one", async () => {
    const runId = await startRun();
    const lint = token(runId, { orderId: 'lint' });
    expect((await post(lint, { ...FINISHED, conclusion: 'failure' })).status).toBe(204);
    expect(await state(runId, 'lint')).toEqual(['failed', 1]);
    expect(await state(runId, 'build')).toEqual(['dispatching', 1]);
    for (const smuggled of [
      { ...FINISHED, orderId: 'build' },
      { ...FINISHED, ref: { runId, orderId: 'build', attempt: 1 } },
      { type: 'running', runId },
    ]) {
      const res = await post(token(runId, { orderId: 'lint' }), smuggled);
      expect(res.status).toBe(400);
      expect(res.text).toMatch(/^unknown field/);
    }
    expect(await state(runId, 'build')).toEqual(['dispatching', 1]);
  });

  it('refuses a superseded attempt with 409; the new attempt is accepted', async () => {
    const runId = await startRun();
    expect((await post(token(runId), { type: 'running' })).status).toBe(204);
    expect((await post(token(runId), { type: 'interrupted', reason: 'spot instance reclaimed' })).status).toBe(204);
    expect(await state(runId, 'build')).toEqual(['dispatching', 2]);
    // The old agent (attempt 1) comes back: refused, whatever it says.
    expect(await post(token(runId), FINISHED)).toEqual({ status: 409, text: 'the attempt was superseded\n' });
    expect((await post(token(runId), { type: 'running' })).status).toBe(409);
    expect(await state(runId, 'build')).toEqual(['dispatching', 2]);
    expect((await post(token(runId, { attempt: 2 }), { type: 'running' })).status).toBe(204);
    expect(await state(runId, 'build')).toEqual(['running', 2]);
  });

  it('refuses a token of another commit and an unknown order or run with 409', async () => {
    const runId = await startRun();
    for (const claims of [{ sha: 'c'.repeat(40) }, { orderId: 'deploy' }, { runId: 'no-such-run' }]) {
      const res = await post(token(runId, claims), { type: 'running' });
      expect(res).toEqual({ status: 409, text: 'the order is not known\n' });
    }
    expect(await state(runId, 'build')).toEqual(['dispatching', 1]);
  });

  it('appends log reports to the order log', async () => {
    const runId = await startRun();
    expect((await post(token(runId), { type: 'log', chunk: 'line 1\n' })).status).toBe(204);
    expect((await post(token(runId), { type: 'log', chunk: 'línea 2 ✓\n' })).status).toBe(204);
    const file = logPath(dataDir, { runId, orderId: 'build', attempt: 1 });
    expect(await readFile(file, 'utf8')).toBe('line 1\nlínea 2 ✓\n');
  });

  it.each([
    ['an unknown type', { type: 'exploded' }, 400],
    ['no type', { chunk: 'x' }, 400],
    ['an array', [{ type: 'running' }], 400],
    ['a number chunk', { type: 'log', chunk: 7 }, 400],
    ['a log chunk over 1 MiB', { type: 'log', chunk: 'x'.repeat(MAX_LOG_CHUNK_BYTES + 1) }, 400],
    ['a bad conclusion', { ...FINISHED, conclusion: 'skipped' }, 400],
    ['a bad output name', { ...FINISHED, outputs: { __proto__x: 'a', 'no spaces': 'b' } }, 400],
    ['a non-string output', { ...FINISHED, outputs: { n: 1 } }, 400],
    ['a bad step result', { ...FINISHED, stepResults: [{ index: -1 }] }, 400],
    ['an interrupted without reason', { type: 'interrupted' }, 400],
    ['a body over 2 MiB', { type: 'log', chunk: 'x'.repeat(2 * 1024 * 1024) }, 413],
  ])('refuses %s and changes nothing', async (_name, body, status) => {
    const runId = await startRun();
    expect((await post(token(runId), body)).status).toBe(status);
    expect(await state(runId, 'build')).toEqual(['dispatching', 1]);
  });

  it('refuses a body that is not JSON', async () => {
    const runId = await startRun();
    expect((await post(token(runId), undefined, '{"type":')).status).toBe(400);
  });
});
