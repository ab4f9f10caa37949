/**
 * Stage 1 of reading a workflow file: text → a plain positioned tree (yaml-tree.ts). Workflow files come from
 * whoever can open a pull request, so every dimension is bounded (src/core/limits.ts) and the work stays
 * proportional to the file.
 *
 * Pipeline: raw-text checks (size, binary) → yaml CST (nesting depth and alias count checked before composing,
 * because yaml's composer recurses and can exhaust memory on deep input) → yaml documents (syntax errors; duplicate
 * keys found by our own linear pass, not yaml's quadratic `uniqueKeys`) → alias-bomb check (yaml's maxAliasCount) → a plain positioned tree (aliases expanded under a
 * node budget, recursive anchors refused).
 */
import { Composer, Lexer, LineCounter, Parser, isAlias, isMap, isScalar, isSeq, visit } from 'yaml';
import type { CST, Document, Node as YamlNode } from 'yaml';
import {
  MAX_WORKFLOW_FILE_BYTES,
  MAX_YAML_ALIAS_COUNT,
  MAX_YAML_ALIAS_NODES,
  MAX_YAML_DEPTH,
  MAX_YAML_NODES,
} from '../limits.ts';
import type { SourcePos } from '../types.ts';
import { clip, kib } from './diagnostics.ts';
import type { DiagnosticSink } from './diagnostics.ts';
import type { YEntry, YScalar, YValue } from './yaml-tree.ts';

const START: SourcePos = { line: 1, col: 1 };

/**
 * The file as a positioned tree, or `undefined` after reporting why it cannot be one (too large, not text, empty,
 * too deep, a syntax error, an alias bomb). Reports into `sink` and never throws.
 */
export function readYaml(sink: DiagnosticSink, text: string): YValue | undefined {
  const size = utf8Length(text);
  if (size > MAX_WORKFLOW_FILE_BYTES) {
    sink.error(
      START,
      `file is too large (${kib(size)}): workflow files are limited to ${kib(MAX_WORKFLOW_FILE_BYTES)}; it was not parsed`,
    );
    return undefined;
  }
  const bad = firstNonTextChar(text);
  if (bad !== undefined) {
    const code = text.charCodeAt(bad);
    const hex = code.toString(16).toUpperCase().padStart(4, '0');
    sink.error(
      posInText(text, bad),
      code === 0xfffd
        ? 'file is not valid UTF-8 text (it holds U+FFFD, the character a decoder puts in place of invalid bytes): a workflow must be a UTF-8 YAML file'
        : `file is not a text YAML file: it holds the control character U+${hex}, which YAML does not allow`,
    );
    return undefined;
  }
  if (text.trim() === '') {
    sink.error(START, 'file is empty: a workflow needs at least `on:` and `jobs:`');
    return undefined;
  }

  const deep = firstTooDeep(text);
  if (deep !== undefined) {
    sink.error(posInText(text, deep), TOO_DEEP);
    return undefined;
  }
  const lines = new LineCounter();
  const at = (offset: number): SourcePos => lines.linePos(offset);
  const tokens = Array.from(new Parser(lines.addNewLine).parse(text));
  if (!checkCst(sink, tokens, at)) return undefined;

  // `uniqueKeys: false`: yaml's check compares each key with every key before it in its mapping (one mapping of
  // 57,000 keys, 512 KiB, took 32 s of CPU); duplicateKeys below finds the same keys with a Set per mapping.
  const docs = Array.from(new Composer({ uniqueKeys: false, strict: true }).compose(tokens, false, text.length));
  const doc = docs[0];
  if (doc === undefined || doc.contents === null) {
    sink.error(START, 'file holds no YAML content (only comments?): a workflow needs at least `on:` and `jobs:`');
    return undefined;
  }
  const second = docs[1];
  if (second !== undefined) {
    sink.error(
      at(second.range[0]),
      `a workflow file holds one YAML document; a ${ordinal(docs.length)} one starts here (after \`---\` or \`...\`): move each workflow to its own file`,
    );
  }
  // Duplicate keys and tabs are independent of each other and all reported; after the first other syntax error the
  // parser is out of step with the text, and the errors that follow are mostly echoes of it.
  let syntaxErrors = 0;
  for (const d of docs.slice(0, 2)) {
    for (const e of [...withDuplicateKeys(d.errors, duplicateKeys(d, text)), ...d.warnings]) {
      const independent = e.code === 'DUPLICATE_KEY' || e.code === 'TAB_AS_INDENT' || e.code === 'TAG_RESOLVE_FAILED';
      if (!independent && syntaxErrors++ > 0) continue;
      sink.error(at(e.pos[0]), yamlErrorMessage(e.code, e.message, text, e.pos[0]));
    }
  }
  if (sink.count > 0) return undefined;

  const aliases = resolveAliases(doc);
  try {
    // yaml counts how often each anchored node is expanded and throws past maxAliasCount: the standard defence
    // against "billion laughs" (nested anchors that each repeat the previous one).
    doc.toJS({ maxAliasCount: MAX_YAML_ALIAS_COUNT });
  } catch (e) {
    if (e instanceof ReferenceError && /alias count/i.test(e.message)) {
      const first = aliases.keys().next().value;
      sink.error(
        first?.range ? at(first.range[0]) : START,
        `too many alias expansions: anchors are repeated more than ${MAX_YAML_ALIAS_COUNT} times in total, which is how alias bombs ("billion laughs") blow up; write the values out or use fewer aliases`,
      );
      return undefined;
    }
    // Other toJS failures (an alias without an anchor) are reported with their position by the conversion below.
  }
  const state: TreeState = { sink, at, aliases, budget: MAX_YAML_NODES, stopped: false };
  return toTree(state, doc.contents, 0, new Set());
}

