/**
 * `spotcheck validate`, spawned for real, catching what `spotcheck run` would otherwise refuse later: shells the
 * runner cannot start, `runs-on` labels no route serves (a warning on the default routes, an error under a named
 * operator config), one error per problem, and a closing count equal to the problems listed.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(REPO, 'bin', 'spotcheck.js');
const TIMEOUT = 120_000;

interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function cli(args: readonly string[]): Promise<CliResult> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'SPOTCHECK_CONFIG'));
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd: REPO, env }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout, stderr });
    });
  });
}

let root: string;
let repos = 0;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'spotcheck-validate-checks-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function repoWith(files: Record<string, string>): Promise<string> {
  const dir = join(root, `repo-${++repos}`);
  await mkdir(join(dir, '.spotcheck', 'workflows'), { recursive: true });
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, '.spotcheck', 'workflows', name), text);
  return dir;
}

/** stderr's `file:line:col: message` lines. */
function problems(stderr: string): string[] {
  return stderr.split('\n').filter((line) => /^\S+:\d+:\d+: /.test(line));
}

const ROUTED = `on: push
jobs:
  gpu:
    runs-on: gpu
    steps: [{ run: 'true' }]
  os:
    runs-on: \${{ matrix.os }}
    strategy: { matrix: { os: [ubuntu-latest, big-box] } }
    steps: [{ run: 'true' }]
`;

describe.concurrent('spotcheck validate: what run would refuse', () => {
  it(
    'unknown shells and a uses without a version; the count equals the lines',
    async () => {
      const dir = await repoWith({
        'ci.yml': `on: push
jobs:
  a:
    runs-on: local
    steps:
      - run: 'true'
        shell: zsh
      - run: 'true'
        shell: fish
      - run: 'true'
        shell: bash -x {0}
      - uses: actions/setup-node
        with: { node-version: 22 }
`,
      });
      const result = await cli(['validate', dir]);
      expect(result.code).toBe(2);
      const lines = problems(result.stderr);
      expect(lines.map((l) => l.split(': ')[0])).toEqual([
        '.spotcheck/workflows/ci.yml:7:16',
        '.spotcheck/workflows/ci.yml:9:16',
        '.spotcheck/workflows/ci.yml:12:15',
      ]);
      expect(lines[0]).toMatch(
        /unknown shell `zsh`: use one of bash, sh, python, pwsh or a command template with \{0\}/,
      );
      expect(lines[1]).toMatch(/unknown shell `fish`/);
      expect(lines[2]).toMatch(/`actions\/setup-node` names no version/);
      expect(result.stderr.trimEnd().split('\n').at(-1)).toBe('3 errors');
    },
    TIMEOUT,
  );

  it(
    'more problems than a file lists: the count says how many are listed and how many are not',
    async () => {
      const steps = Array.from({ length: 60 }, () => "      - run: 'true'\n        bogus: 1\n").join('');
      const dir = await repoWith({ 'ci.yml': `on: push\njobs:\n  a:\n    runs-on: local\n    steps:\n${steps}` });
      const result = await cli(['validate', dir]);
      expect(result.code).toBe(2);
      const listed = problems(result.stderr).filter((l) => l.includes('unknown key `bogus`'));
      expect(result.stderr.trimEnd().split('\n').at(-1)).toBe(
        `${listed.length} errors (and ${60 - listed.length} more not shown)`,
      );
    },
    TIMEOUT,
  );

  it(
    'runs-on labels no default route serves are warnings (exit 0), naming the labels and the route to add',
    async () => {
      const dir = await repoWith({ 'ci.yml': ROUTED });
      const result = await cli(['validate', dir]);
      expect(result.code).toBe(0);
      expect(result.stdout).toBe('ok .spotcheck/workflows/ci.yml (2 jobs)\n');
      expect(problems(result.stderr)).toEqual([
        `.spotcheck/workflows/ci.yml:3:3: warning (default routes; a server uses its own operator config): job \`gpu\`: spotcheck has no route for runs-on label "gpu"; routes serve: linux, local, self-hosted, ubuntu-22.04, ubuntu-24.04, ubuntu-26.04, ubuntu-latest, ubuntu-slim; add one to the operator config (spotcheck.yml):`,
        `.spotcheck/workflows/ci.yml:6:3: warning (default routes; a server uses its own operator config): job \`os\`: spotcheck has no route for runs-on label "big-box"; routes serve: linux, local, self-hosted, ubuntu-22.04, ubuntu-24.04, ubuntu-26.04, ubuntu-latest, ubuntu-slim; add one to the operator config (spotcheck.yml):`,
      ]);
      expect(result.stderr).toContain('(spotcheck.yml):\nroutes:\n  gpu: { runner: local }\n');
      expect(result.stderr.trimEnd().split('\n').at(-1)).toBe('2 warnings');
    },
    TIMEOUT,
  );

  it(
    'a runs-on list needs one route with every label; macos-* is named with the config lines to add a route',
    async () => {
      const dir = await repoWith({
        'ci.yml': `on: push
jobs:
  linux:
    runs-on: [self-hosted, linux]
    steps: [{ run: 'true' }]
  ubuntu:
    runs-on: ubuntu-24.04
    steps: [{ run: 'true' }]
  mac:
    runs-on: macos-14
    steps: [{ run: 'true' }]
  gpu:
    runs-on: [self-hosted, gpu]
    steps: [{ run: 'true' }]
`,
      });
      const config = join(dir, 'spotcheck.yml');
      await writeFile(config, 'routes:\n  gpu: { runner: local, labels: [self-hosted] }\n');
      const result = await cli(['validate', dir, '--config', config]);
      expect(result.code).toBe(2);
      expect(problems(result.stderr).map((line) => line.split(';')[0])).toEqual([
        '.spotcheck/workflows/ci.yml:3:3: job `linux`: spotcheck has no route for runs-on labels "self-hosted", "linux" (one route must have them all)',
        '.spotcheck/workflows/ci.yml:9:3: job `mac`: spotcheck has no route for runs-on label "macos-14"',
      ]);
      expect(result.stderr).toContain('(spotcheck.yml):\nroutes:\n  macos-14: { runner: … }\n');
      expect(result.stderr.trimEnd().split('\n').at(-1)).toBe('2 errors');
    },
    TIMEOUT,
  );

  it(
    'under --config they are errors (exit 2) against that config’s routes',
    async () => {
      const dir = await repoWith({ 'ci.yml': ROUTED });
      const config = join(dir, 'spotcheck.yml');
      await writeFile(config, 'defaultRoutes: false\nroutes:\n  gpu: local\n  ubuntu-latest: local\n');
      const result = await cli(['validate', dir, '--config', config]);
      expect(result.code).toBe(2);
      expect(problems(result.stderr)).toEqual([
        '.spotcheck/workflows/ci.yml:6:3: job `os`: spotcheck has no route for runs-on label "big-box"; routes serve: gpu, ubuntu-latest; add one to the operator config (spotcheck.yml):',
      ]);
      expect(result.stderr).toContain('(spotcheck.yml):\nroutes:\n  big-box: { runner: local }\n');
      expect(result.stderr.trimEnd().split('\n').at(-1)).toBe('1 error');
    },
    TIMEOUT,
  );
});
