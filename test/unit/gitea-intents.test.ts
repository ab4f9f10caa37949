import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { toGiteaIntent, type GiteaIntentContext } from '../../src/intake/gitea-intents.ts';

type Payload = Record<string, unknown>;

/** Gitea's own captures (test/fixtures/gitea/README.md says where they come from). */
function capture(name: string): Payload {
  const url = new URL(`../fixtures/gitea/captured/${name}`, import.meta.url);
  return JSON.parse(readFileSync(url, 'utf8')) as Payload;
}

/** Payloads derived from the captures (test/fixtures/gitea/README.md says how). */
function derived(name: string): Payload {
  return JSON.parse(readFileSync(new URL(`../fixtures/gitea/${name}`, import.meta.url), 'utf8')) as Payload;
}

const pushMulti = capture('push-multi-commit.json');
const pushBranch = capture('push-new-branch.json');
const commentOnPr = capture('issue_comment-on-pr.json');
const testme = derived('issue_comment-testme.json');

const NOW = 1_760_000_000_000;
const ctx: GiteaIntentContext = { deliveryId: 'd-1', now: NOW, host: 'Gitea.Example.org', botLogin: 'spotcheck-bot' };
const install = { forge: 'gitea', host: 'gitea.example.org' } as const;

function with_(base: Payload, path: readonly string[], value: unknown): Payload {
  const copy = structuredClone(base);
  let node: Record<string, unknown> = copy;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string, unknown>;
  const last = path[path.length - 1]!;
  if (value === undefined) delete node[last];
  else node[last] = value;
  return copy;
}

describe('toGiteaIntent: push', () => {
  it('maps the multi-commit capture to a push intent', () => {
    expect(toGiteaIntent('push', pushMulti, ctx)).toEqual({
      kind: 'push',
      deliveryId: 'd-1',
      at: NOW,
      install,
      repo: { forge: 'gitea', host: 'gitea.example.org', owner: 'Test-CI', name: 'multi-line-secrets' },
      ref: 'refs/heads/main',
      before: '6efcf5b7c98f3e7a491675164b7a2e7acac27941',
      after: '29be01c073851cf0db0c6a466e396b725a670453',
      pusher: 'test-user',
      // Gitea's User has no type: the owner's kind is unknown here.
      ownerIsOrg: false,
      repoPrivate: false,
      event: pushMulti,
    });
  });

  it('keeps the zero `before` of a new branch (the intake then treats the changed files as unknown)', () => {
    const intent = toGiteaIntent('push', pushBranch, ctx);
    expect(intent).toMatchObject({
      kind: 'push',
      ref: 'refs/heads/fdsafdsa',
      before: '0'.repeat(40),
      after: '28c3613ae62640216bea5e7dc71aa65356e4298b',
      pusher: '6543',
      repo: { owner: 'meisam', name: 'woodpecktester' },
    });
  });

  it.each([
    ['a tag push', with_(pushMulti, ['ref'], 'refs/tags/v1.0.0'), 'refs/tags/v1.0.0'],
    ['owner and pusher with only the legacy `username`', stripLogins(pushMulti), 'refs/heads/main'],
    [
      'a SHA-256 repository',
      with_(with_(pushMulti, ['after'], 'ab'.repeat(32)), ['before'], 'cd'.repeat(32)),
      'refs/heads/main',
    ],
    ['upper-case hex', with_(pushMulti, ['after'], '29BE01C073851CF0DB0C6A466E396B725A670453'), 'refs/heads/main'],
  ])('accepts %s', (_name, payload, ref) => {
    const intent = toGiteaIntent('push', payload, ctx);
    expect(intent).toMatchObject({ kind: 'push', ref, pusher: 'test-user', repo: { owner: 'Test-CI' } });
    if ('ignore' in intent || intent.kind !== 'push') throw new Error('expected a push intent');
    expect(intent.after).toBe(intent.after.toLowerCase());
  });

  it('takes the sender when the pusher is missing', () => {
    const payload = with_(with_(pushMulti, ['pusher'], undefined), ['sender', 'login'], 'someone');
    expect(toGiteaIntent('push', payload, ctx)).toMatchObject({ pusher: 'someone' });
  });

  it.each([
    ['a zero after (deletion)', with_(pushMulti, ['after'], '0'.repeat(40)), /all zeros/],
    ['a note ref', with_(pushMulti, ['ref'], 'refs/notes/commits'), /not a branch or tag: refs\/notes\/commits/],
    ['no ref', with_(pushMulti, ['ref'], undefined), /no ref/],
    ['a numeric after', with_(pushMulti, ['after'], 42), /no ref, before or after/],
    ['a short after', with_(pushMulti, ['after'], 'abc123'), /not a commit id/],
    ['commits that are not a list', with_(pushMulti, ['commits'], { 0: {} }), /not a list/],
    ['no repository', with_(pushMulti, ['repository'], undefined), /no repository/],
    ['a repository that is a string', with_(pushMulti, ['repository'], 'Test-CI/x'), /no repository/],
    ['an owner with no login', with_(pushMulti, ['repository', 'owner'], { id: 2 }), /no owner login/],
    ['an owner that is a string', with_(pushMulti, ['repository', 'owner'], 'Test-CI'), /no owner login/],
    ['no repository name', with_(pushMulti, ['repository', 'name'], ''), /no name/],
    ['no pusher and no sender', with_(with_(pushMulti, ['pusher'], null), ['sender'], undefined), /no pusher/],
  ])('ignores %s', (_name, payload, reason) => {
    const result = toGiteaIntent('push', payload, ctx);
    expect(result).toEqual({ ignore: expect.stringMatching(reason) as unknown });
  });

  function stripLogins(base: Payload): Payload {
    let p = with_(base, ['repository', 'owner', 'login'], undefined);
    p = with_(p, ['pusher', 'login'], undefined);
    return with_(p, ['sender', 'login'], undefined);
  }
});

