import { describe, expect, it } from 'vitest';
import type { PolledComment, PolledPull, PolledPullState, PolledRepo } from '../../src/forges/gitea-poll-source.ts';
import { giteaEventKey, reopenedKeyFreedBy } from '../../src/intake/gitea-event-keys.ts';
import {
  diffGiteaRepo,
  GITEA_POLL_OVERLAP_MS,
  pullsToConfirm,
  type GiteaPollState,
  type GiteaRepoSnapshot,
} from '../../src/intake/gitea-poll-diff.ts';

const HOST = 'gitea.example.org';
const REPO: PolledRepo = { owner: 'acme', name: 'widgets', private: false };
const CTX = { host: HOST, botLogin: 'spotcheck-bot', now: 1_800_000_000_000 };
const T = 1_799_999_000_000;
const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const C = 'c'.repeat(40);

function pull(number: number, headSha: string, overrides: Partial<PolledPull> = {}): PolledPull {
  return {
    number,
    headSha,
    headRef: `feature-${String(number)}`,
    baseRef: 'main',
    author: 'alice',
    headRepo: 'acme/widgets',
    createdAt: T,
    updatedAt: T + 5_000,
    ...overrides,
  };
}

function comment(
  id: number,
  overrides: { [K in keyof PolledComment]?: PolledComment[K] | undefined } = {},
): PolledComment {
  const { pr, ...rest } = {
    id,
    pr: 7,
    author: { login: 'alice', id: 3 },
    body: '!testme',
    createdAt: T + 10_000,
    ...overrides,
  };
  return { ...(rest as Omit<PolledComment, 'pr'>), ...(pr === undefined ? {} : { pr }) };
}

function snapshot(
  overrides: { [K in keyof GiteaRepoSnapshot]?: GiteaRepoSnapshot[K] | undefined } = {},
): GiteaRepoSnapshot {
  const { comments, ...rest } = {
    repo: REPO,
    branches: { items: [{ name: 'main', sha: A, committer: 'alice' }], complete: true },
    pulls: { items: [], complete: true },
    comments: { items: [], complete: true },
    at: T + 60_000,
    ...overrides,
  };
  return { ...(rest as Omit<GiteaRepoSnapshot, 'comments'>), ...(comments === undefined ? {} : { comments }) };
}

const STATE: GiteaPollState = { branches: { main: A }, pulls: {}, commentsFrom: T, polledAt: T };

