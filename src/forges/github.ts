/**
 * The GitHub Forge adapter, over Probot's octokit for one installation. It maps GitHub's REST shapes to the Forge
 * port, states GitHub's limits (status description 140 characters, comment 65,536, compare 300 files, pull request
 * files 3,000); github-client.ts converts every Octokit error to `ForgeError` in one place (`toForgeError`).
 */
import type { ProbotOctokit } from 'probot';
import type { Permissions, RepoRef, WorkflowSource } from '../core/types.ts';
import { narrowTokenPermissions, tokenPermissionsFor, type TokenPermissions } from '../core/token-permissions.ts';
import type { WorkflowFolder } from '../core/workflow/workflow-files.ts';
import { ForgeError } from '../errors.ts';
import type {
  CloneCredentials,
  CommitStatus,
  Forge,
  IssueComment,
  MembershipAnswer,
  OrderToken,
  PullRequestInfo,
} from './forge.ts';
import { readListedWorkflows, type FolderListing } from './read-listed-workflows.ts';
import { createGitHubCapacity } from './github-capacity.ts';
import { callGitHub, describeFailure, statusOf, toForgeError } from './github-client.ts';
import { truncate } from './truncate.ts';

export { truncate };
export { toForgeError } from './github-client.ts';

/**
 * Every GitHub REST endpoint spotcheck calls, as `METHOD /path/template` of GitHub's OpenAPI description. The
 * contract tests check each exists there and that app.yml grants the permission it needs.
 */
export const GITHUB_ENDPOINTS = [
  'GET /repos/{owner}/{repo}/contents/{path}',
  'GET /repos/{owner}/{repo}/compare/{basehead}',
  'GET /repos/{owner}/{repo}/pulls/{pull_number}',
  'GET /repos/{owner}/{repo}/pulls/{pull_number}/files',
  'GET /orgs/{org}/members/{username}',
  'GET /users/{username}',
  'POST /repos/{owner}/{repo}/statuses/{sha}',
  'GET /repos/{owner}/{repo}/issues/{issue_number}/comments',
  'POST /repos/{owner}/{repo}/issues/{issue_number}/comments',
  'PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}',
  'POST /repos/{owner}/{repo}/issues/comments/{comment_id}/reactions',
  'POST /app/installations/{installation_id}/access_tokens',
  'GET /app/installations/{installation_id}',
  'DELETE /installation/token',
] as const;
export type GitHubEndpoint = (typeof GITHUB_ENDPOINTS)[number];

/** Endpoints called as the app itself (a JWT), not as an installation: they need no installation permission. */
export const GITHUB_APP_ENDPOINTS = [
  'POST /app/installations/{installation_id}/access_tokens',
  'GET /app/installations/{installation_id}',
] as const satisfies readonly GitHubEndpoint[];

/** Endpoints called with an order's own token, not the installation's: they need no permission either. */
export const GITHUB_TOKEN_ENDPOINTS = ['DELETE /installation/token'] as const satisfies readonly GitHubEndpoint[];

/**
 * Endpoints the server calls as the app outside the adapter: `GET /app` reads the app's slug at start-up (its
 * comments are `<slug>[bot]`'s) unless APP_SLUG is set; the hook deliveries are read and redelivered by the tick. App (JWT) endpoints need no installation permission.
 */
export const GITHUB_SERVER_ENDPOINTS = [
  'GET /app',
  // The reconcile of lost deliveries (src/server/github-redelivery.ts).
  'GET /app/hook/deliveries',
  'POST /app/hook/deliveries/{delivery_id}/attempts',
] as const;

/** GitHub's limit on a commit status description ("Create a commit status": longer ones are rejected with 422). */
export const GITHUB_MAX_STATUS_DESCRIPTION = 140;
/** GitHub's limit on an issue comment body ("body is too long (maximum is 65536 characters)"). */
export const GITHUB_MAX_COMMENT_LENGTH = 65_536;
/** "Compare two commits": the changed-file list holds at most 300 files for the entire comparison. */
export const GITHUB_COMPARE_MAX_FILES = 300;
/** "List pull requests files": responses include a maximum of 3000 files. */
export const GITHUB_PULL_FILES_MAX = 3000;

