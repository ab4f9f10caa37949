/**
 * The behaviours every Forge adapter must have, as one vitest suite (docs/conventions.md: one contract suite per
 * port, run against each implementation). An adapter's test supplies the forge and a `ForgeStub` that programs the
 * forge's HTTP side per case in forge-neutral words; the stub fails the test on requests it was not told about and
 * on programmed answers never asked for. Every method of the port is covered (a test below checks that), and the
 * suite runs against the GitHub adapter, the Gitea adapter and the tests' fake forge (test/helpers/fake-forge.ts).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RepoRef } from '../../src/core/types.ts';
import type { Forge, PullRequestInfo } from '../../src/forges/forge.ts';

export interface ReceivedStatus {
  readonly sha: string;
  readonly context: string;
  readonly state: string;
  readonly description: string;
  readonly targetUrl?: string;
}

export interface StubComment {
  readonly id: number;
  readonly body: string;
  /** Written by this bot's own account (else by a human who may quote the marker). */
  readonly mine: boolean;
}

export type ReceivedWrite =
  | { readonly kind: 'create'; readonly pr: number; readonly body: string }
  | { readonly kind: 'edit'; readonly id: number; readonly body: string }
  | { readonly kind: 'reaction'; readonly id: number; readonly content: string };

export interface ForgeStub {
  /** `.spotcheck/workflows` at `sha` holds these files (path → text, in any order); `undefined`: no such folder. */
  workflows(repo: RepoRef, sha: string, files: Readonly<Record<string, string>> | undefined): void;
  /** Comparing `base...head` lists these changed files. */
  compare(repo: RepoRef, base: string, head: string, files: readonly string[]): void;
  /** The forge does not know `base` (force-pushed away, another history). */
  unknownBase(repo: RepoRef, base: string, head: string): void;
  /** The pull request's changed files (one page). */
  pullRequestFiles(repo: RepoRef, pr: number, files: readonly string[]): void;
  /** The pull request's facts; `undefined`: no such pull request (404). */
  pullRequest(repo: RepoRef, pr: number, facts: PullRequestInfo | undefined): void;
  /** Whether `owner` is an organization or a user account. */
  account(owner: string, kind: 'organization' | 'user'): void;
  /** The membership API's answer for `user` in `org`; `error`: the forge fails (5xx). */
  membership(org: string, user: string, answer: 'member' | 'not-member' | 'error'): void;
  /** One commit status write on `sha` is accepted. */
  acceptStatus(repo: RepoRef, sha: string): void;
  /** The pull request's comments, oldest first. */
  comments(repo: RepoRef, pr: number, comments: readonly StubComment[]): void;
  /** One new comment on the PR is accepted and gets this id. */
  acceptNewComment(repo: RepoRef, pr: number, id: number): void;
  /** One edit of comment `id` is accepted. */
  acceptCommentEdit(repo: RepoRef, id: number): void;
  /** One reaction on comment `id` is accepted. */
  acceptReaction(repo: RepoRef, id: number): void;
  /** Statuses as the forge received them. */
  statuses(): readonly ReceivedStatus[];
  /** Comment writes and reactions as the forge received them. */
  writes(): readonly ReceivedWrite[];
}

export interface ForgeFixture {
  readonly forge: Forge;
  readonly stub: ForgeStub;
  /** A repository the forge can act on. */
  readonly repo: RepoRef;
  /** Closes the stub and fails on unmatched or unused requests. */
  teardown(): void | Promise<void>;
}

const SHA = '8d3a1f0c2b4e6a7d9c1e3f5a7b9d1c3e5f7a9b1d';
const BASE = '1c3e5f7a9b1d8d3a1f0c2b4e6a7d9c1e3f5a7b9d';
const ZERO = '0000000000000000000000000000000000000000';
const MARKER = '<!-- spotcheck:sticky -->';

/**
 * Every method of the Forge port has a case below: a method added to the port fails the type check here until the
 * contract covers it (and so until the fake forge and both adapters are held to it).
 */
export const COVERED_METHODS = {
  readWorkflows: true,
  changedFiles: true,
  pullRequestFiles: true,
  pullRequest: true,
  isOrgMember: true,
  isOrganization: true,
  setStatus: true,
  findStickyComment: true,
  createComment: true,
  updateComment: true,
  reactToComment: true,
  cloneCredentials: true,
} as const satisfies Record<ForgeMethod, true>;

