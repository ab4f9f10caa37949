/**
 * Matrix expansion, as GitHub does it: the cartesian product, `exclude` and `include` with the expression language's
 * `==`, the limits, and the values a cell shows in its job's display name. Pure.
 */
import { data } from '@actions/expressions';
import { equals, toUpperSpecial } from '@actions/expressions/result';
import { toExpressionData } from './workflow/expressions.ts';
import { MAX_MATRIX_FILTER_ENTRIES, MAX_MATRIX_ORDERS, MAX_MATRIX_PRODUCT } from './limits.ts';
import type { MatrixCell, MatrixSpec, MatrixValue } from './types.ts';

export type MatrixExpansion = { ok: true; cells: MatrixCell[] } | { ok: false; error: string };

/** One matrix cell plus the values GitHub shows in the display name: the cross-product values, or all of an added cell's. */
export interface ExpandedCell {
  readonly cell: MatrixCell;
  readonly shown: readonly MatrixValue[];
}

export type Expanded = { ok: true; cells: ExpandedCell[] } | { ok: false; error: string };

/** `matrix.a.b == literal` for every leaf of a filter, as actions/runner's MatrixFilter builds it. */
interface LeafCheck {
  readonly path: readonly (string | number)[];
  readonly expected: data.ExpressionData;
}

function leafChecks(filter: Readonly<Record<string, MatrixValue>>): LeafCheck[] {
  const checks: LeafCheck[] = [];
  const walk = (value: MatrixValue, path: (string | number)[]): void => {
    if (Array.isArray(value)) {
      (value as readonly MatrixValue[]).forEach((item, i) => walk(item, [...path, i]));
    } else if (value !== null && typeof value === 'object') {
      for (const [key, item] of Object.entries(value as Readonly<Record<string, MatrixValue>>))
        walk(item, [...path, key]);
    } else {
      checks.push({ path, expected: toExpressionData(value) });
    }
  };
  for (const [key, value] of Object.entries(filter)) walk(value, [key]);
  return checks;
}

/** Reads a path the way the expression evaluator does: object keys case-insensitively, a missing step is null. */
function readPath(cell: data.ExpressionData, path: readonly (string | number)[]): data.ExpressionData {
  let current = cell;
  for (const step of path) {
    if (typeof step === 'number' && current.kind === data.Kind.Array) {
      current = step < current.values().length ? current.get(step) : new data.Null();
    } else if (typeof step === 'string' && current.kind === data.Kind.Dictionary) {
      current = current.get(step) ?? new data.Null();
    } else {
      return new data.Null();
    }
  }
  return current;
}

/**
 * A filter matches when every leaf equals the cell's value at that path, with the expression language's `==`
 * (strings case-insensitively, `'12' == 12`): GitHub compiles each leaf to `matrix.<path> == <literal>`.
 * An exclude therefore only has to match partially, down into nested objects.
 */
function matches(cell: data.ExpressionData, checks: readonly LeafCheck[], same: Equals): boolean {
  return checks.every((check) => same(readPath(cell, check.path), check.expected));
}

type Equals = (a: data.ExpressionData, b: data.ExpressionData) => boolean;

/**
 * The expression language's `==` for one expansion, each string's work done once: a string compared with a string by
 * the id of its case-folded form, a string with another primitive remembered by the pair. Without it a hostile
 * matrix (long strings, thousands of combinations against hundreds of filters) upper-cased the same strings millions
 * of times: a 512 KiB file cost minutes of CPU to plan.
 */
function memoEquals(): Equals {
  const raw = new Map<string, number>();
  const folded = new Map<string, number>();
  const foldedOf = new Map<number, number>();
  const mixed = new Map<string, boolean>();
  const rawId = (text: string): number => {
    let id = raw.get(text);
    if (id === undefined) raw.set(text, (id = raw.size));
    return id;
  };
  const foldedId = (text: string): number => {
    const id = rawId(text);
    let fold = foldedOf.get(id);
    if (fold === undefined) {
      const upper = toUpperSpecial(text);
      fold = folded.get(upper);
      if (fold === undefined) folded.set(upper, (fold = folded.size));
      foldedOf.set(id, fold);
    }
    return fold;
  };
  return (a, b) => {
    if (a.kind === data.Kind.String && b.kind === data.Kind.String) return foldedId(a.value) === foldedId(b.value);
    const text = a.kind === data.Kind.String ? a : b.kind === data.Kind.String ? b : undefined;
    const other = text === a ? b : a;
    if (text?.kind !== data.Kind.String || !isPrimitive(other)) return equals(a, b);
    const value = other.kind === data.Kind.Number ? String(other.number()) : other.coerceString();
    const key = `${String(rawId(text.value))} ${String(other.kind)} ${value}`;
    let result = mixed.get(key);
    if (result === undefined) mixed.set(key, (result = equals(a, b)));
    return result;
  };
}

function isPrimitive(value: data.ExpressionData): boolean {
  return value.kind === data.Kind.Number || value.kind === data.Kind.Boolean || value.kind === data.Kind.Null;
}

