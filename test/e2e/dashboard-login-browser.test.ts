/**
 * Dashboard login as a person does it (issue 16: "Browser-tested"): Debian's Chromium, headless, driven by
 * playwright-core, against the whole `serve` composition on loopback, with GitHub played by a stand-in on loopback too
 * (as a GitHub Enterprise: web at its root, REST under /api/v3). The browser follows the real redirects: to the
 * forge's consent page, back to the callback with a code, on to the page it came from.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import pino from 'pino';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpServer, listenHttp, type ListeningServer } from '../../src/server/node-http.ts';
import type { Router } from '../../src/server/router.ts';
import { listenForgeSite, type ForgeSite } from '../helpers/forge-site.ts';
import {
  createForgeWorld,
  GITEA_PRIVATE_RUN,
  PRIVATE_LOG,
  PRIVATE_RUN,
  PUBLIC_RUN,
  startLoginApp,
  type LoginApp,
} from '../helpers/login-app.ts';

const CHROMIUM = '/usr/bin/chromium';
const HAVE_CHROMIUM = existsSync(CHROMIUM);
const SCREENSHOTS = path.resolve('test-results/screenshots');

describe.skipIf(!HAVE_CHROMIUM)(
  `dashboard login in headless Chromium (skipped when ${CHROMIUM} is missing: apt-get install chromium; CI installs it)`,
  () => {
    const world = createForgeWorld();
    let site: ForgeSite;
    let app: LoginApp | undefined;
    let server: ListeningServer;
    let browser: Browser;

    beforeAll(async () => {
      await mkdir(SCREENSHOTS, { recursive: true });
      site = await listenForgeSite(world);
      // The server listens before the app exists: the app's public URL (the OAuth callback) is the server's own.
      const router: Router = {
        handle: (req) => {
          if (app === undefined) throw new Error('the app is not composed yet');
          return app.app.router.handle(req);
        },
      };
      const logger = pino({ level: 'silent' });
      server = await listenHttp(createHttpServer(router, { logger }), { port: 0, host: '127.0.0.1' });
      app = await startLoginApp({
        publicUrl: server.url,
        github: { host: new URL(site.url).host, protocol: 'http', baseUrl: `${site.url}/api/v3` },
        login: { github: { clientId: 'Iv1.client', clientSecret: 'gh-client-secret' } },
        world,
        // The real fetch: the code exchange and access checks go over loopback to the forge site.
        loginFetch: (input, init) => fetch(input, init),
      });
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--disable-quic',
          '--no-first-run',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
        ],
      });
    }, 60_000);

    afterAll(async () => {
      await browser?.close();
      await server?.close();
      await app?.close();
      await site?.close();
    });

    it('anonymous sees the public run only, logs in through the forge for the private one, logs out', async () => {
      world.codes.set('browser-code', 'gho_mona');
      world.tokens.set('gho_mona', 'mona');
      world.pull.add('mona octo/secret');
      site.nextCode = 'browser-code';
      const context = await browser.newContext();
      const page = await context.newPage();
      const runLinks = async (): Promise<string[]> => {
        const links = await page.locator('a[href^="/runs/"]').all();
        return (await Promise.all(links.map((a) => a.getAttribute('href')))).map((href) => href ?? '');
      };

      // Anonymous: the public run is listed, the private ones are not; the header offers a login.
      await page.goto(`${server.url}/runs`);
      expect(await runLinks()).toContain(`/runs/${PUBLIC_RUN}`);
      expect((await runLinks()).filter((href) => href.includes('private'))).toEqual([]);
      expect(await page.locator('a.account').textContent()).toBe('Log in');

      // The private run sends the browser to the forge's consent page, with the callback on this server.
      await page.goto(`${server.url}/runs/${PRIVATE_RUN}`);
      expect(page.url().startsWith(`${site.url}/login/oauth/authorize?`)).toBe(true);
      expect(site.consents).toEqual([{ clientId: 'Iv1.client', redirectUri: `${server.url}/login/github/callback` }]);
      expect(await page.content()).not.toContain('s3cr3t-output');

      // Consent: back to the callback with the code, then to the private run's page, logged in.
      await page.click('#authorize');
      await page.waitForURL(`${server.url}/runs/${PRIVATE_RUN}`);
      expect(await page.locator('form.account span').textContent()).toBe('mona');
      const session = (await context.cookies(server.url)).find((c) => c.name === 'spotcheck_session');
      expect(session).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/' });
      await page.screenshot({ path: path.join(SCREENSHOTS, 'login-private-run.png'), fullPage: true });

      await page.goto(`${server.url}/runs`);
      expect(await runLinks()).toEqual(expect.arrayContaining([`/runs/${PUBLIC_RUN}`, `/runs/${PRIVATE_RUN}`]));
      // A GitHub user is nobody on Gitea: its private run stays hidden.
      expect(await runLinks()).not.toContain(`/runs/${GITEA_PRIVATE_RUN}`);
      const log = await page.goto(`${server.url}/runs/${PRIVATE_RUN}/orders/build/log`);
      expect(await log?.text()).toBe(PRIVATE_LOG);

      // Logout ends the session: the private run is hidden again and asks for a login.
      await page.goto(`${server.url}/runs`);
      await page.click('form.account button');
      await page.waitForURL(`${server.url}/runs`);
      expect(await runLinks()).toContain(`/runs/${PUBLIC_RUN}`);
      expect(await runLinks()).not.toContain(`/runs/${PRIVATE_RUN}`);
      expect((await context.cookies(server.url)).map((c) => c.name)).not.toContain('spotcheck_session');
      await page.goto(`${server.url}/runs/${PRIVATE_RUN}`);
      expect(page.url().startsWith(`${site.url}/login/oauth/authorize?`)).toBe(true);

      // The server talked to the forge over loopback: one code exchange, who the user is, one access check.
      expect(world.calls).toEqual([
        `POST ${site.url}/login/oauth/access_token`,
        `GET ${site.url}/api/v3/user`,
        `GET ${site.url}/api/v3/repos/octo/secret`,
      ]);
      expect(world.problems).toEqual([]);
      await context.close();
    });
  },
);
