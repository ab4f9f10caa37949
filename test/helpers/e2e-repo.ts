import { execFile } from 'node:child_process';
import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

const exec = promisify(execFile);

/**
 * A temporary git repository with two commits on `main` (the second edits README.md): what the end-to-end tests
 * clone from. `files` are written before the first commit. The caller removes `dir`.
 */
export async function makeTwoCommitRepo(
  prefix: string,
  files: Readonly<Record<string, string>> = {},
): Promise<{ dir: string; repo: string; first: string; second: string }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const repo = join(dir, 'repo');
  await mkdir(repo, { recursive: true });
  for (const [path, text] of Object.entries({ 'README.md': 'hello\n', ...files })) {
    await mkdir(dirname(join(repo, path)), { recursive: true });
    await writeFile(join(repo, path), text);
  }
  const git = (...args: string[]) =>
    exec('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', '-C', repo, ...args]);
  await git('init', '-q', '-b', 'main');
  await git('add', '-A');
  await git('commit', '-q', '-m', 'first');
  const first = (await git('rev-parse', 'HEAD')).stdout.trim();
  await writeFile(join(repo, 'README.md'), 'hello again\n');
  await git('commit', '-q', '-am', 'second');
  const second = (await git('rev-parse', 'HEAD')).stdout.trim();
  return { dir, repo, first, second };
}

/** The pull-request, `!testme` and slow workflows the PR end-to-end tests of both forges use. */
export const PR_WORKFLOW = `name: pr
on: pull_request
jobs:
  build:
    runs-on: local
    steps:
      - run: test -f README.md
  test:
    needs: build
    runs-on: local
    steps:
      - run: echo "tested $GITHUB_SHA"
`;
export const TESTME_WORKFLOW = `name: e2e
on: testme
jobs:
  e2e:
    runs-on: local
    steps:
      - run: echo "e2e at $GITHUB_SHA"
`;
export const SLOW_WORKFLOW = `name: slow
on: pull_request
jobs:
  wait:
    runs-on: local
    steps:
      - run: sleep 30
`;
