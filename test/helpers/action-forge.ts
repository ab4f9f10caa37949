/**
 * What a forge serves for real actions to run against it, as one request handler a forge stand-in mounts beside its
 * own routes: the actions' archives (GitHub: `GET /repos/{o}/{r}/commits/{ref}` answering the commit id, then
 * `GET /repos/{o}/{r}/tarball/{ref}` redirecting to a codeload path; Gitea: `GET /repos/{o}/{r}/git/commits/{ref}`,
 * then `GET /repos/{o}/{r}/archive/{sha}.tar.gz` in Gitea's `<repo>/` layout), the repository under test over git's
 * HTTP protocols (smart and dumb, by git's own `git-http-backend` run as a CGI program, as a forge's web server runs
 * it), and the one REST call the API-calling action makes (`GET /repos/{o}/{r}`). Every REST request is checked
 * against the forge's published API description; every request is recorded with its credentials.
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { create, extract } from 'tar';
import type { ActionFixture } from '../fixtures/actions/index.ts';
import { describeGiteaRequest } from './gitea-api.ts';
import { describeGitHubRequest } from './github-api.ts';

/** Git's CGI program on Debian and most Linux distributions. */
export const GIT_HTTP_BACKEND = '/usr/lib/git-core/git-http-backend';

export interface ActionForgeOptions {
  readonly kind: 'github' | 'gitea';
  readonly actions: readonly ActionFixture[];
  /** The repository under test: `owner/name`, served over git from `<gitRoot>/<owner>/<name>.git` (a bare repo). */
  readonly repository: { readonly owner: string; readonly name: string; readonly defaultBranch: string };
  readonly gitRoot: string;
  /** The `Authorization` headers that may read the repository over git and call its REST API. */
  readonly tokens: () => { readonly git: readonly string[]; readonly api: readonly string[] };
}

export interface ForgeRequest {
  readonly kind: 'archive' | 'git' | 'api';
  readonly method: string;
  readonly path: string;
  readonly authorization?: string;
  /** `METHOD /template` of the API description (REST requests). */
  readonly endpoint?: string;
}

export interface ActionForge {
  /** Answers the request if it is one of these; false (nothing written) otherwise. */
  handle(req: IncomingMessage, body: Buffer, res: ServerResponse): Promise<boolean>;
  readonly requests: ForgeRequest[];
  readonly problems: string[];
  close(): Promise<void>;
}

