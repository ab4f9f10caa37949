/**
 * The remote action fetcher against loopback stand-ins of GitHub's and Gitea's REST APIs (node:http): the ref
 * resolved to a commit, the archive downloaded (GitHub's tarball through a 302 to a codeload origin, Gitea's archive
 * directly), unpacked within bounds without escaping its folder, cached by commit. Every request to an API is checked
 * against GitHub's OpenAPI description or Gitea's swagger.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readFile, readdir, rm, readlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { Header } from 'tar';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ActionFetchError, type RemoteActionRef } from '../../runners/agent/actions/action-fetcher.ts';
import {
  cachedActionFolder,
  createActionCache,
  type ActionCacheOptions,
} from '../../runners/agent/actions/action-cache.ts';
import { createRemoteActionFetcher, sourceForRef } from '../../runners/agent/actions/remote-action-fetcher.ts';
import type { ActionsSource } from '../../runners/runner.ts';
import { describeGitHubRequest } from '../helpers/github-api.ts';
import { checkGiteaReplyStatus, describeGiteaRequest } from '../helpers/gitea-api.ts';

// ---------------------------------------------------------------------------------------------------------------
// Archives, built entry by entry with tar's own header encoder (so that entries tar.c would never write can be made).
// ---------------------------------------------------------------------------------------------------------------

interface Entry {
  readonly path: string;
  readonly type?: 'File' | 'Directory' | 'SymbolicLink' | 'Link' | 'FIFO';
  readonly body?: string | Buffer;
  readonly linkpath?: string;
  /** A size written in the header other than the body's (a header may claim anything). */
  readonly size?: number;
}

function tarball(entries: readonly Entry[]): Buffer {
  const blocks: Buffer[] = [];
  for (const entry of entries) {
    const type = entry.type ?? 'File';
    const body = Buffer.from(entry.body ?? '');
    const header = Buffer.alloc(512);
    new Header({
      path: entry.path,
      type,
      mode: type === 'Directory' ? 0o755 : 0o644,
      size: type === 'File' ? (entry.size ?? body.length) : 0,
      mtime: new Date(0),
      ...(entry.linkpath === undefined ? {} : { linkpath: entry.linkpath }),
    }).encode(header, 0);
    blocks.push(header);
    if (type === 'File' && body.length > 0) {
      blocks.push(body, Buffer.alloc((512 - (body.length % 512)) % 512));
    }
  }
  blocks.push(Buffer.alloc(1024));
  return gzipSync(Buffer.concat(blocks));
}

/** An action repository as the forges archive it: everything under one top-level folder. */
function actionArchive(top: string, extra: readonly Entry[] = []): Buffer {
  return tarball([
    { path: `${top}/`, type: 'Directory' },
    { path: `${top}/action.yml`, body: 'name: hello\nruns:\n  using: node20\n  main: index.js\n' },
    { path: `${top}/index.js`, body: 'console.log("hello")\n' },
    { path: `${top}/sub/`, type: 'Directory' },
    { path: `${top}/sub/action.yml`, body: 'name: sub\nruns:\n  using: composite\n  steps: []\n' },
    ...extra,
  ]);
}

// ---------------------------------------------------------------------------------------------------------------
// The stand-in: GitHub's API under /api/v3 (as GitHub Enterprise serves it), Gitea's under /api/v1, and a second
// origin playing codeload.github.com, where GitHub's tarball endpoint redirects.
// ---------------------------------------------------------------------------------------------------------------

interface StandInRepo {
  readonly refs: Record<string, string>;
  /** sha → gzipped tarball. */
  readonly archives: Record<string, Buffer>;
}

interface SeenRequest {
  readonly origin: 'api' | 'codeload';
  readonly method: string;
  readonly url: string;
  readonly authorization?: string;
  readonly accept?: string;
  readonly endpoint?: string;
}

interface StandIn {
  readonly apiUrl: string;
  readonly codeloadUrl: string;
  readonly repos: Map<string, StandInRepo>;
  readonly requests: SeenRequest[];
  readonly problems: string[];
  /** Answer every API request with this status instead (auth tests). */
  status?: number;
  close(): Promise<void>;
}

