import type { Probot } from 'probot';
import { toTestmeIntent, type Intent } from '../src/intake/intents.ts';
import type { HandlerOptions } from './handler-options.ts';

/** issue_comment.created `!testme` on an open PR by a human → a testme Intent; edits are not subscribed. */
export function registerIssueCommentHandler(
  app: Probot,
  sink: (intent: Intent) => Promise<void>,
  opts: HandlerOptions,
): void {
  app.on('issue_comment.created', async (context) => {
    const result = toTestmeIntent(context, { now: opts.now(), appSlug: opts.appSlug });
    if ('ignore' in result) return context.log.debug({ reason: result.ignore }, 'issue_comment ignored');
    await sink(result);
  });
}
