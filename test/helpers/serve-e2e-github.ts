/**
 * A GitHub stand-in for the end-to-end tests of `spotcheck serve` (the real bin, configured as a GitHub App on a
 * GitHub Enterprise host: `GHE_HOST` is the stand-in's loopback address, `GHE_PROTOCOL=http`, the REST API under
 * `/api/v3`). It answers what a push needs — installation tokens (minted for the app's JWT, each recorded with the
 * permissions asked for), the installation's permissions, the workflow folder and file, the compare, commit
 * statuses, the revocation of an order's token, the redelivery sweep's deliveries — each request checked against
 * GitHub's OpenAPI description; anything else it is given (`extra`) is answered first.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GITHUB_ENDPOINTS, GITHUB_SERVER_ENDPOINTS } from '../../src/forges/github.ts';
import { describeGitHubRequest, sameEndpoint, testPrivateKey } from './github-api.ts';
import type { StatusPost } from './serve-e2e.ts';
import { githubExample, signGitHubBody } from './webhook-examples.ts';

export const GITHUB_SERVE_SECRET = 'serve-e2e-github-webhook-secret';
export const GITHUB_SERVE_INSTALLATION = 4343;
const INSTALLATION_TOKEN = 'ghs_serve_e2e_installation';

export interface MintedToken {
  readonly token: string;
  readonly permissions: Readonly<Record<string, string>>;
  readonly repositories: readonly string[];
}

export interface GitHubStandIn {
  readonly server: Server;
  /** `http://127.0.0.1:<port>`: the web host; the API is under `/api/v3`. */
  readonly url: string;
  readonly statuses: StatusPost[];
  readonly minted: MintedToken[];
  readonly revoked: string[];
  readonly problems: string[];
}

