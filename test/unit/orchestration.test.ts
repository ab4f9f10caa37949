import { describe, expect, it } from 'vitest';
import {
  capacityCounters,
  executionEvent,
  finishCheck,
  graphDepths,
  launchRoute,
  newRunRecords,
  reportEvent,
  waitingToPull,
  watchAction,
  type ExecutionStatusLike,
  type ReportLike,
  type WatchAction,
} from '../../src/core/orchestration.ts';
import type { OrderRecord } from '../../src/core/types.ts';
import { makeGithubContext, makeOrder, makeSpec, SHA, T0 } from '../helpers/records.ts';

const NOW = T0;

describe('newRunRecords', () => {
  const input = (
    orders = [makeSpec('a'), makeSpec('b', { needs: ['a'], needsOrders: ['a'] })],
    concurrency = false,
  ) => ({
    runId: 'r1',
    repo: { forge: 'github' as const, host: 'github.com', owner: 'octo', name: 'app' },
    plan: {
      file: '.spotcheck/workflows/ci.yml',
      workflowName: 'ci',
      orders,
      ...(concurrency ? { concurrency: { group: 'g', cancelInProgress: true } } : {}),
    },
    event: 'push' as const,
    ref: 'refs/heads/main',
    sha: SHA,
    actor: 'octocat',
    github: makeGithubContext({ run_id: 'ignored' }),
  });

  it.each([
    ['orders, no concurrency group', input(), 'running', undefined],
    ['a concurrency group', input(undefined, true), 'pending', undefined],
    ['no orders: over at once', input([]), 'succeeded', NOW],
  ] as const)('starts a run with %s as %s', (_, given, status, finishedAt) => {
    const { run } = newRunRecords(given, NOW, 7);
    expect(run.status).toBe(status);
    expect(run.finishedAt).toBe(finishedAt);
    expect(run.expiresAt).toBe(NOW + 7 * 86_400_000);
    expect(run.github.run_id).toBe('r1');
    expect(run.orderCount).toBe(given.plan.orders.length);
  });

  it('queues every order at attempt 1 with its pending needs, dependents and wave', () => {
    const { orders } = newRunRecords(input(), NOW, 7);
    expect(orders.map((o) => [o.id, o.seq, o.wave, o.state, o.attempt, o.pendingNeeds, o.dependents])).toEqual([
      ['a', 0, 0, 'queued', 1, 0, ['b']],
      ['b', 1, 1, 'queued', 1, 1, []],
    ]);
  });
});

describe('graphDepths', () => {
  const spec = (id: string, needs: string[] = []) => makeSpec(id, { needs, needsOrders: needs });
  it.each([
    ['a chain', [spec('c', ['b']), spec('b', ['a']), spec('a')], { a: 0, b: 1, c: 2 }],
    ['a diamond', [spec('a'), spec('b', ['a']), spec('c', ['a']), spec('d', ['b', 'c'])], { a: 0, b: 1, c: 1, d: 2 }],
    ['a need outside the plan', [spec('a', ['gone'])], { a: 1 }],
    ['a cycle (never loops)', [spec('a', ['b']), spec('b', ['a'])], { a: 2, b: 1 }],
  ])('gives %s its depths', (_, orders, depths) => {
    expect(Object.fromEntries(graphDepths({ orders }))).toEqual(depths);
  });
});

describe('reportEvent', () => {
  const ref = { orderId: 'a', attempt: 2 };
  it.each<[ReportLike, ReturnType<typeof reportEvent>]>([
    [{ type: 'log' }, undefined],
    [{ type: 'step' }, undefined],
    [{ type: 'running' }, { type: 'order-running', orderId: 'a', attempt: 2 }],
    [
      { type: 'interrupted', reason: 'spot reclaim' },
      { type: 'order-interrupted', orderId: 'a', attempt: 2, reason: 'spot reclaim' },
    ],
    [
      { type: 'finished', conclusion: 'success', outputs: { x: '1' }, stepResults: [] },
      { type: 'order-finished', orderId: 'a', attempt: 2, conclusion: 'success', outputs: { x: '1' }, stepResults: [] },
    ],
    [
      { type: 'finished', conclusion: 'failure', outputs: {}, stepResults: [], reason: 'exit 1' },
      {
        type: 'order-finished',
        orderId: 'a',
        attempt: 2,
        conclusion: 'failure',
        outputs: {},
        stepResults: [],
        reason: 'exit 1',
      },
    ],
  ])('reads %j', (report, event) => {
    expect(reportEvent(ref, report)).toEqual(event);
  });
});

