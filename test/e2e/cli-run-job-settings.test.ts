/**
 * End-to-end through `spotcheck run` and `spotcheck plan`: `defaults.run` (workflow and job) shaping the steps the
 * agent runs, and `permissions` and `environment` accepted and carried onto the orders.
 */
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
permissions: read-all
defaults:
  run:
    working-directory: sub
jobs:
  deploy:
    runs-on: local
    permissions: { contents: read, deployments: write }
    environment:
      name: \${{ github.ref_name == 'main' && 'production' || 'review' }}
      url: https://\${{ github.ref_name }}.example.com
    defaults:
      run:
        shell: python
    steps:
      - run: import os, sys; print("deploy-dir=" + os.path.basename(os.getcwd()) + " python=" + str(sys.version_info[0]))
      - shell: bash
        working-directory: .
        run: echo "own-at-root=$(test -d .spotcheck && echo yes) shell-is-bash=\${BASH_VERSION:+yes}"
  check:
    runs-on: local
    steps:
      - run: echo "check-dir=$(basename "$PWD") shell-is-bash=\${BASH_VERSION:+yes}"
`;

let root: string;
let repo: string;
let run: { code: number; stdout: string };
let planned: { code: number; stdout: string };

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

async function git(...args: string[]): Promise<void> {
  const result = await exec('git', ['-c', 'user.name=t', '-c', 'user.email=t@spotcheck.invalid', ...args], repo);
  if (result.code !== 0) throw new Error(`git ${args.join(' ')} failed`);
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'spotcheck-job-settings-'));
  repo = join(root, 'repo');
  await mkdir(join(root, 'tmp'));
  await mkdir(join(repo, '.spotcheck', 'workflows'), { recursive: true });
  await mkdir(join(repo, 'sub'));
  await writeFile(join(repo, 'sub', '.keep'), '');
  await writeFile(join(repo, '.spotcheck', 'workflows', 'ci.yml'), WORKFLOW);
  await git('init', '-q', '-b', 'main');
  await git('add', '-A');
  await git('commit', '-q', '-m', 'job settings');
  run = await exec(process.execPath, [BIN, 'run', repo, '--ref', 'main', '-v'], REPO);
  planned = await exec(process.execPath, [BIN, 'plan', '--dir', repo, '--ref', 'main', '--json'], REPO);
}, RUN_TIMEOUT);

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('spotcheck run: defaults, permissions and environment', () => {
  it('runs steps with the job’s shell and the workflow’s working directory unless a step sets its own', () => {
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('deploy-dir=sub python=3');
    expect(run.stdout).toContain('own-at-root=yes shell-is-bash=yes');
    expect(run.stdout).toContain('check-dir=sub shell-is-bash=yes');
  });

  it('plans each order with its permissions (the job’s over the workflow’s) and its evaluated environment', () => {
    expect(planned.code).toBe(0);
    const { workflows } = JSON.parse(planned.stdout) as {
      workflows: { orders: { id: string; permissions?: unknown; environment?: unknown }[] }[];
    };
    const orders = workflows[0]?.orders ?? [];
    expect(orders.map((o) => o.id)).toEqual(['deploy', 'check']);
    expect(orders[0]).toMatchObject({
      permissions: { contents: 'read', deployments: 'write' },
      environment: { name: 'production', url: 'https://main.example.com' },
    });
    expect(orders[1]).toMatchObject({ permissions: 'read-all' });
    expect(orders[1]).not.toHaveProperty('environment');
  });
});
