/**
 * `GET /metrics`: the app's registry in Prometheus text exposition format (version 0.0.4, the content type
 * prom-client's registry names). Counters are this replica's; the order gauges are read from the shared store, so
 * every replica answers the same for them.
 */
import { bearerCredential } from './auth-header.ts';
import { timingSafeEqual } from 'node:crypto';
import type { OrderCounts, SpotcheckMetrics } from './metrics.ts';
import { LIVE_ORDER_STATES } from './metrics.ts';
import type { Store } from '../store/store.ts';
import { text, type RouteDefinition } from './router.ts';

export const METRICS_PATH = '/metrics';
/** The queue depth is counted up to this many orders; past it the gauge says "at least this many". */
export const MAX_COUNTED_WAITING = 1000;

export interface MetricsRouteOptions {
  readonly metrics: SpotcheckMetrics;
  /**
   * The bearer token a scraper sends (`Authorization: Bearer <token>`, Prometheus' `authorization` setting). Unset:
   * the metrics are served to nobody (they tell which repositories are busy, and when).
   */
  readonly token: string | undefined;
}

export function createMetricsRoute(opts: MetricsRouteOptions): RouteDefinition {
  const wanted = opts.token === undefined ? undefined : Buffer.from(opts.token);
  return {
    method: 'GET',
    pattern: METRICS_PATH,
    async handle(req) {
      if (wanted === undefined)
        return text(403, 'metrics are off: set METRICS_TOKEN and scrape with it as a bearer token');
      const given = Buffer.from(bearerCredential(req.headers.authorization) ?? '');
      if (given.length === 0 || given.length !== wanted.length || !timingSafeEqual(given, wanted))
        return text(401, 'a bearer token is required', { 'www-authenticate': 'Bearer realm="metrics"' });
      try {
        const body = await opts.metrics.render();
        return {
          status: 200,
          headers: { 'content-type': opts.metrics.registry.contentType, 'cache-control': 'no-store' },
          body,
        };
      } catch (error) {
        req.log.warn({ err: error }, 'metrics: the store did not answer');
        return text(503, 'metrics unavailable');
      }
    },
  };
}

/** The gauges' values from the store: the watchdog's index of live orders, and the waiting orders' index. */
export async function readOrderCounts(
  store: Pick<Store, 'listActiveOrders' | 'listWaitingOrders'>,
): Promise<OrderCounts> {
  const [active, waiting] = await Promise.all([store.listActiveOrders(), store.listWaitingOrders(MAX_COUNTED_WAITING)]);
  const live: Partial<Record<(typeof LIVE_ORDER_STATES)[number], number>> = {};
  for (const order of active) {
    const state = LIVE_ORDER_STATES.find((s) => s === order.state);
    if (state !== undefined) live[state] = (live[state] ?? 0) + 1;
  }
  return { waiting: waiting.length, live };
}
