/**
 * The one fake forge of the tests: an in-memory `Forge` that keeps workflows, pull requests, members, statuses and
 * comments as a forge would, records every call (method and arguments), and fails calls on request. The Forge
 * contract (test/contract/forge-contract.ts) runs against it as it runs against the GitHub and Gitea adapters, so it
 * cannot drift from them: it cuts what they cut, finds the sticky comment by authorship as they do, and answers a
 * failed membership check "no, undetermined" as they do.
 *
 * Its `capacity` capability keeps Actions jobs, registered runners and (Gitea) Actions workflow files the same way.
 *
 * Configure it by filling its public fields (`workflows`, `pulls`, `addMember`, `actionsJobs`, …). A value over the forge's limit
 * is cut like the adapters cut it, and also listed in `oversized`, so a test can hold a caller to the limit itself.
 */
import type { Permissions, RepoRef, WorkflowSource } from '../../src/core/types.ts';
import {
  narrowTokenPermissions,
  tokenPermissionsFor,
  type TokenPermissions,
} from '../../src/core/token-permissions.ts';
import { isWorkflowPath, type WorkflowFolder } from '../../src/core/workflow/workflow-files.ts';
import { ForgeError } from '../../src/errors.ts';
import type {
  CapacityForge,
  CloneCredentials,
  CommitStatus,
  Forge,
  ForgeJob,
  IssueComment,
  MembershipAnswer,
  OrderToken,
  PullRequestInfo,
  RunnerRegistration,
} from '../../src/forges/forge.ts';
import { truncate } from '../../src/forges/truncate.ts';

export type ForgeMethod =
  | {
      [K in keyof Forge]-?: Forge[K] extends (...args: never[]) => unknown ? K : never;
    }[keyof Forge]
  /** The methods of the `capacity` capability. */
  | `capacity.${keyof CapacityForge}`;

export interface RecordedCall {
  readonly method: ForgeMethod;
  readonly args: readonly unknown[];
}

export interface StoredComment {
  readonly id: number;
  /** `host/owner/name`. */
  readonly repo: string;
  readonly pr: number;
  readonly author: string;
  body: string;
  edits: number;
}

export interface StatusWrite extends CommitStatus {
  /** `host/owner/name`. */
  readonly repo: string;
  readonly sha: string;
}

export interface FakeForgeOptions {
  readonly kind?: 'github' | 'gitea';
  readonly host?: string;
  /** The bot's own account: the author of the comments it creates. */
  readonly botLogin?: string;
}

export class FakeForge implements Forge {
  readonly kind: 'github' | 'gitea';
  readonly host: string;
  readonly botLogin: string;
  // GitHub's limits (Gitea's adapter states the same).
  readonly maxCommentLength = 65_536;
  readonly maxStatusDescription = 140;

  /** Every call, in order. */
  readonly calls: RecordedCall[] = [];
  /** Workflow files per commit SHA (missing: no workflow folder). */
  readonly workflows = new Map<string, WorkflowSource[]>();
  /** Files by `owner/name@ref:path` (`readFile`); a path of `workflows` at that ref is found there too. */
  readonly files = new Map<string, string>();
  /** `base...head` → changed files (missing = null, i.e. unknown). */
  readonly compares = new Map<string, string[] | null>();
  /** PR number → files (missing = null, i.e. truncated). */
  readonly prFiles = new Map<number, string[] | null>();
  readonly pulls = new Map<number, PullRequestInfo>();
  /** `org/user` (lowercase) pairs that are members; see `addMember`. */
  readonly members = new Set<string>();
  /** `org/user` (lowercase) pairs whose membership check fails (the adapters answer "no, undetermined"). */
  readonly membershipErrors = new Set<string>();
  /** Owners (lowercase) that are organizations. */
  readonly organizations = new Set<string>();
  /** Every status write, in order. */
  readonly statuses: StatusWrite[] = [];
  readonly comments = new Map<number, StoredComment>();
  readonly reactions: { commentId: number; reaction: string }[] = [];
  /** Values the fake had to cut to the forge's limit, by method (the caller did not keep to it). */
  readonly oversized: { method: ForgeMethod; length: number }[] = [];
  /** Comment writes (create + update) in flight right now, and the most ever seen at once. */
  inflightCommentWrites = 0;
  maxInflightCommentWrites = 0;

