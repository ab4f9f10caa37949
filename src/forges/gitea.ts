/**
 * The Gitea Forge adapter, over Gitea's REST API (`/api/v1`) with the bot user's token and plain `fetch`. It maps
 * Gitea's shapes to the Forge port and states Gitea's limits (see the constants below); its client (gitea-client.ts)
 * retries a little on 5xx, 429 and network failures and converts every failure to `ForgeError` in one place.
 *
 * Gitea has no app installations: one bot user acts on every repository it was given access to. The token needs
 * the scopes `read:repository` and `write:repository` (contents, compare, pull requests, commit statuses),
 * `write:issue` (PR comments and reactions) and `read:organization` (membership). The bot must be a member of the
 * authorizing organization, else Gitea hides private members from it (see isOrgMember).
 */
import type { Permissions, RepoRef, WorkflowSource } from '../core/types.ts';
import { tokenPermissionsFor } from '../core/token-permissions.ts';
import type { WorkflowFolder } from '../core/workflow/workflow-files.ts';
import { ForgeError } from '../errors.ts';
import type {
  CloneCredentials,
  CommitState,
  CommitStatus,
  Forge,
  IssueComment,
  MembershipAnswer,
  OrderToken,
  PullRequestInfo,
} from './forge.ts';
import {
  createGiteaClient,
  describeFailure,
  discard,
  type GiteaClient,
  type GiteaClientOptions,
} from './gitea-client.ts';
import { createGiteaCapacity } from './gitea-capacity.ts';
import { readListedWorkflows, type FolderListing } from './read-listed-workflows.ts';
import { truncate } from './truncate.ts';

export { GITEA_SERVER_ENDPOINTS, readGiteaLogin, toForgeError, type GiteaRetryOptions } from './gitea-client.ts';

/**
 * Every Gitea REST endpoint spotcheck calls, as `METHOD /path/template` of Gitea's swagger description
 * (`/swagger.v1.json`, basePath `/api/v1`). Request URLs are built from these templates, and the contract tests
 * check that each exists in the description and that the adapter calls exactly these.
 */
export const GITEA_ENDPOINTS = [
  'GET /repos/{owner}/{repo}/contents/{filepath}',
  'GET /repos/{owner}/{repo}/raw/{filepath}',
  'GET /repos/{owner}/{repo}/compare/{basehead}',
  'GET /repos/{owner}/{repo}/pulls/{index}',
  'GET /repos/{owner}/{repo}/pulls/{index}/files',
  'GET /orgs/{org}/members/{username}',
  'GET /orgs/{org}',
  'POST /repos/{owner}/{repo}/statuses/{sha}',
  'GET /repos/{owner}/{repo}/issues/{index}/comments',
  'POST /repos/{owner}/{repo}/issues/{index}/comments',
  'PATCH /repos/{owner}/{repo}/issues/comments/{id}',
  'POST /repos/{owner}/{repo}/issues/comments/{id}/reactions',
] as const;
export type GiteaEndpoint = (typeof GITEA_ENDPOINTS)[number];

/**
 * Gitea stores a status description as TEXT and sets no limit of its own; 140 characters keeps statuses the same
 * on both forges (GitHub rejects longer ones) and readable on one line of Gitea's status list.
 */
export const GITEA_MAX_STATUS_DESCRIPTION = 140;
/**
 * Gitea stores comments as LONGTEXT and sets no API limit; docs/architecture.md caps the sticky comment at 65,536
 * anyway.
 */
export const GITEA_MAX_COMMENT_LENGTH = 65_536;
/**
 * Gitea lists every file of a pull request (its handler asks the diff for all files and pages through them); past
 * this many the answer is "unknown", as on GitHub, so one huge pull request costs at most 3000 / page-size requests.
 */
export const GITEA_PULL_FILES_MAX = 3000;
/**
 * Page size asked for list endpoints: Gitea's default `[api] MAX_RESPONSE_ITEMS` (a server may cap it lower, so
 * pagination follows Gitea's `X-HasMore` header rather than comparing page lengths).
 */
export const GITEA_PAGE_SIZE = 50;

/** Gitea's commit status states (`CommitStatusState`): ours map one to one; Gitea also has `warning`, `skipped`. */
const GITEA_STATES = {
  pending: 'pending',
  success: 'success',
  failure: 'failure',
  error: 'error',
} as const satisfies Record<CommitState, 'pending' | 'success' | 'error' | 'failure' | 'warning' | 'skipped'>;

