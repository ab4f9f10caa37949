import type { OrderRecord, RunRecord } from '../src/core/types.ts';
import type { ActionsSource, ForgeUrls, OrderJob } from './runner.ts';

/** What only the job an agent holds carries: the order's token, and where the forge is. */
export interface OrderAccess {
  readonly token?: string | undefined;
  readonly forgeUrls?: ForgeUrls | undefined;
  /** The ID token request URL and bearer token, for a job whose permissions grant `id-token: write`. */
  readonly idToken?: OrderJob['idToken'] | undefined;
}

/**
 * What an agent gets for an order: the order's own steps and env, the run's context, the needs' results, and where
 * its actions come from (`actionsSourceFor`; with a token only in a job that no launch's user data carries).
 */
export function buildOrderJob(
  run: RunRecord,
  order: OrderRecord,
  needs: OrderJob['needs'],
  cloneUrl: string,
  actionsSource?: ActionsSource,
  access: OrderAccess = {},
): OrderJob {
  return {
    ref: { runId: run.runId, orderId: order.id, attempt: order.attempt },
    repository: run.github.repository,
    cloneUrl,
    sha: run.sha,
    github: run.github,
    matrix: order.matrix,
    needs,
    env: order.env,
    steps: order.steps,
    outputExprs: order.outputExprs,
    timeoutMinutes: order.timeoutMinutes,
    ...(order.strategy === undefined ? {} : { strategy: order.strategy }),
    ...(actionsSource === undefined ? {} : { actionsSource }),
    ...(run.vars === undefined ? {} : { vars: run.vars }),
    ...(order.inputs === undefined ? {} : { inputs: order.inputs }),
    ...(access.forgeUrls === undefined ? {} : { forgeUrls: access.forgeUrls }),
    ...(access.token === undefined ? {} : { token: access.token }),
    ...(access.idToken === undefined ? {} : { idToken: access.idToken }),
  };
}
