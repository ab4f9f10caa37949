/**
 * The behaviours every Forge adapter must have, as one vitest suite (docs/conventions.md: one contract suite per
 * port, run against each implementation). An adapter's test supplies the forge and a `ForgeStub` that programs the
 * forge's HTTP side per case in forge-neutral words; the stub fails the test on requests it was not told about and
 * on programmed answers never asked for. Every method of the port is covered (a test below checks that), and the
 * suite runs against the GitHub adapter, the Gitea adapter and the tests' fake forge (test/helpers/fake-forge.ts),
 * capacity mode's capability (`Forge.capacity`) included.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RepoRef } from '../../src/core/types.ts';
import type { WorkflowFolder } from '../../src/core/workflow/workflow-files.ts';
import type { CapacityForge, Forge, ForgeJob, PullRequestInfo, RunnerRegistration } from '../../src/forges/forge.ts';

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
  /**
   * Each folder at `sha` holds these files (folder → path → text, in any order); `undefined`: no such folder. One
   * call programs one `readWorkflows` of exactly these folders.
   */
  workflows(
    repo: RepoRef,
    sha: string,
    folders: Readonly<Partial<Record<WorkflowFolder, Readonly<Record<string, string>> | undefined>>>,
  ): void;
  /** `path` at `ref` holds `text`; `undefined`: no such file (404). One call programs one `readFile`. */
  file(repo: RepoRef, ref: string, path: string, text: string | undefined): void;
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
  /**
   * Order tokens: the installation was granted `granted`, and one token for `repo` with exactly `permissions` (App
   * permission names) is handed out; returns the token the order gets. A forge without scoped tokens (Gitea)
   * programs nothing and returns its configured token.
   */
  orderToken(
    repo: RepoRef,
    granted: Readonly<Record<string, string>>,
    permissions: Readonly<Record<string, string>>,
  ): string;
  /** One revoke of `token` is accepted; `gone`: the forge answers that it is revoked or expired already. */
  acceptRevoke(token: string, gone: boolean): void;
  /** Statuses as the forge received them. */
  statuses(): readonly ReceivedStatus[];
  /** Comment writes and reactions as the forge received them. */
  writes(): readonly ReceivedWrite[];
}

/** Programs the forge's Actions side for the `capacity` capability, in the same way as `ForgeStub`. */
export interface CapacityStub {
  /** The repository's jobs waiting or running (one listing page); the forge lists the queued ones. */
  queuedJobs(repo: RepoRef, jobs: readonly ForgeJob[]): void;
  /** One job's state; `undefined`: the forge does not know it (404). */
  job(repo: RepoRef, jobId: number, job: ForgeJob | undefined): void;
  /** One runner registration is accepted; answers the registration the forge hands out. */
  acceptRegistration(
    repo: RepoRef,
    runner: { readonly name: string; readonly labels: readonly string[] },
  ): RunnerRegistration;
  /** One removal of the runner with this id is accepted; `gone`: the forge answers that it is gone already. */
  acceptRunnerRemoval(repo: RepoRef, runner: { readonly name: string; readonly id: number }, gone: boolean): void;
  /** Forges with a push path only: the Actions workflow files at `sha` (path → text). */
  actionsWorkflows?(repo: RepoRef, sha: string, files: Readonly<Record<string, string>>): void;
}

export interface ForgeFixture {
  readonly forge: Forge;
  readonly stub: ForgeStub;
  readonly capacity: CapacityStub;
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
  readFile: true,
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
  mintOrderToken: true,
  revokeOrderToken: true,
} as const satisfies Record<ForgeMethod, true>;

/** Every method of the capacity capability has a case below, held to the port the same way. */
export const COVERED_CAPACITY_METHODS = {
  listQueuedJobs: true,
  getJob: true,
  register: true,
  deregister: true,
  readActionsWorkflows: true,
} as const satisfies Record<keyof CapacityForge, true>;