export interface GiteaForgeOptions extends GiteaClientOptions {
  /** The bot user's login: the sticky comment is the one this user wrote. */
  readonly botLogin: string;
  /**
   * GITEA_CLONE_TOKEN: a token of the bot user with the `read:repository` scope only, put in clone URLs handed to
   * agents. Gitea has no per-repository short-lived tokens, so anything given to an agent must be harmless if
   * leaked: never the main token, which can write statuses and comments.
   */
  readonly cloneToken?: string;
  /**
   * GITEA_ACTIONS_TOKEN: what an order's steps get as `github.token` (default: the clone token, which a checkout's
   * `.git/config` hands to steps anyway). Gitea has no scoped per-order tokens: it is shared, so it must be
   * read-only, and it is never revoked.
   */
  readonly actionsToken?: string;
}

export function createGiteaForge(opts: GiteaForgeOptions): Forge {
  const client = createGiteaClient(opts);
  const { botLogin, cloneToken } = opts;
  const now = opts.now ?? Date.now;
  return {
    kind: 'gitea',
    host: client.host,
    maxCommentLength: GITEA_MAX_COMMENT_LENGTH,
    maxStatusDescription: GITEA_MAX_STATUS_DESCRIPTION,
    readWorkflows: (repo, sha, folders) => readGiteaWorkflows(client, repo, sha, folders),
    readFile: (repo, ref, path) => readGiteaFile(client, repo, ref, path),
    changedFiles: (repo, base, head) => readGiteaChangedFiles(client, repo, base, head),
    pullRequestFiles: (repo, pr) => readGiteaPullRequestFiles(client, repo, pr),
    pullRequest: (repo, pr) => readGiteaPullRequest(client, repo, pr),
    isOrgMember: (org, user) => checkGiteaMembership(client, org, user),
    isOrganization: (owner) => isGiteaOrganization(client, owner),
    setStatus: (repo, sha, status) => writeGiteaStatus(client, repo, sha, status),
    findStickyComment: (repo, pr, marker) => findGiteaStickyComment(client, botLogin, repo, pr, marker),
    createComment: (repo, pr, body) => createGiteaComment(client, repo, pr, body),
    updateComment: (repo, commentId, body) => updateGiteaComment(client, repo, commentId, body),
    reactToComment: (repo, commentId, reaction) => reactToGiteaComment(client, repo, commentId, reaction),
    cloneCredentials: (repo) => giteaCloneCredentials(client.webRoot, botLogin, cloneToken, repo, now()),
    mintOrderToken: (_repo, permissions) =>
      Promise.resolve(giteaOrderToken(opts.actionsToken ?? cloneToken, permissions)),
    // The configured token is shared by every order: nothing of an order's own to revoke.
    revokeOrderToken: () => Promise.resolve(),
    capacity: createGiteaCapacity(client),
  };
}

async function readGiteaRaw(client: GiteaClient, repo: RepoRef, sha: string, path: string): Promise<string> {
  const action = `read ${path}`;
  const response = await client.send(
    action,
    'GET /repos/{owner}/{repo}/raw/{filepath}',
    { owner: repo.owner, repo: repo.name, filepath: path },
    { query: { ref: sha } },
  );
  await client.expectStatus(action, response, [200]);
  // Invalid UTF-8 becomes U+FFFD, which the parser reports as a binary file.
  return new TextDecoder('utf-8').decode(await response.arrayBuffer());
}

/** One file at a ref, or undefined when Gitea has no such repository, ref or file (404). */
async function readGiteaFile(
  client: GiteaClient,
  repo: RepoRef,
  ref: string,
  path: string,
): Promise<string | undefined> {
  const action = `read ${path}`;
  const response = await client.send(
    action,
    'GET /repos/{owner}/{repo}/raw/{filepath}',
    { owner: repo.owner, repo: repo.name, filepath: path },
    { query: { ref } },
  );
  if (response.status === 404) {
    await discard(response);
    return undefined;
  }
  await client.expectStatus(action, response, [200]);
  return new TextDecoder('utf-8').decode(await response.arrayBuffer());
}

/**
 * One request lists each folder, then one `raw` request per workflow file: F + W requests. A file above
 * MAX_WORKFLOW_FILE_BYTES (by its listed size) and files past MAX_WORKFLOW_FILES (across all folders) are not
 * downloaded: they come back with `text: ''` and their listed `size`, for the caller to report.
 */
