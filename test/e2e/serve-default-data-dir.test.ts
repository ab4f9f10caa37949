/**
 * `npm start` as the README says, end to end: the real bin (`node bin/spotcheck.js serve`) as a child process, in a
 * fresh working directory, with no SPOTCHECK_DATA_DIR (the default relative `.spotcheck-data`), configured for
 * Gitea. One signed push webhook must run a local order green. Gitea is a loopback stand-in (test/helpers/serve-e2e.ts):
 * its API answers the few requests a push needs, and its git side serves the test repository, so the server clones
 * with the clone URL and token it builds itself, as in production.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeTwoCommitRepo } from '../helpers/e2e-repo.ts';
import {
  postPush,
  SERVE_NAME,
  SERVE_OWNER,
  serveEnv,
  startGiteaStandIn,
  startServe,
  until,
} from '../helpers/serve-e2e.ts';

const WORKFLOW = `name: ci
on: push
jobs:
  build:
    runs-on: local
    steps:
      - run: test -f README.md && grep -q again README.md && echo "built $GITHUB_SHA"
`;

let dir: string;
let repo: string;
let first: string;
let second: string;
let cwd: string;
let child: ChildProcess | undefined;
let gitea: Server | undefined;

beforeEach(async () => {
  ({ dir, repo, first, second } = await makeTwoCommitRepo('spotcheck-e2e-serve-', {
    '.spotcheck/workflows/ci.yml': WORKFLOW,
  }));
  cwd = join(dir, 'cwd');
  await mkdir(cwd);
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

describe('spotcheck serve with the default data folder', () => {
  it('runs a local order green from a signed Gitea push, with its data under ./.spotcheck-data', async () => {
    const forge = await startGiteaStandIn({ repo, workflow: WORKFLOW, first, second });
    gitea = forge.server;
    const started = await startServe(cwd, serveEnv(dir, forge));
    child = started.proc;
    const { url, lines } = started;

    expect(await postPush(url, first, second)).toBe(202);
    // Start-up says where everything is, from the listening address when PUBLIC_URL is unset.
    const said = (msg: string): unknown => lines.find((l) => l['msg'] === msg)?.['url'];
    expect([said('dashboard'), said('Gitea webhook URL'), said('health check')]).toEqual([
      `${url}/runs`,
      `${url}/api/gitea/webhooks`,
      `${url}/healthz`,
    ]);
    expect(said('GitHub App webhook URL')).toBeUndefined();

    const finished = (): boolean => forge.statuses.some((s) => s.state !== 'pending');
    await until(finished, 'a final commit status');
    expect(forge.statuses.filter((s) => s.state !== 'pending')).toEqual([
      { sha: second, state: 'success', context: 'spotcheck/ci/build' },
    ]);
    expect(forge.problems).toEqual([]);
    // Cloned through the stand-in with the clone token the server minted into the URL.
    expect(forge.clones).toContain(`/${SERVE_OWNER}/${SERVE_NAME}.git/info/refs`);
    // The data folder is where the README says: the working directory's .spotcheck-data, nothing nested in it.
    const data = join(cwd, '.spotcheck-data');
    expect((await readdir(data)).sort()).toEqual(expect.arrayContaining(['db', 'logs']));
    const [runDir] = await readdir(join(data, 'logs'));
    const [log] = await readdir(join(data, 'logs', runDir!));
    expect(await readFile(join(data, 'logs', runDir!, log!), 'utf8')).toContain(`built ${second}`);
    expect(existsSync(join(data, 'work')) ? await readdir(join(data, 'work')) : []).toEqual([]);
  }, 180_000);
});
