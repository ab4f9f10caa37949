import { appendFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedStore, type EmbeddedStore } from '../../src/store/embedded.ts';
import { createFileLogStore } from '../../src/server/log-store.ts';
import { createLogRoute, orderLogPath, type LogRouteOptions } from '../../src/server/log-route.ts';
import { createHttpServer, listenHttp, type ListeningServer } from '../../src/server/node-http.ts';
import { createRouter } from '../../src/server/router.ts';
import { logPath } from '../../runners/local.ts';
import type { OrderRef } from '../../runners/runner.ts';
import { makeOrder, makeRun } from '../helpers/dynalite.ts';
import { openVisibility } from '../../src/server/auth/visibility.ts';

const logger = pino({ level: 'silent' });
let embedded: EmbeddedStore;
let dataDir: string;
const servers: ListeningServer[] = [];

beforeAll(async () => {
  embedded = await startEmbeddedStore({});
  dataDir = await mkdtemp(path.join(tmpdir(), 'spotcheck-logs-'));
});
afterEach(async () => {
  for (const server of servers.splice(0)) await server.close();
});
afterAll(async () => {
  await embedded.close();
  await rm(dataDir, { recursive: true, force: true });
});

async function serve(opts: Partial<LogRouteOptions> = {}): Promise<string> {
  const route = createLogRoute({
    store: embedded.store,
    logs: createFileLogStore(dataDir),
    visibility: openVisibility(),
    pollMs: 20,
    ...opts,
  });
  const server = await listenHttp(createHttpServer(createRouter([route]), { logger }), {
    port: 0,
    host: '127.0.0.1',
  });
  servers.push(server);
  return server.url;
}

let runs = 0;
/** A run whose orders are in the given states (attempt 1 unless said otherwise). */
async function seedRun(
  orders: Record<string, { state: 'queued' | 'running' | 'succeeded' | 'skipped'; attempt?: number; reason?: string }>,
): Promise<string> {
  const runId = `log-${String(++runs)}`;
  const records = Object.entries(orders).map(([id, o]) =>
    makeOrder(runId, id, {
      state: o.state,
      attempt: o.attempt ?? 1,
      ...(o.reason === undefined ? {} : { reason: o.reason }),
    }),
  );
  await embedded.store.createRun(makeRun(runId, { orderCount: records.length }), records);
  return runId;
}

async function writeLog(ref: OrderRef, text: string): Promise<void> {
  const file = logPath(dataDir, ref);
  await mkdir(path.dirname(file), { recursive: true });
  await appendFile(file, text);
}

