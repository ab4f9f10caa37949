/**
 * GitHub Actions filter patterns for `branches`, `tags` and `paths` (and their `-ignore` forms).
 *
 * The syntax is GitHub's "Filter pattern cheat sheet" (Workflow syntax for GitHub Actions): `*` matches zero or
 * more characters except `/`; `**` zero or more of any character; `?` zero or one of the preceding character;
 * `+` one or more of the preceding character; `[]` one character from a set or `a-z`/`A-Z`/`0-9` range; `!` at the
 * start negates; `\` escapes the next character. Where the docs are silent we follow nektos/act's port of GitHub's
 * behaviour (`pkg/workflowpattern/workflow_pattern.go`): `**` then `/` matches nothing or a non-empty prefix ending in `/`,
 * `?`/`+` as the first character are literals, and every other character (braces, parentheses, `|`, `.`) is a
 * literal — GitHub's syntax has no `{a,b}` alternation, so there is no brace expansion to blow up.
 *
 * Matching is linear in the length of the value: the pattern is compiled to a small automaton that is simulated
 * state-set-wise (Thompson), so a pathological pattern such as `**a**a**a**b` against a long name cannot backtrack.
 * The RegExp handed out is the equivalent anchored regular expression (for display and interop), and its `exec`
 * (hence `test`, `match`, `search`) runs that same automaton rather than the backtracking engine.
 */

import { MAX_FILTER_PATTERN_LENGTH } from '../limits.ts';

/** Re-exported for the validator and tests; the cap bounds automaton size (GitHub documents none). */
export { MAX_FILTER_PATTERN_LENGTH };

export type CompiledFilterPattern =
  | { readonly ok: true; readonly negated: boolean; readonly regex: RegExp }
  | { readonly ok: false; readonly error: string };

type CodePointTest = (cp: number) => boolean;
type Range = readonly [number, number];
type Quantifier = '' | '?' | '+';

type Token =
  | { readonly kind: 'literal'; readonly cp: number; quant: Quantifier }
  | { readonly kind: 'class'; readonly ranges: readonly Range[]; quant: Quantifier }
  /** `*`: `[^/]*`. */
  | { readonly kind: 'star' }
  /** `**`: `.*`. */
  | { readonly kind: 'globstar' }
  /** `**` then `/`: `(?:.+/)?` — empty, or one or more characters ending in `/` (act's translation). */
  | { readonly kind: 'globstar-slash' };

const SLASH = 0x2f;
const cp = (ch: string): number => ch.codePointAt(0) ?? 0;

/** Characters act accepts inside `[]`: act's `validChar('A', 'z')` or `validChar('0', '9')`. */
function isClassChar(c: number): boolean {
  return (c >= cp('A') && c <= cp('z')) || (c >= cp('0') && c <= cp('9'));
}

/** A range must stay within one of GitHub's groups: a-z, A-Z, 0-9 (act also admits A-z, as GitHub does). */
function isValidRange(lo: number, hi: number): boolean {
  const within = (a: string, b: string): boolean => lo >= cp(a) && hi <= cp(b);
  return lo <= hi && (within('A', 'z') || within('0', '9'));
}

function parse(body: string): { tokens: Token[]; errors: string[] } {
  const chars = Array.from(body);
  const tokens: Token[] = [];
  const errors: string[] = [];
  const fail = (pos: number, message: string): void => {
    errors.push(`position ${pos}: ${message}`);
  };
  let i = 0;
  while (i < chars.length) {
    const ch = chars[i] ?? '';
    if (ch === '*') {
      if (chars[i + 1] === '*') {
        if (chars[i + 2] === '/') {
          tokens.push({ kind: 'globstar-slash' });
          i += 3;
        } else {
          tokens.push({ kind: 'globstar' });
          i += 2;
        }
      } else {
        tokens.push({ kind: 'star' });
        i += 1;
      }
    } else if ((ch === '?' || ch === '+') && i > 0) {
      // Quantifies the preceding character or class. After a wildcard or another quantifier act emits RE2's
      // lazy `?` (same language, so a no-op here) or a nested `+` that RE2 rejects (so an error here).
      const prev = tokens[tokens.length - 1];
      if (prev !== undefined && (prev.kind === 'literal' || prev.kind === 'class') && prev.quant === '') {
        prev.quant = ch;
      } else if (ch === '+') {
        fail(i, "'+' cannot follow a wildcard or another quantifier");
      }
      i += 1;
    } else if (ch === '[') {
      i = parseClass(chars, i, tokens, fail);
    } else if (ch === '\\') {
      const next = chars[i + 1];
      if (next === undefined) {
        fail(i, "missing character after '\\'");
        i += 1;
      } else {
        tokens.push({ kind: 'literal', cp: cp(next), quant: '' });
        i += 2;
      }
    } else {
      // Includes `?`/`+` as the first character: literals, as in act.
      tokens.push({ kind: 'literal', cp: cp(ch), quant: '' });
      i += 1;
    }
  }
  return { tokens, errors };
}

