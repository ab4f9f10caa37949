import { describe, expect, it } from 'vitest';
import {
  jobResult,
  needsContext,
  runOutcome,
  concurrencyDecision,
  nextPendingRun,
  transition,
  triggersFailFast,
  type EngineEvent,
  type Transition,
} from '../../src/core/engine.ts';
import type { JobResult, OrderRecord, RunRecord } from '../../src/core/types.ts';
import { makeOrder, makeRun, type RunOverrides } from '../helpers/records.ts';

const NOW = 1_700_000_000_000;

function run(overrides: RunOverrides = {}): RunRecord {
  return makeRun({
    repo: { forge: 'local', host: 'local', owner: 'o', name: 'n' },
    actor: 'alice',
    orderCount: 3,
    createdAt: NOW - 1000,
    expiresAt: NOW + 1e9,
    ...overrides,
  });
}

function order(id: string, overrides: Partial<OrderRecord> = {}): OrderRecord {
  return makeOrder(id, { createdAt: NOW - 1000, ...overrides });
}

function done(id: string, result: JobResult, overrides: Partial<OrderRecord> = {}): OrderRecord {
  const state = { success: 'succeeded', failure: 'failed', cancelled: 'cancelled', skipped: 'skipped' } as const;
  return order(id, { state: state[result], result, finishedAt: NOW - 10, ...overrides });
}

function step(orders: OrderRecord[], event: EngineEvent, r: RunRecord = run()): Transition {
  return transition({ run: r, orders: new Map(orders.map((o) => [o.id, o])) }, event, NOW, { maxAttempts: 3 });
}

/** The one decision of a transition, asserting there is exactly one. */
function only(t: Transition) {
  expect(t.rejected).toBeUndefined();
  expect(t.decisions).toHaveLength(1);
  return t.decisions[0]!;
}

function effectTypes(t: Transition): string[] {
  return only(t).effects.map((e) => e.type);
}

describe('started', () => {
  it('dispatches exactly the roots', () => {
    const t = step([order('a'), order('b'), order('c', { needs: ['a'], needsOrders: ['a'], pendingNeeds: 1 })], {
      type: 'started',
    });
    expect(t.decisions.map((d) => [d.orderId, d.changes.state])).toEqual([
      ['a', 'dispatching'],
      ['b', 'dispatching'],
    ]);
    for (const d of t.decisions) {
      expect(d.expect.states).toEqual(['queued']);
      expect(d.effects.map((e) => e.type)).toEqual(['launch', 'notify']);
      expect(d.changes.dispatchedAt).toBe(NOW);
    }
  });
});

