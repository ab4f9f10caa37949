/**
 * End-to-end through `spotcheck run`: `hashFiles()` evaluated by the agent at step time over the checkout, in a
 * step's `run`, `name`, `env` and `if`, as GitHub's runner evaluates it; and the `strategy` and `runner` contexts
 * reaching a step through the stored order.
 */
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(REPO, 'bin', 'spotcheck.js');
const RUN_TIMEOUT = 120_000;

const WORKFLOW = `on: push
jobs:
  hash:
    runs-on: local
    steps:
      - name: hash \${{ hashFiles('x/*.txt') }}
        env: { NOTHING: "[\${{ hashFiles('none/**') }}]" }
        run: |
          echo "all=\${{ hashFiles('**/*.txt') }}"
          echo "nothing=$NOTHING"
      - if: hashFiles('**/*.txt', '!x-y/**') != ''
        run: echo "without-x-y=\${{ hashFiles('**/*.txt', '!x-y/**') }}"
  cells:
    runs-on: local
    strategy: { matrix: { n: [a, b] }, max-parallel: 1 }
    steps:
      - run: echo "cell-\${{ matrix.n }}=\${{ strategy.job-index }}/\${{ strategy.job-total }}/\${{ strategy.max-parallel }}/\${{ runner.environment }}"
`;

/** Written in this order on purpose; GitHub hashes in its walk order (x/ before x-y/), not in full-path order. */
const FILES: Record<string, string> = { 'x-y/z.txt': 'zed\n', 'x/w.txt': 'double-u\n', 'top.txt': 'top\n' };

let root: string;
let repo: string;
/** The one run both tests read. */
let result: { code: number; stdout: string };

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

/** SHA-256 over the files' SHA-256 digests, in the given order (GitHub's hashFiles result). */
function expectedHash(files: readonly string[]): string {
  const total = createHash('sha256');
  for (const file of files)
    total.update(
      createHash('sha256')
        .update(FILES[file] ?? '')
        .digest(),
    );
  return total.digest('hex');
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'spotcheck-hash-files-'));
  repo = join(root, 'repo');
  await mkdir(join(root, 'tmp'));
  await mkdir(join(repo, '.spotcheck', 'workflows'), { recursive: true });
  await writeFile(join(repo, '.spotcheck', 'workflows', 'ci.yml'), WORKFLOW);
  for (const [file, text] of Object.entries(FILES)) {
    await mkdir(join(repo, file, '..'), { recursive: true });
    await writeFile(join(repo, file), text);
  }
  await git('init', '-q', '-b', 'main');
  await git('add', '-A');
  await git('commit', '-q', '-m', 'files to hash');
  const sha = await git('rev-parse', 'HEAD');
  result = await exec(process.execPath, [BIN, 'run', repo, '--sha', sha, '--ref', 'main', '-v'], REPO);
}, RUN_TIMEOUT);

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('spotcheck run: hashFiles() and contexts at step time', () => {
  it('hashes the checkout in walk order, honours exclusions, and is empty when nothing matches', () => {
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`all=${expectedHash(['top.txt', 'x/w.txt', 'x-y/z.txt'])}`);
    expect(result.stdout).toContain(`without-x-y=${expectedHash(['top.txt', 'x/w.txt'])}`);
    expect(result.stdout).toContain('nothing=[]');
    expect(result.stdout).toContain(`hash ${expectedHash(['x/w.txt'])}`);
  });

  it('gives each matrix cell its strategy context and the runner context', () => {
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('cell-a=0/2/1/self-hosted');
    expect(result.stdout).toContain('cell-b=1/2/1/self-hosted');
  });
});
