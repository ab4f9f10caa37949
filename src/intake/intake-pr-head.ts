/**
 * The pull request head as the bot last saw it, kept in the store so a late event never runs or cancels a newer
 * head's runs, and so `!testme` runs only the head the comment approved (docs/architecture.md "Security model").
 */
import type { RepoRef } from '../core/types.ts';
import type { PullRequestIntent } from './intents.ts';
import type { Store } from '../store/store.ts';

export const PR_HEAD_KIND = 'pr-head';

/** The PR head as the bot last saw it; `at`: the pull request's `updated_at` when the head became this SHA. */
export type PrHeadRecord = {
  readonly sha: string;
  readonly at: number;
};

/** Where intake keeps its per-PR documents, and for how long. */
export interface PrDocs {
  readonly store: Pick<Store, 'getDoc' | 'putDoc'>;
  readonly now: () => number;
  readonly retentionMs: number;
}

/** Store key of a pull request: forge, host and names (case-insensitive on GitHub and Gitea) and number. */
export function prKey(repo: RepoRef, pr: number): string {
  return `${repo.forge}/${repo.host}/${repo.owner}/${repo.name}#${String(pr)}`.toLowerCase();
}

/**
 * How an event's head compares with the recorded one: `same` (a reopen, a redelivery: keep the recorded time),
 * `stale` (a later head is recorded: this event came late), or `newer` (record it).
 */
export function headVerdict(record: PrHeadRecord | undefined, sha: string, at: number): 'same' | 'stale' | 'newer' {
  if (record !== undefined && record.sha === sha) return 'same';
  if (record !== undefined && record.at > at) return 'stale';
  return 'newer';
}

/**
 * Whether the head moved after a `!testme` comment: a recorded head that differs from the current one means a push
 * not processed yet; a recorded current head from after the comment means it moved after the comment. Timestamps
 * have one-second precision, so a push in the comment's second counts as after it.
 */
export function headMovedSinceComment(
  record: PrHeadRecord | undefined,
  currentHead: string,
  commentCreatedAt: number,
): boolean {
  return record !== undefined && (record.sha !== currentHead || record.at >= commentCreatedAt);
}

export async function readHead(docs: PrDocs, repo: RepoRef, pr: number): Promise<PrHeadRecord | undefined> {
  return (await docs.store.getDoc(PR_HEAD_KIND, prKey(repo, pr)))?.value as PrHeadRecord | undefined;
}

/**
 * Records the PR head (from a pull request event, or as a refused `!testme` found it) unless a later one is recorded
 * already (conditional writes, a few tries on a lost race). Answers false when this intent is stale (an older event
 * processed late, e.g. after a retry): it must neither run nor cancel the newer head's runs.
 */
export async function recordHead(
  docs: PrDocs,
  intent: Pick<PullRequestIntent, 'repo' | 'pr' | 'headSha' | 'at'>,
): Promise<boolean> {
  const key = prKey(intent.repo, intent.pr);
  for (let attempt = 0; attempt < 5; attempt++) {
    const existing = await docs.store.getDoc(PR_HEAD_KIND, key);
    const verdict = headVerdict(existing?.value as PrHeadRecord | undefined, intent.headSha, intent.at);
    if (verdict === 'same') return true;
    if (verdict === 'stale') return false;
    const value: PrHeadRecord = { sha: intent.headSha, at: intent.at };
    const written = await docs.store.putDoc(PR_HEAD_KIND, key, value, {
      expiresAt: docs.now() + docs.retentionMs,
      ...(existing === undefined ? {} : { ifVersion: existing.version }),
    });
    if (written !== undefined) return true;
  }
  return false;
}
