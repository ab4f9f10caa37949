import { describe, expect, it } from 'vitest';
import { createCodeBuildRunner } from '../../runners/codebuild.ts';
import { createJanitor } from '../../runners/janitor.ts';
import type { Route } from '../../runners/runner.ts';
import { createSpotRunner } from '../../runners/spot.ts';
import type { OrderRecord, OrderState } from '../../src/core/types.ts';
import { createFakeCodeBuild, createFakeEc2, launchRequest } from '../contract/fake-aws.ts';

const T0 = Date.parse('2025-03-01T12:00:00Z');
const MIN = 60_000;

const spotRoute: Route = {
  label: 'big',
  runner: 'spot',
  settings: { instanceTypes: ['m7i.large'], subnets: ['subnet-aaaaaaaa'], ami: 'ami-12345678', maxLifetimeMinutes: 60 },
};
const buildRoute: Route = { label: 'long', runner: 'codebuild', settings: { project: 'ci' } };

type OrderRow = Pick<OrderRecord, 'state' | 'attempt'> & Partial<Pick<OrderRecord, 'handle' | 'runner'>>;

function world() {
  const clock = { now: T0 };
  const ec2 = createFakeEc2({ clock: () => clock.now, pageSize: 2 });
  const cb = createFakeCodeBuild({ clock: () => clock.now, pageSize: 2 });
  const bootstrap = () => Promise.resolve({ url: 'https://ci.example.org/b', token: 'T'.repeat(32) });
  const spot = createSpotRunner({ ec2: ec2.client, clock: () => clock.now, bootstrap });
  const builds = createCodeBuildRunner({ codebuild: cb.client, clock: () => clock.now, bootstrap });
  const orders = new Map<string, OrderRow>();
  let reads = 0;
  let storeDown = false;
  const store = {
    getOrder(runId: string, orderId: string) {
      reads += 1;
      if (storeDown) return Promise.reject(new Error('store unavailable'));
      const row = orders.get(`${runId}/${orderId}`);
      return Promise.resolve(row === undefined ? undefined : ({ runId, id: orderId, ...row } as OrderRecord));
    },
  };
  const janitor = createJanitor({
    ec2: ec2.client,
    codebuild: cb.client,
    projects: ['ci'],
    store,
    clock: () => clock.now,
  });
  const setOrder = (orderId: string, state: OrderState, attempt = 1, extra: Partial<OrderRow> = {}) =>
    orders.set(`run-1/${orderId}`, { state, attempt, ...extra });
  return {
    clock,
    ec2,
    cb,
    spot,
    builds,
    janitor,
    setOrder,
    reads: () => reads,
    setStoreDown: (down: boolean) => {
      storeDown = down;
    },
  };
}