describe('diffGiteaRepo', () => {
  it('records the first poll without running anything', () => {
    const diff = diffGiteaRepo(
      undefined,
      snapshot({ pulls: { items: [pull(7, B)], complete: true }, comments: undefined }),
      CTX,
    );
    expect(diff.events).toEqual([]);
    expect(diff.state).toEqual({
      branches: { main: A },
      pulls: { '7': B },
      closed: {},
      commentsFrom: T + 60_000,
      polledAt: T + 60_000,
    });
  });

  it('runs nothing when nothing moved', () => {
    expect(diffGiteaRepo(STATE, snapshot(), CTX).events).toEqual([]);
  });

  it('makes a push from a branch head that moved, before = the head seen last', () => {
    const diff = diffGiteaRepo(
      STATE,
      snapshot({ branches: { items: [{ name: 'main', sha: B, committer: 'bob' }], complete: true } }),
      CTX,
    );
    expect(diff.events).toHaveLength(1);
    expect(diff.events[0]!.intent).toMatchObject({
      kind: 'push',
      repo: { forge: 'gitea', host: HOST, owner: 'acme', name: 'widgets' },
      ref: 'refs/heads/main',
      before: A,
      after: B,
      pusher: 'bob',
      repoPrivate: false,
    });
    expect(diff.events[0]!.key).toBe(`${HOST}/acme/widgets:push:refs/heads/main:${B}`);
    expect(diff.state.branches).toEqual({ main: B });
  });

  it('makes a new-branch push (zero before) only when the branch listing was complete', () => {
    const both = [
      { name: 'main', sha: A, committer: 'alice' },
      { name: 'topic', sha: C, committer: 'alice' },
    ];
    const complete = diffGiteaRepo(STATE, snapshot({ branches: { items: both, complete: true } }), CTX);
    expect(complete.events.map((e) => e.intent)).toMatchObject([{ kind: 'push', before: '0'.repeat(40), after: C }]);
    const cut = diffGiteaRepo(STATE, snapshot({ branches: { items: both, complete: false } }), CTX);
    expect(cut.events).toEqual([]);
    expect(cut.state.branches).toEqual({ main: A, topic: C });
  });

  it('forgets a deleted branch after a complete listing, keeps it after a cut-short one', () => {
    const state = { ...STATE, branches: { main: A, gone: B } };
    expect(diffGiteaRepo(state, snapshot(), CTX).state.branches).toEqual({ main: A });
    const cut = snapshot({ branches: { items: [{ name: 'main', sha: A, committer: 'a' }], complete: false } });
    expect(diffGiteaRepo(state, cut, CTX).state.branches).toEqual({ gone: B, main: A });
  });

  it('makes pull_request synchronize for a head that moved, opened for a new pull request', () => {
    const state = { ...STATE, pulls: { '7': A } };
    const diff = diffGiteaRepo(
      state,
      snapshot({ pulls: { items: [pull(7, B), pull(8, C, { createdAt: T + 30_000 })], complete: true } }),
      CTX,
    );
    expect(diff.events.map((e) => [e.intent.kind, (e.intent as { action?: string }).action, e.key])).toEqual([
      ['pull_request', 'synchronize', `${HOST}/acme/widgets:pr:7:${B}`],
      ['pull_request', 'opened', `${HOST}/acme/widgets:pr:8:${C}`],
    ]);
    expect(diff.events[0]!.intent).toMatchObject({
      pr: 7,
      headSha: B,
      headRef: 'feature-7',
      baseRef: 'main',
      author: 'alice',
      at: T + 5_000,
    });
    expect(diff.state.pulls).toEqual({ '7': B, '8': C });
  });

  it('does not open a pull request created before the last poll (reopened, or listed again)', () => {
    const old = pull(9, C, { createdAt: T - GITEA_POLL_OVERLAP_MS - 1 });
    const diff = diffGiteaRepo(STATE, snapshot({ pulls: { items: [old], complete: true } }), CTX);
    expect(diff.events).toEqual([]);
    expect(diff.state.pulls).toEqual({ '9': C });
  });

  describe('closed and reopened pull requests', () => {
    const CLOSED_AT = T + 40_000;
    const read = (number: number, headSha: string, state: 'open' | 'closed'): PolledPullState => ({
      ...pull(number, headSha),
      state,
      merged: false,
      ...(state === 'closed' ? { closedAt: CLOSED_AT } : {}),
    });

    it('reads by number the pull requests open last time and not listed now, a few at a time', () => {
      const state = { ...STATE, pulls: { '3': A, '4': A, '5': A, '6': A } };
      const listing = { items: [pull(4, A)], complete: false };
      expect(pullsToConfirm(state, listing, 2)).toEqual([3, 5]);
      expect(pullsToConfirm(undefined, listing, 2)).toEqual([]);
    });

    it('makes closed from one read closed, keyed by its closed_at, and remembers it', () => {
      const state = { ...STATE, pulls: { '7': A, '8': B } };
      const diff = diffGiteaRepo(
        state,
        snapshot({
          pulls: { items: [pull(8, B)], complete: true },
          confirmed: [{ number: 7, pull: read(7, A, 'closed') }],
        }),
        CTX,
      );
      expect(diff.events.map((e) => e.key)).toEqual([`${HOST}/acme/widgets:pr:7:closed:${String(CLOSED_AT)}`]);
      expect(diff.events[0]!.intent).toMatchObject({ kind: 'pull_request', action: 'closed', pr: 7, headSha: A });
      expect(reopenedKeyFreedBy(diff.events[0]!.intent)).toBe(`${HOST}/acme/widgets:pr:7:reopened`);
      expect(diff.state.pulls).toEqual({ '8': B });
      expect(diff.state.closed).toEqual({ '7': CLOSED_AT });
    });

    it('keeps one read open (only left out of the listing) and one not read yet; forgets one gone', () => {
      const state = { ...STATE, pulls: { '7': A, '8': B, '9': C } };
      const diff = diffGiteaRepo(
        state,
        snapshot({
          pulls: { items: [], complete: false },
          confirmed: [
            { number: 7, pull: read(7, A, 'open') },
            { number: 8, pull: undefined },
          ],
        }),
        CTX,
      );
      expect(diff.events).toEqual([]);
      expect(diff.state.pulls).toEqual({ '9': C, '7': A });
      expect(diff.state.closed).toEqual({});
    });

    it('makes reopened from a recently closed one listed open again, once per close', () => {
      const state = { ...STATE, pulls: {}, closed: { '7': CLOSED_AT } };
      const listed = snapshot({ pulls: { items: [pull(7, A)], complete: true } });
      const diff = diffGiteaRepo(state, listed, CTX);
      expect(diff.events.map((e) => [(e.intent as { action?: string }).action, e.key])).toEqual([
        ['reopened', `${HOST}/acme/widgets:pr:7:reopened`],
      ]);
      expect(diff.state).toMatchObject({ pulls: { '7': A }, closed: {} });
      expect(diffGiteaRepo(diff.state, listed, CTX).events).toEqual([]);
      // Another close and reopen at the same head: another delivery.
      const again = diffGiteaRepo({ ...state, closed: { '7': CLOSED_AT + 1000 } }, listed, CTX);
      expect(again.events[0]!.intent.deliveryId).not.toBe(diff.events[0]!.intent.deliveryId);
    });
  });

  it('makes a testme intent from a new !testme comment on an open pull request', () => {
    const diff = diffGiteaRepo(
      { ...STATE, pulls: { '7': A } },
      snapshot({ pulls: { items: [pull(7, A)], complete: true }, comments: { items: [comment(41)], complete: true } }),
      CTX,
    );
    expect(diff.events).toHaveLength(1);
    expect(diff.events[0]!.intent).toMatchObject({
      kind: 'testme',
      pr: 7,
      commentId: 41,
      commenter: 'alice',
      commentCreatedAt: T + 10_000,
    });
    expect(diff.events[0]!.key).toBe(`${HOST}/acme/widgets:comment:41`);
  });

  it.each([
    ['not exactly !testme', comment(42, { body: 'please !testme' }), 'not exactly !testme'],
    ["the bot's own", comment(43, { author: { login: 'Spotcheck-Bot', id: 2 } }), 'from this bot'],
    ['a Gitea system user', comment(44, { author: { login: 'gitea-actions', id: -2 } }), 'system user'],
    ['on a closed pull request', comment(45, { pr: 99 }), 'not open'],
    ['without an author', comment(46, { author: undefined }), 'no author'],
  ])('ignores a comment %s (the webhook path’s reason)', (_name, c, reason) => {
    const diff = diffGiteaRepo(
      { ...STATE, pulls: { '7': A } },
      snapshot({ pulls: { items: [pull(7, A)], complete: true }, comments: { items: [c], complete: true } }),
      CTX,
    );
    expect(diff.events).toEqual([]);
    expect(diff.ignored.join('\n')).toContain(reason);
  });

  it('ignores a comment created before the window (an old comment edited into !testme) and one on an issue', () => {
    const diff = diffGiteaRepo(
      { ...STATE, pulls: { '7': A }, commentsFrom: T + 20_000 },
      snapshot({
        pulls: { items: [pull(7, A)], complete: true },
        comments: { items: [comment(47), comment(48, { pr: undefined, createdAt: T + 30_000 })], complete: true },
      }),
      CTX,
    );
    expect(diff.events).toEqual([]);
  });

  it('moves the comment window to a little before now, or to the newest comment reached when cut short', () => {
    const complete = diffGiteaRepo(STATE, snapshot(), CTX);
    expect(complete.state.commentsFrom).toBe(T + 60_000 - GITEA_POLL_OVERLAP_MS);
    const cut = diffGiteaRepo(
      STATE,
      snapshot({
        comments: {
          items: [comment(50, { createdAt: T + 1_000 }), comment(51, { createdAt: T + 2_000 })],
          complete: false,
        },
      }),
      CTX,
    );
    expect(cut.state.commentsFrom).toBe(T + 2_000);
  });

  it('gives each event the same delivery id each time it is seen', () => {
    const moved = snapshot({ branches: { items: [{ name: 'main', sha: B, committer: 'bob' }], complete: true } });
    const first = diffGiteaRepo(STATE, moved, CTX).events[0]!.intent.deliveryId;
    expect(diffGiteaRepo(STATE, moved, { ...CTX, now: CTX.now + 1 }).events[0]!.intent.deliveryId).toBe(first);
    expect(first).toMatch(/^poll-push-[0-9a-f]{32}$/);
  });
});