/** What the loop above reads of a yaml error: its code, message and source offset (`pos[0]`). */
interface YamlProblem {
  readonly code: string;
  readonly message: string;
  readonly pos: readonly [number, ...number[]];
}

/**
 * The keys that repeat an earlier key of their mapping, as yaml's `uniqueKeys` reports them (code, offset of the
 * key), in one pass with a Set per mapping instead of yaml's comparison with every earlier key. Keys compare as
 * yaml compares them: equal scalar values (`a` and `"a"` are one key; `1` and `"1"` are not, and are refused later
 * by toTree, which compares keys as text). A collection used as a key is never a duplicate (toTree refuses it).
 * Merge keys are not special: the core schema reads `<<` as a plain key, so a second `<<:` is a duplicate.
 */
function duplicateKeys(doc: Document.Parsed, text: string): YamlProblem[] {
  const found: YamlProblem[] = [];
  visit(doc, {
    Map(_key, map) {
      const seen = new Set<unknown>();
      for (const { key } of map.items) {
        if (!isScalar(key)) continue;
        if (!seen.has(key.value)) seen.add(key.value);
        else if (key.range)
          found.push({ code: 'DUPLICATE_KEY', message: 'Map keys must be unique', pos: [keyOffset(key.range, text)] });
      }
    },
  });
  return found;
}

/**
 * Where yaml reported a duplicate key: the key's first character, or for an empty key (`: value`, which yaml places
 * at the start of its line) the first character after the spaces, its `:`.
 */
function keyOffset(range: readonly number[], text: string): number {
  let offset = range[0] ?? 0;
  if (offset !== range[1]) return offset;
  while (offset < text.length && (text[offset] === ' ' || text[offset] === '\n' || text[offset] === '\r')) offset++;
  return offset;
}

/**
 * yaml's errors with the duplicate keys placed where yaml's own check reported them: before the first error that
 * comes later in the text. yaml's order is otherwise kept (the loop above reads it to drop echoes).
 */
