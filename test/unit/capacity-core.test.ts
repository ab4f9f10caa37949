/** src/core/capacity.ts: capacity mode's pure decisions, table-driven with a fixed clock. */
import { describe, expect, it } from 'vitest';
import {
  findServingRunner,
  isOrphan,
  judgeRunner,
  slotEndsWith,
  type RunnerView,
  type SweepDecision,
} from '../../src/core/capacity.ts';

const MIN = 60_000;
const T = 1_000 * MIN;
const limits = { now: T, graceMs: 10 * MIN, checkEveryMs: 5 * MIN };
const runner = (over: Partial<RunnerView> = {}): RunnerView => ({
  state: 'idle',
  launchedAt: T - 15 * MIN,
  idleMs: 20 * MIN,
  hasInstance: true,
  ...over,
});

describe('judgeRunner', () => {
  it.each<[string, RunnerView, Parameters<typeof judgeRunner>[1], SweepDecision]>([
    [
      'a launch without an instance, booting',
      runner({ state: 'launching', launchedAt: T - MIN }),
      { name: 'r' },
      { kind: 'wait' },
    ],
    ['a launch without an instance, past grace', runner({ state: 'launching' }), { name: 'r' }, { kind: 'forget' }],
    [
      'an instance that is gone',
      runner(),
      { name: 'r', alive: false },
      { kind: 'finish', reason: 'its instance is gone' },
    ],
    [
      'a busy runner whose job completed (webhook lost)',
      runner({ state: 'busy', jobId: 4 }),
      { name: 'r', alive: true, job: { status: 'completed', runnerName: 'r' } },
      { kind: 'finish', reason: 'its job completed (webhook lost)' },
    ],
    [
      'an idle runner whose job another runner completed',
      runner({ jobId: 4 }),
      { name: 'r', alive: true, job: { status: 'completed', runnerName: 'other' } },
      { kind: 'finish', reason: 'its job completed (webhook lost)' },
    ],
    [
      'its job runs on it (webhook lost)',
      runner({ jobId: 4 }),
      { name: 'r', alive: true, job: { status: 'in_progress', runnerName: 'r' } },
      { kind: 'busy', due: T + 5 * MIN },
    ],
    [
      'idle past its limit',
      runner({ launchedAt: T - 20 * MIN }),
      { name: 'r', alive: true },
      { kind: 'finish', reason: 'idle limit: it never picked up a job' },
    ],
    ['idle within its limit', runner(), { name: 'r', alive: true }, { kind: 'reschedule', due: T + 5 * MIN }],
    [
      'an idle limit below the grace counts as the grace',
      runner({ launchedAt: T - 5 * MIN, idleMs: MIN }),
      { name: 'r', alive: true },
      { kind: 'reschedule', due: T + 5 * MIN },
    ],
    [
      'busy, its job still running elsewhere in the forge',
      runner({ state: 'busy', jobId: 4 }),
      { name: 'r', alive: true, job: { status: 'in_progress', runnerName: 'other' } },
      { kind: 'reschedule', due: T + 5 * MIN },
    ],
  ])('%s', (_name, view, facts, expected) => {
    expect(judgeRunner(view, facts, limits)).toEqual(expected);
  });
});

describe('isOrphan', () => {
  it.each([
    ['booting, no document', T - MIN, undefined, false],
    ['past grace, no document', T - 11 * MIN, undefined, true],
    ['past grace, its document names it', T - 11 * MIN, 'i-1', false],
    ['past grace, its document names another instance', T - 11 * MIN, 'i-2', true],
  ] as const)('%s → %s', (_name, launchedAt, recorded, expected) => {
    expect(isOrphan({ instanceId: 'i-1', launchedAt }, recorded, limits)).toBe(expected);
  });
});

describe('findServingRunner', () => {
  const unbound = [{ labels: ['gpu'] }, { labels: ['GPU', 'Linux'] }];
  it.each([
    [['gpu'], 0],
    [['linux', 'gpu'], 1],
    [['gpu', 'arm64'], -1],
    [[], 0],
  ])('%j → %i', (labels, index) => {
    expect(findServingRunner(labels, unbound)).toBe(index);
  });
});

describe('slotEndsWith', () => {
  it.each([
    ['no runner was launched for it', undefined, false],
    ['its runner is idle', { state: 'idle' }, true],
    ['its runner is busy with it', { state: 'busy', jobId: 7 }, true],
    ['its runner is busy with another job', { state: 'busy', jobId: 8 }, false],
  ] as const)('%s → %s', (_name, slot, expected) => {
    expect(slotEndsWith(7, slot)).toBe(expected);
  });
});
