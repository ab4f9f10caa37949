import { describe, expect, it } from 'vitest';
import { displaySegments, expand } from '../../src/core/matrix-expansion.ts';

describe('matrix expansion: the values a cell shows in its display name', () => {
  it('a product cell shows its axis values only; an include that matched no cell shows all of its values', () => {
    const expanded = expand({
      axes: { os: ['linux', 'mac'], node: [20] },
      include: [
        { os: 'linux', experimental: true },
        { os: 'windows', node: 22, label: 'win' },
      ],
      exclude: [],
    });
    expect(expanded.ok).toBe(true);
    if (!expanded.ok) return;
    expect(expanded.cells.map((c) => [c.cell, c.shown])).toEqual([
      [{ os: 'linux', node: 20, experimental: true }, ['linux', 20]],
      [{ os: 'mac', node: 20 }, ['mac', 20]],
      [{ os: 'windows', node: 22, label: 'win' }, ['windows', 22, 'win']],
    ]);
  });

  it('display segments: primitives depth-first, null and empty strings skipped, numbers as GitHub formats them', () => {
    expect(displaySegments(['a', null, '', 1.5, true, { x: ['b', { y: 3 }] }, 1e21])).toEqual([
      'a',
      '1.5',
      'true',
      'b',
      '3',
      '1e+21',
    ]);
  });
});

describe("matrix expansion: filters compare with the expression language's ==", () => {
  // GitHub compiles each filter leaf to `matrix.<path> == <literal>`: strings case-insensitively (with its special
  // dotless i), a string and a number or boolean by number, null equal to null only.
  it('matches as == does, the same string many times over', () => {
    const expanded = expand({
      axes: { os: ['Linux', 'mac', 'ıx', 'IX'], n: ['12', '0x10', 'true', 7] },
      include: [{ n: 16, hex: true }],
      exclude: [{ os: 'LINUX' }, { n: 12 }, { os: 'ix', n: 7 }],
    });
    expect(expanded.ok).toBe(true);
    if (!expanded.ok) return;
    expect(expanded.cells.map((c) => c.cell)).toEqual([
      { os: 'mac', n: '0x10', hex: true },
      { os: 'mac', n: 'true' },
      { os: 'mac', n: 7 },
      { os: 'ıx', n: '0x10', hex: true },
      { os: 'ıx', n: 'true' },
      { os: 'ıx', n: 7 },
      { os: 'IX', n: '0x10', hex: true },
      { os: 'IX', n: 'true' },
    ]);
  });
});
