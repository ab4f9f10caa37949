/**
 * `spotcheck plan`, spawned for real (`node bin/spotcheck.js plan ...` from the repository root), so the bin, tsx,
 * the argument parsing, the JSON contract and the exit codes are what is tested:
 *
 *   spotcheck plan (--workflow FILE | --dir DIR) --event push|pull_request|testme [--action TYPE] [--ref REF]
 *                  [--base-ref BRANCH] [--deleted] [--changed-file LIST] --json
 *   → {"workflows":[{"file","matched","reason","orders":[{"id","job","needs","runsOn","matrix"}]}],
 *      "notices":[{"file","line","col","message"}]}
 *
 * The trigger table follows GitHub's "Workflow syntax for GitHub Actions" (on.push.<branches|tags|paths>, the `!`
 * examples, the filter pattern cheat sheet), "Events that trigger workflows" (pull_request filters on the base
 * branch), and nektos/act's pattern tests (pkg/workflowpattern/workflow_pattern_test.go).
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

// Every case spawns `node bin/spotcheck.js plan` (the triggers all at once): on a loaded two-core machine one spawn,
// tsx compiling the CLI, took over 30 s. The timeout guards against a hang; it is not a measure of speed.
vi.setConfig({ testTimeout: 180_000 });

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(REPO, 'bin', 'spotcheck.js');
const SAMPLE = 'examples/sample-repo/.spotcheck/workflows/ci.yml';

interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function cli(args: readonly string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { cwd: REPO, env: { ...process.env, NO_COLOR: '1' }, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

interface PlanOrder {
  readonly id: string;
  readonly job: string;
  readonly needs: readonly string[];
  readonly runsOn: string;
  readonly matrix: Record<string, unknown>;
}
interface PlanOutput {
  readonly workflows: readonly {
    readonly file: string;
    readonly matched: boolean;
    readonly reason: string;
    readonly orders: readonly PlanOrder[];
  }[];
}

/** Runs `plan ... --json`, expects exit 0 and exactly one JSON object on stdout. */
async function plan(args: readonly string[]): Promise<PlanOutput> {
  const result = await cli(['plan', ...args, '--json']);
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  expect(result.stdout.trim().split('\n')).toHaveLength(1);
  return JSON.parse(result.stdout) as PlanOutput;
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'spotcheck-plan-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

let files = 0;
async function file(name: string, text: string): Promise<string> {
  const path = join(dir, `${++files}-${name}`);
  await writeFile(path, text);
  return path;
}

/** A one-job workflow with the given `on:` block (YAML, as it follows `on:`). */
const workflow = (on: string): string =>
  `name: t\non:${on.startsWith('\n') ? on : ` ${on}`}\njobs:\n  build:\n    runs-on: local\n    steps:\n      - run: 'true'\n`;

const BUILD: PlanOrder = { id: 'build', job: 'build', needs: [], runsOn: 'local', matrix: {} };

interface TriggerCase {
  readonly name: string;
  readonly on: string;
  readonly event: 'push' | 'pull_request' | 'testme';
  /** --ref (push) */
  readonly ref?: string;
  /** --base-ref (pull_request, testme) */
  readonly base?: string;
  /** --changed-file contents; absent = the flag is not given (changed files unknown). */
  readonly changed?: readonly string[];
  readonly deleted?: boolean;
  readonly matched: boolean;
  /** Part of the reason, when it says something worth pinning. */
  readonly reason?: string;
}

const PUSH_BRANCHES = `
  push:
    branches:
      - main
      - 'mona/octocat'
      - 'releases/**'`;
const PUSH_TAGS = `
  push:
    tags:
      - v2
      - v1.*`;
const PUSH_BRANCHES_IGNORE = `
  push:
    branches-ignore:
      - 'mona/octocat'
      - 'releases/**-alpha'`;
const PUSH_TAGS_IGNORE = `
  push:
    tags-ignore:
      - v2
      - v1.*`;
const PUSH_NEGATION = `
  push:
    branches:
      - 'releases/**'
      - '!releases/**-alpha'`;
const PATHS_LAST_MATCH_WINS = `
  push:
    paths:
      - '*.md'
      - '!README.md'
      - 'README*'`;
const PATHS_NEGATION = `
  push:
    paths:
      - 'sub-project/**'
      - '!sub-project/docs/**'`;
const PATHS_IGNORE_DOCS = `
  push:
    paths-ignore:
      - 'docs/**'`;
const BRANCHES_AND_PATHS = `
  push:
    branches: [main]
    paths: ['src/**']`;
const TAGS_AND_PATHS = `
  push:
    tags: ['v*']
    paths: ['src/**']`;
const PR_BRANCHES = `
  pull_request:
    branches:
      - main
      - 'releases/**'`;
const PR_BRANCHES_IGNORE = `
  pull_request:
    branches-ignore:
      - 'mona/octocat'
      - 'releases/**-alpha'`;
const PR_PATHS = `
  pull_request:
    paths: ['**.js']`;

const TRIGGERS: readonly TriggerCase[] = [
  // on.push.branches (GitHub: "Including branches and tags")
  { name: 'branches: exact name', on: PUSH_BRANCHES, event: 'push', ref: 'main', matched: true },
  { name: 'branches: name with a slash', on: PUSH_BRANCHES, event: 'push', ref: 'mona/octocat', matched: true },
  {
    name: 'branches: releases/** matches releases/10',
    on: PUSH_BRANCHES,
    event: 'push',
    ref: 'releases/10',
    matched: true,
  },
  {
    name: 'branches: ** crosses slashes',
    on: PUSH_BRANCHES,
    event: 'push',
    ref: 'releases/beta/3-alpha',
    matched: true,
  },
  {
    name: 'branches: an unlisted branch',
    on: PUSH_BRANCHES,
    event: 'push',
    ref: 'feature/beta-a/my-branch',
    matched: false,
    reason: 'branch "feature/beta-a/my-branch" not in branches filter',
  },
  {
    name: 'branches only: a tag push does not run',
    on: PUSH_BRANCHES,
    event: 'push',
    ref: 'refs/tags/v1.9.1',
    matched: false,
    reason: 'filters branches only',
  },
  // on.push.tags
  { name: 'tags: exact tag', on: PUSH_TAGS, event: 'push', ref: 'refs/tags/v2', matched: true },
  { name: 'tags: v1.* matches v1.9.1', on: PUSH_TAGS, event: 'push', ref: 'refs/tags/v1.9.1', matched: true },
  {
    name: 'tags: an unlisted tag',
    on: PUSH_TAGS,
    event: 'push',
    ref: 'refs/tags/v3.0.0',
    matched: false,
    reason: 'tag "v3.0.0" not in tags filter',
  },
  {
    name: 'tags only: a branch push does not run',
    on: PUSH_TAGS,
    event: 'push',
    ref: 'main',
    matched: false,
    reason: 'filters tags only',
  },
  {
    name: 'tags: a bare --ref is a branch, not a tag',
    on: PUSH_TAGS,
    event: 'push',
    ref: 'v2',
    matched: false,
    reason: 'push to branch "v2"',
  },
  // branches-ignore / tags-ignore ("Excluding branches and tags")
  {
    name: 'branches-ignore: releases/**-alpha ignores releases/beta/3-alpha',
    on: PUSH_BRANCHES_IGNORE,
    event: 'push',
    ref: 'releases/beta/3-alpha',
    matched: false,
    reason: 'matches branches-ignore',
  },
  {
    name: 'branches-ignore: releases/**-alpha ignores releases/10-alpha',
    on: PUSH_BRANCHES_IGNORE,
    event: 'push',
    ref: 'releases/10-alpha',
    matched: false,
  },
  {
    name: 'branches-ignore: an exact ignored name',
    on: PUSH_BRANCHES_IGNORE,
    event: 'push',
    ref: 'mona/octocat',
    matched: false,
  },
  {
    name: 'branches-ignore: another branch runs',
    on: PUSH_BRANCHES_IGNORE,
    event: 'push',
    ref: 'releases/10',
    matched: true,
  },
  {
    name: 'branches-ignore only: a tag push does not run',
    on: PUSH_BRANCHES_IGNORE,
    event: 'push',
    ref: 'refs/tags/v1.9.1',
    matched: false,
  },
  {
    name: 'tags-ignore: an ignored tag',
    on: PUSH_TAGS_IGNORE,
    event: 'push',
    ref: 'refs/tags/v1.9.1',
    matched: false,
    reason: 'matches tags-ignore',
  },
  {
    name: 'tags-ignore: another tag runs',
    on: PUSH_TAGS_IGNORE,
    event: 'push',
    ref: 'refs/tags/v3.0.0',
    matched: true,
  },
  {
    name: 'tags-ignore only: a branch push does not run',
    on: PUSH_TAGS_IGNORE,
    event: 'push',
    ref: 'main',
    matched: false,
  },
  // `!` ("Using positive and negative patterns"): releases/10 runs, releases/10-alpha and releases/beta/3-alpha do not
  { name: '! example: releases/10 runs', on: PUSH_NEGATION, event: 'push', ref: 'releases/10', matched: true },
  {
    name: '! example: releases/10-alpha does not',
    on: PUSH_NEGATION,
    event: 'push',
    ref: 'releases/10-alpha',
    matched: false,
  },
  {
    name: '! example: releases/beta/3-alpha does not',
    on: PUSH_NEGATION,
    event: 'push',
    ref: 'releases/beta/3-alpha',
    matched: false,
  },
  // no filter at all: branches and tags both run
  { name: 'on: push runs for a branch', on: 'push', event: 'push', ref: 'feature/beta-a/my-branch', matched: true },
  { name: 'on: push runs for a tag', on: 'push', event: 'push', ref: 'refs/tags/v3.0.0', matched: true },
  {
    name: 'on: [push, pull_request] runs for push',
    on: '[push, pull_request]',
    event: 'push',
    ref: 'main',
    matched: true,
  },
  // cheat sheet patterns for branches and tags
  {
    name: 'cheat sheet: feature/* matches feature/my-branch',
    on: `{ push: { branches: ['feature/*'] } }`,
    event: 'push',
    ref: 'feature/my-branch',
    matched: true,
  },
  {
    name: 'cheat sheet: feature/* does not cross a slash',
    on: `{ push: { branches: ['feature/*'] } }`,
    event: 'push',
    ref: 'feature/beta-a/my-branch',
    matched: false,
  },
  {
    name: 'cheat sheet: feature/** crosses slashes',
    on: `{ push: { branches: ['feature/**'] } }`,
    event: 'push',
    ref: 'feature/beta-a/my-branch',
    matched: true,
  },
  {
    name: 'cheat sheet: * does not match a name with a slash',
    on: `{ push: { branches: ['*'] } }`,
    event: 'push',
    ref: 'mona/octocat',
    matched: false,
  },
  {
    name: 'cheat sheet: ** matches every branch',
    on: `{ push: { branches: ['**'] } }`,
    event: 'push',
    ref: 'mona/octocat',
    matched: true,
  },
  {
    name: 'cheat sheet: *feature matches mona-feature',
    on: `{ push: { branches: ['*feature'] } }`,
    event: 'push',
    ref: 'mona-feature',
    matched: true,
  },
  {
    name: 'cheat sheet: v2* matches tag v2',
    on: `{ push: { tags: ['v2*'] } }`,
    event: 'push',
    ref: 'refs/tags/v2',
    matched: true,
  },
  {
    name: 'cheat sheet: v[12].[0-9]+.[0-9]+ matches v1.10.1',
    on: `{ push: { tags: ['v[12].[0-9]+.[0-9]+'] } }`,
    event: 'push',
    ref: 'refs/tags/v1.10.1',
    matched: true,
  },
  {
    name: 'cheat sheet: v[12].[0-9]+.[0-9]+ rejects v3.0.0',
    on: `{ push: { tags: ['v[12].[0-9]+.[0-9]+'] } }`,
    event: 'push',
    ref: 'refs/tags/v3.0.0',
    matched: false,
  },
  // paths (cheat sheet and act's tests)
  {
    name: 'paths: *.jsx? matches page.jsx',
    on: `{ push: { paths: ['*.jsx?'] } }`,
    event: 'push',
    changed: ['README.md', 'page.jsx'],
    matched: true,
  },
  {
    name: 'paths: **.js does not match page.jsx',
    on: `{ push: { paths: ['**.js'] } }`,
    event: 'push',
    changed: ['README.md', 'page.jsx'],
    matched: false,
    reason: 'no changed file matches paths',
  },
  {
    name: 'paths: **.js matches src/js/app.js',
    on: `{ push: { paths: ['**.js'] } }`,
    event: 'push',
    changed: ['docs/mona/octocat.txt', 'src/js/app.js'],
    matched: true,
  },
  {
    name: 'paths: docs/* does not cross a slash',
    on: `{ push: { paths: ['docs/*'] } }`,
    event: 'push',
    changed: ['docs/mona/octocat.txt'],
    matched: false,
    reason: 'no changed file matches paths',
  },
  {
    name: 'paths: docs/** crosses slashes',
    on: `{ push: { paths: ['docs/**'] } }`,
    event: 'push',
    changed: ['docs/mona/octocat.txt'],
    matched: true,
  },
  {
    name: 'paths: **/docs/** matches a top-level docs',
    on: `{ push: { paths: ['**/docs/**'] } }`,
    event: 'push',
    changed: ['docs/mona/octocat.txt'],
    matched: true,
  },
  {
    name: 'paths-ignore: every file ignored',
    on: PATHS_IGNORE_DOCS,
    event: 'push',
    changed: ['docs/mona/octocat.txt'],
    matched: false,
    reason: 'all changed files match paths-ignore',
  },
  {
    name: 'paths-ignore: one file outside runs',
    on: PATHS_IGNORE_DOCS,
    event: 'push',
    changed: ['docs/mona/octocat.txt', 'src/js/app.js'],
    matched: true,
  },
  {
    name: 'paths: **/migrate-*.sql at any depth',
    on: `{ push: { paths: ['**/migrate-*.sql'] } }`,
    event: 'push',
    changed: ['db/sept/migrate-v1.sql'],
    matched: true,
  },
  {
    name: 'paths: an escaped \\! is a literal',
    on: `{ push: { paths: ['\\!file'] } }`,
    event: 'push',
    changed: ['!file'],
    matched: true,
  },
  {
    name: 'paths: last match wins, README* re-includes README.md',
    on: PATHS_LAST_MATCH_WINS,
    event: 'push',
    changed: ['README.md'],
    matched: true,
  },
  {
    name: 'paths: *.md does not match docs/hello.md',
    on: PATHS_LAST_MATCH_WINS,
    event: 'push',
    changed: ['docs/hello.md'],
    matched: false,
  },
  {
    name: 'paths: ! excludes sub-project/docs',
    on: PATHS_NEGATION,
    event: 'push',
    changed: ['sub-project/docs/readme.md'],
    matched: false,
  },
  {
    name: 'paths: one included file is enough',
    on: PATHS_NEGATION,
    event: 'push',
    changed: ['sub-project/docs/readme.md', 'sub-project/src/a.c'],
    matched: true,
  },
  {
    name: 'paths: an empty changed-file list means no file changed',
    on: `{ push: { paths: ['**'] } }`,
    event: 'push',
    changed: [],
    matched: false,
    reason: 'no files changed',
  },
  {
    name: 'paths-ignore: an empty changed-file list means no file changed',
    on: PATHS_IGNORE_DOCS,
    event: 'push',
    changed: [],
    matched: false,
    reason: 'no files changed',
  },
  { name: 'no path filter: an empty list still runs', on: 'push', event: 'push', changed: [], matched: true },
  {
    name: 'paths: unknown changed files count as a match',
    on: `{ push: { paths: ['src/**'] } }`,
    event: 'push',
    ref: 'main',
    matched: true,
  },
  // branches and paths together: both must pass
  {
    name: 'branches+paths: both pass',
    on: BRANCHES_AND_PATHS,
    event: 'push',
    ref: 'main',
    changed: ['src/a.ts'],
    matched: true,
  },
  {
    name: 'branches+paths: path fails',
    on: BRANCHES_AND_PATHS,
    event: 'push',
    ref: 'main',
    changed: ['docs/a.md'],
    matched: false,
  },
  { name: 'branches+paths: branch fails', on: BRANCHES_AND_PATHS, event: 'push', ref: 'mona/octocat', matched: false },
  // "Path filters are not evaluated for pushes of tags."
  {
    name: 'tags+paths: paths are not evaluated for a tag push',
    on: TAGS_AND_PATHS,
    event: 'push',
    ref: 'refs/tags/v1',
    changed: ['docs/a.md'],
    matched: true,
  },
  // deleted refs run nothing
  {
    name: '--deleted: a deleted branch runs nothing',
    on: 'push',
    event: 'push',
    ref: 'main',
    deleted: true,
    matched: false,
    reason: 'branch "main" was deleted',
  },
  {
    name: '--deleted: a deleted tag runs nothing',
    on: PUSH_TAGS,
    event: 'push',
    ref: 'refs/tags/v2',
    deleted: true,
    matched: false,
    reason: 'tag "v2" was deleted',
  },
  // pull_request: branches filter the base (target) branch ("Events that trigger workflows")
  {
    name: 'pull_request: into main',
    on: PR_BRANCHES,
    event: 'pull_request',
    base: 'main',
    matched: true,
    reason: 'into main',
  },
  {
    name: 'pull_request: into releases/beta/3-alpha',
    on: PR_BRANCHES,
    event: 'pull_request',
    base: 'releases/beta/3-alpha',
    matched: true,
  },
  {
    name: 'pull_request: into dev',
    on: PR_BRANCHES,
    event: 'pull_request',
    base: 'dev',
    matched: false,
    reason: 'target branch "dev" not in branches filter',
  },
  {
    name: 'pull_request: a full refs/heads base',
    on: PR_BRANCHES,
    event: 'pull_request',
    base: 'refs/heads/main',
    matched: true,
  },
  {
    name: 'pull_request: branches-ignore',
    on: PR_BRANCHES_IGNORE,
    event: 'pull_request',
    base: 'releases/beta/3-alpha',
    matched: false,
  },
  {
    name: 'pull_request: branches-ignore lets others in',
    on: PR_BRANCHES_IGNORE,
    event: 'pull_request',
    base: 'main',
    matched: true,
  },
  {
    name: 'pull_request: paths **.js',
    on: PR_PATHS,
    event: 'pull_request',
    base: 'main',
    changed: ['app.js'],
    matched: true,
  },
  {
    name: 'pull_request: paths **.js, no js changed',
    on: PR_PATHS,
    event: 'pull_request',
    base: 'dev',
    changed: ['README.md'],
    matched: false,
  },
  { name: 'pull_request: no filter', on: 'pull_request', event: 'pull_request', base: 'dev', matched: true },
  {
    name: 'pull_request: a push-only workflow',
    on: PUSH_BRANCHES,
    event: 'pull_request',
    base: 'main',
    matched: false,
    reason: 'workflow has no "pull_request" trigger',
  },
  {
    name: 'push: a pull_request-only workflow',
    on: PR_BRANCHES,
    event: 'push',
    ref: 'main',
    matched: false,
    reason: 'workflow has no "push" trigger',
  },
  // testme takes the pull_request filters
  { name: 'testme: on testme', on: '{ testme: {} }', event: 'testme', base: 'main', matched: true, reason: '!testme' },
  {
    name: 'testme: branches filter the base',
    on: '{ testme: { branches: [main] } }',
    event: 'testme',
    base: 'dev',
    matched: false,
  },
  {
    name: 'testme: a workflow without testme',
    on: '[push, pull_request]',
    event: 'testme',
    base: 'main',
    matched: false,
    reason: 'no "testme" trigger',
  },
];

/**
 * Cases with the same flags share one process (one `--workflow` per case, in table order): each case still gets its
 * own workflow file and its own entry in the output, and the table costs a few dozen process starts, not seventy.
 */
const groups = new Map<string, Promise<{ out: PlanOutput; paths: string[] }>>();

function flagsOf(c: TriggerCase): string {
  return JSON.stringify([c.event, c.ref ?? null, c.base ?? null, c.changed ?? null, c.deleted === true]);
}

function planGroup(key: string): Promise<{ out: PlanOutput; paths: string[] }> {
  let pending = groups.get(key);
  if (pending === undefined) {
    pending = (async () => {
      const cases = TRIGGERS.filter((c) => flagsOf(c) === key);
      const [first] = cases;
      if (first === undefined) throw new Error(`no case for ${key}`);
      const paths = await Promise.all(cases.map((c) => file('wf.yml', workflow(c.on))));
      const args = [...paths.flatMap((p) => ['--workflow', p]), '--event', first.event];
      if (first.ref !== undefined) args.push('--ref', first.ref);
      if (first.base !== undefined) args.push('--base-ref', first.base);
      if (first.deleted === true) args.push('--deleted');
      if (first.changed !== undefined) {
        args.push('--changed-file', await file('changed.txt', first.changed.map((p) => `${p}\n`).join('')));
      }
      return { out: await plan(args), paths };
    })();
    groups.set(key, pending);
  }
  return pending;
}

describe('spotcheck plan: triggers', () => {
  it('has at least 40 cases', () => {
    expect(TRIGGERS.length).toBeGreaterThanOrEqual(40);
  });

  it.concurrent.each(TRIGGERS)('$name', async (c) => {
    const key = flagsOf(c);
    const { out, paths } = await planGroup(key);
    const index = TRIGGERS.filter((other) => flagsOf(other) === key).indexOf(c);
    expect(out.workflows).toHaveLength(paths.length);
    const w = out.workflows[index];
    expect(w?.file).toBe(paths[index]);
    expect(w?.matched).toBe(c.matched);
    expect(w?.orders).toEqual(c.matched ? [BUILD] : []);
    if (c.reason !== undefined) expect(w?.reason).toContain(c.reason);
  });
});

describe('spotcheck plan: refs', () => {
  const tagged = workflow(`{ push: { tags: ['v1.*'] } }`);

  it.each([
    ['v1.2', false, 'push to branch "v1.2" but the workflow filters tags only'],
    ['refs/tags/v1.2', true, 'matched push to refs/tags/v1.2'],
    ['refs/heads/v1.2', false, 'push to branch "v1.2" but the workflow filters tags only'],
  ])('--ref %s', async (ref, matched, reason) => {
    const out = await plan(['--workflow', await file('tags.yml', tagged), '--event', 'push', '--ref', ref]);
    expect(out.workflows[0]?.matched).toBe(matched);
    expect(out.workflows[0]?.reason).toBe(reason);
  });

  it('defaults to a push to main', async () => {
    const out = await plan(['--workflow', await file('main.yml', workflow('{ push: { branches: [main] } }'))]);
    expect(out.workflows[0]?.reason).toBe('matched push to refs/heads/main');
  });

  it('says how a tag is given in --help', async () => {
    const result = await cli(['plan', '--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('plan (--workflow FILE | --dir DIR)');
    expect(result.stdout).toMatch(/bare NAME, which is a branch/);
    expect(result.stdout).toMatch(/a tag must be written refs\/tags\/NAME/);
    expect(result.stdout).toMatch(/an empty file means no file changed/);
  });
});

describe('spotcheck plan: orders', () => {
  const MATRIX = `name: matrix
on: push
jobs:
  build:
    runs-on: local
    steps:
      - run: make
  test:
    needs: build
    runs-on: \${{ matrix.os }}
    strategy:
      matrix:
        os: [linux, big]
        node: [18, 20]
        exclude:
          - os: big
            node: 18
        include:
          - os: linux
            node: 20
            experimental: true
    steps:
      - run: make test
  report:
    needs: [build, test]
    if: always()
    runs-on: local
    steps:
      - run: echo done
`;

  it('expands a matrix into numbered orders with their values, runs-on evaluated, needs as job ids', async () => {
    const path = await file('matrix.yml', MATRIX);
    const out = await plan(['--workflow', path, '--event', 'push']);
    expect(out.workflows).toEqual([
      {
        file: path,
        matched: true,
        reason: 'matched push to refs/heads/main',
        orders: [
          { id: 'build', job: 'build', needs: [], runsOn: 'local', matrix: {} },
          { id: 'test.1', job: 'test', needs: ['build'], runsOn: 'linux', matrix: { os: 'linux', node: 18 } },
          {
            id: 'test.2',
            job: 'test',
            needs: ['build'],
            runsOn: 'linux',
            matrix: { os: 'linux', node: 20, experimental: true },
          },
          { id: 'test.3', job: 'test', needs: ['build'], runsOn: 'big', matrix: { os: 'big', node: 20 } },
          { id: 'report', job: 'report', needs: ['build', 'test'], runsOn: 'local', matrix: {} },
        ],
      },
    ]);
  });

  it('prints a readable plan without --json', async () => {
    const result = await cli(['plan', '--workflow', await file('matrix.yml', MATRIX)]);
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^▶ .*matrix\.yml: matched push to refs\/heads\/main$/);
    expect(lines.slice(1).map((l) => l.trim().split(/\s+/)[0])).toEqual([
      'build',
      'test.1',
      'test.2',
      'test.3',
      'report',
    ]);
    expect(lines.find((l) => l.trim().startsWith('report'))).toMatch(/runs-on local\s+needs build, test$/);
  });
});

describe('spotcheck plan: --dir', () => {
  it('plans every workflow of a repository, in file order', async () => {
    const repo = join(dir, 'repo-two');
    await mkdir(join(repo, '.spotcheck', 'workflows'), { recursive: true });
    await writeFile(join(repo, '.spotcheck', 'workflows', 'a-push.yml'), workflow('{ push: { branches: [main] } }'));
    await writeFile(join(repo, '.spotcheck', 'workflows', 'b-release.yaml'), workflow(`{ push: { tags: ['v*'] } }`));
    await writeFile(join(repo, '.spotcheck', 'workflows', 'notes.txt'), 'not a workflow');
    const out = await plan(['--dir', repo, '--event', 'push', '--ref', 'main']);
    expect(out.workflows).toEqual([
      {
        file: '.spotcheck/workflows/a-push.yml',
        matched: true,
        reason: 'matched push to refs/heads/main',
        orders: [BUILD],
      },
      {
        file: '.spotcheck/workflows/b-release.yaml',
        matched: false,
        reason: 'push to branch "main" but the workflow filters tags only',
        orders: [],
      },
    ]);
    const tag = await plan(['--dir', repo, '--event', 'push', '--ref', 'refs/tags/v1']);
    expect(tag.workflows.map((w) => w.matched)).toEqual([false, true]);
  });

  it('plans the sample repository', async () => {
    const out = await plan(['--dir', 'examples/sample-repo', '--event', 'testme', '--base-ref', 'main']);
    expect(out.workflows).toHaveLength(1);
    expect(out.workflows[0]?.reason).toBe('matched !testme on a pull request into main');
    expect(out.workflows[0]?.orders.map((o) => o.id)).toEqual(['build', 'test.1', 'test.2', 'test.3', 'e2e', 'report']);
  });
});

describe('spotcheck plan: reusable workflows', () => {
  it("shows a local callee's jobs as `caller / job` orders, and a remote callee as read at run time", async () => {
    const repo = join(dir, 'repo-calls');
    await mkdir(join(repo, '.spotcheck', 'workflows'), { recursive: true });
    await mkdir(join(repo, 'shared'), { recursive: true });
    await writeFile(
      join(repo, '.spotcheck', 'workflows', 'ci.yml'),
      [
        'on: push',
        'jobs:',
        '  build:',
        '    uses: ./shared/build.yml',
        '    with: {target: docker}',
        '  lint:',
        '    uses: acme/shared/.github/workflows/lint.yml@v2',
        '  report:',
        '    needs: build',
        '    runs-on: local',
        '    steps: [{run: echo}]',
      ].join('\n'),
    );
    await writeFile(
      join(repo, 'shared', 'build.yml'),
      'on:\n  workflow_call:\n    inputs: {target: {type: string}}\njobs:\n  compile: {runs-on: "${{ inputs.target }}", steps: [{run: make}]}',
    );
    const out = await plan(['--dir', repo, '--event', 'push', '--ref', 'main']);
    const [w] = out.workflows;
    expect(w?.orders.map((o) => [o.id, (o as { name?: string }).name, o.runsOn, o.needs])).toEqual([
      ['build.compile', 'build / compile', 'docker', []],
      ['report', undefined, 'local', ['build']],
    ]);
    expect((w as { deferredCalls?: unknown }).deferredCalls).toEqual([
      { job: 'lint', uses: 'acme/shared/.github/workflows/lint.yml@v2' },
    ]);
    const text = await cli(['plan', '--dir', repo, '--event', 'push', '--ref', 'main']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/build\.compile\s+runs-on docker {2}\(build \/ compile\)/);
    expect(text.stdout).toMatch(/lint\s+read at run time from acme\/shared\/\.github\/workflows\/lint\.yml@v2/);
  });

  it('fails on a call whose local workflow is missing, naming the file', async () => {
    const path = await file('calls-missing.yml', 'on: push\njobs:\n  build:\n    uses: ./nope/build.yml');
    const result = await cli(['plan', '--workflow', path, '--event', 'push', '--json']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('`./nope/build.yml` could not be read: no file `nope/build.yml` at this commit');
  });
});

describe('spotcheck plan: GitHub events spotcheck does not act on, and pull_request types', () => {
  it('plans a file shared with GitHub Actions, noting the foreign events; a foreign-only file never runs', async () => {
    const shared = await file(
      'shared.yml',
      workflow('\n  push:\n  schedule:\n    - cron: "0 3 * * *"\n  workflow_dispatch:'),
    );
    const foreign = await file('foreign.yml', workflow('[release, issues]'));
    const result = await cli(['plan', '--workflow', shared, '--workflow', foreign, '--json']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const out = JSON.parse(result.stdout) as PlanOutput & {
      notices: { file: string; line: number; col: number; message: string }[];
    };
    expect(out.workflows.map((w) => [w.matched, w.reason])).toEqual([
      [true, 'matched push to refs/heads/main'],
      [false, 'workflow has no "push" trigger'],
    ]);
    expect(out.notices.map((n) => `${n.file}:${n.line}:${n.col}: ${n.message.split(':')[0]}`)).toEqual([
      `${shared}:4:3: \`schedule\` is not a spotcheck trigger`,
      `${shared}:6:3: \`workflow_dispatch\` is not a spotcheck trigger`,
      `${foreign}:2:6: \`release\` is not a spotcheck trigger`,
      `${foreign}:2:15: \`issues\` is not a spotcheck trigger`,
    ]);
    // Without --json the notices go to stderr, marked as notices; the plan is unchanged and the exit code 0.
    const text = await cli(['plan', '--workflow', foreign]);
    expect(text.code).toBe(0);
    expect(text.stderr.trimEnd().split('\n')).toEqual([
      expect.stringMatching(new RegExp(`^${escape(foreign)}:2:6: notice: \`release\` is not a spotcheck trigger`)),
      expect.stringMatching(new RegExp(`^${escape(foreign)}:2:15: notice: \`issues\` is not a spotcheck trigger`)),
    ]);
    expect(text.stdout).toBe(`· ${foreign}: workflow has no "push" trigger\n`);
  });

  it('runs pull_request for the activity types the workflow lists (default opened, synchronize, reopened)', async () => {
    const byDefault = await file('pr-default.yml', workflow('pull_request'));
    const onClose = await file('pr-closed.yml', workflow('{ pull_request: { types: [closed] } }'));
    const onLabel = await file('pr-labeled.yml', workflow('{ pull_request: { types: [labeled, opened] } }'));
    const paths = ['--workflow', byDefault, '--workflow', onClose, '--workflow', onLabel];
    const matched = async (action: string): Promise<boolean[]> =>
      (await plan([...paths, '--event', 'pull_request', '--action', action])).workflows.map((w) => w.matched);
    expect(await matched('opened')).toEqual([true, false, true]);
    expect(await matched('synchronize')).toEqual([true, false, false]);
    expect(await matched('closed')).toEqual([false, true, false]);
    expect(await matched('labeled')).toEqual([false, false, true]);
    const reasons = (await plan([...paths, '--event', 'pull_request', '--action', 'closed'])).workflows;
    expect(reasons[0]?.reason).toBe('pull_request activity "closed" not in types (opened, synchronize, reopened)');
    expect(reasons[1]?.reason).toBe('matched pull_request closed into main');
  });
});

describe('spotcheck plan: errors exit 2 with the error on stderr', () => {
  it('names the cycle in the needs graph', async () => {
    const path = await file(
      'cycle.yml',
      `on: push
jobs:
  a:
    needs: c
    runs-on: local
    steps: [{ run: 'true' }]
  b:
    needs: a
    runs-on: local
    steps: [{ run: 'true' }]
  c:
    needs: [b]
    runs-on: local
    steps: [{ run: 'true' }]
`,
    );
    const result = await cli(['plan', '--workflow', path, '--event', 'push', '--json']);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(new RegExp(`^${escape(path)}:4:12: .*cycle.*a → c → b → a`, 'm'));
  });

  it('reports an invalid workflow as file:line:col', async () => {
    const path = await file(
      'uses.yml',
      'on: push\njobs:\n  a:\n    runs-on: local\n    steps:\n      - uses: actions/checkout\n',
    );
    const result = await cli(['plan', '--workflow', path, '--json']);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(new RegExp(`^${escape(path)}:6:15: .*names no version`, 'm'));
  });

  it('reports an unknown needs', async () => {
    const path = await file(
      'needs.yml',
      `on: push\njobs:\n  a:\n    needs: nope\n    runs-on: local\n    steps: [{ run: 'true' }]\n`,
    );
    const result = await cli(['plan', '--workflow', path, '--json']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(new RegExp(`^${escape(path)}:\\d+:\\d+: .*nope`, 'm'));
  });

  it.each([
    ['no --workflow or --dir', ['plan', '--event', 'push'], 'plan needs --workflow FILE or --dir DIR'],
    [
      'an unknown event',
      ['plan', '--workflow', SAMPLE, '--event', 'release'],
      '--event must be one of push, pull_request, testme',
    ],
    ['an unknown option', ['plan', '--workflow', SAMPLE, '--frobnicate'], "Unknown option '--frobnicate'"],
    ['a missing workflow file', ['plan', '--workflow', 'does/not/exist.yml'], 'cannot read does/not/exist.yml'],
    [
      'a missing changed-file list',
      ['plan', '--dir', 'examples/sample-repo', '--changed-file', 'does/not/exist.txt'],
      'cannot read --changed-file',
    ],
    ['a folder without workflows', ['plan', '--dir', 'test'], 'no workflow files in'],
    [
      'an unknown activity type',
      ['plan', '--workflow', SAMPLE, '--event', 'pull_request', '--action', 'merged'],
      '--action must be one of assigned, unassigned, labeled',
    ],
    ['--action without pull_request', ['plan', '--workflow', SAMPLE, '--action', 'opened'], '--action applies to'],
  ])('usage: %s', async (_label, args, message) => {
    const result = await cli(args);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(message);
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
