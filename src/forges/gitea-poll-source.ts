/**
 * What the Gitea poll (src/intake/gitea-poll.ts) reads, over the adapter's client (gitea-client.ts: the bot token,
 * retries on 5xx/429/network, failures as `ForgeError`): the repositories to poll, and per repository its branch
 * heads, its open pull requests (and one by number, to confirm a close) and its recent comments, mapped at this edge to spotcheck's own small shapes. Every
 * list is paged (Gitea's `page`/`limit`, `X-HasMore`) and bounded by the caller's page count; a listing cut short
 * says so (`complete: false`), so the caller never takes "not listed" for "gone".
 */
import { ForgeError } from '../errors.ts';
import {
  createGiteaClient,
  discard,
  type GiteaClient,
  type GiteaClientOptions,
  type GiteaEndpointTemplate,
  type PathParams,
} from './gitea-client.ts';

/** Every endpoint the poll calls (the contract tests check each against Gitea's swagger description). */
export const GITEA_POLL_ENDPOINTS = [
  'GET /repos/{owner}/{repo}',
  'GET /orgs/{org}/repos',
  'GET /users/{username}/repos',
  'GET /user/repos',
  'GET /repos/{owner}/{repo}/branches',
  'GET /repos/{owner}/{repo}/pulls',
  'GET /repos/{owner}/{repo}/pulls/{index}',
  'GET /repos/{owner}/{repo}/issues/comments',
] as const satisfies readonly GiteaEndpointTemplate[];

/** Page size asked for: Gitea's default `[api] MAX_RESPONSE_ITEMS`. */
const PAGE_SIZE = 50;

export interface PolledRepo {
  readonly owner: string;
  readonly name: string;
  /** Private or internal (readable only by the instance's users). */
  readonly private: boolean;
}

export interface PolledBranch {
  readonly name: string;
  readonly sha: string;
  /** Who the head commit names: its committer's (else author's) Gitea user, else git name; '' when neither. */
  readonly committer: string;
}

export interface PolledPull {
  readonly number: number;
  readonly headSha: string;
  readonly headRef: string;
  readonly baseRef: string;
  readonly author: string;
  /** `owner/name` of the head's repository; '' when the fork was deleted. */
  readonly headRepo: string;
  /** Epoch ms, Gitea's clock. */
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** One pull request read by its number, whatever its state (the poll confirms a close with it). */
export interface PolledPullState extends PolledPull {
  readonly state: 'open' | 'closed';
  readonly merged: boolean;
  /** Epoch ms, Gitea's clock; set when closed (Gitea clears it on a reopen). */
  readonly closedAt?: number;
}

export interface PolledComment {
  readonly id: number;
  /** The pull request it was written on (from `pull_request_url`); undefined for a comment on an issue. */
  readonly pr?: number;
  readonly author: { readonly login: string; readonly id: number } | undefined;
  readonly body: string;
  /** Epoch ms, Gitea's clock. */
  readonly createdAt: number;
}

export interface Listing<T> {
  readonly items: readonly T[];
  /** False when the page bound cut the list short. */
  readonly complete: boolean;
  /** Gitea's clock (its `Date` header) at the first page, when it sent one. */
  readonly serverTime?: number;
}

/** What the poll reads from Gitea; `requests()` counts what was sent, for the poll's per-interval budget. */
export interface GiteaPollSource {
  /** One repository; undefined when Gitea has none by that name the bot can see (404). */
  readRepo(owner: string, name: string): Promise<PolledRepo | undefined>;
  /** Every repository of an organization, or of a user when no organization has that name. */
  listOwnerRepos(owner: string, maxPages: number): Promise<Listing<PolledRepo>>;
  /** The repositories the bot user owns or was given access to (`GET /user/repos`). */
  listBotRepos(maxPages: number): Promise<Listing<PolledRepo>>;
  listBranches(repo: PolledRepo, maxPages: number): Promise<Listing<PolledBranch>>;
  /** Open pull requests, most recently updated first. */
  listOpenPulls(repo: PolledRepo, maxPages: number): Promise<Listing<PolledPull>>;
  /** One pull request by number, open or closed; undefined when Gitea has none (404: deleted, or not a pull). */
  readPull(repo: PolledRepo, number: number): Promise<PolledPullState | undefined>;
  /** Comments on the repository's issues and pull requests updated at or after `since` (Gitea: oldest first). */
  listCommentsSince(repo: PolledRepo, since: number, maxPages: number): Promise<Listing<PolledComment>>;
  /** Requests sent so far. */
  requests(): number;
}

export function createGiteaPollSource(opts: GiteaClientOptions): GiteaPollSource {
  const client = createGiteaClient(opts);
  let sent = 0;
  const counted: GiteaClient = {
    ...client,
    send: (...args) => {
      sent++;
      return client.send(...args);
    },
  };
  return {
    readRepo: (owner, name) => readRepo(counted, owner, name),
    listOwnerRepos: (owner, maxPages) => listOwnerRepos(counted, owner, maxPages),
    listBotRepos: (maxPages) => listPages(counted, 'list repositories', 'GET /user/repos', {}, {}, maxPages, repoOf),
    listBranches: (repo, maxPages) =>
      listPages(counted, 'list branches', 'GET /repos/{owner}/{repo}/branches', params(repo), {}, maxPages, branchOf),
    listOpenPulls: (repo, maxPages) =>
      listPages(
        counted,
        'list pull requests',
        'GET /repos/{owner}/{repo}/pulls',
        params(repo),
        { state: 'open', sort: 'recentupdate' },
        maxPages,
        pullOf,
      ),
    readPull: (repo, number) => readPull(counted, repo, number),
    listCommentsSince: (repo, since, maxPages) =>
      listPages(
        counted,
        'list comments',
        'GET /repos/{owner}/{repo}/issues/comments',
        params(repo),
        // RFC 3339 in whole seconds: Gitea keeps Unix seconds and compares `updated_unix >= since`.
        { since: new Date(Math.floor(since / 1000) * 1000).toISOString().replace('.000Z', 'Z') },
        maxPages,
        commentOf,
      ),
    requests: () => sent,
  };
}

const params = (repo: PolledRepo): PathParams => ({ owner: repo.owner, repo: repo.name });

type Json = Readonly<Record<string, unknown>>;

function objectOf(value: unknown): Json | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : undefined;
}

