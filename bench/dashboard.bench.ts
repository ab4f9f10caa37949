/**
 * Dashboard render time (issue 7, item 8): the run page of a 256-order run — HTML, the order graph laid out by dagre
 * and drawn as SVG — first render (layout computed) and a live refresh (layout kept, states redrawn), the runs list
 * with 100 runs, and a 5,000-order run (graph left out, table paged). Measured through the routes, with the store
 * an in-memory stand-in, so the numbers are spotcheck's rendering alone, not store round trips.
 */
import { performance } from 'node:perf_hooks';
import pino from 'pino';
import type { OrderRecord, OrderState, RunRecord } from '../src/core/types.ts';
import {
  DEFAULT_REFRESH_MS,
  createDashboardRoutes,
  type DashboardOptions,
} from '../src/server/dashboard/dashboard-routes.ts';
import { createRouter, type Router } from '../src/server/router.ts';
import { makeOrder } from '../test/helpers/records.ts';
import { formatNumber, median, renderTable, type BenchSection } from './bench-report.ts';
import type { BenchContext, Benchmark } from './benchmark.ts';
import { openVisibility } from '../src/server/auth/visibility.ts';

/** Renders per case; the median is reported. */
const REPEATS = 7;
const T0 = Date.UTC(2026, 0, 1);
const STATES: readonly OrderState[] = ['succeeded', 'succeeded', 'running', 'queued', 'failed', 'skipped'];

function run(runId: string, i = 0): RunRecord {
  return {
    runId,
    repo: { forge: 'github', host: 'github.com', owner: 'octo', name: `app${String(i % 5)}` },
    file: '.spotcheck/workflows/ci.yml',
    workflowName: `ci-${String(i % 3)}`,
    event: i % 2 === 0 ? 'push' : 'pull_request',
    ref: i % 2 === 0 ? 'refs/heads/main' : 'refs/pull/7/head',
    sha: '3f2a9c1e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a39',
    ...(i % 2 === 0 ? {} : { pr: 7 }),
    actor: 'octocat',
    github: { server_url: 'https://github.com' } as RunRecord['github'],
    status: i % 4 === 0 ? 'running' : 'succeeded',
    orderCount: 0,
    createdAt: T0 + i * 1000,
    expiresAt: Number.MAX_SAFE_INTEGER,
  };
}

function order(runId: string, i: number, over: Partial<OrderRecord>): OrderRecord {
  const state = STATES[i % STATES.length]!;
  return makeOrder(`o${String(i)}`, {
    runId,
    seq: i,
    name: `order ${String(i)}`,
    state,
    runner: 'local',
    createdAt: T0,
    ...(state === 'queued' ? {} : { dispatchedAt: T0, startedAt: T0 + 1000 }),
    ...(state === 'succeeded' || state === 'failed' ? { finishedAt: T0 + 61_000 } : {}),
    ...(state === 'failed' ? { reason: 'step "make test" failed (exit code 2)' } : {}),
    ...over,
  });
}

/** `n` orders in layers of `width`, each needing 3 of the layer before: the engine benchmark's shape. */
function layered(runId: string, n: number, width: number): OrderRecord[] {
  return Array.from({ length: n }, (_, i) => {
    const layer = Math.floor(i / width);
    const base = (layer - 1) * width;
    const needs = layer === 0 ? [] : [...new Set([0, 1, 2].map((k) => `o${String(base + ((i + k) % width))}`))];
    return order(runId, i, { wave: layer, needsOrders: needs, needs });
  });
}

/** build → test (a matrix of n − 2 cells) → report. */
function matrix(runId: string, n: number): OrderRecord[] {
  const cells = Array.from({ length: n - 2 }, (_, i) =>
    order(runId, i + 1, {
      id: `test.${String(i + 1)}`,
      job: 'test',
      name: `test (${String(i + 1)})`,
      needsOrders: ['o0'],
    }),
  );
  return [
    order(runId, 0, { state: 'succeeded' }),
    ...cells,
    order(runId, n - 1, { job: 'report', needsOrders: cells.map((c) => c.id), state: 'queued' }),
  ];
}

function memoryStore(
  runs: readonly RunRecord[],
  orders: ReadonlyMap<string, readonly OrderRecord[]>,
): DashboardOptions['store'] {
  const newestFirst = [...runs].sort((a, b) => b.createdAt - a.createdAt);
  return {
    getRun: (id) => Promise.resolve(runs.find((r) => r.runId === id)),
    getOrder: (id, orderId) => Promise.resolve(orders.get(id)?.find((o) => o.id === orderId)),
    getOrders: (id, ids) => Promise.resolve((orders.get(id) ?? []).filter((o) => ids.includes(o.id))),
    listOrders: (id) => Promise.resolve([...(orders.get(id) ?? [])]),
    listRuns: (q) => Promise.resolve(newestFirst.slice(0, q.limit ?? 50)),
    getDoc: () => Promise.resolve(undefined),
  };
}

