import { describe, expect, it } from 'vitest';
import { matchTrigger, parseRef, triggerFilterErrors } from '../../src/core/workflow/triggers.ts';
import type { PullRequestType, TriggerEvent, TriggerFilter, Workflow, WorkflowTriggers } from '../../src/core/types.ts';

const workflow = (on: WorkflowTriggers): Workflow => ({
  file: '.spotcheck/workflows/ci.yml',
  name: 'ci',
  on,
  env: {},
  jobs: [],
});

const push = (ref: string, changedFiles: readonly string[] | null = ['src/a.ts'], deleted = false): TriggerEvent => ({
  kind: 'push',
  ref,
  deleted,
  changedFiles,
});

const pr = (baseRef: string, changedFiles: readonly string[] | null = ['src/a.ts']): TriggerEvent => ({
  kind: 'pull_request',
  baseRef,
  changedFiles,
});

const prAction = (action: PullRequestType, baseRef = 'main'): TriggerEvent => ({
  kind: 'pull_request',
  baseRef,
  changedFiles: ['src/a.ts'],
  action,
});

const testme = (baseRef: string, changedFiles: readonly string[] | null = ['src/a.ts']): TriggerEvent => ({
  kind: 'testme',
  baseRef,
  changedFiles,
});

type Case = readonly [name: string, on: WorkflowTriggers, event: TriggerEvent, matched: boolean, reason: string];

