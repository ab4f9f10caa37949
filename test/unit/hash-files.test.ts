import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashFiles } from '../../runners/agent/hash-files.ts';

/** Files written under the workspace; their contents are their names so each digest differs. */
const FILES = [
  'package-lock.json',
  'a/go.sum',
  'a/b/go.sum',
  'a-b/go.sum',
  'vendor/x/go.sum',
  '.hidden/go.sum',
  'docs/readme.md',
];

let root: string;
let workspace: string;

/** GitHub's result: SHA-256 over the files' SHA-256 digests, in the order given. */
function expected(files: readonly string[]): string {
  const total = createHash('sha256');
  for (const file of files) total.update(createHash('sha256').update(file).digest());
  return total.digest('hex');
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'spotcheck-hash-files-'));
  workspace = join(root, 'ws');
  for (const file of FILES) {
    await mkdir(dirname(join(workspace, file)), { recursive: true });
    await writeFile(join(workspace, file), file);
  }
  await writeFile(join(root, 'outside.sum'), 'outside');
  // A link to a directory is not followed (GitHub's default) and matches nothing as a file.
  await symlink(join(workspace, 'a'), join(workspace, 'link-to-a'));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('hashFiles (the agent, over a real workspace)', () => {
  it.each([
    // GitHub walks depth first, children in byte order: `a/` is visited before `a-b/` although 'a-b/…' < 'a/…'.
    { patterns: ['**/go.sum'], files: ['.hidden/go.sum', 'a/b/go.sum', 'a/go.sum', 'a-b/go.sum', 'vendor/x/go.sum'] },
    { patterns: ['**/go.sum', '!vendor/**'], files: ['.hidden/go.sum', 'a/b/go.sum', 'a/go.sum', 'a-b/go.sum'] },
    { patterns: ['**/go.sum', '!**/b/**', '!.*/**'], files: ['a/go.sum', 'a-b/go.sum', 'vendor/x/go.sum'] },
    // `a/*` also names the folder a/b, hence everything under it (@actions/glob's implicit descendants).
    { patterns: ['a/*'], files: ['a/b/go.sum', 'a/go.sum'] },
    { patterns: ['a/*', '!a/b'], files: ['a/go.sum'] },
    // A pattern naming a directory names everything under it (@actions/glob's implicit descendants).
    { patterns: ['a'], files: ['a/b/go.sum', 'a/go.sum'] },
    { patterns: ['a/'], files: ['a/b/go.sum', 'a/go.sum'] },
    // Search paths in pattern order: every match of the first pattern's folder, then the second's.
    { patterns: ['vendor/**', 'a/**'], files: ['vendor/x/go.sum', 'a/b/go.sum', 'a/go.sum'] },
    { patterns: ['a/**\n# a comment\n\npackage-lock.json'], files: ['a/b/go.sum', 'a/go.sum', 'package-lock.json'] },
    { patterns: ['./package-lock.json'], files: ['package-lock.json'] },
    { patterns: ['p?ckage-lock.[j]son'], files: ['package-lock.json'] },
  ])('$patterns', ({ patterns, files }) => {
    expect(hashFiles(patterns, workspace)).toBe(expected(files));
  });

  it.each([[['none/**']], [['**/*.nothing']], [['a/b/go.sum', '!a/**']], [['link-to-a']]])(
    'is empty when nothing matches: %j',
    (patterns) => {
      expect(hashFiles(patterns, workspace)).toBe('');
    },
  );

  it('takes an absolute pattern under the workspace', () => {
    expect(hashFiles([join(workspace, 'package-lock.json')], workspace)).toBe(expected(['package-lock.json']));
  });

  it('ignores files outside the workspace, even when a pattern names them', () => {
    expect(hashFiles([join(root, '*.sum')], workspace)).toBe('');
  });

  it.each([
    [['../outside.sum'], "Relative pathing '.' and '..' is not allowed"],
    [['a/./go.sum'], "Relative pathing '.' and '..' is not allowed"],
    [['--follow-symbolic-links', '**'], 'not supported'],
    [['--bogus', '**'], 'Invalid glob option --bogus'],
  ])('refuses %j', (patterns, message) => {
    expect(() => hashFiles(patterns, workspace)).toThrow(message);
  });

  it('reads a workspace whose path holds glob characters literally ([x], [[[, ? and *)', async () => {
    for (const name of ['ws[1]', 'ws[[[', 'w?s*', '[a]b[c]']) {
      const odd = join(root, name);
      await mkdir(join(odd, 'sub'), { recursive: true });
      await writeFile(join(odd, 'sub', 'go.sum'), 'sub/go.sum');
      expect(hashFiles(['**/go.sum'], odd), name).toBe(expected(['sub/go.sum']));
    }
  });
});