function stringOf(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function timeOf(value: unknown): number | undefined {
  const ms = typeof value === 'string' ? Date.parse(value) : Number.NaN;
  return Number.isFinite(ms) ? ms : undefined;
}

/** A git object id: SHA-1 (40 hex) or SHA-256 (64 hex). */
const OBJECT_ID = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/i;

function repoOf(value: unknown): PolledRepo | undefined {
  const r = objectOf(value);
  const owner = objectOf(r?.['owner']);
  const login = stringOf(owner?.['login']) ?? stringOf(owner?.['username']);
  const name = stringOf(r?.['name']);
  if (r === undefined || login === undefined || name === undefined) return undefined;
  // Absent `private` reads as private: the safe side for who may see the runs.
  return { owner: login, name, private: r['private'] !== false || r['internal'] === true };
}

function branchOf(value: unknown): PolledBranch | undefined {
  const b = objectOf(value);
  const commit = objectOf(b?.['commit']);
  const name = stringOf(b?.['name']);
  const sha = stringOf(commit?.['id']);
  if (name === undefined || sha === undefined || !OBJECT_ID.test(sha)) return undefined;
  const committer = objectOf(commit?.['committer']);
  const author = objectOf(commit?.['author']);
  return {
    name,
    sha: sha.toLowerCase(),
    committer:
      stringOf(committer?.['username']) ??
      stringOf(author?.['username']) ??
      stringOf(committer?.['name']) ??
      stringOf(author?.['name']) ??
      '',
  };
}

function pullOf(value: unknown): PolledPull | undefined {
  const p = objectOf(value);
  const head = objectOf(p?.['head']);
  const base = objectOf(p?.['base']);
  const number = p?.['number'];
  const headSha = stringOf(head?.['sha']);
  const headRef = stringOf(head?.['ref']);
  const baseRef = stringOf(base?.['ref']);
  const createdAt = timeOf(p?.['created_at']);
  const updatedAt = timeOf(p?.['updated_at']);
  if (
    typeof number !== 'number' ||
    !Number.isSafeInteger(number) ||
    number <= 0 ||
    headSha === undefined ||
    !OBJECT_ID.test(headSha) ||
    headRef === undefined ||
    baseRef === undefined ||
    createdAt === undefined ||
    updatedAt === undefined
  )
    return undefined;
  const user = objectOf(p?.['user']);
  return {
    number,
    headSha: headSha.toLowerCase(),
    headRef,
    baseRef,
    author: stringOf(user?.['login']) ?? stringOf(user?.['username']) ?? '',
    headRepo: stringOf(objectOf(head?.['repo'])?.['full_name']) ?? '',
    createdAt,
    updatedAt,
  };
}

function pullStateOf(value: unknown): PolledPullState | undefined {
  const pull = pullOf(value);
  const p = objectOf(value);
  if (pull === undefined || (p?.['state'] !== 'open' && p?.['state'] !== 'closed')) return undefined;
  const closedAt = timeOf(p['closed_at']);
  return {
    ...pull,
    state: p['state'],
    merged: p['merged'] === true,
    ...(closedAt === undefined ? {} : { closedAt }),
  };
}

/** The pull request number at the end of a comment's `pull_request_url` (`…/{owner}/{repo}/pulls/{n}`). */
function pullNumberOf(url: string | undefined): number | undefined {
  if (url === undefined) return undefined;
  const tail = url.slice(url.lastIndexOf('/') + 1);
  const before = url.slice(0, url.lastIndexOf('/'));
  if (!before.endsWith('/pulls') || !/^[1-9]\d{0,15}$/.test(tail)) return undefined;
  return Number(tail);
}

function commentOf(value: unknown): PolledComment | undefined {
  const c = objectOf(value);
  const id = c?.['id'];
  const createdAt = timeOf(c?.['created_at']);
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id <= 0 || createdAt === undefined) return undefined;
  const user = objectOf(c?.['user']);
  const login = stringOf(user?.['login']) ?? stringOf(user?.['username']);
  const userId = user?.['id'];
  const pr = pullNumberOf(stringOf(c?.['pull_request_url']));
  return {
    id,
    ...(pr === undefined ? {} : { pr }),
    author: login === undefined || typeof userId !== 'number' ? undefined : { login, id: userId },
    body: typeof c?.['body'] === 'string' ? c['body'] : '',
    createdAt,
  };
}

