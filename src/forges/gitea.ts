/**
 * The Gitea Forge adapter, over Gitea's REST API (`/api/v1`) with the bot user's token and plain `fetch`. It maps
 * Gitea's shapes to the Forge port, states Gitea's limits (see the constants below), retries a little on 5xx, 429
 * and network failures, and converts every failure to `ForgeError` in one place (`toForgeError`).
 *
 * Gitea has no app installations: one bot user acts on every repository it was given access to. The token needs
 * the scopes `read:repository` and `write:repository` (contents, compare, pull requests, commit statuses),
 * `write:issue` (PR comments and reactions) and `read:organization` (membership). The bot must be a member of the
 * authorizing organization, else Gitea hides private members from it (see isOrgMember).
 */
import type { RepoRef } from '../core/types.ts';
import { WORKFLOWS_DIR } from '../core/workflow/workflow-files.ts';
import { ForgeError } from '../errors.ts';
import type { CloneCredentials, CommitState, Forge, IssueComment, MembershipAnswer, PullRequestInfo } from './forge.ts';
import { readListedWorkflows } from './read-listed-workflows.ts';
import { truncate } from './truncate.ts';
import { joinUrl, trimTrailingSlashes } from '../core/url.ts';

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

export interface GiteaRetryOptions {
  /** Attempts per request, the first included (default 3). */
  readonly attempts?: number;
  /** First backoff delay; doubled on each retry (default 500 ms). */
  readonly baseDelayMs?: number;
  /** Longest wait between attempts; a `Retry-After` above it ends the retries at once (default 10 s). */
  readonly maxDelayMs?: number;
  /** How to wait (tests pass a recorder). */
  readonly sleep?: (ms: number) => Promise<void>;
}

export interface GiteaForgeOptions {
  /** GITEA_URL: the web root, e.g. `https://gitea.example.org` (a sub-path such as `/git` is kept). */
  readonly baseUrl: string;
  /** GITEA_TOKEN: the bot user's access token (scopes in the file comment). Never logged. */
  readonly token: string;
  /** The bot user's login: the sticky comment is the one this user wrote. */
  readonly botLogin: string;
  /**
   * GITEA_CLONE_TOKEN: a token of the bot user with the `read:repository` scope only, put in clone URLs handed to
   * agents. Gitea has no per-repository short-lived tokens, so anything given to an agent must be harmless if
   * leaked: never the main token, which can write statuses and comments.
   */
  readonly cloneToken?: string;
  readonly fetch?: typeof fetch;
  readonly retry?: GiteaRetryOptions;
  /** Per-attempt timeout (default 30 s). */
  readonly timeoutMs?: number;
  /** Clock for `Retry-After` dates and clone-credential hints (default `Date.now`). */
  readonly now?: () => number;
}

type RetryPolicy =
  /** Safe to send twice: reads, edits, a status (the same context is overwritten), a reaction (Gitea dedupes). */
  | 'idempotent'
  /** Creates something: only a 429 (refused before any work) is retried, so a comment is never posted twice. */
  | 'rate-limit-only';

interface SendOptions {
  readonly query?: Readonly<Record<string, string | number>>;
  readonly body?: unknown;
  readonly redirect?: 'follow' | 'manual';
  readonly policy?: RetryPolicy;
}

