/**
 * A clone of spotcheck works alone: no tracked file reads a path outside the repository root (issue 11). Every tracked
 * (or new, not ignored) source, config and script file is scanned for path expressions, each resolved against the
 * file's own folder, and any that lands above the root is reported:
 *
 *   - `new URL('…', import.meta.url)` (a template literal counts up to its first `${`);
 *   - `resolve(…)` / `join(…)` from this file's folder (`__dirname`, `import.meta.dirname`,
 *     `dirname(fileURLToPath(import.meta.url))`) or from the working directory (`process.cwd()`, the root under
 *     npm scripts and vitest), followed by string literals;
 *   - any other `../…` token: import specifiers, JSON and YAML values, shell arguments;
 *   - a shell script's `$(dirname "$0")/…`;
 *   - and, wherever it appears (comments too), the sibling folder the project grew up beside (`shared` one level up), `/work/…`.
 *
 * A heuristic, not a proof: a path assembled at run time from variables is not seen. This file is left out of the
 * scan because its planted samples below are exactly what the scan must catch.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const THIS_FILE = 'test/unit/self-contained.test.ts';
const SCANNED = /\.(?:[cm]?[jt]s|json|sh|ya?ml)$/;

/** `<file> <token>` that look like paths and are not: each says why. */
const ALLOWED = new Set([
  // no-restricted-imports patterns, matched against the import specifiers of src/core/** files, not read as paths.
  'eslint.config.js ../store/*',
  'eslint.config.js ../forges/*',
  'eslint.config.js ../server/*',
  // Hostile inputs the tests feed the agent and the archive unpacker (refused, never read).
  'test/integration/actions-javascript.test.ts ../../../../etc/passwd',
  'test/integration/remote-action-fetcher.test.ts ../../../escaped',
  // A workspace path the workflow-command parser is told about (a string it relativizes annotation paths against).
  'test/unit/workflow-commands.test.ts /work/ws',
]);

interface Finding {
  readonly file: string;
  readonly line: number;
  readonly path: string;
  readonly why: string;
}

