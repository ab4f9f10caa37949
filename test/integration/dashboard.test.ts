import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildGithubContext } from '../../src/core/github-context.ts';
import type { OrderRecord, RepoRef, RunPlan, RunRecord } from '../../src/core/types.ts';
import { DEFAULT_LIMITS } from '../../src/config.ts';
import { Orchestrator, type Reporter } from '../../src/orchestrator.ts';
import { createDashboardRoutes, type DashboardOptions } from '../../src/server/dashboard/dashboard-routes.ts';
import { createRouter, type Router } from '../../src/server/router.ts';
import { startEmbeddedStore, type EmbeddedStore } from '../../src/store/embedded.ts';
import type { DynamoStore } from '../../src/store/dynamodb.ts';
import type { ReportSink, Route, Runner } from '../../runners/runner.ts';
import { buildOrderJob } from '../../runners/order-job.ts';
import { createIsolatedStore, makeOrder, makeRun } from '../helpers/dynalite.ts';
import { createInstantRunner } from '../helpers/instant-runner.ts';
import { plan, spec } from '../helpers/plans.ts';
import { openVisibility } from '../../src/server/auth/visibility.ts';

const logger = pino({ level: 'silent' });
const routes = new Map<string, Route>([['local', { label: 'local', runner: 'local', settings: {} }]]);
/** The store filters expired records by the real clock, so the test's clock starts from it. */
const NOW = Date.now();
const SHA = '3f2a9c1e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a39';
const REPO: RepoRef = { forge: 'github', host: 'github.com', owner: 'octo', name: 'app' };

let embedded: EmbeddedStore;
beforeAll(async () => {
  embedded = await startEmbeddedStore({});
});
afterAll(async () => {
  await embedded.close();
});

interface Answer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

async function get(router: Router, target: string): Promise<Answer> {
  const url = new URL(target, 'http://dashboard.test');
  const res = await router.handle({
    method: 'GET',
    path: url.pathname,
    query: url.searchParams,
    headers: {},
    signal: new AbortController().signal,
    log: logger,
    readBody: () => Promise.resolve(Buffer.alloc(0)),
  });
  return { status: res.status, headers: res.headers ?? {}, body: squash(typeof res.body === 'string' ? res.body : '') };
}

/**
 * Markup with layout whitespace folded: the templates are laid out by Prettier (line breaks inside tags and between
 * elements), which a browser ignores and so do these assertions.
 */
function squash(markup: string): string {
  return markup.replace(/\s+/g, ' ').replace(/\s+>/g, '>').replace(/>\s+</g, '><');
}

/** A fresh table per test: listings without a repository see only this test's runs. */
async function dashboard(opts: Partial<DashboardOptions> = {}): Promise<{
  store: DynamoStore;
  router: Router;
  orchestrator: Orchestrator;
  instant: ReturnType<typeof createInstantRunner>;
}> {
  const store = await createIsolatedStore(embedded.client);
  const sinks: ReportSink[] = [];
  const instant = createInstantRunner({
    sinks: () => sinks,
    conclude: (r) =>
      r.job.ref.orderId.startsWith('hang') ? 'hang' : r.job.ref.orderId.startsWith('bad') ? 'failure' : 'success',
  });
  const reporter: Reporter = { orderChanged: () => Promise.resolve(), runChanged: () => Promise.resolve() };
  // A `hang…` order starts and never ends: it stays running for as long as a test looks at it.
  const runner: Runner = {
    ...instant,
    async launch(request) {
      const launched = await instant.launch(request);
      if (request.job.ref.orderId.startsWith('hang'))
        setImmediate(() => void orchestrator.report(request.job.ref, { type: 'running' }));
      return launched;
    },
  };
  const orchestrator: Orchestrator = new Orchestrator({
    store,
    runners: { local: runner },
    routes,
    limits: { ...DEFAULT_LIMITS, maxConcurrentOrders: 1000 },
    reporter,
    logger,
    now: () => NOW,
    jobFor: (run, order, needs) => Promise.resolve(buildOrderJob(run, order, needs, '/dev/null')),
  });
  sinks.push(orchestrator);
  const router = createRouter(
    createDashboardRoutes({ store, visibility: openVisibility(), now: () => NOW + 65_000, ...opts }),
  );
  return { store, router, orchestrator, instant };
}