/** Parses `[...]` starting at `start` (the `[`); returns the index after it. */
function parseClass(
  chars: readonly string[],
  start: number,
  tokens: Token[],
  fail: (pos: number, message: string) => void,
): number {
  let i = start + 1;
  if (chars[i] === ']') {
    fail(i, "empty brackets '[]'");
    return i + 1;
  }
  const ranges: Range[] = [];
  let ok = true;
  let lastWasSingle = false;
  while (i < chars.length && chars[i] !== ']') {
    const c = cp(chars[i] ?? '');
    if (chars[i] === '-') {
      const prev = ranges[ranges.length - 1];
      const nextCh = chars[i + 1];
      if (!lastWasSingle || prev === undefined || nextCh === undefined || nextCh === ']') {
        fail(i, "invalid range: '-' needs a character on each side");
        ok = false;
        i += 1;
        lastWasSingle = false;
        continue;
      }
      const hi = cp(nextCh);
      if (!isValidRange(prev[0], hi)) {
        fail(i, 'ranges can only include a-z, A-Z, A-z and 0-9, in ascending order');
        ok = false;
      } else {
        ranges[ranges.length - 1] = [prev[0], hi];
      }
      i += 2;
      lastWasSingle = false;
      continue;
    }
    if (!isClassChar(c)) {
      fail(i, 'brackets can only hold letters and digits');
      ok = false;
    } else {
      ranges.push([c, c]);
    }
    lastWasSingle = isClassChar(c);
    i += 1;
  }
  if (i >= chars.length) {
    fail(start, "missing closing bracket ']' after '['");
    return i;
  }
  if (ok) tokens.push({ kind: 'class', ranges, quant: '' });
  return i + 1;
}

const WILDCARDS = new Set<Token['kind']>(['star', 'globstar', 'globstar-slash']);

/**
 * Merges runs of adjacent wildcards into one equivalent wildcard, so the regex source never has two overlapping
 * unbounded quantifiers side by side: `**` next to `*`, `**` or `**`-then-`/` is `**`; two `**`-then-`/` in a row
 * are one. (`*` next to `**`-then-`/` is kept: that pair is not equivalent to a single wildcard.)
 */