export async function startGitHubStandIn(options: {
  readonly owner: string;
  readonly name: string;
  readonly workflow: string;
  readonly first: string;
  readonly second: string;
  readonly extra?: (req: IncomingMessage, body: Buffer, res: ServerResponse) => Promise<boolean>;
}): Promise<GitHubStandIn> {
  const { owner, name, workflow, first, second, extra } = options;
  const statuses: StatusPost[] = [];
  const minted: MintedToken[] = [];
  const revoked: string[] = [];
  const problems: string[] = [];
  const declared: readonly string[] = [...GITHUB_ENDPOINTS, ...GITHUB_SERVER_ENDPOINTS];
  const repoPath = `/repos/${owner}/${name}`;
  const folder = '.spotcheck/workflows';

  const api = (req: IncomingMessage, text: string, res: ServerResponse): void => {
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', 'http://github.invalid');
    // Octokit sends `{path}` percent-encoded (`.spotcheck%2Fworkflows`).
    const path = decodeURIComponent(url.pathname.slice('/api/v3'.length));
    const json = text === '' ? undefined : (JSON.parse(text) as Record<string, unknown>);
    const check = describeGitHubRequest(method, req.url ?? '/', json);
    problems.push(...check.problems);
    const endpoint = check.endpoint;
    if (endpoint === undefined || !declared.some((known) => sameEndpoint(known, endpoint)))
      problems.push(`undeclared: ${method} ${path}`);
    const auth = req.headers.authorization ?? '';
    const reply = (status: number, value?: unknown): void => {
      res.writeHead(status, { 'content-type': typeof value === 'string' ? 'text/plain' : 'application/json' });
      res.end(value === undefined ? '' : typeof value === 'string' ? value : JSON.stringify(value));
    };
    // As the app (a JWT: three base64url parts), as the installation, or as an order's own token.
    const asApp = auth.startsWith('bearer ') && auth.split('.').length === 3;
    if (path.startsWith('/app')) {
      if (!asApp) problems.push(`${method} ${path} not as the app`);
      if (method === 'POST' && path === `/app/installations/${GITHUB_SERVE_INSTALLATION}/access_tokens`) {
        const asked = json ?? {};
        const token =
          asked['repositories'] === undefined ? INSTALLATION_TOKEN : `ghs_serve_e2e_${randomUUID().replace(/-/g, '')}`;
        if (token !== INSTALLATION_TOKEN)
          minted.push({
            token,
            permissions: (asked['permissions'] ?? {}) as Record<string, string>,
            repositories: (asked['repositories'] ?? []) as string[],
          });
        return reply(201, { token, expires_at: '2099-01-01T00:00:00Z', permissions: asked['permissions'] ?? {} });
      }
      if (method === 'GET' && path === `/app/installations/${GITHUB_SERVE_INSTALLATION}`)
        return reply(200, {
          id: GITHUB_SERVE_INSTALLATION,
          permissions: { contents: 'write', statuses: 'write', metadata: 'read', pull_requests: 'write' },
        });
      if (method === 'GET' && path === '/app/hook/deliveries') return reply(200, []);
    }
    if (method === 'DELETE' && path === '/installation/token') {
      revoked.push(auth.replace(/^token /, ''));
      return reply(204);
    }
    if (!asApp && auth !== `token ${INSTALLATION_TOKEN}`)
      problems.push(`${method} ${path} without the installation's token`);
    const ref = url.searchParams.get('ref');
    if (method === 'GET' && path === `${repoPath}/contents/${folder}` && ref === second)
      return reply(200, [{ type: 'file', name: 'ci.yml', path: `${folder}/ci.yml`, size: workflow.length, sha: 'b1' }]);
    if (method === 'GET' && path === `${repoPath}/contents/${folder}/ci.yml` && ref === second)
      return reply(200, workflow);
    if (method === 'GET' && path === `${repoPath}/compare/${first}...${second}`)
      return reply(200, { files: [{ filename: 'README.md', status: 'modified' }] });
    if (method === 'POST' && path.startsWith(`${repoPath}/statuses/`)) {
      const posted = json as { state: string; context: string };
      statuses.push({ sha: path.slice(`${repoPath}/statuses/`.length), state: posted.state, context: posted.context });
      return reply(201, { id: statuses.length });
    }
    problems.push(`not set up: ${method} ${path}`);
    reply(404, { message: 'Not Found' });
  };

  const answer = async (body: Buffer, req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (extra !== undefined && (await extra(req, body, res))) return;
    if ((req.url ?? '/').startsWith('/api/v3/')) return api(req, body.toString('utf8'), res);
    problems.push(`not set up: ${req.method} ${req.url}`);
    res.writeHead(404).end();
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      answer(Buffer.concat(chunks), req, res).catch((error: unknown) => {
        problems.push(`the stand-in failed: ${String(error)}`);
        if (!res.headersSent) res.writeHead(500);
        res.end();
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { server, url: `http://127.0.0.1:${port}`, statuses, minted, revoked, problems };
}

/** The environment `serve` needs to be the GitHub App of the stand-in's GitHub Enterprise host. */
export function githubServeEnv(home: string, forge: GitHubStandIn): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    APP_ID: '1',
    PRIVATE_KEY: testPrivateKey(),
    WEBHOOK_SECRET: GITHUB_SERVE_SECRET,
    APP_SLUG: 'spotcheck',
    GHE_HOST: new URL(forge.url).host,
    GHE_PROTOCOL: 'http',
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_FORMAT: 'json',
  };
}

/** Posts a signed GitHub push (GitHub's own example payload) of `first..second` on main; resolves with the status. */
export async function postGitHubPush(
  url: string,
  repo: { readonly owner: string; readonly name: string; readonly web: string },
  first: string,
  second: string,
): Promise<number> {
  const payload = githubExample('push', (p) => p['ref'] === 'refs/heads/master' && p['installation'] !== undefined);
  Object.assign(payload, { ref: 'refs/heads/main', before: first, after: second, deleted: false });
  (payload['installation'] as { id: number }).id = GITHUB_SERVE_INSTALLATION;
  const repository = payload['repository'] as Record<string, unknown>;
  Object.assign(repository, {
    name: repo.name,
    full_name: `${repo.owner}/${repo.name}`,
    html_url: `${repo.web}/${repo.owner}/${repo.name}`,
    default_branch: 'main',
  });
  Object.assign(repository['owner'] as Record<string, unknown>, { login: repo.owner });
  const body = JSON.stringify(payload);
  const answer = await fetch(`${url}/api/github/webhooks`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-github-event': 'push',
      'x-github-delivery': randomUUID(),
      'x-hub-signature-256': signGitHubBody(GITHUB_SERVE_SECRET, body),
    },
    body,
  });
  return answer.status;
}
