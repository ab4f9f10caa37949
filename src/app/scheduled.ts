/**
 * The scheduled Lambda (an EventBridge rule, every minute): one watchdog tick, inbox reconcile, janitor sweep and,
 * every few minutes, the redelivery of GitHub's failed webhook deliveries —
 * what `spotcheck serve`'s timer does — then a summary, and the counts as CloudWatch EMF lines. Intents an HTTP
 * invocation accepted but could not finish (its budget ran out, its container froze) are picked up here.
 */
import type { Context, ScheduledEvent } from 'aws-lambda';
import type { TickSummary } from './app.ts';
import { readOrderCounts } from '../server/metrics-route.ts';
import { emfLine, type OrderCounts } from '../server/metrics.ts';
import { containerApp, settle, type LambdaApp } from './lambda-app.ts';

export interface TickResult extends TickSummary {
  /** The store's view after the tick: orders in flight by state, and orders waiting for capacity. */
  readonly orders: OrderCounts;
}

export interface ScheduledHandlerOptions {
  readonly app: () => Promise<LambdaApp>;
  readonly emit?: (line: string) => void;
  readonly now?: () => number;
  /** How long the tick's background work (reporting) may take before the handler returns. */
  readonly settleMs?: number;
}

export type ScheduledHandler = (
  event: Pick<ScheduledEvent, 'id' | 'time'>,
  context?: Pick<Context, 'getRemainingTimeInMillis'>,
) => Promise<TickResult>;

export function createScheduledHandler(opts: ScheduledHandlerOptions): ScheduledHandler {
  const now = opts.now ?? Date.now;
  const emit = opts.emit ?? ((line: string) => process.stdout.write(`${line}\n`));
  return async (event, context) => {
    const app = await opts.app();
    const summary = await app.tick();
    const left = (context?.getRemainingTimeInMillis() ?? 60_000) - 2_000;
    await settle(app, Math.max(0, Math.min(opts.settleMs ?? 20_000, left)));
    const orders = await readOrderCounts(app.store);
    app.metrics.setOrderCounts(orders);
    const at = now();
    for (const line of app.metrics.flushEmf(at)) emit(line);
    emit(
      emfLine(at, {}, [
        { name: 'IntentsReconciled', unit: 'Count', value: [summary.reconciled] },
        ...(summary.swept === undefined ? [] : [{ name: 'Swept', unit: 'Count' as const, value: [summary.swept] }]),
        ...(summary.redelivered === undefined
          ? []
          : [{ name: 'Redelivered', unit: 'Count' as const, value: [summary.redelivered] }]),
        ...(summary.polled === undefined
          ? []
          : [{ name: 'GiteaPolled', unit: 'Count' as const, value: [summary.polled] }]),
      ]),
    );
    const result: TickResult = { ...summary, orders };
    app.logger.info({ event: event.id, ...result }, 'tick');
    return result;
  };
}

export const handler: ScheduledHandler = createScheduledHandler({ app: containerApp() });
