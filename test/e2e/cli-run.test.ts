/**
 * `spotcheck run` and `spotcheck demo`, spawned for real on temporary git repositories: exit codes (0 success,
 * 1 a run failed, 2 invalid workflow / not a git repository), one line per transition when stdout is not a TTY,
 * the sticky comment last, pull requests against a base branch, and the caller's environment reaching steps.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(REPO, 'bin', 'spotcheck.js');
const MARKER = '<!-- spotcheck:sticky -->';
const PROBE = 'SPOTCHECK_E2E_PROBE';
/** A run takes a few seconds alone; minutes only on a very busy machine, or when it hangs. */
const RUN_TIMEOUT = 120_000;

interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

let root: string;

/** Runs the CLI with a private TMPDIR (so kept logs are removed with the test's folder) and the given env. */
function cli(args: readonly string[], env: Record<string, string> = {}): Promise<CliResult> {
  const base = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => k !== PROBE && k !== 'SPOTCHECK_KEEP_LOGS'),
  );
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      {
        cwd: REPO,
        env: { ...base, TMPDIR: join(root, 'tmp'), GIT_CEILING_DIRECTORIES: root, ...env },
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

async function write(dir: string, path: string, text: string): Promise<void> {
  await mkdir(join(dir, path, '..'), { recursive: true });
  await writeFile(join(dir, path), text);
}

/** Two jobs passing an output through `needs`, a matrix, and a step that checks the caller's environment. */
const CI = `name: ci
on: [push, pull_request]
jobs:
  build:
    name: Build
    runs-on: local
    outputs:
      version: \${{ steps.v.outputs.version }}
    steps:
      - id: v
        run: echo "version=1.2.3" >> "$GITHUB_OUTPUT"
  use:
    name: Use
    needs: build
    runs-on: local
    steps:
      - run: test "\${{ needs.build.outputs.version }}" = 1.2.3
      - run: test "$${PROBE}" = from-the-caller
  test:
    name: Test
    needs: build
    runs-on: local
    strategy:
      matrix:
        shard: [1, 2]
    steps:
      - run: test "\${{ matrix.shard }}" -ge 1
`;

const FAILING = `name: broken-build
on: push
jobs:
  fails:
    name: Fails
    runs-on: local
    steps:
      - run: exit 7
`;

/** Pull-request workflows: one filters on src/**, the other on docs/** (not changed on the branch). */
const PR_SRC = `name: pr-src
on:
  pull_request:
    branches: [main]
    paths: ['src/**']
jobs:
  check:
    name: Check
    runs-on: local
    steps:
      - run: test "$GITHUB_EVENT_NAME" = pull_request && test "$GITHUB_BASE_REF" = main
`;
const PR_DOCS = `name: pr-docs
on:
  pull_request:
    paths: ['docs/**']
jobs:
  docs:
    runs-on: local
    steps:
      - run: 'true'
`;

let repo: string;
const commits: Record<'green' | 'red' | 'invalid', string> = { green: '', red: '', invalid: '' };

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'spotcheck-run-e2e-'));
  await mkdir(join(root, 'tmp'));
  repo = join(root, 'repo');
  await mkdir(repo);
  await git(repo, 'init', '-q', '-b', 'main');
  await write(repo, 'src/app.txt', 'hello\n');
  await write(repo, '.spotcheck/workflows/ci.yml', CI);
  await write(repo, '.spotcheck/workflows/pr-src.yml', PR_SRC);
  await write(repo, '.spotcheck/workflows/pr-docs.yml', PR_DOCS);
  await git(repo, 'add', '-A');
  await git(repo, 'commit', '-q', '-m', 'green');
  commits.green = await git(repo, 'rev-parse', 'HEAD');
  await write(repo, '.spotcheck/workflows/zz-failing.yml', FAILING);
  await git(repo, 'add', '-A');
  await git(repo, 'commit', '-q', '-m', 'red');
  commits.red = await git(repo, 'rev-parse', 'HEAD');
  await write(
    repo,
    '.spotcheck/workflows/invalid.yml',
    'on: push\njobs:\n  a:\n    runs-on: local\n    steps:\n      - uses: actions/checkout\n',
  );
  await git(repo, 'add', '-A');
  await git(repo, 'commit', '-q', '-m', 'invalid');
  commits.invalid = await git(repo, 'rev-parse', 'HEAD');
  // A branch off the green commit that changes src/ only, for pull requests into main.
  await git(repo, 'checkout', '-q', '-b', 'feature', commits.green);
  await write(repo, 'src/feature.txt', 'new\n');
  await git(repo, 'add', '-A');
  await git(repo, 'commit', '-q', '-m', 'feature');
}, RUN_TIMEOUT);

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** The output's transition lines: `HH:MM:SS  workflow/order  state  [runner] ...`. */
function transitions(stdout: string): { order: string; state: string }[] {
  return stdout
    .split('\n')
    .map((line) => /^\d{2}:\d{2}:\d{2} {2}(.+?) {2}([a-z_]+) {2}\[/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ order: m[1] ?? '', state: m[2] ?? '' }));
}