  /** The id the next comment gets. */
  nextCommentId = 1000;
  /**
   * GitHub: what the app's installation was granted (app.yml's repository permissions); order tokens are narrowed
   * to it as the adapter narrows them. Gitea: ignored (every order gets `giteaActionsToken`).
   */
  grantedPermissions: Readonly<Record<string, string>> = {
    metadata: 'read',
    contents: 'read',
    statuses: 'write',
    pull_requests: 'write',
    issues: 'write',
    actions: 'read',
  };
  /** Gitea: the configured token every order gets (undefined: none configured). */
  giteaActionsToken: string | undefined = 'gitea-actions-token';
  /** GitHub: order tokens minted (value, repository, permissions), in order. */
  readonly mintedTokens: { token: string; repo: string; permissions: TokenPermissions }[] = [];
  /** Tokens `revokeOrderToken` was called with, in order (a repeat included). */
  readonly revokedTokens: string[] = [];
  #nextToken = 1;
  /** Actions jobs per repository (`host/owner/name`), any status; `capacity.listQueuedJobs` lists the queued ones. */
  readonly actionsJobs = new Map<string, ForgeJob[]>();
  /** Runners registered through `capacity.register` and not removed, by name. */
  readonly runners = new Map<string, { readonly id: number; readonly labels: readonly string[] }>();
  /** Gitea only: Actions workflow files per commit SHA (the push path). */
  readonly actionsWorkflows = new Map<string, { path: string; text: string }[]>();
  /** The id the next registered runner gets (GitHub's JIT registration names it). */
  nextRunnerId = 500;
  /** Capacity mode's operations, as the adapters have them (Gitea's with the push path). */
  readonly capacity: CapacityForge;
  readonly #failures = new Map<ForgeMethod, { left: number; make: () => Error }[]>();
  #gate: Promise<void> | undefined;

  constructor(opts: FakeForgeOptions = {}) {
    this.kind = opts.kind ?? 'github';
    this.host = opts.host ?? (this.kind === 'github' ? 'github.com' : 'gitea.example.org');
    this.botLogin = opts.botLogin ?? (this.kind === 'github' ? 'spotcheck[bot]' : 'spotcheck-bot');
    this.capacity = this.#createCapacity();
  }

  /** Jobs of a repository, as `capacity.listQueuedJobs` and `capacity.getJob` see them. */
  jobsOf(repo: RepoRef): ForgeJob[] {
    return this.actionsJobs.get(repoKey(repo)) ?? [];
  }