let runs = 0;
async function startRun(
  orchestrator: Orchestrator,
  p: RunPlan,
  over: { actor?: string; repo?: RepoRef; ref?: string } = {},
): Promise<string> {
  const runId = `dash-${String(++runs)}`;
  const repo = over.repo ?? REPO;
  const ref = over.ref ?? 'refs/heads/main';
  await orchestrator.startRun({
    runId,
    repo,
    plan: p,
    event: 'push',
    ref,
    sha: SHA,
    actor: over.actor ?? 'alice',
    github: buildGithubContext({
      event: 'push',
      ref,
      sha: SHA,
      repository: `${repo.owner}/${repo.name}`,
      actor: over.actor ?? 'alice',
      serverUrl: `https://${repo.host}`,
      workflow: p.workflowName,
    }),
  });
  return runId;
}

/** Waits bounded by time, not by a count of 10 ms tries (1–2 s in all), which a busy machine can use up. */
const WAIT = { timeout: 20_000, interval: 10 };

async function settle(store: DynamoStore, runId: string, instant: { idle(): Promise<void> }): Promise<RunRecord> {
  return vi.waitFor(async () => {
    await instant.idle();
    const run = await store.getRun(runId);
    if (!run || run.status === 'running' || run.status === 'pending') throw new Error(`run ${runId} did not finish`);
    return run;
  }, WAIT);
}

/** build → test (matrix of 2) → report. */
const diamond = (name = 'ci', prefix = ''): RunPlan =>
  plan(
    [
      spec(`${prefix}build`, { job: `${prefix}build` }),
      spec(`${prefix}test.1`, {
        job: `${prefix}test`,
        name: 'test (1)',
        needs: [`${prefix}build`],
        needsOrders: [`${prefix}build`],
        matrix: { shard: 1 },
      }),
      spec(`${prefix}test.2`, {
        job: `${prefix}test`,
        name: 'test (2)',
        needs: [`${prefix}build`],
        needsOrders: [`${prefix}build`],
        matrix: { shard: 2 },
      }),
      spec(`${prefix}report`, {
        job: `${prefix}report`,
        needs: [`${prefix}test`],
        needsOrders: [`${prefix}test.1`, `${prefix}test.2`],
      }),
    ],
    { workflowName: name, file: `.spotcheck/workflows/${name}.yml` },
  );

const scripts = (body: string): number => body.match(/<script/gi)?.length ?? 0;