describe('executionEvent', () => {
  const order = { id: 'a', attempt: 1 };
  it.each<[string, ExecutionStatusLike, object | undefined]>([
    ['alive: nothing', { alive: true, interrupted: false, reason: '' }, undefined],
    [
      'taken back: interrupted',
      { alive: false, interrupted: true, reason: 'reclaimed' },
      { type: 'order-interrupted', reason: 'reclaimed' },
    ],
    [
      'gone with a known result: that result',
      { alive: false, interrupted: false, reason: 'build b1 ended', conclusion: 'success' },
      {
        type: 'order-finished',
        conclusion: 'success',
        reason: "build b1 ended (result from codebuild: the agent's report was lost)",
      },
    ],
    [
      'gone otherwise: failed',
      { alive: false, interrupted: false, reason: 'build b1 vanished' },
      { type: 'order-finished', conclusion: 'failure', reason: 'build b1 vanished before the agent reported' },
    ],
  ])('%s', (_, status, event) => {
    const got = executionEvent(order, status, 'codebuild');
    if (event === undefined) expect(got).toBeUndefined();
    else expect(got).toMatchObject({ orderId: 'a', attempt: 1, ...event });
  });
});

describe('watchAction', () => {
  const at = (overrides: Partial<OrderRecord>) => makeOrder('a', overrides);
  it.each<[string, OrderRecord, WatchAction]>([
    [
      'running past its deadline',
      at({ state: 'running', deadline: NOW, handle: 'h', runner: 'spot' }),
      { type: 'timeout' },
    ],
    [
      'running before its deadline',
      at({ state: 'running', deadline: NOW + 1, handle: 'h', runner: 'spot' }),
      { type: 'inspect', handle: 'h', runner: 'spot' },
    ],
    [
      'dispatching without a handle, long enough',
      at({ state: 'dispatching', dispatchedAt: NOW - 60_000 }),
      { type: 'redrive' },
    ],
    [
      'dispatching without a handle, just now',
      at({ state: 'dispatching', dispatchedAt: NOW - 59_999 }),
      { type: 'none' },
    ],
    [
      'dispatching with a handle',
      at({ state: 'dispatching', dispatchedAt: NOW - 60_000, handle: 'h', runner: 'local' }),
      { type: 'inspect', handle: 'h', runner: 'local' },
    ],
    ['queued', at({ state: 'queued' }), { type: 'none' }],
    [
      'an expanded matrix whose cells were not all written (a crash), long enough',
      at({ state: 'running', cells: 3, startedAt: NOW - 60_000 }),
      { type: 'write-cells' },
    ],
    [
      'an expanded matrix whose cells are being written just now',
      at({ state: 'running', cells: 3, startedAt: NOW - 59_999 }),
      { type: 'none' },
    ],
    [
      'an expanded matrix whose cells are all written',
      at({ state: 'running', cells: 3, cellsWritten: true, startedAt: NOW - 600_000 }),
      { type: 'none' },
    ],
  ])('%s', (_, order, action) => {
    expect(watchAction(order, NOW, 60_000)).toEqual(action);
  });

  it.each([
    [NOW - 3_599_999, 'counter'],
    [NOW - 3_600_000, 'recount'],
  ] as const)('checks a run created at %d by %s', (createdAt, check) => {
    expect(finishCheck({ createdAt }, NOW)).toBe(check);
  });
});

describe('launchRoute', () => {
  const routes = new Map([
    ['go', { label: 'go', runner: 'spot' }],
    ['elsewhere', { label: 'elsewhere', runner: 'skip' }],
    ['ci', { label: 'ci', runner: 'local' }],
  ]);
  const enabled = (runner: string) => runner === 'local';
  it.each([
    ['ci', { route: routes.get('ci') }],
    [
      'go',
      { event: { type: 'launch-failed', reason: 'the "spot" runner is not enabled on this server (runs-on: go)' } },
    ],
    [
      'elsewhere',
      {
        event: {
          type: 'route-skipped',
          reason: 'skipped: label "elsewhere" is served by another runner (route: skip)',
        },
      },
    ],
  ])('runs-on %s', (runsOn, expected) => {
    expect(launchRoute(makeOrder('a', { runsOn }), routes, enabled)).toMatchObject(expected);
  });

  it('names the known labels and the fix for an unknown label', () => {
    const got = launchRoute(makeOrder('a', { runsOn: 'gpu', attempt: 2 }), routes, enabled);
    expect(got).toMatchObject({ event: { type: 'launch-failed', orderId: 'a', attempt: 2 } });
    const reason = 'event' in got && 'reason' in got.event ? got.event.reason : '';
    expect(reason).toMatch(
      /^spotcheck has no route for runs-on label "gpu"; routes serve: .*ci.*elsewhere.*go.*; add one to the operator config \(spotcheck\.yml\):\nroutes:\n {2}gpu: /,
    );
  });
});

describe('capacity', () => {
  it.each([
    [undefined, [['inflight', 10]]],
    [
      2,
      [
        ['inflight', 10],
        ['run#r1#job#build#inflight', 2],
      ],
    ],
  ])('an order with max-parallel %s holds %j', (maxParallel, counters) => {
    const order = { runId: 'r1', job: 'build', ...(maxParallel === undefined ? {} : { maxParallel }) };
    expect(capacityCounters(order, 10)).toEqual(counters);
  });

  it.each([
    [10, 3, 7],
    [10, 10, 0],
    [10, 12, 0],
  ])('with a cap of %d and %d in flight, pulls %d waiting orders', (max, inflight, pulled) => {
    expect(waitingToPull(max, inflight)).toBe(pulled);
  });
});
