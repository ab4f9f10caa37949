/**
 * Reads `.spotcheck/workflows/*.yml` into the Workflow model: the GitHub Actions dialect, subset plus `testme`
 * (docs/architecture.md, "Workflow files"). Strict: anything outside the subset is a diagnostic with file, line and
 * column, never silently dropped; every problem of a file is reported at once. Workflow files come from whoever can
 * open a pull request, so every dimension is bounded (src/core/limits.ts) and the work stays proportional to the file.
 *
 * Pipeline: raw-text checks (size, binary) → yaml CST (nesting depth and alias count checked before composing,
 * because yaml's composer recurses and can exhaust memory on deep input) → yaml documents (syntax errors,
 * duplicate keys) → alias-bomb check (yaml's maxAliasCount) → a plain positioned tree (aliases expanded under a
 * node budget, recursive anchors refused) → the schema below → the `needs` graph.
 */
import { Composer, Lexer, LineCounter, Parser, isAlias, isMap, isScalar, isSeq, visit } from 'yaml';
import type { CST, Document, Node as YamlNode } from 'yaml';
import {
  MAX_DIAGNOSTICS_PER_FILE,
  MAX_FILTER_PATTERNS,
  MAX_FILTER_PATTERN_LENGTH,
  MAX_JOBS,
  MAX_MATRIX_FILTER_ENTRIES,
  MAX_MATRIX_ORDERS,
  MAX_MATRIX_PRODUCT,
  MAX_STEPS_PER_JOB,
  MAX_TIMEOUT_MINUTES,
  MAX_WORKFLOW_FILES,
  MAX_WORKFLOW_FILE_BYTES,
  MAX_YAML_ALIAS_COUNT,
  MAX_YAML_ALIAS_NODES,
  MAX_YAML_DEPTH,
  MAX_YAML_NODES,
} from '../limits.ts';
import { expressionError } from './expressions.ts';
import { filterPatternError } from './filter-pattern.ts';
import { shellProblem } from './shells.ts';
import { EVENT_NAMES } from '../types.ts';
import type {
  ConcurrencySpec,
  Diagnostic,
  EventName,
  JobSpec,
  MatrixCell,
  MatrixSpec,
  MatrixValue,
  SourcePos,
  StepSpec,
  TriggerFilter,
  Workflow,
  WorkflowTriggers,
} from '../types.ts';

// ---------------------------------------------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------------------------------------------

export interface ParseWorkflowResult {
  /** Present only when the file has no diagnostics. */
  readonly workflow?: Workflow;
  readonly diagnostics: Diagnostic[];
}

/** `file:line:col: message`, the shape compilers use, so editors and CI logs can link it. */
export function formatDiagnostic(d: Diagnostic): string {
  return `${d.file}:${d.line}:${d.col}: ${d.message}`;
}

/**
 * Parses every workflow file; `workflows` holds the valid ones, `diagnostics` the problems of all the others. A
 * file whose `size` (bytes, as its source listed it) is over the cap is reported with that size and not parsed: a
 * reader that did not download it (the forge adapters, `spotcheck run`/`validate`) passes `text: ''`.
 */
export function parseWorkflowFiles(
  files: readonly { readonly path: string; readonly text: string; readonly size?: number }[],
): {
  workflows: Workflow[];
  diagnostics: Diagnostic[];
} {
  const workflows: Workflow[] = [];
  const diagnostics: Diagnostic[] = [];
  files.forEach((f, i) => {
    if (i === MAX_WORKFLOW_FILES) {
      diagnostics.push({
        file: f.path,
        line: 1,
        col: 1,
        message: `too many workflow files (${files.length}): spotcheck reads at most ${MAX_WORKFLOW_FILES}; this file and the ones after it were not read`,
      });
    }
    if (i >= MAX_WORKFLOW_FILES) return;
    if (f.size !== undefined && f.size > MAX_WORKFLOW_FILE_BYTES) {
      diagnostics.push({
        file: f.path,
        line: 1,
        col: 1,
        message: `file is too large (${formatBytes(f.size)}): workflow files are limited to ${kib(MAX_WORKFLOW_FILE_BYTES)}; it was not read`,
      });
      return;
    }
    const result = parseWorkflow(f.path, f.text);
    if (result.workflow) workflows.push(result.workflow);
    diagnostics.push(...result.diagnostics);
  });
  return { workflows, diagnostics };
}

export function parseWorkflow(file: string, text: string): ParseWorkflowResult {
  const sink = new Sink(file);
  const tree = readYaml(sink, text);
  if (tree === undefined || sink.count > 0) return { diagnostics: sink.done() };
  const workflow = readWorkflow(sink, tree);
  const diagnostics = sink.done();
  return diagnostics.length === 0 && workflow ? { workflow, diagnostics } : { diagnostics };
}

export interface NeedsGraphProblem {
  readonly kind: 'unknown-need' | 'cycle';
  /** The job whose `needs` holds the problem (for a cycle: its first job in file order). */
  readonly job: string;
  /** The offending entry of that job's `needs` (for a cycle: the next job on the cycle). */
  readonly need: string;
  /** For `cycle`: the job ids on the cycle, first one repeated at the end (`a → b → a` is `['a', 'b', 'a']`). */
  readonly cycle?: readonly string[];
  readonly message: string;
}

/**
 * Checks that every `needs` entry names a job of the workflow and that `needs` has no cycle (GitHub rejects both
 * before running anything). Each cycle is reported once, naming it in order, e.g. `a → b → c → a`. When there is no
 * problem, `order` lists the job ids so that every job comes after the jobs it needs (file order among equals).
 */