describe('ready: needs and if', () => {
  const needsBuild = { needs: ['build'], needsOrders: ['build'] };
  const cases: {
    name: string;
    need: JobResult;
    if?: string;
    outputs?: Record<string, string>;
    github?: Partial<RunRecord['github']>;
    state: string;
    reason?: RegExp;
  }[] = [
    { name: 'all needs succeeded, no if', need: 'success', state: 'dispatching' },
    { name: 'a need failed, no if', need: 'failure', state: 'skipped', reason: /needed job "build" failed/ },
    { name: 'a need was skipped, no if', need: 'skipped', state: 'skipped', reason: /"build" was skipped/ },
    { name: 'a need was cancelled, no if', need: 'cancelled', state: 'skipped', reason: /was cancelled/ },
    { name: 'failure() after a failed need', need: 'failure', if: 'failure()', state: 'dispatching' },
    { name: 'failure() after a successful need', need: 'success', if: 'failure()', state: 'skipped', reason: /if/ },
    { name: 'always() after a failed need', need: 'failure', if: 'always()', state: 'dispatching' },
    { name: '${{ always() }} wrapped', need: 'skipped', if: '${{ always() }}', state: 'dispatching' },
    { name: 'cancelled() after a cancelled need', need: 'cancelled', if: 'cancelled()', state: 'dispatching' },
    { name: '!cancelled() after a failed need', need: 'failure', if: '!cancelled()', state: 'dispatching' },
    {
      name: 'needs.X.result in if',
      need: 'failure',
      if: "always() && needs.build.result == 'failure'",
      state: 'dispatching',
    },
    {
      name: 'if false on github context',
      need: 'success',
      if: "github.event_name == 'testme'",
      state: 'skipped',
      reason: /if: github.event_name == 'testme' was false/,
    },
    { name: 'if true on github context', need: 'success', if: "github.ref == 'refs/heads/main'", state: 'dispatching' },
    {
      name: 'needs outputs in if',
      need: 'success',
      if: "needs.build.outputs.deploy == 'yes'",
      outputs: { deploy: 'yes' },
      state: 'dispatching',
    },
    { name: 'needs outputs mismatch', need: 'success', if: "needs.build.outputs.deploy == 'yes'", state: 'skipped' },
    { name: 'invalid if fails the order', need: 'success', if: 'github.ref ==', state: 'failed', reason: /invalid if/ },
  ];
  it.each(cases)('$name → $state', (c) => {
    const t = step(
      [
        done('build', c.need, { outputs: c.outputs ?? {} }),
        order('deploy', { ...needsBuild, ...(c.if === undefined ? {} : { if: c.if }) }),
      ],
      { type: 'ready', orderId: 'deploy' },
    );
    const d = only(t);
    expect(d.changes.state).toBe(c.state);
    if (c.reason) expect(d.changes.reason).toMatch(c.reason);
    if (c.state === 'dispatching') expect(d.effects.map((e) => e.type)).toContain('launch');
    else
      expect(d.effects).toContainEqual({ type: 'order-final', result: c.state === 'failed' ? 'failure' : 'skipped' });
  });

  it('a matrix need fails when any cell failed', () => {
    const t = step(
      [
        done('test.1', 'success', { job: 'test' }),
        done('test.2', 'failure', { job: 'test' }),
        order('report', {
          needs: ['test'],
          needsOrders: ['test.1', 'test.2'],
          if: "needs.test.result == 'failure' && always()",
        }),
      ],
      { type: 'ready', orderId: 'report' },
    );
    expect(only(t).changes.state).toBe('dispatching');
  });

  // A fails; B needs A and runs under always() (succeeds); C needs only B. GitHub: C's status looks at A too.
  const ancestorCases: {
    name: string;
    upstream?: OrderRecord['upstream'];
    if?: string;
    state: string;
    reason?: string;
  }[] = [
    {
      name: 'a failed grandparent skips under the default if',
      upstream: { job: 'a', result: 'failure' },
      state: 'skipped',
      reason: 'skipped: job "a", which a needed job depends on, failed',
    },
    {
      name: 'a failed grandparent makes failure() true',
      upstream: { job: 'a', result: 'failure' },
      if: 'failure()',
      state: 'dispatching',
    },
    {
      name: 'success() is false after a failed grandparent',
      upstream: { job: 'a', result: 'failure' },
      if: 'success()',
      state: 'skipped',
    },
    {
      name: 'a cancelled grandparent makes cancelled() true',
      upstream: { job: 'a', result: 'cancelled' },
      if: 'cancelled()',
      state: 'dispatching',
    },
    { name: 'no failed ancestor: failure() is false', if: 'failure()', state: 'skipped' },
    { name: 'no failed ancestor: the default if runs', state: 'dispatching' },
  ];
  it.each(ancestorCases)('ancestors: $name → $state', (c) => {
    const b = done('b', 'success', c.upstream === undefined ? {} : { upstream: c.upstream });
    const t = step([b, order('c', { needs: ['b'], needsOrders: ['b'], ...(c.if === undefined ? {} : { if: c.if }) })], {
      type: 'ready',
      orderId: 'c',
    });
    const d = only(t);
    expect(d.changes.state).toBe(c.state);
    // What C saw travels on to its own dependents.
    expect(d.changes.upstream).toEqual(c.upstream);
    if (c.reason !== undefined) expect(d.changes.reason).toBe(c.reason);
  });

  it.each([
    [{ result: 'failure' as const }, { job: 'b', result: 'failure' }],
    [
      { result: 'success' as const, upstream: { job: 'a', result: 'cancelled' as const } },
      { job: 'a', result: 'cancelled' },
    ],
    [
      { result: 'skipped' as const, upstream: { job: 'a', result: 'failure' as const } },
      { job: 'a', result: 'failure' },
    ],
    [{ result: 'success' as const }, undefined],
  ])('an order records the first failed ancestor it saw: need %j → %j', (need, expected) => {
    const { result, ...rest } = need;
    const t = step([done('b', result, rest), order('c', { needs: ['b'], needsOrders: ['b'], if: 'always()' })], {
      type: 'ready',
      orderId: 'c',
    });
    expect(only(t).changes.upstream).toEqual(expected);
  });

  it.each([
    ['the last non-empty value wins', [{ v: 'one' }, { v: 'two' }], { v: 'two' }],
    ['an empty value never overwrites', [{ v: 'one' }, { v: '' }], { v: 'one' }],
    ['an empty value alone stays empty', [{ v: '' }, {}], { v: '' }],
    ['outputs of different cells combine', [{ a: '1' }, { b: '2' }, { a: '' }], { a: '1', b: '2' }],
  ])('matrix outputs: %s', (_name, cells, expected) => {
    const orders = cells.map((outputs, i) => done(`m.${i + 1}`, 'success', { job: 'm', outputs }));
    const after = order('after', { needs: ['m'], needsOrders: orders.map((o) => o.id) });
    const lookup = new Map([...orders, after].map((o) => [o.id, o]));
    expect(needsContext(after, (id) => lookup.get(id)).m?.outputs).toEqual(expected);
  });

  it('refuses an order that still waits for needs or is not queued', () => {
    expect(step([order('x', { pendingNeeds: 1 })], { type: 'ready', orderId: 'x' }).rejected).toMatch(/waits/);
    expect(step([order('x', { state: 'running' })], { type: 'ready', orderId: 'x' }).rejected).toMatch(/running/);
  });
});