const cases: readonly Case[] = [
  // Event kind not in `on`.
  ['no push trigger', { pull_request: {} }, push('refs/heads/main'), false, 'workflow has no "push" trigger'],
  ['no pull_request trigger', { push: {} }, pr('main'), false, 'workflow has no "pull_request" trigger'],
  // A file whose events are all foreign (schedule, issues, …) parses to an empty `on` and never runs.
  ['only foreign events: push', {}, push('refs/heads/main'), false, 'workflow has no "push" trigger'],
  ['only foreign events: testme', {}, testme('main'), false, 'workflow has no "testme" trigger'],
  [
    'pull_request does not imply testme',
    { pull_request: {} },
    testme('main'),
    false,
    'workflow has no "testme" trigger',
  ],
  ['testme does not imply pull_request', { testme: {} }, pr('main'), false, 'workflow has no "pull_request" trigger'],

  // push without filters: any branch or tag.
  ['bare push, branch', { push: {} }, push('refs/heads/main'), true, 'matched push to refs/heads/main'],
  ['bare push, nested branch', { push: {} }, push('refs/heads/a/b/c'), true, 'matched push to refs/heads/a/b/c'],
  ['bare push, tag', { push: {} }, push('refs/tags/v1.2'), true, 'matched push to refs/tags/v1.2'],
  ['bare push, other ref', { push: {} }, push('refs/notes/x'), false, 'neither a branch nor a tag'],

  // branches.
  ['branches exact', { push: { branches: ['main'] } }, push('refs/heads/main'), true, 'matched push'],
  [
    'branches miss',
    { push: { branches: ['main'] } },
    push('refs/heads/feature/x'),
    false,
    'branch "feature/x" not in branches filter',
  ],
  ['branches * no slash', { push: { branches: ['*'] } }, push('refs/heads/feature/x'), false, 'not in branches filter'],
  ['branches ** slash', { push: { branches: ['**'] } }, push('refs/heads/feature/x'), true, 'matched push'],
  ['branches feature/*', { push: { branches: ['feature/*'] } }, push('refs/heads/feature/x'), true, 'matched push'],
  [
    'branches feature/* deep',
    { push: { branches: ['feature/*'] } },
    push('refs/heads/feature/x/y'),
    false,
    'not in branches filter',
  ],
  [
    'branches semver',
    { push: { branches: ['v[12].[0-9]+.[0-9]+'] } },
    push('refs/heads/v1.10.1'),
    true,
    'matched push',
  ],
  [
    'branch ref name is matched, not the full ref',
    { push: { branches: ['refs/heads/main'] } },
    push('refs/heads/main'),
    false,
    'not in branches filter',
  ],

  // Negation order: the docs' example.
  [
    'releases/10',
    { push: { branches: ['releases/**', '!releases/**-alpha'] } },
    push('refs/heads/releases/10'),
    true,
    'matched push',
  ],
  [
    'releases/beta/mona',
    { push: { branches: ['releases/**', '!releases/**-alpha'] } },
    push('refs/heads/releases/beta/mona'),
    true,
    'matched push',
  ],
  [
    'releases/10-alpha',
    { push: { branches: ['releases/**', '!releases/**-alpha'] } },
    push('refs/heads/releases/10-alpha'),
    false,
    'not in branches filter',
  ],
  [
    'releases/beta/3-alpha',
    { push: { branches: ['releases/**', '!releases/**-alpha'] } },
    push('refs/heads/releases/beta/3-alpha'),
    false,
    'not in branches filter',
  ],
  [
    're-include after negation',
    { push: { branches: ['releases/**', '!releases/**-alpha', 'releases/keep-alpha'] } },
    push('refs/heads/releases/keep-alpha'),
    true,
    'matched push',
  ],
  [
    'negation first has nothing to negate',
    { push: { branches: ['!main', '**'] } },
    push('refs/heads/main'),
    true,
    'matched push',
  ],
  [
    'only negations match nothing',
    { push: { branches: ['!main'] } },
    push('refs/heads/dev'),
    false,
    'not in branches filter',
  ],

  // branches-ignore.
  [
    'branches-ignore hit',
    { push: { branchesIgnore: ['dependabot/**'] } },
    push('refs/heads/dependabot/npm/x'),
    false,
    'branch "dependabot/npm/x" matches branches-ignore',
  ],
  [
    'branches-ignore miss',
    { push: { branchesIgnore: ['dependabot/**'] } },
    push('refs/heads/main'),
    true,
    'matched push',
  ],
  [
    'branches-ignore * no slash',
    { push: { branchesIgnore: ['*'] } },
    push('refs/heads/feature/x'),
    true,
    'matched push',
  ],
  [
    'branches-ignore alone, tag push',
    { push: { branchesIgnore: ['main'] } },
    push('refs/tags/v1'),
    false,
    'filters branches only',
  ],

  // tags and the ref-kind rule.
  ['tags hit', { push: { tags: ['v*'] } }, push('refs/tags/v1.2'), true, 'matched push to refs/tags/v1.2'],
  ['tags miss', { push: { tags: ['v*'] } }, push('refs/tags/release-1'), false, 'tag "release-1" not in tags filter'],
  [
    'tags-only never fires on a branch push',
    { push: { tags: ['**'] } },
    push('refs/heads/main'),
    false,
    'push to branch "main" but the workflow filters tags only',
  ],
  [
    'tags-ignore-only never fires on a branch push',
    { push: { tagsIgnore: ['v*'] } },
    push('refs/heads/main'),
    false,
    'filters tags only',
  ],
  [
    'branches-only never fires on a tag push',
    { push: { branches: ['**'] } },
    push('refs/tags/v1'),
    false,
    'push to tag "v1" but the workflow filters branches only',
  ],
  [
    'tags-ignore hit',
    { push: { tagsIgnore: ['*-rc*'] } },
    push('refs/tags/v1-rc1'),
    false,
    'tag "v1-rc1" matches tags-ignore',
  ],
  ['tags-ignore miss', { push: { tagsIgnore: ['*-rc*'] } }, push('refs/tags/v1'), true, 'matched push'],
  [
    'tags with negation',
    { push: { tags: ['v*', '!v*-beta'] } },
    push('refs/tags/v2-beta'),
    false,
    'not in tags filter',
  ],
  [
    'both filters, branch side',
    { push: { branches: ['main'], tags: ['v*'] } },
    push('refs/heads/main'),
    true,
    'matched push',
  ],
  [
    'both filters, tag side',
    { push: { branches: ['main'], tags: ['v*'] } },
    push('refs/tags/v3'),
    true,
    'matched push',
  ],
  [
    'both filters, branch misses',
    { push: { branches: ['main'], tags: ['v*'] } },
    push('refs/heads/dev'),
    false,
    'not in branches filter',
  ],
  [
    'both filters, tag misses',
    { push: { branches: ['main'], tags: ['v*'] } },
    push('refs/tags/x'),
    false,
    'not in tags filter',
  ],
  [
    'branch filter does not apply to a tag of the same name',
    { push: { branches: ['v1'], tags: ['x'] } },
    push('refs/tags/v1'),
    false,
    'not in tags filter',
  ],

  // paths on push.
  [
    'paths hit',
    { push: { paths: ['src/**'] } },
    push('refs/heads/main', ['README.md', 'src/a.ts']),
    true,
    'matched push',
  ],
  [
    'paths miss',
    { push: { paths: ['src/**'] } },
    push('refs/heads/main', ['README.md']),
    false,
    'no changed file matches paths',
  ],
  [
    'paths negation',
    { push: { paths: ['sub-project/**', '!sub-project/docs/**'] } },
    push('refs/heads/main', ['sub-project/docs/readme.md']),
    false,
    'no changed file matches paths',
  ],
  [
    'paths negation, one file survives',
    { push: { paths: ['sub-project/**', '!sub-project/docs/**'] } },
    push('refs/heads/main', ['sub-project/docs/readme.md', 'sub-project/src/index.js']),
    true,
    'matched push',
  ],
  ['paths, unknown diff', { push: { paths: ['src/**'] } }, push('refs/heads/main', null), true, 'matched push'],
  ['paths, empty diff', { push: { paths: ['src/**'] } }, push('refs/heads/main', []), false, 'no files changed'],
  ['paths, no filters, empty diff still runs', { push: {} }, push('refs/heads/main', []), true, 'matched push'],
  [
    'paths-ignore all ignored',
    { push: { pathsIgnore: ['docs/**'] } },
    push('refs/heads/main', ['docs/a.md', 'docs/b/c.md']),
    false,
    'all changed files match paths-ignore',
  ],
  [
    'paths-ignore partly ignored',
    { push: { pathsIgnore: ['docs/**'] } },
    push('refs/heads/main', ['docs/a.md', 'src/a.ts']),
    true,
    'matched push',
  ],
  [
    'paths-ignore, unknown diff',
    { push: { pathsIgnore: ['docs/**'] } },
    push('refs/heads/main', null),
    true,
    'matched push',
  ],
  [
    'paths-ignore, empty diff',
    { push: { pathsIgnore: ['docs/**'] } },
    push('refs/heads/main', []),
    false,
    'no files changed',
  ],
  [
    'branches and paths both satisfied',
    { push: { branches: ['main'], paths: ['src/**'] } },
    push('refs/heads/main', ['src/a.ts']),
    true,
    'matched push',
  ],
  [
    'branches ok, paths not',
    { push: { branches: ['main'], paths: ['src/**'] } },
    push('refs/heads/main', ['docs/a.md']),
    false,
    'no changed file matches paths',
  ],
  [
    'paths ok, branches not',
    { push: { branches: ['main'], paths: ['src/**'] } },
    push('refs/heads/dev', ['src/a.ts']),
    false,
    'not in branches filter',
  ],

  // Tag pushes ignore path filters.
  [
    'tag push with paths only',
    { push: { paths: ['src/**'] } },
    push('refs/tags/v1', ['docs/a.md']),
    true,
    'matched push to refs/tags/v1',
  ],
  [
    'tag push with paths-ignore only',
    { push: { pathsIgnore: ['**'] } },
    push('refs/tags/v1', ['docs/a.md']),
    true,
    'matched push',
  ],
  [
    'tag push with tags and paths, empty diff',
    { push: { tags: ['v*'], paths: ['src/**'] } },
    push('refs/tags/v1', []),
    true,
    'matched push',
  ],
  [
    'tag push, tags miss, paths irrelevant',
    { push: { tags: ['v*'], paths: ['src/**'] } },
    push('refs/tags/x', ['src/a.ts']),
    false,
    'not in tags filter',
  ],

  // Deleted refs run nothing.
  ['deleted branch', { push: {} }, push('refs/heads/feature/x', null, true), false, 'branch "feature/x" was deleted'],
  [
    'deleted branch, matching filter',
    { push: { branches: ['**'] } },
    push('refs/heads/main', [], true),
    false,
    'was deleted',
  ],
  ['deleted tag', { push: { tags: ['v*'] } }, push('refs/tags/v1', null, true), false, 'tag "v1" was deleted'],

  // pull_request: branches against the base branch, paths against the PR's files.
  ['pr bare', { pull_request: {} }, pr('main'), true, 'matched pull_request into main'],
  [
    'pr base hit',
    { pull_request: { branches: ['main', 'releases/**'] } },
    pr('releases/10'),
    true,
    'matched pull_request into releases/10',
  ],
  [
    'pr base miss',
    { pull_request: { branches: ['main'] } },
    pr('dev'),
    false,
    'target branch "dev" not in branches filter',
  ],
  [
    'pr base negation',
    { pull_request: { branches: ['releases/**', '!releases/**-alpha'] } },
    pr('releases/beta/3-alpha'),
    false,
    'not in branches filter',
  ],
  [
    'pr base negation, allowed',
    { pull_request: { branches: ['releases/**', '!releases/**-alpha'] } },
    pr('releases/beta/mona'),
    true,
    'matched pull_request',
  ],
  [
    'pr branches-ignore hit',
    { pull_request: { branchesIgnore: ['mona/octocat', 'releases/**-alpha'] } },
    pr('releases/x-alpha'),
    false,
    'target branch "releases/x-alpha" matches branches-ignore',
  ],
  [
    'pr branches-ignore miss',
    { pull_request: { branchesIgnore: ['mona/octocat'] } },
    pr('main'),
    true,
    'matched pull_request',
  ],
  [
    'pr full base ref tolerated',
    { pull_request: { branches: ['main'] } },
    pr('refs/heads/main'),
    true,
    'matched pull_request into main',
  ],
  ['pr tags filter ignored', { pull_request: { tags: ['v*'] } }, pr('main'), true, 'matched pull_request'],
  ['pr paths hit', { pull_request: { paths: ['**.js'] } }, pr('main', ['src/js/app.js']), true, 'matched pull_request'],
  [
    'pr paths miss',
    { pull_request: { paths: ['**.js'] } },
    pr('main', ['README.md']),
    false,
    'no changed file matches paths',
  ],
  ['pr paths unknown', { pull_request: { paths: ['**.js'] } }, pr('main', null), true, 'matched pull_request'],
  ['pr paths empty', { pull_request: { paths: ['**.js'] } }, pr('main', []), false, 'no files changed'],
  [
    'pr paths-ignore all',
    { pull_request: { pathsIgnore: ['*.md'] } },
    pr('main', ['README.md', 'CHANGES.md']),
    false,
    'all changed files match paths-ignore',
  ],
  [
    'pr paths-ignore partly',
    { pull_request: { pathsIgnore: ['*.md'] } },
    pr('main', ['README.md', 'docs/a.md']),
    true,
    'matched pull_request',
  ],
  [
    'pr branches and paths, branch misses',
    { pull_request: { branches: ['main'], paths: ['src/**'] } },
    pr('dev', ['src/a.ts']),
    false,
    'not in branches filter',
  ],

  // testme: the same filters as pull_request.
  [
    'testme {} runs on any PR',
    { testme: {} },
    testme('whatever/branch', []),
    true,
    'matched !testme on a pull request into whatever/branch',
  ],
  ['testme base hit', { testme: { branches: ['main'] } }, testme('main'), true, 'matched !testme'],
  [
    'testme base miss',
    { testme: { branches: ['main'] } },
    testme('dev'),
    false,
    'target branch "dev" not in branches filter',
  ],
  [
    'testme paths miss',
    { testme: { paths: ['src/**'] } },
    testme('main', ['docs/a.md']),
    false,
    'no changed file matches paths',
  ],
  [
    'testme paths-ignore partly',
    { testme: { pathsIgnore: ['docs/**'] } },
    testme('main', ['docs/a.md', 'x']),
    true,
    'matched !testme',
  ],

  // pull_request activity types: GitHub's default is opened, synchronize, reopened; others run when listed.
  ['default types: opened', { pull_request: {} }, prAction('opened'), true, 'matched pull_request opened into main'],
  [
    'default types: synchronize',
    { pull_request: {} },
    prAction('synchronize'),
    true,
    'matched pull_request synchronize',
  ],
  ['default types: reopened', { pull_request: {} }, prAction('reopened'), true, 'matched pull_request reopened'],
  [
    'default types: closed does not run',
    { pull_request: {} },
    prAction('closed'),
    false,
    'pull_request activity "closed" not in types (opened, synchronize, reopened)',
  ],
  ['default types: labeled does not run', { pull_request: {} }, prAction('labeled'), false, '"labeled" not in types'],
  [
    'types [closed]: closed runs',
    { pull_request: { types: ['closed'] } },
    prAction('closed'),
    true,
    'pull_request closed',
  ],
  [
    'types [closed]: synchronize does not',
    { pull_request: { types: ['closed'] } },
    prAction('synchronize'),
    false,
    'pull_request activity "synchronize" not in types (closed)',
  ],
  [
    'types [labeled, ready_for_review]',
    { pull_request: { types: ['labeled', 'ready_for_review'] } },
    prAction('ready_for_review'),
    true,
    'matched pull_request ready_for_review',
  ],
  ['no action means a new head', { pull_request: { types: ['synchronize'] } }, pr('main'), true, 'matched'],
  [
    'no action, types without synchronize',
    { pull_request: { types: ['labeled'] } },
    pr('main'),
    false,
    '"synchronize"',
  ],
  [
    'types pass, branches still filter',
    { pull_request: { types: ['labeled'], branches: ['main'] } },
    prAction('labeled', 'dev'),
    false,
    'target branch "dev" not in branches filter',
  ],
];