function withDuplicateKeys(errors: readonly YamlProblem[], duplicates: YamlProblem[]): YamlProblem[] {
  if (duplicates.length === 0) return [...errors];
  const sorted = duplicates.sort((a, b) => a.pos[0] - b.pos[0]);
  const merged: YamlProblem[] = [];
  let next = 0;
  for (const e of errors) {
    while (next < sorted.length && sorted[next]!.pos[0] < e.pos[0]) merged.push(sorted[next++]!);
    merged.push(e);
  }
  return [...merged, ...sorted.slice(next)];
}

function ordinal(n: number): string {
  return n === 2 ? 'second' : n === 3 ? 'third' : `${n}th`;
}

/** UTF-8 size of a JS string without allocating an encoded copy (a 100 MiB string costs one length check). */
function utf8Length(text: string): number {
  if (text.length > MAX_WORKFLOW_FILE_BYTES) return text.length; // every UTF-16 unit is at least one byte
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    bytes += c < 0x80 ? 1 : c < 0x800 ? 2 : c >= 0xd800 && c <= 0xdfff ? 2 : 3; // a surrogate pair is 4 bytes
  }
  return bytes;
}

/**
 * The first character YAML 1.2 does not allow in a stream (§5.1: C0 controls other than tab, LF and CR; DEL; C1
 * controls other than NEL), or U+FFFD, which a decoder leaves where the bytes were not UTF-8. Binary files hit this.
 */
function firstNonTextChar(text: string): number | undefined {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x20 && c < 0x7f) continue;
    if (c === 0x09 || c === 0x0a || c === 0x0d) continue;
    if (c < 0x20 || c === 0x7f || (c >= 0x80 && c <= 0x9f && c !== 0x85) || c === 0xfffd) return i;
  }
  return undefined;
}

function posInText(text: string, offset: number): SourcePos {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset; i++) {
    if (text.charCodeAt(i) === 0x0a) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, col: offset - lineStart + 1 };
}

const TOO_DEEP = `nesting is too deep: more than ${MAX_YAML_DEPTH} levels of lists and mappings inside each other; a workflow needs far fewer`;

/**
 * A fast first look for the two ways to nest deeply in little text, with yaml's lexer (several times faster than
 * its parser, which takes seconds on 512 KiB of `[[[[…`): flow brackets, and block indicators (`- - - …`, `? ? …`)
 * chained on one line. Both are lower bounds of the true depth, so this never refuses a legal file; the exact
 * check on the syntax tree follows.
 */
function firstTooDeep(text: string): number | undefined {
  let offset = 0;
  let flow = 0;
  let chained = 0;
  let scalarNext = false;
  for (const token of new Lexer().lex(text)) {
    // yaml's lexer marks a document with U+0002, a scalar with U+001F and a flow error with U+0018; every other
    // token is verbatim source, so summing their lengths gives the offset.
    if (token === '\u0002' || token === '\u0018') continue;
    if (token === '\u001f') {
      scalarNext = true;
      continue;
    }
    if (scalarNext) scalarNext = false;
    else if (token === '[' || token === '{') {
      if (++flow > MAX_YAML_DEPTH) return offset;
    } else if (token === ']' || token === '}') {
      if (flow > 0) flow--;
    } else if (token === '-' || token === '?') {
      if (++chained > MAX_YAML_DEPTH) return offset;
    }
    if (token.includes('\n')) chained = 0;
    offset += token.length;
  }
  return undefined;
}

/**
 * Nesting depth and alias count, checked on yaml's concrete syntax tree with an explicit stack: yaml's composer
 * recurses per nesting level, and tens of thousands of levels (`- - - - …` or `[[[[…`) exhaust its stack or memory.
 */
