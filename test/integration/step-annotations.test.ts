/**
 * What the runner's command protocol produces, server side (#14): annotations and step summaries travel in the
 * agent's reports through the callback route, are stored (summaries apart from the order record), and show on the
 * dashboard's order and run pages — sanitized.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Orchestrator } from '../../src/orchestrator.ts';
import { MAX_ANNOTATIONS_PER_STEP, MAX_STEP_SUMMARY_BYTES, STORED_SUMMARY_BYTES } from '../../src/core/step-results.ts';
import { AGENT_REPORT_PATH, createCallbackRoute } from '../../src/server/callback-route.ts';
import { createDashboardRoutes } from '../../src/server/dashboard/dashboard-routes.ts';
import { createFileLogStore } from '../../src/server/log-store.ts';
import { createHttpServer, listenHttp, type ListeningServer } from '../../src/server/node-http.ts';
import { signOrderToken } from '../../src/server/order-token.ts';
import { createRouter } from '../../src/server/router.ts';
import { startEmbeddedStore, type EmbeddedStore } from '../../src/store/embedded.ts';
import { STEP_SUMMARY_KIND } from '../../src/store/step-summaries.ts';
import { createOrchestratorHarness, testRunInput } from '../helpers/orchestrator-harness.ts';
import { plan, spec } from '../helpers/plans.ts';
import { openVisibility } from '../../src/server/auth/visibility.ts';

const SECRET = 'k'.repeat(32);
const SHA = 'c'.repeat(40);
const logger = pino({ level: 'silent' });

let embedded: EmbeddedStore;
let listening: ListeningServer;
let orchestrator: Orchestrator;
let dataDir: string;
const clock = Date.now();

beforeAll(async () => {
  embedded = await startEmbeddedStore({});
  dataDir = await mkdtemp(path.join(tmpdir(), 'spotcheck-annotations-'));
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
  const routes = [route, ...createDashboardRoutes({ store: embedded.store, visibility: openVisibility() })];
  listening = await listenHttp(createHttpServer(createRouter(routes), { logger }), { port: 0, host: '127.0.0.1' });
});
afterAll(async () => {
  await listening.close();
  await embedded.close();
  await rm(dataDir, { recursive: true, force: true });
});

let runs = 0;
async function startRun(): Promise<string> {
  const runId = `ann-${String(++runs)}`;
  await orchestrator.startRun(
    testRunInput({
      runId,
      repo: { forge: 'github', host: 'github.com', owner: 'o', name: 'n' },
      plan: plan([spec('build')]),
      sha: SHA,
      actor: 'alice',
    }),
  );
  return runId;
}

const bearer = (runId: string): string =>
  signOrderToken(SECRET, { runId, orderId: 'build', attempt: 1, sha: SHA, expiresAt: clock + 3_600_000 });

async function post(runId: string, body: unknown): Promise<{ status: number; text: string }> {
  const res = await fetch(`${listening.url}${AGENT_REPORT_PATH}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${bearer(runId)}` },
    body: JSON.stringify(body),
  });
  return { status: res.status, text: await res.text() };
}

async function page(p: string): Promise<string> {
  const res = await fetch(`${listening.url}${p}`);
  expect(res.status).toBe(200);
  return res.text();
}

const XSS_SUMMARY = [
  '## Test results',
  '',
  '| suite | passed |',
  '| --- | --- |',
  '| unit | 41 |',
  '',
  '<script>alert("summary")</script>',
  '<img src=x onerror="alert(1)">',
  '[click me](javascript:alert(1)) and [docs](https://example.org/docs)',
].join('\n');

const lint = {
  index: 0,
  name: 'lint',
  outcome: 'success',
  conclusion: 'success',
  exitCode: 0,
  durationMs: 5,
  annotations: [
    { level: 'warning', message: 'unused variable x', file: 'src/a.ts', line: 3, col: 7, title: 'no-unused' },
    { level: 'notice', message: 'consider <b>const</b>' },
  ],
  summary: XSS_SUMMARY,
};
const test = {
  index: 1,
  name: 'test',
  outcome: 'failure',
  conclusion: 'failure',
  exitCode: 1,
  durationMs: 9,
  annotations: [
    { level: 'error', message: 'expected 2, got 3', file: 'test/a.test.ts', line: 10, endLine: 12, col: 1 },
    { level: 'error', message: '<img src=x onerror=alert(2)>', title: 'boom' },
  ],
};

describe('annotations and step summaries through the callback route', () => {
  it('are stored (the summary apart) and shown on the order and run pages, sanitized', async () => {
    const runId = await startRun();
    expect((await post(runId, { type: 'running' })).status).toBe(204);
    expect((await post(runId, { type: 'step', result: lint })).status).toBe(204);

    // Live: the order record has the annotations and the mark, not the summary; the summary is its own document.
    const live = await embedded.store.getOrder(runId, 'build');
    expect(live?.stepResults?.[0]).toMatchObject({ hasSummary: true, annotations: lint.annotations });
    expect(live?.stepResults?.[0]).not.toHaveProperty('summary');
    const doc = await embedded.store.getDoc(STEP_SUMMARY_KIND, `${runId}/build/1/0`);
    expect(doc?.value['markdown']).toBe(XSS_SUMMARY);

    // The finished report leaves the summary out (it was sent with the step report): it stays known.
    const { summary: _sent, ...lintWithout } = lint;
    const finished = { type: 'finished', conclusion: 'failure', outputs: {}, stepResults: [lintWithout, test] };
    expect((await post(runId, finished)).status).toBe(204);
    const order = await embedded.store.getOrder(runId, 'build');
    expect(order?.state).toBe('failed');
    expect(order?.stepResults?.map((s) => [s.name, s.hasSummary ?? false, s.annotations?.length ?? 0])).toEqual([
      ['lint', true, 2],
      ['test', false, 2],
    ]);

    const orderPage = await page(`/runs/${runId}/orders/build`);
    expect(orderPage).toContain('2 errors, 1 warning, 1 notice');
    expect(orderPage.match(/data-level="error"/g)).toHaveLength(2);
    expect(orderPage).toContain('<code>src/a.ts:3:7</code>');
    expect(orderPage).toContain('<code>test/a.test.ts:10:1</code>');
    expect(orderPage).toContain('<strong>no-unused</strong>');
    expect(orderPage).toContain('&lt;img src=x onerror=alert(2)&gt;');
    expect(orderPage).toContain('consider &lt;b&gt;const&lt;/b&gt;');
    expect(orderPage).toContain(`href="/runs/${runId}#summary-build"`);

    const runPage = await page(`/runs/${runId}`);
    expect(runPage).toContain('<h2 id="summaries-heading">Step summaries</h2>');
    expect(runPage).toContain('<h2>Test results</h2>');
    expect(runPage).toContain('<td>unit</td>');
    expect(runPage).toContain('<a href="https://example.org/docs" rel="nofollow noopener noreferrer">docs</a>');
    // Nothing of the summary became markup: no script element beyond the page's own one, no handler, no js: link.
    expect(runPage.match(/<script/g)).toHaveLength(1);
    expect(runPage).not.toMatch(/<img|onerror="|href="javascript:/i);
    expect(runPage).toContain('&lt;script&gt;alert(&quot;summary&quot;)&lt;/script&gt;');
    expect(runPage).toContain('<dd id="run-annotations">2 errors, 1 warning, 1 notice</dd>');
  });

  it('a summary over the stored cap is cut and says so', async () => {
    const runId = await startRun();
    await post(runId, { type: 'running' });
    const line = `${'x'.repeat(99)}\n`;
    const big = line.repeat(Math.ceil((STORED_SUMMARY_BYTES * 2) / line.length));
    const step = { index: 0, name: 'big', outcome: 'success', conclusion: 'success', durationMs: 1, summary: big };
    expect((await post(runId, { type: 'step', result: step })).status).toBe(204);
    const stored = (await embedded.store.getDoc(STEP_SUMMARY_KIND, `${runId}/build/1/0`))?.value['markdown'];
    expect(typeof stored).toBe('string');
    expect(Buffer.byteLength(stored as string)).toBeLessThanOrEqual(STORED_SUMMARY_BYTES);
    expect(stored).toMatch(/The summary was cut here: 512 KiB written, 256 KiB kept/);
  });

  it.each([
    ['an unknown level', { annotations: [{ level: 'fatal', message: 'm' }] }, /level must be one of/],
    ['a line of 0', { annotations: [{ level: 'error', message: 'm', line: 0 }] }, /line must be a positive/],
    ['an unknown annotation key', { annotations: [{ level: 'error', message: 'm', x: 1 }] }, /unknown field "x"/],
    ['a message too long', { annotations: [{ level: 'error', message: 'm'.repeat(4097) }] }, /message must be/],
    [
      'too many annotations',
      { annotations: Array.from({ length: MAX_ANNOTATIONS_PER_STEP + 1 }, () => ({ level: 'notice', message: 'n' })) },
      /more than 50 annotations/,
    ],
    ['a summary over 1 MiB', { summary: 'é'.repeat(MAX_STEP_SUMMARY_BYTES / 2 + 1) }, /summary must be a string/],
    ['hasSummary sent by the agent', { hasSummary: true }, /unknown field "hasSummary"/],
  ])('refuses %s with 400 and stores nothing', async (_what, extra, error) => {
    const runId = await startRun();
    await post(runId, { type: 'running' });
    const step = { index: 0, name: 's', outcome: 'success', conclusion: 'success', durationMs: 1, ...extra };
    const res = await post(runId, { type: 'step', result: step });
    expect(res.status).toBe(400);
    expect(res.text).toMatch(error);
    expect((await embedded.store.getOrder(runId, 'build'))?.stepResults ?? []).toEqual([]);
  });
});
