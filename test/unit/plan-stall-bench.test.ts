import { describe, expect, it } from 'vitest';
import {
  judgeStall,
  renderStallSection,
  STALL_CASES,
  type ProbeSummary,
  type StallResult,
} from '../../bench/plan-stall.bench.ts';

const probe = (maxMs: number, answered = 20): ProbeSummary => ({
  sent: 20,
  answered,
  p50Ms: maxMs / 2,
  p99Ms: maxMs,
  maxMs: answered === 20 ? maxMs : Number.POSITIVE_INFINITY,
});

function result(id: string, webhooks: ProbeSummary, health: ProbeSummary): StallResult {
  const stallCase = STALL_CASES.find((c) => c.id === id)!;
  return { case: stallCase, webhooks, health, planMs: 12_000, invalid: id === 'worker' ? 1 : 0, runs: 0 };
}

describe('the plan-stall criteria', () => {
  it('hold when every webhook of the plan worker case is answered within 1 s and every health check answered', () => {
    const results = [
      result('worker', probe(835), probe(1230)),
      result('in-process', probe(177_000, 16), probe(177_000, 11)),
    ];
    expect(judgeStall(results)).toEqual([]);
    const markdown = renderStallSection(results, []);
    expect(markdown).toContain('| in a plan worker (the default: planSeconds 10) | webhooks      |    20/20 |');
    expect(markdown).toContain('the file stopped at the time budget, its status failed');
  });

  it('fail on a slow webhook or an unanswered probe of the plan worker case, and without that case', () => {
    expect(judgeStall([result('worker', probe(1500), probe(10))])).toEqual([
      'the slowest webhook took 1,500 ms (criterion: 1 s)',
    ]);
    expect(judgeStall([result('worker', probe(10, 19), probe(10, 18))])).toEqual([
      '1 of 20 webhooks were not answered 2xx',
      '2 of 20 health checks were not answered 2xx',
    ]);
    expect(judgeStall([])).toEqual(['no plan worker case was measured']);
  });
});
