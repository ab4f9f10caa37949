/**
 * The dashboard as a person sees it: Debian's Chromium, headless, driven by playwright-core, against the real HTTP
 * server (router + Node transport) on loopback, with the orchestrator moving orders along while the pages are open.
 * Screenshots land in test-results/screenshots/ (kept by CI as artifacts).
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildGithubContext } from '../../src/core/github-context.ts';
import { STATE_COLORS } from '../../src/core/render/graph-layout.ts';
import type { RunPlan } from '../../src/core/types.ts';
import { DEFAULT_LIMITS } from '../../src/config.ts';
import { Orchestrator } from '../../src/orchestrator.ts';
import { createDashboardRoutes } from '../../src/server/dashboard/dashboard-routes.ts';
import { createLogRoute } from '../../src/server/log-route.ts';
import { createFileLogStore, type LogStore } from '../../src/server/log-store.ts';
import { createHttpServer, listenHttp, type ListeningServer } from '../../src/server/node-http.ts';
import { createRouter } from '../../src/server/router.ts';
import { startEmbeddedStore, type EmbeddedStore } from '../../src/store/embedded.ts';
import type { LaunchRequest, OrderRef, Route, Runner } from '../../runners/runner.ts';
import { buildOrderJob } from '../../runners/order-job.ts';
import { plan, spec } from '../helpers/plans.ts';
import { openVisibility } from '../../src/server/auth/visibility.ts';

const CHROMIUM = '/usr/bin/chromium';
const HAVE_CHROMIUM = existsSync(CHROMIUM);
const SCREENSHOTS = path.resolve('test-results/screenshots');
const SHA = '3f2a9c1e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a39';
const EVIL = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>';

/** Pages refresh on their own; give them time on a busy machine. */
const poll = <T>(read: () => Promise<T> | T) => expect.poll(read, { timeout: 15_000, interval: 100 });

/** A runner the test drives by hand: launched orders wait until the test says they run, log and finish. */
function createManualRunner(): Runner & { ref(runId: string, orderId: string): Promise<OrderRef> } {
  const launched = new Map<string, LaunchRequest>();
  return {
    kind: 'local',
    launch(request) {
      launched.set(`${request.job.ref.runId}/${request.job.ref.orderId}`, request);
      return Promise.resolve({ handle: `manual:${request.job.ref.runId}/${request.job.ref.orderId}` });
    },
    terminate: () => Promise.resolve(),
    isAlive: () => Promise.resolve(true),
    async ref(runId, orderId) {
      for (let i = 0; i < 500; i++) {
        const request = launched.get(`${runId}/${orderId}`);
        if (request) return request.job.ref;
        await new Promise((r) => setTimeout(r, 10));
      }
      throw new Error(`${runId}/${orderId} was never launched`);
    },
  };
}

