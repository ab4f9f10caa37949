import { describe, expect, it } from 'vitest';
import {
  AWS_CALL_SCENARIOS,
  agentFates,
  callsOf,
  judgeAwsCalls,
  matrixPlan,
  pickHalf,
  renderAwsCallsSection,
  renderVerdict,
  roleTotal,
  seeded,
  totalCalls,
  type AwsCallSample,
  type AwsCallScenario,
  type CallRole,
} from '../../bench/aws-calls.bench.ts';

const [spotHappy, spotHalf, cbHappy, cbHalf] = AWS_CALL_SCENARIOS;

function sample(
  scenario: AwsCallScenario,
  calls: Partial<Record<CallRole, Record<string, number>>>,
  over: Partial<Omit<AwsCallSample, 'scenario' | 'calls'>> = {},
): AwsCallSample {
  return {
    scenario,
    orders: 10,
    succeeded: 10,
    refusedOrders: 0,
    onDemand: 0,
    ticks: 8,
    leftBehind: 0,
    orderMinutes: 60,
    calls: { launch: {}, watchdog: {}, terminate: {}, janitor: {}, other: {}, ...calls },
    ...over,
  };
}

/** What the bench measures when every part does its job, for 10 orders (5 refused in the half scenarios). */
const good = [
  sample(spotHappy, {
    launch: { RunInstances: 10 },
    watchdog: { DescribeInstances: 70 },
    janitor: { DescribeInstances: 8 },
  }),
  sample(
    spotHalf,
    { launch: { RunInstances: 15 }, watchdog: { DescribeInstances: 70 }, janitor: { DescribeInstances: 8 } },
    { refusedOrders: 5 },
  ),
  sample(cbHappy, {
    launch: { StartBuild: 10 },
    watchdog: { BatchGetBuilds: 70 },
    janitor: { DescribeInstances: 8, ListBuildsForProject: 8, BatchGetBuilds: 8 },
  }),
  sample(
    cbHalf,
    {
      launch: { StartBuild: 15, ListBuildsForProject: 5, BatchGetBuilds: 5 },
      watchdog: { BatchGetBuilds: 65 },
      janitor: { DescribeInstances: 9, ListBuildsForProject: 9, BatchGetBuilds: 9 },
    },
    { refusedOrders: 5, ticks: 9 },
  ),
];

describe('aws-calls bench: seeded choices', () => {
  it('draws the same numbers for the same seed and others for another seed', () => {
    const draw = (seed: number) => Array.from({ length: 5 }, seeded(seed));
    expect(draw(7)).toEqual(draw(7));
    expect(draw(7)).not.toEqual(draw(8));
    expect(draw(7).every((x) => x >= 0 && x < 1)).toBe(true);
  });

  it.each([
    [200, 100],
    [100, 50],
    [7, 3],
    [1, 0],
  ])('picks exactly half of %i ids (%i), the same ones every time', (n, half) => {
    const ids = Array.from({ length: n }, (_, i) => `test.${i + 1}`);
    const picked = pickHalf(ids, 42);
    expect(picked.size).toBe(half);
    expect([...picked].every((id) => ids.includes(id))).toBe(true);
    expect([...pickHalf(ids, 42)]).toEqual([...picked]);
  });

  it('a different seed picks a different half', () => {
    const ids = Array.from({ length: 100 }, (_, i) => `test.${i + 1}`);
    expect([...pickHalf(ids, 1)].sort()).not.toEqual([...pickHalf(ids, 2)].sort());
  });

  it('gives every order a boot of 1–2 and a run of 2–6 minutes, keyed by id', () => {
    const ids = matrixPlan(50).orders.map((o) => o.id);
    const fates = agentFates(ids, 3);
    expect(fates.size).toBe(50);
    for (const fate of fates.values()) {
      expect([1, 2]).toContain(fate.bootMinutes);
      expect(fate.runMinutes).toBeGreaterThanOrEqual(2);
      expect(fate.runMinutes).toBeLessThanOrEqual(6);
    }
    expect(new Set([...fates.values()].map((f) => f.runMinutes)).size).toBeGreaterThan(1);
    expect(agentFates(ids, 3)).toEqual(fates);
  });

  it('plans a matrix of independent cells on the one bench route', () => {
    const plan = matrixPlan(3);
    expect(plan.orders.map((o) => [o.id, o.runsOn, o.needsOrders.length, o.matrix])).toEqual([
      ['test.1', 'cloud', 0, { shard: 1 }],
      ['test.2', 'cloud', 0, { shard: 2 }],
      ['test.3', 'cloud', 0, { shard: 3 }],
    ]);
  });
});

describe('aws-calls bench: sums', () => {
  it('adds calls by command across roles, by role across commands, and in all', () => {
    const s = good[3]!;
    expect(callsOf(s, 'BatchGetBuilds')).toBe(5 + 65 + 9);
    expect(callsOf(s, 'BatchGetBuilds', ['launch'])).toBe(5);
    expect(callsOf(s, 'StopBuild')).toBe(0);
    expect(roleTotal(s, 'launch')).toBe(25);
    expect(roleTotal(s, 'terminate')).toBe(0);
    expect(totalCalls(s)).toBe(25 + 65 + 27);
  });
});

