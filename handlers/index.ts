import type { Probot } from 'probot';
import type { Intent } from '../src/intake/intents.ts';
import { registerIssueCommentHandler } from './issue-comment.ts';
import { registerPullRequestHandler } from './pull-request.ts';
import type { HandlerOptions } from './handler-options.ts';
import { registerPushHandler } from './push.ts';

/**
 * Registers the thin handlers of the events that start runs (push, pull_request, `!testme` comments): each only
 * normalises its payload into an Intent and hands it to `sink` (the inbox), with no forge call, so the webhook route
 * answers well inside GitHub's 10-second delivery timeout. Capacity mode's `workflow_job` handler is not one of them:
 * src/app/app.ts (`loadGitHubHandlers`) registers it apart, and it launches or ends its runner before the answer.
 */
export function registerHandlers(
  app: Probot,
  sink: (intent: Intent) => Promise<void>,
  opts: {
    /** The slug, or how to read the one known now (it may be learnt after the handlers are registered). */
    readonly appSlug: string | (() => string);
    readonly now?: () => number;
  },
): void {
  const slug = opts.appSlug;
  const options: HandlerOptions = {
    get appSlug() {
      return typeof slug === 'string' ? slug : slug();
    },
    now: opts.now ?? Date.now,
  };
  registerPushHandler(app, sink, options);
  registerPullRequestHandler(app, sink, options);
  registerIssueCommentHandler(app, sink, options);
}
