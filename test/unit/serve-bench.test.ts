import { describe, expect, it } from 'vitest';
import { routeStandInRequest } from '../../bench/github-stand-in.ts';
import {
  SERVE_CASES,
  judgeServe,
  percentile,
  summarizeLoad,
  type CaseResult,
  type Processing,
} from '../../bench/serve.bench.ts';

const answers = {
  listing: '[listing]',
  files: new Map([['.spotcheck/workflows/bench.yml', 'name: bench']]),
  compare: '{compare}',
  app: '{app}',
  token: () => '{token}',
};
const SHA = 'a'.repeat(40);

describe('routeStandInRequest', () => {
  it.each([
    ['GET', '/api/v3/app', 'app', 200],
    ['POST', '/api/v3/app/installations/4242/access_tokens', 'token', 201],
    ['GET', `/api/v3/repos/o/r/contents/.spotcheck/workflows?ref=${SHA}`, 'listing', 200],
    ['GET', '/api/v3/repos/o/r/contents/.spotcheck%2Fworkflows', 'listing', 200],
    ['GET', `/api/v3/repos/o/r/contents/.spotcheck/workflows/bench.yml?ref=${SHA}`, 'file', 200],
    ['GET', `/api/v3/repos/o/r/compare/${SHA}...${SHA}?per_page=1`, 'compare', 200],
    ['POST', `/api/v3/repos/o/r/statuses/${SHA}`, 'status', 201],
    ['GET', '/api/v3/app/hook/deliveries?per_page=100', 'deliveries', 200],
    // Anything else is a request spotcheck should not make here.
    ['GET', '/api/v3/repos/o/r/contents/.spotcheck/workflows/other.yml', 'unexpected', 404],
    ['GET', `/repos/o/r/compare/${SHA}...${SHA}`, 'unexpected', 404],
    ['POST', '/api/v3/repos/o/r/issues/1/comments', 'unexpected', 404],
    ['DELETE', `/api/v3/repos/o/r/statuses/${SHA}`, 'unexpected', 404],
    ['GET', '/api/v3/app/installations/1/access_tokens', 'unexpected', 404],
  ])('%s %s → %s %d', (method, path, endpoint, status) => {
    const answer = routeStandInRequest(method, path, answers);
    expect([answer.endpoint, answer.status]).toEqual([endpoint, status]);
  });

  it('answers a workflow file raw, not as JSON', () => {
    const answer = routeStandInRequest('GET', '/api/v3/repos/o/r/contents/.spotcheck/workflows/bench.yml', answers);
    expect(answer.type).toMatch(/^text\/plain/);
    expect(answer.body).toBe('name: bench');
  });
});

describe('percentile', () => {
  it.each([
    [[], 50, Number.NaN],
    [[7], 99, 7],
    [[5, 1, 4, 2, 3], 50, 3],
    [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 50, 5],
    [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 99, 10],
    [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0, 1],
  ])('%j p%d = %d (nearest rank)', (values, p, expected) => {
    expect(percentile(values, p)).toEqual(expected);
  });
});

describe('summarizeLoad', () => {
  it('counts 2xx answers per second and every other status as non-2xx', () => {
    const summary = summarizeLoad({
      seconds: 2,
      sent: ['a', 'b', 'c', 'd', 'e'],
      answered2xx: ['a', 'b', 'c'],
      statuses: { '202': 2, '200': 1, '401': 1 },
      latenciesMs: [1, 2, 3, 40],
      errors: 1,
    });
    expect(summary).toMatchObject({ deliveries: 3, perSecond: 1.5, p50Ms: 2, p99Ms: 40, errors: 1, non2xx: 1 });
  });
});

const load = { deliveries: 100, perSecond: 10, p50Ms: 5, p99Ms: 50, errors: 0, non2xx: 0, statuses: { '202': 100 } };
const processing: Processing = {
  accepted: 120,
  cutOff: 4,
  runs: 122,
  runsByStatus: { succeeded: 122 },
  runsPlanned: 122,
  acceptedNotPlannedOnce: 0,
  foreignPlanned: 0,
  invalidFiles: 0,
  drainMs: 1000,
  finishMs: 1500,
  requests: { app: 0, token: 1, listing: 122, file: 122, compare: 122, status: 3, deliveries: 1, unexpected: 0 },
  stopped: 'killed',
};
const good: CaseResult[] = [
  {
    case: SERVE_CASES.bare,
    load: { ...load, statuses: { '200': 100 } },
    cpuMsPerDelivery: 0.1,
    peakRss: 1,
    log: { warn: 0, error: 0 },
  },
  {
    case: SERVE_CASES.none,
    load,
    cpuMsPerDelivery: 1,
    peakRss: 1,
    log: { warn: 0, error: 0 },
    processing: { ...processing, runs: 0, runsByStatus: {}, runsPlanned: 0, acceptedNotPlannedOnce: 120 },
  },
  { case: SERVE_CASES.one, load, cpuMsPerDelivery: 1, peakRss: 1, log: { warn: 0, error: 0 }, processing },
];

describe('judgeServe', () => {
  it('passes a run where every criterion held (a bare app answering 200 is not a duplicate)', () => {
    expect(judgeServe(good)).toEqual([]);
  });

  const withOne = (change: Partial<CaseResult>, processingChange: Partial<Processing> = {}): CaseResult[] => [
    good[0]!,
    good[1]!,
    { ...good[2]!, ...change, processing: { ...processing, ...processingChange } },
  ];
  it.each<[string, CaseResult[], RegExp]>([
    ['errors', withOne({ load: { ...load, errors: 2 } }), /2 errors, 0 non-2xx/],
    ['non-2xx', withOne({ load: { ...load, non2xx: 3 } }), /0 errors, 3 non-2xx/],
    ['nothing answered', withOne({ load: { ...load, deliveries: 0 } }), /no delivery was answered/],
    ['slow p99', withOne({ load: { ...load, p99Ms: 10_000 } }), /GitHub's 10 s delivery timeout/],
    ['duplicates', withOne({ load: { ...load, statuses: { '202': 90, '200': 10 } } }), /10 deliveries answered as/],
    ['not drained', withOne({}, { drainMs: undefined }), /did not finish within/],
    ['unexpected API call', withOne({}, { requests: { ...processing.requests, unexpected: 1 } }), /1 requests to/],
    ['invalid workflow', withOne({}, { invalidFiles: 1 }), /found the bench's workflow invalid/],
    ['a delivery without one run', withOne({}, { acceptedNotPlannedOnce: 2 }), /2 of 120 accepted deliveries/],
    [
      'a run of no delivery sent',
      withOne({}, { foreignPlanned: 1 }),
      /store holds 1 runs of no delivery the bench sent/,
    ],
  ])('fails on %s', (_name, results, message) => {
    const failures = judgeServe(results);
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatch(message);
  });

  it('fails when a push that matches no workflow stored a run', () => {
    const results = [good[0]!, { ...good[1]!, processing: { ...processing, acceptedNotPlannedOnce: 120 } }, good[2]!];
    expect(judgeServe(results)).toEqual([expect.stringMatching(/122 runs stored for pushes that match none/)]);
  });

  it('does not fail when runs were still finishing at the stop (planning is the criterion)', () => {
    expect(judgeServe(withOne({}, { finishMs: undefined, runsByStatus: { running: 2, succeeded: 120 } }))).toEqual([]);
  });
});