describe('aws-calls bench: criteria', () => {
  it('holds when each launch is one call and each refusal costs what the fallback needs', () => {
    const criteria = judgeAwsCalls(good);
    expect(criteria).toHaveLength(8);
    expect(criteria.filter((c) => !c.passed)).toEqual([]);
    expect(criteria[3]?.markdown).toBe(
      '✅ **spot, ½ capacity errors**: launch calls 1.50/order (expected 1.50: 1 RunInstances per order + 1 per ' +
        'refused order; 5 of 5 planned refusals happened)',
    );
    expect(criteria[7]?.markdown).toContain('expected 2.50: 1 StartBuild per order + 3 per refused order');
  });

  it.each<[string, number, AwsCallSample]>([
    ['a second RunInstances on the happy path', 1, sample(spotHappy, { launch: { RunInstances: 11 } })],
    ['a look-up before every launch', 1, sample(spotHappy, { launch: { RunInstances: 10, DescribeInstances: 10 } })],
    ['an order that did not succeed', 0, sample(spotHappy, { launch: { RunInstances: 10 } }, { succeeded: 9 })],
    ['an instance left behind', 0, sample(spotHappy, { launch: { RunInstances: 10 } }, { leftBehind: 1 })],
    ['a call of no known role', 0, sample(spotHappy, { launch: { RunInstances: 10 }, other: { CreateTags: 1 } })],
    ['a capacity fault that was never injected', 1, sample(spotHalf, { launch: { RunInstances: 10 } })],
    [
      'a CodeBuild re-drive without its look-up',
      1,
      sample(cbHalf, { launch: { StartBuild: 15 } }, { refusedOrders: 5 }),
    ],
  ])('fails on %s', (_, index, bad) => {
    const criteria = judgeAwsCalls([bad]);
    expect(criteria.map((c) => c.passed)).toEqual([0, 1].map((i) => i !== index));
    expect(criteria[index]?.markdown).toMatch(/^❌ /);
  });
});

describe('aws-calls bench: the section', () => {
  const markdown = renderAwsCallsSection(good, judgeAwsCalls(good));
  const row = (label: string): string[] => {
    const line = markdown.split('\n').find((l) => l.startsWith(`| ${label} `));
    return (line ?? '').split('|').map((c) => c.trim());
  };

  it('puts the four scenarios side by side, per order, by command with a total', () => {
    expect(markdown).toContain('| AWS calls per order  | spot, happy | spot, ½ capacity errors | codebuild, happy |');
    expect(row('RunInstances').slice(2, 6)).toEqual(['1.00', '1.50', '0.00', '0.00']);
    expect(row('DescribeInstances').slice(2, 6)).toEqual(['7.80', '7.80', '0.80', '0.90']);
    expect(row('StartBuild').slice(2, 6)).toEqual(['0.00', '0.00', '1.00', '1.50']);
    expect(row('ListBuildsForProject').slice(2, 6)).toEqual(['0.00', '0.00', '0.80', '1.40']);
    for (const command of ['TerminateInstances', 'CreateTags', 'StopBuild'])
      expect(row(command).slice(2, 6)).toEqual(['0.00', '0.00', '0.00', '0.00']);
    expect(row('**total**').slice(2, 6)).toEqual(['**8.80**', '**9.30**', '**10.40**', '**11.70**']);
  });

  it('splits the calls by role and gives the facts of each run', () => {
    expect(row('launch (fallback and re-drive look-ups included)').slice(2, 6)).toEqual([
      '1.00',
      '1.50',
      '1.00',
      '2.50',
    ]);
    expect(row('watchdog (one inspection per live order per tick)').slice(2, 6)).toEqual([
      '7.00',
      '7.00',
      '7.00',
      '6.50',
    ]);
    expect(row('janitor calls per sweep').slice(2, 6)).toEqual(['1.00', '1.00', '3.00', '3.00']);
    expect(row('orders refused on their first launch').slice(2, 6)).toEqual(['0', '5', '0', '5']);
    expect(row('on-demand fallbacks').slice(2, 6)).toEqual(['0', '0', '–', '–']);
    expect(row('watchdog calls per order-minute').slice(2, 4)).toEqual(['1.17', '1.17']);
    expect(markdown).not.toContain('| other ');
    expect(markdown).toContain('### Criteria');
  });

  it('shows an `other` row only when some call had no known role', () => {
    const stray = [sample(spotHappy, { launch: { RunInstances: 10 }, other: { DescribeInstances: 3 } })];
    expect(renderAwsCallsSection(stray, judgeAwsCalls(stray))).toContain('| other ');
  });

  it('ends with a verdict against tinqs-ci and on CodeBuild, from the numbers', () => {
    const verdict = renderVerdict(good);
    expect(markdown.trim().endsWith(verdict)).toBe(true);
    expect(verdict).toMatch(/^\*\*Verdict\.\*\* tinqs-ci made 1 RunInstances per job and had no fallback\./);
    expect(verdict).toContain('makes 1.50/order (1.00 more call per refused order) and runs 10/10 orders');
    expect(verdict).toContain('would have lost the 5 refused jobs');
    expect(verdict).toContain('the watchdog, 7.00 DescribeInstances/order here — 1.17 per minute');
    expect(verdict).toContain('3.00 more calls per refused order');
    expect(verdict).toContain('the janitor 3.00 calls per sweep');
  });

  it('leaves the verdict out when a pair of scenarios is missing', () => {
    expect(renderVerdict([good[0]!])).toBe('');
    expect(renderVerdict([good[2]!, good[3]!])).toMatch(/^\*\*Verdict\.\*\* On CodeBuild/);
  });
});
