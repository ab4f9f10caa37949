import type { Probot } from 'probot';
import { PULL_REQUEST_ACTIONS, toPullRequestIntent, type Intent } from '../src/intake/intents.ts';
import type { HandlerOptions } from './handler-options.ts';

/** pull_request, every activity type → a pull_request Intent carrying the action (the workflows' `types` decide). */
export function registerPullRequestHandler(
  app: Probot,
  sink: (intent: Intent) => Promise<void>,
  opts: HandlerOptions,
): void {
  app.on(
    PULL_REQUEST_ACTIONS.map((action) => `pull_request.${action}` as const),
    async (context) => {
      const result = toPullRequestIntent(context, { now: opts.now(), appSlug: opts.appSlug });
      if ('ignore' in result) return context.log.debug({ reason: result.ignore }, 'pull_request ignored');
      await sink(result);
    },
  );
}