describe('GET /runs', () => {
  it('lists runs newest first with repo, workflow, commit link, trigger, who asked, result and duration', async () => {
    const { store, router, orchestrator, instant } = await dashboard();
    const ok = await startRun(orchestrator, diamond('ci'));
    await settle(store, ok, instant);
    const bad = await startRun(orchestrator, diamond('lint', 'bad'), { actor: 'bob' });
    await settle(store, bad, instant);

    const res = await get(router, '/runs');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.headers['content-security-policy']).toContain("default-src 'none'");
    expect(res.headers['cache-control']).toBe('no-store');
    const rows = res.body.match(/<tr>\s*<td data-label="Result">[\s\S]*?<\/tr>/g) ?? [];
    expect(rows).toHaveLength(2);
    // Same createdAt: the store orders by run id, descending.
    expect(rows[0]).toContain(`href="/runs/${bad}"`);
    expect(rows[0]).toContain('>lint</a>');
    expect(rows[0]).toContain('data-state="failed"');
    expect(rows[0]).toContain('> failed</span>');
    expect(rows[0]).toContain('bob');
    expect(rows[1]).toContain('>ci</a>');
    expect(rows[1]).toContain('> succeeded</span>');
    expect(rows[1]).toContain(
      `<a href="https://github.com/octo/app/commit/${SHA}" title="${SHA}"><code>3f2a9c1</code></a>`,
    );
    expect(rows[1]).toContain('push to <code>main</code>');
    expect(rows[1]).toContain('href="/runs?repo=octo%2Fapp"');
    expect(rows[1]).toContain('<td data-label="Duration" class="num">0s</td>');
    // Nothing runs: no refresh.
    expect(res.body).not.toContain('data-refresh');
    expect(res.body).not.toContain('http-equiv="refresh"');
  });

  it('refreshes itself while a run is going (fetch loop with JavaScript, meta refresh without)', async () => {
    const { router, orchestrator } = await dashboard();
    await startRun(orchestrator, plan([spec('hang')]));
    const res = await get(router, '/runs');
    expect(res.body).toContain('<div id="live" data-refresh="2000">');
    expect(res.body).toContain('<noscript><meta http-equiv="refresh" content="4" /></noscript>');
    expect(res.body).toContain('> running</span>');
    const live = await get(router, '/runs?part=live');
    expect(live.body.startsWith('<div id="live"')).toBe(true);
    expect(live.body).not.toContain('<html');
  });

  it('pages with a before cursor and filters by repository', async () => {
    const { store, router } = await dashboard();
    const other: RepoRef = { ...REPO, name: 'other' };
    for (let i = 1; i <= 7; i++)
      await store.createRun(makeRun(`p-${String(i)}`, { createdAt: NOW + i * 1000, status: 'succeeded' }), []);
    await store.createRun(makeRun('x-1', { repo: other, createdAt: NOW + 500, status: 'failed' }), []);

    const ids = (body: string): string[] =>
      [...body.matchAll(/<td data-label="Workflow"><a href="\/runs\/([^"]+)"/g)].map((m) => m[1]!);
    const older = (body: string): string | undefined =>
      /href="([^"]+)" rel="next">Older runs/.exec(body)?.[1]?.replace(/&amp;/g, '&');

    const first = await get(router, '/runs?repo=octo/app&limit=3');
    expect(ids(first.body)).toEqual(['p-7', 'p-6', 'p-5']);
    expect(first.body).not.toContain('Newest runs');
    const second = await get(router, older(first.body)!);
    expect(ids(second.body)).toEqual(['p-4', 'p-3', 'p-2']);
    expect(second.body).toContain('Newest runs');
    const third = await get(router, older(second.body)!);
    expect(ids(third.body)).toEqual(['p-1']);
    expect(older(third.body)).toBeUndefined();

    // Unfiltered: every repository.
    const all = await get(router, '/runs?limit=100');
    expect(ids(all.body)).toEqual(['p-7', 'p-6', 'p-5', 'p-4', 'p-3', 'p-2', 'p-1', 'x-1']);
    expect(ids((await get(router, '/runs?repo=octo/other')).body)).toEqual(['x-1']);
    expect(ids((await get(router, '/runs?repo=octo/other&host=github.com')).body)).toEqual(['x-1']);
    expect(ids((await get(router, '/runs?repo=octo/other&host=gitea.example.org')).body)).toEqual([]);
    expect((await get(router, '/runs?repo=nobody/none')).body).toContain('No runs yet.');
    // The store's cursor on its own: strictly after the given run.
    expect(
      (await store.listRuns({ before: { createdAt: NOW + 5000, runId: 'p-5' }, limit: 2 })).map((r) => r.runId),
    ).toEqual(['p-4', 'p-3']);
  });

  it.each([
    ['/runs?before=yesterday', 400],
    ['/runs?limit=0', 400],
    ['/runs?limit=1000', 400],
    ['/runs?repo=no-slash', 400],
    ['/runs/nope', 404],
    ['/runs/nope/orders/build', 404],
    ['/runs/nope?page=0', 400],
  ])('%s → %i, as a page', async (target, status) => {
    const { router } = await dashboard();
    const res = await get(router, target);
    expect(res.status).toBe(status);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.body).toContain('<main id="main">');
  });

  it('sends / to the runs list', async () => {
    const { router } = await dashboard();
    expect(await get(router, '/')).toMatchObject({ status: 302, headers: { location: '/runs' } });
  });
});