const SHA_A = 'a'.repeat(40);
const SHA_B = 'b'.repeat(40);

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<[Server, string]> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return [server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`];
}

async function startStandIn(): Promise<StandIn> {
  const repos = new Map<string, StandInRepo>();
  const requests: SeenRequest[] = [];
  const problems: string[] = [];
  const state: { status?: number } = {};
  const seen = (origin: SeenRequest['origin'], req: IncomingMessage, endpoint?: string): void => {
    requests.push({
      origin,
      method: req.method ?? '',
      url: req.url ?? '',
      ...(req.headers.authorization === undefined ? {} : { authorization: req.headers.authorization }),
      ...(req.headers.accept === undefined ? {} : { accept: req.headers.accept }),
      ...(endpoint === undefined ? {} : { endpoint }),
    });
  };

  const [codeload, codeloadUrl] = await listen((req, res) => {
    seen('codeload', req);
    const match = /^\/([^/]+)\/([^/]+)\/legacy\.tar\.gz\/([0-9a-f]+)$/.exec(req.url ?? '');
    const archive = match ? repos.get(`${match[1]}/${match[2]}`)?.archives[match[3]!] : undefined;
    if (archive === undefined) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'application/x-gzip' }).end(archive);
  });

  const [api, apiUrl] = await listen((req, res) => {
    const url = req.url ?? '';
    const github = url.startsWith('/api/v3/');
    const check = github
      ? describeGitHubRequest(req.method ?? '', url, undefined)
      : describeGiteaRequest(req.method ?? '', url, undefined);
    problems.push(...check.problems);
    seen('api', req, check.endpoint);
    const reply = (status: number, body?: string | Buffer, headers: Record<string, string> = {}): void => {
      if (!github && check.endpoint !== undefined) problems.push(...checkGiteaReplyStatus(check.endpoint, status));
      res.writeHead(status, headers).end(body);
    };
    if (state.status !== undefined) return reply(state.status, '{"message":"Bad credentials"}');
    const parsed = new URL(url, apiUrl);
    const [, , , , owner = '', name = '', kind, ...rest] = parsed.pathname.split('/');
    const repo = repos.get(`${owner}/${name}`);
    if (repo === undefined) return reply(404, '{"message":"Not Found"}');
    const what = `${kind ?? ''}/${rest.join('/')}`;
    if (kind === undefined) return reply(200, JSON.stringify({ full_name: `${owner}/${name}` }));
    if (github && kind === 'commits') {
      const sha = repo.refs[decodeURIComponent(rest[0] ?? '')];
      if (sha === undefined) return reply(422, '{"message":"No commit found for SHA: x"}');
      return reply(200, sha, { 'content-type': 'application/vnd.github.sha' });
    }
    if (github && kind === 'tarball') {
      if (repo.archives[rest[0] ?? ''] === undefined) return reply(404);
      return reply(302, '', { location: `${codeloadUrl}/${owner}/${name}/legacy.tar.gz/${rest[0] ?? ''}` });
    }
    if (!github && what.startsWith('git/commits/')) {
      const sha = repo.refs[decodeURIComponent(rest[1] ?? '')];
      if (sha === undefined) return reply(404, '{"message":"sha not found"}');
      return reply(200, JSON.stringify({ sha }), { 'content-type': 'application/json' });
    }
    if (!github && kind === 'archive') {
      const archive = repo.archives[(rest[0] ?? '').replace(/\.tar\.gz$/, '')];
      if (archive === undefined) return reply(404);
      return reply(200, archive, { 'content-type': 'application/octet-stream' });
    }
    problems.push(`the stand-in has no answer for ${req.method ?? ''} ${url}`);
    reply(500);
  });

  return Object.assign(state, {
    apiUrl,
    codeloadUrl,
    repos,
    requests,
    problems,
    close: async () => {
      await Promise.all([api, codeload].map((s) => new Promise((resolve) => s.close(resolve))));
    },
  });
}

// ---------------------------------------------------------------------------------------------------------------

let standIn: StandIn;
let scratch: string;
let cacheDir: string;

beforeEach(async () => {
  standIn = await startStandIn();
  scratch = await mkdtemp(path.join(tmpdir(), 'fetcher-'));
  cacheDir = path.join(scratch, 'cache');
});

afterEach(async () => {
  await standIn.close();
  await rm(scratch, { recursive: true, force: true });
  expect(standIn.problems).toEqual([]);
});

const github = (token?: string): ActionsSource => ({
  kind: 'github',
  url: 'https://github.example',
  apiUrl: `${standIn.apiUrl}/api/v3`,
  ...(token === undefined ? {} : { token }),
});
const gitea = (token?: string): ActionsSource => ({
  kind: 'gitea',
  url: standIn.apiUrl,
  apiUrl: `${standIn.apiUrl}/api/v1`,
  ...(token === undefined ? {} : { token }),
});

function ref(owner: string, repo: string, at: string, extra: Partial<RemoteActionRef> = {}): RemoteActionRef {
  return { kind: 'remote', owner, repo, ref: at, ...extra };
}

function fetcher(source: ActionsSource | undefined, bounds: ActionCacheOptions['bounds'] = {}) {
  const cache = createActionCache({ dir: cacheDir, bounds });
  return { cache, fetcher: createRemoteActionFetcher({ source, cache }) };
}

async function fetchError(promise: Promise<unknown>): Promise<ActionFetchError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ActionFetchError);
  return error as ActionFetchError;
}

/** Every file under `dir`, relative, sorted. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true }).catch(() => [] as string[]);
  return entries.sort();
}

function serve(owner: string, repo: string, refs: Record<string, string>, archives: Record<string, Buffer>): void {
  standIn.repos.set(`${owner}/${repo}`, { refs, archives });
}

describe('GitHub source', () => {
  it('resolves the ref, downloads through the redirect, strips the top folder, and reuses the commit after', async () => {
    serve('acme', 'hello', { v1: SHA_A }, { [SHA_A]: actionArchive(`acme-hello-${SHA_A.slice(0, 7)}`) });
    const { cache } = fetcher(github());
    const lines: string[] = [];
    const first = await createRemoteActionFetcher({ source: github(), cache }).fetch(ref('acme', 'hello', 'v1'), (l) =>
      lines.push(l),
    );

    expect(first.commit).toBe(SHA_A);
    expect(first.dir).toBe(path.join(cacheDir, 'github.example', 'acme', 'hello', SHA_A));
    expect(await readFile(path.join(first.dir, 'action.yml'), 'utf8')).toContain('using: node20');
    expect(await filesUnder(first.dir)).toEqual(['action.yml', 'index.js', 'sub', 'sub/action.yml']);
    expect(lines).toEqual([`Download action repository 'acme/hello@v1' (SHA:${SHA_A})`]);
    expect(standIn.requests.map((r) => r.endpoint ?? `${r.origin} ${r.url}`)).toEqual([
      'GET /repos/{owner}/{repo}/commits/{ref}',
      'GET /repos/{owner}/{repo}/tarball/{ref}',
      `codeload /acme/hello/legacy.tar.gz/${SHA_A}`,
    ]);
    expect(standIn.requests[0]?.accept).toBe('application/vnd.github.sha');

    // A second order (another fetcher, the same process-wide cache): the ref is resolved again (it may have moved),
    // the files are not downloaded again.
    const again: string[] = [];
    const second = await createRemoteActionFetcher({ source: github(), cache }).fetch(ref('acme', 'hello', 'v1'), (l) =>
      again.push(l),
    );
    expect(second).toEqual(first);
    expect(standIn.requests).toHaveLength(4);
    expect(standIn.requests[3]?.endpoint).toBe('GET /repos/{owner}/{repo}/commits/{ref}');
    expect(again[1]).toBe(`Using the cached copy of acme/hello at ${SHA_A}`);
    // Nothing left behind but the commit's folder.
    expect(await readdir(path.join(cacheDir, '.staging'))).toEqual([]);

    // What `spotcheck validate` finds without asking the source: the ref's last commit, a commit id's own folder.
    const offline = (at: string, owner = 'acme') =>
      cachedActionFolder(cacheDir, 'https://github.example', { owner, repo: 'hello', ref: at });
    expect(await offline('v1', 'Acme')).toBe(first.dir);
    expect(await offline(SHA_A)).toBe(first.dir);
    expect(await offline('v2')).toBeUndefined();
    expect(await offline(SHA_B)).toBeUndefined();
    expect(standIn.requests).toHaveLength(4);
  });

  it('a full commit id is not resolved; a path inside the repository is the action folder', async () => {
    serve('acme', 'hello', {}, { [SHA_B]: actionArchive('acme-hello-bbbbbbb') });
    const got = await fetcher(github()).fetcher.fetch(
      ref('acme', 'hello', SHA_B.toUpperCase(), { path: 'sub' }),
      () => {},
    );
    expect(got).toEqual({ dir: path.join(cacheDir, 'github.example', 'acme', 'hello', SHA_B, 'sub'), commit: SHA_B });
    expect(standIn.requests.filter((r) => r.endpoint?.includes('/commits/'))).toEqual([]);
    expect(standIn.requests.filter((r) => r.origin === 'api')).toHaveLength(1);
  });

  it('a path the repository does not have is a clear error', async () => {
    serve('acme', 'hello', { v1: SHA_A }, { [SHA_A]: actionArchive('top') });
    const error = await fetchError(
      fetcher(github()).fetcher.fetch(ref('acme', 'hello', 'v1', { path: 'nope' }), () => {}),
    );
    expect(error.message).toContain('has no folder nope');
  });

  it('sends the token as a Bearer token to the API, never to the redirect target', async () => {
    serve('acme', 'hello', { v1: SHA_A }, { [SHA_A]: actionArchive('top') });
    await fetcher(github('ghs_secret')).fetcher.fetch(ref('acme', 'hello', 'v1'), () => {});
    expect(standIn.requests.map((r) => [r.origin, r.authorization])).toEqual([
      ['api', 'Bearer ghs_secret'],
      ['api', 'Bearer ghs_secret'],
      ['codeload', undefined],
    ]);
  });

  it("names a missing repository and a missing version in GitHub's runner's words", async () => {
    serve('acme', 'hello', { v1: SHA_A }, { [SHA_A]: actionArchive('top') });
    const { fetcher: f } = fetcher(github());
    expect((await fetchError(f.fetch(ref('acme', 'nope', 'v1'), () => {}))).message).toBe(
      'Unable to resolve action `acme/nope@v1`, repository not found (at https://github.example).',
    );
    expect((await fetchError(f.fetch(ref('acme', 'hello', 'v9'), () => {}))).message).toBe(
      'Unable to resolve action `acme/hello@v9`, unable to find version `v9`.',
    );
    expect(await filesUnder(cacheDir)).toEqual([]);
  });

  it.each([
    [401, undefined, 'it asks for a token'],
    [401, 'bad', 'it refused the configured token'],
    [403, 'bad', 'it refused access with the configured token'],
  ])('HTTP %i with token %s: %s', async (status, token, words) => {
    standIn.status = status;
    const error = await fetchError(fetcher(github(token)).fetcher.fetch(ref('acme', 'hello', 'v1'), () => {}));
    expect(error.message).toContain(`answered HTTP ${status}, ${words}`);
    expect(error.message).not.toContain('bad');
  });
});

describe('Gitea source', () => {
  it("resolves with git/commits, downloads the archive, sends the token Gitea's way", async () => {
    serve('actions', 'checkout', { v4: SHA_A }, { [SHA_A]: actionArchive('checkout') });
    const lines: string[] = [];
    const got = await fetcher(gitea('gta_token')).fetcher.fetch(ref('actions', 'checkout', 'v4'), (l) => lines.push(l));
    const host = new URL(standIn.apiUrl).host.replace(':', '_');
    expect(got).toEqual({ dir: path.join(cacheDir, host, 'actions', 'checkout', SHA_A), commit: SHA_A });
    expect(await filesUnder(got.dir)).toEqual(['action.yml', 'index.js', 'sub', 'sub/action.yml']);
    expect(lines).toEqual([`Download action repository 'actions/checkout@v4' (SHA:${SHA_A})`]);
    expect(standIn.requests.map((r) => [r.endpoint, r.authorization])).toEqual([
      ['GET /repos/{owner}/{repo}/git/commits/{sha}', 'token gta_token'],
      ['GET /repos/{owner}/{repo}/archive/{archive}', 'token gta_token'],
    ]);
  });

  it('tells a missing repository from a missing ref (Gitea answers 404 for both)', async () => {
    serve('actions', 'checkout', { v4: SHA_A }, {});
    const { fetcher: f } = fetcher(gitea());
    expect((await fetchError(f.fetch(ref('actions', 'nope', 'v4'), () => {}))).message).toContain(
      'repository not found',
    );
    expect((await fetchError(f.fetch(ref('actions', 'checkout', 'v0'), () => {}))).message).toContain(
      'unable to find version `v0`',
    );
  });

  it('`uses: https://host/owner/repo@ref` naming the configured source uses it, token included', async () => {
    serve('actions', 'checkout', { v4: SHA_A }, { [SHA_A]: actionArchive('checkout') });
    await fetcher(gitea('gta_token')).fetcher.fetch(
      ref('actions', 'checkout', 'v4', { source: standIn.apiUrl }),
      () => {},
    );
    expect(standIn.requests.map((r) => r.authorization)).toEqual(['token gta_token', 'token gta_token']);
  });

  it('`uses: https://host/…` with no configured source is fetched from a Gitea there, without a token', async () => {
    serve('actions', 'checkout', { v4: SHA_A }, { [SHA_A]: actionArchive('checkout') });
    await fetcher(undefined).fetcher.fetch(ref('actions', 'checkout', 'v4', { source: standIn.apiUrl }), () => {});
    expect(standIn.requests.map((r) => [r.endpoint, r.authorization])).toEqual([
      ['GET /repos/{owner}/{repo}/git/commits/{sha}', undefined],
      ['GET /repos/{owner}/{repo}/archive/{archive}', undefined],
    ]);
  });
});

