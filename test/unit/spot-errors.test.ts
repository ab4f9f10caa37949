import { describe, expect, it } from 'vitest';
import { classifyLaunchError, codeOf, isRetryableError } from '../../runners/spot-errors.ts';

/** An AWS SDK v3 service error as the EC2 client throws it: the code in `name`, the fault side in `$fault`. */
function awsError(name: string, fault: 'client' | 'server' = 'client'): Error {
  return Object.assign(new Error(`${name} happened`), { name, $fault: fault });
}

describe('spot errors: what a refused RunInstances means', () => {
  it.each([
    ['IdempotentParameterMismatch', 'mismatch'],
    ['InsufficientInstanceCapacity', 'capacity'],
    ['SpotMaxPriceTooLow', 'capacity'],
    ['MaxSpotInstanceCountExceeded', 'capacity'],
    ['InsufficientFreeAddressesInSubnet', 'capacity'],
    ['VcpuLimitExceeded', 'capacity'],
    ['Unsupported', 'candidate'],
    ['InvalidInstanceType', 'candidate'],
    ['RequestLimitExceeded', 'transient'],
    ['InternalError', 'transient'],
    ['ServiceUnavailable', 'transient'],
    ['InvalidAMIID.NotFound', 'permanent'],
    ['UnauthorizedOperation', 'permanent'],
    ['InvalidParameterValue', 'permanent'],
  ])('%s → %s', (code, kind) => {
    expect(classifyLaunchError(awsError(code))).toBe(kind);
  });

  it('a 5xx without a known code, a network error (no service code) and an SDK timeout are transient', () => {
    expect(classifyLaunchError(awsError('SomethingNew', 'server'))).toBe('transient');
    expect(classifyLaunchError(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }))).toBe('transient');
    expect(classifyLaunchError(Object.assign(new Error('timed out'), { name: 'TimeoutError' }))).toBe('transient');
  });

  it('an unknown client error is permanent', () => {
    expect(classifyLaunchError(awsError('SomethingNew', 'client'))).toBe('permanent');
  });
});

describe('spot errors: codeOf and isRetryableError', () => {
  it('reads the code from Code (EC2 query protocol) before name, and never the generic "Error"', () => {
    expect(codeOf({ Code: 'InsufficientInstanceCapacity', name: 'EC2ServiceException' })).toBe(
      'InsufficientInstanceCapacity',
    );
    expect(codeOf(awsError('Unsupported'))).toBe('Unsupported');
    expect(codeOf(new Error('plain'))).toBeUndefined();
    expect(codeOf('a string')).toBeUndefined();
    expect(codeOf(null)).toBeUndefined();
  });

  it('an error that says whether it is retryable is believed (StoreError)', () => {
    expect(isRetryableError(Object.assign(awsError('InternalError'), { retryable: false }), true)).toBe(false);
    expect(isRetryableError(Object.assign(awsError('InvalidParameterValue'), { retryable: true }), false)).toBe(true);
  });

  it('throttles, server faults and SDK-retryable errors are retryable; client faults are not', () => {
    expect(isRetryableError(awsError('Throttling'), false)).toBe(true);
    expect(isRetryableError(awsError('Whatever', 'server'), false)).toBe(true);
    expect(isRetryableError(Object.assign(awsError('Whatever'), { $retryable: {} }), false)).toBe(true);
    expect(isRetryableError(awsError('Whatever', 'client'), true)).toBe(false);
  });

  it('what cannot be read at all is decided by the caller', () => {
    expect(isRetryableError(undefined, true)).toBe(true);
    expect(isRetryableError(42, false)).toBe(false);
    expect(isRetryableError({ name: 'Weird' }, true)).toBe(true);
    expect(isRetryableError({ name: 'Weird' }, false)).toBe(false);
  });
});
