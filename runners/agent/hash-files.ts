/**
 * `hashFiles()` as GitHub's runner computes it (actions/runner `src/Misc/expressionFunc/hashFiles`, which globs with
 * @actions/glob): the arguments are glob patterns relative to GITHUB_WORKSPACE (one per line, `#` lines and blank
 * lines ignored, a leading `!` excludes); matches are found by a depth-first walk of each pattern's literal search
 * path, children in byte order (Node's readdir order); directories and files outside the workspace are skipped;
 * the result is the SHA-256 over the SHA-256 digests of the matched files in walk order (hex), or '' when nothing
 * matches.
 *
 * Synchronous because the expression evaluator calls functions synchronously. Limits: symbolic links are not
 * followed while walking (GitHub's default; `--follow-symbolic-links` is refused), and there is no 120 s timeout.
 */
import { createHash } from 'node:crypto';
import { closeSync, lstatSync, openSync, readdirSync, readSync, statSync, type Stats } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { Minimatch } from 'minimatch';

/** @actions/glob's minimatch options (internal-pattern.ts), on Linux. */
const MINIMATCH_OPTIONS = { dot: true, nobrace: true, nocase: false, nocomment: true, noext: true, nonegate: true };

const CHUNK_BYTES = 1024 * 1024;

interface GlobPattern {
  readonly negate: boolean;
  /** Matches directories only (the pattern ended with `/`). */
  readonly directoryOnly: boolean;
  /** Ends with a `**` segment (then a directory is matched with a trailing slash, @actions/glob's quirk). */
  readonly endsWithGlobstar: boolean;
  /** Added for an implicit `/**` (every descendant of what a pattern names). */
  readonly implicit: boolean;
  readonly searchPath: string;
  readonly matcher: Minimatch;
}

/** Escapes a literal path for a glob (as @actions/glob `globEscape` on Linux). */
function globEscape(text: string): string {
  return escapeOpeningBrackets(text.replace(/\\/g, '\\\\')).replace(/\?/g, '[?]').replace(/\*/g, '[*]');
}

/**
 * `[` → `[[]` where a `]` follows before the next `/` (a `[` that could open a class), in one pass from the right:
 * the lookahead `/\[(?=[^/]+\])/` rescans the rest of the segment for each `[`, quadratic on `[[[[…`.
 */
function escapeOpeningBrackets(text: string): string {
  // closeAhead[p]: a `]` lies in text[p…] before the next `/`.
  const closeAhead: boolean[] = new Array<boolean>(text.length + 1).fill(false);
  for (let p = text.length - 1; p >= 0; p--) closeAhead[p] = text[p] !== '/' && (text[p] === ']' || closeAhead[p + 1]!);
  const out: string[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    // `[^/]+\]`: at least one character that is not `/`, then a `]`, all before the next `/`.
    const opens = c === '[' && i + 1 < text.length && text[i + 1] !== '/' && closeAhead[i + 2] === true;
    out.push(opens ? '[[]' : c);
  }
  return out.join('');
}

/** A segment's literal text, or '' when it holds a wildcard (a one-character class `[x]` is the literal x). */
function literalOf(segment: string): string {
  let literal = '';
  for (let i = 0; i < segment.length; i++) {
    const c = segment[i] ?? '';
    if (c === '\\' && i + 1 < segment.length) {
      literal += segment[++i] ?? '';
    } else if (c === '*' || c === '?') {
      return '';
    } else if (c === '[') {
      const close = segment.indexOf(']', i + 2);
      if (close < 0) {
        literal += c;
        continue;
      }
      const set = segment.slice(i + 1, close);
      if (set.length !== 1 || set === '!' || set === '^') return '';
      literal += set;
      i = close;
    } else {
      literal += c;
    }
  }
  return literal;
}

function createPattern(source: string, workspace: string): GlobPattern[] {
  let text = source.trim();
  let negate = false;
  while (text.startsWith('!')) {
    negate = !negate;
    text = text.slice(1).trim();
  }
  if (text === '') throw new Error('pattern cannot be empty');
  const segments = text.split(/\/+/);
  if (segments.some((segment, i) => literalOf(segment) === '..' || (literalOf(segment) === '.' && i > 0))) {
    throw new Error(`Invalid pattern '${text}'. Relative pathing '.' and '..' is not allowed.`);
  }
  if (text === '.' || text.startsWith('./')) text = globEscape(workspace) + text.slice(1);
  else if (text === '~' || text.startsWith('~/')) text = globEscape(homedir()) + text.slice(1);
  else if (!text.startsWith('/')) text = `${globEscape(workspace)}/${text}`;
  text = text.replace(/\/+/g, '/');
  const directoryOnly = text.length > 1 && text.endsWith('/');
  if (directoryOnly) text = text.slice(0, -1);
  const parts = text.split('/');
  const make = (glob: string, implicit: boolean, dirOnly: boolean): GlobPattern => {
    const globParts = glob.split('/');
    const firstGlob = globParts.findIndex((part, i) => i > 0 && literalOf(part) === '');
    const literalParts = (firstGlob < 0 ? globParts : globParts.slice(0, firstGlob)).map(literalOf);
    return {
      negate,
      directoryOnly: dirOnly,
      endsWithGlobstar: globParts.at(-1) === '**',
      implicit,
      searchPath: literalParts.join('/') || '/',
      matcher: new Minimatch(glob, MINIMATCH_OPTIONS),
    };
  };
  const patterns = [make(text, false, directoryOnly)];
  // @actions/glob's implicitDescendants: a pattern naming a directory also names everything under it.
  if (directoryOnly || parts.at(-1) !== '**') patterns.push(make(`${text === '/' ? '' : text}/**`, true, false));
  return patterns;
}

