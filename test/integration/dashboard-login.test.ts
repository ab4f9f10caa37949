/**
 * Login for people through the whole `serve` composition's router, with GitHub's and Gitea's OAuth and REST
 * endpoints played by a stand-in that checks every REST call against the forge's API description.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  GITEA_PRIVATE_RUN,
  PRIVATE_LOG,
  PRIVATE_RUN,
  PUBLIC_RUN,
  startLoginApp,
  type LoginApp,
} from '../helpers/login-app.ts';

let server: LoginApp | undefined;
afterEach(async () => {
  expect(server?.world.problems ?? []).toEqual([]);
  await server?.close();
  server = undefined;
});

describe('dashboard login', () => {
  it('GitHub: login round trip back to the page, the private run readable, the check cached, logout', async () => {
    server = await startLoginApp();
    const { world } = server;
    world.codes.set('code-1', 'gho_mona');
    world.tokens.set('gho_mona', 'mona');
    world.pull.add('mona octo/secret');

    const start = await server.get(`/login?forge=github&redirect=${encodeURIComponent(`/runs/${PRIVATE_RUN}`)}`);
    expect(start.status).toBe(302);
    const authorize = new URL(start.headers.location ?? '');
    expect(`${authorize.origin}${authorize.pathname}`).toBe('https://github.com/login/oauth/authorize');
    expect(authorize.searchParams.get('client_id')).toBe('Iv1.client');
    expect(authorize.searchParams.get('redirect_uri')).toBe('http://127.0.0.1:3000/login/github/callback');
    expect(start.headers['set-cookie']).toMatch(
      /^spotcheck_login=[^;]+; Path=\/login; Max-Age=600; HttpOnly; SameSite=Lax$/,
    );

    const { cookie, location } = await server.login('github', 'code-1', `/runs/${PRIVATE_RUN}`);
    expect(location).toBe(`/runs/${PRIVATE_RUN}`);
    const page = await server.get(location, cookie);
    expect(page.status).toBe(200);
    expect(page.body).toContain('mona');
    expect(page.body).toContain('/badge/octo/secret.svg?host=github.com&amp;key=');
    expect((await server.get('/runs', cookie)).body).toContain(PRIVATE_RUN);
    expect((await server.get(`/runs/${PRIVATE_RUN}/orders/build/log`, cookie)).body).toBe(PRIVATE_LOG);
    // A GitHub user is nobody on Gitea.
    expect((await server.get(`/runs/${GITEA_PRIVATE_RUN}`, cookie)).status).toBe(404);
    // One access check for the repository, however many pages were read.
    expect(world.calls.filter((c) => c === 'GET https://api.github.com/repos/octo/secret')).toHaveLength(1);

    // The badge key from the run page opens the private badge; a wrong one does not.
    const key = /key=([A-Za-z0-9_-]+)/.exec(page.body)?.[1] ?? '';
    expect((await server.get(`/badge/octo/secret.svg?host=github.com&key=${key}`)).body).toContain('passing');
    expect((await server.get(`/badge/octo/secret.svg?host=github.com&key=${key.slice(1)}x`)).body).toContain('unknown');

    const out = await server.post('/logout', cookie);
    expect(out.status).toBe(303);
    expect(out.headers['set-cookie']).toMatch(/^spotcheck_session=; Path=\/; Max-Age=0; HttpOnly; SameSite=Lax$/);
    // The session is gone on the server: the old cookie reads as nobody.
    expect((await server.get(`/runs/${PRIVATE_RUN}/orders/build/log`, cookie)).status).toBe(302);
  });

  it('a user the forge does not let pull gets 404 and an unlisted run', async () => {
    server = await startLoginApp();
    const { world } = server;
    world.codes.set('c', 'gho_eve');
    world.tokens.set('gho_eve', 'eve');
    const { cookie } = await server.login('github', 'c');
    expect((await server.get(`/runs/${PRIVATE_RUN}`, cookie)).status).toBe(404);
    expect((await server.get(`/runs/${PRIVATE_RUN}/orders/build/log`, cookie)).status).toBe(404);
    expect((await server.get('/runs', cookie)).body).not.toContain(PRIVATE_RUN);
    expect((await server.get(`/runs/${PUBLIC_RUN}`, cookie)).status).toBe(200);
  });

  it('Gitea: an OAuth2 application login reads the private Gitea run', async () => {
    server = await startLoginApp();
    const { world } = server;
    world.codes.set('g1', 'gitea-tok');
    world.tokens.set('gitea-tok', 'alice');
    world.pull.add('alice team/hidden');
    const start = await server.get('/login?forge=gitea');
    const authorize = new URL(start.headers.location ?? '');
    expect(`${authorize.origin}${authorize.pathname}`).toBe('https://gitea.test/login/oauth/authorize');
    expect(authorize.searchParams.get('response_type')).toBe('code');
    const { cookie } = await server.login('gitea', 'g1', `/runs/${GITEA_PRIVATE_RUN}/orders/build/log`);
    expect((await server.get(`/runs/${GITEA_PRIVATE_RUN}/orders/build/log`, cookie)).body).toBe(PRIVATE_LOG);
    expect(world.calls).toContain('GET https://gitea.test/api/v1/repos/team/hidden');
    expect(world.calls).toContain('GET https://gitea.test/api/v1/user');
  });

  it('refuses a callback whose state is not the cookie’s, and never redirects off the site', async () => {
    server = await startLoginApp();
    const { world } = server;
    world.codes.set('c', 'gho_mona');
    world.tokens.set('gho_mona', 'mona');
    const start = await server.get('/login?forge=github');
    const stateCookie = (start.headers['set-cookie'] ?? '').split(';')[0]!;
    // No cookie (a login started elsewhere), and a state that is not the cookie's: both refused, code unused.
    expect((await server.get('/login/github/callback?code=c&state=x')).status).toBe(400);
    expect((await server.get('/login/github/callback?code=c&state=x', stateCookie)).status).toBe(400);
    expect(world.codes.has('c')).toBe(true);
    for (const evil of ['https://evil.test/', '//evil.test/x', '/\\evil.test', 'javascript:alert(1)']) {
      const { location } = await server.login('github', 'c', evil);
      expect(location).toBe('/runs');
      world.codes.set('c', 'gho_mona');
    }
  });

  it('cookies are Secure when the public URL is https; /metrics wants its bearer token', async () => {
    server = await startLoginApp({ publicUrl: 'https://ci.example.test' });
    server.world.codes.set('c', 'gho_mona');
    server.world.tokens.set('gho_mona', 'mona');
    expect((await server.get('/login?forge=github')).headers['set-cookie']).toMatch(/; Secure$/);
    const start = await server.get('/login?forge=github');
    const state = new URL(start.headers.location ?? '').searchParams.get('state') ?? '';
    const back = await server.get(
      `/login/github/callback?code=c&state=${state}`,
      (start.headers['set-cookie'] ?? '').split(';')[0],
    );
    expect(back.headers['set-cookie']).toMatch(
      /^spotcheck_session=[^;]+; Path=\/; Max-Age=28800; HttpOnly; SameSite=Lax; Secure$/,
    );
    expect((await server.get('/metrics')).status).toBe(401);
    const scraped = await server.get('/metrics', undefined, { authorization: 'Bearer metrics-token-0123456789' });
    expect(scraped.status).toBe(200);
  });
});
