/**
 * The two REST calls an actions source answers: a ref to its commit id, and the repository's files at a commit as a
 * gzipped tarball. GitHub (and GitHub Enterprise): `GET /repos/{owner}/{repo}/commits/{ref}` with
 * `Accept: application/vnd.github.sha` (the id as plain text), then `GET /repos/{owner}/{repo}/tarball/{ref}`, which
 * answers 302 to codeload. Gitea: `GET /repos/{owner}/{repo}/git/commits/{sha}` ("a git ref or commit sha"), then
 * `GET /repos/{owner}/{repo}/archive/{sha}.tar.gz`. HTTP statuses become `ActionFetchError` sentences here and
 * nowhere else.
 */
import { createWriteStream } from 'node:fs';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { trimTrailingSlashes } from '../../../src/core/url.ts';
import type { ActionsSource } from '../../runner.ts';
import { ActionFetchError } from './action-fetcher.ts';
import { formatBytes } from './safe-unpack.ts';

export interface RepoAtRef {
  readonly owner: string;
  readonly repo: string;
  /** As written after `@` in `uses:`. */
  readonly ref: string;
}

/** A commit id: SHA-1 (40 hex) or SHA-256 (64 hex, Gitea's object format option). */
export const COMMIT_ID = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

const MAX_REDIRECTS = 5;

export interface ActionSourceClient {
  /** The full commit id `ref` names in the repository. */
  resolveCommit(source: ActionsSource, at: RepoAtRef): Promise<string>;
  /** Writes the tarball of the repository at `sha` to `file`; more than `maxBytes` is refused. */
  downloadTarball(source: ActionsSource, at: RepoAtRef, sha: string, file: string, maxBytes: number): Promise<void>;
}

export function createActionSourceClient(doFetch: typeof fetch = fetch): ActionSourceClient {
  return {
    async resolveCommit(source, at) {
      const repoPath = `/repos/${encodeURIComponent(at.owner)}/${encodeURIComponent(at.repo)}`;
      const ref = encodeURIComponent(at.ref);
      const response =
        source.kind === 'github'
          ? await request(doFetch, source, `${repoPath}/commits/${ref}`, at, 'application/vnd.github.sha')
          : await request(
              doFetch,
              source,
              `${repoPath}/git/commits/${ref}?stat=false&verification=false&files=false`,
              at,
              'application/json',
            );
      // GitHub answers 422 for a ref it cannot find in an existing repository, both answer 404 for either.
      if (response.status === 404 || response.status === 422) {
        await response.body?.cancel();
        throw await notFound(doFetch, source, at, repoPath);
      }
      await failUnlessOk(response, source, at);
      const sha =
        source.kind === 'github'
          ? (await response.text()).trim()
          : shaOf(await response.json().catch((): unknown => undefined));
      if (sha === undefined || !COMMIT_ID.test(sha))
        throw new ActionFetchError(`${describe(at)}: ${source.apiUrl} did not answer with a commit id.`);
      return sha;
    },

    async downloadTarball(source, at, sha, file, maxBytes) {
      const repoPath = `/repos/${encodeURIComponent(at.owner)}/${encodeURIComponent(at.repo)}`;
      const endpoint = source.kind === 'github' ? `${repoPath}/tarball/${sha}` : `${repoPath}/archive/${sha}.tar.gz`;
      const response = await request(doFetch, source, endpoint, at, '*/*');
      if (response.status === 404) {
        await response.body?.cancel();
        throw new ActionFetchError(`Unable to download action ${describe(at)}: no archive of commit ${sha}.`);
      }
      await failUnlessOk(response, source, at);
      const declared = Number(response.headers.get('content-length') ?? '');
      if (Number.isFinite(declared) && declared > maxBytes) {
        await response.body?.cancel();
        throw tooLarge(at, maxBytes);
      }
      if (response.body === null) throw new ActionFetchError(`Unable to download action ${describe(at)}: no body.`);
      let received = 0;
      const cap = new Transform({
        transform(chunk: Buffer, _encoding, done) {
          received += chunk.length;
          done(received > maxBytes ? tooLarge(at, maxBytes) : null, chunk);
        },
      });
      try {
        await pipeline(Readable.fromWeb(response.body as never), cap, createWriteStream(file));
      } catch (error) {
        if (error instanceof ActionFetchError) throw error;
        throw new ActionFetchError(`Unable to download action ${describe(at)}: ${messageOf(error)}.`, {
          cause: error,
        });
      }
    },
  };
}

