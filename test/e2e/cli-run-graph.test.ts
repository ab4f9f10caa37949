/**
 * End-to-end through `spotcheck run`: GitHub's job-graph rules across real processes — a job's status functions look
 * at every ancestor, a matrix job's outputs combine its cells (an empty output never overwrites), and runs-on lists
 * and the default Ubuntu labels reach the local route.
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
const RUN_TIMEOUT = 120_000;

const WORKFLOW = `on: push
jobs:
  a:
    runs-on: [self-hosted, linux]
    steps: [{ run: exit 3 }]
  b:
    needs: a
    if: always()
    runs-on: ubuntu-24.04
    steps: [{ run: 'true' }]
  by-default:
    needs: b
    runs-on: local
    steps: [{ run: 'true' }]
  on-failure:
    needs: b
    if: failure()
    runs-on: local
    steps: [{ run: 'true' }]
  m:
    strategy: { matrix: { n: [1, 2] } }
    runs-on: ubuntu-latest
    outputs: { v: '\${{ steps.s.outputs.v }}' }
    steps:
      - id: s
        run: if [ "\${{ matrix.n }}" = 1 ]; then echo "v=from-one" >> "$GITHUB_OUTPUT"; fi
  use:
    needs: m
    runs-on: local
    steps:
      - run: test "\${{ needs.m.outputs.v }}" = from-one
`;

let root: string;
let repo: string;

function exec(file: string, args: readonly string[], cwd: string): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      {
        cwd,
        env: { ...process.env, TMPDIR: join(root, 'tmp'), GIT_CEILING_DIRECTORIES: root },
        maxBuffer: 16 * 1024 * 1024,
      },
      (error, stdout) => {
        resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout });
      },
    );
  });
}

async function git(...args: string[]): Promise<string> {
  const result = await exec('git', ['-c', 'user.name=t', '-c', 'user.email=t@spotcheck.invalid', ...args], repo);
  if (result.code !== 0) throw new Error(`git ${args.join(' ')} failed`);
  return result.stdout.trim();
}

/** Comment table rows: order name → state word. */
function rows(stdout: string): Record<string, string> {
  const at = stdout.indexOf(MARKER);
  expect(at).toBeGreaterThanOrEqual(0);
  const out: Record<string, string> = {};
  for (const line of stdout.slice(at).split('\n')) {
    const m = /^\| \S+ ([a-z_]+) \| (.+?) \|/.exec(line);
    if (m !== null && m[1] !== undefined && m[2] !== undefined) out[m[2]] = m[1];
  }
  return out;
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'spotcheck-graph-'));
  repo = join(root, 'repo');
  await mkdir(join(root, 'tmp'));
  await mkdir(join(repo, '.spotcheck', 'workflows'), { recursive: true });
  await writeFile(join(repo, '.spotcheck', 'workflows', 'ci.yml'), WORKFLOW);
  await git('init', '-q', '-b', 'main');
  await git('add', '-A');
  await git('commit', '-q', '-m', 'graph');
}, RUN_TIMEOUT);

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('spotcheck run: the job graph as on GitHub', { timeout: RUN_TIMEOUT }, () => {
  it('a failure two levels up skips the default if and runs if: failure(); matrix outputs keep the non-empty value', async () => {
    const sha = await git('rev-parse', 'HEAD');
    const result = await exec(process.execPath, [BIN, 'run', repo, '--sha', sha, '--ref', 'main'], REPO);
    expect(result.code).toBe(1);
    expect(rows(result.stdout)).toEqual({
      a: 'failed',
      b: 'succeeded',
      'by-default': 'skipped',
      'on-failure': 'succeeded',
      'm (1)': 'succeeded',
      'm (2)': 'succeeded',
      use: 'succeeded',
    });
    expect(result.stdout).toContain('skipped: job "a", which a needed job depends on, failed');
  });
});
