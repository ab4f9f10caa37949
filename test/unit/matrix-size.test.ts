import { describe, expect, it } from 'vitest';
import { MAX_MATRIX_PRODUCT } from '../../src/core/limits.ts';
import { expandMatrix } from '../../src/core/plan.ts';
import type { MatrixCell, MatrixValue } from '../../src/core/types.ts';
import { matrixSize } from '../../src/core/workflow/matrix-size.ts';

type Axes = Record<string, MatrixValue[]>;

const OS_V: Axes = { os: ['linux', 'mac'], v: [1, 2] };

describe('matrixSize counts orders the way the planner expands them', () => {
  it.each<[string, Axes, MatrixCell[], MatrixCell[], number]>([
    ['no axes and no include', {}, [], [], 0],
    ['the product of the axes', { os: ['linux', 'mac'], v: [1, 2, 3] }, [], [], 6],
    ['an exclude naming one axis drops every combination it matches', OS_V, [], [{ os: 'mac' }], 2],
    ['an exclude naming every axis drops one combination', OS_V, [], [{ os: 'mac', v: 2 }], 3],
    ['an include matching a combination extends it, adding none', OS_V, [{ os: 'mac', v: 1, extra: 'x' }], [], 4],
    ['an include with only extra keys extends every combination', OS_V, [{ extra: 'x' }], [], 4],
    ['an include matching no combination adds one', OS_V, [{ os: 'windows' }], [], 5],
    ['an include adds back an excluded combination', OS_V, [{ os: 'mac', v: 1 }], [{ os: 'mac' }], 3],
    ['every combination excluded', OS_V, [], [{ v: 1 }, { v: 2 }], 0],
    ['only include', {}, [{ os: 'linux' }, { os: 'mac' }], [], 2],
    ['objects compared by value', { cfg: [{ a: 1 }, { a: 2 }] }, [], [{ cfg: { a: 1 } }], 1],
    ['lists compared by value', { x: [[1, 2], [3]] }, [], [{ x: [1, 2] }], 1],
    ['a list is not an object with the same keys', { x: [[1], { 0: 1 }] }, [], [{ x: [1] }], 1],
  ])('%s', (_label, axes, include, exclude, orders) => {
    expect(matrixSize(Object.entries(axes), include, exclude)).toEqual({ kind: 'ok', orders });
    // The parser refuses a matrix by this count before the planner expands it: the two must agree.
    const expanded = expandMatrix({ axes, include, exclude });
    expect(expanded.ok && expanded.cells.length).toBe(orders);
  });

  it(`refuses a product over ${MAX_MATRIX_PRODUCT} before enumerating it, and takes one at the limit`, () => {
    const values = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
    const side = Math.sqrt(MAX_MATRIX_PRODUCT);
    expect(
      matrixSize(
        [
          ['a', values(side)],
          ['b', values(side)],
        ],
        [],
        [],
      ),
    ).toEqual({
      kind: 'ok',
      orders: MAX_MATRIX_PRODUCT,
    });
    expect(
      matrixSize(
        [
          ['a', values(side + 1)],
          ['b', values(side)],
        ],
        [],
        [],
      ),
    ).toEqual({
      kind: 'too-large',
      product: (side + 1) * side,
    });
  });
});
