/**
 * The Forge port: what spotcheck needs from GitHub or Gitea, in spotcheck's words. Adapters (github.ts, gitea.ts)
 * map the vendor's shapes at the edge, state their limits, and convert vendor errors to `ForgeError`. Capacity mode's
 * runner operations are an optional capability of a forge (`Forge.capacity`, github-capacity.ts, gitea-capacity.ts).
 */
import type { ForgeKind, Permissions, RepoRef, WorkflowSource } from '../core/types.ts';
import type { WorkflowFolder } from '../core/workflow/workflow-files.ts';

export interface PullRequestInfo {
  readonly number: number;
  readonly state: 'open' | 'closed';
  readonly merged: boolean;
  readonly headSha: string;
  /** Short branch names. */
  readonly headRef: string;
  readonly baseRef: string;
  readonly author: string;
  /** `owner/name` of the head repository (differs from the base for forks). */
  readonly headRepo: string;
  /**
   * The pull request's `updated_at` (ms, the forge's clock): no earlier than the time its head became `headSha`, so
   * comparable with a comment's `created_at`.
   */
  readonly updatedAt: number;
  /**
   * The pull request object as the forge answered it (GitHub's "Get a pull request"; Gitea's is GitHub-shaped for
   * the fields workflows read): `github.event.pull_request` of a `!testme` run. Absent where the forge gives none.
   */
  readonly payload?: Readonly<Record<string, unknown>>;
}

export type CommitState = 'pending' | 'success' | 'failure' | 'error';

export interface CommitStatus {
  /** `spotcheck/<workflow>/<job>[ (<matrix>)]`. */
  readonly context: string;
  readonly state: CommitState;
  /** Truncated by the adapter to the forge's limit (GitHub: 140 characters). */
  readonly description: string;
  readonly targetUrl?: string;
}

export interface IssueComment {
  readonly id: number;
  readonly body: string;
}

/** The answer to "may this user run code here?": never true on doubt. */
export interface MembershipAnswer {
  readonly member: boolean;
  /** Why not, in one line a user can read (`not a member of acme`, `membership check failed: HTTP 502`). */
  readonly reason?: string;
  /**
   * True when the forge could not tell (an API error, no permission to see the members): still a "no", but not a
   * statement that the user is not a member, so a user is never told they are not one when the check failed.
   */
  readonly undetermined?: boolean;
}

export interface CloneCredentials {
  /** An https URL git can clone, credentials included (never logged). */
  readonly url: string;
  readonly expiresAt: number;
}

/** An order's `github.token` / `secrets.GITHUB_TOKEN` (never logged, never stored in plain text). */
export interface OrderToken {
  readonly token: string;
  /** When it stops working (epoch ms); absent for a configured token that does not expire. */
  readonly expiresAt?: number;
  /** Whether it is the order's own, to revoke when the order ends (a minted GitHub token), or a shared one. */
  readonly revocable: boolean;
  /**
   * Permissions of GitHub's default set the installation was not granted, left out of the token (`packages: read`):
   * the server logs them. Permissions a workflow asks for explicitly are never dropped: the mint fails instead.
   */
  readonly dropped?: readonly string[];
}

/**
 * One forge host, seen by one installation (GitHub) or bot token (Gitea). Methods return results for expected
 * outcomes (a missing file, a non-member) and throw `ForgeError` for the rest (network, 5xx after retries).
 */