describe('toGiteaIntent: delete and other events', () => {
  it("ignores Gitea's delete event for a branch, naming it", () => {
    expect(toGiteaIntent('delete', derived('delete-branch.json'), ctx)).toEqual({
      ignore: 'the branch fdsafdsa was deleted',
    });
  });

  it.each([
    ['delete', { ref_type: 'tag', ref: 'v1' }, 'the tag v1 was deleted'],
    ['delete', {}, 'a ref was deleted'],
    ['create', { ref: 'x', ref_type: 'branch' }, 'a create event: the push for the new ref is what runs'],
    ['issues', { action: 'opened' }, 'the issues event is not ours'],
    ['pull_request_label', { action: 'label_updated' }, 'the pull_request_label event is not ours'],
    ['pull_request_review_comment', { action: 'reviewed' }, 'the pull_request_review_comment event is not ours'],
  ])('%s %j → ignore', (event, payload, reason) => {
    expect(toGiteaIntent(event, payload, ctx)).toEqual({ ignore: reason });
  });

  it.each([null, [], 'push', 42, undefined])(
    'ignores a payload that is not an object (%j), never throws',
    (payload) => {
      for (const event of ['push', 'delete', 'pull_request', 'pull_request_sync', 'issue_comment', 'x']) {
        expect(toGiteaIntent(event, payload, ctx)).toEqual({ ignore: 'the payload is not a JSON object' });
      }
    },
  );

  it('never throws on the captures sent as every event type', () => {
    const events = ['push', 'delete', 'create', 'pull_request', 'pull_request_sync', 'issue_comment'];
    for (const payload of [pushMulti, pushBranch, commentOnPr, testme, derived('pull_request-opened.json')]) {
      for (const event of [...events, 'pull_request_comment']) {
        expect(() => toGiteaIntent(event, payload, ctx)).not.toThrow();
      }
    }
  });
});