describe('GET /runs/:run', () => {
  it('shows the header, the graph coloured and labelled by state, and the orders table', async () => {
    const { store, router, orchestrator, instant } = await dashboard();
    const runId = await startRun(orchestrator, diamond());
    await settle(store, runId, instant);
    const res = await get(router, `/runs/${runId}`);
    expect(res.status).toBe(200);
    const body = res.body;
    expect(body).toContain('<h1>ci <span class="state s-succeeded"');
    expect(body).toMatch(
      /<dt>Repository<\/dt><dd><a href="\/runs\?repo=octo%2Fapp&amp;host=github.com">octo\/app<\/a>/,
    );
    expect(body).toContain('<dt>Asked by</dt><dd>alice</dd>');
    expect(body).toContain('<dt>Orders</dt><dd id="run-summary">4 orders: 4 succeeded</dd>');
    // The graph: one node per order, each linked to its page, with its state in colour and in words.
    const nodes = [
      ...body.matchAll(
        /<a href="([^"]+)" aria-label="([^"]+)"><g class="node" data-node="([^"]+)" data-state="([^"]+)">/g,
      ),
    ];
    expect(nodes.map((m) => [m[1], m[4]])).toEqual([
      [`/runs/${runId}/orders/build`, 'succeeded'],
      [`/runs/${runId}/orders/test.1`, 'succeeded'],
      [`/runs/${runId}/orders/test.2`, 'succeeded'],
      [`/runs/${runId}/orders/report`, 'succeeded'],
    ]);
    expect(body.match(/✓ succeeded<\/text>/g)).toHaveLength(4);
    expect(body.match(/marker-end=/g)).toHaveLength(4);
    // The table: a row per order, with a log link for orders that ran.
    const rows = [...body.matchAll(/<tr data-order="([^"]+)" data-state="([^"]+)">/g)].map((m) => m[1]);
    expect(rows).toEqual(['build', 'test.1', 'test.2', 'report']);
    expect(body).toContain(`<a href="/runs/${runId}/orders/test.1/log">plain log</a>`);
    expect(body).not.toContain('data-refresh');
  });

  it('is live while orders run, and the fragment carries the graph and the table', async () => {
    const { router, orchestrator } = await dashboard();
    const runId = await startRun(
      orchestrator,
      plan([spec('build'), spec('hang', { needs: ['build'], needsOrders: ['build'] })]),
    );
    let live: Answer | undefined;
    await vi.waitFor(async () => {
      live = await get(router, `/runs/${runId}?part=live`);
      expect(live.body).toContain('data-node="order:hang" data-state="running"');
    }, WAIT);
    expect(live!.body.startsWith('<div id="live" data-refresh="2000"')).toBe(true);
    expect(live!.body).toContain('data-node="order:build" data-state="succeeded"');
    expect(live!.body).toContain('data-node="order:hang" data-state="running"');
    expect(live!.body).toContain('▶ running</text>');
    expect(live!.body).toContain('<dt>Duration</dt><dd>1m 05s so far</dd>');
    const page = await get(router, `/runs/${runId}`);
    expect(page.body).toContain('<noscript><meta http-equiv="refresh" content="4" /></noscript>');
  });

  it('groups matrix jobs in a large run, lists one job with ?job=, and pages the table', async () => {
    const { store, router } = await dashboard({ ordersPerPage: 50 });
    const cells = Array.from({ length: 120 }, (_, i) =>
      makeOrder('big', `test.${String(i + 1)}`, {
        job: 'test',
        seq: 1,
        needsOrders: ['build'],
        state: i < 3 ? 'failed' : 'succeeded',
      }),
    );
    await store.createRun(makeRun('big', { status: 'failed', orderCount: 121, finishedAt: NOW }), [
      makeOrder('big', 'build', { state: 'succeeded' }),
      ...cells,
    ]);
    const res = await get(router, '/runs/big');
    expect(res.body).toContain('Matrix jobs are drawn as one node each (1 job)');
    expect(res.body).toContain('<g class="node" data-node="job:test" data-state="failed">');
    expect(res.body).toContain('href="/runs/big?job=test#orders"');
    expect(res.body).toContain('test ×120');
    expect(res.body.match(/<tr data-order=/g)).toHaveLength(50);
    expect(res.body).toContain('Every order, in plan order, page 1 of 3');
    expect(res.body).toContain('href="/runs/big?page=2#orders" rel="next"');
    const job = await get(router, '/runs/big?job=test&page=3');
    expect(job.body).toContain('Orders of job test, page 3 of 3');
    expect(job.body.match(/<tr data-order=/g)).toHaveLength(20);
    expect(job.body).toContain('href="/runs/big?job=test&amp;page=2#orders" rel="prev"');
  });

  it('a 256-order run draws every node; a 5,000-order run is answered with the graph left out and the table paged', async () => {
    const { store, router } = await dashboard();
    const layered = (runId: string, n: number, width: number): OrderRecord[] =>
      Array.from({ length: n }, (_, i) => {
        const layer = Math.floor(i / width);
        const needs =
          layer === 0 ? [] : [`j${String(i - width)}`, `j${String(layer * width - width + ((i + 1) % width))}`];
        return makeOrder(runId, `j${String(i)}`, {
          seq: i,
          wave: layer,
          needsOrders: [...new Set(needs)],
          state: 'succeeded',
        });
      });
    await store.createRun(makeRun('r256', { status: 'succeeded', orderCount: 256 }), layered('r256', 256, 16));
    const r256 = await get(router, '/runs/r256');
    expect(r256.status).toBe(200);
    expect(r256.body.match(/<g class="node"/g)).toHaveLength(256);
    expect(r256.body.match(/<tr data-order=/g)).toHaveLength(256);

    await store.createRun(makeRun('r5000', { status: 'succeeded', orderCount: 5000 }), layered('r5000', 5000, 100));
    const r5000 = await get(router, '/runs/r5000');
    expect(r5000.status).toBe(200);
    expect(r5000.body).not.toContain('<svg');
    expect(r5000.body).toContain(
      'The graph is not shown: the graph is not drawn for more than 256 nodes (this run has 5000 jobs); the table lists every order.',
    );
    expect(r5000.body.match(/<tr data-order=/g)).toHaveLength(256);
    expect(r5000.body).toContain('Every order, in plan order, page 1 of 20');
  }, 120_000);

  it("answers the sticky comment's dashboard link (`<publicUrl>/runs/<encoded run id>`), whatever the id holds", async () => {
    const { store, router } = await dashboard();
    const runId = 'gh-1/ci.yml ü?#';
    await store.createRun(makeRun(runId, { status: 'succeeded' }), []);
    // src/forges/reporter/forge-reporter.ts: runUrl = `${publicUrl}/runs/${encodeURIComponent(runId)}`.
    const res = await get(router, `/runs/${encodeURIComponent(runId)}`);
    expect(res.status).toBe(200);
    expect(res.body).toContain('This run has no orders.');
  });
});