describe.skipIf(!HAVE_CHROMIUM)(
  `the dashboard in headless Chromium (skipped when ${CHROMIUM} is missing: apt-get install chromium; CI installs it)`,
  () => {
    let embedded: EmbeddedStore;
    let dataDir: string;
    let logs: LogStore;
    let server: ListeningServer;
    let browser: Browser;
    let orchestrator: Orchestrator;
    const runner = createManualRunner();
    let runs = 0;

    beforeAll(async () => {
      await mkdir(SCREENSHOTS, { recursive: true });
      embedded = await startEmbeddedStore({});
      dataDir = await mkdtemp(path.join(tmpdir(), 'spotcheck-dashboard-'));
      logs = createFileLogStore(dataDir);
      const logger = pino({ level: 'silent' });
      orchestrator = new Orchestrator({
        store: embedded.store,
        runners: { local: runner },
        routes: new Map<string, Route>([['local', { label: 'local', runner: 'local', settings: {} }]]),
        limits: { ...DEFAULT_LIMITS, maxConcurrentOrders: 100 },
        reporter: { orderChanged: () => Promise.resolve(), runChanged: () => Promise.resolve() },
        logger,
        jobFor: (run, order, needs) => Promise.resolve(buildOrderJob(run, order, needs, '/dev/null')),
      });
      const router = createRouter([
        ...createDashboardRoutes({ store: embedded.store, visibility: openVisibility(), refreshMs: 250 }),
        createLogRoute({ store: embedded.store, logs, visibility: openVisibility(), pollMs: 100 }),
      ]);
      server = await listenHttp(createHttpServer(router, { logger }), { port: 0, host: '127.0.0.1' });
      // playwright-core starts Chromium with a fresh temporary profile (user-data dir) and removes it on close.
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
      await embedded?.close();
      if (dataDir) await rm(dataDir, { recursive: true, force: true });
    });

    async function startRun(p: RunPlan, actor = 'alice'): Promise<string> {
      const runId = `browser-${String(++runs)}`;
      await orchestrator.startRun({
        runId,
        repo: { forge: 'github', host: 'github.com', owner: 'octo', name: 'app' },
        plan: p,
        event: 'push',
        ref: 'refs/heads/main',
        sha: SHA,
        actor,
        github: buildGithubContext({
          event: 'push',
          ref: 'refs/heads/main',
          sha: SHA,
          repository: 'octo/app',
          actor,
          serverUrl: 'https://github.com',
          workflow: p.workflowName,
        }),
      });
      return runId;
    }

    const running = async (runId: string, orderId: string): Promise<OrderRef> => {
      const ref = await runner.ref(runId, orderId);
      await orchestrator.report(ref, { type: 'running' });
      return ref;
    };
    const finish = async (runId: string, orderId: string, conclusion: 'success' | 'failure'): Promise<void> => {
      const ref = await runner.ref(runId, orderId);
      await logs.complete(ref);
      await orchestrator.report(ref, {
        type: 'finished',
        conclusion,
        outputs: {},
        stepResults: [
          {
            index: 0,
            name: 'make test',
            outcome: conclusion,
            conclusion,
            exitCode: conclusion === 'success' ? 0 : 2,
            durationMs: 1200,
          },
        ],
      });
    };

    const diamond = (name: string): RunPlan =>
      plan(
        [
          spec('build'),
          spec('test.1', { job: 'test', name: 'test (1)', needs: ['build'], needsOrders: ['build'] }),
          spec('test.2', { job: 'test', name: 'test (2)', needs: ['build'], needsOrders: ['build'] }),
          spec('report', { needs: ['test'], needsOrders: ['test.1', 'test.2'] }),
        ],
        { workflowName: name, file: `.spotcheck/workflows/${name}.yml` },
      );

    async function open(url: string, viewport = { width: 1280, height: 900 }): Promise<Page> {
      const page = await browser.newPage({ viewport });
      await page.goto(`${server.url}${url}`);
      return page;
    }

    const node = (page: Page, id: string) => page.locator(`svg.graph g.node[data-node="order:${id}"]`);
    const nodeFill = (page: Page, id: string) => node(page, id).locator('rect').getAttribute('fill');
    const shot = (page: Page, name: string) =>
      page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });

    it('shows a run page changing while its orders run, and the final result after', async () => {
      const runId = await startRun(diamond('ci'));
      const page = await open(`/runs/${runId}`);
      await poll(() => page.locator('h1').innerText()).toContain('ci');
      await poll(() => node(page, 'build').getAttribute('data-state')).toBe('dispatching');
      expect(await page.locator('svg.graph').getAttribute('aria-labelledby')).toBe('graph-title graph-desc');

      await running(runId, 'build');
      await poll(() => node(page, 'build').getAttribute('data-state')).toBe('running');
      expect(await node(page, 'build').textContent()).toContain('▶ running');
      expect(await nodeFill(page, 'build')).toBe(STATE_COLORS.running.fill);
      expect(await nodeFill(page, 'report')).toBe(STATE_COLORS.queued.fill);
      expect(await page.locator('#run-summary').innerText()).toBe('4 orders: 3 queued, 1 running');
      await shot(page, 'run-page-running');

      await finish(runId, 'build', 'success');
      await running(runId, 'test.1');
      await running(runId, 'test.2');
      await poll(() => node(page, 'test.2').getAttribute('data-state')).toBe('running');
      await finish(runId, 'test.1', 'success');
      await finish(runId, 'test.2', 'failure');

      // The run failed; report (needs test, no `if: always()`) is skipped. The page stops refreshing once final.
      await poll(() => page.locator('h1').innerText()).toContain('failed');
      expect(await page.locator('#live').getAttribute('data-refresh')).toBeNull();
      const states = Object.fromEntries(
        await Promise.all(
          ['build', 'test.1', 'test.2', 'report'].map(async (id): Promise<[string, string | null]> => [
            id,
            await node(page, id).getAttribute('data-state'),
          ]),
        ),
      );
      expect(states).toEqual({ build: 'succeeded', 'test.1': 'succeeded', 'test.2': 'failed', report: 'skipped' });
      expect(await node(page, 'test.2').textContent()).toContain('✗ failed');
      expect(await nodeFill(page, 'test.2')).toBe(STATE_COLORS.failed.fill);
      expect(await nodeFill(page, 'build')).toBe(STATE_COLORS.succeeded.fill);
      expect(await nodeFill(page, 'report')).toBe(STATE_COLORS.skipped.fill);
      // The table says the same in words.
      const failedRow = page.locator('tr[data-order="test.2"]');
      expect(await failedRow.locator('td[data-label="State"]').innerText()).toContain('failed');
      expect(await page.locator('#run-summary').innerText()).toBe('4 orders: 2 succeeded, 1 failed, 1 skipped');
      await shot(page, 'run-page-finished');

      // A node is a link to its order.
      await node(page, 'test.2').click();
      await page.waitForURL(`**/runs/${runId}/orders/test.2`);
      expect(await page.locator('h1').innerText()).toContain('test (2)');
      await page.close();
    }, 60_000);

    it("tails a running order's log live and shows its end", async () => {
      const runId = await startRun(plan([spec('hang', { name: 'long job' })], { workflowName: 'slow' }));
      const ref = await running(runId, 'hang');
      await logs.append(ref, 'line 1: starting\n');
      const page = await open(`/runs/${runId}/orders/hang`);
      const log = page.locator('pre#log');
      await poll(() => log.innerText()).toContain('line 1: starting');
      expect(await page.locator('h1').innerText()).toContain('running');

      await logs.append(ref, 'line 2: \u001b[32mgreen\u001b[0m and <b>not bold</b>\n');
      await poll(() => log.innerText()).toContain('line 2: green and <b>not bold</b>');
      expect(await log.locator('b').count()).toBe(0);
      await shot(page, 'order-page-tailing');

      await logs.append(ref, 'line 3: done\n');
      await finish(runId, 'hang', 'success');
      await poll(() => page.locator('h1').innerText()).toContain('succeeded');
      await poll(() => log.innerText()).toContain('line 3: done');
      expect(await page.locator('td[data-label="Step"]').innerText()).toBe('make test');
      // Each line once: the tail never re-appends what it showed.
      expect((await log.innerText()).match(/line 1: starting/g)).toHaveLength(1);
      await shot(page, 'order-page-finished');
      await page.close();
    }, 60_000);

    it('lists runs newest first, with what a person looks for', async () => {
      const page = await open('/runs');
      const rows = page.locator('tbody tr');
      await poll(() => rows.count()).toBeGreaterThanOrEqual(2);
      const first = await rows.nth(0).innerText();
      expect(first).toContain('slow');
      expect(first).toContain('succeeded');
      const second = await rows.nth(1).innerText();
      expect(second).toMatch(/failed[\s\S]*ci[\s\S]*octo\/app[\s\S]*3f2a9c1[\s\S]*push to main[\s\S]*alice/);
      expect(await page.locator('a', { hasText: '3f2a9c1' }).first().getAttribute('href')).toBe(
        `https://github.com/octo/app/commit/${SHA}`,
      );
      await shot(page, 'runs-list');
      await page.close();
    }, 60_000);

    it('shows hostile names as text and runs none of them', async () => {
      const runId = await startRun(plan([spec('x', { name: EVIL })], { workflowName: EVIL }), EVIL);
      for (const url of ['/runs', `/runs/${runId}`, `/runs/${runId}/orders/x`]) {
        const page = await open(url);
        await poll(() => page.locator('main').innerText()).toContain('<script>window.__pwned=2</script>');
        // Evaluated as page source: the test itself is type-checked without the DOM library.
        expect(await page.evaluate('typeof window.__pwned')).toBe('undefined');
        expect(await page.locator('main img').count()).toBe(0);
        await page.close();
      }
    }, 60_000);

    it('fits a 375 px phone screen without sideways scrolling', async () => {
      const [ci] = await embedded.store
        .listRuns({ limit: 100 })
        .then((all) => all.filter((r) => r.workflowName === 'ci'));
      for (const [name, url] of [
        ['runs-list', '/runs'],
        ['run-page', `/runs/${ci!.runId}`],
        ['order-page', `/runs/${ci!.runId}/orders/test.2`],
      ] as const) {
        const page = await open(url, { width: 375, height: 812 });
        await page.locator('main').waitFor();
        const scroll = Number(await page.evaluate('document.documentElement.scrollWidth'));
        const client = Number(await page.evaluate('document.documentElement.clientWidth'));
        expect(client).toBe(375);
        expect(scroll, `${name} scrolls sideways`).toBeLessThanOrEqual(client);
        await shot(page, `phone-${name}`);
        await page.close();
      }
    }, 60_000);

    it('is readable with JavaScript off', async () => {
      const [ci] = await embedded.store
        .listRuns({ limit: 100 })
        .then((all) => all.filter((r) => r.workflowName === 'ci'));
      const context = await browser.newContext({ javaScriptEnabled: false, viewport: { width: 1024, height: 800 } });
      try {
        const page = await context.newPage();
        await page.goto(`${server.url}/runs/${ci!.runId}`);
        expect(await node(page, 'test.2').getAttribute('data-state')).toBe('failed');
        expect(await page.locator('tr[data-order]').count()).toBe(4);
        await page.goto(`${server.url}/runs/${ci!.runId}/orders/test.2`);
        // No script to tail the log: the plain-text log is shown in a frame instead.
        expect(await page.locator('pre#log').isHidden()).toBe(true);
        const frame = page.frameLocator('iframe.log');
        await poll(() => frame.locator('body').innerText()).toContain('ended failed');
        await shot(page, 'order-page-no-javascript');
      } finally {
        await context.close();
      }
    }, 60_000);

    it('folds ##[group] output in the live log and renders step summaries as sanitized Markdown', async () => {
      const runId = await startRun(plan([spec('grp', { name: 'grouped job' })], { workflowName: 'groups' }));
      const ref = await running(runId, 'grp');
      await logs.append(ref, 'before\n##[gro');
      const page = await open(`/runs/${runId}/orders/grp`);
      const log = page.locator('pre#log');
      await poll(() => log.innerText()).toContain('before');
      // The marker arrives cut in two chunks: the fold still opens, and the marker is never shown as text.
      await logs.append(ref, 'up]Install deps\ninstalled 3 packages\n##[endgroup]\nafter\n');
      await poll(() => log.innerText()).toContain('after');
      const group = log.locator('details.group');
      expect(await group.count()).toBe(1);
      expect(await group.locator('summary').innerText()).toBe('Install deps');
      expect(await log.innerText()).not.toContain('##[');
      expect(await group.locator('div').isVisible()).toBe(false);
      await group.locator('summary').click();
      await poll(() => group.locator('div').innerText()).toContain('installed 3 packages');
      expect(await log.innerText()).toMatch(/before\n[\s\S]*Install deps[\s\S]*installed 3 packages[\s\S]*after/);

      await logs.complete(ref);
      await orchestrator.report(ref, {
        type: 'finished',
        conclusion: 'failure',
        outputs: {},
        stepResults: [
          {
            index: 0,
            name: 'report',
            outcome: 'failure',
            conclusion: 'failure',
            exitCode: 1,
            durationMs: 10,
            annotations: [{ level: 'error', message: 'expected 2, got 3', file: 'a.test.ts', line: 4 }],
            summary: `### Coverage\n\n| file | % |\n| --- | --- |\n| a.ts | 91 |\n\n${EVIL}\n\n[x](javascript:window.__pwned=3)`,
          },
        ],
      });
      await poll(() => page.locator('#annotation-counts').count()).toBe(1);
      expect(await page.locator('#annotation-counts').innerText()).toBe('1 error');
      await page.locator('a[href$="#summary-grp"]').click();
      await poll(() => page.locator('.step-summary h3, .step-summary table').count()).toBe(2);
      expect(await page.locator('.step-summary td').allInnerTexts()).toEqual(['a.ts', '91']);
      expect(await page.locator('.step-summary img, .step-summary script, .step-summary a').count()).toBe(0);
      expect(await page.locator('.step-summary').innerText()).toContain('<script>window.__pwned=2</script>');
      expect(await page.evaluate('typeof window.__pwned')).toBe('undefined');
      await shot(page, 'run-page-step-summary');
      await page.close();
    }, 60_000);
  },
);