export function createActionForge(options: ActionForgeOptions): ActionForge {
  const { kind, repository } = options;
  const apiBase = kind === 'github' ? '/api/v3' : '/api/v1';
  const requests: ForgeRequest[] = [];
  const problems: string[] = [];
  const giteaArchives = new Map<string, Promise<Buffer>>();
  let scratch: Promise<string> | undefined;
  const scratchDir = (): Promise<string> => (scratch ??= mkdtemp(path.join(tmpdir(), 'action-forge-')));
  const fixtureOf = (owner: string, repo: string): ActionFixture | undefined =>
    options.actions.find((a) => a.owner === owner && a.repo === repo);
  const gitPrefix = `/${repository.owner}/${repository.name}`;

  const record = (req: IncomingMessage, what: ForgeRequest['kind'], endpoint?: string): void => {
    const { authorization } = req.headers;
    requests.push({
      kind: what,
      method: req.method ?? 'GET',
      path: req.url ?? '/',
      ...(authorization === undefined ? {} : { authorization }),
      ...(endpoint === undefined ? {} : { endpoint }),
    });
  };

  const archiveOf = async (fixture: ActionFixture): Promise<Buffer> => {
    if (kind === 'github') return readFile(fixture.file);
    // Gitea archives a repository under one `<repo>/` folder.
    let archive = giteaArchives.get(fixture.repo);
    if (archive === undefined) {
      archive = (async () => {
        const dir = path.join(await scratchDir(), `gitea-${fixture.owner}-${fixture.repo}`);
        await mkdir(path.join(dir, fixture.repo), { recursive: true });
        await extract({ file: fileURLToPath(fixture.file), cwd: path.join(dir, fixture.repo), strip: 1 });
        const chunks: Buffer[] = [];
        for await (const chunk of create({ gzip: true, cwd: dir, portable: true }, [fixture.repo])) chunks.push(chunk);
        return Buffer.concat(chunks);
      })();
      giteaArchives.set(fixture.repo, archive);
    }
    return archive;
  };

  const api = async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    const url = new URL(req.url ?? '/', 'http://forge.invalid');
    if (!url.pathname.startsWith(`${apiBase}/repos/`)) return false;
    const [owner = '', repo = '', what, ...rest] = url.pathname.slice(`${apiBase}/repos/`.length).split('/');
    const fixture = fixtureOf(owner, repo);
    const ours = owner === repository.owner && repo === repository.name && what === undefined;
    if (fixture === undefined && !ours) return false;
    const method = req.method ?? 'GET';
    const check =
      kind === 'github'
        ? describeGitHubRequest(method, req.url ?? '/', undefined)
        : describeGiteaRequest(method, req.url ?? '/', undefined);
    problems.push(...check.problems);
    record(req, ours ? 'api' : 'archive', check.endpoint);
    const reply = (status: number, body: string | Buffer, headers: Record<string, string> = {}): true => {
      res.writeHead(status, headers).end(body);
      return true;
    };
    if (ours) {
      if (!options.tokens().api.includes(req.headers.authorization ?? '')) {
        problems.push(`${method} ${url.pathname} without the order's token`);
        return reply(401, '{"message":"Bad credentials"}', { 'content-type': 'application/json' });
      }
      const full_name = `${repository.owner}/${repository.name}`;
      return reply(
        200,
        JSON.stringify({ id: 1, name: repository.name, full_name, default_branch: repository.defaultBranch }),
        { 'content-type': 'application/json' },
      );
    }
    const action = fixture!;
    const ref = decodeURIComponent(kind === 'github' ? (rest[0] ?? '') : (rest[1] ?? ''));
    const resolves = ref === action.ref || ref === action.commit;
    if (kind === 'github' && what === 'commits' && rest.length === 1) {
      if (!resolves) return reply(422, '{"message":"No commit found for SHA"}', { 'content-type': 'application/json' });
      return reply(200, action.commit, { 'content-type': 'application/vnd.github.sha' });
    }
    if (kind === 'github' && what === 'tarball' && rest.length === 1) {
      if (!resolves) return reply(404, '{"message":"Not Found"}');
      // GitHub redirects to codeload, which serves the archive of the commit.
      return reply(302, '', { location: `/_codeload/${owner}/${repo}/legacy.tar.gz/${action.commit}` });
    }
    if (kind === 'gitea' && what === 'git' && rest[0] === 'commits' && rest.length === 2) {
      if (!resolves) return reply(404, '{"message":"sha not found"}', { 'content-type': 'application/json' });
      return reply(200, JSON.stringify({ sha: action.commit }), { 'content-type': 'application/json' });
    }
    if (kind === 'gitea' && what === 'archive' && rest.length === 1 && rest[0] === `${action.commit}.tar.gz`) {
      return reply(200, await archiveOf(action), { 'content-type': 'application/octet-stream' });
    }
    problems.push(`the action forge has no answer for ${method} ${url.pathname}`);
    return reply(404, '{"message":"Not Found"}');
  };

  const codeload = async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    const url = new URL(req.url ?? '/', 'http://forge.invalid');
    if (kind !== 'github' || !url.pathname.startsWith('/_codeload/')) return false;
    record(req, 'archive');
    const [owner = '', repo = '', , sha] = url.pathname.slice('/_codeload/'.length).split('/');
    const fixture = fixtureOf(owner, repo);
    if (fixture === undefined || sha !== fixture.commit) {
      problems.push(`codeload: no archive ${url.pathname}`);
      res.writeHead(404).end();
      return true;
    }
    res.writeHead(200, { 'content-type': 'application/x-gzip' }).end(await readFile(fixture.file));
    return true;
  };

  /** Git over HTTP: `/<owner>/<name>[.git]/…` handed to git-http-backend, behind the accepted credentials. */
  const git = async (req: IncomingMessage, body: Buffer, res: ServerResponse): Promise<boolean> => {
    const url = new URL(req.url ?? '/', 'http://forge.invalid');
    const rest = url.pathname.startsWith(`${gitPrefix}.git/`)
      ? url.pathname.slice(`${gitPrefix}.git`.length)
      : url.pathname.startsWith(`${gitPrefix}/`)
        ? url.pathname.slice(gitPrefix.length)
        : undefined;
    if (rest === undefined) return false;
    record(req, 'git');
    // Git sends credentials only after a 401 with a challenge, as from any forge.
    if (!options.tokens().git.includes(req.headers.authorization ?? '')) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="forge"' }).end();
      return true;
    }
    await runGitHttpBackend(
      {
        root: options.gitRoot,
        pathInfo: `/${repository.owner}/${repository.name}.git${rest}`,
        query: url.search.slice(1),
        req,
        body,
      },
      res,
      problems,
    );
    return true;
  };

  return {
    requests,
    problems,
    async handle(req, body, res) {
      return (await codeload(req, res)) || (await api(req, res)) || (await git(req, body, res));
    },
    async close() {
      if (scratch !== undefined) await rm(await scratch, { recursive: true, force: true });
    },
  };
}