describe('GET /runs/:run/orders/:order', () => {
  it('shows the order, its needs and a log that tails the plain-text route', async () => {
    const { store, router, orchestrator, instant } = await dashboard();
    const runId = await startRun(orchestrator, diamond());
    await settle(store, runId, instant);
    const res = await get(router, `/runs/${runId}/orders/test.2`);
    expect(res.status).toBe(200);
    const body = res.body;
    expect(body).toContain('<h1>test (2) <span class="state s-succeeded"');
    expect(body).toContain('<dt>Matrix</dt><dd><code>shard</code>=2</dd>');
    expect(body).toContain(`<dt>Needs</dt><dd><a href="/runs/${runId}/orders/build">build</a> (succeeded)</dd>`);
    expect(body).toContain(`data-log-src="/runs/${runId}/orders/test.2/log"`);
    expect(body).toContain('data-final="true"');
    expect(body).not.toContain('data-refresh');
    // Without JavaScript, a frame shows the same live stream.
    expect(body).toContain(`<noscript><iframe class="log" src="/runs/${runId}/orders/test.2/log?attempt=1"`);
  });

  it("shows the job's environment on the order page and the run page, linked only to an http(s) URL", async () => {
    const { store, router } = await dashboard();
    await store.createRun(makeRun('envs', { status: 'succeeded', finishedAt: NOW }), [
      makeOrder('envs', 'deploy', {
        state: 'succeeded',
        environment: { name: 'production', url: 'https://app.example.com/' },
      }),
      makeOrder('envs', 'review', { seq: 1, state: 'succeeded', environment: { name: 'review' } }),
      makeOrder('envs', 'odd', {
        seq: 2,
        state: 'succeeded',
        environment: { name: 'odd', url: 'javascript:alert(1)' },
      }),
      makeOrder('envs', 'plain', { seq: 3, state: 'succeeded' }),
    ]);
    const deploy = (await get(router, '/runs/envs/orders/deploy')).body;
    expect(deploy).toContain(
      '<dt>Environment</dt><dd><a href="https://app.example.com/"><code>production</code></a></dd>',
    );
    expect((await get(router, '/runs/envs/orders/review')).body).toContain(
      '<dt>Environment</dt><dd><code>review</code></dd>',
    );
    const odd = (await get(router, '/runs/envs/orders/odd')).body;
    expect(odd).toContain(
      '<dt>Environment</dt><dd><code>odd</code><span class="note">(javascript:alert(1))</span></dd>',
    );
    expect(odd).not.toContain('href="javascript:');
    expect((await get(router, '/runs/envs/orders/plain')).body).not.toContain('<dt>Environment</dt>');
    const run = (await get(router, '/runs/envs')).body;
    expect(run).toContain(
      '<a href="/runs/envs/orders/deploy">deploy</a><span class="note">→ <a href="https://app.example.com/"><code>production</code></a></span>',
    );
    expect(run).toContain(
      '<a href="/runs/envs/orders/review">review</a><span class="note">→ <code>review</code></span>',
    );
    expect(run.match(/<span class="note">→ /g)).toHaveLength(3);
  });

  it('is live while the order runs', async () => {
    const { router, orchestrator } = await dashboard();
    const runId = await startRun(orchestrator, plan([spec('hang')]));
    let res: Answer | undefined;
    await vi.waitFor(async () => {
      res = await get(router, `/runs/${runId}/orders/hang?part=live`);
      expect(res.body).toContain('data-order-state="running"');
    }, WAIT);
    expect(res!.body).toMatch(
      /^<div id="live" data-refresh="2000" data-order-state="running" data-attempt="1" data-final="false">/,
    );
  });
});

