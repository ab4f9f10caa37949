import { describe, expect, it } from 'vitest';
import type { Route } from '../../runners/runner.ts';
import { parseRouteSettings } from '../../runners/route-settings.ts';
import { renderCapacityUserData } from '../../runners/user-data.ts';
import { toCapacityJobEvent, toCapacityJobIntent, toCapacityPushIntent } from '../../src/intake/capacity-intents.ts';
import { decideCapacity } from '../../src/core/capacity.ts';
import { planCapacityRunners, readCapacityWorkflow } from '../../src/capacity/capacity-workflows.ts';
import { githubExample } from '../helpers/webhook-examples.ts';

const SPOT = { instanceTypes: ['m7i.large'], subnets: ['subnet-0123456789abcdef0'], ami: 'ami-0123456789abcdef0' };
const routes = new Map<string, Route>([
  ['gpu', { label: 'gpu', runner: 'spot', settings: { ...SPOT, capacity: true } }],
  ['big', { label: 'big', runner: 'spot', settings: SPOT }],
  ['host', { label: 'host', runner: 'skip', settings: {} }],
  ['self-hosted', { label: 'self-hosted', runner: 'local', settings: {} }],
]);

describe('decideCapacity', () => {
  it.each([
    [['self-hosted', 'linux', 'gpu'], 'launch'],
    [['GPU'], 'launch'],
    [['gpu', 'host'], 'skip'],
    [['host'], 'skip'],
    [['big'], 'ignore'],
    [['ubuntu-latest'], 'ignore'],
    [['self-hosted'], 'ignore'],
    [[], 'ignore'],
  ] as const)('%j → %s', (labels, kind) => {
    expect(decideCapacity(labels, routes).kind).toBe(kind);
  });
});

describe('route settings', () => {
  it('takes capacity and idleMinutes on spot routes and checks them', () => {
    const ok = parseRouteSettings({
      label: 'gpu',
      runner: 'spot',
      settings: { ...SPOT, capacity: true, idleMinutes: 5 },
    });
    expect(ok).toMatchObject({ ok: true, settings: { spot: { capacity: true, idleMinutes: 5 } } });
    const bad = parseRouteSettings({
      label: 'gpu',
      runner: 'spot',
      settings: { ...SPOT, capacity: 'yes', idleMinutes: 0 },
    });
    expect(bad.ok ? [] : bad.errors).toEqual([
      'routes.gpu.capacity: must be true or false',
      'routes.gpu.idleMinutes: must be a whole number from 1 to 10080',
    ]);
  });
});

describe('readCapacityWorkflow + planCapacityRunners', () => {
  const text = `
name: ci
on:
  push:
    branches: [main]
    paths: ['src/**']
jobs:
  build:
    runs-on: gpu
    steps:
      - uses: actions/checkout@v4
      - run: make
  test:
    runs-on: \${{ matrix.os }}
    strategy: { matrix: { os: [gpu, big], shard: [1, 2] } }
    services: { db: { image: postgres } }
    steps: [{ run: make test }]
  deploy:
    runs-on: [self-hosted, host]
    steps: [{ run: ./deploy }]
  call:
    uses: ./.gitea/workflows/other.yml
`;
  const wf = readCapacityWorkflow('.gitea/workflows/ci.yml', text)!;
  it('reads jobs leniently (uses:, services: are no errors), one label set per matrix cell', () => {
    expect(wf.jobs.map((j) => [j.id, j.runners])).toEqual([
      ['build', [['gpu']]],
      ['test', [['gpu'], ['gpu'], ['big'], ['big']]],
      ['deploy', [['self-hosted', 'host']]],
    ]);
  });
  it.each([
    ['refs/heads/main', ['src/a.ts'], 6],
    ['refs/heads/main', ['docs/a.md'], 0],
    ['refs/heads/dev', ['src/a.ts'], 0],
    ['refs/heads/main', null, 6],
  ] as const)('push to %s changing %j plans %i runners', (ref, files, count) => {
    expect(planCapacityRunners([wf], { kind: 'push', ref, deleted: false, changedFiles: files })).toHaveLength(count);
  });
  it('is not a workflow without jobs, or with bad YAML', () => {
    expect(readCapacityWorkflow('x.yml', 'on: push')).toBeUndefined();
    expect(readCapacityWorkflow('x.yml', 'on: [')).toBeUndefined();
  });
});

