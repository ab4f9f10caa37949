import { describe, expect, it } from 'vitest';
import {
  MAX_FILTER_PATTERN_LENGTH,
  compileFilterPattern,
  filterPatternError,
  matchesFilters,
  matchesIgnoreFilters,
  pathsFilterPasses,
  pathsIgnorePasses,
} from '../../src/core/workflow/filter-pattern.ts';

type Case = readonly [patterns: readonly string[], value: string, expected: boolean];

/** GitHub docs, "Filter pattern cheat sheet": every example, matching and (where given) not matching. */
const cheatSheet: readonly Case[] = [
  // Special characters paragraph.
  [['Octo*'], 'Octocat', true],
  [['[CB]at'], 'Cat', true],
  [['[CB]at'], 'Bat', true],
  [['[CB]at'], 'Rat', false],
  [['[1-2]00'], '100', true],
  [['[1-2]00'], '200', true],
  [['[1-2]00'], '300', false],
  [['[0-9a-z]'], '7', true],
  [['[0-9a-z]'], 'q', true],
  [['[0-9a-z]'], 'Q', false],
  // Patterns to match branches and tags.
  [['feature/*'], 'feature/my-branch', true],
  [['feature/*'], 'feature/your-branch', true],
  [['feature/*'], 'feature/beta-a/my-branch', false],
  [['feature/**'], 'feature/beta-a/my-branch', true],
  [['feature/**'], 'feature/your-branch', true],
  [['feature/**'], 'feature/mona/the/octocat', true],
  [['main', 'releases/mona-the-octocat'], 'main', true],
  [['main', 'releases/mona-the-octocat'], 'releases/mona-the-octocat', true],
  [['main', 'releases/mona-the-octocat'], 'releases/other', false],
  [['*'], 'main', true],
  [['*'], 'releases', true],
  [['*'], 'releases/v1', false],
  [['**'], 'all/the/branches', true],
  [['**'], 'every/tag', true],
  [['*feature'], 'mona-feature', true],
  [['*feature'], 'feature', true],
  [['*feature'], 'ver-10-feature', true],
  [['*feature'], 'feature-x', false],
  [['v2*'], 'v2', true],
  [['v2*'], 'v2.0', true],
  [['v2*'], 'v2.9', true],
  [['v2*'], 'v3.0', false],
  [['v[12].[0-9]+.[0-9]+'], 'v1.10.1', true],
  [['v[12].[0-9]+.[0-9]+'], 'v2.0.0', true],
  [['v[12].[0-9]+.[0-9]+'], 'v3.0.0', false],
  [['v[12].[0-9]+.[0-9]+'], 'v1.x.1', false],
  [['v[12].[0-9]+.[0-9]+'], 'v1..1', false],
  // Patterns to match file paths.
  [['*'], 'README.md', true],
  [['*'], 'server.rb', true],
  [['*'], 'src/server.rb', false],
  [['*.jsx?'], 'page.js', true],
  [['*.jsx?'], 'page.jsx', true],
  [['*.jsx?'], 'page.jsxx', false],
  [['**'], 'all/the/files.md', true],
  [['*.js'], 'app.js', true],
  [['*.js'], 'index.js', true],
  [['*.js'], 'js/index.js', false],
  [['**.js'], 'index.js', true],
  [['**.js'], 'js/index.js', true],
  [['**.js'], 'src/js/app.js', true],
  [['docs/*'], 'docs/README.md', true],
  [['docs/*'], 'docs/file.txt', true],
  [['docs/*'], 'docs/mona/octocat.txt', false],
  [['docs/**'], 'docs/README.md', true],
  [['docs/**'], 'docs/mona/octocat.txt', true],
  [['docs/**'], 'src/docs/a.md', false],
  [['docs/**/*.md'], 'docs/README.md', true],
  [['docs/**/*.md'], 'docs/mona/hello-world.md', true],
  [['docs/**/*.md'], 'docs/a/markdown/file.md', true],
  [['docs/**/*.md'], 'docs/a/markdown/file.txt', false],
  [['**/docs/**'], 'docs/hello.md', true],
  [['**/docs/**'], 'dir/docs/my-file.txt', true],
  [['**/docs/**'], 'space/docs/plan/space.doc', true],
  [['**/docs/**'], 'dir/mydocs/a.txt', false],
  [['**/README.md'], 'README.md', true],
  [['**/README.md'], 'js/README.md', true],
  [['**/README.md'], 'js/NOTREADME.md', false],
  [['**/*src/**'], 'a/src/app.js', true],
  [['**/*src/**'], 'my-src/code/js/app.js', true],
  [['**/*src/**'], 'a/source/app.js', false],
  [['**/*-post.md'], 'my-post.md', true],
  [['**/*-post.md'], 'path/their-post.md', true],
  [['**/*-post.md'], 'path/post.md', false],
  [['**/migrate-*.sql'], 'migrate-10909.sql', true],
  [['**/migrate-*.sql'], 'db/migrate-v1.0.sql', true],
  [['**/migrate-*.sql'], 'db/sept/migrate-v1.sql', true],
  [['**/migrate-*.sql'], 'db/migrate.sql', false],
  [['*.md', '!README.md'], 'hello.md', true],
  [['*.md', '!README.md'], 'README.md', false],
  [['*.md', '!README.md'], 'docs/hello.md', false],
  [['*.md', '!README.md', 'README*'], 'hello.md', true],
  [['*.md', '!README.md', 'README*'], 'README.md', true],
  [['*.md', '!README.md', 'README*'], 'README.doc', true],
];

