import { describe, expect, it } from 'vitest';
import { testmeRefusedNotice, unauthorizedAuthorNotice } from '../../src/intake/intake-notices.ts';
import { headMovedSinceComment, headVerdict, prKey } from '../../src/intake/intake-pr-head.ts';
import type { RepoRef } from '../../src/core/types.ts';

const REPO: RepoRef = { forge: 'github', host: 'github.com', owner: 'Acme', name: 'Widgets' };
const T = 1_700_000_000_000;

describe('intake: the recorded pull request head', () => {
  it.each([
    ['nothing recorded yet', undefined, 'aaa', T, 'newer'],
    [
      'the same head (a reopen, a redelivery), even from an older event',
      { sha: 'aaa', at: T },
      'aaa',
      T - 5000,
      'same',
    ],
    ['a later head is recorded: this event came late', { sha: 'bbb', at: T + 1000 }, 'aaa', T, 'stale'],
    ['an older head is recorded', { sha: 'bbb', at: T - 1000 }, 'aaa', T, 'newer'],
    ['another head recorded at the same time', { sha: 'bbb', at: T }, 'aaa', T, 'newer'],
  ] as const)('%s → %s', (_, record, sha, at, expected) => {
    expect(headVerdict(record, sha, at)).toBe(expected);
  });

  it.each([
    ['no head recorded', undefined, false],
    ['the recorded head is current and older than the comment', { sha: 'aaa', at: T - 1000 }, false],
    ['a push not processed yet (the recorded head differs)', { sha: 'bbb', at: T - 1000 }, true],
    ['the head moved after the comment', { sha: 'aaa', at: T + 1000 }, true],
    ['the head moved in the comment’s second (one-second precision)', { sha: 'aaa', at: T }, true],
  ] as const)('!testme: %s → moved %s', (_, record, expected) => {
    expect(headMovedSinceComment(record, 'aaa', T)).toBe(expected);
  });

  it('keys a pull request case-insensitively by forge, host, names and number', () => {
    expect(prKey(REPO, 7)).toBe('github/github.com/acme/widgets#7');
    expect(prKey({ ...REPO, forge: 'gitea', host: 'git.example.org' }, 7)).toBe('gitea/git.example.org/acme/widgets#7');
  });
});

describe('intake: notices', () => {
  const intent = { author: 'outsider', repo: REPO };

  it('an outsider of the org: a member can run it; said once', () => {
    expect(unauthorizedAuthorNotice(intent, { allowed: false, reason: 'not a member', org: 'acme' })).toEqual({
      once: true,
      line: 'This pull request is from @outsider, who is not a member of acme: a member can comment `!testme` to run its workflows.',
    });
  });

  it('a user-owned repository: only its owner can run it; said once', () => {
    expect(unauthorizedAuthorNotice(intent, { allowed: false, reason: 'belongs to a user' })).toEqual({
      once: true,
      line: 'This pull request is from @outsider, who does not own Acme/Widgets: @Acme can comment `!testme` to run its workflows.',
    });
  });

  it('a membership that could not be checked is not a "no": says why, and is not remembered', () => {
    const notice = unauthorizedAuthorNotice(intent, {
      allowed: false,
      reason: 'GitHub answered 502',
      org: 'acme',
      undetermined: true,
    });
    expect(notice.once).toBe(false);
    expect(notice.line).toBe(
      'This pull request is from @outsider, whose membership of acme could not be checked (GitHub answered 502): a member can comment `!testme` to run its workflows.',
    );
  });

  it('a refused !testme names the commenter and the reason', () => {
    expect(testmeRefusedNotice('someone', 'the pull request is not open')).toBe(
      '`!testme` by @someone was not run: the pull request is not open.',
    );
  });
});