describe('toGiteaIntent: pull_request', () => {
  const opened = derived('pull_request-opened.json');
  const synchronized = derived('pull_request-synchronized.json');
  const closed = derived('pull_request-closed.json');

  it.each([
    ['pull_request', opened, 'opened', '29cd95250404bd007c13b03eabe521196bab98a5', '2024-02-22T00:17:55+01:00'],
    [
      'pull_request_sync',
      synchronized,
      'synchronize',
      '29be01c073851cf0db0c6a466e396b725a670453',
      '2024-02-22T00:18:10+01:00',
    ],
    ['pull_request', closed, 'closed', '29be01c073851cf0db0c6a466e396b725a670453', '2024-02-22T00:30:00+01:00'],
    [
      'pull_request',
      with_(opened, ['action'], 'reopened'),
      'reopened',
      '29cd95250404bd007c13b03eabe521196bab98a5',
      '2024-02-22T00:17:55+01:00',
    ],
    [
      'pull_request',
      with_(opened, ['action'], 'edited'),
      'edited',
      '29cd95250404bd007c13b03eabe521196bab98a5',
      '2024-02-22T00:17:55+01:00',
    ],
  ])('%s (%#) → a pull_request intent', (event, payload, action, headSha, updatedAt) => {
    expect(toGiteaIntent(event, payload, ctx)).toEqual({
      kind: 'pull_request',
      deliveryId: 'd-1',
      at: Date.parse(updatedAt),
      install,
      repo: { forge: 'gitea', host: 'gitea.example.org', owner: 'Test-CI', name: 'multi-line-secrets' },
      action,
      pr: 2,
      headSha,
      headRef: 'add-text',
      baseRef: 'main',
      author: 'test-user',
      headRepo: 'Test-CI/multi-line-secrets',
      ownerIsOrg: false,
      repoPrivate: false,
      // A close carries its `closed_at` (its event key); the fixture's is its `updated_at`.
      ...(action === 'closed' ? { closedAt: Date.parse(updatedAt) } : {}),
      // Gitea's payload as it came (its `action` stays Gitea's word there; intake gives the runs GitHub's).
      event: payload,
    });
  });

  it('takes the merge commit of a merged pull request on closed (Gitea: merged, merge_commit_sha)', () => {
    expect(toGiteaIntent('pull_request', closed, ctx)).not.toHaveProperty('mergeSha');
    const merge = 'D'.repeat(40);
    const merged = with_(with_(closed, ['pull_request', 'merged'], true), ['pull_request', 'merge_commit_sha'], merge);
    expect(toGiteaIntent('pull_request', merged, ctx)).toMatchObject({
      action: 'closed',
      mergeSha: merge.toLowerCase(),
    });
    const notAnId = with_(merged, ['pull_request', 'merge_commit_sha'], 'main');
    expect(toGiteaIntent('pull_request', notAnId, ctx)).not.toHaveProperty('mergeSha');
  });

  it('takes pull_request.number when the top-level number is missing, and the receive time without updated_at', () => {
    const payload = with_(with_(opened, ['number'], undefined), ['pull_request', 'updated_at'], undefined);
    expect(toGiteaIntent('pull_request', payload, ctx)).toMatchObject({ pr: 2, at: NOW });
  });

  it('has an empty headRepo when the fork was deleted (head.repo null)', () => {
    const payload = with_(opened, ['pull_request', 'head', 'repo'], null);
    expect(toGiteaIntent('pull_request', payload, ctx)).toMatchObject({ headRepo: '' });
  });

  it.each([
    [
      'label_updated (a pull_request_label event)',
      with_(opened, ['action'], 'label_updated'),
      'pull_request action label_updated is not ours',
    ],
    [
      "GitHub's spelling synchronize",
      with_(opened, ['action'], 'synchronize'),
      'pull_request action synchronize is not ours',
    ],
    ['assigned', with_(opened, ['action'], 'assigned'), 'pull_request action assigned is not ours'],
    ['no action', with_(opened, ['action'], undefined), 'pull_request action (none) is not ours'],
    [
      'a synchronized PR that is closed',
      with_(synchronized, ['pull_request', 'state'], 'closed'),
      'the pull request is not open',
    ],
    ['no pull_request', with_(opened, ['pull_request'], undefined), 'the payload has no pull_request'],
    [
      'no number anywhere',
      with_(with_(opened, ['number'], 0), ['pull_request', 'number'], '2'),
      'the pull request has no number',
    ],
    ['no head sha', with_(opened, ['pull_request', 'head', 'sha'], ''), 'the pull request head has no commit id'],
    ['no head', with_(opened, ['pull_request', 'head'], null), 'the pull request head has no commit id'],
    [
      'no base ref',
      with_(opened, ['pull_request', 'base', 'ref'], undefined),
      'the pull request has no head or base ref',
    ],
    ['no repository owner', with_(opened, ['repository', 'owner'], null), 'the repository has no owner login'],
  ])('ignores %s', (_name, payload, reason) => {
    expect(toGiteaIntent('pull_request', payload, ctx)).toEqual({ ignore: reason });
  });
});