describe('runner reports', () => {
  const running = order('a', { state: 'running', handle: 'pid-1', runner: 'local', startedAt: NOW - 5000 });

  it('dispatched records the handle', () => {
    const d = only(
      step([order('a', { state: 'dispatching' })], {
        type: 'dispatched',
        orderId: 'a',
        attempt: 1,
        runner: 'local',
        handle: 'h',
      }),
    );
    expect(d.changes).toEqual({ runner: 'local', handle: 'h' });
    expect(d.expect).toEqual({ states: ['dispatching'], attempt: 1 });
  });

  it('running sets the deadline from timeout-minutes', () => {
    const d = only(step([order('a', { state: 'dispatching' })], { type: 'order-running', orderId: 'a', attempt: 1 }));
    expect(d.changes).toMatchObject({ state: 'running', startedAt: NOW, deadline: NOW + 10 * 60_000 });
  });

  const finishCases: {
    conclusion: 'success' | 'failure' | 'cancelled' | 'timed_out';
    continueOnError?: boolean;
    state: string;
    result: JobResult;
    reason?: RegExp;
  }[] = [
    { conclusion: 'success', state: 'succeeded', result: 'success' },
    { conclusion: 'failure', state: 'failed', result: 'failure', reason: /step "Test" failed \(exit code 2\)/ },
    { conclusion: 'failure', continueOnError: true, state: 'failed', result: 'success', reason: /continue-on-error/ },
    { conclusion: 'cancelled', state: 'cancelled', result: 'cancelled' },
    { conclusion: 'timed_out', state: 'timed_out', result: 'failure' },
  ];
  it.each(finishCases)('finished $conclusion (continue-on-error $continueOnError) → $state/$result', (c) => {
    const d = only(
      step([{ ...running, continueOnError: c.continueOnError ?? false }], {
        type: 'order-finished',
        orderId: 'a',
        attempt: 1,
        conclusion: c.conclusion,
        outputs: { v: '1' },
        stepResults: [
          { index: 0, name: 'Test', outcome: 'failure', conclusion: 'failure', exitCode: 2, durationMs: 5 },
        ],
      }),
    );
    expect(d.changes).toMatchObject({ state: c.state, result: c.result, finishedAt: NOW, outputs: { v: '1' } });
    if (c.reason) expect(d.changes.reason).toMatch(c.reason);
    expect(d.effects).toContainEqual({ type: 'order-final', result: c.result });
    expect(d.expect.attempt).toBe(1);
  });

  it('a success with a step failed under continue-on-error says so; a stale retry reason is cleared', () => {
    const d = only(
      step([{ ...running, reason: 'retrying (attempt 2 of 3): gone' }], {
        type: 'order-finished',
        orderId: 'a',
        attempt: 1,
        conclusion: 'success',
        outputs: {},
        stepResults: [
          { index: 1, name: 'Lint', outcome: 'failure', conclusion: 'success', exitCode: 3, durationMs: 1 },
        ],
      }),
    );
    expect(d.changes.reason).toBe('step "Lint" failed (continue-on-error)');
    const clean = only(
      step([{ ...running, reason: 'retrying (attempt 2 of 3): gone' }], {
        type: 'order-finished',
        orderId: 'a',
        attempt: 1,
        conclusion: 'success',
        outputs: {},
        stepResults: [],
      }),
    );
    expect('reason' in clean.changes && clean.changes.reason === undefined).toBe(true);
  });

  it('refuses a report from a superseded attempt', () => {
    const t = step([{ ...running, attempt: 2 }], {
      type: 'order-finished',
      orderId: 'a',
      attempt: 1,
      conclusion: 'success',
      outputs: {},
      stepResults: [],
    });
    expect(t.decisions).toEqual([]);
    expect(t.rejected).toMatch(/superseded/);
  });

  it.each(['succeeded', 'failed', 'cancelled', 'skipped', 'timed_out'] as const)(
    'nothing changes a %s order',
    (state) => {
      const t = step([{ ...running, state }], {
        type: 'order-finished',
        orderId: 'a',
        attempt: 1,
        conclusion: 'success',
        outputs: {},
        stepResults: [],
      });
      expect(t.decisions).toEqual([]);
      expect(t.rejected).toBeDefined();
    },
  );

  it('an interruption retries with a new attempt while attempts remain', () => {
    const d = only(step([running], { type: 'order-interrupted', orderId: 'a', attempt: 1, reason: 'spot reclaimed' }));
    expect(d.changes).toMatchObject({ state: 'dispatching', attempt: 2, handle: undefined });
    expect(d.changes.reason).toMatch(/attempt 2 of 3.*spot reclaimed/);
    expect(d.effects.map((e) => e.type)).toEqual(['launch', 'notify']);
  });

  it('the last interruption fails the order', () => {
    const d = only(
      step([{ ...running, attempt: 3 }], { type: 'order-interrupted', orderId: 'a', attempt: 3, reason: 'gone' }),
    );
    expect(d.changes).toMatchObject({ state: 'failed', result: 'failure' });
    expect(d.changes.reason).toMatch(/interrupted 3 times/);
  });

  it('a timeout terminates the execution and marks timed_out', () => {
    const t = step([running], { type: 'timeout', orderId: 'a', attempt: 1 });
    expect(effectTypes(t)).toEqual(['terminate', 'notify', 'order-final']);
    expect(only(t).effects[0]).toEqual({ type: 'terminate', handle: 'pid-1', runner: 'local', reason: 'timed out' });
    expect(only(t).changes).toMatchObject({ state: 'timed_out', result: 'failure' });
    expect(only(t).changes.reason).toMatch(/10 minutes/);
  });

  it('a failed launch fails the order with the reason', () => {
    const d = only(
      step([order('a', { state: 'dispatching' })], {
        type: 'launch-failed',
        orderId: 'a',
        attempt: 1,
        reason: 'no route for "gpu"',
      }),
    );
    expect(d.changes).toMatchObject({ state: 'failed', result: 'failure', reason: 'no route for "gpu"' });
  });

  it('a skip route skips the order', () => {
    const d = only(
      step([order('a', { state: 'dispatching' })], { type: 'route-skipped', orderId: 'a', attempt: 1, reason: 'host' }),
    );
    expect(d.changes).toMatchObject({ state: 'skipped', result: 'skipped' });
  });
});

