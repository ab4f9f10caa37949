/**
 * `npm start` as the README says, end to end: the real bin (`node bin/spotcheck.js serve`) as a child process, in a
 * fresh working directory, with no SPOTCHECK_DATA_DIR (the default relative `.spotcheck-data`), configured for
 * Gitea. One signed push webhook must run a local order green. Gitea is a loopback stand-in: its API answers the
 * few requests a push needs, each checked against Gitea's published description; its git side serves the test
 * repository over git's "dumb" HTTP protocol (static files after `git update-server-info`), so the server clones
 * with the clone URL and token it builds itself, as in production.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHmac, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, normalize } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GITEA_ENDPOINTS, GITEA_SERVER_ENDPOINTS } from '../../src/forges/gitea.ts';
import { makeTwoCommitRepo } from '../helpers/e2e-repo.ts';
import { describeGiteaRequest } from '../helpers/gitea-api.ts';

const exec = promisify(execFile);
const BIN = fileURLToPath(new URL('../../bin/spotcheck.js', import.meta.url));
const SECRET = 'serve-e2e-webhook-secret';
const TOKEN = 'gitea_serve_e2e_token';
const CLONE_TOKEN = 'gitea_serve_e2e_clone_token';
const BOT = 'spotcheck-bot';
const OWNER = 'acme';
const NAME = 'widgets';
const WORKFLOW = `name: ci
on: push
jobs:
  build:
    runs-on: local
    steps:
      - run: test -f README.md && grep -q again README.md && echo "built $GITHUB_SHA"
`;

interface StatusPost {
  readonly sha: string;
  readonly state: string;
  readonly context: string;
}

let dir: string;
let repo: string;
let first: string;
let second: string;
let cwd: string;
let child: ChildProcess | undefined;
let gitea: Server | undefined;

beforeEach(async () => {
  ({ dir, repo, first, second } = await makeTwoCommitRepo('spotcheck-e2e-serve-', {
    '.spotcheck/workflows/ci.yml': WORKFLOW,
  }));
  cwd = join(dir, 'cwd');
  await mkdir(cwd);
});

afterEach(async () => {
  if (child !== undefined && child.exitCode === null) {
    const exited = new Promise((resolve) => child?.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
  child = undefined;
  await new Promise((resolve) => (gitea ? gitea.close(resolve) : resolve(undefined)));
  gitea = undefined;
  await rm(dir, { recursive: true, force: true });
});

/** The Gitea stand-in: the API requests a push needs, and the repository over dumb HTTP. */
async function startGitea() {
  await exec('git', ['-C', repo, 'update-server-info']);
  const statuses: StatusPost[] = [];
  const problems: string[] = [];
  const clones: string[] = [];
  const declared: readonly string[] = [...GITEA_ENDPOINTS, ...GITEA_SERVER_ENDPOINTS];
  const repoPath = `/api/v1/repos/${OWNER}/${NAME}`;
  const gitPrefix = `/${OWNER}/${NAME}.git/`;

  const api = (req: IncomingMessage, body: string, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://gitea.invalid');
    const json = body === '' ? undefined : (JSON.parse(body) as unknown);
    const check = describeGiteaRequest(req.method ?? 'GET', req.url ?? '/', json);
    problems.push(...check.problems);
    if (check.endpoint === undefined || !declared.includes(check.endpoint))
      problems.push(`undeclared: ${req.method} ${url.pathname}`);
    if (req.headers.authorization !== `token ${TOKEN}`) problems.push(`no API token on ${url.pathname}`);
    const reply = (status: number, value: unknown): void => {
      res.writeHead(status, { 'content-type': typeof value === 'string' ? 'text/plain' : 'application/json' });
      res.end(typeof value === 'string' ? value : JSON.stringify(value));
    };
    const path = url.pathname;
    if (req.method === 'GET' && path === `${repoPath}/contents/.spotcheck/workflows`)
      return reply(200, [
        { name: 'ci.yml', path: '.spotcheck/workflows/ci.yml', sha: 'blob', type: 'file', size: WORKFLOW.length },
      ]);
    if (req.method === 'GET' && path === `${repoPath}/raw/.spotcheck/workflows/ci.yml`) return reply(200, WORKFLOW);
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
    problems.push(`not set up: ${req.method} ${path}`);
    reply(404, { message: 'not found' });
  };

  /** Git's dumb HTTP protocol: the files of `.git`, read-only, behind the clone token. */
  const git = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://gitea.invalid');
    const expected = `Basic ${Buffer.from(`${BOT}:${CLONE_TOKEN}`).toString('base64')}`;
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
      const path = req.url ?? '/';
      if (path.startsWith('/api/v1/')) api(req, Buffer.concat(chunks).toString('utf8'), res);
      else if (path.startsWith(gitPrefix)) void git(req, res);
      else {
        problems.push(`not set up: ${req.method} ${path}`);
        res.writeHead(404);
        res.end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  gitea = server;
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, statuses, problems, clones };
}