describe('bounded, safe unpack', () => {
  const outside = (): string => path.join(scratch, 'escaped');

  it.each<[string, Entry]>([
    ['a parent path', { path: 'top/../../escaped', body: 'x' }],
    ['an absolute path', { path: '/tmp/escaped-by-fetcher-test', body: 'x' }],
    ['a symbolic link out of the folder', { path: 'top/link', type: 'SymbolicLink', linkpath: '../../../escaped' }],
    ['an absolute symbolic link', { path: 'top/link', type: 'SymbolicLink', linkpath: '/etc' }],
    ['a hard link', { path: 'top/hard', type: 'Link', linkpath: 'top/action.yml' }],
    ['a FIFO', { path: 'top/fifo', type: 'FIFO' }],
    ['a second top-level folder', { path: 'other/file', body: 'x' }],
  ])('refuses an archive with %s, and writes nothing of it', async (_what, bad) => {
    serve('acme', 'evil', { v1: SHA_A }, { [SHA_A]: actionArchive('top', [bad]) });
    const error = await fetchError(fetcher(github()).fetcher.fetch(ref('acme', 'evil', 'v1'), () => {}));
    expect(error.message).toMatch(/^The archive of acme\/evil@a{40} .*; nothing of it is used\.$/);
    expect(await filesUnder(scratch)).toEqual(['cache', 'cache/.staging']);
    expect(await filesUnder(outside())).toEqual([]);
    expect(await readdir('/tmp')).not.toContain('escaped-by-fetcher-test');
  });

  it('keeps a symbolic link that stays inside', async () => {
    serve(
      'acme',
      'links',
      { v1: SHA_A },
      {
        [SHA_A]: actionArchive('top', [{ path: 'top/sub/up', type: 'SymbolicLink', linkpath: '../index.js' }]),
      },
    );
    const got = await fetcher(github()).fetcher.fetch(ref('acme', 'links', 'v1'), () => {});
    expect(await readlink(path.join(got.dir, 'sub', 'up'))).toBe('../index.js');
  });

  it('refuses a download over the size bound', async () => {
    const big = actionArchive('top', [
      { path: 'top/blob', body: Buffer.from(crypto.getRandomValues(new Uint8Array(4096))) },
    ]);
    serve('acme', 'big', { v1: SHA_A }, { [SHA_A]: big });
    const error = await fetchError(
      fetcher(github(), { maxDownloadBytes: 2048 }).fetcher.fetch(ref('acme', 'big', 'v1'), () => {}),
    );
    expect(error.message).toBe(
      'Unable to download action `acme/big@v1`: the archive is larger than 2048 bytes (the download bound).',
    );
    expect(await filesUnder(cacheDir)).toEqual(['.staging']);
  });

  it('refuses a file over the per-file bound and an archive over the unpacked bound', async () => {
    serve(
      'acme',
      'big',
      { v1: SHA_A },
      { [SHA_A]: actionArchive('top', [{ path: 'top/zeros', body: Buffer.alloc(5000) }]) },
    );
    const perFile = await fetchError(
      fetcher(github(), { maxFileBytes: 4096 }).fetcher.fetch(ref('acme', 'big', 'v1'), () => {}),
    );
    expect(perFile.message).toContain('has a file over 4096 bytes (top/zeros)');
    const total = await fetchError(
      fetcher(github(), { maxUnpackedBytes: 5000 }).fetcher.fetch(ref('acme', 'big', 'v1'), () => {}),
    );
    expect(total.message).toContain('unpacks to more than 5000 bytes');
  });

  it('refuses an archive with more entries than the bound', async () => {
    const many = Array.from({ length: 20 }, (_, i): Entry => ({ path: `top/f${i}`, body: String(i) }));
    serve('acme', 'many', { v1: SHA_A }, { [SHA_A]: actionArchive('top', many) });
    const error = await fetchError(
      fetcher(github(), { maxEntries: 10 }).fetcher.fetch(ref('acme', 'many', 'v1'), () => {}),
    );
    expect(error.message).toContain('has more than 10 entries');
    // With room for them all, the same archive unpacks.
    const got = await fetcher(github(), { maxEntries: 25 }).fetcher.fetch(ref('acme', 'many', 'v1'), () => {});
    expect((await filesUnder(got.dir)).filter((f) => f.startsWith('f'))).toHaveLength(20);
  });

  it('refuses what is not a gzipped tarball', async () => {
    serve('acme', 'junk', { v1: SHA_A }, { [SHA_A]: Buffer.from('<html>not an archive</html>') });
    const error = await fetchError(fetcher(github()).fetcher.fetch(ref('acme', 'junk', 'v1'), () => {}));
    expect(error.message).toMatch(/^The archive of acme\/junk@a{40} (cannot be read|is empty)/);
  });
});

