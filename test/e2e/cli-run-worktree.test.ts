/**
 * `spotcheck run` as people know it from act, spawned for real on a temporary git repository: the working tree by
 * default (uncommitted and untracked files included, ignored ones not, the user's index and branch untouched),
 * `--sha` for a commit, `--job` with what it needs, `-v` streaming prefixed step output, `--keep-logs` and the
 * log path of every order, and `validate` reading the same workflow files as `run`.
 */
import { execFile } from 'node:child_process';
import { access, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(REPO, 'bin', 'spotcheck.js');
/** Generous: these spawn real runs, and the machine may be busy. */
const TIMEOUT = 180_000;

interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

let root: string;
let repo: string;

function cli(args: readonly string[]): Promise<CliResult> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'SPOTCHECK_KEEP_LOGS'));
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      {
        cwd: REPO,
        env: { ...env, TMPDIR: join(root, 'tmp'), GIT_CEILING_DIRECTORIES: root },
        maxBuffer: 16 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

function git(dir: string, ...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'git',
      ['-c', 'user.name=spotcheck test', '-c', 'user.email=test@spotcheck.invalid', '-C', dir, ...args],
      { env: { ...process.env, GIT_CEILING_DIRECTORIES: root } },
      (error, stdout, stderr) => {
        if (error === null) resolve(stdout.trim());
        else reject(new Error(`git ${args.join(' ')}: ${stderr}`, { cause: error }));
      },
    );
  });
}

async function write(path: string, text: string): Promise<void> {
  await mkdir(join(repo, path, '..'), { recursive: true });
  await writeFile(join(repo, path), text);
}

/** check ← (build ← test ← deploy); lint alone. `check` sees the working tree's files. */
const CI = `name: ci
on: push
jobs:
  check:
    name: Check
    runs-on: local
    steps:
      - run: |
          echo "sha=$GITHUB_SHA tracked=$(cat tracked.txt)"
          test -f untracked.txt && echo "untracked present" || echo "untracked absent"
          test -e ignored.txt && echo "ignored present" || echo "ignored absent"
  build:
    runs-on: local
    steps: [{ run: echo built }]
  test:
    needs: build
    runs-on: local
    strategy: { matrix: { n: [1, 2] } }
    steps: [{ run: echo tested }]
  deploy:
    needs: test
    runs-on: local
    steps: [{ run: echo deployed }]
  lint:
    runs-on: local
    steps: [{ run: echo linted }]
`;

/** A workflow that exists only in the working tree (never committed). */
const EXTRA = `name: extra
on: push
jobs:
  extra:
    runs-on: local
    steps: [{ run: 'true' }]
`;

let head: string;

/** What must not change when spotcheck runs: HEAD, the branch, the index, the status, the stash. */
async function repoState(): Promise<string[]> {
  return Promise.all([
    git(repo, 'rev-parse', 'HEAD'),
    git(repo, 'symbolic-ref', 'HEAD'),
    git(repo, 'ls-files', '--stage'),
    git(repo, 'status', '--porcelain', '--untracked-files=all'),
    git(repo, 'stash', 'list'),
  ]);
}

