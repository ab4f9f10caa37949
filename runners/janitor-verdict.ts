/**
 * The janitor's judgement of one execution (an instance or a CodeBuild build): who owns it (run/order/attempt and
 * expiry, from its tags or build markers) and whether it must go. The janitor lists and ends; this decides.
 *
 * Never within the grace period of a launch: an instance that just started may belong to a launch whose
 * `dispatched` write has not landed yet (docs/architecture.md: a crash between effect and write is repaired by the watchdog,
 * not by killing).
 */
import type { Build } from '@aws-sdk/client-codebuild';
import type { Instance } from '@aws-sdk/client-ec2';
import { isFinalOrderState, type OrderRecord } from '../src/core/types.ts';
import { markersOf } from './codebuild-build.ts';

/** What an execution says about who started it. */
export interface Owner {
  readonly runId: string | undefined;
  readonly orderId: string | undefined;
  readonly attempt: string | undefined;
  readonly expires: string | undefined;
}

/** One execution to judge: its id, which runner kind it belongs to, its owner and when it started. */
export interface Execution {
  readonly id: string;
  readonly kind: 'spot' | 'codebuild';
  readonly owner: Owner;
  /** Epoch ms; undefined when the cloud did not say (then it is kept). */
  readonly startedAt: number | undefined;
}

/** Reads the order that owns an execution; throws when the store cannot answer. */
export type OrderReader = (runId: string, orderId: string) => Promise<OrderRecord | undefined>;

/** The owner an instance's `<prefix>:*` tags name. */
export function instanceOwner(instance: Instance, prefix: string): Owner {
  const tags = new Map((instance.Tags ?? []).map((t) => [t.Key, t.Value]));
  return {
    runId: tags.get(`${prefix}:run`),
    orderId: tags.get(`${prefix}:order`),
    attempt: tags.get(`${prefix}:attempt`),
    expires: tags.get(`${prefix}:expires`),
  };
}

/** The owner a build's `SPOTCHECK_BUILD_*` markers name; undefined for a build spotcheck did not start. */
export function buildOwner(build: Build): Owner | undefined {
  const markers = markersOf(build);
  if (markers.run === undefined) return undefined;
  return { runId: markers.run, orderId: markers.order, attempt: markers.attempt, expires: markers.expires };
}

/**
 * Why an execution must go, or undefined to keep it: past its expiry, no owner, an unknown or finished order, another
 * attempt, or a duplicate of the attempt whose order records another handle. A failed read keeps it.
 */
export async function verdictOf(
  execution: Execution,
  context: { readonly now: number; readonly graceMs: number; readonly readOrder: OrderReader },
  onReadError?: (error: unknown) => void,
): Promise<string | undefined> {
  const { id, kind, owner, startedAt } = execution;
  const { now } = context;
  // Within the grace period nothing is judged, not even a missing start time's owner.
  if (startedAt === undefined || now - startedAt < context.graceMs) return undefined;
  const expires = owner.expires === undefined ? Number.NaN : Date.parse(owner.expires);
  if (Number.isFinite(expires) && expires <= now) return `past its expiry (${owner.expires})`;
  if (owner.runId === undefined || owner.orderId === undefined || owner.attempt === undefined)
    return 'carries no run/order/attempt';
  let order: OrderRecord | undefined;
  try {
    order = await context.readOrder(owner.runId, owner.orderId);
  } catch (error) {
    // Unknown is not the same as absent: never kill on a failed read.
    onReadError?.(error);
    return undefined;
  }
  if (order === undefined) return `its order ${owner.runId}/${owner.orderId} is unknown`;
  if (isFinalOrderState(order.state)) return `its order is ${order.state}`;
  if (String(order.attempt) !== owner.attempt) return `its order is at attempt ${order.attempt}, not ${owner.attempt}`;
  // A duplicate of the same attempt (two launches raced): the order's recorded handle is the one that counts.
  if (order.handle !== undefined && order.runner === kind && order.handle !== id)
    return `its order runs on ${order.handle}`;
  return undefined;
}