/** The comment at the end of the output (from the marker on). */
function comment(stdout: string): string {
  const at = stdout.indexOf(MARKER);
  expect(at).toBeGreaterThanOrEqual(0);
  return stdout.slice(at);
}

/** Comment table rows: order name → state word. */
function rows(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^\| \S+ ([a-z_]+) \| (.+?) \|/.exec(line);
    if (m !== null && m[1] !== undefined && m[2] !== undefined) out[m[2]] = m[1];
  }
  return out;
}

// Checks that stop before running anything cost one CLI start-up each, so they overlap. They come first: their
// processes also fill the TMPDIR's tsx compile cache that the runs below reuse.
describe.concurrent('spotcheck run: refused input (exit 2) and nothing to run', { timeout: RUN_TIMEOUT }, () => {
  it('exits 2 for an invalid workflow, with file:line:col on stderr and nothing run', async () => {
    const result = await cli(['run', repo, '--sha', commits.invalid]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^\.spotcheck\/workflows\/invalid\.yml:6:15: .*names no version/m);
    expect(transitions(result.stdout)).toEqual([]);
    expect(result.stdout).not.toContain(MARKER);
  });

  it('exits 2 for a committed workflow over the size cap, without reading it', async () => {
    const big = join(root, 'big-repo');
    await mkdir(big);
    await git(big, 'init', '-q', '-b', 'main');
    await write(big, '.spotcheck/workflows/big.yml', `on: push\n${'#'.repeat(5 * 1024 * 1024 - 9)}`);
    await git(big, 'add', '-A');
    await git(big, 'commit', '-q', '-m', 'big');
    const result = await cli(['run', big]);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      '.spotcheck/workflows/big.yml:1:1: file is too large (5 MiB): workflow files are limited to 512 KiB; it was not read\n',
    );
  });

  it('exits 2 outside a git repository', async () => {
    const plain = join(root, 'not-a-repo');
    await mkdir(plain, { recursive: true });
    const result = await cli(['run', plain]);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(`spotcheck: ${plain} is not a git repository with a commit\n`);
  });

  it('exits 2 for an unknown commit', async () => {
    const result = await cli(['run', repo, '--sha', '0123456789abcdef0123456789abcdef01234567']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('is not a git repository with a commit 0123456789abcdef');
  });

  it('runs nothing (exit 0) when no workflow matches', async () => {
    const result = await cli(['run', repo, '--event', 'testme', '--base-ref', 'main']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('· .spotcheck/workflows/ci.yml: workflow has no "testme" trigger\n');
    expect(transitions(result.stdout)).toEqual([]);
    expect(result.stdout.trimEnd().endsWith('nothing to run')).toBe(true);
  });
});

// Each run below is CPU-bound (start-up, the embedded store, a clone and a shell per order) and waits on nothing
// fixed. They run one at a time, so a test's timeout measures its own run, not the sum of the runs sharing the
// machine's cores; RUN_TIMEOUT is generous for a loaded machine and still ends a hung run.
describe('spotcheck run', { timeout: RUN_TIMEOUT }, () => {
  it('succeeds (exit 0): outputs through needs, a matrix, the caller env; one line per transition; comment last', async () => {
    const result = await cli(['run', repo, '--sha', commits.green, '--ref', 'main'], { [PROBE]: 'from-the-caller' });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    // Not a TTY: plain lines, no cursor movement or colour.
    expect(result.stdout).not.toContain('\x1b[');
    expect(result.stdout).toContain('▶ .spotcheck/workflows/ci.yml: matched push to refs/heads/main\n');
    expect(result.stdout).toContain('· .spotcheck/workflows/pr-src.yml: workflow has no "push" trigger\n');

    const lines = transitions(result.stdout);
    const orders = ['ci/Build', 'ci/Use', 'ci/Test (1)', 'ci/Test (2)'];
    expect([...new Set(lines.map((l) => l.order))].sort()).toEqual([...orders].sort());
    for (const order of orders) {
      // Each transition once, in order: a repeated state would be a line printed without a transition.
      expect(lines.filter((l) => l.order === order).map((l) => l.state)).toEqual([
        'dispatching',
        'running',
        'succeeded',
      ]);
    }
    // Use and Test need Build: they start only after it succeeded.
    const built = lines.findIndex((l) => l.order === 'ci/Build' && l.state === 'succeeded');
    const firstDependent = lines.findIndex((l) => l.order !== 'ci/Build');
    expect(built).toBeLessThan(firstDependent);

    const text = comment(result.stdout);
    expect(result.stdout.trimEnd().endsWith(text.trimEnd())).toBe(true);
    expect(text).toContain('spotcheck succeeded');
    expect(text).toContain(`\`${commits.green.slice(0, 7)}\``);
    expect(rows(text)).toEqual({
      Build: 'succeeded',
      Use: 'succeeded',
      'Test (1)': 'succeeded',
      'Test (2)': 'succeeded',
    });
    expect(result.stdout).toMatch(/logs: .*logs \(removed when spotcheck exits; --keep-logs keeps them\)/);
  });

  it('fails (exit 1) when a step cannot see the variable the caller did not set', async () => {
    const result = await cli(['run', repo, '--sha', commits.green, '--ref', 'main']);
    expect(result.code).toBe(1);
    const text = comment(result.stdout);
    expect(rows(text)).toMatchObject({ Build: 'succeeded', Use: 'failed' });
  });

  it('fails (exit 1) when one of the runs failed, and keeps its logs', async () => {
    const result = await cli(['run', repo, '--sha', commits.red, '--ref', 'main'], { [PROBE]: 'from-the-caller' });
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('▶ .spotcheck/workflows/zz-failing.yml: matched push to refs/heads/main\n');
    expect(
      transitions(result.stdout)
        .filter((l) => l.order === 'broken-build/Fails')
        .map((l) => l.state),
    ).toEqual(['dispatching', 'running', 'failed']);
    const text = comment(result.stdout);
    expect(text).toContain('spotcheck failed');
    expect(rows(text)).toEqual({
      Build: 'succeeded',
      Use: 'succeeded',
      'Test (1)': 'succeeded',
      'Test (2)': 'succeeded',
      Fails: 'failed',
    });
    expect(result.stdout).toMatch(new RegExp(`^logs: ${join(root, 'tmp')}/spotcheck-run-[^/]+/logs$`, 'm'));
  });

  it('runs a pull request into main with the files the branch changed', async () => {
    // HEAD is `feature`: it changed src/feature.txt since main.
    const result = await cli(['run', repo, '--event', 'pull_request', '--base-ref', 'main'], {
      [PROBE]: 'from-the-caller',
    });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('▶ .spotcheck/workflows/pr-src.yml: matched pull_request into main\n');
    expect(result.stdout).toContain('· .spotcheck/workflows/pr-docs.yml: no changed file matches paths\n');
    expect(result.stdout).toContain('▶ .spotcheck/workflows/ci.yml: matched pull_request into main\n');
    const text = comment(result.stdout);
    expect(rows(text)).toMatchObject({ Check: 'succeeded' });
    expect(transitions(result.stdout).some((l) => l.order.startsWith('pr-docs/'))).toBe(false);
  });
});

describe('spotcheck demo', { timeout: RUN_TIMEOUT }, () => {
  it('runs the sample repository: e2e skipped, report succeeded, exit 0', async () => {
    const result = await cli(['demo']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const text = comment(result.stdout);
    expect(text).toContain('spotcheck succeeded');
    expect(rows(text)).toEqual({
      Build: 'succeeded',
      'Test (1)': 'succeeded',
      'Test (2)': 'succeeded',
      'Test (3)': 'succeeded',
      'End-to-end': 'skipped',
      Report: 'succeeded',
    });
    expect(text).toMatch(/End-to-end .*skipped: if: github\.event\\?_name == 'testme' was false/);
  });
});