function checkCst(sink: DiagnosticSink, tokens: readonly CST.Token[], at: (offset: number) => SourcePos): boolean {
  const stack: { token: CST.Token; depth: number }[] = [];
  for (const t of tokens) if (t.type === 'document' && t.value) stack.push({ token: t.value, depth: 1 });
  let aliasNodes = 0;
  while (stack.length > 0) {
    const { token, depth } = stack.pop() as { token: CST.Token; depth: number };
    if (token.type === 'alias') {
      aliasNodes++;
      if (aliasNodes > MAX_YAML_ALIAS_NODES) {
        sink.error(
          at(token.offset),
          `too many aliases: this file uses more than ${MAX_YAML_ALIAS_NODES} \`*alias\` references; write the values out`,
        );
        return false;
      }
      continue;
    }
    if (token.type !== 'block-map' && token.type !== 'block-seq' && token.type !== 'flow-collection') continue;
    if (depth > MAX_YAML_DEPTH) {
      sink.error(at(token.offset), TOO_DEEP);
      return false;
    }
    for (const item of token.items) {
      if (item.key) stack.push({ token: item.key, depth: depth + 1 });
      if (item.value) stack.push({ token: item.value, depth: depth + 1 });
    }
  }
  return true;
}

function yamlErrorMessage(code: string, message: string, text: string, offset: number): string {
  const first = (message.split('\n')[0] ?? message).replace(/ at line \d+, column \d+:?$/, '');
  const lineStart = text.lastIndexOf('\n', offset - 1) + 1;
  const lineEnd = text.indexOf('\n', offset);
  const line = text.slice(lineStart, lineEnd < 0 ? text.length : lineEnd);
  switch (code) {
    case 'DUPLICATE_KEY': {
      const key = keyAt(text.slice(offset, lineEnd < 0 ? text.length : lineEnd));
      return `duplicate key${key ? ` \`${clip(key)}\`` : ''}: keys of a mapping must be unique (YAML would otherwise keep only one of the values)`;
    }
    case 'TAB_AS_INDENT':
      return 'tab character used for indentation: YAML indentation must use spaces';
    case 'TAG_RESOLVE_FAILED':
      return `${first}: workflow files use plain YAML values, without custom \`!tags\``;
    default:
      // `{`, `}`, `[`, `]` and `,` end a plain value inside `{ … }` or `[ … ]` (YAML 1.2 §7.3.3), so an unquoted
      // `${{ … }}` there breaks the line; GitHub's parser rejects it the same way.
      return line.includes('${{') && /[[{]/.test(line.slice(0, line.indexOf('${{')))
        ? `YAML syntax error: ${first}. A value holding \`\${{ }}\` inside \`{ … }\` or \`[ … ]\` must be quoted, e.g. \`{ group: 'ci-\${{ github.ref }}' }\``
        : `YAML syntax error: ${first}`;
  }
}

/**
 * The key a mapping line starts with (`"a:b": 1` → `"a:b"`, `name: x` → `name`), by one left-to-right scan: a
 * regular expression with a lazy run before `\s*:` backtracks quadratically on a long line without a colon (a 500 KB
 * line blocked the event loop for minutes).
 */
function keyAt(line: string): string | undefined {
  const start = line.length - line.trimStart().length;
  const quote = line[start];
  if (quote === '"' || quote === "'") {
    const close = line.indexOf(quote, start + 1);
    if (close < 0 || line.slice(close + 1).trimStart()[0] !== ':') return undefined;
    return line.slice(start, close + 1);
  }
  let end = start;
  while (end < line.length && line[end] !== ':' && line[end] !== '#') end++;
  if (line[end] !== ':') return undefined;
  return line.slice(start, end).trimEnd();
}

/**
 * Alias → anchored node, in one pass. YAML resolves an alias to the latest anchor of that name before it in the
 * document (YAML 1.2 §3.2.2.2); yaml's own `Alias.resolve` rescans the document per call, which is quadratic.
 */
function resolveAliases(doc: Document.Parsed): Map<YamlNode, YamlNode | undefined> {
  const anchors = new Map<string, YamlNode>();
  const resolved = new Map<YamlNode, YamlNode | undefined>();
  visit(doc, {
    Node(_key, node) {
      if (isAlias(node)) resolved.set(node, anchors.get(node.source));
      else if (node.anchor) anchors.set(node.anchor, node);
    },
  });
  return resolved;
}

interface TreeState {
  readonly sink: DiagnosticSink;
  readonly at: (offset: number) => SourcePos;
  readonly aliases: Map<YamlNode, YamlNode | undefined>;
  budget: number;
  stopped: boolean;
}

/** Converts a yaml node, expanding aliases. `ancestors` holds the collections being converted, to refuse recursion. */
function toTree(s: TreeState, node: unknown, depth: number, ancestors: Set<unknown>): YValue | undefined {
  if (s.stopped) return undefined;
  const pos = nodePos(s, node);
  if (--s.budget < 0 || depth > MAX_YAML_DEPTH) {
    s.stopped = true;
    s.sink.error(
      pos,
      depth > MAX_YAML_DEPTH
        ? `nesting is too deep once aliases are expanded: more than ${MAX_YAML_DEPTH} levels`
        : `the file expands to more than ${MAX_YAML_NODES} values once aliases are expanded; write it out or simplify it`,
    );
    return undefined;
  }
  if (isAlias(node)) {
    const target = s.aliases.get(node);
    if (target === undefined) {
      s.sink.error(pos, `alias \`*${node.source}\` refers to no anchor \`&${node.source}\` defined before it`);
      return undefined;
    }
    if (ancestors.has(target)) {
      s.sink.error(
        pos,
        `alias \`*${node.source}\` is inside the value anchored as \`&${node.source}\`: a value cannot contain itself`,
      );
      return undefined;
    }
    return toTree(s, target, depth, ancestors);
  }
  if (isScalar(node)) {
    const v = node.value;
    if (v === null || typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v)))
      return { kind: 'scalar', pos, value: v };
    s.sink.error(pos, `unsupported YAML value ${describeRaw(v)}: use a string, a number, true/false or a list/mapping`);
    return undefined;
  }
  if (isSeq(node)) {
    ancestors.add(node);
    const items: YValue[] = [];
    let ok = true;
    for (const item of node.items) {
      const v = toTree(s, item, depth + 1, ancestors);
      if (v) items.push(v);
      else ok = false;
    }
    ancestors.delete(node);
    return ok ? { kind: 'seq', pos, items } : undefined;
  }
  if (isMap(node)) {
    ancestors.add(node);
    const entries: YEntry[] = [];
    const keys = new Set<string>();
    let ok = true;
    for (const pair of node.items) {
      const keyPos = nodePos(s, pair.key, pos);
      const key = isScalar(pair.key) ? pair.key.value : undefined;
      if (key !== null && typeof key !== 'string' && typeof key !== 'number' && typeof key !== 'boolean') {
        s.sink.error(keyPos, 'mapping keys must be plain names, not lists, mappings or aliases');
        ok = false;
        continue;
      }
      const name = key === null ? '' : String(key);
      if (keys.has(name)) {
        s.sink.error(keyPos, `duplicate key \`${name}\`: keys of a mapping must be unique`);
        ok = false;
      }
      keys.add(name);
      const value =
        pair.value === null || pair.value === undefined
          ? ({ kind: 'scalar', pos: keyPos, value: null } satisfies YScalar)
          : toTree(s, pair.value, depth + 1, ancestors);
      if (value) entries.push({ key: name, keyPos, value });
      else ok = false;
    }
    ancestors.delete(node);
    return ok ? { kind: 'map', pos, entries } : undefined;
  }
  s.sink.error(pos, 'unsupported YAML node');
  return undefined;
}

function nodePos(s: TreeState, node: unknown, fallback: SourcePos = START): SourcePos {
  const range = (node as { range?: readonly number[] | null } | null)?.range;
  const offset = range?.[0];
  return offset === undefined ? fallback : s.at(offset);
}

function describeRaw(v: unknown): string {
  if (typeof v === 'number') return `\`${String(v)}\` (not a finite number)`;
  if (v instanceof Uint8Array) return '(binary data, `!!binary`)';
  return `(${typeof v})`;
}
