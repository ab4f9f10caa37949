/**
 * The dashboard's secrets pages (issue 15) through the whole `serve` composition's router, with GitHub's and
 * Gitea's OAuth and REST endpoints played by a stand-in that checks every REST call against the forge's API
 * description: a repository's admin and an organization's owner manage secrets; anyone else, a post without the
 * session's CSRF token or from another site, and a failing forge are refused; no value is ever in a page or a log.
 */
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { RepoRef } from '../../src/core/types.ts';
import { leaksIn } from '../helpers/leak-forms.ts';
import { GITEA_URL, PRIVATE_RUN, startLoginApp, type Answer, type LoginApp } from '../helpers/login-app.ts';

const VALUE = 'dash-s3cret/V+a&l"ue=Q9';
const MULTI_LINE = '-----BEGIN KEY-----\nline-two-X7Y8\nline-three-Z1W2\n-----END KEY-----';
const ORG_VALUE = 'org-wide-value-K4M5';
const SECRETS = { VALUE, MULTI_LINE, ORG_VALUE };
const SECRET_REPO: RepoRef = { forge: 'github', host: 'github.com', owner: 'octo', name: 'secret' };

let server: LoginApp | undefined;
let logged = '';
const pages: Answer[] = [];

afterEach(async () => {
  expect(server?.world.problems ?? []).toEqual([]);
  // Every answer and every log line of the test: no secret value in any form.
  const leaks = [...pages.flatMap((p, i) => leaksIn(`answer ${String(i)}`, JSON.stringify(p), SECRETS))];
  leaks.push(...leaksIn('log', logged, SECRETS));
  expect(leaks).toEqual([]);
  pages.length = 0;
  logged = '';
  await server?.close();
  server = undefined;
});

async function start(): Promise<LoginApp> {
  const logger = pino(
    { level: 'debug' },
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        logged += chunk.toString('utf8');
        done();
      },
    }),
  );
  server = await startLoginApp({ logger });
  return server;
}

/** GET and POST through the app, every answer kept for the leak scan. */
function client(app: LoginApp, cookie: string) {
  const keep = (answer: Answer): Answer => {
    pages.push(answer);
    return answer;
  };
  return {
    get: async (path: string) => keep(await app.get(path, cookie)),
    post: async (path: string, form: Record<string, string>, headers: Record<string, string> = {}) =>
      keep(await app.post(path, cookie, form, headers)),
    /** The CSRF token of a secrets page's form. */
    csrfOf: async (path: string): Promise<string> => {
      const page = keep(await app.get(path, cookie));
      expect(page.status).toBe(200);
      return /name="csrf" value="([^"]+)"/.exec(page.body)?.[1] ?? '';
    },
  };
}

async function loginAs(app: LoginApp, login: string, forge: 'github' | 'gitea' = 'github') {
  const token = `gho_${login}`;
  app.world.codes.set(`code-${login}`, token);
  app.world.tokens.set(token, login);
  const { cookie } = await app.login(forge, `code-${login}`);
  return client(app, cookie);
}

