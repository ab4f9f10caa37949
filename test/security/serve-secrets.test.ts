/**
 * Red-team finding (issue 16): the server's secrets sat in its environment, where a step running as the server's
 * user reads them (`/proc/$PPID/environ`), and pull requests' code ran as that user. Secrets can now come from
 * files (`<NAME>_FILE`) and are scrubbed from `process.env` once read; without a step user, pull_request and
 * testme orders on the local runner are refused unless the operator opts in, with the reason in the order's failure.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_PR_REFUSAL } from '../../src/app/app.ts';
import { readServerSettings, scrubSecretVariables, SECRET_VARIABLES, type HostUsers } from '../../src/app/settings.ts';
import { ConfigError } from '../../src/errors.ts';
import { createLocalRunner } from '../../runners/local.ts';
import type { AgentReport, OrderJob, OrderRef, ReportSink } from '../../runners/runner.ts';
import type { OrderRecord, RunRecord } from '../../src/core/types.ts';
import { testPrivateKey } from '../helpers/github-api.ts';
import { makeGithubContext } from '../helpers/records.ts';

let dir: string;
const notRoot: HostUsers = { idsOf: () => Promise.resolve({ uid: 1001, gid: 1001 }), isRoot: () => false };
const root: HostUsers = { ...notRoot, isRoot: () => true };

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'spotcheck-secrets-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const gitea = { GITEA_URL: 'https://gitea.example.org', GITEA_BOT_LOGIN: 'bot' };

async function problemsOf(env: Record<string, string>, host: HostUsers = notRoot): Promise<string> {
  return readServerSettings(env, host).then(
    () => '',
    (error: unknown) => (error instanceof ConfigError ? error.message : String(error)),
  );
}

describe('secrets from files', () => {
  it('reads every secret variable from <NAME>_FILE, without the file’s trailing newline', async () => {
    const files: Record<string, string> = {};
    for (const name of SECRET_VARIABLES) {
      const file = path.join(dir, name.toLowerCase());
      const value =
        name === 'SPOTCHECK_AGENT_SECRET'
          ? 'a'.repeat(40)
          : name === 'PRIVATE_KEY'
            ? testPrivateKey()
            : `value-of-${name}`;
      await writeFile(file, `${value}\n`);
      files[`${name}_FILE`] = file;
    }
    const settings = await readServerSettings({ ...gitea, APP_ID: '1', ...files }, notRoot);
    expect(settings.github).toMatchObject({ webhookSecret: 'value-of-WEBHOOK_SECRET' });
    expect(settings.github?.privateKey.trim()).toBe(testPrivateKey().trim());
    expect(settings.gitea).toMatchObject({
      token: 'value-of-GITEA_TOKEN',
      webhookSecret: 'value-of-GITEA_WEBHOOK_SECRET',
      cloneToken: 'value-of-GITEA_CLONE_TOKEN',
      actionsToken: 'value-of-GITEA_ACTIONS_TOKEN',
    });
    expect(settings.agentSecret).toBe('a'.repeat(40));
  });

  it('refuses a variable set both ways, and a file that cannot be read', async () => {
    const file = path.join(dir, 'token');
    await writeFile(file, 'from-file');
    const both = await problemsOf({ ...gitea, GITEA_TOKEN: 'x', GITEA_TOKEN_FILE: file, GITEA_WEBHOOK_SECRET: 's' });
    expect(both).toContain('set GITEA_TOKEN or GITEA_TOKEN_FILE, not both');
    const missing = await problemsOf({
      ...gitea,
      GITEA_TOKEN: 'x',
      GITEA_WEBHOOK_SECRET_FILE: path.join(dir, 'absent'),
    });
    expect(missing).toContain('GITEA_WEBHOOK_SECRET_FILE names a file that cannot be read');
  });

  it('scrubs the secret variables from an environment once read, and nothing else', () => {
    const env: Record<string, string | undefined> = { PATH: '/bin', WEBHOOK_SECRET: 'w', GITEA_TOKEN: 't' };
    scrubSecretVariables(env);
    expect(env).toEqual({ PATH: '/bin' });
  });
});

describe('the local runner’s user', () => {
  const base = { ...gitea, GITEA_TOKEN: 't', GITEA_WEBHOOK_SECRET: 's' };

  it('needs the server to run as root, and a user that is not root', async () => {
    expect(await problemsOf({ ...base, SPOTCHECK_LOCAL_USER: 'runner' })).toContain(
      'SPOTCHECK_LOCAL_USER needs the server to run as root',
    );
    const rootUser: HostUsers = { idsOf: () => Promise.resolve({ uid: 0, gid: 0 }), isRoot: () => true };
    expect(await problemsOf({ ...base, SPOTCHECK_LOCAL_USER: 'root' }, rootUser)).toContain('not root (uid 0)');
    const settings = await readServerSettings({ ...base, SPOTCHECK_LOCAL_USER: 'runner' }, root);
    expect(settings.local).toEqual({
      user: { name: 'runner', uid: 1001, gid: 1001 },
      pullRequestsAsServerUser: false,
    });
  });

  it('without one, pull requests run as the server only when the operator opts in', async () => {
    expect((await readServerSettings(base, notRoot)).local).toEqual({ pullRequestsAsServerUser: false });
    const optIn = await readServerSettings({ ...base, SPOTCHECK_LOCAL_PR_AS_SERVER_USER: 'true' }, notRoot);
    expect(optIn.local).toEqual({ pullRequestsAsServerUser: true });
    expect(await problemsOf({ ...base, SPOTCHECK_LOCAL_PR_AS_SERVER_USER: 'yes' })).toContain('must be true or false');
  });
});

class Sink implements ReportSink {
  readonly reports: AgentReport[] = [];
  report(_ref: OrderRef, report: AgentReport): Promise<void> {
    this.reports.push(report);
    return Promise.resolve();
  }
}

describe('a local runner refusing pull requests', () => {
  it('fails pull_request and testme orders with the reason, before any checkout', async () => {
    const sink = new Sink();
    const runner = createLocalRunner({
      sink,
      dataDir: path.join(dir, 'data'),
      baseEnv: () => ({ PATH: '/usr/bin:/bin' }),
      refusePullRequests: LOCAL_PR_REFUSAL,
    });
    for (const [attempt, event] of (['pull_request', 'testme'] as const).entries()) {
      const job: OrderJob = {
        ref: { runId: 'run-1', orderId: 'build', attempt: attempt + 1 },
        repository: 'acme/widgets',
        // A checkout would fail on this: the refusal comes first.
        cloneUrl: path.join(dir, 'no-such-repository'),
        sha: 'a'.repeat(40),
        github: makeGithubContext({ event_name: event, repository: 'acme/widgets' }),
        matrix: {},
        needs: {},
        env: {},
        outputExprs: {},
        timeoutMinutes: 1,
        steps: [{ run: 'echo ran', env: {}, continueOnError: false, index: 0, pos: { line: 1, col: 1 } }],
      };
      await runner.launch({
        run: {} as RunRecord,
        order: {} as OrderRecord,
        route: { label: 'local', runner: 'local', settings: {} },
        job,
      });
    }
    await runner.idle();
    const finals = sink.reports.filter((r) => r.type === 'finished');
    expect(finals).toEqual([
      expect.objectContaining({ conclusion: 'failure', reason: LOCAL_PR_REFUSAL }),
      expect.objectContaining({ conclusion: 'failure', reason: LOCAL_PR_REFUSAL }),
    ]);
    expect(sink.reports.some((r) => r.type === 'log' && r.chunk.includes('##[checkout]'))).toBe(false);
    expect(LOCAL_PR_REFUSAL).toContain('SPOTCHECK_LOCAL_USER');
  });
});
