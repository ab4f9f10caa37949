/**
 * Job-level concurrency groups (GitHub's `jobs.<job_id>.concurrency`) through the orchestrator on the store: at most
 * one order of a group runs and one waits per repository, across runs; the watchdog repairs what a crash left.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { JOB_GROUP_DOC, jobGroupDoc, jobGroupKey } from '../../src/core/job-concurrency.ts';
import type { ConcurrencySpec, OrderRecord, OrderSpec, RepoRef, RunPlan } from '../../src/core/types.ts';
import type { Orchestrator } from '../../src/orchestrator.ts';
import { createDynamoStore, type DynamoStore } from '../../src/store/dynamodb.ts';
import { createOrchestratorHarness, NULL_REPORTER, testRunInput } from '../helpers/orchestrator-harness.ts';
import { describeEachEngine, startTestEngine, type TestEngine } from '../helpers/engines.ts';
import { plan, spec } from '../helpers/plans.ts';

const REPO: RepoRef = { forge: 'github', host: 'github.com', owner: 'o', name: 'n' };
const OTHER_REPO: RepoRef = { ...REPO, name: 'other' };
const REDRIVE_AFTER = 60_000;

let embedded: TestEngine;
let store: DynamoStore;
let tables = 0;
let runs = 0;
let now = 0;

/** Every order hangs until the test reports its end, so the test decides when a group member ends. */
function setup(): { orchestrator: Orchestrator; terminated: string[] } {
  const harness = createOrchestratorHarness({ store, conclude: () => 'hang', now: () => now });
  return { orchestrator: harness.orchestrator, terminated: harness.instant.terminated };
}

function deployPlan(concurrency: ConcurrencySpec, extra: OrderSpec[] = []): RunPlan {
  return plan([spec('deploy', { concurrency }), ...extra]);
}

async function start(orchestrator: Orchestrator, p: RunPlan, repo: RepoRef = REPO): Promise<string> {
  const runId = `run-${++runs}`;
  now += 1000;
  await orchestrator.startRun(testRunInput({ runId, repo, plan: p, sha: 'a'.repeat(40), actor: 'alice' }));
  return runId;
}

async function order(runId: string, id: string): Promise<OrderRecord> {
  const found = await store.getOrder(runId, id);
  if (!found) throw new Error(`no order ${runId}/${id}`);
  return found;
}

async function finish(orchestrator: Orchestrator, runId: string, orderId: string): Promise<void> {
  now += 1000;
  await orchestrator.report(
    { runId, orderId, attempt: 1 },
    { type: 'finished', conclusion: 'success', outputs: {}, stepResults: [] },
  );
}

const waitOnly = { group: 'Prod', cancelInProgress: false };