  #createCapacity(): CapacityForge {
    const capacity: CapacityForge = {
      listQueuedJobs: (repo) =>
        this.#call('capacity.listQueuedJobs', [repo], () => this.jobsOf(repo).filter((j) => j.status === 'queued')),
      getJob: (repo, jobId) =>
        this.#call('capacity.getJob', [repo, jobId], () => this.jobsOf(repo).find((j) => j.jobId === jobId)),
      register: (repo, runner) =>
        this.#call('capacity.register', [repo, runner], (): RunnerRegistration => {
          const id = this.nextRunnerId++;
          this.runners.set(runner.name, { id, labels: [...runner.labels] });
          return this.kind === 'github'
            ? { kind: 'github', runnerId: id, encodedJitConfig: `jit-config-of-${runner.name}` }
            : { kind: 'gitea', instanceUrl: `https://${this.host}`, token: 'registration-token' };
        }),
      deregister: (repo, runner) =>
        this.#call('capacity.deregister', [repo, runner], () => {
          // Gone already is no error, as on both forges.
          for (const [name, known] of this.runners)
            if (known.id === runner.id || name === runner.name) this.runners.delete(name);
        }),
    };
    if (this.kind === 'github') return capacity;
    return {
      ...capacity,
      readActionsWorkflows: (repo, sha) =>
        this.#call('capacity.readActionsWorkflows', [repo, sha], () =>
          [...(this.actionsWorkflows.get(sha) ?? [])]
            .filter((f) => /\.ya?ml$/.test(f.path))
            .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)),
        ),
    };
  }

  /** Calls so far, of one method or of all. */
  count(method?: ForgeMethod): number {
    return method === undefined ? this.calls.length : this.calls.filter((c) => c.method === method).length;
  }

  /** The methods called, in order. */
  methods(): ForgeMethod[] {
    return this.calls.map((c) => c.method);
  }

  /** The next `times` calls of `method` throw `error` (`Infinity`: every call); by default a retryable 502. */
  failNext(method: ForgeMethod, error: Error | (() => Error) = retryable, times = 1): void {
    const make = typeof error === 'function' ? error : () => error;
    this.#failures.set(method, [...(this.#failures.get(method) ?? []), { left: times, make }]);
  }

  addMember(org: string, user: string): void {
    this.members.add(`${org}/${user}`.toLowerCase());
  }

  /** Comment writes wait until the returned function is called. */
  holdCommentWrites(): () => void {
    let open!: () => void;
    this.#gate = new Promise((resolve) => (open = resolve));
    return () => {
      this.#gate = undefined;
      open();
    };
  }

  /** A comment written by someone else (a user pasting the marker, another bot). */
  seedComment(repo: RepoRef, pr: number, body: string, author: string, id?: number): StoredComment {
    const comment = { id: id ?? this.nextCommentId++, repo: repoKey(repo), pr, author, body, edits: 0 };
    this.comments.set(comment.id, comment);
    return comment;
  }

  commentsOn(repo: RepoRef, pr: number): StoredComment[] {
    return [...this.comments.values()].filter((c) => c.repo === repoKey(repo) && c.pr === pr);
  }

  /** The latest status per context for a commit. */
  statusesAt(sha: string): Map<string, StatusWrite> {
    const latest = new Map<string, StatusWrite>();
    for (const s of this.statuses) if (s.sha === sha) latest.set(s.context, s);
    return latest;
  }

  /** The files directly in each folder, folder by folder, path order within each, as the adapters read them. */
  readWorkflows(repo: RepoRef, sha: string, folders: readonly WorkflowFolder[]): Promise<WorkflowSource[]> {
    return this.#call('readWorkflows', [repo, sha, folders], () => {
      const files = this.workflows.get(sha) ?? [];
      return [...new Set(folders)].flatMap((folder) =>
        files
          .filter((f) => isWorkflowPath(f.path, folder))
          .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)),
      );
    });
  }

  readFile(repo: RepoRef, ref: string, path: string): Promise<string | undefined> {
    return this.#call('readFile', [repo, ref, path], () => {
      const key = `${repo.owner}/${repo.name}@${ref}:${path}`.toLowerCase();
      return this.files.get(key) ?? this.workflows.get(ref)?.find((f) => f.path === path)?.text;
    });
  }

  changedFiles(repo: RepoRef, base: string, head: string): Promise<string[] | null> {
    // A new branch (an all-zero base) has no base to compare with, as the adapters say without asking the forge.
    return this.#call('changedFiles', [repo, base, head], () =>
      /^0+$/.test(base) ? null : (this.compares.get(`${base}...${head}`) ?? null),
    );
  }

  pullRequestFiles(repo: RepoRef, pr: number): Promise<string[] | null> {
    return this.#call('pullRequestFiles', [repo, pr], () => this.prFiles.get(pr) ?? null);
  }

  pullRequest(repo: RepoRef, pr: number): Promise<PullRequestInfo | undefined> {
    return this.#call('pullRequest', [repo, pr], () => this.pulls.get(pr));
  }

  isOrgMember(org: string, user: string): Promise<MembershipAnswer> {
    return this.#call('isOrgMember', [org, user], (): MembershipAnswer => {
      const key = `${org}/${user}`.toLowerCase();
      if (this.membershipErrors.has(key)) {
        return { member: false, reason: 'membership check failed: HTTP 502', undetermined: true };
      }
      return this.members.has(key) ? { member: true } : { member: false, reason: `${user} is not a member of ${org}` };
    });
  }

  isOrganization(owner: string): Promise<boolean> {
    return this.#call('isOrganization', [owner], () => this.organizations.has(owner.toLowerCase()));
  }

  setStatus(repo: RepoRef, sha: string, status: CommitStatus): Promise<void> {
    return this.#call('setStatus', [repo, sha, status], async () => {
      await nextTurn();
      const description = this.#cut('setStatus', status.description, this.maxStatusDescription);
      this.statuses.push({ ...status, description, repo: repoKey(repo), sha });
    });
  }

  findStickyComment(repo: RepoRef, pr: number, marker: string): Promise<IssueComment | undefined> {
    return this.#call('findStickyComment', [repo, pr, marker], () => {
      const found = this.commentsOn(repo, pr).find((c) => c.author === this.botLogin && c.body.includes(marker));
      return found && { id: found.id, body: found.body };
    });
  }

  createComment(repo: RepoRef, pr: number, body: string): Promise<IssueComment> {
    return this.#call('createComment', [repo, pr, body], () =>
      this.#commentWrite(() => {
        const comment = this.seedComment(
          repo,
          pr,
          this.#cut('createComment', body, this.maxCommentLength),
          this.botLogin,
        );
        return { id: comment.id, body: comment.body };
      }),
    );
  }

  updateComment(repo: RepoRef, commentId: number, body: string): Promise<void> {
    return this.#call('updateComment', [repo, commentId, body], () =>
      this.#commentWrite(() => {
        const comment = this.comments.get(commentId);
        if (!comment || comment.repo !== repoKey(repo)) {
          throw new ForgeError('Not Found', { status: 404, retryable: false });
        }
        // The bot may edit only what it wrote (GitHub answers 403 for another user's comment).
        if (comment.author !== this.botLogin) throw new ForgeError('Forbidden', { status: 403, retryable: false });
        comment.body = this.#cut('updateComment', body, this.maxCommentLength);
        comment.edits += 1;
      }),
    );
  }

  reactToComment(repo: RepoRef, commentId: number, reaction: 'eyes' | '+1' | '-1'): Promise<void> {
    return this.#call('reactToComment', [repo, commentId, reaction], () => {
      this.reactions.push({ commentId, reaction });
    });
  }

  cloneCredentials(repo: RepoRef): Promise<CloneCredentials> {
    return this.#call('cloneCredentials', [repo], () => ({
      url: `https://x-access-token:test@${this.host}/${repo.owner}/${repo.name}.git`,
      expiresAt: Number.MAX_SAFE_INTEGER,
    }));
  }

  mintOrderToken(repo: RepoRef, permissions: Permissions | undefined): Promise<OrderToken | undefined> {
    return this.#call('mintOrderToken', [repo, permissions], (): OrderToken | undefined => {
      const wanted = tokenPermissionsFor(permissions);
      if (wanted === undefined) return undefined;
      if (this.kind === 'gitea') {
        return this.giteaActionsToken === undefined ? undefined : { token: this.giteaActionsToken, revocable: false };
      }
      const { allowed, beyond } = narrowTokenPermissions(wanted, this.grantedPermissions);
      if (beyond.length > 0 && permissions !== undefined) {
        throw new ForgeError(`the job's permissions ask for ${beyond.join(', ')}`, { status: 422, retryable: false });
      }
      const token = `ghs_order${this.#nextToken++}`;
      this.mintedTokens.push({ token, repo: repoKey(repo), permissions: allowed });
      return {
        token,
        expiresAt: Number.MAX_SAFE_INTEGER,
        revocable: true,
        ...(beyond.length ? { dropped: beyond } : {}),
      };
    });
  }

  revokeOrderToken(token: string): Promise<void> {
    return this.#call('revokeOrderToken', [token], () => {
      this.revokedTokens.push(token);
    });
  }

  /** Records the call, throws an injected failure, else answers. */
  async #call<T>(method: ForgeMethod, args: unknown[], answer: () => T | Promise<T>): Promise<T> {
    this.calls.push({ method, args });
    const queue = this.#failures.get(method) ?? [];
    const failure = queue[0];
    if (failure !== undefined) {
      failure.left -= 1;
      if (failure.left <= 0) queue.shift();
      throw failure.make();
    }
    return answer();
  }

  async #commentWrite<T>(work: () => T): Promise<T> {
    this.inflightCommentWrites += 1;
    this.maxInflightCommentWrites = Math.max(this.maxInflightCommentWrites, this.inflightCommentWrites);
    try {
      await nextTurn();
      if (this.#gate) await this.#gate;
      return work();
    } finally {
      this.inflightCommentWrites -= 1;
    }
  }

  #cut(method: ForgeMethod, text: string, max: number): string {
    const length = [...text].length;
    if (length > max) this.oversized.push({ method, length });
    return truncate(text, max);
  }
}

/** A retryable forge failure (a 502), the default of `failNext`. */
export function retryable(): ForgeError {
  return new ForgeError('HTTP 502', { status: 502, retryable: true });
}

/** A write takes a turn of the event loop, as a request would. */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function repoKey(repo: RepoRef): string {
  return `${repo.host}/${repo.owner}/${repo.name}`;
}
