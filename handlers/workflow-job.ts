import type { Probot } from 'probot';
import { toCapacityJobEvent } from '../src/capacity/capacity-events.ts';
import type { CapacityManager } from '../src/capacity/capacity-manager.ts';

/**
 * workflow_job → capacity mode: `queued` launches one ephemeral runner when a capacity route claims the job's labels,
 * `in_progress` marks our runner busy, `completed` ends it. Jobs whose labels no route claims are left alone (another
 * runner serves them). A failed launch is not thrown: the reconcile retries while the job still waits.
 */
export function registerWorkflowJobHandler(
  app: Probot,
  manager: Pick<CapacityManager, 'jobEvent'>,
  opts: { readonly host: string },
): void {
  app.on('workflow_job', async (context) => {
    const event = toCapacityJobEvent('github', opts.host, context.payload);
    if ('ignore' in event) return context.log.debug({ reason: event.ignore }, 'workflow_job ignored');
    const outcome = await manager.jobEvent(event);
    context.log.info({ jobId: event.jobId, action: event.action, outcome }, 'workflow_job');
  });
}
