/**
 * Real public actions through `spotcheck serve` (the real bin): a signed push runs a workflow of actions/checkout,
 * actions/github-script and dtolnay/rust-toolchain (test/fixtures/actions, as GitHub archived them), fetched from the
 * forge stand-in's archive endpoints, with actions/checkout fetching the pushed commit from the stand-in over git's
 * smart HTTP (git-http-backend) with the order's token, and github-script calling the stand-in's REST API with it.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ACTION_FIXTURES } from '../fixtures/actions/index.ts';
import { createActionForge, type ActionForge } from '../helpers/action-forge.ts';
import {
  checkoutAuthorization,
  expectRealActionsLog,
  makeRealActionsRepo,
  realActionsWorkflow,
} from '../helpers/real-actions.ts';
import {
  postPush,
  SERVE_BOT,
  SERVE_CLONE_TOKEN,
  SERVE_NAME,
  SERVE_OWNER,
  serveEnv,
  startGiteaStandIn,
  startServe,
  until,
} from '../helpers/serve-e2e.ts';
import { githubServeEnv, postGitHubPush, startGitHubStandIn } from '../helpers/serve-e2e-github.ts';

let dir: string | undefined;
let child: ChildProcess | undefined;
let server: Server | undefined;
let forge: ActionForge | undefined;

afterEach(async () => {
  if (child !== undefined && child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((resolve) => child?.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
  child = undefined;
  await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  server = undefined;
  await forge?.close();
  forge = undefined;
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

/** The one log file of the run's one order, under serve's data folder. */
async function orderLog(cwd: string): Promise<string> {
  const logs = join(cwd, '.spotcheck-data', 'logs');
  const [runDir] = await readdir(logs);
  const [file] = await readdir(join(logs, runDir!));
  return readFile(join(logs, runDir!, file!), 'utf8');
}