describe('escaping', () => {
  it('renders hostile names, reasons, actors and refs as text on every page', async () => {
    const { store, router } = await dashboard();
    const evil = '<script>alert(1)</script>"\'><img src=x onerror=alert(2)>';
    await store.createRun(
      makeRun('evil', {
        workflowName: evil,
        actor: evil,
        ref: `refs/heads/${evil}`,
        file: `.spotcheck/workflows/${evil}.yml`,
        reason: evil,
        status: 'cancelled',
        finishedAt: NOW,
      }),
      [
        makeOrder('evil', 'build', { name: evil, reason: evil, state: 'failed', runner: evil, dispatchedAt: NOW }),
        makeOrder('evil', 'test', {
          name: `${evil} 2`,
          needsOrders: ['build'],
          state: 'skipped',
          matrix: { [evil]: evil },
        }),
      ],
    );
    for (const target of [
      '/runs',
      '/runs/evil',
      '/runs/evil/orders/build',
      '/runs/evil/orders/test',
      '/runs?repo=octo/app',
    ]) {
      const res = await get(router, target);
      expect(res.status).toBe(200);
      expect(scripts(res.body)).toBe(1); // the page's own
      expect(res.body).not.toContain('<img');
      expect(res.body).not.toContain('<script>alert');
      expect(res.body).toContain(
        '&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&gt;&lt;img src=x onerror=alert(2)&gt;',
      );
    }
  });
});