describe('toCapacityJobEvent', () => {
  it('reads GitHub examples (@octokit/webhooks-examples)', () => {
    const queued = githubExample('workflow_job', (p) => p.action === 'queued');
    expect(toCapacityJobEvent('github', 'github.com', queued)).toMatchObject({
      action: 'queued',
      installationId: 3456996,
      repo: { forge: 'github', owner: 'Octocoders', name: 'Hello-World' },
      labels: ['ubuntu-latest'],
    });
  });
  it('reads the Gitea shape (owner.login, no installation) and refuses odd payloads', () => {
    const gitea = {
      action: 'queued',
      workflow_job: { id: 7, run_id: 3, labels: ['gpu'], status: 'queued', runner_id: 0, runner_name: '' },
      repository: { name: 'app', owner: { login: 'acme', username: 'acme' } },
      sender: { login: 'dev' },
    };
    expect(toCapacityJobEvent('gitea', 'Gitea.example.org', gitea)).toEqual({
      action: 'queued',
      repo: { forge: 'gitea', host: 'gitea.example.org', owner: 'acme', name: 'app' },
      jobId: 7,
      runId: 3,
      labels: ['gpu'],
    });
    expect(toCapacityJobEvent('gitea', 'h', { action: 'deleted' })).toHaveProperty('ignore');
    expect(toCapacityJobEvent('gitea', 'h', { ...gitea, workflow_job: { id: 'x' } })).toHaveProperty('ignore');
  });
});

describe('toCapacityJobIntent / toCapacityPushIntent (the guards before the inbox)', () => {
  const ctx = { forge: 'gitea', host: 'Gitea.example.org', deliveryId: 'd-1', now: 5, routes } as const;
  const job = (action: string, labels: string[], runnerName = '') => ({
    action,
    workflow_job: { id: 7, run_id: 3, labels, runner_name: runnerName },
    repository: { name: 'app', owner: { login: 'acme' } },
  });
  it.each([
    ['queued on a capacity route', job('queued', ['gpu']), 'capacity-job'],
    ['queued on no capacity route', job('queued', ['ubuntu-latest']), 'no capacity route claims "ubuntu-latest"'],
    [
      'queued on a skip route',
      job('queued', ['gpu', 'host']),
      'label "host" is a skip route (a standing runner serves it)',
    ],
    ['waiting', job('waiting', ['gpu']), 'the job waits for an approval or a concurrency group'],
    // Labels do not matter once a runner runs it: the runner's name says whether it is ours.
    ['in_progress on any labels', job('in_progress', ['windows'], 'r'), 'capacity-job'],
    ['completed on any labels', job('completed', ['windows'], 'r'), 'capacity-job'],
    ['an unknown action', job('deleted', ['gpu']), 'workflow_job action deleted'],
  ])('%s → %s', (_name, payload, expected) => {
    const result = toCapacityJobIntent(payload, ctx);
    expect('ignore' in result ? result.ignore : result.kind).toBe(expected);
  });

  it('an intent carries the delivery, the installation and the job event', () => {
    expect(toCapacityJobIntent(job('queued', ['gpu']), ctx)).toEqual({
      kind: 'capacity-job',
      deliveryId: 'd-1',
      at: 5,
      install: { forge: 'gitea', host: 'gitea.example.org' },
      job: {
        action: 'queued',
        repo: { forge: 'gitea', host: 'gitea.example.org', owner: 'acme', name: 'app' },
        jobId: 7,
        runId: 3,
        labels: ['gpu'],
      },
    });
  });

  const push = (ref: string, after: string, commits?: unknown[]) => ({
    ref,
    after,
    repository: { name: 'app', owner: { login: 'acme' } },
    ...(commits === undefined ? {} : { commits, total_commits: commits.length }),
  });
  it.each([
    ['a branch push', push('refs/heads/main', 'a'.repeat(40), [{ added: ['x'], modified: ['y'] }]), ['x', 'y']],
    ['a tag push without commits', push('refs/tags/v1', 'b'.repeat(40)), null],
    ['a deletion', push('refs/heads/main', '0'.repeat(40)), 'not a branch or tag push'],
    ['another ref', push('refs/pull/1/head', 'c'.repeat(40)), 'not a branch or tag push'],
  ])('%s', (_name, payload, expected) => {
    const result = toCapacityPushIntent(payload, ctx);
    if (typeof expected === 'string') expect(result).toEqual({ ignore: expected });
    else expect(result).toMatchObject({ kind: 'capacity-push', changedFiles: expected });
  });
});

describe('renderCapacityUserData', () => {
  it('carries the one-time token and an EXIT trap, and refuses anything shell-unsafe', () => {
    const { script } = renderCapacityUserData({
      bootstrapUrl: 'https://ci.example.org/api/capacity/bootstrap',
      bootstrapToken: 'A'.repeat(43),
      maxLifetimeMinutes: 60,
      forge: 'gitea',
    });
    expect(script).toContain("trap 'shutdown -h now' EXIT");
    expect(script).toContain('SPOTCHECK_FORGE=gitea');
    expect(() =>
      renderCapacityUserData({
        bootstrapUrl: 'https://x/',
        bootstrapToken: "a'; rm -rf /",
        maxLifetimeMinutes: 1,
        forge: 'github',
      }),
    ).toThrow();
  });
});
