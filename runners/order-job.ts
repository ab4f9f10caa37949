import type { OrderRecord, RunRecord } from '../src/core/types.ts';
import type { OrderJob } from './runner.ts';

/** What an agent gets for an order: the order's own steps and env, the run's context, the needs' results. */
export function buildOrderJob(
  run: RunRecord,
  order: OrderRecord,
  needs: OrderJob['needs'],
  cloneUrl: string,
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
    ...(order.inputs === undefined ? {} : { inputs: order.inputs }),
  };
}
