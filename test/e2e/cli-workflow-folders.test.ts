/**
 * Which folders the CLI reads workflow files from (README "Where workflow files live"): the operator config's
 * `workflows.folders` with `--config`, `--workflows-dir` to name them, `.spotcheck/workflows` otherwise. `spotcheck
 * run` is spawned for real on a temporary git repository that keeps a GitHub Actions file and a spotcheck file.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(REPO, 'bin', 'spotcheck.js');
/** A run takes a few seconds alone; minutes only on a very busy machine, or when it hangs. */
const RUN_TIMEOUT = 120_000;

interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

let root: string;
let repo: string;

function cli(args: readonly string[]): Promise<CliResult> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'SPOTCHECK_CONFIG'));
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { cwd: REPO, env: { ...env, TMPDIR: join(root, 'tmp'), GIT_CEILING_DIRECTORIES: root } },
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
  await mkdir(join(path, '..'), { recursive: true });
  await writeFile(path, text);
}

const workflow = (name: string): string =>
  `name: ${name}\non: push\njobs:\n  check:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${name}\n`;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'spotcheck-folders-'));
  await mkdir(join(root, 'tmp'));
  repo = join(root, 'repo');
  await mkdir(repo);
  await git(repo, 'init', '-q', '-b', 'main');
  await write(join(repo, '.github/workflows/actions.yml'), workflow('actions'));
  await write(join(repo, '.spotcheck/workflows/spot.yml'), workflow('spot'));
  await write(join(repo, 'README.md'), 'hello\n');
  await git(repo, 'add', '-A');
  await git(repo, 'commit', '-q', '-m', 'both folders');
  await write(join(root, 'github-only.yml'), 'workflows:\n  folders: [.github/workflows]\n');
  await write(
    join(root, 'both.yml'),
    "workflows:\n  folders: [.github/workflows, .spotcheck/workflows]\n  repos: { 'acme/*': { folders: [.gitea/workflows] } }\n",
  );
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('spotcheck run: workflow folders', { timeout: RUN_TIMEOUT }, () => {
  it("runs .github/workflows only, from --config's workflows.folders", async () => {
    const result = await cli(['run', repo, '--sha', 'HEAD', '--config', join(root, 'github-only.yml')]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('▶ .github/workflows/actions.yml: matched push to refs/heads/main\n');
    expect(result.stdout).not.toContain('.spotcheck/workflows/spot.yml');
  });

  it('reads .spotcheck/workflows only without --config', async () => {
    const result = await cli(['validate', repo]);
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('ok .spotcheck/workflows/spot.yml (1 job)\n');
  });

  it('reads the default folders of the config in their order (its org entries need a known repository)', async () => {
    const result = await cli(['validate', repo, '--config', join(root, 'both.yml')]);
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('ok .github/workflows/actions.yml (1 job)\nok .spotcheck/workflows/spot.yml (1 job)\n');
  });

  it('plans the folders --workflows-dir names, over the config', async () => {
    const result = await cli([
      'plan',
      '--dir',
      repo,
      '--config',
      join(root, 'both.yml'),
      '--workflows-dir',
      '.github/workflows/',
      '--json',
    ]);
    expect(result.stderr).toBe('');
    const plan = JSON.parse(result.stdout) as { workflows: { file: string; matched: boolean }[] };
    expect(plan.workflows.map((w) => [w.file, w.matched])).toEqual([['.github/workflows/actions.yml', true]]);
  });

  it.each([
    [
      'a folder spotcheck does not read',
      ['validate', 'REPO', '--workflows-dir', 'ci'],
      '--workflows-dir must be one of',
    ],
    ['an empty folder', ['validate', 'REPO', '--workflows-dir', '.gitea/workflows'], 'no workflow files in'],
  ])('refuses %s (exit 2)', async (_label, args, message) => {
    const result = await cli(args.map((a) => (a === 'REPO' ? repo : a)));
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
  });
});