export function validateNeedsGraph(jobs: readonly { readonly id: string; readonly needs: readonly string[] }[]): {
  problems: NeedsGraphProblem[];
  order?: string[];
} {
  const problems: NeedsGraphProblem[] = [];
  const ids = new Set(jobs.map((j) => j.id));
  const known = ids.size === 0 ? '(none)' : [...ids].map((id) => `\`${id}\``).join(', ');
  const edges = new Map<string, string[]>();
  for (const job of jobs) {
    const own: string[] = [];
    for (const need of job.needs) {
      if (ids.has(need)) own.push(need);
      else
        problems.push({
          kind: 'unknown-need',
          job: job.id,
          need,
          message: `job \`${job.id}\` needs \`${need}\`, which is not a job in this workflow (jobs: ${known})`,
        });
    }
    edges.set(job.id, own);
  }

  // Kahn's algorithm: a job is placed once all its needs are placed. Whatever remains sits on a cycle or needs
  // (transitively) a job that does, so every remaining job has at least one remaining need.
  const pending = new Map<string, number>();
  const dependents = new Map<string, string[]>();
  for (const job of jobs) {
    const own = edges.get(job.id) ?? [];
    pending.set(job.id, new Set(own).size);
    for (const need of new Set(own)) dependents.set(need, [...(dependents.get(need) ?? []), job.id]);
  }
  const order: string[] = [];
  const ready = jobs.filter((j) => pending.get(j.id) === 0).map((j) => j.id);
  while (ready.length > 0) {
    const id = ready.shift() as string;
    order.push(id);
    for (const dep of dependents.get(id) ?? []) {
      const left = (pending.get(dep) ?? 0) - 1;
      pending.set(dep, left);
      if (left === 0) ready.push(dep);
    }
  }

  // Walk "first remaining need" from each remaining job: the walk must revisit a job. If it revisits one of this
  // walk, that is a new cycle; if it reaches an earlier walk's job, this job is only downstream of a known cycle.
  const placed = new Set(order);
  const visited = new Set<string>();
  for (const job of jobs) {
    if (placed.has(job.id) || visited.has(job.id)) continue;
    const path: string[] = [];
    const onPath = new Map<string, number>();
    let at: string | undefined = job.id;
    while (at !== undefined && !visited.has(at)) {
      visited.add(at);
      onPath.set(at, path.length);
      path.push(at);
      at = (edges.get(at) ?? []).find((n) => !placed.has(n));
    }
    if (at === undefined || !onPath.has(at)) continue;
    const cycle = path.slice(onPath.get(at));
    const first = cycle.reduce((a, b) => (indexOf(jobs, a) <= indexOf(jobs, b) ? a : b));
    const start = cycle.indexOf(first);
    const rotated = [...cycle.slice(start), ...cycle.slice(0, start), first];
    problems.push({
      kind: 'cycle',
      job: first,
      need: rotated[1] ?? first,
      cycle: rotated,
      message:
        rotated.length === 2
          ? `job \`${first}\` needs itself`
          : `jobs form a cycle through \`needs\`: ${rotated.join(' → ')}; no job of it could ever start`,
    });
  }
  return problems.length === 0 ? { problems, order } : { problems };
}

function indexOf(jobs: readonly { readonly id: string }[], id: string): number {
  return jobs.findIndex((j) => j.id === id);
}

// ---------------------------------------------------------------------------------------------------------------
// Diagnostics
// ---------------------------------------------------------------------------------------------------------------

class Sink {
  private readonly seen = new Set<string>();
  private readonly list: Diagnostic[] = [];
  constructor(readonly file: string) {}

  get count(): number {
    return this.list.length;
  }

