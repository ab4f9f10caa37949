/**
 * Red-team finding (issue 16): "Private logs are public". The dashboard, live logs and badges needed no login, and
 * `/runs` listed every run of every repository, private ones included. Replayed here against the whole `serve`
 * composition: an anonymous reader gets nothing of a private repository's runs, with or without a login offered.
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
  await server?.close();
  server = undefined;
});

describe('private logs are public (issue 16)', () => {
  it('an anonymous reader sees public runs only, and no private page, log, live part or badge', async () => {
    server = await startLoginApp();
    const list = await server.get('/runs');
    expect(list.status).toBe(200);
    expect(list.body).toContain(PUBLIC_RUN);
    expect(list.body).not.toContain(PRIVATE_RUN);
    expect(list.body).not.toContain(GITEA_PRIVATE_RUN);
    expect(list.body).not.toContain('octo/secret');
    expect((await server.get('/runs?part=live')).body).not.toContain(PRIVATE_RUN);
    expect((await server.get('/runs?repo=octo/secret')).body).not.toContain(PRIVATE_RUN);

    for (const path of [
      `/runs/${PRIVATE_RUN}`,
      `/runs/${PRIVATE_RUN}?part=live`,
      `/runs/${PRIVATE_RUN}/orders/build`,
      `/runs/${PRIVATE_RUN}/orders/build?part=live`,
      `/runs/${PRIVATE_RUN}/orders/build/log`,
      `/runs/${PRIVATE_RUN}/orders/build/log?attempt=1`,
    ]) {
      const answer = await server.get(path);
      expect(answer.body, path).not.toContain('s3cr3t');
      // Someone not logged in is sent to log in and come back.
      expect(answer.status, path).toBe(302);
      expect(answer.headers.location, path).toBe(
        `/login?${new URLSearchParams({ redirect: path, forge: 'github' }).toString()}`,
      );
    }
    const badge = await server.get('/badge/octo/secret.svg?host=github.com');
    expect(badge.body).toContain('unknown');
    expect(badge.body).not.toContain('passing');
    expect((await server.get('/badge/octo/open.svg?host=github.com')).body).toContain('passing');
    // The public run's log is still public.
    expect((await server.get(`/runs/${PUBLIC_RUN}/orders/build/log`)).body).toBe('a public log\n');
  });

  it('with no login configured, private runs are readable by nobody (404, not a redirect)', async () => {
    server = await startLoginApp({ login: {} });
    expect((await server.get('/runs')).body).not.toContain(PRIVATE_RUN);
    const log = await server.get(`/runs/${PRIVATE_RUN}/orders/build/log`);
    expect(log.status).toBe(404);
    expect(log.body).not.toContain(PRIVATE_LOG);
    expect((await server.get(`/runs/${PRIVATE_RUN}`)).status).toBe(404);
    expect((await server.get('/login')).status).toBe(404);
  });

  it('a forged or tampered session cookie reads as nobody', async () => {
    server = await startLoginApp();
    server.world.codes.set('c1', 'tok-1');
    server.world.tokens.set('tok-1', 'mona');
    server.world.pull.add('mona octo/secret');
    const { cookie } = await server.login('github', 'c1');
    const [name, value] = cookie.split('=') as [string, string];
    const [payload, mac] = value.split('.') as [string, string];
    const forged = Buffer.from(JSON.stringify({ sid: 'x', exp: Date.now() + 1e9 })).toString('base64url');
    for (const bad of [`${name}=${forged}.${mac}`, `${name}=${payload}.${mac.slice(0, -2)}AA`, `${name}=${payload}`]) {
      const log = await server.get(`/runs/${PRIVATE_RUN}/orders/build/log`, bad);
      expect(log.status).toBe(302);
      expect(log.body).not.toContain('s3cr3t');
    }
    expect((await server.get(`/runs/${PRIVATE_RUN}/orders/build/log`, cookie)).body).toBe(PRIVATE_LOG);
  });
});
