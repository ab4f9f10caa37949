import type { Probot } from 'probot';
import type { Route } from '../runners/runner.ts';
import { toCapacityJobIntent } from '../src/intake/capacity-intents.ts';
import type { Intent } from '../src/intake/intents.ts';

/**
 * workflow_job → capacity mode, through the inbox like every other event: `queued` (when a capacity route claims
 * the job's labels), `in_progress` and `completed` become an intent; the inbox's processing launches, marks busy or
 * ends the runner. Jobs whose labels no route claims are left alone (another runner serves them) and cost no write.
 */
export function registerWorkflowJobHandler(
  app: Probot,
  sink: (intent: Intent) => Promise<void>,
  opts: { readonly host: string; readonly routes: ReadonlyMap<string, Route>; readonly now: () => number },
): void {
  app.on('workflow_job', async (context) => {
    const result = toCapacityJobIntent(context.payload, {
      forge: 'github',
      host: opts.host,
      deliveryId: context.id,
      now: opts.now(),
      routes: opts.routes,
    });
    if ('ignore' in result) return context.log.debug({ reason: result.ignore }, 'workflow_job ignored');
    await sink(result);
  });
}
