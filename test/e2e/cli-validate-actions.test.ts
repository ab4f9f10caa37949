/**
 * `spotcheck validate` and `plan` read the actions the steps use, spawned for real: a `./path` action's manifest from
 * the working tree and a remote one's from the user's action cache ($XDG_CACHE_HOME/spotcheck/actions, as
 * `spotcheck run` leaves it); `with:` keys are checked against the inputs (warnings, as GitHub's runner words them),
 * a manifest that does not parse is an error naming it, an action not downloaded yet gets one notice, and a Docker
 * action is an error unless the job's route declares Docker.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(REPO, 'bin', 'spotcheck.js');
const SHA = 'a'.repeat(40);

interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

let root: string;
let cacheHome: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'spotcheck-validate-actions-'));
  cacheHome = join(root, 'cache');
  // acme/tool@v1 as `spotcheck run` leaves it: the commit's files and the ref it resolved from.
  const repoDir = join(cacheHome, 'spotcheck', 'actions', 'github.com', 'acme', 'tool');
  await mkdir(join(repoDir, SHA, 'sub'), { recursive: true });
  await mkdir(join(repoDir, '.refs'), { recursive: true });
  await writeFile(join(repoDir, '.refs', 'v1'), SHA);
  await writeFile(join(repoDir, SHA, 'sub', 'action.yml'), MANIFEST('tool', 'level'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

function cli(args: readonly string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    const env = { ...process.env, XDG_CACHE_HOME: cacheHome };
    execFile(process.execPath, [BIN, ...args], { cwd: root, env }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

/** A JavaScript action's manifest with one required input (no default) and one with a default. */
function MANIFEST(name: string, required: string): string {
  return `name: ${name}\ninputs:\n  ${required}:\n    required: true\n  greeting:\n    default: hi\nruns:\n  using: node20\n  main: index.js\n`;
}

let repos = 0;
async function repo(steps: string, files: Readonly<Record<string, string>> = {}): Promise<string> {
  const dir = join(root, `repo-${++repos}`);
  await mkdir(join(dir, '.spotcheck', 'workflows'), { recursive: true });
  await writeFile(
    join(dir, '.spotcheck', 'workflows', 'ci.yml'),
    `on: push\njobs:\n  build:\n    runs-on: local\n    steps:\n${steps}`,
  );
  for (const [file, text] of Object.entries(files)) {
    await mkdir(join(dir, file, '..'), { recursive: true });
    await writeFile(join(dir, file), text);
  }
  return dir;
}