const FILE_DIR_BASE = String.raw`__dirname|import\.meta\.dirname|dirname\(\s*fileURLToPath\(\s*import\.meta\.url\s*\)\s*\)`;
const PATTERNS = {
  url: /new URL\(\s*(['"`])(.*?)\1\s*,\s*import\.meta\.url\s*\)/g,
  join: new RegExp(
    String.raw`(?:resolve|join)\(\s*(${FILE_DIR_BASE}|process\.cwd\(\))\s*((?:,\s*(['"\`])[^'"\`\n]*\3\s*)*)[,)]`,
    'g',
  ),
  literal: /(['"`])([^'"`\n]*)\1/g,
  dotdot: /(?<![\w./-])\.\.\/[^\s'"`,;)\]}]*/g,
  shellDir: /\$\(\s*dirname\s+"?\$(?:0|\{BASH_SOURCE\[0\]\})"?\s*\)([^\s"';)]*)/g,
  named: /(?<![\w./])(?:(?:\.\.\/)+|\/work\/)shared\b|(?<![\w.-])\/work\/[\w.-]+/g,
} as const;

/** The part of a (template) literal known without running it: up to its first `${`. */
function staticPrefix(literal: string): string {
  const hole = literal.indexOf('${');
  return hole === -1 ? literal : literal.slice(0, hole);
}

function isOutside(root: string, target: string): boolean {
  const relative = path.relative(root, target);
  return relative === '..' || relative.startsWith(`..${path.sep}`) || path.isAbsolute(relative);
}

/** Path expressions in one file's text that resolve above `root`; pure, so planted samples can be checked too. */
function findEscapingPaths(root: string, file: string, text: string): Finding[] {
  const folder = path.dirname(path.join(root, file));
  const findings = new Map<string, Finding>();
  const lineOf = (index: number): number => text.slice(0, index).split('\n').length;
  const add = (index: number, spec: string, why: string): void => {
    const finding = { file, line: lineOf(index), path: spec, why };
    const key = `${finding.line}:${spec}`;
    if (!findings.has(key) && !ALLOWED.has(`${file} ${spec}`)) findings.set(key, finding);
  };
  const report = (index: number, spec: string, from: string, why: string): void => {
    if (isOutside(root, path.resolve(from, spec))) add(index, spec, why);
  };

  for (const match of text.matchAll(PATTERNS.url)) {
    report(match.index, staticPrefix(match[2] ?? ''), folder, 'new URL(…, import.meta.url)');
  }
  for (const match of text.matchAll(PATTERNS.join)) {
    const from = match[1] === 'process.cwd()' ? root : folder;
    const parts = [...(match[2] ?? '').matchAll(PATTERNS.literal)].map((part) => part[2] ?? '');
    const held = parts.findIndex((part) => part.includes('${'));
    const known = held === -1 ? parts : [...parts.slice(0, held), staticPrefix(parts[held] ?? '')];
    report(match.index, path.join(...known, '.'), from, `${match[1]} joined with literals`);
  }
  for (const match of text.matchAll(PATTERNS.dotdot)) {
    report(match.index, staticPrefix(match[0]), folder, 'relative path');
  }
  for (const match of text.matchAll(PATTERNS.shellDir)) {
    report(match.index, `.${staticPrefix(match[1] ?? '')}`, folder, 'the script’s own folder');
  }
  for (const match of text.matchAll(PATTERNS.named)) add(match.index, match[0], 'names a folder beside the repository');
  return [...findings.values()];
}

function listRepositoryFiles(): string[] {
  const out = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  return out.split('\0').filter((file) => file !== '' && !file.split('/').includes('node_modules'));
}

/** Scripts without an extension (`.ci/run`) are recognised by their shebang. */
function isScanned(file: string): boolean {
  if (SCANNED.test(file)) return true;
  if (path.basename(file).includes('.')) return false;
  return readFileSync(path.join(ROOT, file), 'utf8').startsWith('#!');
}

describe('the repository is self-contained', () => {
  const files = listRepositoryFiles()
    .filter((file) => file !== THIS_FILE && existsSync(path.join(ROOT, file)))
    .filter(isScanned);

  it('scans every kind of file that could read a path: sources, configs, fixtures, scripts', () => {
    for (const file of [
      'test/helpers/gitea-api.ts',
      'scripts/bundle-lambda.mjs',
      'package.json',
      'test/fixtures/gitea/swagger-v1.json',
      'ami/provision.sh',
      '.ci/run',
      'vitest.config.ts',
    ]) {
      expect(files).toContain(file);
    }
  });

  it('no scanned file resolves a path above the repository root', () => {
    const findings = files.flatMap((file) =>
      findEscapingPaths(ROOT, file, readFileSync(path.join(ROOT, file), 'utf8')),
    );
    expect(findings).toEqual([]);
  });
});

describe('findEscapingPaths on planted samples', () => {
  const root = '/repo';
  // The sibling `shared` folder one level up, assembled so repository-wide searches for sibling reads skip these samples.
  const SIBLING = ['..', 'shared'].join('/');
  const escapes = (file: string, text: string): boolean => findEscapingPaths(root, file, text).length > 0;

  it.each([
    ['test/unit/a.test.ts', `new URL('../../${SIBLING}/contracts/gitea-swagger-v1.json', import.meta.url)`],
    ['test/unit/a.test.ts', 'new URL(`../../../elsewhere/${name}`, import.meta.url)'],
    ['bench/a.ts', "fileURLToPath(new URL('../..', import.meta.url))"],
    ['infra/app.ts', "join(dirname(fileURLToPath(import.meta.url)), '..', '..')"],
    ['scripts/a.mjs', "path.resolve(__dirname, '..', '..', 'tools')"],
    ['test/e2e/a.test.ts', "path.resolve(import.meta.dirname, '../../../bin/x.js')"],
    ['src/a.ts', "resolve(process.cwd(), '..', `${name}.json`)"],
    ['test/unit/a.test.ts', "import { x } from '../../../other/x.ts';"],
    ['package.json', '{ "scripts": { "pretest": "node ../tools/check.js" } }'],
    ['examples/a.yml', 'steps:\n  - run: cat ../../outside.txt\n'],
    ['.ci/run', '#!/usr/bin/env bash\ncd "$(dirname "$0")/../.."\n'],
    ['test/helpers/deep/a.ts', `// the swagger lives in ${SIBLING}/contracts`],
    ['test/unit/a.test.ts', "readFileSync('/work/shared/contracts/x.json')"],
  ])('%s: %s is caught', (file, text) => {
    expect(escapes(file, text)).toBe(true);
  });

  it.each([
    ['test/unit/a.test.ts', 'new URL(`../fixtures/gitea/captured/${name}`, import.meta.url)'],
    ['test/e2e/a.test.ts', "fileURLToPath(new URL('../..', import.meta.url))"],
    ['bench/a.ts', "fileURLToPath(new URL('..', import.meta.url))"],
    ['infra/app.ts', "join(dirname(fileURLToPath(import.meta.url)), '..')"],
    ['test/e2e/a.test.ts', "path.resolve(import.meta.dirname, '../../bin/spotcheck-agent.js')"],
    ['src/a.ts', "resolve(process.cwd(), 'examples', `${name}.json`)"],
    ['test/unit/a.test.ts', "import { x } from '../../src/core/plan.ts';"],
    ['infra/tsconfig.json', '{ "extends": "../tsconfig.json" }'],
    ['.ci/run', '#!/usr/bin/env bash\ncd "$(dirname "$0")/.."\n'],
    ['src/a.ts', "const tmp = '/tmp/spotcheck'; const p = 'a/../../b';"],
  ])('%s: %s stays inside', (file, text) => {
    expect(findEscapingPaths(root, file, text)).toEqual([]);
  });

  it('reports the file, the line and the path as written', () => {
    const text = `import a from './a.ts';\nconst spec = new URL('../../${SIBLING}/x.json', import.meta.url);\n`;
    expect(findEscapingPaths(root, 'test/unit/a.test.ts', text)).toContainEqual({
      file: 'test/unit/a.test.ts',
      line: 2,
      path: `../../${SIBLING}/x.json`,
      why: 'new URL(…, import.meta.url)',
    });
  });
});