/**
 * One GET against the source's API, redirects followed by hand: the token goes only to the source's own origin
 * (GitHub's tarball redirect to codeload carries its own short-lived token in the URL).
 */
async function request(
  doFetch: typeof fetch,
  source: ActionsSource,
  endpoint: string,
  at: RepoAtRef,
  accept: string,
): Promise<Response> {
  const origin = new URL(source.apiUrl).origin;
  let url = `${trimTrailingSlashes(source.apiUrl)}${endpoint}`;
  for (let hop = 0; ; hop++) {
    const sameOrigin = new URL(url).origin === origin;
    const headers: Record<string, string> = { accept, 'user-agent': 'spotcheck' };
    if (source.kind === 'github') headers['x-github-api-version'] = '2022-11-28';
    if (sameOrigin && source.token !== undefined)
      headers.authorization = source.kind === 'github' ? `Bearer ${source.token}` : `token ${source.token}`;
    let response: Response;
    try {
      response = await doFetch(url, { headers, redirect: 'manual' });
    } catch (error) {
      throw new ActionFetchError(
        `Unable to resolve action ${describe(at)}: cannot reach ${origin} (${causeOf(error)}).`,
        {
          cause: error,
        },
      );
    }
    const location = response.headers.get('location');
    if (response.status < 300 || response.status >= 400 || location === null) return response;
    await response.body?.cancel();
    if (hop >= MAX_REDIRECTS)
      throw new ActionFetchError(`Unable to download action ${describe(at)}: more than ${MAX_REDIRECTS} redirects.`);
    url = new URL(location, url).href;
  }
}

/** A 404 (or GitHub's 422): the repository, or only the ref? One more request tells them apart. */
async function notFound(
  doFetch: typeof fetch,
  source: ActionsSource,
  at: RepoAtRef,
  repoPath: string,
): Promise<ActionFetchError> {
  const repo = await request(doFetch, source, repoPath, at, 'application/json');
  await repo.body?.cancel();
  // The sentences GitHub's runner prints for the two cases.
  return repo.status === 404
    ? new ActionFetchError(`Unable to resolve action ${describe(at)}, repository not found (at ${source.url}).`)
    : new ActionFetchError(`Unable to resolve action ${describe(at)}, unable to find version \`${at.ref}\`.`);
}

async function failUnlessOk(response: Response, source: ActionsSource, at: RepoAtRef): Promise<void> {
  if (response.ok) return;
  await response.body?.cancel();
  const status = response.status;
  const why =
    status === 401
      ? source.token === undefined
        ? 'it asks for a token (actions.token in the operator config)'
        : 'it refused the configured token'
      : status === 403 && response.headers.get('x-ratelimit-remaining') === '0'
        ? 'its API rate limit is used up (a token raises it)'
        : status === 403
          ? `it refused access${source.token === undefined ? ' (a token may be needed)' : ' with the configured token'}`
          : status === 429
            ? 'too many requests'
            : 'it answered with an error';
  throw new ActionFetchError(
    `Unable to resolve action ${describe(at)}: ${source.url} answered HTTP ${status}, ${why}.`,
  );
}

function tooLarge(at: RepoAtRef, maxBytes: number): ActionFetchError {
  return new ActionFetchError(
    `Unable to download action ${describe(at)}: the archive is larger than ${formatBytes(maxBytes)} (the download bound).`,
  );
}

function shaOf(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const sha = (body as { sha?: unknown }).sha;
  return typeof sha === 'string' ? sha : undefined;
}

export function describe(at: RepoAtRef): string {
  return `\`${at.owner}/${at.repo}@${at.ref}\``;
}

function causeOf(error: unknown): string {
  const cause = (error as { cause?: { code?: unknown } } | undefined)?.cause;
  return typeof cause?.code === 'string' ? cause.code : messageOf(error);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