describe('giteaEventKey', () => {
  it('has no key for events only the webhook reports (a tag push, an edit, a close without closed_at)', () => {
    const base = {
      deliveryId: 'd',
      at: 0,
      install: { forge: 'gitea' as const, host: HOST },
      repo: { forge: 'gitea' as const, host: HOST, owner: 'Acme', name: 'Widgets' },
      ownerIsOrg: false,
    };
    expect(
      giteaEventKey({ ...base, kind: 'push', ref: 'refs/tags/v1', before: A, after: B, pusher: 'a' }),
    ).toBeUndefined();
    const pr = {
      ...base,
      kind: 'pull_request' as const,
      pr: 1,
      headSha: A,
      headRef: 'x',
      baseRef: 'main',
      author: 'a',
      headRepo: '',
    };
    expect(giteaEventKey({ ...pr, action: 'edited' })).toBeUndefined();
    expect(giteaEventKey({ ...pr, action: 'closed' })).toBeUndefined();
    expect(giteaEventKey({ ...pr, action: 'closed', closedAt: 5000 })).toBe(`${HOST}/acme/widgets:pr:1:closed:5000`);
    expect(giteaEventKey({ ...pr, action: 'reopened' })).toBe(`${HOST}/acme/widgets:pr:1:reopened`);
    expect(giteaEventKey({ ...pr, action: 'synchronize' })).toBe(`${HOST}/acme/widgets:pr:1:${A}`);
  });
});