describe('cancel and fail-fast', () => {
  it('cancel finishes every unfinished order and terminates live ones', () => {
    const t = step(
      [
        done('a', 'success'),
        order('b', { state: 'running', handle: 'h', runner: 'spot' }),
        order('c', { pendingNeeds: 1 }),
        order('d', { state: 'dispatching' }),
      ],
      { type: 'cancel', reason: 'PR closed' },
    );
    expect(t.decisions.map((d) => d.orderId)).toEqual(['b', 'c', 'd']);
    for (const d of t.decisions)
      expect(d.changes).toMatchObject({ state: 'cancelled', result: 'cancelled', reason: 'PR closed' });
    expect(t.decisions[0]!.effects[0]).toEqual({ type: 'terminate', handle: 'h', runner: 'spot', reason: 'PR closed' });
    expect(t.decisions[1]!.effects.map((e) => e.type)).toEqual(['notify', 'order-final']);
  });

  it('fail-fast cancels the failed cell’s unfinished siblings only', () => {
    const m = (n: number) => ({ job: 'test', matrix: { shard: n } });
    const t = step(
      [
        done('test.1', 'failure', m(1)),
        done('test.2', 'success', m(2)),
        order('test.3', { ...m(3), state: 'running', handle: 'h3', runner: 'local' }),
        order('test.4', m(4)),
        order('lint', { state: 'running' }),
      ],
      { type: 'fail-fast', failedOrderId: 'test.1' },
    );
    expect(t.decisions.map((d) => d.orderId)).toEqual(['test.3', 'test.4']);
    expect(t.decisions[0]!.changes.reason).toMatch(/fail-fast/);
  });

  const failFastCases: { name: string; o: Partial<OrderRecord>; expected: boolean }[] = [
    { name: 'failed matrix cell', o: { state: 'failed', matrix: { a: 1 } }, expected: true },
    { name: 'timed out matrix cell', o: { state: 'timed_out', matrix: { a: 1 } }, expected: true },
    { name: 'fail-fast: false', o: { state: 'failed', matrix: { a: 1 }, failFast: false }, expected: false },
    { name: 'not a matrix job', o: { state: 'failed' }, expected: false },
    { name: 'continue-on-error', o: { state: 'failed', matrix: { a: 1 }, continueOnError: true }, expected: false },
    { name: 'succeeded', o: { state: 'succeeded', matrix: { a: 1 } }, expected: false },
  ];
  it.each(failFastCases)('triggersFailFast: $name → $expected', (c) => {
    expect(triggersFailFast(order('x', c.o))).toBe(c.expected);
  });
});

