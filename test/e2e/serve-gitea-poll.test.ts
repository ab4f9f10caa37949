/**
 * The Gitea poll through `spotcheck serve` as the README starts it (the real bin, a child process), with a Gitea
 * stand-in (test/helpers/serve-e2e.ts) whose every request is checked against Gitea's published description.
 * SPOTCHECK_TICK_SECONDS=1 lets the tick come every second; the poll keeps its 15 s interval, so the test waits one
 * interval between the first poll (which records the heads and runs nothing) and the poll that sees the push.
 *
 * - A push no webhook told of runs after the poll, and its commit status reaches Gitea; the same head delivered by
 *   webhook afterwards is the poll's event, answered without a second run.
 * - Webhook-less: without GITEA_WEBHOOK_SECRET (and with SPOTCHECK_AGENT_SECRET) the server polls and serves no
 *   Gitea webhook route.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeTwoCommitRepo } from '../helpers/e2e-repo.ts';
import { postPush, serveEnv, startGiteaStandIn, startServe, until, type GiteaStandIn } from '../helpers/serve-e2e.ts';

const WORKFLOW = `name: ci
on: push
jobs:
  build:
    runs-on: local
    steps:
      - run: grep -q again README.md && echo "built $GITHUB_SHA"
`;

const CONFIG = `gitea:
  poll:
    intervalSeconds: 15
    repos: ['acme/widgets']
`;

let dir: string;
let repo: string;
let first: string;
let second: string;
let cwd: string;
let child: ChildProcess | undefined;
let gitea: Server | undefined;

beforeEach(async () => {
  ({ dir, repo, first, second } = await makeTwoCommitRepo('spotcheck-e2e-poll-', {
    '.spotcheck/workflows/ci.yml': WORKFLOW,
  }));
  cwd = join(dir, 'cwd');
  await mkdir(cwd);
  await writeFile(join(cwd, 'spotcheck.yml'), CONFIG);
});

afterEach(async () => {
  if (child !== undefined && child.exitCode === null) {
    const exited = new Promise((resolve) => child?.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
  child = undefined;
  await new Promise((resolve) => (gitea ? gitea.close(resolve) : resolve(undefined)));
  gitea = undefined;
  await rm(dir, { recursive: true, force: true });
});

/** Starts serve polling the stand-in every 15 s, ticking every second. */
async function startPolled(env: (base: Record<string, string>) => Record<string, string>) {
  const forge = await startGiteaStandIn({ repo, workflow: WORKFLOW, first, second });
  gitea = forge.server;
  const base = { ...serveEnv(dir, forge), SPOTCHECK_CONFIG: 'spotcheck.yml', SPOTCHECK_TICK_SECONDS: '1' };
  const started = await startServe(cwd, env(base));
  child = started.proc;
  return { forge, ...started };
}

/** The first poll records main at `first`; then main moves to `second` with no webhook, and a later poll runs it. */
async function pushSeenByPoll(forge: GiteaStandIn): Promise<void> {
  await until(() => forge.branchListings() >= 1, 'the first poll');
  forge.branches.set('main', second);
  await until(
    () => forge.statuses.some((s) => s.state !== 'pending'),
    'a final commit status after the poll',
    // One 15 s interval, and the run, on a busy machine.
    2400,
  );
  expect(forge.branchListings()).toBeGreaterThanOrEqual(2);
  expect(forge.statuses.filter((s) => s.state !== 'pending')).toEqual([
    { sha: second, state: 'success', context: 'spotcheck/ci/build' },
  ]);
}

const count = (lines: Record<string, unknown>[], msg: string): number => lines.filter((l) => l['msg'] === msg).length;

describe('spotcheck serve polling Gitea', () => {
  it('runs a push no webhook told of, once: the webhook of the same head afterwards is a duplicate', async () => {
    const { forge, url, lines } = await startPolled((env) => env);
    await pushSeenByPoll(forge);
    expect(count(lines, 'an event found by polling Gitea')).toBe(1);

    const statuses = forge.statuses.length;
    expect(await postPush(url, first, second)).toBe(202);
    await until(() => count(lines, 'event already found by polling Gitea') === 1, 'the webhook finding the claim');
    // The delivery was handed nothing: no intent, no run, no status beyond the poll's run's.
    expect(count(lines, 'an event found by polling Gitea')).toBe(1);
    expect(forge.statuses.length).toBe(statuses);
    expect(forge.problems).toEqual([]);
  }, 240_000);

  it('without GITEA_WEBHOOK_SECRET: polls, and serves no Gitea webhook route', async () => {
    const { forge, url, lines } = await startPolled((env) => {
      const { GITEA_WEBHOOK_SECRET: _unset, ...rest } = env;
      return { ...rest, SPOTCHECK_AGENT_SECRET: 'a'.repeat(40) };
    });
    expect(count(lines, 'Gitea: polled, no webhook (GITEA_WEBHOOK_SECRET is unset)')).toBe(1);
    expect(lines.some((l) => l['msg'] === 'Gitea webhook URL')).toBe(false);
    // Signed with the secret the other test uses, or with none: there is no route to take it.
    expect(await postPush(url, first, second)).toBe(404);
    await pushSeenByPoll(forge);
    expect(forge.problems).toEqual([]);
  }, 240_000);
});
