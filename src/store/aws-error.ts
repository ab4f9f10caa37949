import { StoreError } from '../errors.ts';

/**
 * The one place where DynamoDB errors are classified. Retryable per the DynamoDB developer guide ("Error handling
 * with DynamoDB"): throttling and limit errors, server faults (5xx) and network failures. The SDK's retry strategy
 * has already retried these `maxAttempts` times when we see them; the flag tells our caller whether trying again
 * later can help. Everything else (ValidationException, ResourceNotFoundException, an item over 400 KB, bad
 * credentials) is permanent.
 */
const RETRYABLE_NAMES: ReadonlySet<string> = new Set([
  'ThrottlingException',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'InternalServerError',
  'ServiceUnavailable',
  'TransactionConflictException',
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
]);
const RETRYABLE_CODES: ReadonlySet<string> = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'ENOTFOUND',
]);

export type AwsErrorClass = 'condition-failed' | 'retryable' | 'permanent';

export function classifyAwsError(error: unknown): AwsErrorClass {
  if (typeof error !== 'object' || error === null) return 'permanent';
  const e = error as { name?: unknown; code?: unknown; $fault?: unknown; $retryable?: unknown };
  const name = typeof e.name === 'string' ? e.name : '';
  if (name === 'ConditionalCheckFailedException') return 'condition-failed';
  if (RETRYABLE_NAMES.has(name) || e.$fault === 'server' || e.$retryable !== undefined) return 'retryable';
  if (typeof e.code === 'string' && RETRYABLE_CODES.has(e.code)) return 'retryable';
  return 'permanent';
}

/** A vendor error converted at the adapter: our StoreError, with the AWS name kept for logs. */
export function toStoreError(error: unknown, operation: string, table: string): StoreError {
  const e = error as { name?: unknown; message?: unknown };
  const awsName = typeof e.name === 'string' ? e.name : 'Error';
  const message = typeof e.message === 'string' ? e.message : String(error);
  return new StoreError(`store ${operation} failed: ${awsName}: ${message}`, {
    cause: error,
    retryable: classifyAwsError(error) === 'retryable',
    context: { operation, table, awsError: awsName },
  });
}
