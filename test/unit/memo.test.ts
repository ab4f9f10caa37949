import { describe, expect, it } from 'vitest';
import { memo } from '../../src/app/memo.ts';

describe('memo', () => {
  it('makes a value once per key and returns the cached one after', () => {
    const cache = new Map<string | undefined, { region: string | undefined }>();
    let made = 0;
    const client = (region: string | undefined) => memo(cache, region, () => ({ region, n: ++made }));
    const a = client('eu-west-1');
    expect(client('eu-west-1')).toBe(a);
    expect(client(undefined)).not.toBe(a);
    expect(client(undefined)).toBe(client(undefined));
    expect(made).toBe(2);
  });
});
