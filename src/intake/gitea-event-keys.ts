/**
 * One Gitea event seen twice, by its webhook and by the poll (gitea-poll.ts), runs once. Delivery ids cannot tell
 * (the poll has none, and Gitea's Replay makes a new one), so both paths claim the event by what it is: a branch's
 * new head, a pull request's head, a comment. Whichever path claims first hands its intent to the inbox; the other
 * finds the claim and drops its copy.
 *
 * A claim is a store document that names who took it. A webhook delivery with another id finding the webhook's own
 * claim is a deliberate Replay (Gitea copies the payload into a new hook task) and is processed again, as before the
 * poll existed; finding the poll's claim, it is a duplicate. The poll never takes an event claimed by anyone.
 */
import type { Store } from '../store/store.ts';
import type { OrderIntent } from './intents.ts';

/** The document kind of the event claims. */
export const GITEA_EVENT_KIND = 'gitea-event';

/**
 * How long a claim is kept: past the poll's interval and Gitea's delivery of a late webhook by far (a week, as a
 * delivery claim), so a delayed copy is still recognised.
 */
export const GITEA_EVENT_CLAIM_MS = 7 * 86_400_000;

export type GiteaEventSource = 'webhook' | 'poll';

type EventClaim = {
  readonly by: GiteaEventSource;
  readonly deliveryId: string;
};

/**
 * The event's key, for the events the poll can see: a push to a branch (by ref and new head), a pull request opened
 * or synchronized (by head), closed (by its `closed_at`: each close is another event, whatever the head) or reopened
 * (by pull request alone: a close frees it, see `reopenedKeyFreedBy`), a `!testme` comment (by comment id). Other
 * events (a tag push, an edit, a close without `closed_at`) have none: only the webhook reports them, so there is
 * nothing to de-duplicate.
 */
export function giteaEventKey(intent: OrderIntent): string | undefined {
  const repo = repoKey(intent);
  switch (intent.kind) {
    case 'push':
      return intent.ref.startsWith('refs/heads/') ? `${repo}:push:${intent.ref}:${intent.after}` : undefined;
    case 'pull_request':
      switch (intent.action) {
        case 'opened':
        case 'synchronize':
          return `${repo}:pr:${String(intent.pr)}:${intent.headSha}`;
        case 'closed':
          return intent.closedAt === undefined
            ? undefined
            : `${repo}:pr:${String(intent.pr)}:closed:${String(intent.closedAt)}`;
        case 'reopened':
          return reopenedKey(repo, intent.pr);
        default:
          return undefined;
      }
    case 'testme':
      return `${repo}:comment:${String(intent.commentId)}`;
  }
}

/**
 * The claim a handed-over event frees: a close frees its pull request's `reopened`, so the next reopen (which Gitea
 * tells apart by nothing: no time, and maybe the same head) is an event again. Whichever path hands the close over
 * frees it; the other path finds the close claimed and frees nothing.
 */
export function reopenedKeyFreedBy(intent: OrderIntent): string | undefined {
  return intent.kind === 'pull_request' && intent.action === 'closed'
    ? reopenedKey(repoKey(intent), intent.pr)
    : undefined;
}

function repoKey(intent: OrderIntent): string {
  return `${intent.repo.host}/${intent.repo.owner}/${intent.repo.name}`.toLowerCase();
}

function reopenedKey(repo: string, pr: number): string {
  return `${repo}:pr:${String(pr)}:reopened`;
}

export type EventClaimOutcome = 'claimed' | 'duplicate';

/**
 * Claims the event for `by`. `claimed`: this path hands the intent over (and must `releaseGiteaEvent` if it cannot).
 * A webhook's replay of an event the webhook claimed before is `claimed` too (the claim is left as it was).
 */
export async function claimGiteaEvent(
  store: Pick<Store, 'putDoc' | 'getDoc'>,
  key: string,
  claim: { readonly by: GiteaEventSource; readonly deliveryId: string; readonly now: number },
): Promise<EventClaimOutcome> {
  const value: EventClaim = { by: claim.by, deliveryId: claim.deliveryId };
  const created = await store.putDoc(GITEA_EVENT_KIND, key, value, { expiresAt: claim.now + GITEA_EVENT_CLAIM_MS });
  if (created !== undefined) return 'claimed';
  if (claim.by === 'poll') return 'duplicate';
  const held = (await store.getDoc(GITEA_EVENT_KIND, key))?.value as EventClaim | undefined;
  return held?.by === 'webhook' && held.deliveryId !== claim.deliveryId ? 'claimed' : 'duplicate';
}

/** Frees the `reopened` claim a handed-over close makes new again (`reopenedKeyFreedBy`); nothing for other events. */
export async function freeReopenedClaim(store: Pick<Store, 'deleteDoc'>, intent: OrderIntent): Promise<void> {
  const key = reopenedKeyFreedBy(intent);
  if (key !== undefined) await store.deleteDoc(GITEA_EVENT_KIND, key);
}

/** Frees a claim whose intent could not be stored, so that the other path (or a retry) can take the event. */
export async function releaseGiteaEvent(
  store: Pick<Store, 'getDoc' | 'deleteDoc'>,
  key: string,
  claim: { readonly by: GiteaEventSource; readonly deliveryId: string },
): Promise<void> {
  const held = (await store.getDoc(GITEA_EVENT_KIND, key))?.value as EventClaim | undefined;
  // Only our own claim: a replay must not free the claim of the delivery that stored the event.
  if (held?.by === claim.by && held.deliveryId === claim.deliveryId) await store.deleteDoc(GITEA_EVENT_KIND, key);
}
