/** `GET /healthz`: 200 when the store answers a cheap read in time, 503 otherwise (load balancers take it out). */
import type { Store } from '../store/store.ts';
import { json, type RouteDefinition } from './router.ts';

export interface HealthRouteOptions {
  readonly store: Pick<Store, 'getCounter'>;
  /** A store that does not answer within this is as good as down. */
  readonly timeoutMs?: number;
}

const HEALTH_KEY = 'healthz';
export const HEALTH_PATH = '/healthz';

export function createHealthRoute(opts: HealthRouteOptions): RouteDefinition {
  const timeoutMs = opts.timeoutMs ?? 2000;
  return {
    method: 'GET',
    pattern: HEALTH_PATH,
    async handle(req) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), timeoutMs);
      });
      try {
        const answer = await Promise.race([opts.store.getCounter(HEALTH_KEY).then(() => 'ok' as const), timeout]);
        if (answer === 'ok') return json(200, { status: 'ok' }, { 'cache-control': 'no-store' });
        req.log.warn('health check: the store did not answer in time');
      } catch (error) {
        req.log.warn({ err: error }, 'health check: the store failed');
      } finally {
        clearTimeout(timer);
      }
      return json(503, { status: 'unavailable' }, { 'cache-control': 'no-store' });
    },
  };
}
