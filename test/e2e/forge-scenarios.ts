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

export interface ForgeScenarioHarness {
  /** The organization owning the repository, a member of it, and an outsider. */
  readonly org: string;
  readonly member: string;
  readonly outsider: string;
  /** The pull request every delivery is about. */
  readonly pr: number;
  /** The temporary repository's first commit (the PR's head) and second (the head after a push). */
  head(): string;
  moved(): string;
  start(): Promise<SpotcheckServer>;

  // Deliveries, each answered 202 (accepted and persisted).
  pullRequestOpened(s: SpotcheckServer, author: string, sha: string): Promise<void>;
  pullRequestPushed(s: SpotcheckServer, author: string, sha: string): Promise<void>;
  testmeComment(s: SpotcheckServer, by: string): Promise<void>;

  // The forge's side: each call sets up answers that must be used.
  /** What the forge is asked before anything else (GitHub: the installation token; Gitea: whether the owner is an org). */
  authorization(): void;
  membership(user: string, answer: 'member' | 'not-member'): void;
  /** The 👀 reaction on the `!testme` comment. */
  reaction(): void;
  /** The PR's comment listing (no comments yet) and the creation of the sticky comment. */
  noCommentsThenCreate(): void;

  // What the forge received.
  commentWrites(): { method: string; body: string }[];
  count(what: 'statuses' | 'workflow reads' | 'pull request reads'): number;
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

export function defineForgeScenarios(forge: string, h: ForgeScenarioHarness): void {
  describe(`${forge}: the stories both forges tell, end to end`, () => {
    it('a PR opened by a non-member runs nothing; one comment says a member can comment !testme, once', async () => {
      const s = await h.start();
      h.authorization();
      h.membership(h.outsider, 'not-member');
      h.noCommentsThenCreate();

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
      h.noCommentsThenCreate();

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