describe('matchTrigger', () => {
  it.each(cases)('%s', (_name, on, event, matched, reason) => {
    const result = matchTrigger(workflow(on), event);
    expect(result.matched).toBe(matched);
    expect(result.reason).toContain(reason);
  });

  it('has at least 80 cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(80);
  });

  it('reads each event kind from its own filter', () => {
    const on: WorkflowTriggers = { push: { branches: ['main'] }, pull_request: { branches: ['dev'] } };
    expect(matchTrigger(workflow(on), push('refs/heads/main')).matched).toBe(true);
    expect(matchTrigger(workflow(on), push('refs/heads/dev')).matched).toBe(false);
    expect(matchTrigger(workflow(on), pr('dev')).matched).toBe(true);
    expect(matchTrigger(workflow(on), pr('main')).matched).toBe(false);
  });
});

describe('parseRef', () => {
  it.each([
    ['refs/heads/main', { kind: 'branch', name: 'main' }],
    ['refs/heads/feature/x', { kind: 'branch', name: 'feature/x' }],
    ['refs/tags/v1.2', { kind: 'tag', name: 'v1.2' }],
    ['refs/tags/releases/v1', { kind: 'tag', name: 'releases/v1' }],
    ['refs/pull/1/head', undefined],
    ['main', undefined],
  ])('%s', (ref, expected) => {
    expect(parseRef(ref)).toEqual(expected);
  });
});