describe('real public actions through serve', () => {
  it('on Gitea: checkout, an API-calling action and a composite toolchain action run green', async () => {
    const made = await makeRealActionsRepo('spotcheck-real-gitea-', SERVE_OWNER, SERVE_NAME);
    dir = made.dir;
    const { first, second } = made;
    const cloneAuth = `Basic ${Buffer.from(`${SERVE_BOT}:${SERVE_CLONE_TOKEN}`).toString('base64')}`;
    // Gitea's order token is the configured one (GITEA_CLONE_TOKEN here: no GITEA_ACTIONS_TOKEN).
    const orderToken = SERVE_CLONE_TOKEN;
    forge = createActionForge({
      kind: 'gitea',
      actions: ACTION_FIXTURES,
      repository: { owner: SERVE_OWNER, name: SERVE_NAME, defaultBranch: 'main' },
      gitRoot: made.gitRoot,
      tokens: () => ({ git: [cloneAuth, checkoutAuthorization(orderToken)], api: [`token ${orderToken}`] }),
    });
    const actionForge = forge;
    const gitea = await startGiteaStandIn({
      repo: made.repo,
      workflow: realActionsWorkflow({ api: true }),
      first,
      second,
      extra: (req, body, res) => actionForge.handle(req, body, res),
    });
    server = gitea.server;
    const cwd = join(made.dir, 'cwd');
    await mkdir(cwd);
    const started = await startServe(cwd, serveEnv(made.dir, gitea));
    child = started.proc;

    expect(await postPush(started.url, first, second)).toBe(202);
    await until(() => gitea.statuses.some((s) => s.state !== 'pending'), 'the order to end');

    const log = await orderLog(cwd);
    expect(gitea.statuses.map((s) => [s.sha, s.context, s.state])).toEqual([
      [second, 'spotcheck/ci/real', 'pending'],
      [second, 'spotcheck/ci/real', 'success'],
    ]);
    expectRealActionsLog(log, { sha: second, repository: `${SERVE_OWNER}/${SERVE_NAME}`, token: orderToken });
    expect(gitea.problems).toEqual([]);
    expect(forge.problems).toEqual([]);
    // actions/checkout fetched over git with the order's token; github-script called the API with it.
    const checkoutFetches = forge.requests.filter(
      (r) => r.kind === 'git' && r.authorization === checkoutAuthorization(orderToken),
    );
    expect(checkoutFetches.map((r) => r.path)).toContain(`/${SERVE_OWNER}/${SERVE_NAME}/git-upload-pack`);
    expect(forge.requests.filter((r) => r.kind === 'api').map((r) => r.endpoint)).toEqual([
      'GET /repos/{owner}/{repo}',
    ]);
  }, 120_000);

  it("on GitHub (Enterprise Server): the same workflow runs green with the order's installation token", async () => {
    const made = await makeRealActionsRepo('spotcheck-real-github-', SERVE_OWNER, SERVE_NAME);
    dir = made.dir;
    const { first, second } = made;
    // The order's token: the one minted for the job's permissions (the clone token asks for `contents: read` only).
    const orderToken = (): string | undefined =>
      github.minted.find((m) => JSON.stringify(m.permissions) !== JSON.stringify({ contents: 'read' }))?.token;
    forge = createActionForge({
      kind: 'github',
      actions: ACTION_FIXTURES,
      repository: { owner: SERVE_OWNER, name: SERVE_NAME, defaultBranch: 'main' },
      gitRoot: made.gitRoot,
      tokens: () => ({
        git: github.minted.flatMap((m) => [
          `Basic ${Buffer.from(`x-access-token:${m.token}`).toString('base64')}`,
          checkoutAuthorization(m.token),
        ]),
        api: github.minted.map((m) => `token ${m.token}`),
      }),
    });
    const actionForge = forge;
    const github = await startGitHubStandIn({
      owner: SERVE_OWNER,
      name: SERVE_NAME,
      workflow: realActionsWorkflow({ api: true }),
      first,
      second,
      extra: (req, body, res) => actionForge.handle(req, body, res),
    });
    server = github.server;
    const cwd = join(made.dir, 'cwd');
    await mkdir(cwd);
    // Actions from the GitHub Enterprise host itself (without `actions:`, github.com's).
    await writeFile(join(cwd, 'spotcheck.yml'), 'actions:\n  url: self\n');
    const started = await startServe(cwd, { ...githubServeEnv(made.dir, github), SPOTCHECK_CONFIG: 'spotcheck.yml' });
    child = started.proc;

    const web = github.url;
    expect(await postGitHubPush(started.url, { owner: SERVE_OWNER, name: SERVE_NAME, web }, first, second)).toBe(202);
    await until(() => github.statuses.some((s) => s.state !== 'pending'), 'the order to end');
    await until(() => github.revoked.length > 0, "the order's token to be revoked");

    const log = await orderLog(cwd);
    const token = orderToken();
    expect(token).toBeDefined();
    expect(github.statuses.map((s) => [s.sha, s.context, s.state])).toEqual([
      [second, 'spotcheck/ci/real', 'pending'],
      [second, 'spotcheck/ci/real', 'success'],
    ]);
    expectRealActionsLog(log, { sha: second, repository: `${SERVE_OWNER}/${SERVE_NAME}`, token: token! });
    expect(github.problems).toEqual([]);
    expect(forge.problems).toEqual([]);
    expect(github.revoked).toEqual([token]);
    const checkoutFetches = forge.requests.filter(
      (r) => r.kind === 'git' && r.authorization === checkoutAuthorization(token!),
    );
    expect(checkoutFetches.map((r) => r.path)).toContain(`/${SERVE_OWNER}/${SERVE_NAME}/git-upload-pack`);
    expect(forge.requests.filter((r) => r.kind === 'api').map((r) => [r.endpoint, r.authorization])).toEqual([
      ['GET /repos/{owner}/{repo}', `token ${token!}`],
    ]);
  }, 120_000);
});
