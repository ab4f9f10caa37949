/** The claim key a webhook route took for an intent's delivery (released when the inbox gives the intent up). */
import { isCapacityIntent, type Intent } from '../intake/intents.ts';
import { capacityDeliveryClaimKey } from './capacity-routes.ts';
import { giteaDeliveryClaimKey, githubDeliveryClaimKey } from './webhook-verify.ts';

/** `githubHost` is the GitHub App's host; without one, no GitHub delivery was claimed here. */
export function deliveryClaimKeyOf(intent: Intent, githubHost: string | undefined): string | undefined {
  if (intent.install.forge === 'gitea') {
    const claimKey = isCapacityIntent(intent) ? capacityDeliveryClaimKey : giteaDeliveryClaimKey;
    return claimKey(intent.install.host, intent.deliveryId);
  }
  return githubHost === undefined ? undefined : githubDeliveryClaimKey(githubHost, intent.deliveryId);
}
