/**
 * The stories both forges' end-to-end tests tell, written once: a server started for one forge, deliveries signed as
 * that forge signs them, and that forge's API answered by its description-checked stand-in. A harness per forge
 * (in github-app-pr.test.ts and gitea-app.test.ts) says how to deliver an event, how the stand-in answers and how to
 * read what the forge received; forge-specific cases (payload quirks, signature formats, redirects) stay in the
 * per-forge files.
 */
import { describe, expect, it } from 'vitest';
import type { SpotcheckServer } from '../../src/app/start-server.ts';
import { COMMENT_MARKER } from '../../src/core/render/comment.ts';
import type { RunRecord } from '../../src/core/types.ts';
import { PR_WORKFLOW, TESTME_WORKFLOW } from '../helpers/e2e-repo.ts';

/** A way the forge's membership check fails, and the one-line reason the bot gives for it. */
export interface MembershipFailure {
  readonly label: string;
  /** Sets up the failing answers for `user`'s membership. */
  fail(user: string): void;
  /** How many times the bot asks (GitHub: Probot's first try and 3 retries). */
  readonly attempts: number;
  readonly reason: string;
}

export interface ForgeScenarioHarness {
  /** The organization owning the repository, a member of it, an outsider, and another bot (not this one). */
  readonly org: string;
  readonly member: string;
  readonly outsider: string;
  readonly otherBot: string;
  /** The pull request every delivery is about. */
  readonly pr: number;
  /** The temporary repository's first commit (the PR's head) and second (the head after a push). */
  head(): string;
  moved(): string;
  start(): Promise<SpotcheckServer>;
  /** The server as the ignored-comments story starts it (Gitea: without GITEA_BOT_LOGIN, read once at start-up). */
  startForComments(): Promise<SpotcheckServer>;

  // Deliveries, each answered 202 (accepted and persisted). `at`: the PR's `updated_at` or the comment's `created_at`
  // (by default the forge's own: now on GitHub, the capture's on Gitea).
  pullRequestOpened(s: SpotcheckServer, author: string, sha: string, at?: number): Promise<void>;
  pullRequestPushed(s: SpotcheckServer, author: string, sha: string): Promise<void>;
  testmeComment(s: SpotcheckServer, by: string, at?: number): Promise<void>;
  /**
   * Deliveries of comments that are not a `!testme` request, each at least an edited one, one by a bot (this one
   * among them) and one whose body is not exactly `!testme`; each checks its own answer (GitHub: 202, dropped later;
   * Gitea: 200 with the reason it was ignored).
   */
  ignoredComments(): readonly ((s: SpotcheckServer) => Promise<void>)[];

  // The forge's side: each call sets up answers that must be used.
  /** What the forge is asked before anything else (GitHub: the installation token; Gitea: whether the owner is an org). */
  authorization(): void;
  membership(user: string, answer: 'member' | 'not-member'): void;
  /** The ways this forge's membership check can fail: each denies (an error is never a yes). */
  readonly membershipFailures: readonly MembershipFailure[];
  /** The 👀 reaction on the `!testme` comment. */
  reaction(): void;
  /** The pull request as the forge answers it when asked (open, at `sha`, by `author`). */
  pullRequest(sha: string, author: string): void;
  /** The PR's comment listing (with these comments, none written by this bot) and the creation of the sticky comment. */
  commentsThenCreate(existing?: readonly { id: number; login: string; body: string }[]): void;
  /** Edits of the sticky comment, at most `max` (the count is asserted by the scenario). */
  editsComment(max: number): void;
  /** The workflow listing and each file's text at `sha`. */
  workflows(sha: string, files: Record<string, string>): void;
  /** The PR's changed files (README.md). */
  pullRequestFiles(): void;
  /** `count` commit statuses created at `sha`. */
  statuses(sha: string, count: number): void;

  // What the forge received.
  requests(): readonly { readonly method: string; readonly path: string }[];
  commentWrites(): { method: string; body: string }[];
  /** Edits of the comment `id` (one not written by this bot must never be edited). */
  editsOf(id: number): number;
  /** The states written per status context, in order. */
  statusesByContext(): Record<string, string[]>;
  count(
    what:
      | 'statuses'
      | 'workflow reads'
      | 'pull request reads'
      | 'authorizations'
      | 'membership checks'
      /** Redirects to the public members followed (never: they answer for public membership only). */
      | 'public membership reads'
      /** Every read but the comment listing (GitHub: with the installation token's POST). */
      | 'reads',
  ): number;
}

async function settle(s: SpotcheckServer, done: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; i < 400 && !(await done()); i++) {
    await s.idle();
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  await s.idle();
}