/** Primitive values of a value, depth-first, as GitHub collects display-name segments (null and '' are skipped). */
export function displaySegments(values: readonly MatrixValue[]): string[] {
  const segments: string[] = [];
  const walk = (value: MatrixValue): void => {
    if (Array.isArray(value)) {
      for (const item of value as readonly MatrixValue[]) walk(item);
    } else if (value !== null && typeof value === 'object') {
      for (const item of Object.values(value as Readonly<Record<string, MatrixValue>>)) walk(item);
    } else if (value !== null) {
      // The library's coercion formats numbers as GitHub does (15 significant digits, no trailing zeros).
      const text = toExpressionData(value).coerceString();
      if (text !== '') segments.push(text);
    }
  };
  for (const value of values) walk(value);
  return segments;
}

/**
 * GitHub's expansion (docs "Running variations of jobs in a workflow"; actions/runner `MatrixBuilder.cs`):
 * 1. the cartesian product in axis order, the first axis varying slowest (`{version: 10, os: a}`, `{version: 10, os: b}`, …);
 * 2. `exclude` drops every product cell an entry matches (partial match: only the keys the entry names);
 * 3. each `include` entry splits into keys that are axes (its filter) and other keys (its extras); every product cell
 *    its filter matches gets its extras, later entries overwriting extras of earlier ones but never an axis value;
 * 4. each entry that matched no product cell is appended as a new cell of its own (includes are applied after
 *    excludes, so an include can add back an excluded combination). A matrix of only `include` is just step 4.
 */
export function expand(spec: MatrixSpec): Expanded {
  const axes = Object.entries(spec.axes);
  for (const [name, values] of axes) {
    if (values.length === 0) return { ok: false, error: `Matrix vector '${name}' does not contain any values` };
  }
  if (spec.include.length > MAX_MATRIX_FILTER_ENTRIES || spec.exclude.length > MAX_MATRIX_FILTER_ENTRIES) {
    return { ok: false, error: `Matrix include and exclude take at most ${MAX_MATRIX_FILTER_ENTRIES} entries each` };
  }
  const product = axes.length === 0 ? 0 : axes.reduce((n, [, values]) => n * values.length, 1);
  if (product > MAX_MATRIX_PRODUCT) {
    return {
      ok: false,
      error: `Matrix has ${product} combinations before exclude; at most ${MAX_MATRIX_PRODUCT} are expanded and at most ${MAX_MATRIX_ORDERS} may run`,
    };
  }
  const axisNames = new Set(axes.map(([name]) => name));

  const excludes: LeafCheck[][] = [];
  for (const entry of spec.exclude) {
    const keys = Object.keys(entry);
    if (keys.length === 0) return { ok: false, error: 'Matrix exclude filter must not be empty' };
    const unknown = keys.find((key) => !axisNames.has(key));
    if (unknown !== undefined)
      return { ok: false, error: `Matrix exclude key '${unknown}' does not match any key within the matrix` };
    excludes.push(leafChecks(entry));
  }

  const includes = spec.include.map((entry) => {
    const filter: [string, MatrixValue][] = [];
    const extra: [string, MatrixValue][] = [];
    for (const pair of Object.entries(entry)) (axisNames.has(pair[0]) ? filter : extra).push(pair);
    return { filter, extra, checks: leafChecks(Object.fromEntries(filter)), matched: false };
  });
  if (spec.include.some((entry) => Object.keys(entry).length === 0)) {
    return { ok: false, error: 'Matrix include mapping does not contain any values' };
  }

  const same = memoEquals();
  const cells: ExpandedCell[] = [];
  for (let index = 0; index < product; index++) {
    let block = product;
    const base: [string, MatrixValue][] = [];
    for (const [name, values] of axes) {
      block /= values.length;
      base.push([name, values[Math.floor(index / block) % values.length] as MatrixValue]);
    }
    const baseData = toExpressionData(Object.fromEntries(base));
    if (excludes.some((checks) => matches(baseData, checks, same))) continue;
    const extras = new Map<string, MatrixValue>();
    for (const include of includes) {
      if (!matches(baseData, include.checks, same)) continue;
      include.matched = true;
      for (const [key, value] of include.extra) extras.set(key, value);
    }
    cells.push({ cell: Object.fromEntries([...base, ...extras]), shown: base.map(([, value]) => value) });
  }
  for (const include of includes) {
    if (include.matched) continue;
    const entries = [...include.filter, ...include.extra];
    cells.push({ cell: Object.fromEntries(entries), shown: entries.map(([, value]) => value) });
  }
  if (cells.length > MAX_MATRIX_ORDERS) {
    return { ok: false, error: `Matrix expands to ${cells.length} orders; the maximum is ${MAX_MATRIX_ORDERS}` };
  }
  return { ok: true, cells };
}

/**
 * Expands a job's matrix into its cells, in GitHub's order (see `expand`). `undefined` (no matrix) is one empty
 * cell; a matrix whose every combination is excluded has zero cells.
 */
export function expandMatrix(matrix: MatrixSpec | undefined): MatrixExpansion {
  if (matrix === undefined) return { ok: true, cells: [{}] };
  const expanded = expand(matrix);
  return expanded.ok ? { ok: true, cells: expanded.cells.map((c) => c.cell) } : expanded;
}