/** GitHub docs, trigger sections: the `!` examples for branches and paths. */
const triggerDocs: readonly Case[] = [
  [['releases/**', '!releases/**-alpha'], 'releases/10', true],
  [['releases/**', '!releases/**-alpha'], 'releases/beta/mona', true],
  [['releases/**', '!releases/**-alpha'], 'releases/10-alpha', false],
  [['releases/**', '!releases/**-alpha'], 'releases/beta/3-alpha', false],
  [['sub-project/**', '!sub-project/docs/**'], 'sub-project/index.js', true],
  [['sub-project/**', '!sub-project/docs/**'], 'sub-project/src/index.js', true],
  [['sub-project/**', '!sub-project/docs/**'], 'sub-project/docs/readme.md', false],
];

/** Edge semantics from nektos/act's workflow_pattern.go and its tests, and the docs' escaping rule. */
const edges: readonly Case[] = [
  [['\\!file'], '!file', true],
  [['escape\\\\backslash'], 'escape\\backslash', true],
  [['.yml'], 'fyml', false],
  [['.yml'], '.yml', true],
  [['a\\*b'], 'a*b', true],
  [['a\\*b'], 'axb', false],
  [['a\\?'], 'a?', true],
  [['a\\?'], 'a', false],
  [['feature\\+x'], 'feature+x', true],
  [['?x'], '?x', true], // leading ? is a literal
  [['+x'], '+x', true], // leading + is a literal
  [['!+x'], '+x', false], // negated literal: nothing positive before it
  [['a!b'], 'a!b', true], // ! is special only first
  [['{a,b}'], '{a,b}', true], // no brace expansion: braces are literal
  [['{a,b}'], 'a', false],
  [['src/{a,b}/**'], 'src/a/x.ts', false],
  [['(x|y)'], '(x|y)', true],
  [['(x|y)'], 'x', false],
  [['a.b'], 'axb', false],
  [['^main$'], '^main$', true],
  [['colou?r'], 'color', true],
  [['colou?r'], 'colour', true],
  [['colou?r'], 'colouur', false],
  [['go+al'], 'goooal', true],
  [['go+al'], 'gal', false],
  [['[ab]+'], 'abba', true],
  [['[ab]?c'], 'c', true],
  [['[ab]?c'], 'abc', false],
  [['Octoc?t'], 'Octocat', false], // ? quantifies the preceding character, it is not "any one character"
  [['Octoc?t'], 'Octot', true],
  [['[A-z]'], '_', true], // act admits A-z, which spans [ \ ] ^ _ `
  [['*'], '', true],
  [['**'], '', true],
  [['**/x'], 'x', true],
  [['**/x'], 'a/b/x', true],
  [['**/x'], '/x', false], // act: (.+/)? needs at least one character before the slash
  [['a/**/b'], 'a/b', true],
  [['a/**/b'], 'a/x/y/b', true],
  [['a/**/b'], 'a/xb', false],
  [['a/**'], 'a/', true],
  [['a/**'], 'a', false],
  [['**/**/x'], 'p/q/x', true],
  [['*/**'], 'a/b/c', true],
  [['*/**'], 'abc', false],
  [['**/*'], 'a/b/c', true],
  [['**/*'], 'abc', true],
  [['café/*'], 'café/menu', true], // non-ASCII is one character
  [['caf?é'], 'cfé', false],
  [['caf?é'], 'caé', true],
  [['x*'], 'x\nmore', true], // `*` crosses newlines (paths may hold them), never `/`
  [['**'], 'a\nb/c', true],
  [['main'], 'Main', false], // case-sensitive
  // Order: last match wins; a leading `!` has nothing to negate.
  [['!main'], 'main', false],
  [['!main'], 'dev', false],
  [['!main', '**'], 'main', true],
  [['**', '!main'], 'main', false],
  [['**', '!main'], 'dev', true],
  [['**', '!feature/**', 'feature/keep'], 'feature/keep', true],
  [['**', '!feature/**', 'feature/keep'], 'feature/drop', false],
  [[], 'main', false],
];

