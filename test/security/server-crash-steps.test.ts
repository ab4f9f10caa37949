/**
 * Red-team finding (issue 16): a step on the local runner outlived a server killed with SIGKILL — its process group
 * is in a session of its own, so nothing reached it — and ran a second time as attempt 2 after the restart. The real
 * bin serves a Gitea push whose step starts a long `sleep` in the background and writes its pid; the server is
 * killed with SIGKILL while the step runs; the `sleep` must be gone within a bounded number of polls.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { processAlive } from '../../runners/agent/process-group.ts';
import { makeTwoCommitRepo } from '../helpers/e2e-repo.ts';
import { postPush, serveEnv, startGiteaStandIn, startServe, until } from '../helpers/serve-e2e.ts';

let dir: string;
let repo: string;
let first: string;
let second: string;
let cwd: string;
let child: ChildProcess | undefined;
let gitea: Server | undefined;
let stepPid: number | undefined;

beforeEach(async () => {
  ({ dir, repo, first, second } = await makeTwoCommitRepo('spotcheck-sec-crash-'));
  cwd = join(dir, 'cwd');
  await mkdir(cwd);
});

afterEach(async () => {
  if (child !== undefined && child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((resolve) => child?.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }
  child = undefined;
  // A failing run must not leave its sleep behind.
  if (stepPid !== undefined && processAlive(stepPid)) process.kill(stepPid, 'SIGKILL');
  stepPid = undefined;
  await new Promise((resolve) => (gitea ? gitea.close(resolve) : resolve(undefined)));
  gitea = undefined;
  await rm(dir, { recursive: true, force: true });
});

describe('steps of the local runner when the server is killed', () => {
  it('die with the server: a SIGKILL of serve takes the step and its background processes along', async () => {
    const pidFile = join(dir, 'step.pid');
    const workflow = `name: ci
on: push
jobs:
  build:
    runs-on: local
    steps:
      - run: |
          sleep 300 &
          echo $! > '${pidFile}.tmp' && mv '${pidFile}.tmp' '${pidFile}'
          wait
`;
    const forge = await startGiteaStandIn({ repo, workflow, first, second });
    gitea = forge.server;
    const started = await startServe(cwd, serveEnv(dir, forge));
    child = started.proc;
    expect(await postPush(started.url, first, second)).toBe(202);

    await until(() => existsSync(pidFile), 'the step to write its pid');
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    stepPid = pid;
    expect(processAlive(pid)).toBe(true);

    const exited = new Promise((resolve) => child?.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;

    // The watchdog sends SIGTERM at once (SIGKILL after its grace); `sleep` dies of the first. Polls, not seconds:
    // on a loaded machine the watchdog's own poll of its parent comes late (CI once needed over 400 polls).
    await until(() => !processAlive(pid), 'the step to die with the server', 2400);
    expect(processAlive(pid)).toBe(false);
  }, 180_000);
});
