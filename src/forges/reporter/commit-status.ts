/**
 * The commit status of an order, as text and state: pure, so the rules (which state means what on the forge, how a
 * description fits the forge's limit) are tested without a forge.
 */
import { formatDuration, oneLine, orderDurationMs } from '../../core/render/format.ts';
import { annotationCountText, countAnnotations } from '../../core/step-results.ts';
import type { OrderRecord } from '../../core/types.ts';
import type { CommitState, CommitStatus } from '../forge.ts';

/** How the agent marks a failure forgiven by continue-on-error at the end of its reason. */
const COE_NOTE = '(continue-on-error)';

export interface StatusContext {
  readonly workflow: string;
  readonly targetUrl: string;
  readonly maxDescription: number;
  readonly now: number;
}

/**
 * The commit status of an order. GitHub's states (REST "Create a commit status"): `pending` until the order is
 * final; `success` for succeeded and skipped (GitHub Actions also lets a skipped job satisfy a required check);
 * `failure` for failed and timed out; `error` for cancelled (the job neither passed nor failed: something stopped
 * it). A job that failed under `continue-on-error` has the result `success`: the status follows the result and the
 * description says it failed.
 */
export function statusFor(order: OrderRecord, context: StatusContext): CommitStatus {
  const { state, description } = describe(order, context.now);
  return {
    context: `spotcheck/${context.workflow}/${order.name}`,
    state,
    description: fitDescription(description, context.maxDescription),
    targetUrl: context.targetUrl,
  };
}

function describe(order: OrderRecord, now: number): { state: CommitState; description: string } {
  const reason = order.reason === undefined ? undefined : oneLine(order.reason, 1000);
  const ms = orderDurationMs(order, now);
  const took = ms === undefined ? '' : ` in ${formatDuration(ms)}`;
  switch (order.state) {
    case 'succeeded':
      return { state: 'success', description: `succeeded${took}` };
    case 'skipped':
      return { state: 'success', description: prefixed('skipped', reason) };
    case 'failed':
    case 'timed_out': {
      const word = order.state === 'failed' ? 'failed' : 'timed out';
      if (order.result === 'success') {
        const why = reason?.endsWith(COE_NOTE) ? reason.slice(0, -COE_NOTE.length).trimEnd() : reason;
        return { state: 'success', description: `${word}, allowed by continue-on-error${why ? `: ${why}` : ''}` };
      }
      // `failed: 2 errors · step "test" failed`: the count first, so the 140-character cut keeps it.
      const { error } = countAnnotations(order.stepResults ?? []);
      if (error > 0) {
        const errors = annotationCountText({ error, warning: 0, notice: 0 });
        const rest = reason?.toLowerCase().startsWith(word) ? reason.slice(word.length).replace(/^[:\s]+/, '') : reason;
        return { state: 'failure', description: `${word}: ${errors}${rest ? ` · ${rest}` : ''}` };
      }
      return { state: 'failure', description: prefixed(word, reason) };
    }
    case 'cancelled':
      return { state: 'error', description: prefixed('cancelled', reason) };
    case 'queued':
      // A queued order has a reason only while it waits for its job concurrency group.
      return { state: 'pending', description: prefixed('queued', reason) };
    case 'dispatching':
    case 'running':
    case 'interrupted':
      return { state: 'pending', description: order.state };
  }
}

/** `word: reason`, unless the reason already starts with the word (`skipped: if: … was false`). */
function prefixed(word: string, reason: string | undefined): string {
  if (reason === undefined || reason === '') return word;
  return reason.toLowerCase().startsWith(word) ? reason : `${word}: ${reason}`;
}

/**
 * One line within the forge's limit (GitHub: 140 characters). Cut by code points and also kept within the limit in
 * UTF-16 code units, whichever the forge counts, with `…` where it was cut.
 */
export function fitDescription(text: string, max: number): string {
  const flat = oneLine(text, Number.MAX_SAFE_INTEGER);
  if (flat.length <= max) return flat;
  let out = '';
  for (const ch of flat) {
    if (out.length + ch.length > max - 1) break;
    out += ch;
  }
  return `${out.trimEnd()}…`;
}