export function createGiteaForge(opts: GiteaForgeOptions): Forge {
  const base = new URL(opts.baseUrl);
  if (base.protocol !== 'https:' && base.protocol !== 'http:') {
    throw new ForgeError('Gitea: GITEA_URL must be an http(s) URL', {
      retryable: false,
      context: { forge: 'gitea' },
    });
  }
  const webRoot = trimTrailingSlashes(`${base.origin}${base.pathname}`);
  const apiRoot = `${webRoot}/api/v1`;
  const host = base.host.toLowerCase();
  const { token, botLogin, cloneToken } = opts;
  const fetchImpl = opts.fetch ?? fetch;
  const now = opts.now ?? Date.now;
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const attempts = Math.max(1, opts.retry?.attempts ?? 3);
  const baseDelayMs = opts.retry?.baseDelayMs ?? 500;
  const maxDelayMs = opts.retry?.maxDelayMs ?? 10_000;
  const sleep = opts.retry?.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));

  /**
   * One request, retried on a network failure, 5xx or 429 (per `policy`) with exponential backoff or the server's
   * `Retry-After`. Answers the last response whatever its status; throws only when no response came at all.
   */
  async function send(
    action: string,
    endpoint: GiteaEndpoint,
    params: Readonly<Record<string, string | number>>,
    options: SendOptions = {},
  ): Promise<Response> {
    const [method, template] = endpoint.split(' ') as [string, string];
    const url = new URL(`${apiRoot}${expandTemplate(template, params)}`);
    for (const [k, v] of Object.entries(options.query ?? {})) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = { authorization: `token ${token}`, accept: 'application/json' };
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    const policy = options.policy ?? 'idempotent';
    for (let attempt = 1; ; attempt++) {
      let response: Response | undefined;
      let failure: unknown;
      try {
        response = await fetchImpl(url, {
          method,
          headers,
          ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
          redirect: options.redirect ?? 'follow',
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (error) {
        failure = error;
      }
      const retryable =
        response === undefined
          ? policy === 'idempotent'
          : response.status === 429 || (policy === 'idempotent' && response.status >= 500);
      let delay = baseDelayMs * 2 ** (attempt - 1);
      if (response !== undefined) delay = retryAfterMs(response.headers.get('retry-after'), now()) ?? delay;
      if (!retryable || attempt >= attempts || delay > maxDelayMs) {
        if (response !== undefined) return response;
        throw toForgeError(new GiteaNetworkFailure(failure), action);
      }
      // Release the connection before waiting.
      await response?.body?.cancel().catch(() => undefined);
      await sleep(delay);
    }
  }

  /** Reads a JSON body of an expected status, or throws the failure as a ForgeError. */
  async function expectJson(action: string, response: Response, ok: readonly number[]): Promise<unknown> {
    await expectStatus(action, response, ok);
    const text = await response.text();
    if (text === '') return undefined;
    try {
      return JSON.parse(text) as unknown;
    } catch (error) {
      throw new ForgeError(`Gitea: ${action} failed: the response is not JSON`, {
        cause: error,
        retryable: false,
        status: response.status,
        context: { forge: 'gitea', action, status: response.status },
      });
    }
  }

  async function expectStatus(action: string, response: Response, ok: readonly number[]): Promise<void> {
    if (ok.includes(response.status)) return;
    await response.body?.cancel().catch(() => undefined);
    throw toForgeError(new GiteaHttpFailure(response.status, response.headers), action);
  }

  async function readRaw(repo: RepoRef, sha: string, path: string): Promise<string> {
    const action = `read ${path}`;
    const response = await send(
      action,
      'GET /repos/{owner}/{repo}/raw/{filepath}',
      { owner: repo.owner, repo: repo.name, filepath: path },
      { query: { ref: sha } },
    );
    await expectStatus(action, response, [200]);
    // Invalid UTF-8 becomes U+FFFD, which the parser reports as a binary file.
    return new TextDecoder('utf-8').decode(await response.arrayBuffer());
  }

  return {
    kind: 'gitea',
    host,
    maxCommentLength: GITEA_MAX_COMMENT_LENGTH,
    maxStatusDescription: GITEA_MAX_STATUS_DESCRIPTION,

    /**
     * One request lists the folder, then one `raw` request per workflow file: W + 1 requests. A file above
     * MAX_WORKFLOW_FILE_BYTES (by its listed size) and files past MAX_WORKFLOW_FILES are not downloaded: they come
     * back with `text: ''` and their listed `size`, for the caller to report.
     */
    async readWorkflows(repo, sha) {
      const action = 'list workflow files';
      const response = await send(
        action,
        'GET /repos/{owner}/{repo}/contents/{filepath}',
        { owner: repo.owner, repo: repo.name, filepath: WORKFLOWS_DIR },
        { query: { ref: sha } },
      );
      if (response.status === 404) {
        // No `.spotcheck/workflows` at this commit: no workflows.
        await response.body?.cancel().catch(() => undefined);
        return [];
      }
      const listing = await expectJson(action, response, [200]);
      // Gitea answers an array for a folder and one object for a file: a file at that path holds no workflows.
      return readListedWorkflows(listing, (path) => readRaw(repo, sha, path));
    },

    /**
     * Gitea's compare (`repoCompareDiff`, Gitea 1.22+) has no file list for the whole comparison: it lists every
     * commit of `base...head` with the files each commit touched (`commits[].files`, from `git log --name-status
     * --no-renames`, so a rename shows under both names). The union of those is the changed-file set. Gitea caps
     * neither the commits nor the files (and the description declares no pagination for it), so "truncated" means a
     * response that does not add up: fewer commits than `total_commits`, or a commit without `files`.
     */
    async changedFiles(repo, base, head) {
      // A new branch's push has a zero `before`: there is nothing to compare with.
      if (/^0*$/.test(base)) return null;
      const action = 'compare commits';
      const response = await send(action, 'GET /repos/{owner}/{repo}/compare/{basehead}', {
        owner: repo.owner,
        repo: repo.name,
        basehead: `${base}...${head}`,
      });
      // 404: a base Gitea does not know (force-pushed away, or a Gitea older than 1.22 without this endpoint);
      // 400/422: refs Gitea cannot compare. The caller then treats paths as matching.
      if (response.status === 404 || response.status === 400 || response.status === 422) {
        await response.body?.cancel().catch(() => undefined);
        return null;
      }
      const data = await expectJson(action, response, [200]);
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
    },

    async pullRequestFiles(repo, pr) {
      const action = 'list pull request files';
      const paths = new Set<string>();
      let count = 0;
      // Bounded even against a server that ignores `page`: the file count reaches the cap first.
      for (let page = 1; ; page++) {
        const response = await send(
          action,
          'GET /repos/{owner}/{repo}/pulls/{index}/files',
          { owner: repo.owner, repo: repo.name, index: pr },
          { query: { page, limit: GITEA_PAGE_SIZE } },
        );
        const hasMore = response.headers.get('x-hasmore');
        const data = await expectJson(action, response, [200]);
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
    },

    async pullRequest(repo, pr) {
      const action = 'read pull request';
      const response = await send(action, 'GET /repos/{owner}/{repo}/pulls/{index}', {
        owner: repo.owner,
        repo: repo.name,
        index: pr,
      });
      if (response.status === 404) {
        await response.body?.cancel().catch(() => undefined);
        return undefined;
      }
      const data = (await expectJson(action, response, [200])) as GiteaPullRequest | undefined;
      if (data?.head?.sha === undefined || data.base?.ref === undefined || typeof data.number !== 'number') {
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
      };
      return info;
    },

    /**
     * Gitea's `orgIsMember`: 204 member, 404 not a member. When the token's user is neither a member of the org nor
     * a site admin, Gitea answers 303 to the public-members endpoint instead; following it would answer for public
     * membership only, so redirects are not followed and a 303 is "no". Any error is "no" too (docs/architecture.md).
     * Only a 404 says the user is not a member; every other "no" is `undetermined`, so nobody is told they are not a
     * member when the bot could not see (the Forge port's MembershipAnswer).
     */
    async isOrgMember(org, user): Promise<MembershipAnswer> {
      let response: Response;
      try {
        response = await send(
          'check membership',
          'GET /orgs/{org}/members/{username}',
          { org, username: user },
          { redirect: 'manual' },
        );
      } catch (error) {
        return { member: false, reason: `membership check failed: ${describeFailure(error)}`, undetermined: true };
      }
      await response.body?.cancel().catch(() => undefined);
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
    },

    async isOrganization(owner) {
      try {
        const response = await send('read organization', 'GET /orgs/{org}', { org: owner });
        await response.body?.cancel().catch(() => undefined);
        // Gitea answers 404 for a user account (and for an organization the bot may not see).
        return response.status === 200;
      } catch {
        return false;
      }
    },

    async setStatus(repo, sha, status) {
      const action = 'set commit status';
      const response = await send(
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
      await expectStatus(action, response, [200, 201]);
      await response.body?.cancel().catch(() => undefined);
    },

    /**
     * Gitea's `issueGetComments` answers every comment of the issue in one response (the handler does not page and
     * the description declares no `page`/`limit`), oldest first; the first own comment with the marker is kept.
     */
    async findStickyComment(repo, pr, marker) {
      const action = 'list comments';
      const response = await send(action, 'GET /repos/{owner}/{repo}/issues/{index}/comments', {
        owner: repo.owner,
        repo: repo.name,
        index: pr,
      });
      const data = await expectJson(action, response, [200]);
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
    },

    async createComment(repo, pr, body) {
      const action = 'create comment';
      const text = truncate(body, GITEA_MAX_COMMENT_LENGTH);
      const response = await send(
        action,
        'POST /repos/{owner}/{repo}/issues/{index}/comments',
        { owner: repo.owner, repo: repo.name, index: pr },
        { body: { body: text }, policy: 'rate-limit-only' },
      );
      const data = (await expectJson(action, response, [201])) as GiteaComment | undefined;
      if (typeof data?.id !== 'number') {
        throw new ForgeError(`Gitea: ${action} failed: unexpected response shape`, {
          retryable: false,
          context: { forge: 'gitea', action },
        });
      }
      return { id: data.id, body: typeof data.body === 'string' ? data.body : text };
    },

    async updateComment(repo, commentId, body) {
      const action = 'update comment';
      const response = await send(
        action,
        'PATCH /repos/{owner}/{repo}/issues/comments/{id}',
        { owner: repo.owner, repo: repo.name, id: commentId },
        { body: { body: truncate(body, GITEA_MAX_COMMENT_LENGTH) } },
      );
      await expectStatus(action, response, [200, 204]);
      await response.body?.cancel().catch(() => undefined);
    },

    async reactToComment(repo, commentId, reaction) {
      const action = 'react to comment';
      const response = await send(
        action,
        'POST /repos/{owner}/{repo}/issues/comments/{id}/reactions',
        { owner: repo.owner, repo: repo.name, id: commentId },
        { body: { content: reaction } },
      );
      // 200: the bot had already reacted so; 201: added.
      await expectStatus(action, response, [200, 201]);
      await response.body?.cancel().catch(() => undefined);
    },

    cloneCredentials(repo): Promise<CloneCredentials> {
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
      return Promise.resolve({ url: url.href, expiresAt: now() + 60 * 60 * 1000 });
    },
  };
}

/** Fills a `{name}` template. `filepath` is Gitea's `{+path}`: segments encoded, slashes kept as they are. */
function expandTemplate(template: string, params: Readonly<Record<string, string | number>>): string {
  return template.replace(/\{([^}]+)\}/g, (_, name: string) => {
    const value = params[name];
    if (value === undefined) throw new Error(`gitea: no value for {${name}} in ${template}`);
    const text = String(value);
    return name === 'filepath' ? text.split('/').map(encodeURIComponent).join('/') : encodeURIComponent(text);
  });
}

/** A response arrived with a status the caller did not expect. */
class GiteaHttpFailure extends Error {
  override readonly name = 'GiteaHttpFailure';
  constructor(
    readonly status: number,
    readonly headers: Headers,
  ) {
    super(`HTTP ${status}`);
  }
}

/** No response arrived (DNS, refused, reset, timeout). */
class GiteaNetworkFailure extends Error {
  override readonly name = 'GiteaNetworkFailure';
  constructor(cause: unknown) {
    super('network error', { cause });
  }
}

/**
 * The one place Gitea failures are classified. Retryable: 5xx, 429 and network failures (the client's own retries
 * already ran out, a later attempt may succeed). The message names the action and the HTTP status, never the URL or
 * headers (the token is in the `Authorization` header; a clone URL carries one too).
 */
export function toForgeError(error: unknown, action: string): ForgeError {
  if (error instanceof ForgeError) return error;
  const status = error instanceof GiteaHttpFailure ? error.status : undefined;
  const network = error instanceof GiteaNetworkFailure;
  const retryable = network || (status !== undefined && (status >= 500 || status === 429));
  return new ForgeError(`Gitea: ${action} failed: ${describeFailure(error)}`, {
    cause: error,
    retryable,
    ...(status === undefined ? {} : { status }),
    context: { forge: 'gitea', action, ...(status === undefined ? {} : { status }) },
  });
}

/** One line for users and logs: the HTTP status, or that the network failed. Never the request itself. */
function describeFailure(error: unknown): string {
  if (error instanceof GiteaHttpFailure) return `HTTP ${error.status}`;
  if (error instanceof GiteaNetworkFailure) return 'network error';
  if (error instanceof ForgeError && error.status !== undefined) return `HTTP ${error.status}`;
  if (error instanceof ForgeError && error.retryable) return 'network error';
  return error instanceof Error ? error.name : 'unknown error';
}

/** `Retry-After` (RFC 9110 §10.2.3): delay-seconds or an HTTP date. */
function retryAfterMs(value: string | null, nowMs: number): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
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
}

/**
 * Endpoints the server calls outside the adapter: `GET /user` reads the bot user's login at start-up (its comments
 * are never a request) unless GITEA_BOT_LOGIN is set.
 */
export const GITEA_SERVER_ENDPOINTS = ['GET /user'] as const;

/** The login of the token's user (`GET /api/v1/user`); a ForgeError when Gitea refuses the token. */
export async function readGiteaLogin(opts: {
  readonly baseUrl: string;
  readonly token: string;
  readonly fetch?: typeof fetch;
}): Promise<string> {
  let response: Response;
  try {
    response = await (opts.fetch ?? fetch)(joinUrl(opts.baseUrl, '/api/v1/user'), {
      headers: { authorization: `token ${opts.token}`, accept: 'application/json' },
      redirect: 'manual',
    });
  } catch (error) {
    throw toForgeError(new GiteaNetworkFailure(error), 'read the bot user');
  }
  if (!response.ok) throw toForgeError(new GiteaHttpFailure(response.status, response.headers), 'read the bot user');
  const body = (await response.json()) as { login?: unknown };
  if (typeof body.login !== 'string' || body.login === '') {
    throw new ForgeError('Gitea: read the bot user failed: no login in the answer', { retryable: false });
  }
  return body.login;
}
