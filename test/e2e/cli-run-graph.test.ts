/**
 * End-to-end through `spotcheck run`: GitHub's job-graph rules across real processes — a job's status functions look
 * at every ancestor, a matrix job's outputs combine its cells (an empty output never overwrites), and runs-on lists
 * and the default Ubuntu labels reach the local route.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCliSandbox, type CliSandbox } from '../helpers/cli-sandbox.ts';

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

let sandbox: CliSandbox;

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
  sandbox = await makeCliSandbox('spotcheck-graph-', { '.spotcheck/workflows/ci.yml': WORKFLOW }, 'graph');
}, RUN_TIMEOUT);

afterAll(async () => {
  await sandbox.remove();
});

describe('spotcheck run: the job graph as on GitHub', { timeout: RUN_TIMEOUT }, () => {
  it('a failure two levels up skips the default if and runs if: failure(); matrix outputs keep the non-empty value', async () => {
    const sha = await sandbox.git('rev-parse', 'HEAD');
    const result = await sandbox.exec(
      process.execPath,
      [BIN, 'run', sandbox.repo, '--sha', sha, '--ref', 'main'],
      REPO,
    );
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
