/**
 * The HTTP Lambda: API Gateway HTTP API (payload 2.0) and function URL events, answered by the same router as
 * `spotcheck serve` — webhooks, agent callbacks, log pages, health, metrics.
 *
 * The app is composed once per container (a module-scope promise): Probot's webhooks are loaded inside that
 * composition, before any request reaches `verify`/`receive` (Probot 14 sets them up asynchronously), never per
 * request.
 *
 * Work after the answer. A webhook's intent is persisted before the 2xx (the inbox), and its processing starts in
 * the background — which Lambda would freeze with the container the moment the handler returns. So each
 * invocation waits for its background work (intake, forge reporting) before returning, up to a budget that keeps
 * the answer inside GitHub's 10-second delivery timeout ("Handling webhook deliveries"). Work still running at the
 * budget is not lost: the intent is persisted and leased, so once the lease lapses the scheduled tick's reconcile
 * takes it up (and a thawed container resuming it later loses its lease race harmlessly: processing is idempotent).
 */
import type { Context } from 'aws-lambda';
import { handleHttpEvent, type HttpEventV2, type HttpResultV2 } from '../server/lambda-http.ts';
import { containerApp, settle, type LambdaApp } from './lambda-app.ts';

/** GitHub's 10 s, less a cold start's composition and the route's own time. */
export const DEFAULT_SETTLE_MS = 6_000;
/** Left for returning the answer and writing the metrics lines before Lambda's own timeout. */
const RESERVE_MS = 1_500;

export interface HttpHandlerOptions {
  readonly app: () => Promise<LambdaApp>;
  /** How long an invocation waits for its background work after the route answered. */
  readonly settleMs?: number;
  /** Where the EMF lines go (stdout on Lambda: CloudWatch Logs takes each line as one event). */
  readonly emit?: (line: string) => void;
  readonly now?: () => number;
}

export type HttpHandler = (
  event: HttpEventV2,
  context?: Pick<Context, 'getRemainingTimeInMillis'>,
) => Promise<HttpResultV2>;

export function createHttpHandler(opts: HttpHandlerOptions): HttpHandler {
  const now = opts.now ?? Date.now;
  const emit = opts.emit ?? ((line: string) => process.stdout.write(`${line}\n`));
  return async (event, context) => {
    const app = await opts.app();
    const remaining = context?.getRemainingTimeInMillis() ?? 30_000;
    const result = await handleHttpEvent(app.router, event, {
      logger: app.logger,
      streamDeadlineMs: Math.max(
        1_000,
        Math.min(remaining - RESERVE_MS, 20_000) - (opts.settleMs ?? DEFAULT_SETTLE_MS),
      ),
    });
    const left = (context?.getRemainingTimeInMillis() ?? remaining) - RESERVE_MS;
    await settle(app, Math.max(0, Math.min(opts.settleMs ?? DEFAULT_SETTLE_MS, left)));
    for (const line of app.metrics.flushEmf(now())) emit(line);
    return result;
  };
}

export const handler: HttpHandler = createHttpHandler({ app: containerApp() });
