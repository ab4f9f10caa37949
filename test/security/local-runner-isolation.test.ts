/**
 * Red-team finding (issue 16): steps on the local runner read the server's environment through
 * `/proc/$PPID/environ`, its data folder and key, and the embedded store's loopback port. With a step user, the real
 * local runner starts every step as that user: the same hunt finds nothing. The control runs the hunt without a
 * user and finds the key, so the hunt itself works. Needs root (to create the user and start steps as it);
 * elsewhere it is skipped with a notice.
 */
import { execFileSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocalRunner } from '../../runners/local.ts';
import type { AgentReport, LaunchRequest, OrderJob, OrderRef, ReportSink } from '../../runners/runner.ts';
import type { OrderRecord, RunRecord } from '../../src/core/types.ts';
import { startEmbeddedStore, type EmbeddedStore } from '../../src/store/embedded.ts';
import { makeGithubContext } from '../helpers/records.ts';

const USER = 'spotcheck-sectest';
const PLANTED = 'planted-key-7f3a9c';
const isRoot = process.getuid?.() === 0;
if (!isRoot)
  console.warn('test/security/local-runner-isolation: skipped, it needs root to start steps as another user');

/** The step user, created when absent (`useradd --system`, no home: the runner gives each order its own). */
function ensureUser(): { name: string; uid: number; gid: number } {
  const id = (flag: string): number => Number(execFileSync('id', [flag, USER], { encoding: 'utf8' }).trim());
  try {
    return { name: USER, uid: id('-u'), gid: id('-g') };
  } catch {
    execFileSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', USER]);
    return { name: USER, uid: id('-u'), gid: id('-g') };
  }
}

let root: string;
let repo: string;
let dataDir: string;
let keyFile: string;
let sha: string;
let store: EmbeddedStore;

function git(args: string[], cwd: string): string {
  const who = { GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 't' };
  return execFileSync('git', args, {
    cwd,
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: root, ...who, GIT_COMMITTER_EMAIL: 't@example.com' },
  }).trim();
}

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'spotcheck-isolation-'));
  // The repository is public to the host (the step user clones it); the data folder is the server's.
  await chmod(root, 0o755);
  repo = path.join(root, 'repo');
  git(['init', '--quiet', '--initial-branch=main', repo], root);
  await writeFile(path.join(repo, 'README.md'), 'hello\n');
  git(['add', 'README.md'], repo);
  git(['commit', '--quiet', '-m', 'one'], repo);
  sha = git(['rev-parse', 'HEAD'], repo);
  dataDir = path.join(root, 'data');
  await mkdir(dataDir, { mode: 0o700 });
  // A key file in the shape of a file command: a step that gets it read back as `$GITHUB_ENV` gets LEAK set.
  keyFile = path.join(dataDir, 'secrets.key');
  await writeFile(keyFile, `LEAK=${PLANTED}\n`, { mode: 0o600 });
  store = await startEmbeddedStore({});
});

afterAll(async () => {
  await store?.close();
  await rm(root, { recursive: true, force: true });
});

class Sink implements ReportSink {
  readonly reports: AgentReport[] = [];
  report(_ref: OrderRef, report: AgentReport): Promise<void> {
    this.reports.push(report);
    return Promise.resolve();
  }
  log(): string {
    return this.reports.map((r) => (r.type === 'log' ? r.chunk : '')).join('');
  }
}

/** The hunt: the parent's environment, the data folder, the key, the store's socket, and a file-command link. */
function hunt(): LaunchRequest {
  const script = [
    // Every probe may fail (that is the point); the step goes on to the next.
    'set +e',
    'echo "uid=$(id -u) home=$HOME"',
    'stat -c "home-mode=%a home-owner=%u" "$HOME"',
    'stat -c "tmp-mode=%a tmp-owner=%u" "$TMPDIR"',
    `echo "ppid-is-server=$([ "$PPID" = "${String(process.pid)}" ] && echo yes)"`,
    'tr "\\0" "\\n" < /proc/$PPID/environ && echo "environ=READ"',
    `ls ${dataDir} && echo "datadir=LISTED"`,
    `cat ${keyFile} && echo "key=READ"`,
    `node -e "require('net').connect('${store.socketPath}').on('connect',()=>{console.log('store=CONNECTED');process.exit()}).on('error',()=>process.exit())"`,
    `ln -sf ${keyFile} "$GITHUB_ENV"`,
    'true',
  ].join('\n');
  const job: OrderJob = {
    ref: { runId: 'run-1', orderId: 'hunt', attempt: 1 },
    repository: 'acme/widgets',
    cloneUrl: repo,
    sha,
    github: { ...makeGithubContext({ repository: 'acme/widgets', run_id: 'run-1' }), sha },
    matrix: {},
    needs: {},
    env: {},
    outputExprs: {},
    timeoutMinutes: 1,
    steps: [
      { run: script, env: {}, continueOnError: false, index: 0, pos: { line: 1, col: 1 } },
      { run: 'echo "leak=$LEAK"', env: {}, continueOnError: false, index: 1, pos: { line: 2, col: 1 } },
    ],
  };
  return {
    run: {} as RunRecord,
    order: {} as OrderRecord,
    route: { label: 'local', runner: 'local', settings: {} },
    job,
  };
}

async function runHunt(user: { name: string; uid: number; gid: number } | undefined): Promise<string> {
  const sink = new Sink();
  const runner = createLocalRunner({
    sink,
    dataDir,
    baseEnv: () => ({ PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: root }),
    logFlushMs: 20,
    ...(user === undefined ? {} : { user }),
  });
  await runner.launch(hunt());
  await runner.idle();
  const final = sink.reports.at(-1);
  expect(final, sink.log()).toMatchObject({ type: 'finished', conclusion: 'success' });
  return sink.log();
}

describe.skipIf(!isRoot)('the local runner with a step user', () => {
  it('runs steps as that user, in a HOME and temporary folder of theirs, that find none of the server', async () => {
    const user = ensureUser();
    // Under serve the clone URL is the forge's; a local source repository must be the user's (git refuses to read
    // another user's repository: "dubious ownership").
    execFileSync('chown', ['-R', `${String(user.uid)}:${String(user.gid)}`, repo]);
    const log = await runHunt(user);
    expect(log).toContain(`uid=${String(user.uid)} `);
    expect(log).toContain(`home-mode=700 home-owner=${String(user.uid)}`);
    expect(log).toContain(`tmp-mode=700 tmp-owner=${String(user.uid)}`);
    expect(log).toContain('ppid-is-server=yes');
    for (const found of ['environ=READ', 'datadir=LISTED', 'key=READ', 'store=CONNECTED', PLANTED])
      expect(log).not.toContain(found);
    expect(log).toContain('leak=\n');
  }, 60_000);

  it("the control: as the server's own user the same hunt reads the environment and the key", async () => {
    execFileSync('chown', ['-R', '0:0', repo]);
    const log = await runHunt(undefined);
    expect(log).toContain('environ=READ');
    expect(log).toContain('key=READ');
    expect(log).toContain('store=CONNECTED');
    expect(log).toContain(`leak=${PLANTED}`);
  }, 60_000);
});
