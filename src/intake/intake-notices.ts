/**
 * What intake says in a pull request's sticky comment (one line each) when it does not run something: an outsider's
 * pull request, a membership that could not be checked, a refused `!testme`. The words are pure; `noticeOnce`
 * remembers the outsider notice per PR so it is said once.
 */
import type { Authorization } from './authorize.ts';
import type { RepoRef } from '../core/types.ts';
import type { ForgeInstallation, PullRequestIntent } from './intents.ts';
import { prKey, type PrDocs } from './intake-pr-head.ts';

export const PR_NOTICE_KIND = 'pr-notice';

export type Notices = (install: ForgeInstallation, repo: RepoRef, pr: number, line: string) => Promise<void>;

/**
 * The notice for a pull request whose author may not run its workflows. A failed membership check is not a "no":
 * it says so (and why) and is not remembered (`once: false`), so a later answer can replace it.
 */
export function unauthorizedAuthorNotice(
  intent: Pick<PullRequestIntent, 'author' | 'repo'>,
  auth: Authorization,
): { readonly line: string; readonly once: boolean } {
  if (auth.undetermined === true)
    return {
      once: false,
      line: `This pull request is from @${intent.author}, whose membership of ${auth.org ?? intent.repo.owner} could not be checked (${auth.reason}): a member can comment \`!testme\` to run its workflows.`,
    };
  const who =
    auth.org !== undefined
      ? `who is not a member of ${auth.org}: a member`
      : `who does not own ${intent.repo.owner}/${intent.repo.name}: @${intent.repo.owner}`;
  return {
    once: true,
    line: `This pull request is from @${intent.author}, ${who} can comment \`!testme\` to run its workflows.`,
  };
}

export function testmeRefusedNotice(commenter: string, why: string): string {
  return `\`!testme\` by @${commenter} was not run: ${why}.`;
}

/** Says a line once per PR. Sent before it is remembered: at worst twice. */
export async function noticeOnce(
  docs: PrDocs,
  notices: Notices,
  intent: PullRequestIntent,
  line: string,
): Promise<void> {
  const key = prKey(intent.repo, intent.pr);
  if ((await docs.store.getDoc(PR_NOTICE_KIND, key)) !== undefined) return;
  await notices(intent.install, intent.repo, intent.pr, line);
  await docs.store.putDoc(PR_NOTICE_KIND, key, { at: intent.at }, { expiresAt: docs.now() + docs.retentionMs });
}
