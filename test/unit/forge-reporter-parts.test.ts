/**
 * The rules the forge reporter's parts carry, each without the others: retries and background work
 * (src/forges/reporter/forge-calls.ts), pending-before-final status writes and the wave mark (src/forges/reporter/order-statuses.ts), the sticky
 * comment's single-flight renders, eviction and clamping (src/forges/reporter/sticky-comments.ts). The forge is the in-memory
 * FakeForge; the store a two-method fake.
 */
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { COMMENT_MARKER } from '../../src/core/render/comment.ts';
import type { OrderRecord, RunRecord } from '../../src/core/types.ts';
import { ForgeError } from '../../src/errors.ts';
import { BackgroundTasks, forEachLimited, withForgeRetries } from '../../src/forges/reporter/forge-calls.ts';
import { OrderStatuses } from '../../src/forges/reporter/order-statuses.ts';
import { clampComment, StickyComments } from '../../src/forges/reporter/sticky-comments.ts';
import { makeOrder, makeRun, T0 } from '../helpers/records.ts';
import { FakeForge } from '../helpers/fake-forge.ts';

const silent = pino({ level: 'silent' });
const NO_PAUSE = { attempts: 3, retryDelayMs: 0 };

function retryable(): ForgeError {
  return new ForgeError('502', { retryable: true, status: 502 });
}

function fakeStore(runs: RunRecord[], orders: OrderRecord[]) {
  let reads = 0;
  const claims = new Set<string>();
  return {
    get reads() {
      return reads;
    },
    listRuns: () => {
      reads++;
      return Promise.resolve(runs);
    },
    listOrders: (runId: string) => Promise.resolve(orders.filter((o) => o.runId === runId)),
    // Claims as the store makes them: once per key until released (expiry is the store's concern).
    claim: (key: string) => Promise.resolve(claims.has(key) ? false : (claims.add(key), true)),
    release: (key: string) => Promise.resolve(void claims.delete(key)),
  };
}

describe('withForgeRetries', () => {
  it.each([
    ['two retryable failures then success: 3 calls', 2, retryable, 3, 'ok'],
    ['retryable failures past the attempts: 3 calls, then thrown', 5, retryable, 3, 'thrown'],
    [
      'a permanent failure: 1 call, thrown',
      1,
      () => new ForgeError('403', { retryable: false, status: 403 }),
      1,
      'thrown',
    ],
    ['a non-forge error: 1 call, thrown', 1, () => new TypeError('bug'), 1, 'thrown'],
  ] as const)('%s', async (_name, failures, error, calls, outcome) => {
    let n = 0;
    const result = withForgeRetries(() => {
      n++;
      return n <= failures ? Promise.reject(error()) : Promise.resolve('ok');
    }, NO_PAUSE);
    if (outcome === 'ok') await expect(result).resolves.toBe('ok');
    else await expect(result).rejects.toThrow();
    expect(n).toBe(calls);
  });
});

describe('BackgroundTasks and forEachLimited', () => {
  it('a failed task is logged once with its static message, never rejects, and idle waits for tasks started by tasks', async () => {
    const warnings: string[] = [];
    const log = { warn: (_: unknown, message: string) => warnings.push(message) } as unknown as typeof silent;
    const tasks = new BackgroundTasks();
    let inner = false;
    await tasks.run(log, 'outer failed', () => {
      void tasks.run(log, 'inner failed', async () => {
        await new Promise((resolve) => setImmediate(resolve));
        inner = true;
        throw new Error('boom');
      });
      return Promise.reject(new Error('outer'));
    });
    await tasks.idle();
    expect([inner, warnings]).toEqual([true, ['outer failed', 'inner failed']]);
  });

  it('keeps at most `limit` calls in flight and calls each item once', async () => {
    let inflight = 0;
    let most = 0;
    const seen: number[] = [];
    await forEachLimited([...Array(20).keys()], 3, async (i) => {
      inflight++;
      most = Math.max(most, inflight);
      await new Promise((resolve) => setImmediate(resolve));
      seen.push(i);
      inflight--;
    });
    expect([most, seen.sort((a, b) => a - b)]).toEqual([3, [...Array(20).keys()]]);
  });
});

