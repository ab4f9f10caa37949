/**
 * What happens when the inbox gives up on an intent: the delivery's claim is released and, on a pull request, one
 * notice tells the author how to try again.
 */
import type { Logger } from 'pino';
import type { Store } from '../store/store.ts';
import type { Notices } from './intake.ts';
import { isCapacityIntent, type Intent } from './intents.ts';

export const GIVE_UP_NOTICE =
  'spotcheck could not process this event after several attempts; comment `!testme` to try again.';

export interface GiveUpOptions {
  readonly store: Pick<Store, 'release'>;
  /** The claim the webhook route took for the intent's delivery; undefined when this server took none. */
  readonly claimKeyOf: (intent: Intent) => string | undefined;
  readonly notices: Notices;
  readonly logger: Logger;
}

/** The inbox's `onGiveUp`. */
export function createGiveUp(options: GiveUpOptions): (intent: Intent) => Promise<void> {
  const { store, logger } = options;
  return async (intent) => {
    // The delivery was answered 2xx, so its claim stands and GitHub's "Redeliver" would be answered "duplicate":
    // released, a redelivery reaches the inbox, which takes a given-up intent as a request to try again.
    const claim = options.claimKeyOf(intent);
    if (claim) {
      await store
        .release(claim)
        .catch((error: unknown) => logger.warn({ err: error }, 'cannot release the delivery claim'));
    }
    // A push has no pull request to tell, and capacity mode's jobs are GitHub's or Gitea's own to report.
    if (intent.kind === 'push' || isCapacityIntent(intent)) return;
    await options.notices(intent.install, intent.repo, intent.pr, GIVE_UP_NOTICE);
  };
}
