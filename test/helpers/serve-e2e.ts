/**
 * What the end-to-end tests of `spotcheck serve` share: a Gitea stand-in that answers the few API requests a push
 * needs (each checked against Gitea's published description) and serves the test repository over git's "dumb"
 * HTTP protocol (static files after `git update-server-info`), the real bin started as a child process, and a
 * signed push webhook.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHmac, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, normalize } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { GITEA_ENDPOINTS, GITEA_SERVER_ENDPOINTS } from '../../src/forges/gitea.ts';
import { GITEA_POLL_ENDPOINTS } from '../../src/forges/gitea-poll-source.ts';
import { describeGiteaRequest } from './gitea-api.ts';

const exec = promisify(execFile);
const BIN = fileURLToPath(new URL('../../bin/spotcheck.js', import.meta.url));
export const SERVE_SECRET = 'serve-e2e-webhook-secret';
export const SERVE_TOKEN = 'gitea_serve_e2e_token';
export const SERVE_CLONE_TOKEN = 'gitea_serve_e2e_clone_token';
export const SERVE_BOT = 'spotcheck-bot';
export const SERVE_OWNER = 'acme';
export const SERVE_NAME = 'widgets';

export interface StatusPost {
  readonly sha: string;
  readonly state: string;
  readonly context: string;
}

export interface GiteaStandIn {
  readonly server: Server;
  readonly url: string;
  readonly statuses: StatusPost[];
  readonly problems: string[];
  readonly clones: string[];
  /**
   * What the poll reads (src/forges/gitea-poll-source.ts): the repository's branch heads (main at `first` until a test
   * moves it), and how many times its branches were listed.
   */
  readonly branches: Map<string, string>;
  readonly branchListings: () => number;
}

/** The Gitea stand-in for one push of `repo` from `first` to `second`, its one workflow file `workflow`. */
export async function startGiteaStandIn(options: {
  readonly repo: string;
  readonly workflow: string;
  readonly first: string;
  readonly second: string;
  /** Requests answered before the stand-in's own (an action forge's archives, git over HTTP); false: not one. */
  readonly extra?: (req: IncomingMessage, body: Buffer, res: ServerResponse) => Promise<boolean>;
}): Promise<GiteaStandIn> {
  const { repo, workflow, first, second, extra } = options;
  await exec('git', ['-C', repo, 'update-server-info']);
  const statuses: StatusPost[] = [];
  const problems: string[] = [];
  const clones: string[] = [];
  const branches = new Map([['main', first]]);
  let branchListings = 0;
  const declared: readonly string[] = [...GITEA_ENDPOINTS, ...GITEA_SERVER_ENDPOINTS, ...GITEA_POLL_ENDPOINTS];
  const repoPath = `/api/v1/repos/${SERVE_OWNER}/${SERVE_NAME}`;
  const gitPrefix = `/${SERVE_OWNER}/${SERVE_NAME}.git/`;

  const api = (req: IncomingMessage, body: string, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://gitea.invalid');
    const json = body === '' ? undefined : (JSON.parse(body) as unknown);
    const check = describeGiteaRequest(req.method ?? 'GET', req.url ?? '/', json);
    problems.push(...check.problems);
    if (check.endpoint === undefined || !declared.includes(check.endpoint))
      problems.push(`undeclared: ${req.method} ${url.pathname}`);
    if (req.headers.authorization !== `token ${SERVE_TOKEN}`) problems.push(`no API token on ${url.pathname}`);
    const reply = (status: number, value: unknown): void => {
      res.writeHead(status, { 'content-type': typeof value === 'string' ? 'text/plain' : 'application/json' });
      res.end(typeof value === 'string' ? value : JSON.stringify(value));
    };
    const path = url.pathname;
    if (req.method === 'GET' && path === `${repoPath}/contents/.spotcheck/workflows`)
      return reply(200, [
        { name: 'ci.yml', path: '.spotcheck/workflows/ci.yml', sha: 'blob', type: 'file', size: workflow.length },
      ]);
    if (req.method === 'GET' && path === `${repoPath}/raw/.spotcheck/workflows/ci.yml`) return reply(200, workflow);
    if (req.method === 'GET' && path === `${repoPath}/compare/${first}...${second}`)
      return reply(200, {
        total_commits: 1,
        commits: [{ sha: second, files: [{ filename: 'README.md', status: 'modified' }] }],
      });
    if (req.method === 'POST' && path.startsWith(`${repoPath}/statuses/`)) {
      const posted = json as { state: string; context: string };
      statuses.push({ sha: path.slice(`${repoPath}/statuses/`.length), state: posted.state, context: posted.context });
      return reply(201, { id: statuses.length, ...posted });
    }
    if (req.method === 'GET' && path === repoPath)
      return reply(200, { id: 1, name: SERVE_NAME, owner: { id: 2, login: SERVE_OWNER }, private: false });
    if (req.method === 'GET' && path === `${repoPath}/branches`) {
      branchListings++;
      const listed = [...branches].map(([name, sha]) => ({
        name,
        commit: { id: sha, committer: { name: 'alice', email: 'alice@example.com', username: 'alice' } },
      }));
      return reply(200, listed);
    }
    if (req.method === 'GET' && (path === `${repoPath}/pulls` || path === `${repoPath}/issues/comments`))
      return reply(200, []);
    problems.push(`not set up: ${req.method} ${path}`);
    reply(404, { message: 'not found' });
  };

  /** Git's dumb HTTP protocol: the files of `.git`, read-only, behind the clone token. */
  const git = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://gitea.invalid');
    const expected = `Basic ${Buffer.from(`${SERVE_BOT}:${SERVE_CLONE_TOKEN}`).toString('base64')}`;
    if (req.headers.authorization !== expected) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="Gitea"' });
      res.end();
      return;
    }
    clones.push(url.pathname);
    const relative = normalize(url.pathname.slice(gitPrefix.length));
    const file = join(repo, '.git', relative);
    if (relative.startsWith('..') || !existsSync(file)) {
      res.writeHead(404);
      res.end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    res.end(await readFile(file));
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      void answer(Buffer.concat(chunks), req, res).catch((error: unknown) => {
        problems.push(`the stand-in failed: ${String(error)}`);
        if (!res.headersSent) res.writeHead(500);
        res.end();
      });
    });
  });
  const answer = async (body: Buffer, req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (extra !== undefined && (await extra(req, body, res))) return;
    const path = req.url ?? '/';
    if (path.startsWith('/api/v1/')) return api(req, body.toString('utf8'), res);
    if (path.startsWith(gitPrefix)) return git(req, res);
    problems.push(`not set up: ${req.method} ${path}`);
    res.writeHead(404);
    res.end();
  };
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    server,
    url: `http://127.0.0.1:${port}`,
    statuses,
    problems,
    clones,
    branches,
    branchListings: () => branchListings,
  };
}

