/**
 * Red-team finding (issue 16): after a server crash, steps kept running and checkout folders leaked, and the retried
 * order ran beside them. The serving runner sweeps at start: processes working in an earlier start's order folders
 * are killed and the folders removed, unless another live process owns the data folder.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { processAlive, processIdentity } from '../../runners/agent/process-group.ts';
import { createLocalRunner } from '../../runners/local.ts';

let root: string;
let dataDir: string;
let children: ChildProcess[];

beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'spotcheck-sec-leftovers-'));
  dataDir = path.join(root, 'data');
  children = [];
});

afterEach(async () => {
  for (const child of children) if (child.pid !== undefined && processAlive(child.pid)) child.kill('SIGKILL');
  await rm(root, { recursive: true, force: true });
});

/** A step left by a crashed server: its own process group, working in an order folder. */
async function leftoverStep(cwd: string): Promise<number> {
  await mkdir(cwd, { recursive: true });
  const child = spawn('sleep', ['300'], { cwd, detached: true, stdio: 'ignore' });
  children.push(child);
  await new Promise((resolve) => child.once('spawn', resolve));
  return child.pid!;
}

/** Whether `pid` is gone within a bounded number of polls (a SIGKILLed process dies once it is scheduled). */
async function dies(pid: number): Promise<boolean> {
  for (let i = 0; i < 200 && processAlive(pid); i++) await delay(10);
  return !processAlive(pid);
}

const runnerOptions = () => ({
  sink: { report: () => Promise.resolve() },
  dataDir,
  baseEnv: () => ({ PATH: process.env.PATH ?? '/usr/bin:/bin' }),
  sweepLeftovers: true,
});

describe("the local runner's start-up sweep", () => {
  it("kills an earlier start's steps and removes its order folders", async () => {
    const folder = path.join(dataDir, 'work', 'run1-build-abc');
    const pid = await leftoverStep(path.join(folder, 'src'));
    await writeFile(path.join(folder, 'src', 'checkout.txt'), 'leaked');

    createLocalRunner(runnerOptions());

    expect(await dies(pid)).toBe(true);
    expect(existsSync(folder)).toBe(false);
    expect(await readdir(path.join(dataDir, 'work'))).toEqual([]);
  });

  it('leaves the folders of a data folder another live server owns', async () => {
    const folder = path.join(dataDir, 'work', 'run1-build-abc');
    const pid = await leftoverStep(folder);
    const owner = spawn('sleep', ['300'], { stdio: 'ignore' });
    children.push(owner);
    await new Promise((resolve) => owner.once('spawn', resolve));
    await writeFile(path.join(dataDir, 'local-runner.owner'), `${processIdentity(owner.pid!)}\n`);

    createLocalRunner(runnerOptions());

    expect(await dies(pid)).toBe(false);
    expect(existsSync(folder)).toBe(true);
  });

  it('leaves the folders of an earlier runner in this same process (it is still running them)', async () => {
    createLocalRunner(runnerOptions());
    const folder = path.join(dataDir, 'work', 'run1-build-abc');
    const pid = await leftoverStep(folder);

    createLocalRunner(runnerOptions());

    expect(await dies(pid)).toBe(false);
    expect(existsSync(folder)).toBe(true);
  });

  it('takes over from an owner that died, and without the option sweeps nothing', async () => {
    const folder = path.join(dataDir, 'work', 'run1-build-abc');
    const pid = await leftoverStep(folder);
    await writeFile(path.join(dataDir, 'local-runner.owner'), `${pid + 1_000_000}@1\n`);

    createLocalRunner({ ...runnerOptions(), sweepLeftovers: false });
    expect(await dies(pid)).toBe(false);

    createLocalRunner(runnerOptions());
    expect(await dies(pid)).toBe(true);
    expect(existsSync(folder)).toBe(false);
  });
});
