import type { RepoRef, WorkflowSource } from '../../src/core/types.ts';
import type {
  CloneCredentials,
  CommitStatus,
  Forge,
  IssueComment,
  MembershipAnswer,
  PullRequestInfo,
} from '../../src/forges/forge.ts';

type ForgeMethod = {
  [K in keyof Forge]: Forge[K] extends (...args: never[]) => unknown ? K : never;
}[keyof Forge];

export interface RecordedCall {
  readonly method: ForgeMethod;
  readonly args: readonly unknown[];
}

/**
 * An in-memory Forge that records every call (method and arguments) and counts calls per method, so tests can hold
 * request budgets and check the order of calls. Configure it by mutating its public fields. `failNext(method, error)`
 * makes the next call(s) of a method throw, for retry tests.
 */
export class RecordingForge implements Forge {
  readonly kind = 'github' as const;
  readonly maxCommentLength = 65_536;
  readonly maxStatusDescription = 140;

  readonly calls: RecordedCall[] = [];
  /** Workflow files per commit SHA. */
  readonly workflows = new Map<string, WorkflowSource[]>();
  /** `base...head` → changed files (missing = null, i.e. unknown). */
  readonly compares = new Map<string, string[] | null>();
  /** PR number → files (missing = null). */
  readonly prFiles = new Map<number, string[] | null>();
  readonly pulls = new Map<number, PullRequestInfo>();
  /** `org/user` (lowercase) pairs that are members. */
  readonly members = new Set<string>();
  /** Membership answers that fail (the adapter's "any error answers no"). */
  readonly membershipErrors = new Set<string>();
  readonly organizations = new Set<string>();
  readonly statuses: { repo: RepoRef; sha: string; status: CommitStatus }[] = [];
  readonly comments = new Map<number, { pr: number; body: string }>();
  readonly reactions: { commentId: number; reaction: string }[] = [];
  #failures = new Map<ForgeMethod, Error[]>();
  #nextCommentId = 1000;

  constructor(readonly host = 'github.com') {}

  /** Calls so far, per method. */
  count(method?: ForgeMethod): number {
    return method === undefined ? this.calls.length : this.calls.filter((c) => c.method === method).length;
  }

  methods(): ForgeMethod[] {
    return this.calls.map((c) => c.method);
  }

  failNext(method: ForgeMethod, error: Error, times = 1): void {
    this.#failures.set(method, [...(this.#failures.get(method) ?? []), ...Array.from({ length: times }, () => error)]);
  }

  addMember(org: string, user: string): void {
    this.members.add(`${org}/${user}`.toLowerCase());
  }

  #record(method: ForgeMethod, ...args: unknown[]): void {
    this.calls.push({ method, args });
    const failures = this.#failures.get(method);
    const failure = failures?.shift();
    if (failure !== undefined) throw failure;
  }

  readWorkflows(repo: RepoRef, sha: string): Promise<WorkflowSource[]> {
    return this.#run('readWorkflows', [repo, sha], () => this.workflows.get(sha) ?? []);
  }

  changedFiles(repo: RepoRef, base: string, head: string): Promise<string[] | null> {
    return this.#run('changedFiles', [repo, base, head], () => this.compares.get(`${base}...${head}`) ?? null);
  }

  pullRequestFiles(repo: RepoRef, pr: number): Promise<string[] | null> {
    return this.#run('pullRequestFiles', [repo, pr], () => this.prFiles.get(pr) ?? null);
  }

  pullRequest(repo: RepoRef, pr: number): Promise<PullRequestInfo | undefined> {
    return this.#run('pullRequest', [repo, pr], () => this.pulls.get(pr));
  }

  isOrgMember(org: string, user: string): Promise<MembershipAnswer> {
    return this.#run('isOrgMember', [org, user], () => {
      const key = `${org}/${user}`.toLowerCase();
      if (this.membershipErrors.has(key)) return { member: false, reason: 'membership check failed: HTTP 502' };
      return this.members.has(key) ? { member: true } : { member: false, reason: `not a member of ${org}` };
    });
  }

  isOrganization(owner: string): Promise<boolean> {
    return this.#run('isOrganization', [owner], () => this.organizations.has(owner.toLowerCase()));
  }

  setStatus(repo: RepoRef, sha: string, status: CommitStatus): Promise<void> {
    return this.#run('setStatus', [repo, sha, status], () => {
      this.statuses.push({ repo, sha, status });
    });
  }

  findStickyComment(repo: RepoRef, pr: number, marker: string): Promise<IssueComment | undefined> {
    return this.#run('findStickyComment', [repo, pr, marker], () => {
      for (const [id, c] of this.comments) if (c.pr === pr && c.body.includes(marker)) return { id, body: c.body };
      return undefined;
    });
  }

  createComment(repo: RepoRef, pr: number, body: string): Promise<IssueComment> {
    return this.#run('createComment', [repo, pr, body], () => {
      const id = this.#nextCommentId++;
      this.comments.set(id, { pr, body });
      return { id, body };
    });
  }

  updateComment(repo: RepoRef, commentId: number, body: string): Promise<void> {
    return this.#run('updateComment', [repo, commentId, body], () => {
      const existing = this.comments.get(commentId);
      if (existing) this.comments.set(commentId, { ...existing, body });
    });
  }

  reactToComment(repo: RepoRef, commentId: number, reaction: 'eyes' | '+1' | '-1'): Promise<void> {
    return this.#run('reactToComment', [repo, commentId, reaction], () => {
      this.reactions.push({ commentId, reaction });
    });
  }

  cloneCredentials(repo: RepoRef): Promise<CloneCredentials> {
    return this.#run('cloneCredentials', [repo], () => ({
      url: `https://x-access-token:test@${this.host}/${repo.owner}/${repo.name}.git`,
      expiresAt: Number.MAX_SAFE_INTEGER,
    }));
  }

  #run<T>(method: ForgeMethod, args: unknown[], answer: () => T): Promise<T> {
    try {
      this.#record(method, ...args);
      return Promise.resolve(answer());
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }
}
