/**
 * End-to-end through `spotcheck run`: `hashFiles()` evaluated by the agent at step time over the checkout, in a
 * step's `run`, `name`, `env` and `if`, as GitHub's runner evaluates it; and the `strategy` and `runner` contexts
 * reaching a step through the stored order.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCliSandbox, type CliSandbox } from '../helpers/cli-sandbox.ts';

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

let sandbox: CliSandbox;
/** The one run both tests read. */
let result: { code: number; stdout: string };

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
  sandbox = await makeCliSandbox(
    'spotcheck-hash-files-',
    { '.spotcheck/workflows/ci.yml': WORKFLOW, ...FILES },
    'files to hash',
  );
  const sha = await sandbox.git('rev-parse', 'HEAD');
  result = await sandbox.exec(process.execPath, [BIN, 'run', sandbox.repo, '--sha', sha, '--ref', 'main', '-v'], REPO);
}, RUN_TIMEOUT);

afterAll(async () => {
  await sandbox.remove();
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
