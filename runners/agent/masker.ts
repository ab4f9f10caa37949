/**
 * Replaces registered values (`::add-mask::` values, the order's token, secrets) by `***` in text the agent sends
 * out, as actions/runner's SecretMasker does: a value is masked together with each of its lines and its encoded
 * forms, overlapping and adjacent matches merge into one `***`, and matching is ordinal (case-sensitive).
 *
 * Matching is one Aho–Corasick automaton over all registered strings, so masking a text costs a bounded number of
 * steps per character whatever the values are: no regular expression is built from user data, and a 1 MB line with
 * a thousand near-miss values still costs O(length). `operations` counts the automaton's steps so tests can hold
 * it to that.
 */

/** What a masked value is replaced by (the runner's SecretMasker writes the same). */
export const MASK = '***';

/**
 * The shortest stable base64 prefix worth registering on its own. The runner registers base64 of the value (and of
 * the value without its first one or two bytes) with the padding, which only matches when the value ends the
 * encoded text; the prefix that does not depend on what follows also catches `base64("user:" + secret + "@host")`.
 * Below 8 characters such a prefix would mask unrelated base64 too often.
 */
const MIN_BASE64_PREFIX = 8;

interface Automaton {
  readonly next: Map<number, number>[];
  readonly fail: Int32Array;
  /** Length of the longest registered string that ends at this state (0: none). */
  readonly out: Int32Array;
  /** Length of the string this state stands for (a prefix of some registered string). */
  readonly depth: Int32Array;
}

export class Masker {
  readonly #originals = new Set<string>();
  readonly #patterns = new Set<string>();
  #automaton: Automaton | undefined;
  #operations = 0;

  /** Automaton steps taken by every `mask` call so far (transitions plus failure-link hops). */
  get operations(): number {
    return this.#operations;
  }

  /** Whether anything is registered (nothing to mask: `mask` returns its input). */
  get isEmpty(): boolean {
    return this.#patterns.size === 0;
  }

