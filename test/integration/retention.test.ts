/**
 * Retention through the whole `serve` composition on the embedded store, with a fake clock: the tick deletes a run
 * past its `expiresAt` with its orders and its log folder, and keeps a run that has not expired and its logs.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { logPath } from '../../runners/local.ts';
import { createSpotcheckApp, type SpotcheckApp } from '../../src/app/app.ts';
import { defaultConfig } from '../../src/config.ts';
import { DAY, makeOrder, makeRun } from '../helpers/records.ts';

let dir: string;
let app: SpotcheckApp | undefined;
/** The store filters reads by the real clock; the app's clock (the sweep's) is this fake one. */
let base = 0;
let clock = 0;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'spotcheck-retention-'));
  base = Date.now();
  clock = base;
});
afterEach(async () => {
  await app?.close();
  app = undefined;
  await rm(dir, { recursive: true, force: true });
});

async function seed(a: SpotcheckApp, runId: string, expiresAt: number): Promise<string> {
  await a.store.createRun(makeRun({ runId, createdAt: base, expiresAt, orderCount: 1 }), [
    makeOrder('build', { runId }),
  ]);
  const file = logPath(dir, { runId, orderId: 'build', attempt: 1 });
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, `log of ${runId}\n`);
  return file;
}

describe('retention on the embedded store', () => {
  it('the tick deletes expired runs, their orders and their log folders', async () => {
    const a = await createSpotcheckApp({
      settings: {
        agentSecret: 'a'.repeat(40),
        gitea: { url: 'https://gitea.test', token: 'bot-token', webhookSecret: 'hook', botLogin: 'spotcheck-bot' },
      },
      config: defaultConfig({ dataDir: dir, publicUrl: 'http://127.0.0.1:3000' }),
      logger: pino({ level: 'silent' }),
      now: () => clock,
    });
    app = a;
    const oldLog = await seed(a, 'old-run', base + DAY);
    const newLog = await seed(a, 'new-run', base + 10 * DAY);

    clock = base + 2 * DAY;
    await a.tick();

    expect(existsSync(dirname(oldLog))).toBe(false);
    expect(existsSync(newLog)).toBe(true);
    // The store reads with the real clock, by which "old-run" has not expired: a record merely filtered on read
    // would still be there. It is gone from disk.
    expect(await a.store.getRun('old-run')).toBeUndefined();
    expect(await a.store.listOrders('old-run')).toEqual([]);
    expect((await a.store.getRun('new-run'))?.runId).toBe('new-run');
  });
});