async function readGiteaWorkflows(
  client: GiteaClient,
  repo: RepoRef,
  sha: string,
  folders: readonly WorkflowFolder[],
): Promise<WorkflowSource[]> {
  const action = 'list workflow files';
  const listings: FolderListing[] = [];
  for (const folder of new Set(folders)) {
    const response = await client.send(
      action,
      'GET /repos/{owner}/{repo}/contents/{filepath}',
      { owner: repo.owner, repo: repo.name, filepath: folder },
      { query: { ref: sha } },
    );
    if (response.status === 404) {
      // No such folder at this commit: no workflows in it.
      await discard(response);
      continue;
    }
    // Gitea answers an array for a folder and one object for a file: a file at that path holds no workflows.
    listings.push({ folder, listing: await client.expectJson(action, response, [200]) });
  }
  return readListedWorkflows(listings, (path) => readGiteaRaw(client, repo, sha, path));
}

/**
 * Gitea's compare (`repoCompareDiff`, Gitea 1.22+) has no file list for the whole comparison: it lists every
 * commit of `base...head` with the files each commit touched (`commits[].files`, from `git log --name-status
 * --no-renames`, so a rename shows under both names). The union of those is the changed-file set. Gitea caps
 * neither the commits nor the files (and the description declares no pagination for it), so "truncated" means a
 * response that does not add up: fewer commits than `total_commits`, or a commit without `files`.
 */
async function readGiteaChangedFiles(
  client: GiteaClient,
  repo: RepoRef,
  base: string,
  head: string,
): Promise<string[] | null> {
  // A new branch's push has a zero `before`: there is nothing to compare with.
  if (/^0*$/.test(base)) return null;
  const action = 'compare commits';
  const response = await client.send(action, 'GET /repos/{owner}/{repo}/compare/{basehead}', {
    owner: repo.owner,
    repo: repo.name,
    basehead: `${base}...${head}`,
  });
  // 404: a base Gitea does not know (force-pushed away, or a Gitea older than 1.22 without this endpoint);
  // 400/422: refs Gitea cannot compare. The caller then treats paths as matching.
  if (response.status === 404 || response.status === 400 || response.status === 422) {
    await discard(response);
    return null;
  }
  const data = await client.expectJson(action, response, [200]);
  if (typeof data !== 'object' || data === null) return null;
  const { commits, total_commits: total } = data as { commits?: unknown; total_commits?: unknown };
  if (!Array.isArray(commits)) return null;
  if (typeof total === 'number' && total > commits.length) return null;
  // Without a common history Gitea answers 200 with no commits rather than an error: unknown, not "nothing".
  if (commits.length === 0 && base !== head) return null;
  const paths = new Set<string>();
  for (const commit of commits) {
    const files = (commit as { files?: unknown } | null)?.files;
    if (!Array.isArray(files)) return null;
    for (const f of files) {
      const filename = (f as { filename?: unknown } | null)?.filename;
      if (typeof filename === 'string') paths.add(filename);
    }
  }
  return [...paths];
}

async function readGiteaPullRequestFiles(client: GiteaClient, repo: RepoRef, pr: number): Promise<string[] | null> {
  const action = 'list pull request files';
  const paths = new Set<string>();
  let count = 0;
  // Bounded even against a server that ignores `page`: the file count reaches the cap first.
  for (let page = 1; ; page++) {
    const response = await client.send(
      action,
      'GET /repos/{owner}/{repo}/pulls/{index}/files',
      { owner: repo.owner, repo: repo.name, index: pr },
      { query: { page, limit: GITEA_PAGE_SIZE } },
    );
    const hasMore = response.headers.get('x-hasmore');
    const data = await client.expectJson(action, response, [200]);
    if (!Array.isArray(data) || data.length === 0) break;
    for (const f of data as ChangedFile[]) {
      count++;
      if (typeof f?.filename === 'string') paths.add(f.filename);
      if (typeof f?.previous_filename === 'string' && f.previous_filename !== '') paths.add(f.previous_filename);
    }
    if (count >= GITEA_PULL_FILES_MAX) return null;
    // Gitea says whether another page follows; without the header, read on until an empty page.
    if (hasMore === 'false') break;
  }
  return [...paths];
}

