/**
 * Reading EC2's errors for a launch: which error codes mean "no capacity here now", "this candidate can never
 * launch", "the service is unavailable" or "the request is wrong". The Spot runner and capacity mode's launcher
 * classify failures with these, so both walk candidates and retry the same way.
 */

/**
 * Error codes that mean "no capacity for this candidate now" (EC2 API reference, "Error codes"): try the next
 * candidate, and if none has capacity the whole launch is retryable later.
 */
export const CAPACITY_ERROR_CODES: ReadonlySet<string> = new Set([
  'InsufficientInstanceCapacity',
  'InsufficientCapacity',
  'InsufficientHostCapacity',
  'InsufficientReservedInstanceCapacity',
  'UnfulfillableCapacity',
  'SpotMaxPriceTooLow',
  'MaxSpotInstanceCountExceeded',
  'InsufficientFreeAddressesInSubnet',
  'InstanceLimitExceeded',
  'VcpuLimitExceeded',
]);

/** This candidate can never launch (the type is not offered in that subnet's zone), but another may. */
export const CANDIDATE_ERROR_CODES: ReadonlySet<string> = new Set(['Unsupported', 'InvalidInstanceType']);

/** Faults of the service itself, after the SDK's own retries: stop walking candidates and retry the launch later. */
const TRANSIENT_ERROR_CODES: ReadonlySet<string> = new Set([
  'RequestLimitExceeded',
  'Throttling',
  'ThrottlingException',
  'InternalError',
  'InternalFailure',
  'ServiceUnavailable',
  'Unavailable',
  'RequestTimeout',
  'RequestExpired',
]);

/**
 * What a failed RunInstances means for the candidate walk:
 * - `mismatch`: this candidate's client token was used with other parameters, so it already launched this attempt;
 * - `capacity`: no capacity for this candidate now: try the next, retry the launch if none has any;
 * - `candidate`: this candidate can never launch: try the next;
 * - `transient`: the service failed: stop and retry the launch later;
 * - `permanent`: the request is wrong: stop and fail the order.
 */
export type LaunchErrorKind = 'mismatch' | 'capacity' | 'candidate' | 'transient' | 'permanent';

export function classifyLaunchError(error: unknown): LaunchErrorKind {
  const code = codeOf(error);
  if (code === 'IdempotentParameterMismatch') return 'mismatch';
  if (code !== undefined && CAPACITY_ERROR_CODES.has(code)) return 'capacity';
  if (code !== undefined && CANDIDATE_ERROR_CODES.has(code)) return 'candidate';
  if (isRetryableError(error, false)) return 'transient';
  return 'permanent';
}

/** The AWS SDK v3 puts the service's error code in `name` (and in `Code` for EC2's query protocol). */
export function codeOf(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const record = error as { Code?: unknown; name?: unknown };
  if (typeof record.Code === 'string' && record.Code !== '') return record.Code;
  if (typeof record.name === 'string' && record.name !== '' && record.name !== 'Error') return record.name;
  return undefined;
}

/**
 * Whether waiting may help: a throttle, a 5xx, a network error (no service code at all), or an error that says so
 * itself (`retryable`, as StoreError does). `unknownIsRetryable` decides for errors we cannot read.
 */
export function isRetryableError(error: unknown, unknownIsRetryable: boolean): boolean {
  if (typeof error !== 'object' || error === null) return unknownIsRetryable;
  const record = error as { retryable?: unknown; $fault?: unknown; $retryable?: unknown };
  if (typeof record.retryable === 'boolean') return record.retryable;
  const code = codeOf(error);
  if (code !== undefined && TRANSIENT_ERROR_CODES.has(code)) return true;
  if (record.$fault === 'server' || record.$retryable !== undefined) return true;
  if (record.$fault === 'client') return false;
  // No service code: the request never got an answer (DNS, connection reset, socket timeout).
  if (code === undefined || ['TimeoutError', 'AbortError'].includes(code) || code.startsWith('ECONN')) return true;
  return unknownIsRetryable;
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
