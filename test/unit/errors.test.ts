import { describe, expect, it } from 'vitest';
import { ConfigError, ForgeError, isRetryable, RunnerError, StoreError } from '../../src/errors.ts';

describe('isRetryable', () => {
  it.each([
    [new StoreError('throttled', { retryable: true }), true],
    [new StoreError('validation', { retryable: false }), false],
    [new ForgeError('502', { status: 502, retryable: true }), true],
    [new ForgeError('422', { status: 422, retryable: false }), false],
    [new RunnerError('capacity', { retryable: true }), true],
    [new RunnerError('bad AMI', { retryable: false }), false],
    [{ retryable: true }, true],
    [{ retryable: false }, false],
  ])('reads the flag the error carries: %s → %s, whatever the default', (error, expected) => {
    expect(isRetryable(error)).toBe(expected);
    expect(isRetryable(error, { unknown: true })).toBe(expected);
    expect(isRetryable(error, { unknown: false })).toBe(expected);
  });

  it.each([
    ['a plain Error', new Error('boom')],
    ['a ConfigError (no flag)', new ConfigError('bad', { source: 'x' })],
    ['a non-boolean flag', { retryable: 'yes' }],
    ['a string', 'boom'],
    ['undefined', undefined],
    ['null', null],
  ])('treats %s as permanent by default, or as the caller says', (_, error) => {
    expect(isRetryable(error)).toBe(false);
    expect(isRetryable(error, { unknown: true })).toBe(true);
  });
});
