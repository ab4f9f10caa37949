/**
 * `timeout-minutes` and `continue-on-error` written as `${{ }}` expressions, evaluated where their contexts are known:
 * a job's when the run is planned, a step's by the agent before the step runs. A value of the wrong type is an
 * error that says what it got, as GitHub's runner refuses one.
 */
import { MAX_TIMEOUT_MINUTES } from '../limits.ts';
import { evaluateValue, type Evaluated, type ExpressionContext } from './expressions.ts';

/** A number of minutes (a numeric string counts, as GitHub converts it), more than 0 and at most MAX_TIMEOUT_MINUTES. */
export function evaluateMinutes(value: number | string, ctx: ExpressionContext): Evaluated<number> {
  if (typeof value === 'number') return { ok: true, value };
  const result = evaluateValue(value, ctx);
  if (!result.ok) return result;
  const n = typeof result.value === 'number' ? result.value : Number(result.value);
  const numeric = typeof result.value === 'number' || (typeof result.value === 'string' && result.value.trim() !== '');
  if (!numeric || !Number.isFinite(n))
    return { ok: false, error: `'${value}' must evaluate to a number of minutes, got ${JSON.stringify(result.value)}` };
  if (n <= 0 || n > MAX_TIMEOUT_MINUTES)
    return { ok: false, error: `'${value}' must be more than 0 and at most ${MAX_TIMEOUT_MINUTES} minutes, got ${n}` };
  return { ok: true, value: n };
}

/** true or false (GitHub's `continue-on-error` takes a boolean, not a truthy value). */
export function evaluateFlag(value: boolean | string, ctx: ExpressionContext): Evaluated<boolean> {
  if (typeof value === 'boolean') return { ok: true, value };
  const result = evaluateValue(value, ctx);
  if (!result.ok) return result;
  if (typeof result.value === 'boolean') return { ok: true, value: result.value };
  return { ok: false, error: `'${value}' must evaluate to true or false, got ${JSON.stringify(result.value)}` };
}