describe('triggerFilterErrors', () => {
  it.each<readonly [TriggerFilter, readonly string[]]>([
    [{}, []],
    [{ branches: ['main'], tags: ['v*'], paths: ['src/**', '!src/**/*.md'] }, []],
    [{ branches: ['main'], branchesIgnore: ['dev'] }, ['branches and branches-ignore cannot both be used']],
    [{ tags: ['v*'], tagsIgnore: ['x'] }, ['tags and tags-ignore cannot both be used']],
    [{ paths: ['a'], pathsIgnore: ['b'] }, ['paths and paths-ignore cannot both be used']],
    [{ branches: ['!main'] }, ["branches has only '!' patterns"]],
    [{ paths: ['!docs/**', '!*.md'] }, ["paths has only '!' patterns"]],
    [{ pathsIgnore: ['docs/**', '!docs/keep.md'] }, ["paths-ignore cannot hold '!' patterns (!docs/keep.md)"]],
    [{ branches: ['release/v[0-9'] }, ["branches: invalid pattern 'release/v[0-9'"]],
    [{ tags: ['v[]'] }, ["tags: invalid pattern 'v[]': position 2: empty brackets"]],
    [
      { branches: ['a'], branchesIgnore: ['!b'] },
      ['branches and branches-ignore cannot both be used', "branches-ignore cannot hold '!' patterns"],
    ],
  ])('%j', (filter, expected) => {
    const errors = triggerFilterErrors(filter);
    expect(errors).toHaveLength(expected.length);
    expected.forEach((fragment, i) => {
      expect(errors[i]).toContain(fragment);
    });
  });

  it('reports tags filters on pull_request and testme, but not on push', () => {
    expect(triggerFilterErrors({ tags: ['v*'] }, 'push')).toEqual([]);
    expect(triggerFilterErrors({ tags: ['v*'] }, 'pull_request')).toEqual([
      'tags applies only to push, not to pull_request',
    ]);
    expect(triggerFilterErrors({ tagsIgnore: ['v*'] }, 'testme')).toEqual([
      'tags-ignore applies only to push, not to testme',
    ]);
  });
});