describe('matchesFilters', () => {
  it.each([...cheatSheet, ...triggerDocs, ...edges])('%j matches %j → %s', (patterns, value, expected) => {
    expect(matchesFilters(patterns, value)).toBe(expected);
  });

  it('has at least 150 table cases', () => {
    expect(cheatSheet.length + triggerDocs.length + edges.length).toBeGreaterThanOrEqual(150);
  });

  it('treats an invalid pattern as matching nothing', () => {
    expect(matchesFilters(['[main'], '[main')).toBe(false);
    expect(matchesFilters(['[main', 'main'], 'main')).toBe(true);
  });
});

describe('matchesIgnoreFilters', () => {
  it.each<Case>([
    [['docs/**'], 'docs/a.md', true],
    [['docs/**'], 'src/a.ts', false],
    [['a', 'b'], 'b', true],
    [['*.md'], 'x/y.md', false],
    [[], 'anything', false],
    // `!` re-includes nothing in an ignore list (triggerFilterErrors reports it).
    [['docs/**', '!docs/keep.md'], 'docs/keep.md', true],
    [['!docs/**'], 'docs/a.md', false],
  ])('%j ignores %j → %s', (patterns, value, expected) => {
    expect(matchesIgnoreFilters(patterns, value)).toBe(expected);
  });
});

/**
 * nektos/act TestMatchPattern: `skip` = the `paths` filter rejects the change set, `filter` = `paths-ignore` ignores
 * it. Cases with `!` in the ignore list are left out of the `filter` column: act inverts negative patterns there
 * (a file *not* matching `!x` counts as ignored), which GitHub does not document; spotcheck treats them as inert.
 */
const actCases: readonly (readonly [patterns: string[], inputs: string[], skip: boolean, filter: boolean | null])[] = [
  [['*'], ['path/with/slash'], true, false],
  [['path/a', 'path/b', 'path/c'], ['meta', 'path/b', 'otherfile'], false, false],
  [['path/a', 'path/b', 'path/c'], ['path/b'], false, true],
  [['path/a', 'path/b', 'path/c'], ['path/c', 'path/b'], false, true],
  [['path/a', 'path/b', 'path/c'], ['path/c', 'path/b', 'path/a'], false, true],
  [['path/a', 'path/b', 'path/c'], ['path/c', 'path/b', 'path/d', 'path/a'], false, false],
  [['\\!file'], ['!file'], false, true],
  [['escape\\\\backslash'], ['escape\\backslash'], false, true],
  [['.yml'], ['fyml'], true, false],
  [['*.md', '!README.md'], ['hello.md'], false, null],
  [['*.md', '!README.md'], ['README.md'], true, null],
  [['*.md', '!README.md'], ['docs/hello.md'], true, null],
  [['*.md', '!README.md', 'README*'], ['README.md'], false, null],
  [['*.md', '!README.md', 'README*'], ['README.doc'], false, null],
];

describe('paths and paths-ignore over a change set', () => {
  it.each(actCases)('act: %j over %j', (patterns, inputs, skip, filter) => {
    expect(!pathsFilterPasses(patterns, inputs)).toBe(skip);
    if (filter !== null) expect(!pathsIgnorePasses(patterns, inputs)).toBe(filter);
  });

  it.each([
    // paths: runs if at least one changed path is included (after negations).
    [['src/**'], ['README.md', 'src/a.ts'], true],
    [['src/**'], ['README.md'], false],
    [['src/**', '!src/**/*.md'], ['src/notes.md'], false],
    [['src/**', '!src/**/*.md'], ['src/notes.md', 'src/a.ts'], true],
    [['src/**'], null, true], // unknown diff counts as a match
    [['src/**'], [], false], // "If there are no files changed, the workflow will not run."
  ] as const)('paths %j over %j → %s', (patterns, files, expected) => {
    expect(pathsFilterPasses(patterns, files)).toBe(expected);
  });

  it.each([
    // paths-ignore: skipped only if every changed path is ignored.
    [['docs/**'], ['docs/a.md', 'docs/b.md'], false],
    [['docs/**'], ['docs/a.md', 'src/a.ts'], true],
    [['docs/**', '*.md'], ['docs/a.md', 'README.md'], false],
    [['docs/**'], null, true],
    [['docs/**'], [], false],
  ] as const)('paths-ignore %j over %j → %s', (patterns, files, expected) => {
    expect(pathsIgnorePasses(patterns, files)).toBe(expected);
  });
});

