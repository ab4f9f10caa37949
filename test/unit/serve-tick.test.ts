/** SPOTCHECK_TICK_SECONDS: only a shorter tick than the default 15 s, a whole number; anything else is refused. */
import { describe, expect, it } from 'vitest';
import { DEFAULT_TICK_SECONDS, readTickSeconds } from '../../src/app/serve.ts';
import { ConfigError } from '../../src/errors.ts';

describe('readTickSeconds', () => {
  it('defaults to 15 s and takes 1 to 15', () => {
    expect(readTickSeconds({})).toBe(DEFAULT_TICK_SECONDS);
    expect(readTickSeconds({ SPOTCHECK_TICK_SECONDS: '' })).toBe(15);
    expect(readTickSeconds({ SPOTCHECK_TICK_SECONDS: '1' })).toBe(1);
    expect(readTickSeconds({ SPOTCHECK_TICK_SECONDS: '15' })).toBe(15);
  });

  it.each(['0', '16', '600', '1.5', '-1', 'fast', ' 5'])('refuses %j', (value) => {
    expect(() => readTickSeconds({ SPOTCHECK_TICK_SECONDS: value })).toThrow(ConfigError);
  });
});