describe('GET /runs/:run/orders/:order/log', () => {
  it('streams a running order live and ends when the order finishes', async () => {
    const url = await serve();
    const runId = await seedRun({ build: { state: 'running' } });
    const ref = { runId, orderId: 'build', attempt: 1 };
    await writeLog(ref, 'line 1\n');
    const res = await fetch(`${url}${orderLogPath(runId, 'build')}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let seen = '';
    const readUntil = async (needle: string): Promise<void> => {
      while (!seen.includes(needle)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`the stream ended before "${needle}"; saw ${JSON.stringify(seen)}`);
        seen += value;
      }
    };
    await readUntil('line 1\n');
    // Written only after the reader saw line 1: it can arrive only by following the file.
    await writeLog(ref, 'line 2 ✓\n');
    await readUntil('line 2 ✓\n');
    await writeLog(ref, 'line 3\n');
    await embedded.store.updateOrder(runId, 'build', { states: ['running'] }, { state: 'succeeded' });
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      seen += value;
    }
    expect(seen).toBe('line 1\nline 2 ✓\nline 3\n');
  });

  it('answers a finished order with its whole log, at once', async () => {
    const url = await serve();
    const runId = await seedRun({ build: { state: 'succeeded' } });
    const big = Array.from({ length: 5000 }, (_, i) => `line ${String(i)} — ünïcödé\n`).join('');
    await writeLog({ runId, orderId: 'build', attempt: 1 }, big);
    const res = await fetch(`${url}${orderLogPath(runId, 'build')}`);
    expect(await res.text()).toBe(big);
  });

  it('answers a queued order with a short "waiting to start"', async () => {
    const url = await serve();
    const runId = await seedRun({ deploy: { state: 'queued' } });
    const res = await fetch(`${url}${orderLogPath(runId, 'deploy')}`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('deploy: waiting to start (its needs are not finished yet)\n');
  });

  it('says why a skipped order has no log', async () => {
    const url = await serve();
    const runId = await seedRun({ e2e: { state: 'skipped', reason: "if: github.event_name == 'testme' was false" } });
    const res = await fetch(`${url}${orderLogPath(runId, 'e2e')}`);
    expect(await res.text()).toBe(
      "[spotcheck] no log: the order was skipped: if: github.event_name == 'testme' was false\n",
    );
  });

  it('serves an earlier attempt with ?attempt= and ends it with a pointer to the current one', async () => {
    const url = await serve();
    const runId = await seedRun({ build: { state: 'running', attempt: 2 } });
    await writeLog({ runId, orderId: 'build', attempt: 1 }, 'first try\n');
    await writeLog({ runId, orderId: 'build', attempt: 2 }, 'second try\n');
    const res = await fetch(`${url}${orderLogPath(runId, 'build')}?attempt=1`);
    expect(await res.text()).toBe('first try\n\n[spotcheck] attempt 1 is over; attempt 2: ?attempt=2\n');
  });

  it('answers unknown runs, orders and attempts alike with 404, and a bad attempt with 400', async () => {
    const url = await serve();
    const runId = await seedRun({ build: { state: 'running' } });
    const answers = await Promise.all(
      [
        orderLogPath('no-such-run', 'build'),
        orderLogPath(runId, 'no-such-order'),
        `${orderLogPath(runId, 'build')}?attempt=2`,
        `${orderLogPath(runId, 'build')}?attempt=0`,
        `${orderLogPath(runId, 'build')}?attempt=1e3`,
      ].map(async (p) => {
        const res = await fetch(`${url}${p}`);
        return [res.status, await res.text()];
      }),
    );
    expect(answers).toEqual([
      [404, 'not found\n'],
      [404, 'not found\n'],
      [404, 'not found\n'],
      [400, 'attempt must be a positive integer\n'],
      [400, 'attempt must be a positive integer\n'],
    ]);
  });

  it('ends a live session at its cap with a note', async () => {
    let now = 0;
    // Each clock read is a minute later: the session cap is reached after a few polls, whatever the machine's speed.
    const url = await serve({ maxSessionMs: 3 * 60_000, now: () => (now += 60_000) });
    const runId = await seedRun({ build: { state: 'running' } });
    await writeLog({ runId, orderId: 'build', attempt: 1 }, 'still going\n');
    const res = await fetch(`${url}${orderLogPath(runId, 'build')}`);
    expect(await res.text()).toBe(
      'still going\n\n[spotcheck] live log session ended after 3 minutes; reload to follow on\n',
    );
  });

  it('reads a log written by an agent through the log store, whole characters only', async () => {
    const logs = createFileLogStore(dataDir);
    const ref = { runId: 'direct', orderId: 'o', attempt: 1 };
    expect(await logs.append(ref, 'ab✓')).toEqual({ ok: true });
    // 'ab' is 2 bytes, '✓' 3: a read of 3 bytes stops before the cut character.
    expect(await logs.read(ref, { offset: 0, maxBytes: 3 })).toEqual({ text: 'ab', size: 5, next: 2 });
    expect(await logs.read(ref, { offset: 2 })).toEqual({ text: '✓', size: 5, next: 5 });
    expect(await logs.read({ ...ref, attempt: 2 }, { offset: 0 })).toEqual({ text: '', size: 0, next: 0 });
    expect(await logs.isComplete(ref)).toBe(false);
    await logs.complete(ref);
    expect(await logs.isComplete(ref)).toBe(true);
  });

  it('caps a log store log and says so once', async () => {
    const logs = createFileLogStore(dataDir, { maxLogBytes: 10 });
    const ref = { runId: 'capped', orderId: 'o', attempt: 1 };
    expect(await logs.append(ref, '12345')).toEqual({ ok: true });
    expect(await logs.append(ref, '678901')).toEqual({ ok: false, reason: 'log-full' });
    expect(await logs.append(ref, 'x')).toEqual({ ok: false, reason: 'log-full' });
    const { text } = await logs.read(ref, { offset: 0 });
    expect(text).toBe('12345\n##[warning] the log reached its size limit; later output was dropped\n');
    await writeFile(logPath(dataDir, ref), ''); // leave nothing large behind
  });
});