/**
 * One request through git-http-backend as a CGI program (RFC 3875): the request's facts in the environment, its body
 * on stdin, and the program's answer parsed back: CGI headers (a `Status:` line among them), a blank line, the body.
 */
async function runGitHttpBackend(
  request: { root: string; pathInfo: string; query: string; req: IncomingMessage; body: Buffer },
  res: ServerResponse,
  problems: string[],
): Promise<void> {
  const { req } = request;
  const header = (name: string): Record<string, string> => {
    const value = req.headers[name.toLowerCase()];
    return typeof value === 'string' ? { [`HTTP_${name.toUpperCase().replace(/-/g, '_')}`]: value } : {};
  };
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    GIT_PROJECT_ROOT: request.root,
    GIT_HTTP_EXPORT_ALL: '1',
    GATEWAY_INTERFACE: 'CGI/1.1',
    REQUEST_METHOD: req.method ?? 'GET',
    PATH_INFO: request.pathInfo,
    QUERY_STRING: request.query,
    CONTENT_TYPE: req.headers['content-type'] ?? '',
    CONTENT_LENGTH: String(request.body.length),
    REMOTE_ADDR: '127.0.0.1',
    // The user the forge authenticated (git-http-backend refuses a push without one; this forge serves reads).
    REMOTE_USER: 'reader',
    ...header('Content-Encoding'),
    ...header('Git-Protocol'),
    // Git's protocol v2 travels in this header; git-http-backend reads it from GIT_PROTOCOL.
    ...(typeof req.headers['git-protocol'] === 'string' ? { GIT_PROTOCOL: req.headers['git-protocol'] } : {}),
  };
  const child = spawn(GIT_HTTP_BACKEND, [], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  child.stdin.on('error', () => undefined);
  child.stdin.end(request.body);
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  const answer = Buffer.concat(out);
  const crlf = answer.indexOf('\r\n\r\n');
  const lf = answer.indexOf('\n\n');
  const split = crlf !== -1 && (lf === -1 || crlf < lf) ? { at: crlf, skip: 4 } : { at: lf, skip: 2 };
  if (code !== 0 || split.at === -1) {
    problems.push(`git-http-backend ${request.pathInfo} exited ${String(code)}: ${stderr.trim()}`);
    res.writeHead(500).end();
    return;
  }
  let status = 200;
  const headers: Record<string, string> = {};
  for (const line of answer.subarray(0, split.at).toString('latin1').split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon === -1) continue;
    const name = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    if (name.toLowerCase() === 'status') status = Number.parseInt(value, 10);
    else headers[name] = value;
  }
  res.writeHead(status, headers).end(answer.subarray(split.at + split.skip));
}