async function allRuns(s: SpotcheckServer): Promise<RunRecord[]> {
  return s.store.listRuns({ limit: 100 });
}

async function runsFinished(s: SpotcheckServer, n: number): Promise<boolean> {
  const runs = await allRuns(s);
  return runs.length === n && runs.every((r) => ['succeeded', 'failed', 'cancelled'].includes(r.status));
}

export function defineForgeScenarios(forge: string, h: ForgeScenarioHarness): void {
  describe(`${forge}: the stories both forges tell, end to end`, () => {
    it('a PR opened by an org member runs its pull_request workflows; statuses; the sticky comment created then edited', async () => {
      const s = await h.start();
      h.authorization();
      h.membership(h.member, 'member');
      h.workflows(h.head(), { 'pr.yml': PR_WORKFLOW, 'testme.yml': TESTME_WORKFLOW });
      h.pullRequestFiles();
      h.statuses(h.head(), 4);
      // Two comments carry the marker, neither written by this bot: a user's and another bot's. Neither is edited.
      h.commentsThenCreate([
        { id: 11, login: h.member, body: `${COMMENT_MARKER}\nlooks like spotcheck` },
        { id: 12, login: h.otherBot, body: `${COMMENT_MARKER}\nalso not spotcheck` },
      ]);
      const waves = 2;
      h.editsComment(waves + 2 - 1);

      await h.pullRequestOpened(s, h.member, h.head());
      await settle(s, () => h.count('statuses') >= 4);
      await settle(s, () => runsFinished(s, 1));

      const runs = await allRuns(s);
      expect(runs.map((r) => [r.workflowName, r.event, r.sha, r.pr, r.actor, r.status])).toEqual([
        ['pr', 'pull_request', h.head(), h.pr, h.member, 'succeeded'],
      ]);
      expect(h.statusesByContext()).toEqual({
        'spotcheck/pr/build': ['pending', 'success'],
        'spotcheck/pr/test': ['pending', 'success'],
      });
      // The authorizer asked the forge once (GitHub: the installation token; Gitea: whether the owner is an org),
      // then for the membership, once.
      expect(h.count('authorizations')).toBe(1);
      expect(h.count('membership checks')).toBe(1);
      // Reading and planning: that first request, the membership, the listing, W = 2 files, the PR's files.
      expect(h.count('reads')).toBe(1 + 1 + 1 + 2 + 1);
      const writes = h.commentWrites();
      expect(writes[0]?.method).toBe('POST');
      expect(writes.filter((w) => w.method === 'POST')).toHaveLength(1);
      expect(writes.length).toBeGreaterThanOrEqual(2);
      expect(writes.length).toBeLessThanOrEqual(waves + 2);
      expect(h.editsOf(11) + h.editsOf(12)).toBe(0);
      const last = writes.at(-1)!.body;
      expect(last.startsWith(COMMENT_MARKER)).toBe(true);
      expect(last).toContain('| State | Order |');
      expect(last).toMatch(/\| [^|]* succeeded \| build \|/);
      expect(last).toMatch(/\| [^|]* succeeded \| test \|/);
      expect(last).not.toContain('queued');
    });

    it('!testme by a member on a non-member PR: 👀 at once, testme + pull_request workflows at the head', async () => {
      const s = await h.start();
      const t = Date.now() - 120_000;
      h.authorization();
      h.membership(h.outsider, 'not-member');
      h.commentsThenCreate();
      await h.pullRequestOpened(s, h.outsider, h.head(), t);
      await settle(s, () => h.commentWrites().length >= 1);
      const before = h.requests().length;

      h.reaction();
      h.membership(h.member, 'member');
      h.pullRequest(h.head(), h.outsider);
      h.workflows(h.head(), { 'pr.yml': PR_WORKFLOW, 'testme.yml': TESTME_WORKFLOW });
      h.pullRequestFiles();
      h.statuses(h.head(), 6);
      // Two runs of 2 and 1 waves: at most (2 + 2) + (1 + 2) renders, each an edit of the notice comment.
      h.editsComment(7);
      await h.testmeComment(s, h.member, t + 30_000);
      await settle(s, () => h.count('statuses') >= 6);
      await settle(s, () => runsFinished(s, 2));

      // The reaction is the first request the comment causes, before the membership check.
      const requests = h.requests();
      expect(requests[before]?.path).toMatch(/\/issues\/comments\/\d+\/reactions$/);
      const membershipCheck = requests.findIndex((r) => r.path.endsWith(`/members/${h.member}`));
      expect(membershipCheck).toBeGreaterThan(before);
      const runs = await allRuns(s);
      expect(runs.map((r) => [r.workflowName, r.event, r.sha, r.pr, r.actor, r.status]).sort()).toEqual([
        ['e2e', 'testme', h.head(), h.pr, h.member, 'succeeded'],
        ['pr', 'pull_request', h.head(), h.pr, h.member, 'succeeded'],
      ]);
      expect(h.statusesByContext()).toEqual({
        'spotcheck/e2e/e2e': ['pending', 'success'],
        'spotcheck/pr/build': ['pending', 'success'],
        'spotcheck/pr/test': ['pending', 'success'],
      });
      const writes = h.commentWrites();
      expect(writes.filter((w) => w.method === 'POST')).toHaveLength(1);
      const last = writes.at(-1)!.body;
      expect(last.startsWith(COMMENT_MARKER)).toBe(true);
      // The runs replaced the notice.
      expect(last).not.toContain('can comment `!testme`');
      expect(last).toMatch(/\| [^|]* succeeded \| e2e \|/);
      expect(last).toMatch(/\| [^|]* succeeded \| test \|/);
    });

    it('comments that are not a !testme request (edited, by a bot, not exactly !testme) make no request and run nothing', async () => {
      const s = await h.startForComments();
      const before = h.requests().length;

      for (const deliver of h.ignoredComments()) await deliver(s);
      await s.idle();
      await s.tick();
      await s.idle();

      expect(h.requests().slice(before)).toEqual([]);
      expect(await allRuns(s)).toEqual([]);
    });

    for (const f of h.membershipFailures) {
      it(`the membership check fails (${f.label}): a member's PR is denied, the comment says the check could not be made`, async () => {
        const s = await h.start();
        h.authorization();
        f.fail(h.member);
        h.commentsThenCreate();

        await h.pullRequestOpened(s, h.member, h.head());
        await settle(s, () => h.commentWrites().length >= 1);

        expect(h.count('membership checks')).toBe(f.attempts);
        expect(h.count('public membership reads')).toBe(0);
        expect(await allRuns(s)).toEqual([]);
        expect(h.count('workflow reads')).toBe(0);
        expect(h.count('statuses')).toBe(0);
        const [write] = h.commentWrites();
        expect(write!.body).toContain(`@${h.member}, whose membership of ${h.org} could not be checked (${f.reason})`);
        expect(write!.body).not.toContain('who is not a member');
      });

      it(`the membership check fails (${f.label}): !testme is refused with the reason, in one line`, async () => {
        const s = await h.start();
        h.reaction();
        h.authorization();
        f.fail(h.member);
        h.commentsThenCreate();

        await h.testmeComment(s, h.member);
        await settle(s, () => h.commentWrites().length >= 1);

        expect(h.count('membership checks')).toBe(f.attempts);
        expect(await allRuns(s)).toEqual([]);
        expect(h.commentWrites()[0]!.body.split('\n')[1]).toBe(`\`!testme\` by @${h.member} was not run: ${f.reason}.`);
      });
    }

    it('a PR opened by a non-member runs nothing; one comment says a member can comment !testme, once', async () => {
      const s = await h.start();
      h.authorization();
      h.membership(h.outsider, 'not-member');
      h.commentsThenCreate();

      await h.pullRequestOpened(s, h.outsider, h.head());
      await settle(s, () => h.commentWrites().length >= 1);
      // A push to the PR: the notice is not repeated, and the membership answer is reused.
      await h.pullRequestPushed(s, h.outsider, h.moved());
      await s.idle();

      expect(await allRuns(s)).toEqual([]);
      expect(h.count('statuses')).toBe(0);
      expect(h.count('workflow reads')).toBe(0);
      const writes = h.commentWrites();
      expect(writes).toHaveLength(1);
      expect(writes[0]!.body.split('\n').slice(0, 2)).toEqual([
        COMMENT_MARKER,
        `This pull request is from @${h.outsider}, who is not a member of ${h.org}: a member can comment \`!testme\` to run its workflows.`,
      ]);
    });

    it('!testme by a non-member is refused in one line; nothing runs', async () => {
      const s = await h.start();
      h.authorization();
      h.reaction();
      h.membership(h.outsider, 'not-member');
      h.commentsThenCreate();

      await h.testmeComment(s, h.outsider);
      await settle(s, () => h.commentWrites().length >= 1);

      expect(await allRuns(s)).toEqual([]);
      expect(h.count('pull request reads')).toBe(0);
      const [write] = h.commentWrites();
      expect(write!.body.split('\n').slice(0, 2)).toEqual([
        COMMENT_MARKER,
        `\`!testme\` by @${h.outsider} was not run: ${h.outsider} is not a member of ${h.org}.`,
      ]);
    });
  });
}
