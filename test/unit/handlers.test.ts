import { createRequire } from 'node:module';
import type { EmitterWebhookEvent } from '@octokit/webhooks';
import pino from 'pino';
import { Probot } from 'probot';
import { describe, expect, it } from 'vitest';
import { registerHandlers } from '../../handlers/index.ts';
import {
  toPullRequestIntent,
  toPushIntent,
  toTestmeIntent,
  type Intent,
  type IntentContext,
} from '../../src/intake/intents.ts';

/** GitHub's own example payloads (@octokit/webhooks-examples), copied per case before modification. */
interface ExampleGroup {
  readonly name: string;
  readonly examples: Record<string, unknown>[];
}
const examples = createRequire(import.meta.url)(
  '@octokit/webhooks-examples/api.github.com/index.json',
) as ExampleGroup[];

function example(name: string, pick: (p: Record<string, unknown>) => boolean): Record<string, unknown> {
  const found = examples.find((g) => g.name === name)?.examples.find(pick);
  if (!found) throw new Error(`no ${name} example`);
  return structuredClone(found);
}

const NOW = 1_760_000_000_000;
const CTX: IntentContext = { now: NOW, appSlug: 'spotcheck' };
const ZERO = '0'.repeat(40);

// A branch push delivered to an installation; a tag push; a PR opened; a comment made a PR comment.
const PUSH = example('push', (p) => p['ref'] === 'refs/heads/master' && p['installation'] !== undefined);
const TAG_PUSH = example('push', (p) => p['ref'] === 'refs/tags/simple-tag' && p['deleted'] === false);
const PR = (action: string): Record<string, unknown> =>
  example('pull_request', (p) => p['action'] === action && p['installation'] !== undefined);
/** GitHub's example for `action` where there is one, else the `opened` example with that action. */
const PR_WITH = (action: string): Record<string, unknown> => {
  try {
    return PR(action);
  } catch {
    return { ...PR('opened'), action };
  }
};
function testmeComment(body = '!testme'): Record<string, unknown> {
  const p = example('issue_comment', (x) => x['action'] === 'created' && x['installation'] !== undefined);
  const issue = p['issue'] as Record<string, unknown>;
  issue['pull_request'] = { url: 'https://api.github.com/repos/Codertocat/Hello-World/pulls/1' };
  (p['comment'] as Record<string, unknown>)['body'] = body;
  return p;
}

type Mutate = (p: Record<string, unknown>) => void;
const set =
  (path: string, value: unknown): Mutate =>
  (p) => {
    const keys = path.split('.');
    let at = p;
    for (const k of keys.slice(0, -1)) at = at[k] as Record<string, unknown>;
    at[keys[keys.length - 1]!] = value;
  };

const installationOf = (p: Record<string, unknown>): number => (p['installation'] as { id: number }).id;

const asEvent = <T>(name: string, payload: Record<string, unknown>, id = 'delivery-1'): T =>
  ({ id, name, payload }) as T;

describe('toPushIntent', () => {
  it('a branch push becomes a push intent', () => {
    const result = toPushIntent(asEvent('push', PUSH), CTX);
    expect(result).toEqual({
      kind: 'push',
      deliveryId: 'delivery-1',
      at: NOW,
      install: { forge: 'github', host: 'github.com', installationId: installationOf(PUSH) },
      repo: { forge: 'github', host: 'github.com', owner: 'Codertocat', name: 'Hello-World' },
      ref: 'refs/heads/master',
      before: ZERO,
      after: PUSH['after'],
      pusher: 'Codertocat',
      ownerIsOrg: false,
      repoPrivate: false,
      // GitHub's push payload, whole: `github.event` of the runs.
      event: PUSH,
    });
  });

  it('a tag push is ours too', () => {
    expect(toPushIntent(asEvent('push', TAG_PUSH), CTX)).toMatchObject({ kind: 'push', ref: 'refs/tags/simple-tag' });
  });

  it('an organization-owned repository says so; a GitHub Enterprise host comes from the repository URL', () => {
    const p = structuredClone(PUSH);
    set('repository.owner.type', 'Organization')(p);
    set('repository.html_url', 'https://GHE.example.com/Codertocat/Hello-World')(p);
    expect(toPushIntent(asEvent('push', p), CTX)).toMatchObject({
      ownerIsOrg: true,
      repoPrivate: false,
      install: { host: 'ghe.example.com' },
      repo: { host: 'ghe.example.com' },
    });
  });

  const ignored: [string, Record<string, unknown>, Mutate, string][] = [
    ['a deleted tag (real example)', example('push', (p) => p['deleted'] === true), () => {}, 'the ref was deleted'],
    ['a deleted branch', PUSH, set('deleted', true), 'the ref was deleted'],
    ['after all zeros', PUSH, set('after', ZERO), 'the pushed SHA is all zeros'],
    ['a note ref', PUSH, set('ref', 'refs/notes/commits'), 'not a branch or tag: refs/notes/commits'],
    ['a pull ref', PUSH, set('ref', 'refs/pull/1/head'), 'not a branch or tag: refs/pull/1/head'],
  ];
  it.each(ignored)('ignores %s', (_name, base, mutate, reason) => {
    const p = structuredClone(base);
    mutate(p);
    expect(toPushIntent(asEvent('push', p), CTX)).toEqual({ ignore: reason });
  });
});

