/**
 * End-to-end through `spotcheck run` and `spotcheck plan`: `defaults.run` (workflow and job) shaping the steps the
 * agent runs, and `permissions` and `environment` accepted and carried onto the orders.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCliSandbox, type CliSandbox } from '../helpers/cli-sandbox.ts';

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

let sandbox: CliSandbox;
let run: { code: number; stdout: string };
let planned: { code: number; stdout: string };

beforeAll(async () => {
  sandbox = await makeCliSandbox(
    'spotcheck-job-settings-',
    { '.spotcheck/workflows/ci.yml': WORKFLOW, 'sub/.keep': '' },
    'job settings',
  );
  const { repo } = sandbox;
  run = await sandbox.exec(process.execPath, [BIN, 'run', repo, '--ref', 'main', '-v'], REPO);
  planned = await sandbox.exec(process.execPath, [BIN, 'plan', '--dir', repo, '--ref', 'main', '--json'], REPO);
}, RUN_TIMEOUT);

afterAll(async () => {
  await sandbox.remove();
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