describe('OrderStatuses', () => {
  function statuses(forge: FakeForge | undefined, orders: OrderRecord[]) {
    const tasks = new BackgroundTasks();
    const subject = new OrderStatuses({
      store: fakeStore([], orders),
      forgeFor: () => Promise.resolve(forge),
      logger: silent,
      now: () => T0,
      retry: NO_PAUSE,
      tasks,
      logUrl: (runId, orderId) => `https://ci.example.com/runs/${runId}/orders/${orderId}/log`,
    });
    return { subject, tasks };
  }

  it('writes pending once per run start and the final once per order, never a pending after a final', async () => {
    const forge = new FakeForge();
    const run = makeRun();
    const orders = [makeOrder('a'), makeOrder('b')];
    const { subject, tasks } = statuses(forge, orders);
    subject.runStarted(run);
    subject.runStarted(run);
    // The final write is asked for before the pending writes can have landed: it waits for them.
    expect(subject.orderFinished(run, { ...orders[0]!, state: 'succeeded' })).toBe(true);
    expect(subject.orderFinished(run, { ...orders[0]!, state: 'succeeded' })).toBe(false);
    await tasks.idle();
    expect(forge.statuses.map((s) => `${s.context}:${s.state}`)).toEqual([
      'spotcheck/ci/a:pending',
      'spotcheck/ci/b:pending',
      'spotcheck/ci/a:success',
    ]);
  });

  it('marks the first dispatch of each deeper wave only', () => {
    const { subject } = statuses(undefined, []);
    const run = makeRun();
    const waves = [0, 0, 1, 0, 2, 2, 1].map((wave, i) => subject.deeperWave(run, makeOrder(`o${i}`, { wave })));
    expect(waves).toEqual([true, false, true, false, true, false, false]);
  });
});

describe('StickyComments', () => {
  const run = makeRun({ pr: 7, event: 'pull_request' });

  function comments(store = fakeStore([run], [makeOrder('a')]), maxTracked?: number) {
    const tasks = new BackgroundTasks();
    const subject = new StickyComments({
      store,
      logger: silent,
      now: () => T0,
      retry: NO_PAUSE,
      tasks,
      runUrl: (runId) => `https://ci.example.com/runs/${runId}`,
      logUrl: (runId, orderId) => `https://ci.example.com/runs/${runId}/orders/${orderId}/log`,
      runsToScan: 100,
      ...(maxTracked === undefined ? {} : { maxTracked }),
    });
    return { subject, tasks, store };
  }

  it('coalesces triggers during a render into one follow-up render, and an unchanged text is not written', async () => {
    const forge = new FakeForge();
    const { subject, tasks, store } = comments();
    const entry = subject.track(run.repo, 7);
    entry.forge = forge;
    const release = forge.holdCommentWrites();
    const first = subject.schedule(entry);
    for (let i = 0; i < 5; i++) expect(subject.schedule(entry)).toBe(first);
    release();
    await tasks.idle();
    // One render in flight, one follow-up for the five triggers; the follow-up's text is the same: one write.
    expect([store.reads, forge.count('createComment'), forge.count('updateComment')]).toEqual([2, 1, 0]);
  });

  it('finds the comment again by marker and authorship when the one it knew was deleted', async () => {
    const forge = new FakeForge();
    const { subject, tasks } = comments();
    const entry = subject.track(run.repo, 7);
    entry.forge = forge;
    await subject.schedule(entry);
    forge.comments.delete(entry.commentId!);
    entry.notice = { line: 'something new', at: T0 };
    await subject.schedule(entry);
    await tasks.idle();
    expect(forge.commentsOn(run.repo, 7)).toHaveLength(1);
    expect(forge.count('createComment')).toBe(2);
  });

  it('evicts the least recently used idle entry past the limit, never one with a render in flight', async () => {
    const forge = new FakeForge();
    const { subject, tasks } = comments(undefined, 2);
    const busy = subject.track(run.repo, 1);
    busy.forge = forge;
    const release = forge.holdCommentWrites();
    void subject.schedule(busy);
    subject.track(run.repo, 2);
    subject.track(run.repo, 3);
    expect([1, 2, 3].map((pr) => subject.peek(run.repo, pr) !== undefined)).toEqual([true, false, true]);
    subject.track(run.repo, 2); // #1 is busy: #3, the oldest idle one, goes
    expect([1, 2, 3].map((pr) => subject.peek(run.repo, pr) !== undefined)).toEqual([true, true, false]);
    release();
    await tasks.idle();
  });

  it('clamps a text over the forge limit at a line break, keeping the marker', () => {
    const text = `${COMMENT_MARKER}\n${'line\n'.repeat(100)}`;
    const clamped = clampComment(text, 120);
    expect(clamped.length).toBeLessThanOrEqual(120);
    expect(clamped.startsWith(COMMENT_MARKER)).toBe(true);
    expect(clamped.endsWith('\n\n… truncated\n')).toBe(true);
    expect(clampComment(text, text.length)).toBe(text);
  });
});