function normalize(tokens: readonly Token[]): Token[] {
  const out: Token[] = [];
  for (const token of tokens) {
    const prev = out[out.length - 1];
    if (prev !== undefined && WILDCARDS.has(prev.kind) && WILDCARDS.has(token.kind)) {
      if (prev.kind === 'globstar') continue;
      if (token.kind === 'globstar') {
        out[out.length - 1] = token;
        continue;
      }
      if (prev.kind === 'globstar-slash' && token.kind === 'globstar-slash') continue;
    }
    out.push(token);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Regex source (display and interop).
// ---------------------------------------------------------------------------------------------------------------

/** Characters that must be escaped in a `u`-mode regex (SyntaxCharacter plus `/`); `u` rejects other escapes. */
const REGEX_SYNTAX = new Set(Array.from('^$\\.*+?()[]{}|/'));
const CLASS_SYNTAX = new Set(Array.from('\\]^-['));

function regexSource(tokens: readonly Token[]): string {
  let source = '^';
  for (const token of tokens) {
    switch (token.kind) {
      case 'literal': {
        const ch = String.fromCodePoint(token.cp);
        source += (REGEX_SYNTAX.has(ch) ? `\\${ch}` : ch) + token.quant;
        break;
      }
      case 'class': {
        const one = (c: number): string => {
          const ch = String.fromCodePoint(c);
          return CLASS_SYNTAX.has(ch) ? `\\${ch}` : ch;
        };
        const body = token.ranges.map(([lo, hi]) => (lo === hi ? one(lo) : `${one(lo)}-${one(hi)}`)).join('');
        source += `[${body}]${token.quant}`;
        break;
      }
      case 'star':
        source += '[^/]*';
        break;
      case 'globstar':
        source += '.*';
        break;
      case 'globstar-slash':
        source += '(?:.+/)?';
        break;
    }
  }
  return `${source}$`;
}

// ---------------------------------------------------------------------------------------------------------------
// Automaton: states with labelled edges and epsilon edges, simulated as a set of states per input code point.
// ---------------------------------------------------------------------------------------------------------------

interface NfaState {
  readonly edges: { readonly test: CodePointTest; readonly to: number }[];
  readonly eps: number[];
}

interface Nfa {
  readonly states: readonly NfaState[];
  readonly accept: number;
}

const anyCodePoint: CodePointTest = () => true;
const notSlash: CodePointTest = (c) => c !== SLASH;
const isSlash: CodePointTest = (c) => c === SLASH;

function buildNfa(tokens: readonly Token[]): Nfa {
  const states: NfaState[] = [{ edges: [], eps: [] }];
  const add = (): number => states.push({ edges: [], eps: [] }) - 1;
  const at = (index: number): NfaState => states[index] as NfaState;
  let cur = 0;
  for (const token of tokens) {
    if (token.kind === 'literal' || token.kind === 'class') {
      const test: CodePointTest =
        token.kind === 'literal'
          ? (
              (want) => (c: number) =>
                c === want
            )(token.cp)
          : (
              (ranges) => (c: number) =>
                ranges.some(([lo, hi]) => c >= lo && c <= hi)
            )(token.ranges);
      const next = add();
      at(cur).edges.push({ test, to: next });
      if (token.quant === '?') at(cur).eps.push(next);
      if (token.quant === '+') at(next).edges.push({ test, to: next });
      cur = next;
    } else if (token.kind === 'star' || token.kind === 'globstar') {
      const loop = add();
      at(cur).eps.push(loop);
      at(loop).edges.push({ test: token.kind === 'star' ? notSlash : anyCodePoint, to: loop });
      cur = loop;
    } else {
      // (?:.+/)?  — skip, or one character, any more, then a slash.
      const inner = add();
      const out = add();
      at(cur).eps.push(out);
      at(cur).edges.push({ test: anyCodePoint, to: inner });
      at(inner).edges.push({ test: anyCodePoint, to: inner });
      at(inner).edges.push({ test: isSlash, to: out });
      cur = out;
    }
  }
  return { states, accept: cur };
}

function closure(nfa: Nfa, set: Uint8Array, list: number[]): void {
  const stack = [...list];
  while (stack.length > 0) {
    const s = stack.pop() as number;
    for (const t of (nfa.states[s] as NfaState).eps) {
      if (set[t] === 0) {
        set[t] = 1;
        list.push(t);
        stack.push(t);
      }
    }
  }
}

/** O(|value| × |states|): no backtracking whatever the pattern. */
function runNfa(nfa: Nfa, value: string): boolean {
  const size = nfa.states.length;
  let set = new Uint8Array(size);
  let list = [0];
  set[0] = 1;
  closure(nfa, set, list);
  for (const ch of value) {
    const c = cp(ch);
    const nextSet = new Uint8Array(size);
    const nextList: number[] = [];
    for (const s of list) {
      for (const edge of (nfa.states[s] as NfaState).edges) {
        if (nextSet[edge.to] === 0 && edge.test(c)) {
          nextSet[edge.to] = 1;
          nextList.push(edge.to);
        }
      }
    }
    if (nextList.length === 0) return false;
    closure(nfa, nextSet, nextList);
    set = nextSet;
    list = nextList;
  }
  return set[nfa.accept] === 1;
}

/**
 * An anchored RegExp whose matching runs the linear-time automaton. `source` is the equivalent regular expression;
 * copying it into a plain `new RegExp(...)` gives the same language but loses the backtracking guarantee.
 */
class FilterPatternRegExp extends RegExp {
  readonly #nfa: Nfa;

  constructor(source: string, nfa: Nfa) {
    super(source, 'su');
    this.#nfa = nfa;
  }

  /** `split`/`matchAll` build their own regex from the species: give them a plain one. */
  static override get [Symbol.species](): RegExpConstructor {
    return RegExp;
  }

  override exec(input: string): RegExpExecArray | null {
    const value = String(input);
    if (!runNfa(this.#nfa, value)) return null;
    const match: RegExpExecArray = Object.assign([value], { 0: value, index: 0, input: value });
    return match;
  }
}

/** Compiles one filter pattern (with its optional leading `!`) to an anchored, linear-time RegExp. */
export function compileFilterPattern(pattern: string): CompiledFilterPattern {
  if (pattern.length > MAX_FILTER_PATTERN_LENGTH) {
    return { ok: false, error: `pattern is longer than ${MAX_FILTER_PATTERN_LENGTH} characters` };
  }
  // GitHub: "`!` at the start of a pattern makes it negate previous positive patterns. It has no special meaning
  // if not the first character."
  const negated = pattern.startsWith('!');
  const body = negated ? pattern.slice(1) : pattern;
  if (body === '') return { ok: false, error: negated ? "pattern '!' negates nothing" : 'pattern is empty' };
  const { tokens, errors } = parse(body);
  if (errors.length > 0) return { ok: false, error: `invalid pattern '${pattern}': ${errors.join('; ')}` };
  const normalized = normalize(tokens);
  return { ok: true, negated, regex: new FilterPatternRegExp(regexSource(normalized), buildNfa(normalized)) };
}

/** The validator's view: why `pattern` is not a valid filter pattern, or `undefined` if it is. */
export function filterPatternError(pattern: string): string | undefined {
  const compiled = compileFilterPattern(pattern);
  return compiled.ok ? undefined : compiled.error;
}

type Compiled = Extract<CompiledFilterPattern, { ok: true }>;

/** Invalid patterns are left out: they match nothing (the validator reports them before any run). */
function compileAll(patterns: readonly string[]): Compiled[] {
  const out: Compiled[] = [];
  for (const pattern of patterns) {
    const compiled = compileFilterPattern(pattern);
    if (compiled.ok) out.push(compiled);
  }
  return out;
}

function included(compiled: readonly Compiled[], value: string): boolean {
  // GitHub: "A matching negative pattern (prefixed with `!`) after a positive match will exclude the Git ref. A
  // matching positive pattern after a negative match will include the Git ref again." — the last match wins, and a
  // value no pattern matches is not included (so a leading `!` pattern has nothing to negate).
  let result = false;
  for (const { negated, regex } of compiled) {
    if (regex.test(value)) result = !negated;
  }
  return result;
}

function ignored(compiled: readonly Compiled[], value: string): boolean {
  // GitHub documents `!` only for `branches`/`tags`/`paths` ("use the `paths` filter prefixed with the `!`
  // character to indicate which paths should be excluded"); in an `-ignore` list it re-includes nothing, so `!`
  // entries are inert here and `triggerFilterErrors` reports them.
  return compiled.some(({ negated, regex }) => !negated && regex.test(value));
}

/** `branches`/`tags`/`paths` for one value: patterns in order, the last matching pattern wins. */
export function matchesFilters(patterns: readonly string[], value: string): boolean {
  return included(compileAll(patterns), value);
}

/** `branches-ignore`/`tags-ignore`/`paths-ignore` for one value: `true` when any pattern matches (value excluded). */
export function matchesIgnoreFilters(patterns: readonly string[], value: string): boolean {
  return ignored(compileAll(patterns), value);
}

/**
 * `paths`: passes when at least one changed file is included. `null` (the forge could not compute the diff) passes,
 * as GitHub runs the workflow when it "does not generate the diff"; `[]` fails ("If there are no files changed, the
 * workflow will not run").
 */
export function pathsFilterPasses(patterns: readonly string[], changedFiles: readonly string[] | null): boolean {
  if (changedFiles === null) return true;
  const compiled = compileAll(patterns);
  return changedFiles.some((file) => included(compiled, file));
}

/**
 * `paths-ignore`: fails only when every changed file is ignored ("When all the path names match patterns in
 * `paths-ignore`, the workflow will not run"). `null` passes; `[]` fails, as with `paths` — GitHub's "no files
 * changed" rule covers both filters, and act's `Filter` likewise skips on an empty list.
 */
export function pathsIgnorePasses(patterns: readonly string[], changedFiles: readonly string[] | null): boolean {
  if (changedFiles === null) return true;
  const compiled = compileAll(patterns);
  return changedFiles.some((file) => !ignored(compiled, file));
}
