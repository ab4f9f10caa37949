/**
 * Capacity mode end to end below HTTP: queued deliveries on both forges against the API harnesses (every request
 * checked against GitHub's OpenAPI description and Gitea's swagger), EC2 through aws-sdk-client-mock's state
 * machine, a real store engine (dynalite), a fake clock.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Route } from '../../runners/runner.ts';
import { createCapacityManager, type CapacityManager } from '../../src/capacity/capacity-manager.ts';
import type { EmbeddedStore } from '../../src/store/embedded.ts';
import type { Store } from '../../src/store/store.ts';
import { createFakeEc2 } from '../contract/fake-aws.ts';
import { createIsolatedStore, startTestStore, T0 } from '../helpers/dynalite.ts';
import { useGiteaApi } from '../helpers/gitea-api.ts';
import { createCapacityTestForges } from '../helpers/capacity-forges.ts';
import { createTestOctokit, useGitHubApi } from '../helpers/github-api.ts';

const SPOT = { instanceTypes: ['m7i.large'], subnets: ['subnet-0123456789abcdef0'], ami: 'ami-0123456789abcdef0' };
const routes = new Map<string, Route>([
  ['gpu', { label: 'gpu', runner: 'spot', settings: { ...SPOT, capacity: true } }],
  ['host', { label: 'host', runner: 'skip', settings: {} }],
]);
const MIN = 60_000;
const GH = { forge: 'github', host: 'github.com', owner: 'acme', name: 'app' } as const;
const GT = { forge: 'gitea', host: 'gitea.example.org', owner: 'acme', name: 'app' } as const;

let embedded: EmbeddedStore;
let store: Store;
let clock = T0;
let ec2: ReturnType<typeof createFakeEc2>;
let manager: CapacityManager;
const github = useGitHubApi();
const gitea = useGiteaApi();

beforeAll(async () => {
  embedded = await startTestStore();
});
afterAll(async () => {
  await embedded.close();
});
beforeEach(async () => {
  clock = T0;
  store = await createIsolatedStore(embedded.client, { now: () => clock });
  ec2 = createFakeEc2({ clock: () => clock });
  const octokit = createTestOctokit();
  manager = createCapacityManager({
    store,
    routes,
    forges: createCapacityTestForges({ octokit, giteaBaseUrl: gitea().baseUrl }),
    ec2: () => ec2.client,
    bootstrapUrl: 'https://ci.example.org/api/capacity/bootstrap',
    clock: () => clock,
  });
});

const queued = (repo: typeof GH | typeof GT, jobId: number, labels: string[]) =>
  ({
    action: 'queued',
    repo,
    jobId,
    runId: 1,
    labels,
    ...(repo.forge === 'github' ? { installationId: 9 } : {}),
  }) as const;

function userDataOf(index: number): string {
  return Buffer.from(ec2.runInputs()[index]?.UserData ?? '', 'base64').toString('utf8');
}

describe('GitHub workflow_job', () => {
  it('one launch per queued job on the route its labels name; redelivery and other labels launch nothing', async () => {
    const first = await manager.jobEvent(queued(GH, 11, ['self-hosted', 'gpu']));
    expect(first).toMatchObject({ kind: 'launched', route: 'gpu' });
    expect(await manager.jobEvent(queued(GH, 11, ['self-hosted', 'gpu']))).toMatchObject({ kind: 'duplicate' });
    expect(await manager.jobEvent(queued(GH, 12, ['ubuntu-latest']))).toMatchObject({ kind: 'ignored' });
    expect(await manager.jobEvent(queued(GH, 13, ['gpu', 'host']))).toMatchObject({ kind: 'skipped' });
    expect(ec2.runInputs()).toHaveLength(1);
    const input = ec2.runInputs()[0]!;
    expect(input).toMatchObject({
      InstanceType: 'm7i.large',
      MetadataOptions: { HttpTokens: 'required', HttpPutResponseHopLimit: 1 },
      InstanceInitiatedShutdownBehavior: 'terminate',
    });
    // The order janitor sweeps `spotcheck:run`; capacity instances carry only the capacity tag.
    const tags = input.TagSpecifications?.[0]?.Tags?.map((t) => t.Key);
    expect(tags).toContain('spotcheck:capacity');
    expect(tags).not.toContain('spotcheck:run');
  });

  it('registers through the bootstrap exchange only (JIT config never in user data), once', async () => {
    const launched = await manager.jobEvent(queued(GH, 21, ['gpu']));
    if (launched.kind !== 'launched') throw new Error('not launched');
    const script = userDataOf(0);
    const token = /SPOTCHECK_BOOTSTRAP_TOKEN='([A-Za-z0-9_-]+)'/.exec(script)?.[1];
    expect(token).toBeDefined();
    expect(script).not.toMatch(/jit|registration/i);
    github()
      .post('/repos/acme/app/actions/runners/generate-jitconfig')
      .body({ name: launched.runnerName, labels: ['gpu'], runner_group_id: 1 })
      .reply(201, { runner: { id: 77, name: launched.runnerName }, encoded_jit_config: 'SECRET-JIT' });
    const answer = await manager.exchange(token!);
    expect(answer).toEqual({
      ok: true,
      answer: { forge: 'github', runnerName: launched.runnerName, encodedJitConfig: 'SECRET-JIT' },
    });
    expect(await manager.exchange(token!)).toMatchObject({ ok: false, status: 401 });
    expect(script).not.toContain('SECRET-JIT');
  });

  it('completed → instance terminated and runner removed from GitHub', async () => {
    const launched = await manager.jobEvent(queued(GH, 31, ['gpu']));
    if (launched.kind !== 'launched') throw new Error('not launched');
    const token = /SPOTCHECK_BOOTSTRAP_TOKEN='([A-Za-z0-9_-]+)'/.exec(userDataOf(0))![1]!;
    github()
      .post('/repos/acme/app/actions/runners/generate-jitconfig')
      .reply(201, { runner: { id: 78 }, encoded_jit_config: 'x' });
    await manager.exchange(token);
    expect(
      await manager.jobEvent({ ...queued(GH, 31, ['gpu']), action: 'in_progress', runnerName: launched.runnerName }),
    ).toMatchObject({ kind: 'busy' });
    github().delete('/repos/acme/app/actions/runners/78').reply(204);
    const done = await manager.jobEvent({
      ...queued(GH, 31, ['gpu']),
      action: 'completed',
      runnerName: launched.runnerName,
    });
    expect(done).toEqual({ kind: 'finished', runnerNames: [launched.runnerName] });
    expect(ec2.live()).toHaveLength(0);
  });

  it('a lost queued webhook is recovered by the reconcile; a lost completed one by the sweep', async () => {
    // The repository is watched once any capacity event was seen.
    await manager.jobEvent(queued(GH, 40, ['gpu']));
    clock += 3 * MIN;
    github()
      .get('/repos/acme/app/actions/runs')
      .query({ status: 'queued', per_page: 100, page: 1 })
      .reply(200, { total_count: 1, workflow_runs: [{ id: 5 }] });
    github()
      .get('/repos/acme/app/actions/runs/5/jobs')
      .query({ filter: 'latest', per_page: 100 })
      .reply(200, {
        total_count: 3,
        jobs: [
          { id: 40, run_id: 5, labels: ['gpu'], status: 'queued' },
          { id: 41, run_id: 5, labels: ['gpu'], status: 'queued' },
          { id: 42, run_id: 5, labels: ['windows'], status: 'queued' },
        ],
      });
    const outcomes = await manager.reconcile();
    expect(outcomes.map((o) => o.kind)).toEqual(['launched']);
    expect(ec2.live()).toHaveLength(2);

    // Job 41 ran and finished, and its completed webhook was lost: the sweep asks GitHub and ends the runner.
    const name = (outcomes[0] as { runnerName: string }).runnerName;
    await manager.jobEvent({ ...queued(GH, 41, ['gpu']), action: 'in_progress', runnerName: name });
    clock += 10 * MIN;
    github()
      .get('/repos/acme/app/actions/jobs/41')
      .reply(200, { id: 41, run_id: 5, labels: ['gpu'], status: 'completed', runner_name: name });
    // The runner of job 40 is idle and not due before its idle limit: GitHub is not asked about it.
    const swept = await manager.sweep();
    expect(swept.finished).toEqual([name]);
    expect(ec2.live()).toHaveLength(1);
  });

  it('idle limit: a runner that never picks up a job is terminated after 20 minutes, not while booting', async () => {
    await manager.jobEvent(queued(GH, 50, ['gpu']));
    clock += 19 * MIN;
    expect((await manager.sweep()).finished).toEqual([]);
    expect(ec2.live()).toHaveLength(1);
    clock += 2 * MIN;
    github()
      .get('/repos/acme/app/actions/jobs/50')
      .reply(200, { id: 50, run_id: 1, labels: ['gpu'], status: 'queued' });
    expect((await manager.sweep()).finished).toHaveLength(1);
    expect(ec2.live()).toHaveLength(0);
  });

  it('an instance with no runner document is an orphan past the grace period, never before', async () => {
    await manager.jobEvent(queued(GH, 60, ['gpu']));
    const [instance] = ec2.live();
    await store.deleteDoc('capacity-runner', instance!.tags['spotcheck:capacity']!);
    clock += 5 * MIN;
    expect((await manager.sweep()).orphansTerminated).toEqual([]);
    clock += 6 * MIN;
    expect((await manager.sweep()).orphansTerminated).toEqual([instance!.id]);
  });
});

describe('Gitea', () => {
  it('workflow_job queued → act_runner registration token through the exchange; completed → deregistered', async () => {
    const launched = await manager.jobEvent(queued(GT, 7, ['gpu']));
    if (launched.kind !== 'launched') throw new Error('not launched');
    const token = /SPOTCHECK_BOOTSTRAP_TOKEN='([A-Za-z0-9_-]+)'/.exec(userDataOf(0))![1]!;
    gitea().post('/repos/acme/app/actions/runners/registration-token').reply(200, { token: 'REG-TOKEN' });
    expect(await manager.exchange(token)).toEqual({
      ok: true,
      answer: {
        forge: 'gitea',
        runnerName: launched.runnerName,
        instanceUrl: gitea().baseUrl,
        registrationToken: 'REG-TOKEN',
        labels: ['gpu:host'],
      },
    });
    expect(userDataOf(0)).not.toContain('REG-TOKEN');
    gitea()
      .get('/repos/acme/app/actions/runners')
      .reply(200, {
        total_count: 2,
        runners: [
          { id: 3, name: 'standing' },
          { id: 4, name: launched.runnerName },
        ],
      });
    gitea().delete('/repos/acme/app/actions/runners/4').reply(204);
    expect(
      await manager.jobEvent({ ...queued(GT, 7, ['gpu']), action: 'completed', runnerName: launched.runnerName }),
    ).toMatchObject({ kind: 'finished' });
    expect(ec2.live()).toHaveLength(0);
  });

  it('push path: .gitea/workflows at the SHA → one runner per matched job; the reconcile binds, not relaunches', async () => {
    const sha = 'a'.repeat(40);
    gitea()
      .get('/repos/acme/app/contents/.gitea/workflows')
      .query({ ref: sha })
      .reply(200, [{ type: 'file', path: '.gitea/workflows/ci.yml', size: 200, name: 'ci.yml' }]);
    gitea()
      .get('/repos/acme/app/raw/.gitea/workflows/ci.yml')
      .query({ ref: sha })
      .reply(
        200,
        'on: push\njobs:\n  a: { runs-on: gpu, steps: [{ uses: actions/checkout@v4 }] }\n  b: { runs-on: host, steps: [] }\n  c: { runs-on: other, steps: [] }\n',
      );
    const outcomes = await manager.push({ repo: GT, sha, ref: 'refs/heads/main', changedFiles: ['x'] });
    expect(outcomes.map((o) => o.kind)).toEqual(['launched', 'skipped', 'ignored']);
    clock += 3 * MIN;
    gitea()
      .get('/repos/acme/app/actions/jobs')
      .query({ status: 'queued', page: 1, limit: 50 })
      .reply(200, { total_count: 1, jobs: [{ id: 90, run_id: 9, labels: ['gpu'], status: 'queued' }] });
    expect(await manager.reconcile()).toEqual([]);
    expect(ec2.runInputs()).toHaveLength(1);
  });
});