/** `spotcheck serve` in `cwd`; resolves with the listening URL from its start-up log line. */
async function startServe(env: Record<string, string>): Promise<{ url: string; lines: Record<string, unknown>[] }> {
  const proc = spawn(process.execPath, [BIN, 'serve'], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  child = proc;
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
  return { url, lines };
}

async function until(done: () => boolean, what: string): Promise<void> {
  // A bound on attempts, not on time: a busy machine only makes each attempt slower.
  for (let i = 0; i < 1200 && !done(); i++) await new Promise((resolve) => setTimeout(resolve, 50));
  if (!done()) throw new Error(`gave up waiting for ${what}`);
}

describe('spotcheck serve with the default data folder', () => {
  it('runs a local order green from a signed Gitea push, with its data under ./.spotcheck-data', async () => {
    const forge = await startGitea();
    const { url, lines } = await startServe({
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: dir,
      GITEA_URL: forge.url,
      GITEA_TOKEN: TOKEN,
      GITEA_WEBHOOK_SECRET: SECRET,
      GITEA_BOT_LOGIN: BOT,
      GITEA_CLONE_TOKEN: CLONE_TOKEN,
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_FORMAT: 'json',
    });

    const body = JSON.stringify({
      ref: 'refs/heads/main',
      before: first,
      after: second,
      commits: [],
      repository: { id: 1, name: NAME, full_name: `${OWNER}/${NAME}`, owner: { id: 2, login: OWNER } },
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
        'x-gitea-signature': createHmac('sha256', SECRET).update(body).digest('hex'),
      },
      body,
    });
    expect(answer.status).toBe(202);
    // Start-up says where everything is, from the listening address when PUBLIC_URL is unset.
    const said = (msg: string): unknown => lines.find((l) => l['msg'] === msg)?.['url'];
    expect([said('dashboard'), said('Gitea webhook URL'), said('health check')]).toEqual([
      `${url}/runs`,
      `${url}/api/gitea/webhooks`,
      `${url}/healthz`,
    ]);
    expect(said('GitHub App webhook URL')).toBeUndefined();

    const finished = (): boolean => forge.statuses.some((s) => s.state !== 'pending');
    await until(finished, 'a final commit status');
    expect(forge.statuses.filter((s) => s.state !== 'pending')).toEqual([
      { sha: second, state: 'success', context: 'spotcheck/ci/build' },
    ]);
    expect(forge.problems).toEqual([]);
    // Cloned through the stand-in with the clone token the server minted into the URL.
    expect(forge.clones).toContain(`/${OWNER}/${NAME}.git/info/refs`);
    // The data folder is where the README says: the working directory's .spotcheck-data, nothing nested in it.
    const data = join(cwd, '.spotcheck-data');
    expect((await readdir(data)).sort()).toEqual(expect.arrayContaining(['db', 'logs']));
    const [runDir] = await readdir(join(data, 'logs'));
    const [log] = await readdir(join(data, 'logs', runDir!));
    expect(await readFile(join(data, 'logs', runDir!, log!), 'utf8')).toContain(`built ${second}`);
    expect(existsSync(join(data, 'work')) ? await readdir(join(data, 'work')) : []).toEqual([]);
  }, 180_000);
});