export interface GitHubForgeOptions {
  /** Probot's octokit, authenticated as the installation (retry and throttling are Probot's). */
  readonly octokit: ProbotOctokit;
  /** Web host (`github.com`, `ghe.example.com`): store keys and clone URLs. */
  readonly host: string;
  /** The app's slug: its comments are written by `${appSlug}[bot]`. */
  readonly appSlug: string;
  /**
   * A short-lived installation token for this repository only, with these App permissions, and when it expires
   * (epoch ms): "Create an installation access token for an app", called as the app.
   */
  readonly mintToken: (
    repo: RepoRef,
    permissions: TokenPermissions,
  ) => Promise<{ readonly token: string; readonly expiresAt: number }>;
  /** The App permissions this installation was granted ("Get an installation for the authenticated app"). */
  readonly installationPermissions: () => Promise<Readonly<Record<string, string>>>;
  /** Scheme of clone URLs (GHE_PROTOCOL); `https` by default. */
  readonly protocol?: 'https' | 'http';
}

export function createGitHubForge(opts: GitHubForgeOptions): Forge {
  const { octokit, host, appSlug, mintToken } = opts;
  const protocol = opts.protocol ?? 'https';
  const botLogin = `${appSlug}[bot]`;
  return {
    kind: 'github',
    host,
    maxCommentLength: GITHUB_MAX_COMMENT_LENGTH,
    maxStatusDescription: GITHUB_MAX_STATUS_DESCRIPTION,
    readWorkflows: (repo, sha, folders) => readGitHubWorkflows(octokit, repo, sha, folders),
    async readFile(repo, ref, path) {
      try {
        const response = await octokit.rest.repos.getContent({
          owner: repo.owner,
          repo: repo.name,
          path,
          ref,
          headers: { accept: 'application/vnd.github.raw+json' },
        });
        return decodeContent(response.data);
      } catch (error) {
        if (statusOf(error) === 404) return undefined; // no such repository, ref or file (or not visible to us)
        throw toForgeError(error, `read ${path}`);
      }
    },
    changedFiles: (repo, base, head) => readGitHubChangedFiles(octokit, repo, base, head),
    pullRequestFiles: (repo, pr) => readGitHubPullRequestFiles(octokit, repo, pr),
    pullRequest: (repo, pr) => readGitHubPullRequest(octokit, repo, pr),
    isOrgMember: (org, user) => checkGitHubMembership(octokit, org, user),
    isOrganization: (owner) => isGitHubOrganization(octokit, owner),
    setStatus: (repo, sha, status) => writeGitHubStatus(octokit, repo, sha, status),
    findStickyComment: (repo, pr, marker) => findGitHubStickyComment(octokit, botLogin, repo, pr, marker),
    createComment: (repo, pr, body) => createGitHubComment(octokit, repo, pr, body),
    updateComment: (repo, commentId, body) => updateGitHubComment(octokit, repo, commentId, body),
    reactToComment: (repo, commentId, reaction) => reactToGitHubComment(octokit, repo, commentId, reaction),

    async cloneCredentials(repo): Promise<CloneCredentials> {
      const { token, expiresAt } = await callGitHub('mint clone token', () => mintToken(repo, { contents: 'read' }));
      // The `x-access-token` user name is how GitHub takes an installation token over HTTPS.
      const url = `${protocol}://x-access-token:${encodeURIComponent(token)}@${host}/${repo.owner}/${repo.name}.git`;
      return { url, expiresAt };
    },
    mintOrderToken: (repo, permissions) => mintGitHubOrderToken(opts, repo, permissions),
    revokeOrderToken: (token) => revokeGitHubToken(octokit, token),
    capacity: createGitHubCapacity(octokit),
  };
}

/**
 * The order's installation token: this repository only, with the permissions its `permissions:` asks for
 * (token-permissions.ts). An explicit ask beyond the installation's grant fails the order with the missing
 * permissions named, as GitHub fails a job that asks for more than it may have (a called workflow asking for more
 * than its caller allows); GitHub's default set is narrowed to the grant instead (spotcheck's app.yml has no
 * `packages`), so a workflow without `permissions:` still runs.
 */