const logger = pino({ level: 'silent' });

async function render(router: Router, target: string): Promise<{ ms: number; bytes: number }> {
  const url = new URL(target, 'http://bench');
  const started = performance.now();
  const res = await router.handle({
    method: 'GET',
    path: url.pathname,
    query: url.searchParams,
    headers: {},
    signal: new AbortController().signal,
    log: logger,
    readBody: () => Promise.resolve(Buffer.alloc(0)),
  });
  const ms = performance.now() - started;
  if (res.status !== 200 || typeof res.body !== 'string') throw new Error(`${target} answered ${String(res.status)}`);
  return { ms, bytes: Buffer.byteLength(res.body) };
}

interface Row {
  readonly label: string;
  readonly ms: number;
  readonly minMs: number;
  readonly maxMs: number;
  readonly bytes: number;
}

export const dashboardBenchmark: Benchmark = {
  name: 'dashboard',
  async run(context: BenchContext): Promise<BenchSection> {
    const runs = [
      run('r256'),
      run('m256'),
      run('r5000'),
      ...Array.from({ length: 100 }, (_, i) => run(`list-${String(i)}`, i)),
    ];
    const orders = new Map<string, OrderRecord[]>([
      ['r256', layered('r256', 256, 16)],
      ['m256', matrix('m256', 256)],
      ['r5000', layered('r5000', 5000, 100)],
    ]);
    const store = memoryStore(runs, orders);
    const fresh = (): Router =>
      createRouter(createDashboardRoutes({ store, visibility: openVisibility(), now: () => T0 + 120_000 }));

    const cases: { label: string; target: string; cold: boolean }[] = [
      {
        label: 'run page, 256 orders (16 layers of 16, fan-in 3): first render, layout computed',
        target: '/runs/r256',
        cold: true,
      },
      { label: 'run page, 256 orders: live refresh (layout kept)', target: '/runs/r256?part=live', cold: false },
      { label: 'run page, 256-cell matrix (grouped into one node)', target: '/runs/m256', cold: true },
      { label: 'run page, 5,000 orders (graph left out, 256 rows)', target: '/runs/r5000', cold: true },
      { label: 'runs list, 100 runs', target: '/runs?limit=100', cold: true },
    ];
    const rows: Row[] = [];
    for (const c of cases) {
      const warm = fresh();
      await render(warm, c.target); // JIT, and the layout for the warm case
      const samples: number[] = [];
      let bytes = 0;
      for (let i = 0; i < REPEATS; i++) {
        const rendered = await render(c.cold ? fresh() : warm, c.target);
        samples.push(rendered.ms);
        bytes = rendered.bytes;
      }
      const row = {
        label: c.label,
        ms: median(samples),
        minMs: Math.min(...samples),
        maxMs: Math.max(...samples),
        bytes,
      };
      context.log(`dashboard: ${c.label}: ${formatNumber(row.ms, 1)} ms`);
      rows.push(row);
    }

    // A live page asks again every DEFAULT_REFRESH_MS; a refresh that takes longer would pile up.
    const failures: string[] = [];
    const refresh = rows[1]!;
    if (refresh.ms >= DEFAULT_REFRESH_MS)
      failures.push(
        `a 256-order live refresh takes ${formatNumber(refresh.ms)} ms, not under the ${String(DEFAULT_REFRESH_MS)} ms refresh interval`,
      );
    const markdown = [
      `Median of ${String(REPEATS)} renders through the routes (store in memory: rendering only). "First render" builds a new router each time, so the dagre layout is computed every time; a live refresh reuses the layout kept for the run and redraws states.`,
      '',
      renderTable(
        [
          { header: 'page' },
          { header: 'median ms', align: 'right' },
          { header: 'min–max ms', align: 'right' },
          { header: 'HTML KiB', align: 'right' },
        ],
        rows.map((r) => [
          r.label,
          formatNumber(r.ms, 1),
          `${formatNumber(r.minMs, 1)}–${formatNumber(r.maxMs, 1)}`,
          formatNumber(r.bytes / 1024, 0),
        ]),
      ),
      '',
      `Criterion: a 256-order live refresh renders in less than the refresh interval (${String(DEFAULT_REFRESH_MS)} ms): ${failures.length === 0 ? 'held' : 'FAILED'}.`,
    ].join('\n');
    return { title: 'Dashboard render time', markdown, failures };
  },
};
