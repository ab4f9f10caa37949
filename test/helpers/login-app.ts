/**
 * The whole `serve` composition (createSpotcheckApp) with both forges and their logins configured, driven through
 * its router: a forge stand-in answers the OAuth endpoints and the REST calls made with users' tokens, and checks
 * each REST call against the forge's published API description (GitHub's OpenAPI, Gitea's swagger). Two runs are
 * seeded: one of a public repository, one of a private one, each with an order and a log.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import { createSpotcheckApp, type SpotcheckApp } from '../../src/app/app.ts';
import type { LoginSettings } from '../../src/app/settings.ts';
import { defaultConfig } from '../../src/config.ts';
import type { RunRecord } from '../../src/core/types.ts';
import { BodyTooLargeError, type RouterResponse } from '../../src/server/router.ts';
import { checkGiteaRequest } from './gitea-api.ts';
import { checkGitHubRequest, testPrivateKey } from './github-api.ts';
import { makeOrder, makeRun } from './records.ts';

export const GITEA_URL = 'https://gitea.test';
export const PUBLIC_RUN = 'gh-public0000000000000';
export const PRIVATE_RUN = 'gh-private000000000000';
export const GITEA_PRIVATE_RUN = 'gt-private000000000000';
export const PRIVATE_LOG = 'the private build log: s3cr3t-output\n';

/** What the forge stand-in knows: who each token is, which codes give which token, who may pull what. */
export interface ForgeWorld {
  readonly codes: Map<string, string>;
  readonly tokens: Map<string, string>;
  /** `login owner/name` → may pull. */
  readonly pull: Set<string>;
  /** `login owner/name` → administers the repository (and may pull it). */
  readonly admin: Set<string>;
  /** `login org` → owns the organization. */
  readonly orgOwners: Set<string>;
  /** `login org` → a member of the organization, not an owner. */
  readonly orgMembers: Set<string>;
  readonly calls: string[];
  readonly problems: string[];
}

export interface LoginApp {
  readonly app: SpotcheckApp;
  readonly world: ForgeWorld;
  get(path: string, cookie?: string, headers?: Record<string, string>): Promise<Answer>;
  /** A form post (`application/x-www-form-urlencoded` when `form` is given). */
  post(path: string, cookie?: string, form?: Record<string, string>, headers?: Record<string, string>): Promise<Answer>;
  /** Logs in through the router as the user `code` stands for: /login → forge → callback; answers the cookie. */
  login(forge: 'github' | 'gitea', code: string, redirect?: string): Promise<{ cookie: string; location: string }>;
  close(): Promise<void>;
}

export interface Answer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** Where GitHub is: github.com by default, or (a browser test) a stand-in on loopback, as a GitHub Enterprise. */
export interface GitHubSite {
  readonly host: string;
  readonly protocol: 'http' | 'https';
  readonly baseUrl: string;
}

export interface LoginAppOptions {
  readonly login?: LoginSettings;
  readonly publicUrl?: string;
  readonly github?: GitHubSite;
  /** The world the forge stand-in answers from (one of startLoginApp's own by default). */
  readonly world?: ForgeWorld;
  /** How the app reaches the forges for login: the in-process stand-in by default. */
  readonly loginFetch?: typeof fetch;
  /** The app's logger and the requests' (silent by default): a test reads what was logged. */
  readonly logger?: Logger;
}

const GITHUB_COM: GitHubSite = { host: 'github.com', protocol: 'https', baseUrl: 'https://api.github.com' };

export function createForgeWorld(): ForgeWorld {
  return {
    codes: new Map(),
    tokens: new Map(),
    pull: new Set(),
    admin: new Set(),
    orgOwners: new Set(),
    orgMembers: new Set(),
    calls: [],
    problems: [],
  };
}