async function mintGitHubOrderToken(
  opts: GitHubForgeOptions,
  repo: RepoRef,
  permissions: Permissions | undefined,
): Promise<OrderToken | undefined> {
  const wanted = tokenPermissionsFor(permissions);
  if (wanted === undefined) return undefined;
  const granted = await callGitHub('read the installation', () => opts.installationPermissions());
  const { allowed, beyond } = narrowTokenPermissions(wanted, granted);
  if (beyond.length > 0 && permissions !== undefined) {
    throw new ForgeError(
      `the job's permissions ask for ${beyond.join(', ')}, which the spotcheck app was not granted on ` +
        `${repo.owner}: grant the app these permissions or lower the job's \`permissions:\``,
      { retryable: false, status: 422, context: { forge: 'github', action: 'mint order token' } },
    );
  }
  const { token, expiresAt } = await callGitHub('mint order token', () => opts.mintToken(repo, allowed));
  return { token, expiresAt, revocable: true, ...(beyond.length > 0 ? { dropped: beyond } : {}) };
}

/**
 * "Revoke an installation access token": `DELETE /installation/token`, authenticated with that token itself (the
 * installation octokit would send its own). A 401 means the token is revoked or expired already: done. No retries:
 * a revoke that fails is logged by the caller and the token expires within the hour.
 */
async function revokeGitHubToken(octokit: ProbotOctokit, token: string): Promise<void> {
  const TokenOctokit = octokit.constructor as typeof ProbotOctokit;
  const asToken = new TokenOctokit({
    auth: { token },
    baseUrl: octokit.request.endpoint.DEFAULTS.baseUrl,
    retry: { enabled: false },
    throttle: { enabled: false },
  });
  try {
    await asToken.rest.apps.revokeInstallationAccessToken();
  } catch (error) {
    if (statusOf(error) === 401) return;
    throw toForgeError(error, 'revoke order token');
  }
}

async function readGitHubFile(octokit: ProbotOctokit, repo: RepoRef, sha: string, path: string): Promise<string> {
  const response = await callGitHub(`read ${path}`, () =>
    octokit.rest.repos.getContent({
      owner: repo.owner,
      repo: repo.name,
      path,
      ref: sha,
      // The raw media type returns the file's bytes, without base64 and without the 1 MB JSON limit.
      headers: { accept: 'application/vnd.github.raw+json' },
    }),
  );
  return decodeContent(response.data);
}

/**
 * One request lists each folder, then one per workflow file: F + W requests. A file above MAX_WORKFLOW_FILE_BYTES
 * (by its listed size) and files past MAX_WORKFLOW_FILES (across all folders) are not downloaded: they come back
 * with `text: ''` and their listed `size`, for the caller to report (the parser reports the count).
 */
async function readGitHubWorkflows(
  octokit: ProbotOctokit,
  repo: RepoRef,
  sha: string,
  folders: readonly WorkflowFolder[],
): Promise<WorkflowSource[]> {
  const listings: FolderListing[] = [];
  for (const folder of new Set(folders)) {
    try {
      const { data } = await octokit.rest.repos.getContent({
        owner: repo.owner,
        repo: repo.name,
        path: folder,
        ref: sha,
      });
      // A file (not a folder) at that path holds no workflows either (readListedWorkflows skips it).
      listings.push({ folder, listing: data });
    } catch (error) {
      if (statusOf(error) === 404) continue; // no such folder at this commit: no workflows in it
      throw toForgeError(error, 'list workflow files');
    }
  }
  return readListedWorkflows(listings, (path) => readGitHubFile(octokit, repo, sha, path));
}