describe('toPullRequestIntent', () => {
  // Every activity type becomes an intent carrying it; the workflows' `on.pull_request.types` decide what runs.
  it.each(['opened', 'synchronize', 'reopened', 'closed', 'labeled', 'assigned', 'edited', 'ready_for_review'])(
    '%s becomes a pull_request intent',
    (action) => {
      const p = PR_WITH(action);
      const pr = p['pull_request'] as {
        number: number;
        updated_at: string;
        head: { sha: string; ref: string; repo: { full_name: string } };
        base: { ref: string };
      };
      expect(toPullRequestIntent(asEvent('pull_request', p), CTX)).toEqual({
        kind: 'pull_request',
        deliveryId: 'delivery-1',
        at: Date.parse(pr.updated_at),
        install: { forge: 'github', host: 'github.com', installationId: installationOf(p) },
        repo: { forge: 'github', host: 'github.com', owner: 'Codertocat', name: 'Hello-World' },
        action,
        pr: 2,
        headSha: pr.head.sha,
        headRef: pr.head.ref,
        baseRef: pr.base.ref,
        author: 'Codertocat',
        headRepo: pr.head.repo.full_name,
        ownerIsOrg: false,
        repoPrivate: false,
        event: p,
      });
    },
  );

  const ignored: [string, Record<string, unknown>, string][] = [
    ['an action GitHub does not define', PR_WITH('merged'), 'pull_request action merged is not ours'],
    [
      'a label on a closed pull request',
      { ...PR('labeled'), pull_request: { ...(PR('labeled')['pull_request'] as object), state: 'closed' } },
      'the pull request is not open',
    ],
  ];
  it.each(ignored)('ignores %s', (_name, p, reason) => {
    expect(toPullRequestIntent(asEvent('pull_request', p), CTX)).toEqual({ ignore: reason });
  });

  it('ignores a synchronize of a pull request that is already closed', () => {
    const p = PR('synchronize');
    set('pull_request.state', 'closed')(p);
    expect(toPullRequestIntent(asEvent('pull_request', p), CTX)).toEqual({ ignore: 'the pull request is not open' });
  });

  it('closed of a merged pull request carries its merge commit; unmerged, none', () => {
    const p = PR('closed');
    expect(toPullRequestIntent(asEvent('pull_request', p), CTX)).not.toHaveProperty('mergeSha');
    set('pull_request.merged', true)(p);
    const merge = (p['pull_request'] as { merge_commit_sha: string }).merge_commit_sha;
    expect(toPullRequestIntent(asEvent('pull_request', p), CTX)).toMatchObject({ action: 'closed', mergeSha: merge });
    // Only `closed` runs at the merge commit.
    expect(toPullRequestIntent(asEvent('pull_request', { ...p, action: 'edited' }), CTX)).not.toHaveProperty(
      'mergeSha',
    );
  });

  it('a deleted fork leaves headRepo empty', () => {
    const p = PR('opened');
    set('pull_request.head.repo', null)(p);
    expect(toPullRequestIntent(asEvent('pull_request', p), CTX)).toMatchObject({ headRepo: '' });
  });
});