describe('compileFilterPattern', () => {
  it.each([
    ['feature/*', false, '^feature\\/[^/]*$'],
    ['!docs/**', true, '^docs\\/.*$'],
    ['**/*.md', false, '^(?:.+\\/)?[^/]*\\.md$'],
    ['v[12].[0-9]+', false, '^v[12]\\.[0-9]+$'],
    ['{a,b}', false, '^\\{a,b\\}$'],
    // Adjacent wildcards merge, so two overlapping unbounded quantifiers never sit side by side.
    ['a/**/**/**/b', false, '^a\\/(?:.+\\/)?b$'],
    ['a***b', false, '^a.*b$'],
    ['a**/**b', false, '^a.*b$'],
    ['a*?b', false, '^a[^/]*b$'], // act emits RE2's lazy `*?`: the same language
  ])('%j → negated %s, source %s', (pattern, negated, source) => {
    const compiled = compileFilterPattern(pattern);
    expect(compiled).toMatchObject({ ok: true, negated });
    if (compiled.ok) {
      expect(compiled.regex.source).toBe(source);
      // The source is an equivalent plain regex (checked on a sample).
      expect(new RegExp(source, 'su').test('a/b')).toBe(compiled.regex.test('a/b'));
    }
  });

  it('returns a RegExp usable with test, match and search', () => {
    const compiled = compileFilterPattern('docs/**');
    expect(compiled.ok).toBe(true);
    if (!compiled.ok) return;
    expect(compiled.regex).toBeInstanceOf(RegExp);
    expect(compiled.regex.test('docs/a/b.md')).toBe(true);
    expect('docs/a/b.md'.match(compiled.regex)?.[0]).toBe('docs/a/b.md');
    expect('src/docs/a.md'.search(compiled.regex)).toBe(-1);
    expect('docs/x'.split(compiled.regex)).toEqual(['', '']);
  });

  it.each([
    ['[]', 'empty brackets'],
    ['[main', "missing closing bracket ']'"],
    ['v[0-9', "missing closing bracket ']'"],
    ['[z-a]', 'ranges can only include'],
    ['[a-Z]', 'ranges can only include'],
    ['[0-z]', 'ranges can only include'],
    ['[-a]', 'invalid range'],
    ['[a-]', 'invalid range'],
    ['[a-c-e]', 'invalid range'],
    ['[!a]', 'brackets can only hold letters and digits'],
    ['[.]', 'brackets can only hold letters and digits'],
    ['[é]', 'brackets can only hold letters and digits'],
    ['main\\', "missing character after '\\'"],
    ['a++', "'+' cannot follow"],
    ['a*+', "'+' cannot follow"],
    ['a**+', "'+' cannot follow"],
    ['', 'pattern is empty'],
    ['!', 'negates nothing'],
    ['x'.repeat(MAX_FILTER_PATTERN_LENGTH + 1), `longer than ${MAX_FILTER_PATTERN_LENGTH}`],
  ])('%j is invalid: %s', (pattern, message) => {
    const compiled = compileFilterPattern(pattern);
    expect(compiled.ok).toBe(false);
    expect(filterPatternError(pattern)).toContain(message);
  });

  it.each(['main', 'releases/**', '!releases/**-alpha', '[A-Za-z0-9_]+', 'x'.repeat(MAX_FILTER_PATTERN_LENGTH)])(
    '%j is valid',
    (pattern) => {
      expect(filterPatternError(pattern)).toBeUndefined();
    },
  );

  it('reports every error of a pattern at once', () => {
    expect(filterPatternError('[]x[z-a]\\')?.split(';')).toHaveLength(3);
  });
});

describe('pathological patterns stay linear (a backtracking engine would not finish these)', () => {
  const long = 'a'.repeat(50_000);
  const slashes = 'a/'.repeat(25_000);
  it.each([
    ['**a**a**a**a**a**a**a**a**a**b', long, false],
    ['*a*a*a*a*a*a*a*a*a*a*a*b', long, false],
    ['**/**a/**a/**a/**a/**a/**b', slashes, false],
    ['a+a+a+a+a+a+a+a+a+b', long, false],
    ['[a]+[a]+[a]+[a]+[a]+[a]+b', long, false],
    ['**a**a**a**a**a**a**a**a**a**a', long, true],
    [`${'**/'.repeat(80)}x`, `${slashes}x`, true],
  ])('%j against a long adversarial input → %s', (pattern, value, expected) => {
    expect(matchesFilters([pattern], value)).toBe(expected);
    const compiled = compileFilterPattern(pattern);
    expect(compiled.ok && compiled.regex.test(value)).toBe(expected);
  });
});