describe('toGiteaIntent: !testme comments', () => {
  const expected = {
    kind: 'testme',
    deliveryId: 'd-1',
    at: NOW,
    install,
    repo: { forge: 'gitea', host: 'gitea.example.org', owner: 'test-user', name: 'gitea-sonarqube-bot' },
    pr: 1,
    commentId: 2,
    commenter: 'test-user',
    commentCreatedAt: Date.parse('2022-05-15T18:57:29Z'),
    ownerIsOrg: false,
    repoPrivate: false,
  };

  it.each([
    ['pull_request_comment', testme],
    // Gitea before 1.17 sent no X-Gitea-Event-Type: the route falls back to X-Gitea-Event.
    ['issue_comment', testme],
    ['issue_comment (is_pull only)', with_(testme, ['issue', 'pull_request'], null)],
    ['issue_comment (issue.pull_request only)', with_(testme, ['is_pull'], undefined)],
    ['issue_comment (top-level pull_request only, Gitea ≥ 1.23)', newerGitea()],
    ['pull_request_comment (padded body)', with_(testme, ['comment', 'body'], '  \n!testme\r\n ')],
  ])('%s → a testme intent', (event, payload) => {
    expect(toGiteaIntent(event.split(' ')[0]!, payload, ctx)).toEqual({ ...expected, event: payload });
  });

  it('takes the comment author, not the sender', () => {
    const payload = with_(testme, ['comment', 'user', 'login'], 'alice');
    expect(toGiteaIntent('pull_request_comment', payload, ctx)).toMatchObject({ commenter: 'alice' });
  });

  it.each([
    ['the capture (/sq-bot review)', 'pull_request_comment', commentOnPr, 'the comment is not exactly !testme'],
    [
      'an edit into !testme',
      'pull_request_comment',
      derived('issue_comment-edited.json'),
      'issue_comment action edited is not ours',
    ],
    [
      'a deleted comment',
      'pull_request_comment',
      with_(testme, ['action'], 'deleted'),
      'issue_comment action deleted is not ours',
    ],
    ['the bot itself', 'pull_request_comment', derived('issue_comment-by-bot.json'), 'the comment is from this bot'],
    [
      'the bot, login in another case',
      'pull_request_comment',
      with_(testme, ['comment', 'user', 'login'], 'SpotCheck-Bot'),
      'the comment is from this bot',
    ],
    [
      'Gitea Actions (id -2)',
      'pull_request_comment',
      with_(with_(testme, ['comment', 'user', 'id'], -2), ['comment', 'user', 'login'], 'gitea-actions'),
      'the comment is from a Gitea system user',
    ],
    [
      'a quoted !testme',
      'pull_request_comment',
      with_(testme, ['comment', 'body'], '> !testme'),
      'the comment is not exactly !testme',
    ],
    [
      '!testme with more words',
      'pull_request_comment',
      with_(testme, ['comment', 'body'], '!testme please'),
      'the comment is not exactly !testme',
    ],
    [
      'a body that is not a string',
      'pull_request_comment',
      with_(testme, ['comment', 'body'], ['!testme']),
      'the comment is not exactly !testme',
    ],
    [
      'a closed pull request',
      'pull_request_comment',
      with_(testme, ['issue', 'state'], 'closed'),
      'the pull request is not open',
    ],
    ['a plain issue', 'issue_comment', plainIssue(), 'the comment is on an issue, not a pull request'],
    [
      'no comment',
      'pull_request_comment',
      with_(testme, ['comment'], undefined),
      'the payload has no issue or comment',
    ],
    [
      'no author at all',
      'pull_request_comment',
      with_(with_(testme, ['comment', 'user'], null), ['sender'], null),
      'the comment has no author',
    ],
    [
      'no comment id',
      'pull_request_comment',
      with_(testme, ['comment', 'id'], undefined),
      'the issue or comment has no number',
    ],
    [
      'no repository',
      'pull_request_comment',
      with_(testme, ['repository'], undefined),
      'the payload has no repository',
    ],
    // An old Gitea's X-Gitea-Event for a review comment: a PullRequestPayload, not a comment.
    [
      'a review (X-Gitea-Event pull_request_comment)',
      'pull_request_comment',
      { ...derived('pull_request-opened.json'), action: 'reviewed' },
      'issue_comment action reviewed is not ours',
    ],
  ])('ignores %s', (_name, event, payload, reason) => {
    expect(toGiteaIntent(event, payload, ctx)).toEqual({ ignore: reason });
  });

  function plainIssue(): Payload {
    return with_(with_(testme, ['is_pull'], false), ['issue', 'pull_request'], null);
  }

  function newerGitea(): Payload {
    const p = with_(with_(testme, ['is_pull'], undefined), ['issue', 'pull_request'], undefined);
    return with_(p, ['pull_request'], derived('pull_request-opened.json')['pull_request']);
  }
});