describe('toTestmeIntent', () => {
  it('an exact `!testme` on an open pull request by a human becomes a testme intent', () => {
    const p = testmeComment('  !testme\n');
    const comment = p['comment'] as { id: number; created_at: string };
    expect(toTestmeIntent(asEvent('issue_comment', p), CTX)).toEqual({
      kind: 'testme',
      deliveryId: 'delivery-1',
      at: NOW,
      install: { forge: 'github', host: 'github.com', installationId: installationOf(p) },
      repo: { forge: 'github', host: 'github.com', owner: 'Codertocat', name: 'Hello-World' },
      pr: 1,
      commentId: comment.id,
      commenter: 'Codertocat',
      commentCreatedAt: Date.parse(comment.created_at),
      ownerIsOrg: false,
      repoPrivate: false,
      event: p,
    });
  });

  const ignored: [string, Mutate, string][] = [
    ['an edited comment', set('action', 'edited'), 'issue_comment action edited is not ours'],
    ['a deleted comment', set('action', 'deleted'), 'issue_comment action deleted is not ours'],
    ['a comment on an issue', set('issue.pull_request', undefined), 'the comment is on an issue, not a pull request'],
    ['a closed pull request', set('issue.state', 'closed'), 'the pull request is not open'],
    ['a bot', set('sender.type', 'Bot'), 'the comment is from a bot'],
    ['the app itself', set('sender.login', 'spotcheck[bot]'), 'the comment is from this app'],
    ['a quoted !testme', set('comment.body', '> !testme'), 'the comment is not exactly !testme'],
    ['a fenced !testme', set('comment.body', '```\n!testme\n```'), 'the comment is not exactly !testme'],
    ['!testme please', set('comment.body', '!testme please'), 'the comment is not exactly !testme'],
    ['an inline-code !testme', set('comment.body', '`!testme`'), 'the comment is not exactly !testme'],
    ['another command', set('comment.body', '!TESTME'), 'the comment is not exactly !testme'],
    ['a normal comment', set('comment.body', 'LGTM'), 'the comment is not exactly !testme'],
  ];
  it.each(ignored)('ignores %s', (_name, mutate, reason) => {
    const p = testmeComment();
    mutate(p);
    expect(toTestmeIntent(asEvent('issue_comment', p), CTX)).toEqual({ ignore: reason });
  });

  it('the real example comments (on an issue) are ignored', () => {
    const p = example('issue_comment', (x) => x['action'] === 'created');
    expect(toTestmeIntent(asEvent('issue_comment', p), CTX)).toEqual({
      ignore: 'the comment is on an issue, not a pull request',
    });
  });
});

describe('registerHandlers (through probot.receive)', () => {
  function setup() {
    const probot = new Probot({ githubToken: 'test-token', log: pino({ level: 'silent' }) });
    const sunk: Intent[] = [];
    registerHandlers(
      probot,
      (intent) => {
        sunk.push(intent);
        return Promise.resolve();
      },
      { appSlug: 'spotcheck', now: () => NOW },
    );
    return { probot, sunk };
  }
  const receive = (probot: Probot, name: string, payload: Record<string, unknown>, id: string) =>
    probot.receive(asEvent<EmitterWebhookEvent>(name, payload, id));

  it('puts exactly the intents that are ours into the sink, with the delivery id', async () => {
    const { probot, sunk } = setup();
    const deletedBranch = structuredClone(PUSH);
    set('deleted', true)(deletedBranch);
    const edited = testmeComment();
    set('action', 'edited')(edited);

    await receive(probot, 'push', PUSH, 'd-push');
    await receive(probot, 'push', deletedBranch, 'd-deleted');
    await receive(probot, 'pull_request', PR('synchronize'), 'd-sync');
    await receive(probot, 'pull_request', PR('labeled'), 'd-labeled');
    await receive(probot, 'pull_request', PR('closed'), 'd-closed');
    await receive(probot, 'issue_comment', testmeComment(), 'd-testme');
    await receive(probot, 'issue_comment', edited, 'd-edited');

    expect(sunk.map((i) => [i.kind, i.deliveryId])).toEqual([
      ['push', 'd-push'],
      ['pull_request', 'd-sync'],
      ['pull_request', 'd-labeled'],
      ['pull_request', 'd-closed'],
      ['testme', 'd-testme'],
    ]);
  });

  it('a sink failure fails the delivery (so the route can answer 500 and GitHub can redeliver)', async () => {
    const probot = new Probot({ githubToken: 'test-token', log: pino({ level: 'silent' }) });
    registerHandlers(probot, () => Promise.reject(new Error('store down')), { appSlug: 'spotcheck' });
    await expect(receive(probot, 'push', PUSH, 'd-1')).rejects.toThrow('store down');
  });
});
