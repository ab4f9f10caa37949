import { describe, expect, it } from 'vitest';
import { chunkRanges } from '../../src/server/s3-log-store.ts';

const CHUNKS = [
  { key: 'a', size: 10 },
  { key: 'b', size: 5 },
  { key: 'c', size: 20 },
];

describe('S3 log: which chunk ranges a read needs', () => {
  it.each([
    ['all of the first chunk', 0, 10, [['a', 0, 10]]],
    ['inside one chunk', 2, 3, [['a', 2, 5]]],
    [
      'across a boundary',
      8,
      4,
      [
        ['a', 8, 10],
        ['b', 0, 2],
      ],
    ],
    [
      'across three chunks',
      9,
      8,
      [
        ['a', 9, 10],
        ['b', 0, 5],
        ['c', 0, 2],
      ],
    ],
    ['starting on a boundary', 15, 20, [['c', 0, 20]]],
    ['nothing wanted', 4, 0, []],
    ['past the end', 35, 10, []],
  ] as const)('%s', (_, offset, want, expected) => {
    const ranges = chunkRanges(CHUNKS, offset, want);
    expect(ranges.map((r) => [r.key, r.from, r.to])).toEqual(expected);
    for (const range of ranges) expect(range.size).toBe(CHUNKS.find((c) => c.key === range.key)!.size);
  });

  it('skips empty chunks', () => {
    expect(chunkRanges([{ key: 'e', size: 0 }, ...CHUNKS], 0, 3)).toEqual([{ key: 'a', from: 0, to: 3, size: 10 }]);
  });
});
