import type { Probot } from 'probot';
import type { Intent } from '../src/intents.ts';
import { registerIssueCommentHandler } from './issue-comment.ts';
import { registerPullRequestHandler } from './pull-request.ts';
import { registerPushHandler } from './push.ts';

export interface HandlerOptions {
  /** The app's slug: its own comments (`<slug>[bot]`) are never a request. */
  readonly appSlug: string;
  /** Epoch ms; injectable for tests. */
  readonly now: () => number;
}

/**
 * Registers the thin handlers: each only normalises its payload into an Intent and hands it to `sink` (the inbox),
 * with no forge call, so the webhook route answers well inside GitHub's 10-second delivery timeout.
 */
export function registerHandlers(
  app: Probot,
  sink: (intent: Intent) => Promise<void>,
  opts: { readonly appSlug: string; readonly now?: () => number },
): void {
  const options: HandlerOptions = { appSlug: opts.appSlug, now: opts.now ?? Date.now };
  registerPushHandler(app, sink, options);
  registerPullRequestHandler(app, sink, options);
  registerIssueCommentHandler(app, sink, options);
}