  error(pos: SourcePos, message: string): void {
    // An alias expands one piece of text in several places; report each problem of it once.
    const key = `${pos.line}:${pos.col}:${message}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.list.push({ file: this.file, line: pos.line, col: pos.col, message });
  }

  done(): Diagnostic[] {
    const sorted = [...this.list].sort((a, b) => a.line - b.line || a.col - b.col);
    if (sorted.length <= MAX_DIAGNOSTICS_PER_FILE) return sorted;
    const kept = sorted.slice(0, MAX_DIAGNOSTICS_PER_FILE);
    const last = kept[kept.length - 1] as Diagnostic;
    kept.push({
      file: this.file,
      line: last.line,
      col: last.col,
      message: `… and ${sorted.length - MAX_DIAGNOSTICS_PER_FILE} more problems in this file (only the first ${MAX_DIAGNOSTICS_PER_FILE} are shown)`,
      omitted: sorted.length - MAX_DIAGNOSTICS_PER_FILE,
    });
    return kept;
  }
}

const START: SourcePos = { line: 1, col: 1 };

// ---------------------------------------------------------------------------------------------------------------
// Stage 1: text → a plain tree with positions
// ---------------------------------------------------------------------------------------------------------------

type Scalar = string | number | boolean | null;
type YValue = YMap | YSeq | YScalar;
interface YMap {
  readonly kind: 'map';
  readonly pos: SourcePos;
  readonly entries: readonly YEntry[];
}
interface YSeq {
  readonly kind: 'seq';
  readonly pos: SourcePos;
  readonly items: readonly YValue[];
}
interface YScalar {
  readonly kind: 'scalar';
  readonly pos: SourcePos;
  readonly value: Scalar;
}
interface YEntry {
  readonly key: string;
  readonly keyPos: SourcePos;
  readonly value: YValue;
}

function readYaml(sink: Sink, text: string): YValue | undefined {
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

  const docs = Array.from(new Composer({ uniqueKeys: true, strict: true }).compose(tokens, false, text.length));
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
    for (const e of [...d.errors, ...d.warnings]) {
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

function kib(bytes: number): string {
  return bytes % 1024 === 0 ? `${bytes / 1024} KiB` : `${(bytes / 1024).toFixed(1)} KiB`;
}

/** 5368709120 → `5 GiB`, 5767168 → `5.5 MiB`: a size a reader takes in at a glance. */
function formatBytes(bytes: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'] as const;
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${Number.isInteger(value) ? value.toString() : value.toFixed(1)} ${units[unit] ?? 'bytes'}`;
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
function checkCst(sink: Sink, tokens: readonly CST.Token[], at: (offset: number) => SourcePos): boolean {
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
      const key = /^\s*("[^"]*"|'[^']*'|[^:#]*?)\s*:/.exec(
        text.slice(offset, lineEnd < 0 ? text.length : lineEnd),
      )?.[1];
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
  readonly sink: Sink;
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

// ---------------------------------------------------------------------------------------------------------------
// Stage 2: the schema
// ---------------------------------------------------------------------------------------------------------------

const WORKFLOW_KEYS = ['name', 'on', 'env', 'concurrency', 'jobs'] as const;
const JOB_KEYS = [
  'name',
  'runs-on',
  'needs',
  'if',
  'timeout-minutes',
  'env',
  'strategy',
  'continue-on-error',
  'outputs',
  'steps',
] as const;
const STEP_KEYS = [
  'name',
  'id',
  'run',
  'env',
  'working-directory',
  'shell',
  'if',
  'continue-on-error',
  'timeout-minutes',
] as const;
const STRATEGY_KEYS = ['matrix', 'fail-fast', 'max-parallel'] as const;
const CONCURRENCY_KEYS = ['group', 'cancel-in-progress'] as const;
const PUSH_FILTERS = ['branches', 'branches-ignore', 'tags', 'tags-ignore', 'paths', 'paths-ignore'] as const;
const PR_FILTERS = ['branches', 'branches-ignore', 'paths', 'paths-ignore'] as const;
type FilterKey = (typeof PUSH_FILTERS)[number];

const FILTER_FIELDS = {
  branches: 'branches',
  'branches-ignore': 'branchesIgnore',
  tags: 'tags',
  'tags-ignore': 'tagsIgnore',
  paths: 'paths',
  'paths-ignore': 'pathsIgnore',
} as const satisfies Record<FilterKey, keyof TriggerFilter>;

/** Why GitHub keys outside the subset are refused; the generic message lists the allowed keys instead. */
const UNSUPPORTED_WORKFLOW_KEYS: Readonly<Record<string, string>> = {
  permissions: 'spotcheck gives steps no GITHUB_TOKEN, so there are no token permissions to set',
  defaults: 'set `shell` and `working-directory` on each step instead',
  'run-name': 'spotcheck names runs after the workflow and the event',
};
const UNSUPPORTED_JOB_KEYS: Readonly<Record<string, string>> = {
  uses: 'reusable workflows (`jobs.<id>.uses`) are not supported: spotcheck runs jobs made of `run:` steps',
  with: 'reusable workflows (`jobs.<id>.uses`/`with`) are not supported: spotcheck runs jobs made of `run:` steps',
  secrets: 'reusable workflows and their `secrets` are not supported',
  services:
    '`services:` containers are not supported: start what the job needs from a `run:` step (for example `docker run -d …`)',
  container:
    '`container:` is not supported: steps run directly on the runner the `runs-on` route picks; use `docker run` in a step, or a route whose image has what the job needs',
  permissions: 'spotcheck gives steps no GITHUB_TOKEN, so there are no token permissions to set',
  environment: 'deployment environments are not supported',
  concurrency: 'only the workflow-level `concurrency` is supported',
  defaults: 'set `shell` and `working-directory` on each step instead',
};
const UNSUPPORTED_STEP_KEYS: Readonly<Record<string, string>> = {
  uses: 'spotcheck runs `run:` steps only; actions (`uses:`) are not supported: write the commands the action would run as a `run:` step',
  with: '`with:` passes inputs to an action (`uses:`), and spotcheck runs `run:` steps only',
};

/** Keys that only pass inputs to a `uses:` (an action's `with:`, a reusable workflow's `with:` and `secrets:`). */
const USES_INPUTS: ReadonlySet<string> = new Set(['with', 'secrets']);

const ID_PATTERN = /^[A-Za-z_][A-Za-z0-9_-]*$/;
const ID_RULE = 'must start with a letter or `_` and contain only letters, digits, `-` and `_`';

function readWorkflow(sink: Sink, root: YValue): Workflow | undefined {
  if (root.kind !== 'map') {
    sink.error(
      root.pos,
      `a workflow file must be a mapping with \`on:\` and \`jobs:\`, but this file holds ${describe(root)}`,
    );
    return undefined;
  }
  checkKeys(sink, root, WORKFLOW_KEYS, 'the top level of a workflow', UNSUPPORTED_WORKFLOW_KEYS);
  const name = field(root, 'name');
  const on = field(root, 'on');
  const env = field(root, 'env');
  const concurrency = field(root, 'concurrency');
  const jobs = field(root, 'jobs');
  if (!on) sink.error(root.pos, 'missing `on:`: say which events run this workflow (push, pull_request, testme)');
  if (!jobs) sink.error(root.pos, 'missing `jobs:`: a workflow needs at least one job');

  const workflowName = name ? readString(sink, name.value, 'name', { nonEmpty: true }) : sink.file;
  const triggers = on ? readOn(sink, on.value) : undefined;
  const workflowEnv = env ? readEnv(sink, env.value, 'env') : {};
  const conc = concurrency ? readConcurrency(sink, concurrency.value) : undefined;
  const jobSpecs = jobs ? readJobs(sink, jobs) : undefined;
  if (workflowName === undefined || !triggers || !jobSpecs) return undefined;
  return {
    file: sink.file,
    name: workflowName,
    on: triggers,
    env: workflowEnv,
    ...(conc ? { concurrency: conc } : {}),
    jobs: jobSpecs,
  };
}

// --- on --------------------------------------------------------------------------------------------------------

function readOn(sink: Sink, v: YValue): WorkflowTriggers | undefined {
  const before = sink.count;
  const triggers: Partial<Record<EventName, TriggerFilter>> = {};
  const addEvent = (name: string, pos: SourcePos): EventName | undefined => {
    if (!isEventName(name)) {
      sink.error(pos, unsupportedEvent(name));
      return undefined;
    }
    if (triggers[name]) {
      sink.error(pos, `event \`${name}\` is listed twice in \`on\``);
      return undefined;
    }
    triggers[name] = {};
    return name;
  };
  if (v.kind === 'scalar') {
    if (typeof v.value !== 'string' || v.value === '') {
      sink.error(v.pos, `\`on\` must name events (push, pull_request, testme), not ${describe(v)}`);
      return undefined;
    }
    addEvent(v.value, v.pos);
  } else if (v.kind === 'seq') {
    for (const item of v.items) {
      if (item.kind !== 'scalar' || typeof item.value !== 'string') {
        sink.error(item.pos, `each entry of \`on\` must be an event name, not ${describe(item)}`);
        continue;
      }
      addEvent(item.value, item.pos);
    }
  } else {
    for (const entry of v.entries) {
      const event = addEvent(entry.key, entry.keyPos);
      if (!event) continue;
      const filter = readEventFilter(sink, event, entry.value);
      if (filter) triggers[event] = filter;
    }
  }
  if (Object.keys(triggers).length === 0 && sink.count === before) {
    sink.error(v.pos, '`on` lists no event: name at least one of push, pull_request, testme');
  }
  return triggers;
}

function isEventName(name: string): name is EventName {
  return (EVENT_NAMES as readonly string[]).includes(name);
}

function unsupportedEvent(name: string): string {
  const supported = 'spotcheck supports push, pull_request and testme (a `!testme` comment on a pull request)';
  if (name === 'workflow_dispatch' || name === 'repository_dispatch')
    return `event \`${name}\` is not supported: ${supported}; to run a workflow by hand, comment \`!testme\` on a pull request`;
  if (name === 'pull_request_target')
    return `event \`pull_request_target\` is not supported: ${supported}; pull_request runs for trusted authors, and \`!testme\` lets an org member approve the others`;
  if (name === 'workflow_call')
    return `event \`workflow_call\` is not supported: reusable workflows are not; ${supported}`;
  return `event \`${name}\` is not supported: ${supported}`;
}

function readEventFilter(sink: Sink, event: EventName, v: YValue): TriggerFilter | undefined {
  if (v.kind === 'scalar' && v.value === null) return {};
  if (v.kind !== 'map') {
    sink.error(v.pos, `\`on.${event}\` must be a mapping of filters (or empty), not ${describe(v)}`);
    return undefined;
  }
  const allowed = event === 'push' ? PUSH_FILTERS : PR_FILTERS;
  const hints: Record<string, string> = {
    types:
      event === 'push'
        ? '`push` has no activity types'
        : `\`types:\` is not supported: spotcheck decides which pull request activity starts a run (new commits on the pull request, or a \`!testme\` comment), so a \`types:\` list would be silently ignored`,
  };
  if (event !== 'push') {
    hints['tags'] = `tag filters apply to \`push\` only; \`${event}\` is filtered by its base branch and changed paths`;
    hints['tags-ignore'] = hints['tags'];
  }
  checkKeys(sink, v, allowed, `\`on.${event}\``, hints);
  const filter: Partial<Record<keyof TriggerFilter, readonly string[]>> = {};
  for (const entry of v.entries) {
    if (!(allowed as readonly string[]).includes(entry.key)) continue;
    const key = entry.key as FilterKey;
    const patterns = readPatterns(sink, entry.value, `on.${event}.${key}`);
    if (patterns) filter[FILTER_FIELDS[key]] = patterns;
  }
  // GitHub: "You cannot use both the branches and branches-ignore filters for the same event" (likewise tags and
  // paths); a `!pattern` in the positive list expresses the exclusions.
  for (const [a, b] of [
    ['branches', 'branches-ignore'],
    ['tags', 'tags-ignore'],
    ['paths', 'paths-ignore'],
  ] as const) {
    const second = field(v, b);
    if (field(v, a) && second) {
      sink.error(
        second.keyPos,
        `\`${a}\` and \`${b}\` cannot both filter \`${event}\` (GitHub's rule): keep \`${a}\` and add \`!pattern\` entries for the exclusions`,
      );
    }
  }
  return filter;
}

function readPatterns(sink: Sink, v: YValue, path: string): string[] | undefined {
  const items = v.kind === 'seq' ? v.items : [v];
  if (v.kind === 'map') {
    sink.error(v.pos, `\`${path}\` must be a pattern or a list of patterns, not a mapping`);
    return undefined;
  }
  if (items.length === 0) {
    sink.error(v.pos, `\`${path}\` is an empty list: remove it, or list at least one pattern`);
    return undefined;
  }
  if (items.length > MAX_FILTER_PATTERNS) {
    sink.error(v.pos, `\`${path}\` lists ${items.length} patterns; at most ${MAX_FILTER_PATTERNS} are allowed`);
    return undefined;
  }
  const patterns: string[] = [];
  const ignoreList = path.endsWith('-ignore');
  for (const item of items) {
    const p = readString(sink, item, `${path} entry`, { nonEmpty: true, noExpression: true });
    if (p === undefined) continue;
    const problem = patternProblem(p);
    if (problem) sink.error(item.pos, `\`${path}\` pattern \`${clip(p)}\`: ${problem}`);
    else if (ignoreList && p.startsWith('!')) {
      // GitHub documents `!` for the positive lists only; in an `-ignore` list it would re-include nothing.
      const positive = path.slice(0, -'-ignore'.length);
      sink.error(
        item.pos,
        `\`${path}\` cannot hold \`!\` patterns: use \`${positive.split('.').pop() ?? positive}\` with \`!\` entries instead`,
      );
    } else patterns.push(p);
  }
  if (patterns.length === items.length && !ignoreList && patterns.every((p) => p.startsWith('!'))) {
    // The last matching pattern wins and a value no pattern matches is excluded, so negations alone match nothing.
    sink.error(
      v.pos,
      `\`${path}\` has only \`!\` patterns, which can match nothing: add a positive pattern first, or use the \`-ignore\` list`,
    );
    return undefined;
  }
  return patterns.length === items.length ? patterns : undefined;
}

/**
 * Bounds and syntax of one filter pattern. GitHub's filter pattern cheat sheet defines `*`, `**`, `?`, `+`,
 * `[]` and a leading `!`, escaped with `\`; `{a,b}` alternation is not part of it. spotcheck's matcher
 * (filter-pattern.ts) reads a brace literally, so nothing expands, but a user writing `{a,b}` means alternation and
 * would get a filter that silently never matches: an unescaped brace is refused. The rest of the syntax is checked
 * by the matcher itself, so the validator and the matcher cannot disagree.
 */
function patternProblem(p: string): string | undefined {
  if (p.length > MAX_FILTER_PATTERN_LENGTH)
    return `is ${p.length} characters long; at most ${MAX_FILTER_PATTERN_LENGTH} are allowed`;
  if (p === '!') return '`!` negates the pattern after it, and nothing follows it';
  for (let i = 0; i < p.length; i++) {
    const c = p[i];
    if (c === '\\') i++;
    else if (c === '{' || c === '}')
      return "`{…}` alternation is not part of GitHub's filter pattern syntax (`*`, `**`, `?`, `+`, `[]`, `!`): list each alternative as its own pattern, or write `\\{` for a literal brace";
  }
  return filterPatternError(p);
}

// --- env, concurrency ---------------------------------------------------------------------------------------------

function readEnv(sink: Sink, v: YValue, path: string): Record<string, string> {
  if (v.kind === 'scalar' && v.value === null) return {};
  if (v.kind !== 'map') {
    sink.error(v.pos, `\`${path}\` must be a mapping of variable names to values, not ${describe(v)}`);
    return {};
  }
  const pairs: [string, string][] = [];
  for (const entry of v.entries) {
    if (entry.key === '' || entry.key.includes('=') || entry.key.includes('\0')) {
      sink.error(
        entry.keyPos,
        `\`${path}\` variable name \`${clip(entry.key)}\` is not valid: it must be non-empty, without \`=\``,
      );
      continue;
    }
    // GitHub turns numbers and booleans into their string form (`3.10` becomes "3.1"), and an empty value into "".
    const value =
      entry.value.kind === 'scalar' && entry.value.value === null
        ? ''
        : readString(sink, entry.value, `${path}.${entry.key}`, {});
    if (value !== undefined) pairs.push([entry.key, value]);
  }
  // Object.fromEntries defines own properties, so a variable named `__proto__` stays a variable.
  return Object.fromEntries(pairs);
}

function readConcurrency(sink: Sink, v: YValue): ConcurrencySpec | undefined {
  if (v.kind === 'scalar') {
    const group = readString(sink, v, 'concurrency', { nonEmpty: true });
    return group === undefined ? undefined : { group, cancelInProgress: false };
  }
  if (v.kind !== 'map') {
    sink.error(v.pos, `\`concurrency\` must be a group name or a mapping with \`group\`, not ${describe(v)}`);
    return undefined;
  }
  checkKeys(sink, v, CONCURRENCY_KEYS, '`concurrency`', {
    queue: '`queue` is not supported: a newer run cancels or waits for the older one as `cancel-in-progress` says',
  });
  const group = field(v, 'group');
  if (!group) {
    sink.error(v.pos, '`concurrency` needs a `group`');
    return undefined;
  }
  const g = readString(sink, group.value, 'concurrency.group', { nonEmpty: true });
  const cancel = field(v, 'cancel-in-progress');
  const c = cancel ? readBoolean(sink, cancel.value, 'concurrency.cancel-in-progress') : false;
  return g === undefined || c === undefined ? undefined : { group: g, cancelInProgress: c };
}

// --- jobs --------------------------------------------------------------------------------------------------------

function readJobs(sink: Sink, jobsEntry: YEntry): JobSpec[] | undefined {
  const v = jobsEntry.value;
  if (v.kind !== 'map') {
    sink.error(
      v.kind === 'scalar' && v.value === null ? jobsEntry.keyPos : v.pos,
      `\`jobs\` must be a mapping of job ids to jobs, not ${describe(v)}`,
    );
    return undefined;
  }
  if (v.entries.length === 0) {
    sink.error(v.pos, '`jobs` is empty: a workflow needs at least one job');
    return undefined;
  }
  if (v.entries.length > MAX_JOBS) {
    sink.error(v.pos, `\`jobs\` defines ${v.entries.length} jobs; at most ${MAX_JOBS} are allowed per workflow`);
    return undefined;
  }
  const jobs: JobSpec[] = [];
  const needsPos = new Map<string, Map<string, SourcePos>>();
  let ok = true;
  for (const entry of v.entries) {
    if (!ID_PATTERN.test(entry.key)) {
      sink.error(entry.keyPos, `job id \`${clip(entry.key)}\` ${ID_RULE}`);
      ok = false;
      continue;
    }
    const positions = new Map<string, SourcePos>();
    needsPos.set(entry.key, positions);
    const job = readJob(sink, entry, positions);
    if (job) jobs.push(job);
    else ok = false;
  }
  if (!ok) return undefined;
  const { problems } = validateNeedsGraph(jobs);
  for (const p of problems) {
    const job = jobs.find((j) => j.id === p.job);
    sink.error(needsPos.get(p.job)?.get(p.need) ?? job?.pos ?? v.pos, p.message);
  }
  return problems.length === 0 ? jobs : undefined;
}

function readJob(sink: Sink, entry: YEntry, needsPos: Map<string, SourcePos>): JobSpec | undefined {
  const id = entry.key;
  const path = `jobs.${id}`;
  const v = entry.value;
  if (v.kind !== 'map') {
    sink.error(
      v.kind === 'scalar' && v.value === null ? entry.keyPos : v.pos,
      `job \`${id}\` must be a mapping (runs-on, steps, …), not ${describe(v)}`,
    );
    return undefined;
  }
  const before = sink.count;
  checkKeys(sink, v, JOB_KEYS, `job \`${id}\``, UNSUPPORTED_JOB_KEYS);
  const name = field(v, 'name');
  const runsOn = field(v, 'runs-on');
  const needs = field(v, 'needs');
  const cond = field(v, 'if');
  const timeout = field(v, 'timeout-minutes');
  const env = field(v, 'env');
  const strategy = field(v, 'strategy');
  const coe = field(v, 'continue-on-error');
  const outputs = field(v, 'outputs');
  const steps = field(v, 'steps');

  const jobName = name ? readString(sink, name.value, `${path}.name`, { nonEmpty: true }) : undefined;
  let label: string | undefined;
  if (!runsOn && !field(v, 'uses'))
    sink.error(entry.keyPos, `job \`${id}\` has no \`runs-on\`: name the route label it runs on`);
  if (runsOn) label = readRunsOn(sink, runsOn.value, `${path}.runs-on`);
  const needList = needs ? readNeeds(sink, needs.value, `${path}.needs`, needsPos) : [];
  const ifText = cond ? readCondition(sink, cond.value, `${path}.if`) : undefined;
  const timeoutMinutes = timeout ? readTimeout(sink, timeout.value, `${path}.timeout-minutes`) : 360;
  const jobEnv = env ? readEnv(sink, env.value, `${path}.env`) : {};
  const strat = strategy ? readStrategy(sink, strategy.value, `${path}.strategy`) : { failFast: true };
  const continueOnError = coe ? readJobContinueOnError(sink, coe.value, `${path}.continue-on-error`) : false;
  const jobOutputs = outputs ? readOutputs(sink, outputs.value, `${path}.outputs`) : {};
  if (!steps && !field(v, 'uses'))
    sink.error(entry.keyPos, `job \`${id}\` has no \`steps\`: give it at least one \`run:\` step`);
  const stepSpecs = steps ? readSteps(sink, steps.value, path) : [];

  if (sink.count > before || label === undefined || timeoutMinutes === undefined || !strat) return undefined;
  if (continueOnError === undefined || needList === undefined) return undefined;
  return {
    id,
    ...(jobName !== undefined ? { name: jobName } : {}),
    runsOn: label,
    needs: needList,
    ...(ifText !== undefined ? { if: ifText } : {}),
    timeoutMinutes,
    env: jobEnv,
    ...(strat.matrix ? { matrix: strat.matrix } : {}),
    failFast: strat.failFast,
    ...(strat.maxParallel !== undefined ? { maxParallel: strat.maxParallel } : {}),
    continueOnError,
    outputs: jobOutputs,
    steps: stepSpecs,
    pos: entry.keyPos,
  };
}

function readRunsOn(sink: Sink, v: YValue, path: string): string | undefined {
  if (v.kind === 'seq') {
    // A list needs one route with all its labels (GitHub's self-hosted rule); planned as the labels joined with `, `.
    const labels = v.items.map((item) => readLabel(sink, item, path));
    if (v.items.length === 0) sink.error(v.pos, `\`${path}\` is an empty list: name the route label the job runs on`);
    return v.items.length === 0 || labels.includes(undefined) ? undefined : labels.join(', ');
  }
  if (v.kind === 'map') {
    sink.error(v.pos, `\`${path}\` must be route labels; runner groups (\`group:\`/\`labels:\`) are not supported`);
    return undefined;
  }
  return readLabel(sink, v, path);
}

/** A runner label never holds a comma: runners register their labels as one comma-separated list. */
function readLabel(sink: Sink, v: YValue, path: string): string | undefined {
  const label = readString(sink, v, path, { nonEmpty: true });
  if (label === undefined || !label.includes(',') || label.includes('${{')) return label;
  sink.error(v.pos, `\`${path}\`: a runner label cannot contain a comma; list several labels as a YAML list`);
  return undefined;
}

function readNeeds(sink: Sink, v: YValue, path: string, positions: Map<string, SourcePos>): string[] | undefined {
  if (v.kind === 'map') {
    sink.error(v.pos, `\`${path}\` must be a job id or a list of job ids, not a mapping`);
    return undefined;
  }
  const items = v.kind === 'seq' ? v.items : [v];
  const needs: string[] = [];
  let ok = true;
  for (const item of items) {
    if (item.kind !== 'scalar' || typeof item.value !== 'string' || item.value === '') {
      sink.error(item.pos, `\`${path}\` must name jobs by id, but this is ${describe(item)}`);
      ok = false;
      continue;
    }
    if (item.value.includes('${{')) {
      sink.error(item.pos, `\`${path}\` cannot use expressions: the job graph is fixed before anything runs`);
      ok = false;
      continue;
    }
    // A job listed twice is still one dependency; keep the first occurrence.
    if (!positions.has(item.value)) {
      positions.set(item.value, item.pos);
      needs.push(item.value);
    }
  }
  return ok ? needs : undefined;
}

function readTimeout(sink: Sink, v: YValue, path: string): number | undefined {
  if (v.kind === 'scalar' && typeof v.value === 'number') {
    if (v.value > 0 && v.value <= MAX_TIMEOUT_MINUTES) return v.value;
    sink.error(
      v.pos,
      `\`${path}\` must be more than 0 and at most ${MAX_TIMEOUT_MINUTES} minutes (5 days), not ${v.value}`,
    );
    return undefined;
  }
  const expr = v.kind === 'scalar' && typeof v.value === 'string' && v.value.includes('${{');
  sink.error(
    v.pos,
    expr
      ? `\`${path}\` must be a number of minutes; spotcheck does not evaluate expressions here`
      : `\`${path}\` must be a number of minutes, not ${describe(v)}`,
  );
  return undefined;
}

function readJobContinueOnError(sink: Sink, v: YValue, path: string): boolean | string | undefined {
  if (v.kind === 'scalar' && typeof v.value === 'boolean') return v.value;
  if (v.kind === 'scalar' && typeof v.value === 'string' && isWholeExpression(v.value)) {
    return checkExpression(sink, v.value, 'template', v.pos, path) ? v.value : undefined;
  }
  sink.error(v.pos, `\`${path}\` must be true, false or a \`\${{ }}\` expression, not ${describe(v)}`);
  return undefined;
}

function readOutputs(sink: Sink, v: YValue, path: string): Record<string, string> {
  if (v.kind === 'scalar' && v.value === null) return {};
  if (v.kind !== 'map') {
    sink.error(v.pos, `\`${path}\` must be a mapping of output names to values, not ${describe(v)}`);
    return {};
  }
  const pairs: [string, string][] = [];
  for (const entry of v.entries) {
    if (!ID_PATTERN.test(entry.key)) {
      sink.error(entry.keyPos, `output name \`${clip(entry.key)}\` ${ID_RULE}`);
      continue;
    }
    const value = readString(sink, entry.value, `${path}.${entry.key}`, {});
    if (value !== undefined) pairs.push([entry.key, value]);
  }
  return Object.fromEntries(pairs);
}

// --- strategy / matrix ---------------------------------------------------------------------------------------------

interface Strategy {
  readonly matrix?: MatrixSpec;
  readonly failFast: boolean;
  readonly maxParallel?: number;
}

function readStrategy(sink: Sink, v: YValue, path: string): Strategy | undefined {
  if (v.kind !== 'map') {
    sink.error(v.pos, `\`${path}\` must be a mapping (matrix, fail-fast, max-parallel), not ${describe(v)}`);
    return undefined;
  }
  checkKeys(sink, v, STRATEGY_KEYS, `\`${path}\``, {});
  const matrixEntry = field(v, 'matrix');
  const failFastEntry = field(v, 'fail-fast');
  const maxParallelEntry = field(v, 'max-parallel');
  const matrix = matrixEntry ? readMatrix(sink, matrixEntry.value, `${path}.matrix`) : undefined;
  const failFast = failFastEntry ? readBoolean(sink, failFastEntry.value, `${path}.fail-fast`) : true;
  let maxParallel: number | undefined;
  if (maxParallelEntry) {
    const m = maxParallelEntry.value;
    if (m.kind === 'scalar' && typeof m.value === 'number' && Number.isInteger(m.value) && m.value >= 1)
      maxParallel = m.value;
    else sink.error(m.pos, `\`${path}.max-parallel\` must be a whole number of at least 1, not ${describe(m)}`);
  }
  if ((matrixEntry && !matrix) || failFast === undefined) return undefined;
  if (maxParallelEntry && maxParallel === undefined) return undefined;
  return {
    ...(matrix ? { matrix } : {}),
    failFast,
    ...(maxParallel !== undefined ? { maxParallel } : {}),
  };
}

function readMatrix(sink: Sink, v: YValue, path: string): MatrixSpec | undefined {
  if (v.kind === 'scalar' && typeof v.value === 'string' && v.value.includes('${{')) {
    sink.error(
      v.pos,
      `\`${path}\` built from an expression is not supported: spotcheck plans every order before anything runs, so write the axes out`,
    );
    return undefined;
  }
  if (v.kind !== 'map') {
    sink.error(
      v.pos,
      `\`${path}\` must be a mapping of axes (name: [values]) with optional include/exclude, not ${describe(v)}`,
    );
    return undefined;
  }
  const before = sink.count;
  const axes: [string, MatrixValue[]][] = [];
  let include: MatrixCell[] = [];
  let exclude: { cell: MatrixCell; pos: SourcePos }[] = [];
  for (const entry of v.entries) {
    if (entry.key === 'include' || entry.key === 'exclude') {
      const cells = readMatrixCells(sink, entry.value, `${path}.${entry.key}`);
      if (entry.key === 'include') include = cells.map((c) => c.cell);
      else exclude = cells;
      continue;
    }
    if (entry.key === '') {
      sink.error(entry.keyPos, `\`${path}\` axis names must not be empty`);
      continue;
    }
    const values = entry.value;
    if (values.kind !== 'seq') {
      const expr = values.kind === 'scalar' && typeof values.value === 'string' && values.value.includes('${{');
      sink.error(
        values.pos,
        expr
          ? `\`${path}.${entry.key}\` built from an expression is not supported: list the values`
          : `\`${path}.${entry.key}\` must be a list of values, not ${describe(values)}`,
      );
      continue;
    }
    if (values.items.length === 0) {
      sink.error(values.pos, `\`${path}.${entry.key}\` is an empty list: an axis needs at least one value`);
      continue;
    }
    axes.push([entry.key, values.items.map(toMatrixValue)]);
  }
  if (sink.count > before) return undefined;
  const axisNames = new Set(axes.map(([name]) => name));
  for (const { cell, pos } of exclude) {
    for (const key of Object.keys(cell)) {
      // GitHub refuses an exclude key that is not an axis: it could never match, so it is surely a typo.
      if (!axisNames.has(key))
        sink.error(
          pos,
          `\`${path}.exclude\` key \`${key}\` is not a matrix axis (axes: ${[...axisNames].join(', ') || 'none'})`,
        );
    }
  }
  if (sink.count > before) return undefined;

  const size = matrixSize(
    axes,
    include,
    exclude.map((e) => e.cell),
  );
  if (size.kind === 'too-large') {
    sink.error(
      v.pos,
      `\`${path}\` has ${size.product} combinations (${axes.map(([, vals]) => vals.length).join(' × ')}); spotcheck runs at most ${MAX_MATRIX_ORDERS} orders per matrix`,
    );
    return undefined;
  }
  if (size.orders > MAX_MATRIX_ORDERS) {
    sink.error(
      v.pos,
      `\`${path}\` expands to ${size.orders} orders; spotcheck runs at most ${MAX_MATRIX_ORDERS} per matrix`,
    );
    return undefined;
  }
  if (size.orders === 0) {
    sink.error(v.pos, `\`${path}\` expands to no combination at all (every one is excluded, or there are no axes)`);
    return undefined;
  }
  return { axes: Object.fromEntries(axes), include, exclude: exclude.map((e) => e.cell) };
}

function readMatrixCells(sink: Sink, v: YValue, path: string): { cell: MatrixCell; pos: SourcePos }[] {
  if (v.kind !== 'seq') {
    const expr = v.kind === 'scalar' && typeof v.value === 'string' && v.value.includes('${{');
    sink.error(
      v.pos,
      expr
        ? `\`${path}\` built from an expression is not supported: list the entries`
        : `\`${path}\` must be a list of mappings, not ${describe(v)}`,
    );
    return [];
  }
  if (v.items.length > MAX_MATRIX_FILTER_ENTRIES) {
    sink.error(v.pos, `\`${path}\` has ${v.items.length} entries; at most ${MAX_MATRIX_FILTER_ENTRIES} are allowed`);
    return [];
  }
  const cells: { cell: MatrixCell; pos: SourcePos }[] = [];
  for (const item of v.items) {
    if (item.kind !== 'map' || item.entries.length === 0) {
      sink.error(item.pos, `each \`${path}\` entry must be a non-empty mapping of axis: value, not ${describe(item)}`);
      continue;
    }
    cells.push({ cell: Object.fromEntries(item.entries.map((e) => [e.key, toMatrixValue(e.value)])), pos: item.pos });
  }
  return cells;
}

function toMatrixValue(v: YValue): MatrixValue {
  if (v.kind === 'scalar') return v.value;
  if (v.kind === 'seq') return v.items.map(toMatrixValue);
  return Object.fromEntries(v.entries.map((e) => [e.key, toMatrixValue(e.value)]));
}

/**
 * How many orders a matrix expands to, GitHub's way: the product of the axes, minus the combinations an `exclude`
 * entry partially matches, plus each `include` entry that matches no remaining combination on the original axes
 * (one that matches extends those combinations instead). The product is checked before anything is enumerated.
 */
function matrixSize(
  axes: readonly (readonly [string, readonly MatrixValue[]])[],
  include: readonly MatrixCell[],
  exclude: readonly MatrixCell[],
): { kind: 'ok'; orders: number } | { kind: 'too-large'; product: number } {
  let product = axes.length === 0 ? 0 : 1;
  for (const [, values] of axes) product *= values.length;
  if (product > MAX_MATRIX_PRODUCT) return { kind: 'too-large', product };
  const combos: Record<string, MatrixValue>[] = [];
  for (let n = 0; n < product; n++) {
    const combo: [string, MatrixValue][] = [];
    let rest = n;
    for (const [name, values] of axes) {
      combo.push([name, values[rest % values.length] as MatrixValue]);
      rest = Math.floor(rest / values.length);
    }
    combos.push(Object.fromEntries(combo));
  }
  const matches = (combo: Record<string, MatrixValue>, cell: MatrixCell, keys: Iterable<string>): boolean => {
    for (const key of keys) if (Object.hasOwn(cell, key) && !sameValue(combo[key], cell[key])) return false;
    return true;
  };
  const kept = combos.filter((c) => !exclude.some((e) => matches(c, e, Object.keys(e))));
  const axisNames = axes.map(([name]) => name);
  const added = include.filter((inc) => !kept.some((c) => matches(c, inc, axisNames))).length;
  return { kind: 'ok', orders: kept.length + added };
}

function sameValue(a: MatrixValue | undefined, b: MatrixValue | undefined): boolean {
  if (a === b) return true;
  if (a === null || b === null || a === undefined || b === undefined) return false;
  if (typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((x: MatrixValue, i) => sameValue(x, b[i] as MatrixValue));
  }
  const ao = a as Readonly<Record<string, MatrixValue>>;
  const bo = b as Readonly<Record<string, MatrixValue>>;
  const keys = Object.keys(ao);
  return keys.length === Object.keys(bo).length && keys.every((k) => Object.hasOwn(bo, k) && sameValue(ao[k], bo[k]));
}

// --- steps -------------------------------------------------------------------------------------------------------

function readSteps(sink: Sink, v: YValue, jobPath: string): StepSpec[] {
  const path = `${jobPath}.steps`;
  if (v.kind !== 'seq') {
    sink.error(v.pos, `\`${path}\` must be a list of steps, not ${describe(v)}`);
    return [];
  }
  if (v.items.length === 0) {
    sink.error(v.pos, `\`${path}\` is empty: give the job at least one \`run:\` step`);
    return [];
  }
  if (v.items.length > MAX_STEPS_PER_JOB) {
    sink.error(v.pos, `\`${path}\` has ${v.items.length} steps; at most ${MAX_STEPS_PER_JOB} are allowed per job`);
    return [];
  }
  const steps: StepSpec[] = [];
  const ids = new Map<string, SourcePos>();
  v.items.forEach((item, index) => {
    const step = readStep(sink, item, `${path}[${index}]`, index);
    if (!step) return;
    if (step.id !== undefined) {
      const first = ids.get(step.id);
      if (first) {
        sink.error(
          step.pos,
          `step id \`${step.id}\` is already used by another step of this job (line ${first.line}): step ids must be unique within a job`,
        );
        return;
      }
      ids.set(step.id, step.pos);
    }
    steps.push(step);
  });
  return steps;
}

function readStep(sink: Sink, v: YValue, path: string, index: number): StepSpec | undefined {
  if (v.kind !== 'map') {
    sink.error(v.pos, `\`${path}\` must be a mapping with \`run:\`, not ${describe(v)}`);
    return undefined;
  }
  const before = sink.count;
  checkKeys(sink, v, STEP_KEYS, `step \`${path}\``, UNSUPPORTED_STEP_KEYS);
  const run = field(v, 'run');
  if (!run && !field(v, 'uses'))
    sink.error(v.pos, `step \`${path}\` has no \`run:\`: spotcheck runs \`run:\` steps only`);
  const name = field(v, 'name');
  const id = field(v, 'id');
  const env = field(v, 'env');
  const wd = field(v, 'working-directory');
  const shell = field(v, 'shell');
  const cond = field(v, 'if');
  const coe = field(v, 'continue-on-error');
  const timeout = field(v, 'timeout-minutes');

  const script = run ? readString(sink, run.value, `${path}.run`, { nonEmpty: true }) : undefined;
  const stepName = name ? readString(sink, name.value, `${path}.name`, { nonEmpty: true }) : undefined;
  let stepId: string | undefined;
  if (id) {
    stepId = readString(sink, id.value, `${path}.id`, { nonEmpty: true, noExpression: true });
    if (stepId !== undefined && !ID_PATTERN.test(stepId))
      sink.error(id.value.pos, `step id \`${clip(stepId)}\` ${ID_RULE}`);
  }
  const stepEnv = env ? readEnv(sink, env.value, `${path}.env`) : {};
  const workingDirectory = wd ? readString(sink, wd.value, `${path}.working-directory`, { nonEmpty: true }) : undefined;
  const shellText = shell ? readShell(sink, shell.value, `${path}.shell`) : undefined;
  const ifText = cond ? readCondition(sink, cond.value, `${path}.if`) : undefined;
  const continueOnError = coe ? readBoolean(sink, coe.value, `${path}.continue-on-error`) : false;
  const timeoutMinutes = timeout ? readTimeout(sink, timeout.value, `${path}.timeout-minutes`) : undefined;
  if (sink.count > before || script === undefined || continueOnError === undefined) return undefined;
  return {
    index,
    ...(stepName !== undefined ? { name: stepName } : {}),
    ...(stepId !== undefined ? { id: stepId } : {}),
    run: script,
    env: stepEnv,
    ...(workingDirectory !== undefined ? { workingDirectory } : {}),
    ...(shellText !== undefined ? { shell: shellText } : {}),
    ...(ifText !== undefined ? { if: ifText } : {}),
    continueOnError,
    ...(timeoutMinutes !== undefined ? { timeoutMinutes } : {}),
    pos: v.pos,
  };
}

// --- scalar readers ---------------------------------------------------------------------------------------------------

function field(map: YMap, key: string): YEntry | undefined {
  return map.entries.find((e) => e.key === key);
}

function checkKeys(
  sink: Sink,
  map: YMap,
  allowed: readonly string[],
  where: string,
  hints: Readonly<Record<string, string>>,
): void {
  // `with:` and `secrets:` only feed a `uses:`: beside an unsupported `uses:` they are one problem, reported once.
  const usesRefused = !allowed.includes('uses') && map.entries.some((e) => e.key === 'uses');
  for (const entry of map.entries) {
    if (allowed.includes(entry.key)) continue;
    if (usesRefused && USES_INPUTS.has(entry.key)) continue;
    const hint = Object.hasOwn(hints, entry.key) ? hints[entry.key] : undefined;
    const merge = entry.key === '<<' ? ' (YAML merge keys `<<` are not supported, as on GitHub)' : '';
    sink.error(
      entry.keyPos,
      hint
        ? `\`${entry.key}\` is not supported in ${where}: ${hint}`
        : `unknown key \`${clip(entry.key)}\` in ${where}${merge}; allowed keys: ${allowed.join(', ')}`,
    );
  }
}

interface StringOptions {
  readonly nonEmpty?: boolean;
  readonly noExpression?: boolean;
}

/** A string field. GitHub reads numbers and booleans where a string is expected as their text (`1.10` is "1.1"). */
function readString(sink: Sink, v: YValue, path: string, opts: StringOptions): string | undefined {
  if (v.kind !== 'scalar' || v.value === null) {
    sink.error(v.pos, `\`${path}\` must be a string, not ${describe(v)}`);
    return undefined;
  }
  const text = String(v.value);
  if (opts.nonEmpty && text.trim() === '') {
    sink.error(v.pos, `\`${path}\` must not be empty`);
    return undefined;
  }
  if (text.includes('${{')) {
    if (opts.noExpression) {
      sink.error(v.pos, `\`${path}\` cannot use \`\${{ }}\` expressions`);
      return undefined;
    }
    if (!checkExpression(sink, text, 'template', v.pos, path)) return undefined;
  }
  return text;
}

/** A step's `shell`: one the runner can start (src/core/workflow/shells.ts), caught here rather than when the step runs. */
function readShell(sink: Sink, v: YValue, path: string): string | undefined {
  if (v.kind === 'scalar' && typeof v.value === 'string' && v.value.includes('${{')) {
    sink.error(v.pos, shellProblem(v.value) ?? `\`${path}\` cannot use \`\${{ }}\` expressions`);
    return undefined;
  }
  const text = readString(sink, v, path, { nonEmpty: true });
  if (text === undefined) return undefined;
  const problem = shellProblem(text);
  if (problem !== undefined) sink.error(v.pos, problem);
  return problem === undefined ? text : undefined;
}

function readCondition(sink: Sink, v: YValue, path: string): string | undefined {
  if (v.kind !== 'scalar' || v.value === null || v.value === '') {
    sink.error(
      v.pos,
      `\`${path}\` must be a condition (an expression such as \`github.event_name == 'push'\`), not ${describe(v)}`,
    );
    return undefined;
  }
  const text = String(v.value);
  return checkExpression(sink, text, 'condition', v.pos, path) ? text : undefined;
}

function readBoolean(sink: Sink, v: YValue, path: string): boolean | undefined {
  if (v.kind === 'scalar' && typeof v.value === 'boolean') return v.value;
  const expr = v.kind === 'scalar' && typeof v.value === 'string' && v.value.includes('${{');
  sink.error(
    v.pos,
    expr
      ? `\`${path}\` must be true or false; spotcheck does not evaluate expressions here`
      : `\`${path}\` must be true or false, not ${describe(v)}`,
  );
  return undefined;
}

function isWholeExpression(text: string): boolean {
  const t = text.trim();
  return t.startsWith('${{') && t.endsWith('}}');
}

/** `${{ }}` syntax, checked by src/core/workflow/expressions.ts with GitHub's own @actions/expressions parser. */
function checkExpression(
  sink: Sink,
  text: string,
  kind: 'condition' | 'template',
  pos: SourcePos,
  path: string,
): boolean {
  // A step's fields are evaluated by the runner, which adds hashFiles(); everything else by the server, before the job.
  const problem = expressionError(text, kind, /\.steps\[\d+\]\./.test(path) ? 'step' : 'job');
  if (problem) sink.error(pos, `\`${path}\`: ${problem}`);
  return problem === undefined;
}

function describe(v: YValue): string {
  if (v.kind === 'map') return 'a mapping';
  if (v.kind === 'seq') return 'a list';
  if (v.value === null) return 'nothing (null)';
  if (typeof v.value === 'string') return `the string \`${clip(v.value)}\``;
  return `the ${typeof v.value} \`${String(v.value)}\``;
}

function clip(text: string): string {
  const oneLine = text.replace(/\s+/g, ' ');
  return oneLine.length > 60 ? `${oneLine.slice(0, 57)}…` : oneLine;
}
