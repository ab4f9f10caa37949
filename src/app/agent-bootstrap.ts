/**
 * The one-time bootstrap tokens cloud agents get in their user data, shared by `spotcheck serve` and the external
 * watchdog: both launch cloud orders, and the agent exchanges its token with the server either way.
 */
import type { BootstrapMinter } from '../../runners/spot.ts';
import { mintBootstrapToken } from '../server/bootstrap-tokens.ts';
import { AGENT_BOOTSTRAP_PATH } from '../server/bootstrap-route.ts';
import type { Store } from '../store/store.ts';
import { joinUrl } from '../core/url.ts';

/** A token lives for the order's timeout plus half an hour for boot and queueing. */
export function createBootstrapMinter(store: Store, publicUrl: string, now: () => number): BootstrapMinter {
  const url = joinUrl(publicUrl, AGENT_BOOTSTRAP_PATH);
  return async ({ job, order }) => ({
    url,
    token: await mintBootstrapToken(store, 'order', job.ref, (order.timeoutMinutes + 30) * 60_000, now()),
  });
}