describeEachEngine((engine) => {
  beforeAll(async () => {
    embedded = await startTestEngine(engine);
  });
  beforeEach(async () => {
    store = createDynamoStore({ client: embedded.client, table: `job-groups-${++tables}` });
    await store.ensureTable();
    now = Date.now();
  });
  afterAll(async () => {
    await embedded.close();
  });

  describe('job concurrency groups', () => {
    it('an order of a busy group waits, saying so, and is dispatched when the running one ends', async () => {
      const { orchestrator } = setup();
      const first = await start(orchestrator, deployPlan(waitOnly));
      // The group name is case-insensitive: `prod` is the same group as `Prod`.
      const second = await start(orchestrator, deployPlan({ ...waitOnly, group: 'prod' }));
      expect((await order(first, 'deploy')).state).toBe('dispatching');
      const waiting = await order(second, 'deploy');
      expect(waiting.state).toBe('queued');
      expect(waiting.reason).toBe('waiting for concurrency group "prod"');
      await finish(orchestrator, first, 'deploy');
      const dispatched = await order(second, 'deploy');
      expect(dispatched.state).toBe('dispatching');
      expect(dispatched.reason).toBeUndefined();
      await finish(orchestrator, second, 'deploy');
      expect((await store.getRun(second))?.status).toBe('succeeded');
    });

    it('a waiting order whose running one fails or is cancelled runs all the same (any final state frees the group)', async () => {
      const { orchestrator } = setup();
      const first = await start(orchestrator, deployPlan(waitOnly));
      const second = await start(orchestrator, deployPlan(waitOnly));
      await orchestrator.cancelRun(first, 'pull request closed');
      expect((await order(first, 'deploy')).state).toBe('cancelled');
      expect((await order(second, 'deploy')).state).toBe('dispatching');
    });

    it('with cancel-in-progress the running order is cancelled (and terminated) and the new one starts', async () => {
      const { orchestrator, terminated } = setup();
      const cancelling = { group: 'prod', cancelInProgress: true };
      const first = await start(orchestrator, deployPlan(cancelling));
      const second = await start(orchestrator, deployPlan(cancelling));
      const old = await order(first, 'deploy');
      expect(old.state).toBe('cancelled');
      expect(old.reason).toBe('cancelled: a newer job in concurrency group "prod" started (cancel-in-progress)');
      expect(terminated).toEqual([`instant:${first}/deploy#1`]);
      expect((await order(second, 'deploy')).state).toBe('dispatching');
      expect((await store.getRun(first))?.status).toBe('cancelled');
    });

    it('a newer waiting order cancels the older waiting one; the newest runs when the group frees', async () => {
      const { orchestrator } = setup();
      const first = await start(orchestrator, deployPlan(waitOnly));
      const second = await start(orchestrator, deployPlan(waitOnly));
      const third = await start(orchestrator, deployPlan(waitOnly));
      const superseded = await order(second, 'deploy');
      expect(superseded.state).toBe('cancelled');
      expect(superseded.reason).toBe('cancelled: a newer job in concurrency group "Prod" is waiting');
      expect((await store.getRun(second))?.status).toBe('cancelled');
      expect((await order(third, 'deploy')).state).toBe('queued');
      await finish(orchestrator, first, 'deploy');
      expect((await order(third, 'deploy')).state).toBe('dispatching');
    });

    it('orders of the same group in two repositories do not interact', async () => {
      const { orchestrator } = setup();
      const here = await start(orchestrator, deployPlan(waitOnly), REPO);
      const there = await start(orchestrator, deployPlan(waitOnly), OTHER_REPO);
      expect((await order(here, 'deploy')).state).toBe('dispatching');
      expect((await order(there, 'deploy')).state).toBe('dispatching');
    });

    it('orders without a group and orders of other groups are not held back', async () => {
      const { orchestrator } = setup();
      const first = await start(orchestrator, deployPlan(waitOnly, [spec('lint')]));
      const second = await start(orchestrator, deployPlan(waitOnly, [spec('lint')]));
      const third = await start(orchestrator, deployPlan({ ...waitOnly, group: 'staging' }));
      expect((await order(first, 'lint')).state).toBe('dispatching');
      expect((await order(second, 'lint')).state).toBe('dispatching');
      expect((await order(second, 'deploy')).state).toBe('queued');
      expect((await order(third, 'deploy')).state).toBe('dispatching');
    });

    it('the watchdog dispatches a waiting order whose group a crash left held by a finished order', async () => {
      const { orchestrator } = setup();
      const first = await start(orchestrator, deployPlan(waitOnly));
      const second = await start(orchestrator, deployPlan(waitOnly));
      // The first order ends without the orchestrator's release (a crash right after its final write).
      await store.updateOrder(first, 'deploy', { states: ['dispatching'] }, { state: 'succeeded', result: 'success' });
      await orchestrator.tick();
      expect((await order(second, 'deploy')).state).toBe('queued'); // the group was written too recently to repair
      now += REDRIVE_AFTER + 1;
      await orchestrator.tick();
      expect((await order(second, 'deploy')).state).toBe('dispatching');
    });

    it('the watchdog dispatches a holder whose dispatch a crash lost after the group was written', async () => {
      const { orchestrator } = setup();
      const runId = await start(
        orchestrator,
        plan([spec('prep'), spec('deploy', { concurrency: waitOnly, needs: ['prep'], needsOrders: ['prep'] })]),
      );
      // `prep` ends and `deploy` takes the group, then the process dies before writing `deploy` as dispatching.
      await store.updateOrder(runId, 'prep', { states: ['dispatching'] }, { state: 'succeeded', result: 'success' });
      await store.satisfyNeed(runId, 'deploy', 'prep');
      const state = { group: 'Prod', running: { runId, unit: 'deploy', since: now }, ending: [] };
      await store.putDoc(JOB_GROUP_DOC, jobGroupKey(REPO, 'Prod'), jobGroupDoc(state, now), {
        expiresAt: now + 86_400_000,
      });
      now += REDRIVE_AFTER + 1;
      const { orchestrator: afterRestart } = setup();
      await afterRestart.tick();
      expect((await order(runId, 'deploy')).state).toBe('dispatching');
    });

    it("a called workflow's jobs under the caller's group are one member: the next run's wait for all of them", async () => {
      const { orchestrator } = setup();
      const unit = { concurrency: waitOnly, concurrencyUnit: 'call' };
      const called = plan([
        spec('call.build', { job: 'call.build', scope: 'call', ...unit }),
        spec('call.test', { job: 'call.test', scope: 'call', needs: ['build'], needsOrders: ['call.build'], ...unit }),
        spec('call.lint', { job: 'call.lint', scope: 'call', ...unit }),
      ]);
      const first = await start(orchestrator, called);
      const second = await start(orchestrator, called);
      // Two independent jobs of one called workflow run side by side: they are one member of the group.
      expect((await order(first, 'call.build')).state).toBe('dispatching');
      expect((await order(first, 'call.lint')).state).toBe('dispatching');
      expect((await order(second, 'call.build')).state).toBe('queued');
      expect((await order(second, 'call.lint')).reason).toBe('waiting for concurrency group "Prod"');
      await finish(orchestrator, first, 'call.build');
      await finish(orchestrator, first, 'call.lint');
      // The first call is not over while its `test` runs: the second still waits.
      expect((await order(first, 'call.test')).state).toBe('dispatching');
      expect((await order(second, 'call.build')).state).toBe('queued');
      await finish(orchestrator, first, 'call.test');
      expect((await order(second, 'call.build')).state).toBe('dispatching');
      expect((await order(second, 'call.lint')).state).toBe('dispatching');
      expect((await order(second, 'call.test')).state).toBe('queued'); // waits for its need, not for the group
    });
  });

  describe('two orchestrators on one group', () => {
    it('orders of five runs started at once through two orchestrators: one runs, one waits, the rest cancelled', async () => {
      const clientB = embedded.secondClient();
      try {
        const storeB = createDynamoStore({ client: clientB, table: `job-groups-${tables}` });
        const a = createOrchestratorHarness({ store, conclude: () => 'hang', now: () => now, reporter: NULL_REPORTER });
        const b = createOrchestratorHarness({ store: storeB, conclude: () => 'hang', now: () => now });
        const ids = Array.from({ length: 5 }, () => `run-${++runs}`);
        await Promise.all(
          ids.map((runId, i) =>
            (i % 2 === 0 ? a : b).orchestrator.startRun(
              testRunInput({ runId, repo: REPO, plan: deployPlan(waitOnly), sha: 'a'.repeat(40), actor: 'alice' }),
            ),
          ),
        );
        const states = await Promise.all(ids.map(async (id) => (await order(id, 'deploy')).state));
        expect(states.filter((s) => s === 'dispatching')).toHaveLength(1);
        expect(states.filter((s) => s === 'queued')).toHaveLength(1);
        expect(states.filter((s) => s === 'cancelled')).toHaveLength(3);
      } finally {
        clientB.destroy();
      }
    });
  });
});