type ForgeMethod = {
  [K in keyof Forge]: Forge[K] extends (...args: never[]) => unknown ? K : never;
}[keyof Forge];

export function defineForgeContract(name: string, setup: () => ForgeFixture | Promise<ForgeFixture>): void {
  describe(`Forge contract: ${name}`, () => {
    let fx: ForgeFixture;
    beforeEach(async () => {
      fx = await setup();
    });
    afterEach(async () => {
      await fx.teardown();
    });

    it('reads workflow files with their text, in path order, and only .yml/.yaml files', async () => {
      fx.stub.workflows(fx.repo, SHA, {
        '.spotcheck/workflows/test.yml': 'name: test\n',
        '.spotcheck/workflows/build.yaml': 'name: build\n',
        '.spotcheck/workflows/README.md': '# not a workflow\n',
        '.spotcheck/workflows/ci.yml': 'name: ci — ünïcode ✓\n',
      });
      const files = await fx.forge.readWorkflows(fx.repo, SHA);
      expect(files.map((f) => [f.path, f.text])).toEqual([
        ['.spotcheck/workflows/build.yaml', 'name: build\n'],
        ['.spotcheck/workflows/ci.yml', 'name: ci — ünïcode ✓\n'],
        ['.spotcheck/workflows/test.yml', 'name: test\n'],
      ]);
    });

    it('reads no workflows when the folder is missing', async () => {
      fx.stub.workflows(fx.repo, SHA, undefined);
      expect(await fx.forge.readWorkflows(fx.repo, SHA)).toEqual([]);
    });

    it('lists the files changed between two commits', async () => {
      fx.stub.compare(fx.repo, BASE, SHA, ['src/a.ts', 'README.md']);
      expect([...((await fx.forge.changedFiles(fx.repo, BASE, SHA)) ?? ['<null>'])].sort()).toEqual([
        'README.md',
        'src/a.ts',
      ]);
    });

    it('answers null for changed files when the base is unknown', async () => {
      fx.stub.unknownBase(fx.repo, BASE, SHA);
      expect(await fx.forge.changedFiles(fx.repo, BASE, SHA)).toBeNull();
    });

    it('answers null for changed files of a new branch (zero base) without asking the forge', async () => {
      expect(await fx.forge.changedFiles(fx.repo, ZERO, SHA)).toBeNull();
    });

    it('lists the files a pull request changes', async () => {
      fx.stub.pullRequestFiles(fx.repo, 5, ['src/a.ts', 'README.md']);
      expect([...((await fx.forge.pullRequestFiles(fx.repo, 5)) ?? ['<null>'])].sort()).toEqual([
        'README.md',
        'src/a.ts',
      ]);
    });

    it("reads a pull request's facts, and undefined for a missing one", async () => {
      const facts: PullRequestInfo = {
        number: 9,
        state: 'open',
        merged: false,
        headSha: SHA,
        headRef: 'feature',
        baseRef: 'main',
        author: 'octocat',
        headRepo: 'octocat/widgets',
      };
      fx.stub.pullRequest(fx.repo, 9, facts);
      fx.stub.pullRequest(fx.repo, 10, undefined);
      expect(await fx.forge.pullRequest(fx.repo, 9)).toEqual(facts);
      expect(await fx.forge.pullRequest(fx.repo, 10)).toBeUndefined();
    });

    it.each([
      ['member', true],
      ['not-member', false],
      ['error', false],
    ] as const)('membership %s → member: %s, with a reason when not', async (answer, member) => {
      fx.stub.membership('acme', 'octocat', answer);
      const result = await fx.forge.isOrgMember('acme', 'octocat');
      expect(result.member).toBe(member);
      if (!member) expect(result.reason).toMatch(/\S/);
      // Only a failed check is undetermined: a user is never told they are not a member when the forge failed.
      expect(result.undetermined === true).toBe(answer === 'error');
    });

    it('tells an organization from a user', async () => {
      fx.stub.account('acme', 'organization');
      fx.stub.account('octocat', 'user');
      expect(await fx.forge.isOrganization('acme')).toBe(true);
      expect(await fx.forge.isOrganization('octocat')).toBe(false);
    });

    it('writes a status and cuts its description to the forge limit with an ellipsis', async () => {
      fx.stub.acceptStatus(fx.repo, SHA);
      const long = `${'x'.repeat(fx.forge.maxStatusDescription)} and more`;
      await fx.forge.setStatus(fx.repo, SHA, {
        context: 'spotcheck/ci/build',
        state: 'failure',
        description: long,
        targetUrl: 'https://ci.example.com/runs/r1/orders/build/log',
      });
      const [status, ...others] = fx.stub.statuses();
      expect(others).toHaveLength(0);
      expect(status).toMatchObject({
        sha: SHA,
        context: 'spotcheck/ci/build',
        state: 'failure',
        targetUrl: 'https://ci.example.com/runs/r1/orders/build/log',
      });
      expect([...status!.description]).toHaveLength(fx.forge.maxStatusDescription);
      expect(status!.description.endsWith('…')).toBe(true);
    });

    it('keeps a short status description as it is', async () => {
      fx.stub.acceptStatus(fx.repo, SHA);
      await fx.forge.setStatus(fx.repo, SHA, {
        context: 'spotcheck/ci/test (1)',
        state: 'pending',
        description: 'queued',
      });
      expect(fx.stub.statuses()).toEqual([
        { sha: SHA, context: 'spotcheck/ci/test (1)', state: 'pending', description: 'queued' },
      ]);
    });

    it("finds the bot's own sticky comment and ignores someone else's comment quoting the marker", async () => {
      fx.stub.comments(fx.repo, 7, [
        { id: 11, body: `${MARKER}\nforged by a human`, mine: false },
        { id: 12, body: 'an unrelated comment by the bot', mine: true },
        { id: 13, body: `${MARKER}\nthe real one`, mine: true },
      ]);
      expect(await fx.forge.findStickyComment(fx.repo, 7, MARKER)).toEqual({ id: 13, body: `${MARKER}\nthe real one` });
    });

    it('finds no sticky comment when only others carry the marker', async () => {
      fx.stub.comments(fx.repo, 7, [{ id: 21, body: `${MARKER}\nforged`, mine: false }]);
      expect(await fx.forge.findStickyComment(fx.repo, 7, MARKER)).toBeUndefined();
    });

    it('creates and then edits a comment', async () => {
      fx.stub.acceptNewComment(fx.repo, 7, 31);
      fx.stub.acceptCommentEdit(fx.repo, 31);
      const created = await fx.forge.createComment(fx.repo, 7, `${MARKER}\nfirst`);
      expect(created.id).toBe(31);
      await fx.forge.updateComment(fx.repo, created.id, `${MARKER}\nsecond`);
      expect(fx.stub.writes()).toEqual([
        { kind: 'create', pr: 7, body: `${MARKER}\nfirst` },
        { kind: 'edit', id: 31, body: `${MARKER}\nsecond` },
      ]);
    });

    it('reacts to a comment with eyes', async () => {
      fx.stub.acceptReaction(fx.repo, 41);
      await fx.forge.reactToComment(fx.repo, 41, 'eyes');
      expect(fx.stub.writes()).toEqual([{ kind: 'reaction', id: 41, content: 'eyes' }]);
    });

    it('gives clone credentials: an https URL of this repository on its own host, credentials included', async () => {
      const { url, expiresAt } = await fx.forge.cloneCredentials(fx.repo);
      const parsed = new URL(url);
      expect(parsed.protocol).toBe('https:');
      expect(parsed.host).toBe(fx.forge.host);
      expect(parsed.pathname.endsWith(`/${fx.repo.owner}/${fx.repo.name}.git`)).toBe(true);
      expect(parsed.username).toMatch(/\S/);
      expect(parsed.password).toMatch(/\S/);
      expect(Number.isFinite(expiresAt) && expiresAt > 0).toBe(true);
    });

    it("states its kind, host and limits (the repository's forge and host)", () => {
      expect([fx.forge.kind, fx.forge.host]).toEqual([fx.repo.forge, fx.repo.host]);
      expect(fx.forge.maxCommentLength).toBe(65_536);
      expect(fx.forge.maxStatusDescription).toBe(140);
    });
  });
}
