import type { Probot } from 'probot';
import { toPushIntent, type Intent } from '../src/intake/intents.ts';
import type { HandlerOptions } from './handler-options.ts';

/** push → a push Intent in the inbox; deletions, zero SHAs and other refs are dropped (src/intake/intents.ts). */
export function registerPushHandler(app: Probot, sink: (intent: Intent) => Promise<void>, opts: HandlerOptions): void {
  app.on('push', async (context) => {
    const result = toPushIntent(context, { now: opts.now(), appSlug: opts.appSlug });
    if ('ignore' in result) return context.log.debug({ reason: result.ignore }, 'push ignored');
    await sink(result);
  });
}