export interface Forge {
  readonly kind: ForgeKind;
  /** Host name used in store keys (`github.com`, `ghe.example.com`, `gitea.example.org`). */
  readonly host: string;
  /**
   * Workflow files directly in `folders` at a commit (the operator's choice for the repository,
   * `resolveWorkflowFolders`): folder by folder in the order given, path order within each, a path seen twice once.
   * One listing per distinct folder plus one request per file read; a missing folder holds no workflows. The size and
   * count limits (MAX_WORKFLOW_FILE_BYTES, MAX_WORKFLOW_FILES) hold across all folders: what is over them comes
   * back unread (`text: ''`, its listed size) for the parser to report.
   */
  readWorkflows(repo: RepoRef, sha: string, folders: readonly WorkflowFolder[]): Promise<WorkflowSource[]>;
  /**
   * One file's text at a commit, branch or tag (a reusable workflow a run calls: in the repository at the run's
   * commit, or in another repository of this forge at the ref its `uses:` names); `undefined` when there is no such
   * repository, ref or file (or the installation cannot see it). One request.
   */
  readFile(repo: RepoRef, ref: string, path: string): Promise<string | undefined>;
  /**
   * Files changed between two commits (`base...head`), or `null` when the forge cannot tell (truncated list, base
   * unknown): triggers then treat paths as matching.
   */
  changedFiles(repo: RepoRef, base: string, head: string): Promise<string[] | null>;
  /** Files a pull request changes, or null when the forge truncates the list. */
  pullRequestFiles(repo: RepoRef, pr: number): Promise<string[] | null>;
  pullRequest(repo: RepoRef, pr: number): Promise<PullRequestInfo | undefined>;
  /** Membership, public or private; any error answers "no". */
  isOrgMember(org: string, user: string): Promise<MembershipAnswer>;
  /** Whether an account is an organization (the default authorizing org is the repository owner when it is one). */
  isOrganization(owner: string): Promise<boolean>;
  setStatus(repo: RepoRef, sha: string, status: CommitStatus): Promise<void>;
  /** The sticky comment: marker in the body and written by this bot's own account. */
  findStickyComment(repo: RepoRef, pr: number, marker: string): Promise<IssueComment | undefined>;
  createComment(repo: RepoRef, pr: number, body: string): Promise<IssueComment>;
  updateComment(repo: RepoRef, commentId: number, body: string): Promise<void>;
  /** Adds a 👀 (`eyes`) reaction to a comment: "seen, working on it". */
  reactToComment(repo: RepoRef, commentId: number, reaction: 'eyes' | '+1' | '-1'): Promise<void>;
  /** Short-lived, read-only credentials for cloning this repository (agents and the local runner). */
  cloneCredentials(repo: RepoRef): Promise<CloneCredentials>;
  /**
   * The token for one order's steps, shaped by its `permissions:` (the job's, else the workflow's; absent: the
   * forge's default), or undefined when it gets none (`permissions: {}`, or no token configured). A permission asked
   * for explicitly and not granted to spotcheck fails with a permanent `ForgeError` naming it.
   */
  mintOrderToken(repo: RepoRef, permissions: Permissions | undefined): Promise<OrderToken | undefined>;
  /**
   * Revokes a token `mintOrderToken` returned as revocable. Idempotent: a token revoked already or expired is not an
   * error; other failures throw (callers log them: the token expires within the hour anyway).
   */
  revokeOrderToken(token: string): Promise<void>;
  /** Largest comment body the forge accepts. */
  readonly maxCommentLength: number;
  /** Largest status description the forge accepts. */
  readonly maxStatusDescription: number;
  /** Capacity mode's runner operations, when this forge has them (GitHub Actions, Gitea Actions). */
  readonly capacity?: CapacityForge;
}

/** An Actions job, as the capacity manager sees it. */
export interface ForgeJob {
  readonly jobId: number;
  readonly runId: number;
  readonly labels: readonly string[];
  /** `queued`, `in_progress`, `completed`, `waiting`… in the forge's words (Gitea maps its own to GitHub's). */
  readonly status: string;
  readonly runnerName?: string;
}

/** What a capacity instance gets through the bootstrap exchange (never through user data). */
export type RunnerRegistration =
  | { readonly kind: 'github'; readonly runnerId: number; readonly encodedJitConfig: string }
  | { readonly kind: 'gitea'; readonly instanceUrl: string; readonly token: string };

/**
 * Capacity mode's operations on one forge, acting as the Forge it belongs to (a GitHub installation, Gitea's bot):
 * the jobs waiting for a runner, one job's state, a runner registration for one job, and removing a runner. Failures
 * are `ForgeError`s, as for the Forge itself.
 */
export interface CapacityForge {
  /** Jobs waiting for a runner (a bounded listing: a few pages per repository and pass). */
  listQueuedJobs(repo: RepoRef): Promise<ForgeJob[]>;
  /** One job, or undefined when the forge does not know it. */
  getJob(repo: RepoRef, jobId: number): Promise<ForgeJob | undefined>;
  /** A one-time registration of an ephemeral runner with this name and these labels. */
  register(
    repo: RepoRef,
    runner: { readonly name: string; readonly labels: readonly string[] },
  ): Promise<RunnerRegistration>;
  /** Removes a runner (by id when known, else by name); one that is gone already is not an error. */
  deregister(repo: RepoRef, runner: { readonly name: string; readonly id?: number }): Promise<void>;
  /**
   * Gitea's push path (for a Gitea that sends no `workflow_job`): the Actions workflow files at a commit
   * (`.gitea/workflows`, else `.github/workflows`).
   */
  readActionsWorkflows?(repo: RepoRef, sha: string): Promise<{ readonly path: string; readonly text: string }[]>;
}
