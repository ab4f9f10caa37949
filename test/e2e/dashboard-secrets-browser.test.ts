/**
 * The secrets pages as people use them (issue 15: "browser-tested"): Debian's Chromium, headless, driven by
 * playwright-core, against the whole `serve` composition on loopback, GitHub played by the stand-in site on loopback
 * (as a GitHub Enterprise). An admin logs in through the forge, follows the run page's link, sets a secret with the
 * form (the browser's own POST: its Origin, Sec-Fetch-Site and the page's CSRF token) and sees its name; a reader
 * who is not an admin gets no link and a 403. Every answer the browsers received is scanned for the value.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import pino from 'pino';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpServer, listenHttp, type ListeningServer } from '../../src/server/node-http.ts';
import type { Router } from '../../src/server/router.ts';
import { listenForgeSite, type ForgeSite } from '../helpers/forge-site.ts';
import { leaksIn } from '../helpers/leak-forms.ts';
import { createForgeWorld, PRIVATE_RUN, startLoginApp, type LoginApp } from '../helpers/login-app.ts';

const CHROMIUM = '/usr/bin/chromium';
const HAVE_CHROMIUM = existsSync(CHROMIUM);
const SCREENSHOTS = path.resolve('test-results/screenshots');
/** Two lines and characters that HTML, URL and JSON escaping change. */
const VALUE = 'browser-s3cret&<"v">+/=\nsecond-line-R8T9';

describe.skipIf(!HAVE_CHROMIUM)(
  `secrets pages in headless Chromium (skipped when ${CHROMIUM} is missing: apt-get install chromium; CI installs it)`,
  () => {
    const world = createForgeWorld();
    let site: ForgeSite;
    let app: LoginApp | undefined;
    let server: ListeningServer;
    let browser: Browser;
    /** Every answer from the server the browsers received (read as they arrive). */
    const received: string[] = [];
    const reading: Promise<void>[] = [];

    beforeAll(async () => {
      await mkdir(SCREENSHOTS, { recursive: true });
      site = await listenForgeSite(world);
      const router: Router = {
        handle: (req) => {
          if (app === undefined) throw new Error('the app is not composed yet');
          return app.app.router.handle(req);
        },
      };
      server = await listenHttp(createHttpServer(router, { logger: pino({ level: 'silent' }) }), {
        port: 0,
        host: '127.0.0.1',
      });
      app = await startLoginApp({
        publicUrl: server.url,
        github: { host: new URL(site.url).host, protocol: 'http', baseUrl: `${site.url}/api/v3` },
        login: { github: { clientId: 'Iv1.client', clientSecret: 'gh-client-secret' } },
        world,
        loginFetch: (input, init) => fetch(input, init),
      });
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
      });
    }, 60_000);

    afterAll(async () => {
      await browser?.close();
      await server?.close();
      await app?.close();
      await site?.close();
    });

    /** A browser of its own, logged in as `login` through the forge's consent page, landing on `start`. */
    async function loggedIn(login: string, start: string): Promise<{ context: BrowserContext; page: Page }> {
      world.codes.set(`code-${login}`, `gho_${login}`);
      world.tokens.set(`gho_${login}`, login);
      site.nextCode = `code-${login}`;
      const context = await browser.newContext();
      const page = await context.newPage();
      page.on('response', (response) => {
        if (!response.url().startsWith(server.url)) return;
        // A redirect has no body to read; everything else must be read, or the scan would miss it.
        if (response.status() >= 300 && response.status() < 400) return;
        reading.push(
          response.text().then((body) => {
            received.push(`${String(response.status())} ${response.url()}\n${body}`);
          }),
        );
      });
      await page.goto(`${server.url}${start}`);
      await page.click('#authorize');
      await page.waitForURL(`${server.url}${start}`);
      return { context, page };
    }

    it('an admin sets a secret and sees its name; a reader gets no link and a 403; no page holds the value', async () => {
      world.admin.add('mona octo/secret');
      world.pull.add('hubot octo/secret');

      const { context, page } = await loggedIn('mona', `/runs/${PRIVATE_RUN}`);
      await page.click('#secrets-link');
      await page.waitForURL(`${server.url}/secrets/octo/secret`);
      await page.fill('input[name="name"]', 'deploy_key');
      await page.fill('textarea[name="value"]', VALUE);
      await page.selectOption('select[name="level"]', 'environment');
      await page.fill('input[name="environment"]', 'prod');
      await page.check('input[name="outsiders"]');
      await page.click('form.secret button[type="submit"]');
      // POST, then 303 to the page: a reload never posts the value again.
      await page.waitForURL(`${server.url}/secrets/octo/secret?set=DEPLOY_KEY`);
      expect(await page.locator('[role="status"]').textContent()).toBe('Secret DEPLOY_KEY set.');
      const row = page.locator('tbody tr', { hasText: 'DEPLOY_KEY' });
      expect((await row.locator('td').allInnerTexts()).map((t) => t.trim())).toEqual([
        'DEPLOY_KEY',
        'Environment prod',
        expect.stringMatching(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/),
        'yes',
        'Remove',
      ]);
      expect(await page.inputValue('textarea[name="value"]')).toBe('');
      await page.screenshot({ path: path.join(SCREENSHOTS, 'secrets-set.png'), fullPage: true });
      await page.reload();
      expect(await page.locator('tbody tr').count()).toBe(1);

      // What the server stored is what was typed (the browser sends a textarea's line breaks as CRLF).
      const repo = { forge: 'github', host: new URL(site.url).host, owner: 'octo', name: 'secret' } as const;
      const stored = await app!.app.secrets.list({ level: 'environment', repo, environment: 'prod' });
      expect(await app!.app.secrets.open(stored)).toEqual({ DEPLOY_KEY: VALUE.replace('\n', '\r\n') });

      const reader = await loggedIn('hubot', `/runs/${PRIVATE_RUN}`);
      expect(await reader.page.locator('#secrets-link').count()).toBe(0);
      const refused = await reader.page.goto(`${server.url}/secrets/octo/secret`);
      expect(refused?.status()).toBe(403);
      expect(await reader.page.locator('form.secret').count()).toBe(0);

      // The admin removes it with the row's button.
      await page.click('tbody tr button');
      await page.waitForURL(`${server.url}/secrets/octo/secret?removed=DEPLOY_KEY`);
      expect(await page.locator('tbody tr').count()).toBe(0);

      await Promise.all(reading);
      await Promise.all([context.close(), reader.context.close()]);
      expect(received.length).toBeGreaterThan(6);
      const secrets = { VALUE, CRLF: VALUE.replace('\n', '\r\n') };
      expect(received.flatMap((body, i) => leaksIn(`answer ${String(i)}`, body, secrets))).toEqual([]);
      expect(world.problems).toEqual([]);
    });
  },
);
