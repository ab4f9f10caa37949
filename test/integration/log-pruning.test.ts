/**
 * The total cap on the log folder: over it, whole logs (with their markers) go oldest first until the total fits;
 * under it, nothing goes.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { logPath } from '../../runners/local.ts';
import { parseConfig } from '../../src/config.ts';
import { pruneLogs } from '../../src/server/log-pruning.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'spotcheck-log-pruning-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A 1,000-byte log last written `ageSeconds` ago, with a `.done` marker when asked. */
async function writeLog(runId: string, orderId: string, ageSeconds: number, done = false): Promise<string> {
  const file = logPath(dir, { runId, orderId, attempt: 1 });
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, 'x'.repeat(1000));
  const when = new Date(Date.now() - ageSeconds * 1000);
  await utimes(file, when, when);
  if (done) {
    await writeFile(`${file}.done`, '');
    await utimes(`${file}.done`, when, when);
  }
  return file;
}

describe('pruneLogs', () => {
  it('removes the oldest logs, markers and emptied run folders first, until the total fits', async () => {
    const oldest = await writeLog('r1', 'a', 300, true);
    const older = await writeLog('r2', 'a', 200);
    const newer = await writeLog('r2', 'b', 100);
    const newest = await writeLog('r3', 'a', 10);

    expect(await pruneLogs(dir, 2500)).toEqual({ removed: 2, bytes: 2000 });
    expect([oldest, `${oldest}.done`, older].filter((f) => existsSync(f))).toEqual([]);
    expect(existsSync(dirname(oldest))).toBe(false);
    expect([newer, newest].every((f) => existsSync(f))).toBe(true);

    expect(await pruneLogs(dir, 2500)).toEqual({ removed: 0, bytes: 0 });
  });

  it('leaves everything under the cap, and a missing log folder is nothing to do', async () => {
    expect(await pruneLogs(dir, 0)).toEqual({ removed: 0, bytes: 0 });
    const file = await writeLog('r1', 'a', 10);
    expect(await pruneLogs(dir, 1000)).toEqual({ removed: 0, bytes: 0 });
    expect(existsSync(file)).toBe(true);
  });

  it('takes its cap from limits.logsTotalMb, 2 GiB by default', () => {
    expect(parseConfig('', 'spotcheck.yml').limits.logsTotalMb).toBe(2048);
    expect(parseConfig('limits:\n  logsTotalMb: 100\n', 'spotcheck.yml').limits.logsTotalMb).toBe(100);
  });
});
