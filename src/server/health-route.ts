/**
 * `GET /healthz`: 200 when the store answers a cheap read in time and is still the store it started as, 503 with the
 * cause otherwise (load balancers take it out; an operator reads why).
 */
import type { Store } from '../store/store.ts';
import { json, type RouteDefinition } from './router.ts';

export interface HealthRouteOptions {
  readonly store: Pick<Store, 'getCounter'>;
  /** Why the store is not the one it started as (its folder deleted, its database swapped), or undefined. */
  readonly identityProblem?: () => Promise<string | undefined>;
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
      const check = async (): Promise<{ readonly cause?: string }> => {
        // The identity first: a deleted folder still answers reads from LevelDB's open files, or fails as
        // "Database is closed", and either would hide the cause.
        const problem = await opts.identityProblem?.();
        if (problem !== undefined) return { cause: problem };
        await opts.store.getCounter(HEALTH_KEY);
        return {};
      };
      let cause: string;
      try {
        const answer = await Promise.race([check(), timeout]);
        if (answer === 'timeout') cause = 'the store did not answer in time';
        else if (answer.cause === undefined) return json(200, { status: 'ok' }, { 'cache-control': 'no-store' });
        else cause = answer.cause;
      } catch (error) {
        cause = `the store failed: ${error instanceof Error ? error.message : String(error)}`;
      } finally {
        clearTimeout(timer);
      }
      req.log.warn({ cause }, 'health check failed');
      return json(503, { status: 'unavailable', cause }, { 'cache-control': 'no-store' });
    },
  };
}