describe('secrets pages', () => {
  it("a repository's admin sets, lists and removes secrets at each level; the value is stored, never shown", async () => {
    const app = await start();
    app.world.admin.add('mona octo/secret');
    app.world.orgOwners.add('mona octo');
    const mona = await loginAs(app, 'mona');
    const page = '/secrets/octo/secret';
    const csrf = await mona.csrfOf(page);

    const set = await mona.post(page, { csrf, op: 'set', name: 'deploy_key', value: VALUE, level: 'repo' });
    expect(set.status).toBe(303);
    expect(set.headers.location).toBe(`${page}?set=DEPLOY_KEY`);
    const env = { csrf, op: 'set', name: 'SIGNING', value: MULTI_LINE, level: 'environment', environment: 'prod' };
    expect((await mona.post(page, { ...env, outsiders: 'yes' })).status).toBe(303);
    const org = { csrf, op: 'set', name: 'ORG_TOKEN', value: ORG_VALUE, level: 'org' };
    expect((await mona.post(page, org)).status).toBe(303);

    const listed = await mona.get(`${page}?set=DEPLOY_KEY`);
    expect(listed.status).toBe(200);
    expect(listed.body).toContain('Secret DEPLOY_KEY set.');
    const rows = [
      ...listed.body.matchAll(/<tr>\s*<td data-label="Name"><code>(\w+)<\/code><\/td>\s*<td[^>]*>([^<]+)</g),
    ];
    expect(rows.map((m) => `${m[1]!} ${m[2]!}`)).toEqual([
      'DEPLOY_KEY Repository',
      'SIGNING Environment prod',
      'ORG_TOKEN Organization',
    ]);

    // The same store and sealing as the CLI: what an order of the repository would be handed.
    const { secrets } = app.app;
    const repoSecrets = await secrets.list({ level: 'repo', repo: SECRET_REPO });
    expect(repoSecrets).toMatchObject([{ name: 'DEPLOY_KEY', outsiders: false }]);
    const envSecrets = await secrets.list({ level: 'environment', repo: SECRET_REPO, environment: 'prod' });
    expect(envSecrets).toMatchObject([{ name: 'SIGNING', outsiders: true }]);
    const orgSecrets = await secrets.list({ level: 'org', forge: 'github', host: 'github.com', owner: 'octo' });
    expect(await secrets.open([...repoSecrets, ...envSecrets, ...orgSecrets])).toEqual({
      DEPLOY_KEY: VALUE,
      SIGNING: MULTI_LINE,
      ORG_TOKEN: ORG_VALUE,
    });

    // The run page links the admin to the secrets.
    expect((await mona.get(`/runs/${PRIVATE_RUN}`)).body).toContain(`href="${page}"`);

    const removed = await mona.post(page, {
      csrf,
      op: 'remove',
      name: 'SIGNING',
      level: 'environment',
      environment: 'prod',
    });
    expect(removed).toMatchObject({ status: 303, headers: { location: `${page}?removed=SIGNING` } });
    expect(await secrets.list({ level: 'environment', repo: SECRET_REPO, environment: 'prod' })).toEqual([]);
    const missing = await mona.post(page, {
      csrf,
      op: 'remove',
      name: 'SIGNING',
      level: 'environment',
      environment: 'prod',
    });
    expect(missing.status).toBe(404);
    // The audit trail names who, what and where; never the value (the afterEach scan checks every line).
    expect(logged).toContain('"msg":"secrets: set on the dashboard"');
    expect(logged).toContain('"login":"mona"');
  });

  it("the CLI's rules: a bad name, an empty or too large value, a bad environment come back without the value", async () => {
    const app = await start();
    app.world.admin.add('mona octo/secret');
    const mona = await loginAs(app, 'mona');
    const page = '/secrets/octo/secret';
    const csrf = await mona.csrfOf(page);
    const set = (fields: Record<string, string>) => mona.post(page, { csrf, op: 'set', level: 'repo', ...fields });

    const bad = await set({ name: 'GITHUB_TOKEN', value: VALUE });
    expect(bad.status).toBe(400);
    expect(bad.body).toContain('reserved GITHUB_ prefix');
    expect(bad.body).toContain('value="GITHUB_TOKEN"');
    expect(bad.body).toMatch(/<textarea name="value"[^>]*><\/textarea>/);
    expect((await set({ name: '1ABC', value: VALUE })).body).toContain('must not start with a digit');
    expect((await set({ name: 'EMPTY', value: '' })).body).toContain('must not be empty');
    const big = await set({ name: 'BIG', value: 'x'.repeat(48 * 1024 + 1) });
    expect(big.status).toBe(400);
    expect(big.body).toContain('at most 48 KB');
    const env = await mona.post(page, {
      csrf,
      op: 'set',
      level: 'environment',
      environment: ' ',
      name: 'A',
      value: VALUE,
    });
    expect(env.status).toBe(400);
    expect(env.body).toContain('an environment name must be');
    // An organization's page has no repository level.
    app.world.orgOwners.add('mona octo');
    const orgCsrf = await mona.csrfOf('/secrets/octo');
    expect(
      (await mona.post('/secrets/octo', { csrf: orgCsrf, op: 'set', level: 'repo', name: 'A', value: VALUE })).status,
    ).toBe(400);
    expect(await app.app.secrets.list({ level: 'repo', repo: SECRET_REPO })).toEqual([]);
  });

  it('refuses: not logged in, not an admin, not an owner, no CSRF token, another session’s, another site', async () => {
    const app = await start();
    app.world.admin.add('mona octo/secret');
    app.world.pull.add('hubot octo/secret');
    app.world.orgMembers.add('hubot octo');
    const mona = await loginAs(app, 'mona');
    const hubot = await loginAs(app, 'hubot');
    const page = '/secrets/octo/secret';
    const monaCsrf = await mona.csrfOf(page);
    const form = { op: 'set', name: 'X', value: VALUE, level: 'repo' };

    // Anonymous: a GET is sent to log in (and back); a POST is refused.
    const anonymous = await app.get(page);
    expect(anonymous.status).toBe(302);
    expect(anonymous.headers.location).toBe(`/login?${new URLSearchParams({ redirect: page }).toString()}`);
    expect((await app.post(page, undefined, { ...form, csrf: monaCsrf })).status).toBe(403);

    // A reader who is not an admin: 403 for the page and the form, and no link on the run page.
    expect((await hubot.get(page)).status).toBe(403);
    expect((await hubot.post(page, { ...form, csrf: monaCsrf })).status).toBe(403);
    const hubotCsrf = await hubotCsrfOf(app, hubot);
    expect((await hubot.post(page, { ...form, csrf: hubotCsrf })).status).toBe(403);
    const runPage = await hubot.get(`/runs/${PRIVATE_RUN}`);
    expect(runPage.status).toBe(200);
    expect(runPage.body).not.toContain('/secrets/');
    // A member of the organization who is not its owner, and the repository's admin who is not either.
    expect((await hubot.get('/secrets/octo')).status).toBe(403);
    expect((await mona.get('/secrets/octo')).status).toBe(403);
    expect((await mona.post(page, { ...form, level: 'org', csrf: monaCsrf })).status).toBe(403);

    // The admin without the token, with another session's token, or from another site.
    expect((await mona.post(page, form)).status).toBe(403);
    expect((await mona.post(page, { ...form, csrf: hubotCsrf })).status).toBe(403);
    expect((await mona.post(page, { ...form, csrf: monaCsrf }, { origin: 'https://evil.example' })).status).toBe(403);
    expect((await mona.post(page, { ...form, csrf: monaCsrf }, { 'sec-fetch-site': 'same-site' })).status).toBe(403);
    expect(await app.app.secrets.list({ level: 'repo', repo: SECRET_REPO })).toEqual([]);

    // The same post, as it should be, goes through.
    const ok = await mona.post(
      page,
      { ...form, csrf: monaCsrf },
      { origin: 'http://127.0.0.1:3000', 'sec-fetch-site': 'same-origin' },
    );
    expect(ok.status).toBe(303);
  });

  it('a forge that fails or answers nonsense denies', async () => {
    const app = await start();
    const mona = await loginAs(app, 'mona');
    // The token is no longer good at the forge (401), then the repository is unknown (404).
    app.world.tokens.delete('gho_mona');
    expect((await mona.get('/secrets/octo/secret')).status).toBe(403);
    expect((await mona.get('/secrets/octo')).status).toBe(403);
    app.world.tokens.set('gho_mona', 'mona');
    expect((await mona.get('/secrets/octo/nothing')).status).toBe(403);
    expect(logged).not.toContain('gho_mona');
  });

  it("Gitea: an organization's owner by is_owner; a repository's admin by permissions.admin", async () => {
    const app = await start();
    app.world.orgOwners.add('gitty team');
    app.world.admin.add('gitty team/hidden');
    const gitty = await loginAs(app, 'gitty', 'gitea');
    const csrf = await gitty.csrfOf('/secrets/team');
    const set = await gitty.post('/secrets/team', {
      csrf,
      op: 'set',
      name: 'TEAM_TOKEN',
      value: ORG_VALUE,
      level: 'org',
    });
    expect(set.status).toBe(303);
    const gitea = new URL(GITEA_URL).host;
    expect(await app.app.secrets.list({ level: 'org', forge: 'gitea', host: gitea, owner: 'team' })).toMatchObject([
      { name: 'TEAM_TOKEN' },
    ]);
    expect((await gitty.get('/secrets/team/hidden')).status).toBe(200);
    expect((await gitty.get('/secrets/other')).status).toBe(403);
    expect(app.world.calls).toContain(`GET ${GITEA_URL}/api/v1/users/gitty/orgs/team/permissions`);
  });
});

/** hubot may not read a secrets page, so its token is taken from the index page's session: the same HMAC. */
async function hubotCsrfOf(app: LoginApp, hubot: ReturnType<typeof client>): Promise<string> {
  app.world.admin.add('hubot octo/other');
  const token = await hubot.csrfOf('/secrets/octo/other');
  app.world.admin.delete('hubot octo/other');
  return token;
}