describe('spotcheck validate: actions', () => {
  it('checks a local action’s with: against its inputs: unknown keys and missing required inputs are warnings', async () => {
    const dir = await repo(
      '      - uses: ./greet\n        with: { who: me, extra: 1, Other: 2 }\n      - uses: ./greet\n        with: { greeting: yo }\n',
      { 'greet/action.yml': MANIFEST('greet', 'who') },
    );
    const result = await cli(['validate', dir]);
    expect(result.code).toBe(0);
    const warnings = result.stderr.split('\n').filter((l) => l.includes('warning:'));
    expect(warnings).toEqual([
      ".spotcheck/workflows/ci.yml:6:9: warning: `./greet`: Unexpected input(s) 'extra', 'Other', valid inputs are ['who', 'greeting']",
      '.spotcheck/workflows/ci.yml:8:9: warning: `./greet`: Input required and not supplied: who',
    ]);
    expect(result.stderr).toContain('2 warnings');
    expect(result.stdout).toContain('ok .spotcheck/workflows/ci.yml');
  });

  it('matches input names without regard to case, as the runner does, and says nothing when with: fits', async () => {
    const dir = await repo('      - uses: ./greet\n        with: { WHO: me }\n', {
      'greet/action.yml': MANIFEST('greet', 'who'),
    });
    const result = await cli(['validate', dir]);
    expect(result.code).toBe(0);
    expect(result.stderr).not.toContain('warning');
  });

  it('refuses a local action whose manifest does not parse, naming the file', async () => {
    const dir = await repo('      - uses: ./broken\n', { 'broken/action.yml': 'name: b\nruns:\n  using: node99\n' });
    const result = await cli(['validate', dir]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      /ci\.yml:6:9: `\.\/broken`: .*broken\/action\.yml: runs\.using 'node99' is not one of/,
    );
    expect(result.stderr).toContain('1 error');
  });

  it('checks a remote action found in the user’s cache, and gives one notice for one not downloaded yet', async () => {
    const dir = await repo(
      '      - uses: acme/tool/sub@v1\n        with: { nope: 1 }\n      - uses: acme/other@v2\n      - uses: acme/other@v2\n',
    );
    const result = await cli(['validate', dir]);
    expect(result.code).toBe(0);
    const lines = result.stderr.split('\n');
    expect(lines).toContain(
      ".spotcheck/workflows/ci.yml:6:9: warning: `acme/tool/sub@v1`: Unexpected input(s) 'nope', valid inputs are ['level', 'greeting']",
    );
    expect(lines).toContain(
      '.spotcheck/workflows/ci.yml:6:9: warning: `acme/tool/sub@v1`: Input required and not supplied: level',
    );
    const notices = lines.filter((l) => l.includes('not downloaded yet'));
    expect(notices).toEqual([
      '.spotcheck/workflows/ci.yml:8:9: notice: `acme/other@v2`: not checked: not downloaded yet (its inputs are checked once `spotcheck run` has fetched it)',
    ]);
  });

  it('refuses Docker actions, by `docker://` or by manifest, unless the job’s route declares Docker', async () => {
    const dir = await repo('      - uses: docker://alpine:3\n      - uses: ./img\n', {
      'img/action.yml': 'name: img\nruns:\n  using: docker\n  image: Dockerfile\n',
    });
    const refused = await cli(['validate', dir]);
    expect(refused.code).toBe(2);
    const errors = refused.stderr.split('\n').filter((l) => l.includes('is a Docker action'));
    expect(errors.map((l) => l.split(': ')[0])).toEqual([
      '.spotcheck/workflows/ci.yml:6:9',
      '.spotcheck/workflows/ci.yml:7:9',
    ]);
    expect(errors[0]).toContain('`docker://alpine:3` is a Docker action');
    expect(errors[1]).toContain('`./img` is a Docker action');
    const config = join(root, `docker-${repos}.yml`);
    await writeFile(config, 'routes:\n  local: { runner: local, docker: true }\n');
    const accepted = await cli(['validate', dir, '--config', config]);
    expect(accepted.stderr).not.toContain('Docker action');
    expect(accepted.code).toBe(0);
  });

  it('refuses a route whose docker setting is not a boolean', async () => {
    const dir = await repo('      - run: true\n');
    const config = join(root, 'docker-bad.yml');
    await writeFile(config, 'routes:\n  local: { runner: local, docker: "yes" }\n');
    const result = await cli(['validate', dir, '--config', config]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('routes.local.docker: must be true or false');
  });
});

describe('spotcheck plan: actions', () => {
  it('prints the same warnings and refuses a Docker action', async () => {
    const dir = await repo('      - uses: ./greet\n        with: { extra: 1 }\n', {
      'greet/action.yml': MANIFEST('greet', 'who'),
    });
    const planned = await cli(['plan', '--dir', dir]);
    expect(planned.code).toBe(0);
    expect(planned.stderr).toContain(
      "warning: `./greet`: Unexpected input(s) 'extra', valid inputs are ['who', 'greeting']",
    );
    expect(planned.stderr).toContain('warning: `./greet`: Input required and not supplied: who');
    expect(planned.stdout).toContain('build');
    const docker = await repo('      - uses: docker://alpine:3\n');
    const refused = await cli(['plan', '--dir', docker]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('`docker://alpine:3` is a Docker action');
  });
});