describe('janitor', () => {
  it('ends orphans, finished orders, other attempts and expired instances — never within the grace period', async () => {
    const w = world();
    const launch = async (orderId: string, attempt = 1) =>
      (await w.spot.launch(launchRequest({ route: spotRoute, orderId, attempt }))).handle;
    const live = await launch('live');
    const done = await launch('done');
    const orphan = await launch('orphan');
    const stale = await launch('stale', 1);
    w.setOrder('live', 'running', 1, { handle: live, runner: 'spot' });
    w.setOrder('done', 'succeeded');
    w.setOrder('stale', 'running', 2);

    // Just launched: even the orphan is kept (its order may not be written yet).
    let result = await w.janitor.sweep();
    expect(result.terminated).toEqual([]);
    expect(result.kept.sort()).toEqual([live, done, orphan, stale].sort());

    w.clock.now = T0 + 11 * MIN;
    const fresh = await launch('fresh'); // launched later: inside its own grace period
    w.setOrder('fresh', 'running', 1, { handle: fresh, runner: 'spot' });
    result = await w.janitor.sweep({ dryRun: true });
    expect(result.wouldTerminate.sort()).toEqual([done, orphan, stale].sort());
    expect(result.terminated).toEqual([]);
    expect(result.reasons[stale]).toContain('attempt 2');
    expect(w.ec2.live()).toHaveLength(5); // the dry run ended nothing

    result = await w.janitor.sweep();
    expect(result.terminated.sort()).toEqual([done, orphan, stale].sort());
    expect(result.kept.sort()).toEqual([live, fresh].sort());
    expect(
      w.ec2
        .live()
        .map((i) => i.id)
        .sort(),
    ).toEqual([live, fresh].sort());

    // Past the expiry tag (max lifetime 60 min), even a live order's instance goes.
    w.clock.now = T0 + 61 * MIN;
    result = await w.janitor.sweep();
    expect(result.terminated).toEqual([live]);
    expect(result.reasons[live]).toContain('expiry');
  });

  it('ends a duplicate of the same attempt that is not the handle the order recorded', async () => {
    const w = world();
    const a = (await w.spot.launch(launchRequest({ route: spotRoute, orderId: 'dup' }))).handle;
    w.ec2.instances.clear(); // a second instance for the same attempt, as if launched by a racing replica
    const b = (await w.spot.launch(launchRequest({ route: spotRoute, orderId: 'dup' }))).handle;
    w.setOrder('dup', 'running', 1, { handle: a, runner: 'spot' });
    w.clock.now = T0 + 11 * MIN;
    const result = await w.janitor.sweep({ dryRun: true });
    expect(result.wouldTerminate).toEqual([b]);
  });

  it('keeps everything when the store cannot be read', async () => {
    const w = world();
    await w.spot.launch(launchRequest({ route: spotRoute, orderId: 'x' }));
    w.clock.now = T0 + 11 * MIN;
    w.setStoreDown(true);
    const result = await w.janitor.sweep();
    expect(result.terminated).toEqual([]);
    expect(result.kept).toHaveLength(1);
  });

  it('stops builds of finished or unknown orders in the configured projects, leaving foreign builds alone', async () => {
    const w = world();
    const live = (await w.builds.launch(launchRequest({ route: buildRoute, orderId: 'b-live' }))).handle;
    const done = (await w.builds.launch(launchRequest({ route: buildRoute, orderId: 'b-done' }))).handle;
    const orphan = (await w.builds.launch(launchRequest({ route: buildRoute, orderId: 'b-orphan' }))).handle;
    const finished = (await w.builds.launch(launchRequest({ route: buildRoute, orderId: 'b-finished' }))).handle;
    w.cb.finish(finished, 'SUCCEEDED');
    const foreign = w.cb.foreign('ci').id;
    w.setOrder('b-live', 'running', 1, { handle: live, runner: 'codebuild' });
    w.setOrder('b-done', 'failed');
    w.clock.now = T0 + 11 * MIN;
    const dry = await w.janitor.sweep({ dryRun: true });
    expect(dry.wouldTerminate.sort()).toEqual([done, orphan].sort());
    const result = await w.janitor.sweep();
    expect(result.terminated.sort()).toEqual([done, orphan].sort());
    expect(result.kept).toEqual([live]);
    expect(w.cb.builds.get(foreign)?.status).toBe('IN_PROGRESS');
    expect(w.cb.builds.get(done)?.status).toBe('STOPPED');
  });

  it('pages through instances and builds', async () => {
    const w = world();
    for (let i = 0; i < 5; i++) await w.spot.launch(launchRequest({ route: spotRoute, orderId: `o${i}` }));
    for (let i = 0; i < 5; i++) await w.builds.launch(launchRequest({ route: buildRoute, orderId: `b${i}` }));
    w.clock.now = T0 + 11 * MIN;
    const result = await w.janitor.sweep();
    expect(result.terminated).toHaveLength(10);
    expect(w.reads()).toBe(10);
    expect(w.ec2.live()).toHaveLength(0);
    expect(w.cb.live()).toHaveLength(0);
  });
});
