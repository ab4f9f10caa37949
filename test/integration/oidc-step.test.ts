/**
 * A step of a local-runner order asks for an ID token the way actions/toolkit's `core.getIDToken(audience)` does
 * (GET ACTIONS_ID_TOKEN_REQUEST_URL + `&audience=`, ACTIONS_ID_TOKEN_REQUEST_TOKEN as the bearer, `value` from the
 * JSON answer), from spotcheck's issuer on loopback; the test verifies the token the step wrote as STS would.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocalRunner, type LocalRunner } from '../../runners/local.ts';
import { buildOrderJob } from '../../runners/order-job.ts';
import type { AgentReport, ReportSink } from '../../runners/runner.ts';
import type { OrderRecord, RunRecord } from '../../src/core/types.ts';
import { idTokenRequestFor } from '../../src/server/oidc-routes.ts';
import { makeOrder, makeRun } from '../helpers/records.ts';
import { AGENT_SECRET, startOidcIssuer, verifyLikeSts, type OidcIssuer } from '../helpers/oidc-issuer.ts';

/** What `core.getIDToken('sts.amazonaws.com')` does, then the token written to $OUT_FILE (never printed). */
const GET_ID_TOKEN = `
const url = process.env.ACTIONS_ID_TOKEN_REQUEST_URL;
const token = process.env.ACTIONS_ID_TOKEN_REQUEST_TOKEN;
if (!url || !token) { require('fs').writeFileSync(process.env.OUT_FILE, 'unset'); process.exit(0); }
fetch(url + '&audience=' + encodeURIComponent('sts.amazonaws.com'), {
  headers: { authorization: 'Bearer ' + token, accept: 'application/json' },
}).then((res) => res.json()).then((body) => {
  if (!body.value) throw new Error('Response json body do not have ID Token field');
  require('fs').writeFileSync(process.env.OUT_FILE, body.value);
});
`;

let root: string;
let repo: string;
let sha: string;
let issuer: OidcIssuer;
let runner: LocalRunner;
const finals: AgentReport[] = [];

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'spotcheck-oidc-step-'));
  repo = path.join(root, 'repo');
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: root,
    GIT_AUTHOR_NAME: 't',
    GIT_AUTHOR_EMAIL: 't@example.com',
    GIT_COMMITTER_NAME: 't',
    GIT_COMMITTER_EMAIL: 't@example.com',
  };
  execFileSync('git', ['init', '--quiet', '--initial-branch=main', repo], { env });
  await writeFile(path.join(repo, 'get-id-token.cjs'), GET_ID_TOKEN);
  execFileSync('git', ['add', '.'], { cwd: repo, env });
  execFileSync('git', ['commit', '--quiet', '-m', 'one'], { cwd: repo, env });
  sha = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: repo, env, encoding: 'utf8' }).trim();
  issuer = await startOidcIssuer();
  const sink: ReportSink = {
    report: (_ref, report) => {
      if (report.type === 'finished' || report.type === 'interrupted') finals.push(report);
      return Promise.resolve();
    },
  };
  runner = createLocalRunner({
    sink,
    dataDir: path.join(root, 'data'),
    baseEnv: () => ({ PATH: env.PATH }),
    killGraceMs: 300,
    logFlushMs: 20,
  });
});

afterAll(async () => {
  await runner.idle();
  await issuer.close();
  await rm(root, { recursive: true, force: true });
});

async function runDeploy(runId: string, order: OrderRecord, withIdToken: boolean): Promise<string> {
  const run: RunRecord = makeRun({ runId, sha, trust: 'member' });
  issuer.put(run, order);
  const outFile = path.join(root, `${runId}.out`);
  const job = buildOrderJob(run, order, {}, repo, undefined, {
    ...(withIdToken ? { idToken: idTokenRequestFor(issuer.url, AGENT_SECRET, run, order, issuer.clock.now) } : {}),
  });
  await runner.launch({
    run,
    order,
    route: { label: 'local', runner: 'local', settings: {} },
    job: {
      ...job,
      steps: [
        {
          index: 0,
          run: 'node get-id-token.cjs',
          env: { OUT_FILE: outFile },
          continueOnError: false,
          pos: { line: 1, col: 1 },
        },
      ],
    },
  });
  await runner.idle();
  expect(finals.at(-1)).toMatchObject({ type: 'finished', conclusion: 'success' });
  return readFile(outFile, 'utf8');
}

describe('an ID token asked for by a step', () => {
  it('reaches a step of an order granted id-token: write, and verifies against the published JWKS', async () => {
    const order = makeOrder('deploy', {
      runId: 'run-step',
      state: 'running',
      timeoutMinutes: 10,
      permissions: { 'id-token': 'write' },
    });
    const jwt = await runDeploy('run-step', order, true);
    const claims = await verifyLikeSts(jwt, issuer.url, 'sts.amazonaws.com', new Date(issuer.clock.now));
    expect(claims).toMatchObject({
      sub: 'repo:octo/app:ref:refs/heads/main',
      repository: 'octo/app',
      sha,
      run_id: 'run-step',
    });
  });

  it('a job without the permission has neither variable', async () => {
    const order = makeOrder('deploy', { runId: 'run-none', state: 'running', timeoutMinutes: 10 });
    expect(await runDeploy('run-none', order, false)).toBe('unset');
  });
});
