import { describe, expect, it } from 'vitest';
import { encodedForms, Masker } from '../../runners/agent/masker.ts';

describe('Masker', () => {
  it('masks the value and what actions/runner registers for it: base64 (3 alignments), JSON, URL, XML, quotes', () => {
    const secret = 'p@ss"w/rd\\1&<x>';
    const m = new Masker();
    m.add(secret);
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    for (const form of [
      secret,
      b64(secret),
      b64(secret.slice(1)),
      b64(secret.slice(2)),
      JSON.stringify(secret).slice(1, -1),
      encodeURIComponent(secret),
      'p@ss\\"w/rd\\1&<x>',
      'p@ss&quot;w/rd\\1&amp;&lt;x&gt;',
    ]) {
      expect(m.mask(`[${form}]`), form).toBe('[***]');
    }
  });

  it('masks a secret inside a larger base64 blob at any alignment (the stable prefix)', () => {
    const secret = 'correct-horse-battery-staple';
    const m = new Masker();
    m.add(secret);
    for (const before of ['', 'u', 'us', 'user:']) {
      const blob = Buffer.from(`${before}${secret}@example.com`).toString('base64');
      expect(m.mask(blob), before).toContain('***');
      // Nothing of the secret's own encoding is left beside the mask but at most the edge characters.
      expect(m.mask(blob).length).toBeLessThan(blob.length - 20);
    }
  });

  it('lists the encodings, none equal to the value itself', () => {
    expect(encodedForms('plain-value')).not.toContain('plain-value');
  });

  it('merges overlapping and touching values into one *** (longest first)', () => {
    const m = new Masker();
    m.add('abcdef');
    m.add('defghi');
    m.add('xyz');
    expect(m.mask('0abcdefghi1')).toBe('0***1');
    expect(m.mask('abcdefxyz!')).toBe('***!');
    m.add('abc');
    expect(m.mask('abcdef abc')).toBe('*** ***');
  });

  it('is case-sensitive and ignores empty values', () => {
    const m = new Masker();
    m.add('');
    expect(m.isEmpty).toBe(true);
    m.add('Secret99');
    expect(m.mask('secret99 Secret99')).toBe('secret99 ***');
    expect(m.contains('a Secret99')).toBe(true);
    expect(m.contains('nothing')).toBe(false);
  });

  it('masks a 1 MB line in a number of steps linear in its length, with adversarial near-miss values', () => {
    const m = new Masker();
    // Values that each almost match everywhere: the naive indexOf-per-value scan does length × values work here.
    for (let k = 1; k <= 200; k++) m.add(`${'a'.repeat(k * 5)}b`);
    const line = 'a'.repeat(1024 * 1024);
    const before = m.operations;
    expect(m.mask(line) === line).toBe(true);
    const steps = m.operations - before;
    expect(steps).toBeGreaterThanOrEqual(line.length);
    expect(steps).toBeLessThanOrEqual(2 * line.length);

    // The longest value matches each block whole; the shorter ones inside it merge into the same ***.
    const hits = `${'a'.repeat(1000)}b-`.repeat(1024);
    const again = m.operations;
    expect(m.mask(hits) === '***-'.repeat(1024)).toBe(true);
    expect(m.operations - again).toBeLessThanOrEqual(2 * hits.length);
  });
});