/** The environment `serve` needs for the stand-in, with loopback on a free port and JSON logs. */
export function serveEnv(home: string, forge: GiteaStandIn): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    GITEA_URL: forge.url,
    GITEA_TOKEN: SERVE_TOKEN,
    GITEA_WEBHOOK_SECRET: SERVE_SECRET,
    GITEA_BOT_LOGIN: SERVE_BOT,
    GITEA_CLONE_TOKEN: SERVE_CLONE_TOKEN,
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_FORMAT: 'json',
  };
}

/** `spotcheck serve` in `cwd`; resolves with the listening URL from its start-up log line. */
export async function startServe(
  cwd: string,
  env: Record<string, string>,
): Promise<{ proc: ChildProcess; url: string; lines: Record<string, unknown>[] }> {
  const proc = spawn(process.execPath, [BIN, 'serve'], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Record<string, unknown>[] = [];
  let stderr = '';
  proc.stderr.on('data', (data: Buffer) => (stderr += data.toString('utf8')));
  const url = await new Promise<string>((resolve, reject) => {
    proc.once('exit', (code) => reject(new Error(`spotcheck serve exited with ${code}: ${stderr}`)));
    createInterface({ input: proc.stdout }).on('line', (line) => {
      const entry = JSON.parse(line) as Record<string, unknown>;
      lines.push(entry);
      if (entry['msg'] === 'spotcheck is listening') resolve(String(entry['url']));
    });
  });
  return { proc, url, lines };
}

/** Posts a signed Gitea push of `first..second` on main; resolves with the answer's status. */
export async function postPush(url: string, first: string, second: string): Promise<number> {
  const body = JSON.stringify({
    ref: 'refs/heads/main',
    before: first,
    after: second,
    commits: [],
    repository: {
      id: 1,
      name: SERVE_NAME,
      full_name: `${SERVE_OWNER}/${SERVE_NAME}`,
      owner: { id: 2, login: SERVE_OWNER },
    },
    pusher: { id: 3, login: 'alice' },
    sender: { id: 3, login: 'alice' },
  });
  const answer = await fetch(`${url}/api/gitea/webhooks`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-gitea-delivery': randomUUID(),
      'x-gitea-event': 'push',
      'x-gitea-event-type': 'push',
      'x-gitea-signature': createHmac('sha256', SERVE_SECRET).update(body).digest('hex'),
    },
    body,
  });
  return answer.status;
}

/** Polls `done` a bounded number of times (not for a bounded time: a busy machine only makes each poll slower). */
export async function until(done: () => boolean, what: string, polls = 1200): Promise<void> {
  for (let i = 0; i < polls && !done(); i++) await new Promise((resolve) => setTimeout(resolve, 50));
  if (!done()) throw new Error(`gave up waiting for ${what}`);
}
