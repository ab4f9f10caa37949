/**
 * A GitHub REST API stand-in for benchmarks: a tiny `node:http` server on loopback that answers the few endpoints
 * spotcheck calls while it processes a push (installation token, workflow folder listing, workflow file, compare,
 * commit statuses, `GET /app`) under GHE's `/api/v3` prefix, so `spotcheck serve` reaches it through GHE_HOST and
 * GHE_PROTOCOL=http. Answers are fixed and precomputed: the stand-in should cost the machine as little as possible,
 * since it shares the CPU with the server being measured. Every request is counted by endpoint; anything else is
 * answered 404 and counted as `unexpected`.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** GHE's REST prefix: with GHE_HOST set, spotcheck's base URL is `<protocol>://<GHE_HOST>/api/v3`. */
export const GHE_API_PREFIX = '/api/v3';

export interface StandInWorkflow {
  /** Repository path, e.g. `.spotcheck/workflows/ci.yml`. */
  readonly path: string;
  readonly text: string;
}

export interface GitHubStandInOptions {
  /** The files listed in `.spotcheck/workflows` (any repository, any ref); empty: the folder is empty. */
  readonly workflows: readonly StandInWorkflow[];
  /** What compare answers as changed between any two commits. */
  readonly changedFiles?: readonly string[];
  readonly appSlug?: string;
  /** Installation tokens' lifetime from the time they are minted (GitHub's is one hour). */
  readonly tokenLifetimeMs?: number;
}

export const STAND_IN_ENDPOINTS = [
  'app',
  'token',
  'listing',
  'file',
  'compare',
  'status',
  'deliveries',
  'unexpected',
] as const;
export type StandInEndpoint = (typeof STAND_IN_ENDPOINTS)[number];

export interface GitHubStandIn {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  /** `127.0.0.1:<port>`: the value for GHE_HOST. */
  readonly host: string;
  /** Requests answered so far, by endpoint. */
  counts(): Readonly<Record<StandInEndpoint, number>>;
  close(): Promise<void>;
}

const WORKFLOWS_DIR = '.spotcheck/workflows';

interface Answer {
  readonly endpoint: StandInEndpoint;
  readonly status: number;
  readonly type: string;
  readonly body: string | (() => string);
}

/** Which fixed answer a request gets: a pure function of method and path (query strings are ignored). */
export function routeStandInRequest(
  method: string,
  rawPath: string,
  answers: {
    readonly listing: string;
    readonly files: ReadonlyMap<string, string>;
    readonly compare: string;
    readonly app: string;
    readonly token: () => string;
  },
): Answer {
  const notFound: Answer = { endpoint: 'unexpected', status: 404, type: JSON_TYPE, body: NOT_FOUND };
  const full = rawPath.split('?')[0] ?? '';
  if (!full.startsWith(`${GHE_API_PREFIX}/`)) return notFound;
  const path = full.slice(GHE_API_PREFIX.length);
  if (method === 'GET' && path === '/app') return { endpoint: 'app', status: 200, type: JSON_TYPE, body: answers.app };
  // The reconcile of lost deliveries (src/server/github-redelivery.ts) on serve's first tick: none failed.
  if (method === 'GET' && path === '/app/hook/deliveries')
    return { endpoint: 'deliveries', status: 200, type: JSON_TYPE, body: '[]' };
  if (method === 'POST' && /^\/app\/installations\/\d+\/access_tokens$/.test(path))
    return { endpoint: 'token', status: 201, type: JSON_TYPE, body: answers.token };
  const repo = /^\/repos\/[^/]+\/[^/]+\/(.+)$/.exec(path)?.[1];
  if (repo === undefined) return notFound;
  if (method === 'POST' && /^statuses\/[0-9a-f]{40}$/.test(repo))
    return { endpoint: 'status', status: 201, type: JSON_TYPE, body: STATUS_CREATED };
  if (method !== 'GET') return notFound;
  if (/^compare\/[^/]+$/.test(repo))
    return { endpoint: 'compare', status: 200, type: JSON_TYPE, body: answers.compare };
  if (!repo.startsWith('contents/')) return notFound;
  const file = decodeURIComponent(repo.slice('contents/'.length));
  if (file === WORKFLOWS_DIR) return { endpoint: 'listing', status: 200, type: JSON_TYPE, body: answers.listing };
  const text = answers.files.get(file);
  // The raw media type (`application/vnd.github.raw+json`) answers the file's bytes, not JSON.
  return text === undefined
    ? notFound
    : { endpoint: 'file', status: 200, type: 'text/plain; charset=utf-8', body: text };
}

const JSON_TYPE = 'application/json; charset=utf-8';
const NOT_FOUND = JSON.stringify({ message: 'Not Found', documentation_url: 'https://docs.github.com/rest' });
const STATUS_CREATED = JSON.stringify({ id: 1, state: 'pending', context: 'spotcheck' });

export async function startGitHubStandIn(opts: GitHubStandInOptions): Promise<GitHubStandIn> {
  const lifetime = opts.tokenLifetimeMs ?? 3_600_000;
  const answers = {
    listing: JSON.stringify(
      opts.workflows.map((w, i) => ({
        type: 'file',
        name: w.path.split('/').pop() ?? w.path,
        path: w.path,
        size: Buffer.byteLength(w.text),
        sha: `${String(i + 1).padStart(40, '0')}`,
      })),
    ),
    files: new Map(opts.workflows.map((w) => [w.path, w.text])),
    compare: JSON.stringify({
      status: 'ahead',
      ahead_by: 1,
      behind_by: 0,
      total_commits: 1,
      commits: [],
      files: (opts.changedFiles ?? ['README.md']).map((filename) => ({ filename, status: 'modified' })),
    }),
    app: JSON.stringify({ id: 1, slug: opts.appSlug ?? 'spotcheck', name: 'spotcheck', owner: { login: 'bench' } }),
    token: () =>
      JSON.stringify({
        token: 'ghs_standin',
        expires_at: new Date(Date.now() + lifetime).toISOString(),
        permissions: { contents: 'read', statuses: 'write' },
        repository_selection: 'all',
      }),
  };
  const counts = Object.fromEntries(STAND_IN_ENDPOINTS.map((e) => [e, 0])) as Record<StandInEndpoint, number>;

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const answer = routeStandInRequest(req.method ?? 'GET', req.url ?? '/', answers);
    counts[answer.endpoint]++;
    // Read the request body to its end before answering, so a keep-alive connection stays usable.
    req.resume();
    req.once('end', () => {
      const body = typeof answer.body === 'string' ? answer.body : answer.body();
      res.writeHead(answer.status, { 'content-type': answer.type, 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const host = `127.0.0.1:${String(port)}`;
  return {
    url: `http://${host}`,
    host,
    counts: () => ({ ...counts }),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}
