/**
 * The inbox's processing of capacity intents (src/intake/inbox.ts leases and retries them like every other intent): a
 * `workflow_job` goes to the manager's job event, Gitea's push path to its push. A launch that fails is an outcome,
 * not a throw (the capacity reconcile retries while the job still waits); a throw (the store is down) is retried by
 * the inbox, and the manager's runner documents make a retry launch nothing twice.
 */
import type { Logger } from 'pino';
import type { CapacityIntent } from '../intake/intents.ts';
import type { CapacityManager, CapacityOutcome } from './capacity-manager.ts';

export async function processCapacityIntent(
  manager: Pick<CapacityManager, 'jobEvent' | 'push'>,
  intent: CapacityIntent,
  log?: Logger,
): Promise<readonly CapacityOutcome[]> {
  const outcomes =
    intent.kind === 'capacity-job'
      ? [await manager.jobEvent(intent.job)]
      : await manager.push({ repo: intent.repo, sha: intent.sha, ref: intent.ref, changedFiles: intent.changedFiles });
  log?.info({ deliveryId: intent.deliveryId, intent: intent.kind, outcomes }, 'capacity intent processed');
  return outcomes;
}