describe('results', () => {
  it.each([
    [['success', 'success'], 'success'],
    [['success', 'failure'], 'failure'],
    [['cancelled', 'success'], 'cancelled'],
    [['failure', 'cancelled'], 'failure'],
    [['skipped', 'success'], 'success'],
    [['skipped'], 'skipped'],
    [[], 'skipped'],
  ] as [JobResult[], JobResult][])('jobResult(%j) = %s', (cells, expected) => {
    expect(jobResult(cells)).toBe(expected);
  });

  it.each([
    { orders: [done('a', 'success'), done('b', 'skipped')], cancelled: false, status: 'succeeded' },
    { orders: [done('a', 'success'), done('b', 'failure')], cancelled: false, status: 'failed' },
    { orders: [done('a', 'failure', { state: 'failed', result: 'success' })], cancelled: false, status: 'succeeded' },
    { orders: [done('a', 'success'), order('b', { state: 'running' })], cancelled: false, status: 'running' },
    { orders: [done('a', 'cancelled')], cancelled: false, status: 'cancelled' },
    { orders: [done('a', 'success'), done('b', 'cancelled')], cancelled: true, status: 'cancelled' },
  ])('runOutcome → $status', ({ orders, cancelled, status }) => {
    expect(runOutcome(orders, cancelled)).toBe(status);
  });

  describe('concurrency groups', () => {
    const newer = run({ runId: 'new', concurrencyGroup: 'g', createdAt: NOW, status: 'pending' });
    const running = run({ runId: 'old', concurrencyGroup: 'g', createdAt: NOW - 5 });
    const pending = run({ runId: 'waiting', concurrencyGroup: 'g', createdAt: NOW - 3, status: 'pending' });
    const unrelated = [
      run({ runId: 'other', concurrencyGroup: 'h', createdAt: NOW - 5 }),
      run({ runId: 'done', concurrencyGroup: 'g', status: 'succeeded', createdAt: NOW - 5 }),
      run({ runId: 'later', concurrencyGroup: 'g', createdAt: NOW + 5 }),
    ];
    const ids = (runs: readonly RunRecord[]) => runs.map((r) => r.runId);

    it('cancel-in-progress cancels the running and pending runs and starts', () => {
      const d = concurrencyDecision(newer, [running, pending, ...unrelated, newer], true);
      expect(d.start).toBe(true);
      expect(ids(d.cancel)).toEqual(['old', 'waiting']);
    });
    it('without cancel-in-progress it waits behind the running run and replaces the pending one', () => {
      const d = concurrencyDecision(newer, [running, pending, ...unrelated, newer], false);
      expect(d.start).toBe(false);
      expect(ids(d.cancel)).toEqual(['waiting']);
    });
    it('starts at once when nothing of the group runs', () => {
      expect(concurrencyDecision(newer, [...unrelated, newer], false)).toEqual({ start: true, cancel: [] });
    });
    it('no group: always starts', () => {
      const { concurrencyGroup: _g, ...plain } = newer;
      expect(concurrencyDecision(plain, [running], false)).toEqual({ start: true, cancel: [] });
    });
    it('nextPendingRun: the oldest pending once nothing runs', () => {
      expect(nextPendingRun([running, pending, newer])).toBeUndefined();
      expect(nextPendingRun([newer, pending])?.runId).toBe('waiting');
    });
  });
});