async function readGitHubChangedFiles(
  octokit: ProbotOctokit,
  repo: RepoRef,
  base: string,
  head: string,
): Promise<string[] | null> {
  // A new branch's push has a zero `before`: there is nothing to compare with.
  if (/^0*$/.test(base)) return null;
  let data: { files?: readonly ChangedFile[] };
  try {
    // per_page=1 asks for the paginated form: files are listed on the first page (up to 300 for the whole
    // comparison) while only one commit is returned, which keeps the response small.
    data = (
      await octokit.rest.repos.compareCommitsWithBasehead({
        owner: repo.owner,
        repo: repo.name,
        basehead: `${base}...${head}`,
        per_page: 1,
      })
    ).data;
  } catch (error) {
    const status = statusOf(error);
    // 404: a base GitHub does not know (force-pushed away, another network); 422: no common history.
    if (status === 404 || status === 422) return null;
    throw toForgeError(error, 'compare commits');
  }
  const files = data.files ?? [];
  // At the cap the list may be truncated and GitHub does not say so: treat it as unknown.
  if (files.length >= GITHUB_COMPARE_MAX_FILES) return null;
  return changedPaths(files);
}

async function readGitHubPullRequestFiles(octokit: ProbotOctokit, repo: RepoRef, pr: number): Promise<string[] | null> {
  const files: ChangedFile[] = [];
  await callGitHub('list pull request files', async () => {
    for await (const page of octokit.paginate.iterator(octokit.rest.pulls.listFiles, {
      owner: repo.owner,
      repo: repo.name,
      pull_number: pr,
      per_page: 100,
    })) {
      files.push(...page.data);
    }
  });
  if (files.length >= GITHUB_PULL_FILES_MAX) return null;
  return changedPaths(files);
}

async function readGitHubPullRequest(
  octokit: ProbotOctokit,
  repo: RepoRef,
  pr: number,
): Promise<PullRequestInfo | undefined> {
  let data;
  try {
    data = (await octokit.rest.pulls.get({ owner: repo.owner, repo: repo.name, pull_number: pr })).data;
  } catch (error) {
    if (statusOf(error) === 404) return undefined;
    throw toForgeError(error, 'read pull request');
  }
  const info: PullRequestInfo = {
    number: data.number,
    state: data.state === 'open' ? 'open' : 'closed',
    merged: data.merged,
    headSha: data.head.sha,
    headRef: data.head.ref,
    baseRef: data.base.ref,
    author: data.user.login,
    // `head.repo` is null when the fork was deleted after the pull request was opened.
    headRepo: data.head.repo?.full_name ?? '',
    updatedAt: Date.parse(data.updated_at),
    payload: data,
  };
  return info;
}

/**
 * GitHub's "Check organization membership for a user": 204 member, 404 not a member, 302 when the requester
 * cannot see the organization's members (the installation lacks the Members permission or is not in that
 * org). Redirects are not followed: following the 302 would answer for public membership only.
 */
async function checkGitHubMembership(octokit: ProbotOctokit, org: string, user: string): Promise<MembershipAnswer> {
  try {
    const response = await octokit.rest.orgs.checkMembershipForUser({
      org,
      username: user,
      request: { redirect: 'manual' },
    });
    const status: number = response.status;
    if (status === 204) return { member: true };
    if (status === 302) {
      return {
        member: false,
        reason: `cannot see the members of ${org}: the app is not installed there or lacks the Members (read) permission`,
        undetermined: true,
      };
    }
    return { member: false, reason: `membership check failed: HTTP ${status}`, undetermined: true };
  } catch (error) {
    const status = statusOf(error);
    if (status === 404) return { member: false, reason: `${user} is not a member of ${org}` };
    // Deny on doubt (docs/architecture.md, security model): an error is never a yes.
    return { member: false, reason: `membership check failed: ${describeFailure(error)}`, undetermined: true };
  }
}

async function isGitHubOrganization(octokit: ProbotOctokit, owner: string): Promise<boolean> {
  try {
    const { data } = await octokit.rest.users.getByUsername({ username: owner });
    return data.type === 'Organization';
  } catch {
    return false;
  }
}

