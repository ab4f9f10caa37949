import { describe, expect, it } from 'vitest';
import type { OrderRecord } from '../../src/core/types.ts';
import { BUILD_MARKERS } from '../../runners/codebuild-build.ts';
import { buildOwner, instanceOwner, verdictOf, type Execution } from '../../runners/janitor-verdict.ts';
import { makeOrder } from '../helpers/records.ts';

const NOW = Date.parse('2025-03-01T12:00:00Z');
const GRACE = 10 * 60_000;
const OWNER = { runId: 'r1', orderId: 'build', attempt: '2', expires: '2025-03-01T14:00:00Z' };

function judge(over: Partial<Execution>, order: OrderRecord | undefined | 'read fails'): Promise<string | undefined> {
  const execution: Execution = {
    id: 'i-0123456789abcdef0',
    kind: 'spot',
    owner: OWNER,
    startedAt: NOW - GRACE,
    ...over,
  };
  const readOrder = () =>
    order === 'read fails' ? Promise.reject(new Error('store unavailable')) : Promise.resolve(order);
  return verdictOf(execution, { now: NOW, graceMs: GRACE, readOrder });
}

const running = (over: Partial<OrderRecord> = {}): OrderRecord =>
  makeOrder('build', {
    runId: 'r1',
    state: 'running',
    attempt: 2,
    runner: 'spot',
    handle: 'i-0123456789abcdef0',
    ...over,
  });

describe('janitor verdict: what goes and what stays', () => {
  it.each([
    [
      'inside the grace period, even past its expiry',
      { startedAt: NOW - GRACE + 1, owner: { ...OWNER, expires: '2025-01-01T00:00:00Z' } },
      undefined,
    ],
    ['no start time', { startedAt: undefined }, undefined],
    [
      'past its expiry',
      { owner: { ...OWNER, expires: '2025-03-01T12:00:00Z' } },
      'past its expiry (2025-03-01T12:00:00Z)',
    ],
    ['no attempt tag', { owner: { ...OWNER, attempt: undefined } }, 'carries no run/order/attempt'],
    ['an unreadable expiry is ignored', { owner: { ...OWNER, expires: 'soon' } }, undefined],
  ] as const)('%s', async (_, over, expected) => {
    expect(await judge(over, running())).toBe(expected);
  });

  it.each([
    ['an unknown order', undefined, 'its order r1/build is unknown'],
    ['a finished order', running({ state: 'succeeded' }), 'its order is succeeded'],
    ['another attempt', running({ attempt: 3 }), 'its order is at attempt 3, not 2'],
    [
      'a duplicate: the order runs elsewhere',
      running({ handle: 'i-0fffffffffffffff0' }),
      'its order runs on i-0fffffffffffffff0',
    ],
    ['the order it runs', running(), undefined],
    ['a handle of another runner kind', running({ runner: 'codebuild', handle: 'p:x' }), undefined],
    ['no handle recorded yet', (({ handle: _, ...order }) => order)(running()), undefined],
  ] as const)('%s', async (_, order, expected) => {
    expect(await judge({}, order)).toBe(expected);
  });

  it('a failed read keeps the execution (unknown is not absent) and reports the error', async () => {
    const errors: unknown[] = [];
    const why = await verdictOf(
      { id: 'i-1', kind: 'spot', owner: OWNER, startedAt: 0 },
      { now: NOW, graceMs: GRACE, readOrder: () => Promise.reject(new Error('store unavailable')) },
      (error) => errors.push(error),
    );
    expect(why).toBeUndefined();
    expect(errors).toHaveLength(1);
    expect(await judge({}, 'read fails')).toBeUndefined();
  });
});

describe('janitor verdict: owners', () => {
  it('reads an instance owner from its prefixed tags', () => {
    const instance = {
      Tags: [
        { Key: 'sc:run', Value: 'r1' },
        { Key: 'sc:order', Value: 'build' },
        { Key: 'sc:attempt', Value: '2' },
        { Key: 'spotcheck:expires', Value: 'other prefix' },
      ],
    };
    expect(instanceOwner(instance, 'sc')).toEqual({ runId: 'r1', orderId: 'build', attempt: '2', expires: undefined });
  });

  it('reads a build owner from its markers; a build without a run marker is not ours', () => {
    const environment = (vars: { name: string; value: string }[]) => ({
      environment: {
        type: 'LINUX_CONTAINER' as const,
        image: 'i',
        computeType: 'BUILD_GENERAL1_SMALL' as const,
        environmentVariables: vars,
      },
    });
    expect(
      buildOwner(
        environment([
          { name: BUILD_MARKERS.run, value: 'r1' },
          { name: BUILD_MARKERS.attempt, value: '1' },
        ]),
      ),
    ).toEqual({
      runId: 'r1',
      orderId: undefined,
      attempt: '1',
      expires: undefined,
    });
    expect(buildOwner(environment([{ name: BUILD_MARKERS.order, value: 'build' }]))).toBeUndefined();
  });
});