export async function startLoginApp(options: LoginAppOptions = {}): Promise<LoginApp> {
  const dir = await mkdtemp(join(tmpdir(), 'spotcheck-login-'));
  const world = options.world ?? createForgeWorld();
  const github = options.github ?? GITHUB_COM;
  const logger = options.logger ?? pino({ level: 'silent' });
  const app = await createSpotcheckApp({
    settings: {
      agentSecret: 'a'.repeat(40),
      github: {
        appId: '1',
        privateKey: testPrivateKey(),
        webhookSecret: 'hook-secret',
        baseUrl: github.baseUrl,
        host: github.host,
        protocol: github.protocol,
        appSlug: 'spotcheck-test',
      },
      gitea: { url: GITEA_URL, token: 'bot-token', webhookSecret: 'gitea-hook', botLogin: 'spotcheck-bot' },
      login: options.login ?? {
        github: { clientId: 'Iv1.client', clientSecret: 'gh-client-secret' },
        gitea: { clientId: 'gitea-client', clientSecret: 'gitea-client-secret' },
      },
      metricsToken: 'metrics-token-0123456789',
    },
    config: defaultConfig({ dataDir: dir, publicUrl: options.publicUrl ?? 'http://127.0.0.1:3000' }),
    logger,
    loginFetch: options.loginFetch ?? forgeStandIn(world),
  });
  await seed(app, github.host);
  const call = async (
    method: string,
    target: string,
    cookie: string | undefined,
    headers: Record<string, string> = {},
    body = '',
  ): Promise<Answer> => {
    const url = new URL(target, 'http://127.0.0.1:3000');
    const res: RouterResponse = await app.router.handle({
      method,
      path: url.pathname,
      query: url.searchParams,
      headers: { ...(cookie === undefined ? {} : { cookie }), ...headers },
      signal: AbortSignal.timeout(5000),
      log: logger,
      readBody: (limit) =>
        Buffer.byteLength(body) > limit
          ? Promise.reject(new BodyTooLargeError(limit))
          : Promise.resolve(Buffer.from(body, 'utf8')),
    });
    return { status: res.status, headers: res.headers ?? {}, body: await bodyText(res.body) };
  };
  const get = (path: string, cookie?: string, headers?: Record<string, string>): Promise<Answer> =>
    call('GET', path, cookie, headers);
  return {
    app,
    world,
    get,
    post: (path, cookie, form, headers = {}) =>
      form === undefined
        ? call('POST', path, cookie, headers)
        : call(
            'POST',
            path,
            cookie,
            { 'content-type': 'application/x-www-form-urlencoded', ...headers },
            new URLSearchParams(form).toString(),
          ),
    async login(forge, code, redirect = '/runs') {
      const start = await get(`/login?${new URLSearchParams({ forge, redirect }).toString()}`);
      const authorize = new URL(start.headers.location ?? '');
      const stateCookie = (start.headers['set-cookie'] ?? '').split(';')[0]!;
      const state = authorize.searchParams.get('state') ?? '';
      const back = await get(
        `/login/${forge}/callback?${new URLSearchParams({ code, state }).toString()}`,
        stateCookie,
      );
      if (back.status !== 302) throw new Error(`login failed: ${String(back.status)} ${back.body}`);
      return { cookie: (back.headers['set-cookie'] ?? '').split(';')[0]!, location: back.headers.location ?? '' };
    },
    async close() {
      await app.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function bodyText(body: RouterResponse['body']): Promise<string> {
  if (body === undefined) return '';
  if (typeof body === 'string') return body;
  if (Buffer.isBuffer(body)) return body.toString('utf8');
  let out = '';
  for await (const chunk of body) out += typeof chunk === 'string' ? chunk : chunk.toString('utf8');
  return out;
}

async function seed(app: SpotcheckApp, githubHost: string): Promise<void> {
  const runs: RunRecord[] = [
    makeRun({ runId: PUBLIC_RUN, repo: repo('github', githubHost, 'octo', 'open'), repoPrivate: false }),
    makeRun({ runId: PRIVATE_RUN, repo: repo('github', githubHost, 'octo', 'secret'), repoPrivate: true }),
    makeRun({ runId: GITEA_PRIVATE_RUN, repo: repo('gitea', 'gitea.test', 'team', 'hidden'), repoPrivate: true }),
  ];
  for (const [i, run] of runs.entries()) {
    const finished = {
      ...run,
      status: 'succeeded' as const,
      createdAt: Date.now() - 60_000 + i,
      finishedAt: Date.now(),
    };
    const order = makeOrder('build', { runId: run.runId, state: 'succeeded', attempt: 1 });
    await app.store.createRun({ ...finished, expiresAt: Date.now() + 86_400_000 }, [order]);
    const ref = { runId: run.runId, orderId: 'build', attempt: 1 };
    await app.logs.append(ref, run.repoPrivate ? PRIVATE_LOG : 'a public log\n');
    await app.logs.complete(ref);
  }
}

function repo(forge: 'github' | 'gitea', host: string, owner: string, name: string): RunRecord['repo'] {
  return { forge, host, owner, name };
}

/**
 * GitHub (github.com + api.github.com, or any other origin, its REST API at the root or under GitHub Enterprise's
 * `/api/v3`) and Gitea (gitea.test) as far as login and access checks go.
 */
export function forgeStandIn(world: ForgeWorld): typeof fetch {
  const json = (status: number, value: unknown): Response =>
    new Response(JSON.stringify(value), { status, headers: { 'content-type': 'application/json' } });
  return (input, init) => {
    const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
    const method = init?.method ?? 'GET';
    world.calls.push(`${method} ${url.href}`);
    const headers = new Headers(init?.headers);
    if (url.pathname === '/login/oauth/access_token' && method === 'POST') {
      const form = new URLSearchParams(typeof init?.body === 'string' ? init.body : '');
      const gitea = url.origin === GITEA_URL;
      const client = gitea ? ['gitea-client', 'gitea-client-secret'] : ['Iv1.client', 'gh-client-secret'];
      if (form.get('client_id') !== client[0] || form.get('client_secret') !== client[1])
        return Promise.resolve(json(401, { error: 'incorrect_client_credentials' }));
      const token = world.codes.get(form.get('code') ?? '');
      // GitHub answers a bad code 200 with an error field (its docs, "Troubleshooting OAuth app access token errors").
      if (token === undefined) return Promise.resolve(json(gitea ? 400 : 200, { error: 'bad_verification_code' }));
      world.codes.delete(form.get('code') ?? '');
      return Promise.resolve(json(200, { access_token: token, token_type: 'bearer', expires_in: 28_800 }));
    }
    const gitea = url.origin === GITEA_URL;
    const problems = gitea
      ? checkGiteaRequest(method, url.href, undefined)
      : checkGitHubRequest(method, url.href, undefined);
    world.problems.push(...problems.map((p) => `${method} ${url.href}: ${p}`));
    const token = (headers.get('authorization') ?? '').replace(/^Bearer /, '');
    const login = world.tokens.get(token);
    if (login === undefined) return Promise.resolve(json(401, { message: 'Bad credentials' }));
    const path = url.pathname.replace(gitea ? /^\/api\/v1/ : /^\/api\/v3/, '');
    if (path === '/user') return Promise.resolve(json(200, { login, id: 7 }));
    const m = /^\/repos\/([^/]+)\/([^/]+)$/.exec(path);
    if (m !== null) {
      const full = `${decodeURIComponent(m[1]!)}/${decodeURIComponent(m[2]!)}`;
      const admin = world.admin.has(`${login} ${full}`);
      if (!admin && !world.pull.has(`${login} ${full}`)) return Promise.resolve(json(404, { message: 'Not Found' }));
      return Promise.resolve(
        json(200, { full_name: full, private: true, permissions: { admin, push: admin, pull: true } }),
      );
    }
    // GitHub: the user's own membership (404 when not a member); an owner's role is `admin`.
    const membership = /^\/user\/memberships\/orgs\/([^/]+)$/.exec(path);
    if (!gitea && membership !== null) {
      const org = decodeURIComponent(membership[1]!);
      const owner = world.orgOwners.has(`${login} ${org}`);
      if (!owner && !world.orgMembers.has(`${login} ${org}`))
        return Promise.resolve(json(404, { message: 'Not Found' }));
      const role = owner ? 'admin' : 'member';
      return Promise.resolve(json(200, { state: 'active', role, organization: { login: org } }));
    }
    // Gitea: a user's permissions in an organization.
    const permissions = /^\/users\/([^/]+)\/orgs\/([^/]+)\/permissions$/.exec(path);
    if (gitea && permissions !== null) {
      const [user, org] = [decodeURIComponent(permissions[1]!), decodeURIComponent(permissions[2]!)];
      if (user !== login) return Promise.resolve(json(403, { message: 'forbidden' }));
      const owner = world.orgOwners.has(`${login} ${org}`);
      return Promise.resolve(
        json(200, { is_owner: owner, is_admin: owner, can_write: owner, can_read: true, can_create_repository: owner }),
      );
    }
    return Promise.resolve(json(404, { message: 'Not Found' }));
  };
}