describe('badges', () => {
  it('shows the latest finished run on the default branch, per repository and per workflow', async () => {
    const { store, router, orchestrator, instant } = await dashboard();
    const none = await get(router, '/badge/octo/app.svg');
    expect(none.status).toBe(200);
    expect(none.headers).toMatchObject({ 'content-type': 'image/svg+xml; charset=utf-8', 'cache-control': 'no-cache' });
    expect(none.body).toContain('<title>spotcheck: unknown</title>');

    await settle(store, await startRun(orchestrator, diamond('ci')), instant);
    expect((await get(router, '/badge/octo/app.svg')).body).toContain('<title>spotcheck: passing</title>');
    await settle(store, await startRun(orchestrator, diamond('lint', 'bad')), instant);
    expect((await get(router, '/badge/octo/app.svg')).body).toContain('<title>spotcheck: failing</title>');
    expect((await get(router, '/badge/octo/app/ci.svg')).body).toContain('<title>ci: passing</title>');
    expect((await get(router, '/badge/octo/app/lint.svg')).body).toContain('<title>lint: failing</title>');
    expect((await get(router, '/badge/octo/app/deploy.svg')).body).toContain('<title>deploy: unknown</title>');
    expect((await get(router, '/badge/octo/app.svg?branch=release')).body).toContain('unknown');
    expect((await get(router, '/badge/OCTO/App.svg')).body).toContain('failing'); // names are case-insensitive

    await startRun(orchestrator, plan([spec('hang')], { workflowName: 'slow' }), { ref: 'refs/heads/release' });
    expect((await get(router, '/badge/octo/app.svg?branch=release')).body).toContain(
      '<title>spotcheck: running</title>',
    );
    expect((await get(router, '/badge/octo/app.png')).status).toBe(404);
    expect((await get(router, '/badge/octo/app/ci')).status).toBe(404);
    expect((await get(router, '/badge/octo/app.svg/ci.svg')).body).toContain('unknown'); // no repository app.svg
  });

  it('needs ?host= only when the store holds runs from several hosts', async () => {
    const { store, router } = await dashboard();
    await store.createRun(makeRun('h1', { status: 'succeeded' }), []);
    expect((await get(router, '/badge/octo/app.svg')).body).toContain('passing');
    const gitea: RepoRef = { forge: 'gitea', host: 'gitea.example.org', owner: 'octo', name: 'app' };
    await store.createRun(makeRun('h2', { repo: gitea, status: 'failed' }), []);
    const ambiguous = await get(router, '/badge/octo/app.svg');
    expect(ambiguous.status).toBe(400);
    expect(ambiguous.body).toContain('add ?host=');
    expect((await get(router, '/badge/octo/app.svg?host=github.com')).body).toContain('passing');
    expect((await get(router, '/badge/octo/app.svg?host=gitea.example.org')).body).toContain('failing');
  });
});
