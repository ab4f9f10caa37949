/**
 * How many orders a matrix expands to, counted before the planner expands it (src/core/plan.ts), so that a workflow
 * over the limits is refused with its position instead of being enumerated.
 */
import { MAX_MATRIX_PRODUCT } from '../limits.ts';
import type { MatrixCell, MatrixValue } from '../types.ts';

/**
 * How many orders a matrix expands to, GitHub's way: the product of the axes, minus the combinations an `exclude`
 * entry partially matches, plus each `include` entry that matches no remaining combination on the original axes
 * (one that matches extends those combinations instead). The product is checked before anything is enumerated.
 */
export function matrixSize(
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