describe('one download per commit', () => {
  it('concurrent fetches of one commit in one process download it once', async () => {
    serve('acme', 'hello', { v1: SHA_A, main: SHA_A }, { [SHA_A]: actionArchive('top') });
    const { cache } = fetcher(github());
    const fetchers = [0, 1, 2].map(() => createRemoteActionFetcher({ source: github(), cache }));
    const got = await Promise.all([
      fetchers[0]!.fetch(ref('acme', 'hello', 'v1'), () => {}),
      fetchers[1]!.fetch(ref('acme', 'hello', 'main'), () => {}),
      fetchers[2]!.fetch(ref('acme', 'hello', SHA_A), () => {}),
    ]);
    expect(new Set(got.map((g) => g.dir)).size).toBe(1);
    expect(standIn.requests.filter((r) => r.origin === 'codeload')).toHaveLength(1);
    expect(standIn.requests.filter((r) => r.endpoint === 'GET /repos/{owner}/{repo}/tarball/{ref}')).toHaveLength(1);
  });
});

describe('sourceForRef', () => {
  const configured: ActionsSource = {
    kind: 'gitea',
    url: 'https://gitea.example',
    apiUrl: 'https://gitea.example/api/v1',
    token: 't',
  };
  it.each<[string | undefined, ActionsSource | undefined, ActionsSource | string]>([
    [undefined, configured, configured],
    ['https://gitea.example', configured, configured],
    ['https://GITEA.example', configured, configured],
    ['https://github.com', configured, { kind: 'github', url: 'https://github.com', apiUrl: 'https://api.github.com' }],
    [
      'https://code.other',
      configured,
      { kind: 'gitea', url: 'https://code.other', apiUrl: 'https://code.other/api/v1' },
    ],
    [
      'http://gitea.example',
      configured,
      { kind: 'gitea', url: 'http://gitea.example', apiUrl: 'http://gitea.example/api/v1' },
    ],
    [undefined, undefined, 'no actions source configured'],
  ])('uses: from %s with %o', (source, config, expected) => {
    const r = ref('o', 'r', 'v1', source === undefined ? {} : { source });
    if (typeof expected === 'string') expect(() => sourceForRef(r, config)).toThrow(expected);
    else expect(sourceForRef(r, config)).toEqual(expected);
  });
});