async function readGiteaPullRequest(
  client: GiteaClient,
  repo: RepoRef,
  pr: number,
): Promise<PullRequestInfo | undefined> {
  const action = 'read pull request';
  const response = await client.send(action, 'GET /repos/{owner}/{repo}/pulls/{index}', {
    owner: repo.owner,
    repo: repo.name,
    index: pr,
  });
  if (response.status === 404) {
    await discard(response);
    return undefined;
  }
  const data = (await client.expectJson(action, response, [200])) as GiteaPullRequest | undefined;
  const updatedAt = Date.parse(data?.updated_at ?? '');
  if (
    data?.head?.sha === undefined ||
    data.base?.ref === undefined ||
    typeof data.number !== 'number' ||
    !Number.isFinite(updatedAt)
  ) {
    throw new ForgeError(`Gitea: ${action} failed: unexpected response shape`, {
      retryable: false,
      context: { forge: 'gitea', action },
    });
  }
  const info: PullRequestInfo = {
    number: data.number,
    state: data.state === 'open' ? 'open' : 'closed',
    merged: data.merged === true,
    headSha: data.head.sha,
    headRef: data.head.ref ?? '',
    baseRef: data.base.ref,
    author: data.user?.login ?? '',
    // `head.repo` is null when the fork was deleted after the pull request was opened.
    headRepo: data.head.repo?.full_name ?? '',
    updatedAt,
    payload: data as unknown as Readonly<Record<string, unknown>>,
  };
  return info;
}

/**
 * Gitea's `orgIsMember`: 204 member, 404 not a member. When the token's user is neither a member of the org nor
 * a site admin, Gitea answers 303 to the public-members endpoint instead; following it would answer for public
 * membership only, so redirects are not followed and a 303 is "no". Any error is "no" too (docs/architecture.md).
 * Only a 404 says the user is not a member; every other "no" is `undetermined`, so nobody is told they are not a
 * member when the bot could not see (the Forge port's MembershipAnswer).
 */
async function checkGiteaMembership(client: GiteaClient, org: string, user: string): Promise<MembershipAnswer> {
  let response: Response;
  try {
    response = await client.send(
      'check membership',
      'GET /orgs/{org}/members/{username}',
      { org, username: user },
      { redirect: 'manual' },
    );
  } catch (error) {
    return { member: false, reason: `membership check failed: ${describeFailure(error)}`, undetermined: true };
  }
  await discard(response);
  const status = response.status;
  if (status === 204) return { member: true };
  if (status === 404) return { member: false, reason: `${user} is not a member of ${org}` };
  if (status === 302 || status === 303) {
    return {
      member: false,
      reason: `cannot see the members of ${org}: the bot user is not a member of it (Gitea hides private members from outsiders)`,
      undetermined: true,
    };
  }
  return { member: false, reason: `membership check failed: HTTP ${status}`, undetermined: true };
}

async function isGiteaOrganization(client: GiteaClient, owner: string): Promise<boolean> {
  try {
    const response = await client.send('read organization', 'GET /orgs/{org}', { org: owner });
    await discard(response);
    // Gitea answers 404 for a user account (and for an organization the bot may not see).
    return response.status === 200;
  } catch {
    return false;
  }
}

async function writeGiteaStatus(client: GiteaClient, repo: RepoRef, sha: string, status: CommitStatus): Promise<void> {
  const action = 'set commit status';
  const response = await client.send(
    action,
    'POST /repos/{owner}/{repo}/statuses/{sha}',
    { owner: repo.owner, repo: repo.name, sha },
    {
      body: {
        state: GITEA_STATES[status.state],
        context: status.context,
        description: truncate(status.description, GITEA_MAX_STATUS_DESCRIPTION),
        ...(status.targetUrl === undefined ? {} : { target_url: status.targetUrl }),
      },
    },
  );
  await client.expectStatus(action, response, [200, 201]);
  await discard(response);
}

/**
 * Gitea's `issueGetComments` answers every comment of the issue in one response (the handler does not page and
 * the description declares no `page`/`limit`), oldest first; the first own comment with the marker is kept.
 */
async function findGiteaStickyComment(
  client: GiteaClient,
  botLogin: string,
  repo: RepoRef,
  pr: number,
  marker: string,
): Promise<IssueComment | undefined> {
  const action = 'list comments';
  const response = await client.send(action, 'GET /repos/{owner}/{repo}/issues/{index}/comments', {
    owner: repo.owner,
    repo: repo.name,
    index: pr,
  });
  const data = await client.expectJson(action, response, [200]);
  if (!Array.isArray(data)) return undefined;
  const bot = botLogin.toLowerCase();
  for (const c of data as GiteaComment[]) {
    // Authorship matters: anyone can paste the marker into a comment of their own. Gitea logins are
    // case-insensitive.
    const own = typeof c?.user?.login === 'string' && c.user.login.toLowerCase() === bot;
    if (own && typeof c.body === 'string' && typeof c.id === 'number' && c.body.trimStart().startsWith(marker)) {
      const found: IssueComment = { id: c.id, body: c.body };
      return found;
    }
  }
  return undefined;
}