type ForgeMethod = {
  [K in keyof Forge]-?: Forge[K] extends (...args: never[]) => unknown ? K : never;
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
        '.spotcheck/workflows': {
          '.spotcheck/workflows/test.yml': 'name: test\n',
          '.spotcheck/workflows/build.yaml': 'name: build\n',
          '.spotcheck/workflows/README.md': '# not a workflow\n',
          '.spotcheck/workflows/ci.yml': 'name: ci — ünïcode ✓\n',
        },
      });
      const files = await fx.forge.readWorkflows(fx.repo, SHA, ['.spotcheck/workflows']);
      expect(files.map((f) => [f.path, f.text])).toEqual([
        ['.spotcheck/workflows/build.yaml', 'name: build\n'],
        ['.spotcheck/workflows/ci.yml', 'name: ci — ünïcode ✓\n'],
        ['.spotcheck/workflows/test.yml', 'name: test\n'],
      ]);
    });

    it('reads no workflows when the folder is missing', async () => {
      fx.stub.workflows(fx.repo, SHA, { '.spotcheck/workflows': undefined });
      expect(await fx.forge.readWorkflows(fx.repo, SHA, ['.spotcheck/workflows'])).toEqual([]);
    });

    it('reads several folders in the order given, each listed once, skipping a missing one', async () => {
      fx.stub.workflows(fx.repo, SHA, {
        '.github/workflows': {
          '.github/workflows/z.yml': 'name: gh-z\n',
          '.github/workflows/a.yaml': 'name: gh-a\n',
        },
        '.gitea/workflows': undefined,
        '.spotcheck/workflows': { '.spotcheck/workflows/a.yml': 'name: sc-a\n' },
      });
      const files = await fx.forge.readWorkflows(fx.repo, SHA, [
        '.github/workflows',
        '.gitea/workflows',
        '.spotcheck/workflows',
        '.github/workflows',
      ]);
      expect(files.map((f) => [f.path, f.text])).toEqual([
        ['.github/workflows/a.yaml', 'name: gh-a\n'],
        ['.github/workflows/z.yml', 'name: gh-z\n'],
        ['.spotcheck/workflows/a.yml', 'name: sc-a\n'],
      ]);
    });

    it("reads only the folders asked for, not another folder's files", async () => {
      fx.stub.workflows(fx.repo, SHA, { '.gitea/workflows': { '.gitea/workflows/ci.yml': 'name: gitea\n' } });
      const files = await fx.forge.readWorkflows(fx.repo, SHA, ['.gitea/workflows']);
      expect(files.map((f) => f.path)).toEqual(['.gitea/workflows/ci.yml']);
    });

    it('reads one file at a ref (a called workflow), and undefined for a missing one', async () => {
      const other = { ...fx.repo, owner: 'acme', name: 'shared' };
      fx.stub.file(other, 'v1', '.github/workflows/build.yml', 'on: workflow_call — ✓\n');
      fx.stub.file(other, 'v1', '.github/workflows/gone.yml', undefined);
      expect(await fx.forge.readFile(other, 'v1', '.github/workflows/build.yml')).toBe('on: workflow_call — ✓\n');
      expect(await fx.forge.readFile(other, 'v1', '.github/workflows/gone.yml')).toBeUndefined();
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
        updatedAt: Date.parse('2024-05-01T12:00:07Z'),
      };
      fx.stub.pullRequest(fx.repo, 9, facts);
      fx.stub.pullRequest(fx.repo, 10, undefined);
      const { payload, ...read } = (await fx.forge.pullRequest(fx.repo, 9)) ?? {};
      expect(read).toEqual(facts);
      // The forge's own object, where it gives one, for `github.event.pull_request` of a `!testme` run.
      if (payload !== undefined) expect(payload['number']).toBe(9);
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

    it('gives no order token for `permissions: {}`, asking the forge nothing', async () => {
      expect(await fx.forge.mintOrderToken(fx.repo, {})).toBeUndefined();
      expect(await fx.forge.mintOrderToken(fx.repo, { 'id-token': 'write', contents: 'none' })).toBeUndefined();
    });

    it("gives an order token for GitHub's default set when the job sets no permissions", async () => {
      const granted = { metadata: 'read', contents: 'read', issues: 'write' };
      const handed = fx.stub.orderToken(fx.repo, granted, { metadata: 'read', contents: 'read' });
      const token = await fx.forge.mintOrderToken(fx.repo, undefined);
      expect(token?.token).toBe(handed);
      expect(token?.token).toMatch(/\S/);
    });

    it('gives an order token with the permissions the job asks for, id-token left out', async () => {
      const granted = { metadata: 'read', contents: 'write', pull_requests: 'write', statuses: 'write' };
      const handed = fx.stub.orderToken(fx.repo, granted, {
        metadata: 'read',
        contents: 'read',
        pull_requests: 'write',
      });
      const token = await fx.forge.mintOrderToken(fx.repo, {
        contents: 'read',
        'pull-requests': 'write',
        'id-token': 'write',
        issues: 'none',
      });
      expect(token?.token).toBe(handed);
    });

    it('revokes an order token, and revoking it again is not an error', async () => {
      const handed = fx.stub.orderToken(
        fx.repo,
        { metadata: 'read', contents: 'read' },
        {
          metadata: 'read',
          contents: 'read',
        },
      );
      const token = await fx.forge.mintOrderToken(fx.repo, { contents: 'read' });
      expect(token?.token).toBe(handed);
      fx.stub.acceptRevoke(handed, false);
      fx.stub.acceptRevoke(handed, true);
      await fx.forge.revokeOrderToken(handed);
      await fx.forge.revokeOrderToken(handed);
    });

    describe('capacity', () => {
      const capacity = (): CapacityForge => {
        expect(fx.forge.capacity, 'the forge has the capacity capability').toBeDefined();
        return fx.forge.capacity!;
      };
      const job = (jobId: number, status: string, runnerName?: string): ForgeJob => ({
        jobId,
        runId: 5,
        labels: ['self-hosted', 'gpu'],
        status,
        ...(runnerName === undefined ? {} : { runnerName }),
      });

      it('lists the jobs waiting for a runner, and only those', async () => {
        fx.capacity.queuedJobs(fx.repo, [job(1, 'queued'), job(2, 'in_progress', 'r-2'), job(3, 'queued')]);
        expect(await capacity().listQueuedJobs(fx.repo)).toEqual([job(1, 'queued'), job(3, 'queued')]);
      });

      it('reads one job, and undefined for a job the forge does not know', async () => {
        fx.capacity.job(fx.repo, 7, job(7, 'completed', 'spotcheck-runner'));
        fx.capacity.job(fx.repo, 8, undefined);
        expect(await capacity().getJob(fx.repo, 7)).toEqual(job(7, 'completed', 'spotcheck-runner'));
        expect(await capacity().getJob(fx.repo, 8)).toBeUndefined();
      });

      it('registers a runner: the registration of its own kind, as the forge handed it out', async () => {
        const runner = { name: 'spotcheck-0123456789abcdef0123', labels: ['gpu'] };
        const expected = fx.capacity.acceptRegistration(fx.repo, runner);
        const registration = await capacity().register(fx.repo, runner);
        expect(registration.kind).toBe(fx.forge.kind);
        expect(registration).toEqual(expected);
      });

      it('removes a runner, and one that is gone already is no error', async () => {
        fx.capacity.acceptRunnerRemoval(fx.repo, { name: 'spotcheck-a', id: 41 }, false);
        fx.capacity.acceptRunnerRemoval(fx.repo, { name: 'spotcheck-b', id: 42 }, true);
        await capacity().deregister(fx.repo, { name: 'spotcheck-a', id: 41 });
        await expect(capacity().deregister(fx.repo, { name: 'spotcheck-b', id: 42 })).resolves.toBeUndefined();
      });

      it('reads the Actions workflow files at a commit when the forge has a push path, in path order', async () => {
        if (fx.capacity.actionsWorkflows === undefined) {
          expect('readActionsWorkflows' in capacity()).toBe(false);
          return;
        }
        fx.capacity.actionsWorkflows(fx.repo, SHA, {
          '.gitea/workflows/b.yml': 'on: push\n',
          '.gitea/workflows/a.yaml': 'on: push\n# a\n',
          '.gitea/workflows/notes.md': '# no\n',
        });
        expect(await capacity().readActionsWorkflows?.(fx.repo, SHA)).toEqual([
          { path: '.gitea/workflows/a.yaml', text: 'on: push\n# a\n' },
          { path: '.gitea/workflows/b.yml', text: 'on: push\n' },
        ]);
      });
    });

    it("states its kind, host and limits (the repository's forge and host)", () => {
      expect([fx.forge.kind, fx.forge.host]).toEqual([fx.repo.forge, fx.repo.host]);
      expect(fx.forge.maxCommentLength).toBe(65_536);
      expect(fx.forge.maxStatusDescription).toBe(140);
    });
  });
}