function matches(pattern: GlobPattern, itemPath: string): boolean {
  const subject = pattern.endsWithGlobstar && !pattern.implicit ? `${itemPath}/` : itemPath;
  return pattern.matcher.match(subject);
}

/** Which kinds an item matches after every pattern in order (a negation removes): none, directories only, or all. */
function matchKind(patterns: readonly GlobPattern[], itemPath: string): 'none' | 'directory' | 'all' {
  let directory = false;
  let file = false;
  for (const pattern of patterns) {
    if (!matches(pattern, itemPath)) continue;
    if (pattern.negate) {
      directory = false;
      if (!pattern.directoryOnly) file = false;
    } else {
      directory = true;
      if (!pattern.directoryOnly) file = true;
    }
  }
  return file ? 'all' : directory ? 'directory' : 'none';
}

/** Whether some included pattern may match below `dir`. */
function mayDescend(patterns: readonly GlobPattern[], dir: string): boolean {
  return patterns.some((p) => !p.negate && p.matcher.match(dir, true));
}

/** Search paths of the included patterns, in pattern order, dropping duplicates and those under another. */
function searchPaths(patterns: readonly GlobPattern[]): string[] {
  const candidates = new Set(patterns.filter((p) => !p.negate).map((p) => p.searchPath));
  const result: string[] = [];
  for (const candidate of candidates) {
    let parent = path.posix.dirname(candidate);
    let child = candidate;
    let covered = false;
    while (parent !== child) {
      if (candidates.has(parent)) covered = true;
      child = parent;
      parent = path.posix.dirname(child);
    }
    if (!covered) result.push(candidate);
  }
  return result;
}

function lstatOrUndefined(file: string): Stats | undefined {
  try {
    return lstatSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** The matched paths (files and directories) in @actions/glob's walk order. */
function globPaths(patterns: readonly GlobPattern[]): string[] {
  const found: string[] = [];
  const stack: string[] = [];
  for (const start of searchPaths(patterns)) if (lstatOrUndefined(start)) stack.unshift(start);
  while (stack.length > 0) {
    const item = stack.pop() ?? '';
    const kind = matchKind(patterns, item);
    const partial = mayDescend(patterns, item);
    if (kind === 'none' && !partial) continue;
    const stats = lstatOrUndefined(item);
    if (stats === undefined) continue;
    if (stats.isDirectory()) {
      if (kind !== 'none') found.push(item);
      else if (!partial) continue;
      const children = readdirSync(item).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
      stack.push(...children.reverse().map((name) => path.join(item, name)));
    } else if (kind === 'all') {
      found.push(item);
    }
  }
  return found;
}

function sha256File(file: string): Buffer {
  const hash = createHash('sha256');
  const buffer = Buffer.alloc(CHUNK_BYTES);
  const fd = openSync(file, 'r');
  try {
    for (let n = readSync(fd, buffer); n > 0; n = readSync(fd, buffer)) hash.update(buffer.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return hash.digest();
}

/**
 * `hashFiles(...patterns)` over `workspace` (an absolute path). Throws on an invalid pattern or option and on an
 * unreadable matched file, which fails the expression as on GitHub.
 */
export function hashFiles(patterns: readonly string[], workspace: string): string {
  if (patterns[0]?.startsWith('--')) {
    throw new Error(
      patterns[0].toLowerCase() === '--follow-symbolic-links'
        ? 'hashFiles: --follow-symbolic-links is not supported by spotcheck'
        : `Invalid glob option ${patterns[0]}, available option: '--follow-symbolic-links'.`,
    );
  }
  const globs = patterns
    .join('\n')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .flatMap((line) => createPattern(line, workspace));
  const root = path.resolve(workspace);
  const total = createHash('sha256');
  let count = 0;
  for (const file of globPaths(globs)) {
    if (!file.startsWith(`${root}/`)) continue;
    if (statSync(file).isDirectory()) continue;
    total.update(sha256File(file));
    count++;
  }
  return count === 0 ? '' : total.digest('hex');
}