/** Transition lines: `HH:MM:SS  workflow/order  state  [runner] ...` → order names. */
function ordersRun(stdout: string): string[] {
  const names = stdout
    .split('\n')
    .map((line) => /^\d{2}:\d{2}:\d{2} {2}(.+?) {2}running {2}\[/.exec(line)?.[1])
    .filter((name): name is string => name !== undefined);
  return names.sort();
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'spotcheck-run-worktree-'));
  await mkdir(join(root, 'tmp'));
  repo = join(root, 'repo');
  await mkdir(repo);
  await git(repo, 'init', '-q', '-b', 'main');
  await write('.spotcheck/workflows/ci.yml', CI);
  await write('.gitignore', 'ignored.txt\n');
  await write('tracked.txt', 'committed\n');
  await git(repo, 'add', '-A');
  await git(repo, 'commit', '-q', '-m', 'first');
  head = await git(repo, 'rev-parse', 'HEAD');
  // Uncommitted: a modified tracked file (staged), an untracked file, an ignored file, an untracked workflow.
  await write('tracked.txt', 'changed\n');
  await git(repo, 'add', 'tracked.txt');
  await write('untracked.txt', 'new\n');
  await write('ignored.txt', 'secret\n');
  await write('.spotcheck/workflows/extra.yml', EXTRA);
}, TIMEOUT);

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('spotcheck run: the working tree by default', () => {
  it(
    'runs uncommitted and untracked files (not ignored ones), says so first, leaves the repository as it was, streams prefixed output with -v and keeps the logs with --keep-logs',
    async () => {
      const before = await repoState();
      const result = await cli(['run', repo, '--job', 'check', '--job', 'extra', '-v', '--keep-logs']);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      expect(await repoState()).toEqual(before);

      const first = result.stdout.split('\n')[0] ?? '';
      const m =
        /^spotcheck: running the working tree of (.+) \(uncommitted changes included\) as main@([0-9a-f]{7})$/.exec(
          first,
        );
      expect(m?.[1]).toBe(repo);
      const sha = m?.[2] ?? '';
      expect(head.startsWith(sha)).toBe(false);

      // The never-committed workflow is planned and run, as `validate` reads it.
      expect(result.stdout).toContain('▶ .spotcheck/workflows/extra.yml: matched push to refs/heads/main\n');
      expect(ordersRun(result.stdout)).toEqual(['ci/Check', 'extra/extra']);
      // Step output, live and prefixed; the snapshot commit is what GITHUB_SHA names.
      expect(result.stdout).toMatch(new RegExp(`^\\[ci/Check\\] sha=${sha}[0-9a-f]{33} tracked=changed$`, 'm'));
      expect(result.stdout).toMatch(/^\[ci\/Check\] untracked present$/m);
      expect(result.stdout).toMatch(/^\[ci\/Check\] ignored absent$/m);
      // Every output line of a step has its prefix: no bare line between the transitions.
      expect(result.stdout).not.toMatch(/^(tracked=|untracked |ignored )/m);

      // The logs are kept and each order's path is listed, and holds that order's output.
      const logs = /^logs: (.+)$/m.exec(result.stdout)?.[1] ?? '';
      expect(logs).toMatch(new RegExp(`^${join(root, 'tmp')}/spotcheck-run-[^/]+/logs$`));
      const listed = [...result.stdout.matchAll(/^ {2}(ci\/Check|extra\/extra) +(\/\S+\.log)$/gm)];
      expect(listed.map((l) => l[1])).toEqual(['ci/Check', 'extra/extra']);
      for (const [, , path] of listed) {
        expect(path?.startsWith(logs)).toBe(true);
        await access(path ?? '');
      }
      expect(await readFile(listed[0]?.[2] ?? '', 'utf8')).toContain('untracked present');
    },
    TIMEOUT,
  );

  it(
    'validate checks the same files run plans: the untracked workflow included',
    async () => {
      const result = await cli(['validate', repo]);
      expect(result.stderr).toBe('');
      expect(result.stdout).toBe(
        'ok .spotcheck/workflows/ci.yml (5 jobs)\nok .spotcheck/workflows/extra.yml (1 job)\n',
      );
    },
    TIMEOUT,
  );
});

describe('spotcheck run --sha / --job', () => {
  it(
    '--sha runs the commit (its workflows, its files); --job runs those jobs and what they need, transitively',
    async () => {
      const result = await cli(['run', repo, '--sha', 'HEAD', '--job', 'test', '--job', 'check', '-v']);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      expect(result.stdout.split('\n')[0]).toBe(
        `spotcheck: running commit ${head.slice(0, 7)} of ${repo} as main@${head.slice(0, 7)}`,
      );
      expect(result.stdout).not.toContain('extra.yml');
      expect(result.stdout).toMatch(/^\[ci\/Check\] sha=[0-9a-f]{40} tracked=committed$/m);
      expect(result.stdout).toMatch(/^\[ci\/Check\] untracked absent$/m);
      expect(ordersRun(result.stdout)).toEqual(['ci/Check', 'ci/build', 'ci/test (1)', 'ci/test (2)']);
      // A green run's logs go, and the summary says so, with where they are until then.
      expect(result.stdout).toMatch(/^logs: \S+ \(removed when spotcheck exits; --keep-logs keeps them\)$/m);
      expect([...result.stdout.matchAll(/^ {2}ci\/\S.* +\/\S+\.log$/gm)]).toHaveLength(4);
    },
    TIMEOUT,
  );

  it(
    'an unknown --job is exit 2, listing the jobs, with nothing run',
    async () => {
      const result = await cli(['run', repo, '--job', 'tset']);
      expect(result.code).toBe(2);
      expect(result.stderr).toBe(
        'spotcheck: unknown job "tset"; the jobs this event runs are .spotcheck/workflows/ci.yml: check, build, test, deploy, lint; .spotcheck/workflows/extra.yml: extra\n',
      );
      expect(ordersRun(result.stdout)).toEqual([]);
    },
    TIMEOUT,
  );
});