async function readRepo(client: GiteaClient, owner: string, name: string): Promise<PolledRepo | undefined> {
  return readOne(client, 'read repository', 'GET /repos/{owner}/{repo}', { owner, repo: name }, repoOf);
}

async function readPull(client: GiteaClient, repo: PolledRepo, number: number): Promise<PolledPullState | undefined> {
  const route = 'GET /repos/{owner}/{repo}/pulls/{index}';
  return readOne(client, 'read pull request', route, { ...params(repo), index: number }, pullStateOf);
}

/** One resource: undefined when Gitea answers 404, an error when the answer has another shape. */
async function readOne<T>(
  client: GiteaClient,
  action: string,
  route: Parameters<GiteaClient['send']>[1],
  values: Parameters<GiteaClient['send']>[2],
  shapeOf: (body: unknown) => T | undefined,
): Promise<T | undefined> {
  const response = await client.send(action, route, values);
  if (response.status === 404) {
    await discard(response);
    return undefined;
  }
  const value = shapeOf(await client.expectJson(action, response, [200]));
  if (value === undefined) throw unexpectedShape(action);
  return value;
}

/** An organization's repositories; Gitea answers 404 for a user's name there, so then the user's. */
async function listOwnerRepos(client: GiteaClient, owner: string, maxPages: number): Promise<Listing<PolledRepo>> {
  const org = await listPages(
    client,
    'list repositories',
    'GET /orgs/{org}/repos',
    { org: owner },
    {},
    maxPages,
    repoOf,
  );
  if (org !== undefined) return org;
  const user = await listPages(
    client,
    'list repositories',
    'GET /users/{username}/repos',
    { username: owner },
    {},
    maxPages,
    repoOf,
  );
  return user ?? { items: [], complete: true };
}

/**
 * Reads pages until Gitea says there are no more (`X-HasMore: false`, or a page shorter than asked for) or
 * `maxPages` were read. Items that do not have the expected shape are left out. A 404 on the first page answers
 * undefined where the caller can handle it (the org listing); elsewhere it is an empty listing.
 */
function listPages<T>(
  client: GiteaClient,
  action: string,
  endpoint: 'GET /orgs/{org}/repos',
  path: PathParams,
  query: Readonly<Record<string, string>>,
  maxPages: number,
  map: (value: unknown) => T | undefined,
): Promise<Listing<T> | undefined>;
function listPages<T>(
  client: GiteaClient,
  action: string,
  endpoint: GiteaEndpointTemplate,
  path: PathParams,
  query: Readonly<Record<string, string>>,
  maxPages: number,
  map: (value: unknown) => T | undefined,
): Promise<Listing<T>>;
async function listPages<T>(
  client: GiteaClient,
  action: string,
  endpoint: GiteaEndpointTemplate,
  path: PathParams,
  query: Readonly<Record<string, string>>,
  maxPages: number,
  map: (value: unknown) => T | undefined,
): Promise<Listing<T> | undefined> {
  const items: T[] = [];
  let serverTime: number | undefined;
  for (let page = 1; page <= maxPages; page++) {
    const response = await client.send(action, endpoint, path, { query: { ...query, page, limit: PAGE_SIZE } });
    if (page === 1) {
      const date = Date.parse(response.headers.get('date') ?? '');
      serverTime = Number.isFinite(date) ? date : undefined;
      if (response.status === 404 && endpoint === 'GET /orgs/{org}/repos') {
        await discard(response);
        return undefined;
      }
    }
    const hasMore = response.headers.get('x-hasmore');
    const data = await client.expectJson(action, response, [200]);
    if (!Array.isArray(data)) throw unexpectedShape(action);
    for (const value of data) {
      const item = map(value);
      if (item !== undefined) items.push(item);
    }
    const last = hasMore === 'false' || (hasMore === null && data.length < PAGE_SIZE) || data.length === 0;
    if (last) return { items, complete: true, ...(serverTime === undefined ? {} : { serverTime }) };
  }
  return { items, complete: false, ...(serverTime === undefined ? {} : { serverTime }) };
}

function unexpectedShape(action: string): ForgeError {
  return new ForgeError(`Gitea: ${action} failed: unexpected response shape`, {
    retryable: false,
    context: { forge: 'gitea', action },
  });
}