async function writeGitHubStatus(
  octokit: ProbotOctokit,
  repo: RepoRef,
  sha: string,
  status: CommitStatus,
): Promise<void> {
  await callGitHub('set commit status', () =>
    octokit.rest.repos.createCommitStatus({
      owner: repo.owner,
      repo: repo.name,
      sha,
      state: status.state,
      context: status.context,
      description: truncate(status.description, GITHUB_MAX_STATUS_DESCRIPTION),
      ...(status.targetUrl === undefined ? {} : { target_url: status.targetUrl }),
    }),
  );
}

async function findGitHubStickyComment(
  octokit: ProbotOctokit,
  botLogin: string,
  repo: RepoRef,
  pr: number,
  marker: string,
): Promise<IssueComment | undefined> {
  return callGitHub('list comments', async () => {
    // Comments come oldest first; the first sticky comment is the one that is kept up to date.
    for await (const page of octokit.paginate.iterator(octokit.rest.issues.listComments, {
      owner: repo.owner,
      repo: repo.name,
      issue_number: pr,
      per_page: 100,
    })) {
      for (const c of page.data) {
        // Authorship matters: anyone can paste the marker into a comment of their own.
        const own = c.user?.login === botLogin && c.user.type === 'Bot';
        if (own && c.body !== undefined && c.body.trimStart().startsWith(marker)) {
          const found: IssueComment = { id: c.id, body: c.body };
          return found;
        }
      }
    }
    return undefined;
  });
}

async function createGitHubComment(
  octokit: ProbotOctokit,
  repo: RepoRef,
  pr: number,
  body: string,
): Promise<IssueComment> {
  const { data } = await callGitHub('create comment', () =>
    octokit.rest.issues.createComment({
      owner: repo.owner,
      repo: repo.name,
      issue_number: pr,
      body: truncate(body, GITHUB_MAX_COMMENT_LENGTH),
    }),
  );
  return { id: data.id, body: data.body ?? body };
}

async function updateGitHubComment(
  octokit: ProbotOctokit,
  repo: RepoRef,
  commentId: number,
  body: string,
): Promise<void> {
  await callGitHub('update comment', () =>
    octokit.rest.issues.updateComment({
      owner: repo.owner,
      repo: repo.name,
      comment_id: commentId,
      body: truncate(body, GITHUB_MAX_COMMENT_LENGTH),
    }),
  );
}

async function reactToGitHubComment(
  octokit: ProbotOctokit,
  repo: RepoRef,
  commentId: number,
  reaction: 'eyes' | '+1' | '-1',
): Promise<void> {
  await callGitHub('react to comment', () =>
    octokit.rest.reactions.createForIssueComment({
      owner: repo.owner,
      repo: repo.name,
      comment_id: commentId,
      content: reaction,
    }),
  );
}
interface ChangedFile {
  readonly filename: string;
  readonly previous_filename?: string;
}

/**
 * A renamed file counts under both names, so a rename out of a filtered folder still matches its `paths` filter
 * (the list is a superset of what changed, never a subset).
 */
function changedPaths(files: readonly ChangedFile[]): string[] {
  const paths = new Set<string>();
  for (const f of files) {
    paths.add(f.filename);
    if (f.previous_filename !== undefined) paths.add(f.previous_filename);
  }
  return [...paths];
}

/** The raw media type answers text (or bytes, by content type); a server that ignores it answers JSON + base64. */
function decodeContent(data: unknown): string {
  if (typeof data === 'string') return data;
  // Invalid UTF-8 becomes U+FFFD, which the parser reports as a binary file.
  if (data instanceof ArrayBuffer || Object.prototype.toString.call(data) === '[object ArrayBuffer]') {
    return Buffer.from(data as ArrayBuffer).toString('utf8');
  }
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8');
  if (typeof data === 'object' && data !== null) {
    const { content, encoding } = data as { content?: unknown; encoding?: unknown };
    if (typeof content === 'string' && encoding === 'base64') return Buffer.from(content, 'base64').toString('utf8');
    if (typeof content === 'string' && encoding === undefined) return content;
  }
  throw new ForgeError('GitHub: read workflow file failed: unexpected response shape', {
    retryable: false,
    context: { forge: 'github', action: 'read workflow file' },
  });
}