async function createGiteaComment(client: GiteaClient, repo: RepoRef, pr: number, body: string): Promise<IssueComment> {
  const action = 'create comment';
  const text = truncate(body, GITEA_MAX_COMMENT_LENGTH);
  const response = await client.send(
    action,
    'POST /repos/{owner}/{repo}/issues/{index}/comments',
    { owner: repo.owner, repo: repo.name, index: pr },
    { body: { body: text }, policy: 'rate-limit-only' },
  );
  const data = (await client.expectJson(action, response, [201])) as GiteaComment | undefined;
  if (typeof data?.id !== 'number') {
    throw new ForgeError(`Gitea: ${action} failed: unexpected response shape`, {
      retryable: false,
      context: { forge: 'gitea', action },
    });
  }
  return { id: data.id, body: typeof data.body === 'string' ? data.body : text };
}

async function updateGiteaComment(client: GiteaClient, repo: RepoRef, commentId: number, body: string): Promise<void> {
  const action = 'update comment';
  const response = await client.send(
    action,
    'PATCH /repos/{owner}/{repo}/issues/comments/{id}',
    { owner: repo.owner, repo: repo.name, id: commentId },
    { body: { body: truncate(body, GITEA_MAX_COMMENT_LENGTH) } },
  );
  await client.expectStatus(action, response, [200, 204]);
  await discard(response);
}

async function reactToGiteaComment(
  client: GiteaClient,
  repo: RepoRef,
  commentId: number,
  reaction: 'eyes' | '+1' | '-1',
): Promise<void> {
  const action = 'react to comment';
  const response = await client.send(
    action,
    'POST /repos/{owner}/{repo}/issues/comments/{id}/reactions',
    { owner: repo.owner, repo: repo.name, id: commentId },
    { body: { content: reaction } },
  );
  // 200: the bot had already reacted so; 201: added.
  await client.expectStatus(action, response, [200, 201]);
  await discard(response);
}
function giteaCloneCredentials(
  webRoot: string,
  botLogin: string,
  cloneToken: string | undefined,
  repo: RepoRef,
  now: number,
): Promise<CloneCredentials> {
  if (cloneToken === undefined || cloneToken === '') {
    return Promise.reject(
      new ForgeError(
        'Gitea: clone credentials unavailable: cloud agents on Gitea need GITEA_CLONE_TOKEN (a token of the bot user with the read:repository scope only)',
        { retryable: false, context: { forge: 'gitea', action: 'clone credentials' } },
      ),
    );
  }
  const url = new URL(`${webRoot}/${encodeURIComponent(repo.owner)}/${encodeURIComponent(repo.name)}.git`);
  // Gitea takes a token as the password of HTTP basic auth; the user name is the token's owner.
  url.username = encodeURIComponent(botLogin);
  url.password = encodeURIComponent(cloneToken);
  // Gitea tokens do not expire on their own: the hint makes callers ask again rather than keep a URL forever.
  return Promise.resolve({ url: url.href, expiresAt: now + 60 * 60 * 1000 });
}

interface ChangedFile {
  readonly filename?: unknown;
  readonly previous_filename?: unknown;
}

interface GiteaComment {
  readonly id?: unknown;
  readonly body?: unknown;
  readonly user?: { readonly login?: unknown } | null;
}

interface GiteaPullRequest {
  readonly number?: unknown;
  readonly state?: string;
  readonly merged?: boolean;
  readonly user?: { readonly login?: string } | null;
  readonly head?: { readonly sha?: string; readonly ref?: string; readonly repo?: { full_name?: string } | null };
  readonly base?: { readonly ref?: string };
  readonly updated_at?: string;
}

/**
 * Gitea has no scoped tokens: every order gets the configured read-only token, whatever its `permissions:` asks,
 * except a job that wants none (`permissions: {}`), which gets none, as on GitHub.
 */
function giteaOrderToken(token: string | undefined, permissions: Permissions | undefined): OrderToken | undefined {
  if (token === undefined || token === '' || tokenPermissionsFor(permissions) === undefined) return undefined;
  return { token, revocable: false };
}