  /**
   * Registers a value, each of its lines (trimmed, non-empty: a multi-line secret is printed line by line), and the
   * encoded forms of each (see `encodedForms`). An empty value is ignored; the runner masks any other value, however
   * short, and so does this.
   */
  add(value: string): void {
    if (value === '' || this.#originals.has(value)) return;
    this.#originals.add(value);
    const parts = [value, ...value.split(/[\r\n]+/).map((line) => line.trim())];
    for (const part of parts) {
      if (part === '') continue;
      for (const form of [part, ...encodedForms(part)]) {
        if (form !== '' && !this.#patterns.has(form)) {
          this.#patterns.add(form);
          this.#automaton = undefined;
        }
      }
    }
  }

  /** Whether `text` contains a registered value (GitHub drops a job output for which this holds). */
  contains(text: string): boolean {
    return this.mask(text) !== text;
  }

  /** `text` with every registered value and encoding replaced by `***`; overlapping or touching matches merge. */
  mask(text: string): string {
    if (this.#patterns.size === 0 || text === '') return text;
    const { starts, ends } = this.#scan(text);
    if (starts.length === 0) return text;
    let result = '';
    let from = 0;
    for (let k = 0; k < starts.length; k++) {
      result += text.slice(from, starts[k]) + MASK;
      from = ends[k] ?? text.length;
    }
    return result + text.slice(from);
  }

  /**
   * Where `text`, the start of a longer stream, may be cut so that masking the two parts apart masks the same: before
   * any registered value that crosses the cut, and before the longest end of `text` that begins a registered value
   * (what follows may complete it). A line too long to wait for is cut here, never through a value.
   */
  safeCut(text: string): number {
    if (this.#patterns.size === 0) return text.length;
    const { starts, ends, state } = this.#scan(text);
    let cut = text.length - (this.#automaton?.depth[state] ?? 0);
    for (let k = starts.length - 1; k >= 0; k--) {
      const start = starts[k] ?? 0;
      if ((ends[k] ?? 0) > cut && start < cut) cut = start;
    }
    return cut;
  }

  /** The merged match ranges in `text`, in order, and the automaton's state at its end. */
  #scan(text: string): { starts: number[]; ends: number[]; state: number } {
    const automaton = (this.#automaton ??= buildAutomaton(this.#patterns));
    const { next, fail, out } = automaton;
    // Matches arrive in order of their end; a new one swallows the earlier ranges it overlaps or touches.
    const starts: number[] = [];
    const ends: number[] = [];
    let state = 0;
    let operations = 0;
    for (let i = 0; i < text.length; i++) {
      const code = text.charCodeAt(i);
      let to = next[state]?.get(code);
      while (to === undefined && state !== 0) {
        state = fail[state] ?? 0;
        operations++;
        to = next[state]?.get(code);
      }
      state = to ?? 0;
      operations++;
      const length = out[state] ?? 0;
      if (length === 0) continue;
      let start = i + 1 - length;
      while (ends.length > 0 && (ends.at(-1) ?? -1) >= start) {
        start = Math.min(start, starts.pop() ?? start);
        ends.pop();
      }
      starts.push(start);
      ends.push(i + 1);
    }
    this.#operations += operations;
    return { starts, ends, state };
  }
}

/**
 * The encodings actions/runner registers for every secret (HostContext's value encoders: base64 and base64 of the
 * value shifted by one and two bytes, `"` → `\"` for command lines, `'` → `''` for expressions, the JSON string
 * escape, the URI data escape, the XML escape, the value without surrounding double quotes), plus the stable base64
 * prefixes (see MIN_BASE64_PREFIX) and JavaScript's encodeURIComponent beside .NET's stricter EscapeDataString.
 * The runner's two PowerShell `&` splits are left out: the agent runs no PowerShell that colours its errors.
 */
export function encodedForms(value: string): string[] {
  const bytes = Buffer.from(value, 'utf8');
  const forms: string[] = [];
  for (const shift of [0, 1, 2]) {
    const part = bytes.length > shift ? bytes.subarray(shift) : bytes;
    const base64 = part.toString('base64');
    forms.push(base64);
    const stable = base64.slice(0, Math.floor(part.length / 3) * 4);
    if (stable.length >= MIN_BASE64_PREFIX) forms.push(stable);
  }
  forms.push(value.replaceAll('"', '\\"'));
  forms.push(value.replaceAll("'", "''"));
  forms.push(JSON.stringify(value).slice(1, -1));
  forms.push(encodeURIComponent(value));
  forms.push(encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`));
  forms.push(
    value.replace(
      /[&<>"']/g,
      (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c] ?? c,
    ),
  );
  if (value.length > 8 && value.startsWith('"') && value.endsWith('"')) forms.push(value.slice(1, -1));
  return forms.filter((form) => form !== value);
}

/** The trie of all patterns with failure links (breadth-first), and the longest match ending at each state. */
function buildAutomaton(patterns: ReadonlySet<string>): Automaton {
  const next: Map<number, number>[] = [new Map<number, number>()];
  const depth: number[] = [0];
  const terminal: boolean[] = [false];
  for (const pattern of patterns) {
    let state = 0;
    for (let i = 0; i < pattern.length; i++) {
      const code = pattern.charCodeAt(i);
      const edges = next[state] ?? new Map<number, number>();
      let to = edges.get(code);
      if (to === undefined) {
        to = next.length;
        edges.set(code, to);
        next.push(new Map<number, number>());
        depth.push((depth[state] ?? 0) + 1);
        terminal.push(false);
      }
      state = to;
    }
    terminal[state] = true;
  }
  const fail = new Int32Array(next.length);
  const out = new Int32Array(next.length);
  const queue: number[] = [];
  for (const child of next[0]?.values() ?? []) {
    queue.push(child);
    out[child] = terminal[child] === true ? (depth[child] ?? 0) : 0;
  }
  for (let head = 0; head < queue.length; head++) {
    const state = queue[head] ?? 0;
    for (const [code, child] of next[state] ?? []) {
      let f = fail[state] ?? 0;
      while (f !== 0 && next[f]?.get(code) === undefined) f = fail[f] ?? 0;
      const target = next[f]?.get(code);
      fail[child] = target !== undefined && target !== child ? target : 0;
      // The longest match ending here is this state's own string when it is a pattern (it is the longest suffix).
      out[child] = terminal[child] === true ? (depth[child] ?? 0) : (out[fail[child] ?? 0] ?? 0);
      queue.push(child);
    }
  }
  return { next, fail, out, depth: Int32Array.from(depth) };
}
