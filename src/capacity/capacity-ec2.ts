/** The Spot runner's EC2 error reading, shared so capacity launches classify failures the same way. */
import {
  CANDIDATE_ERROR_CODES,
  CAPACITY_ERROR_CODES,
  candidatesOf,
  codeOf,
  isRetryableError,
} from '../../runners/spot.ts';

export { candidatesOf, codeOf };

export function classifyCapacityError(
  error: unknown,
): 'mismatch' | 'capacity' | 'candidate' | 'transient' | 'permanent' {
  const code = codeOf(error);
  if (code === 'IdempotentParameterMismatch') return 'mismatch';
  if (code !== undefined && CAPACITY_ERROR_CODES.has(code)) return 'capacity';
  if (code !== undefined && CANDIDATE_ERROR_CODES.has(code)) return 'candidate';
  return isRetryableError(error, false) ? 'transient' : 'permanent';
}