describe('job concurrency groups on ready orders', () => {
  const needA = { needs: ['a'], needsOrders: ['a'] };
  const a = done('a', 'success', { outputs: { env: 'Prod' } });
  const ready = (o: OrderRecord, ...needs: OrderRecord[]) =>
    only(step([o, ...needs], { type: 'ready', orderId: o.id }));

  it.each([
    { name: 'a plan-time group as planned', group: 'deploy-main', want: 'deploy-main' },
    { name: 'a group reading needs, evaluated now', group: 'deploy-${{ needs.a.outputs.env }}', want: 'deploy-Prod' },
    { name: 'a group reading the matrix', group: 'shard-${{ matrix.shard }}', want: 'shard-2' },
  ])('the dispatch asks its group first: $name', ({ group, want }) => {
    const decision = ready(
      order('b', { ...needA, matrix: { shard: 2 }, concurrency: { group, cancelInProgress: true }, reason: 'waiting' }),
      a,
    );
    expect(decision.changes.state).toBe('dispatching');
    expect(decision.group).toEqual({ name: want, cancelInProgress: true });
    // Stored as evaluated (the order's end releases the group by it), the waiting reason cleared.
    expect(decision.changes.concurrency).toEqual({ group: want, cancelInProgress: true });
    expect('reason' in decision.changes && decision.changes.reason === undefined).toBe(true);
  });

  it.each([
    { cancel: "${{ needs.a.outputs.env == 'prod' }}", want: true },
    { cancel: '${{ matrix.shard != 2 }}', want: false },
    { cancel: '${{ needs.a.outputs.nope }}', want: false },
  ])('cancel-in-progress as an expression is evaluated with the group: $cancel', ({ cancel, want }) => {
    const decision = ready(
      order('b', { ...needA, matrix: { shard: 2 }, concurrency: { group: 'g', cancelInProgress: cancel } }),
      a,
    );
    expect(decision.group).toEqual({ name: 'g', cancelInProgress: want });
    expect(decision.changes.concurrency).toEqual({ group: 'g', cancelInProgress: want });
  });

  it('an order without a group dispatches as before', () => {
    const decision = ready(order('b', needA), a);
    expect(decision.group).toBeUndefined();
    expect('concurrency' in decision.changes).toBe(false);
  });

  it.each([
    { group: '${{ needs.a.outputs.nope }}', reason: "concurrency.group '${{ needs.a.outputs.nope }}' evaluated to ''" },
    { group: '${{ fromJSON(needs.a.outputs.env) }}', reason: /^invalid concurrency.group: / },
    {
      group: `${'é'.repeat(200)}\${{ needs.a.outputs.env }}`,
      reason: /is 404 bytes once evaluated; spotcheck allows at most 400$/,
    },
  ])('a group that does not evaluate fails the order: $group', ({ group, reason }) => {
    const decision = ready(order('b', { ...needA, concurrency: { group, cancelInProgress: false } }), a);
    expect(decision.changes.state).toBe('failed');
    expect(decision.changes.reason).toMatch(reason);
    expect(decision.group).toBeUndefined();
  });

  it("a calling job's group reads the calling job's needs and matrix (its gate), not the callee job's", () => {
    const callee = order('call.2.build', {
      job: 'call.2.build',
      scope: 'call.2',
      needsOrders: ['a'],
      matrix: { os: 'callee' },
      concurrency: { group: '${{ needs.a.outputs.env }}-${{ matrix.os }}', cancelInProgress: false },
      concurrencyUnit: 'call.2',
      gates: [{ caller: 'call.2', needs: ['a'], matrix: { os: 'linux' } }],
    });
    expect(ready(callee, a).group).toEqual({ name: 'Prod-linux', cancelInProgress: false });
  });

  it('a skipped order never asks its group', () => {
    const decision = ready(
      order('b', { ...needA, if: 'false', concurrency: { group: 'g', cancelInProgress: false } }),
      a,
    );
    expect(decision.changes.state).toBe('skipped');
    expect(decision.group).toBeUndefined();
  });
});
