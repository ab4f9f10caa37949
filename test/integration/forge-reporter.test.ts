import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import pino, { type Logger } from 'pino';
import { COMMENT_MARKER, escapeMarkdown, renderComment } from '../../src/core/render/comment.ts';
import type { OrderRecord, RunPlan, RunRecord } from '../../src/core/types.ts';
import { statusFor } from '../../src/forges/reporter/commit-status.ts';
import { createForgeReporter } from '../../src/forges/reporter/forge-reporter.ts';
import type { Forge } from '../../src/forges/forge.ts';
import type { Reporter } from '../../src/orchestrator.ts';
import { createDynamoStore, type DynamoStore } from '../../src/store/dynamodb.ts';
import { startEmbeddedStore, type EmbeddedStore } from '../../src/store/embedded.ts';
import { makeOrder, makeRun } from '../helpers/dynalite.ts';
import {
  createOrchestratorHarness,
  testRunInput,
  type OrchestratorHarnessOptions,
} from '../helpers/orchestrator-harness.ts';
import { layeredPlan, plan, spec } from '../helpers/plans.ts';
import { FakeForge, retryable, type StatusWrite } from '../helpers/fake-forge.ts';

const PUBLIC_URL = 'https://ci.example.com';
/** One instant for the orchestrator and the reporter (the store filters records by their expiry against the real clock). */
const NOW = Date.now();
const REPO = { forge: 'github', host: 'github.com', owner: 'octo', name: 'app' } as const;
const SHA = 'b'.repeat(40);

let embedded: EmbeddedStore;
let store: DynamoStore;
let tables = 0;
beforeAll(async () => {
  embedded = await startEmbeddedStore({});
});
beforeEach(async () => {
  store = createDynamoStore({ client: embedded.client, table: `forge-reporter-${++tables}` });
  await store.ensureTable();
});
afterAll(async () => {
  await embedded.close();
});

interface Warning {
  msg: string;
}

/** A logger whose warnings the test can read. */
function recordingLogger(): { logger: Logger; warnings: Warning[] } {
  const warnings: Warning[] = [];
  const logger = pino(
    { level: 'warn' },
    {
      write(line: string) {
        warnings.push(JSON.parse(line) as Warning);
      },
    },
  );
  return { logger, warnings };
}

/** The fakes of the current test: the reporter must keep to the forge's limits itself, never rely on a cut. */
const fakes: FakeForge[] = [];
afterEach(() => {
  for (const forge of fakes.splice(0)) expect(forge.oversized).toEqual([]);
});

function setup(
  opts: {
    forge?: FakeForge;
    forRun?: (run: RunRecord) => Promise<Forge | undefined>;
    conclude?: OrchestratorHarnessOptions['conclude'];
  } = {},
) {
  const forge = opts.forge ?? new FakeForge();
  fakes.push(forge);
  const { logger, warnings } = recordingLogger();
  const reporter = createForgeReporter({
    store,
    forges: { forRun: opts.forRun ?? (() => Promise.resolve(forge)) },
    publicUrl: `${PUBLIC_URL}/`,
    logger,
    now: () => NOW,
    retryDelayMs: 0,
  });
  const finished = new Map<string, RunRecord>();
  const waiters = new Map<string, (run: RunRecord) => void>();
  // Forwards to the forge reporter and lets the test wait for a run's end.
  const tee: Reporter = {
    orderChanged: (run, order) => reporter.orderChanged(run, order),
    async runChanged(run) {
      await reporter.runChanged(run);
      if (['succeeded', 'failed', 'cancelled'].includes(run.status)) {
        finished.set(run.runId, run);
        waiters.get(run.runId)?.(run);
      }
    },
  };
  const { orchestrator, instant } = createOrchestratorHarness({
    store,
    reporter: tee,
    ...(opts.conclude ? { conclude: opts.conclude } : {}),
    // The reporter's clock too: a run created "now" replaces a notice set "now".
    now: () => NOW,
  });

  let runs = 0;
  const start = async (p: RunPlan, extra: { pr?: number; sha?: string } = {}): Promise<string> => {
    const runId = `run-${String(tables)}-${String(++runs)}`;
    await orchestrator.startRun(
      testRunInput({
        runId,
        repo: REPO,
        plan: p,
        sha: extra.sha ?? SHA,
        actor: 'alice',
        ...(extra.pr === undefined ? {} : { pr: extra.pr }),
      }),
    );
    return runId;
  };
  const finishedRun = (runId: string): Promise<RunRecord> => {
    const done = finished.get(runId);
    return done ? Promise.resolve(done) : new Promise((resolve) => waiters.set(runId, resolve));
  };
  /** Waits for the run's end, the runner and every forge call. */
  const settle = async (runId: string): Promise<RunRecord> => {
    const run = await finishedRun(runId);
    await instant.idle();
    await reporter.idle();
    return run;
  };
  return { forge, reporter, orchestrator, instant, warnings, start, settle };
}

/** The comment text the reporter should have written: the renderer over what the store holds. */
async function expectedComment(pr: number, notice?: string): Promise<string> {
  const runs = (await store.listRuns({ repo: REPO })).filter((r) => r.pr === pr);
  const atHead = runs.filter((r) => r.sha === runs[0]?.sha);
  return renderComment({
    runs: await Promise.all(atHead.map(async (run) => ({ run, orders: await store.listOrders(run.runId) }))),
    logUrl: (run, order) => `${PUBLIC_URL}/runs/${run}/orders/${order}/log`,
    runUrl: (run) => `${PUBLIC_URL}/runs/${run}`,
    now: NOW,
    ...(notice === undefined ? {} : { notice }),
  });
}

function botComments(forge: FakeForge, pr: number) {
  return forge.commentsOn(REPO, pr).filter((c) => c.author === forge.botLogin);
}

const commentWrites = (forge: FakeForge): number => forge.count('createComment') + forge.count('updateComment');

describe('forge reporter: commit statuses', () => {
  it('writes exactly two statuses per order of a 50-order run in 5 waves: pending at start, then final', async () => {
    const { forge, start, settle } = setup();
    const runId = await start(layeredPlan(5, 10, 2), { pr: 7 });
    expect((await settle(runId)).status).toBe('succeeded');

    expect(forge.statuses).toHaveLength(100);
    const byContext = new Map<string, StatusWrite[]>();
    for (const s of forge.statuses) byContext.set(s.context, [...(byContext.get(s.context) ?? []), s]);
    const expectedContexts = Array.from({ length: 50 }, (_, i) => `spotcheck/ci/l${Math.floor(i / 10)}w${i % 10}`);
    expect([...byContext.keys()].sort()).toEqual(expectedContexts.sort());
    for (const [context, writes] of byContext) {
      const orderId = context.slice('spotcheck/ci/'.length);
      expect(writes.map((w) => w.state)).toEqual(['pending', 'success']);
      expect(writes[0]?.description).toBe('queued');
      expect(writes[1]?.description).toMatch(/^succeeded in \d+s$/);
      for (const w of writes) {
        expect(w.targetUrl).toBe(`${PUBLIC_URL}/runs/${runId}/orders/${orderId}/log`);
        expect(w.sha).toBe(SHA);
        expect(w.repo).toBe('github.com/octo/app');
      }
    }
  });

  it('says what happened in words within 140 characters, with matrix names in the context', async () => {
    const longLabel = `gpu-${'x'.repeat(300)}`;
    const { forge, start, settle } = setup({
      conclude: (r) => (r.order.job === 'lint' ? 'failure' : 'success'),
    });
    const runId = await start(
      plan([
        spec('build', { runsOn: longLabel }),
        spec('test.1', { job: 'test', name: 'test (1, linux)', needs: ['build'], needsOrders: ['build'] }),
        spec('test.2', { job: 'test', name: 'test (2, linux)', needs: ['build'], needsOrders: ['build'] }),
        spec('lint', { continueOnError: true }),
      ]),
    );
    expect((await settle(runId)).status).toBe('failed');
    const latest = forge.statusesAt(SHA);

    const build = latest.get('spotcheck/ci/build');
    expect(build?.state).toBe('failure');
    expect(build?.description).toMatch(/^failed: spotcheck has no route for runs-on label "gpu-x+…$/);
    expect(build?.description).toHaveLength(140);

    for (const cell of ['test (1, linux)', 'test (2, linux)']) {
      const status = latest.get(`spotcheck/ci/${cell}`);
      expect(status).toMatchObject({ state: 'success', description: 'skipped: needed job "build" failed' });
      expect(status?.targetUrl).toMatch(/\/orders\/test\.[12]\/log$/);
    }
    // A job allowed to fail shows success, with the failure said in words.
    expect(latest.get('spotcheck/ci/lint')).toMatchObject({
      state: 'success',
      description: 'failed, allowed by continue-on-error',
    });
    for (const s of forge.statuses) expect(s.description.length).toBeLessThanOrEqual(140);
    expect(forge.statuses).toHaveLength(8);
  });

  it('marks cancelled orders as error, with the reason', async () => {
    const { forge, orchestrator, start, settle } = setup({ conclude: () => 'hang' });
    const runId = await start(plan([spec('slow')]));
    await orchestrator.cancelRun(runId, 'the pull request was closed');
    expect((await settle(runId)).status).toBe('cancelled');
    expect(forge.statuses.map((s) => [s.state, s.description])).toEqual([
      ['pending', 'queued'],
      ['error', 'cancelled: the pull request was closed'],
    ]);
  });

  describe('statusFor', () => {
    const ctx = { workflow: 'ci', targetUrl: 'https://x/log', maxDescription: 140, now: NOW };
    const base = makeOrder('r', 'test.2', { name: 'test (2)', startedAt: NOW - 65_000, finishedAt: NOW });
    const cases: [string, Partial<OrderRecord>, string, string][] = [
      ['queued', { state: 'queued' }, 'pending', 'queued'],
      [
        'waiting for its job concurrency group',
        { state: 'queued', reason: 'waiting for concurrency group "deploy"' },
        'pending',
        'queued: waiting for concurrency group "deploy"',
      ],
      [
        'cancelled by its job concurrency group',
        {
          state: 'cancelled',
          result: 'cancelled',
          reason: 'cancelled: a newer job in concurrency group "deploy" is waiting',
        },
        'error',
        'cancelled: a newer job in concurrency group "deploy" is waiting',
      ],
      ['running', { state: 'running' }, 'pending', 'running'],
      ['succeeded', { state: 'succeeded', result: 'success' }, 'success', 'succeeded in 1m 05s'],
      [
        'failed step',
        { state: 'failed', result: 'failure', reason: 'step "Test" failed (exit code 2)' },
        'failure',
        'failed: step "Test" failed (exit code 2)',
      ],
      ['failed, no reason', { state: 'failed', result: 'failure' }, 'failure', 'failed'],
      [
        'continue-on-error',
        { state: 'failed', result: 'success', reason: 'step "Test" failed (exit code 2) (continue-on-error)' },
        'success',
        'failed, allowed by continue-on-error: step "Test" failed (exit code 2)',
      ],
      [
        'timed out',
        { state: 'timed_out', result: 'failure', reason: 'timed out after 10 minutes (timeout-minutes)' },
        'failure',
        'timed out after 10 minutes (timeout-minutes)',
      ],
      [
        'skipped',
        { state: 'skipped', result: 'skipped', reason: 'skipped: needed job "build" failed' },
        'success',
        'skipped: needed job "build" failed',
      ],
      [
        'cancelled by fail-fast',
        { state: 'cancelled', result: 'cancelled', reason: 'cancelled by fail-fast: test (1) failed' },
        'error',
        'cancelled by fail-fast: test (1) failed',
      ],
      [
        'reason with newlines',
        { state: 'failed', result: 'failure', reason: 'line one\nline two' },
        'failure',
        'failed: line one line two',
      ],
    ];
    it.each(cases)('%s', (_name, changes, state, description) => {
      const status = statusFor({ ...base, ...changes }, ctx);
      expect(status).toEqual({ context: 'spotcheck/ci/test (2)', state, description, targetUrl: 'https://x/log' });
    });

    it('cuts long descriptions to the limit in code units, never splitting a surrogate pair', () => {
      const reason = `${'a'.repeat(130)}${'😀'.repeat(20)}`;
      const status = statusFor({ ...base, state: 'failed', result: 'failure', reason }, ctx);
      expect(status.description.length).toBeLessThanOrEqual(140);
      expect(status.description.endsWith('…')).toBe(true);
      expect(status.description).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/);
    });
  });
});

describe('forge reporter: the sticky comment', () => {
  it('coalesces edits to at most waves + 2 and ends with the full text', async () => {
    const { forge, start, settle } = setup();
    const runId = await start(layeredPlan(5, 10, 2), { pr: 7 });
    await settle(runId);
    expect(forge.count('createComment')).toBe(1);
    expect(commentWrites(forge)).toBeLessThanOrEqual(5 + 2);
    expect(forge.count('findStickyComment')).toBe(1);
    const [comment, ...others] = botComments(forge, 7);
    expect(others).toHaveLength(0);
    expect(comment?.body).toBe(await expectedComment(7));
    expect(comment?.body).toContain('✅ spotcheck succeeded');
    expect(comment?.body).toContain(`${PUBLIC_URL}/runs/${runId}/orders/l4w9/log`);
  });

  it('lists every run of the PR at its head SHA in one comment', async () => {
    const { forge, start, settle } = setup();
    const [a, b] = await Promise.all([
      start(plan([spec('build')], { workflowName: 'ci', file: '.spotcheck/workflows/ci.yml' }), { pr: 3 }),
      start(plan([spec('lint')], { workflowName: 'lint', file: '.spotcheck/workflows/lint.yml' }), { pr: 3 }),
    ]);
    await settle(a);
    await settle(b);
    const [comment, ...others] = botComments(forge, 3);
    expect(others).toHaveLength(0);
    expect(comment?.body).toBe(await expectedComment(3));
    expect(comment?.body).toMatch(/#### ✅ ci · succeeded/);
    expect(comment?.body).toMatch(/#### ✅ lint · succeeded/);
    // Two runs of one wave each: at most (1 + 2) writes per run.
    expect(commentWrites(forge)).toBeLessThanOrEqual(6);
  });

  it('does not edit when the text is unchanged, and finds its comment again after a restart', async () => {
    const { forge, start, settle, reporter } = setup();
    const runId = await start(plan([spec('build')]), { pr: 5 });
    const run = await settle(runId);
    const writes = commentWrites(forge);
    const finds = forge.count('findStickyComment');

    await reporter.runChanged(run);
    await reporter.idle();
    expect(commentWrites(forge)).toBe(writes);
    expect(forge.count('findStickyComment')).toBe(finds);

    // A new process knows nothing: it finds the comment by marker and authorship, sees the same text, writes nothing.
    const restarted = createForgeReporter({
      store,
      forges: { forRun: () => Promise.resolve(forge) },
      publicUrl: PUBLIC_URL,
      logger: pino({ level: 'silent' }),
      now: () => NOW,
    });
    await restarted.runChanged(run);
    await restarted.idle();
    expect(forge.count('findStickyComment')).toBe(finds + 1);
    expect(commentWrites(forge)).toBe(writes);
    expect(botComments(forge, 5)).toHaveLength(1);
  });

  it("never edits another user's comment that carries the marker", async () => {
    const forge = new FakeForge();
    const planted = forge.seedComment(REPO, 9, `${COMMENT_MARKER}\nall green, trust me`, 'mallory');
    const { start, settle } = setup({ forge });
    await settle(await start(plan([spec('build')]), { pr: 9 }));
    expect(planted.body).toBe(`${COMMENT_MARKER}\nall green, trust me`);
    expect(planted.edits).toBe(0);
    const mine = botComments(forge, 9);
    expect(mine).toHaveLength(1);
    expect(mine[0]?.body).toBe(await expectedComment(9));
  });

  it('makes one render in flight and at most one follow-up for concurrent triggers', async () => {
    const forge = new FakeForge();
    const { reporter } = setup({ forge });
    const run = makeRun('r-flight', { repo: REPO, pr: 11, status: 'succeeded', orderCount: 1, finishedAt: NOW });
    await store.createRun(run, [makeOrder('r-flight', 'build', { state: 'running', startedAt: NOW - 1000 })]);

    const release = forge.holdCommentWrites();
    await reporter.runChanged(run);
    // Wait until the first render is blocked in createComment, then change the data and trigger ten more times.
    while (forge.inflightCommentWrites === 0) await new Promise((resolve) => setImmediate(resolve));
    await store.updateOrder('r-flight', 'build', { states: ['running'] }, { state: 'succeeded', finishedAt: NOW });
    for (let i = 0; i < 10; i++) await reporter.runChanged(run);
    release();
    await reporter.idle();

    expect(forge.maxInflightCommentWrites).toBe(1);
    expect(forge.count('createComment')).toBe(1);
    expect(forge.count('updateComment')).toBe(1);
    expect(botComments(forge, 11)[0]?.body).toBe(await expectedComment(11));
  });

  it('re-renders on an order change only with refreshMs, when the last render is old enough', async () => {
    for (const [i, refreshMs] of [undefined, 0].entries()) {
      const forge = new FakeForge();
      const runId = `r-refresh-${String(refreshMs)}`;
      const reporter = createForgeReporter({
        store,
        forges: { forRun: () => Promise.resolve(forge) },
        publicUrl: PUBLIC_URL,
        logger: pino({ level: 'silent' }),
        now: () => NOW,
        ...(refreshMs === undefined ? {} : { refreshMs }),
      });
      // A PR of its own per forge: the store remembers the claim to create the first comment of each PR.
      const run = makeRun(runId, { repo: REPO, pr: 30 + i, status: 'running', orderCount: 1 });
      const order = makeOrder(runId, 'build', { state: 'dispatching', dispatchedAt: NOW - 2000 });
      await store.createRun(run, [order]);
      await reporter.orderChanged(run, order); // wave 0 first dispatched: a render
      await reporter.idle();
      const running = await store.updateOrder(
        runId,
        'build',
        { states: ['dispatching'] },
        { state: 'running', startedAt: NOW - 1000 },
      );
      await reporter.orderChanged(run, running!);
      await reporter.idle();
      expect(forge.count('updateComment')).toBe(refreshMs === undefined ? 0 : 1);
    }
  });

  it('makes no comment for push runs', async () => {
    const { forge, start, settle } = setup();
    await settle(await start(layeredPlan(2, 3, 1)));
    expect(forge.count('findStickyComment')).toBe(0);
    expect(commentWrites(forge)).toBe(0);
    expect(forge.statuses).toHaveLength(12);
  });

  it('reports nothing for a run without a forge (a local run)', async () => {
    const forge = new FakeForge();
    const { start, settle } = setup({ forge, forRun: () => Promise.resolve(undefined) });
    const run = await settle(await start(plan([spec('build')]), { pr: 4 }));
    expect(run.status).toBe('succeeded');
    expect(forge.count()).toBe(0);
  });
});

describe('forge reporter: notices', () => {
  it('shows a notice on a PR with no run, escaped user text included, and writes it once', async () => {
    const { forge, reporter } = setup();
    const line = `**${escapeMarkdown('@evil|user', 60)}** is not a member of octo: a member can comment \`!testme\``;
    await reporter.notice({ repo: REPO, pr: 12, forge }, line);
    await reporter.notice({ repo: REPO, pr: 12, forge }, line);
    await reporter.idle();
    const [comment, ...others] = botComments(forge, 12);
    expect(others).toHaveLength(0);
    expect(comment?.body).toBe(await expectedComment(12, line));
    expect(comment?.body).toContain('@&#8203;evil\\|user');
    expect(commentWrites(forge)).toBe(1);
  });

  it('keeps a notice on top until the next run replaces it', async () => {
    const { forge, reporter, start, settle } = setup();
    const first = await settle(await start(plan([spec('build')]), { pr: 13 }));

    const line = 'The head moved after the `!testme` comment: nothing was run.';
    await reporter.notice(first, line);
    await reporter.idle();
    const withNotice = botComments(forge, 13)[0]?.body ?? '';
    expect(withNotice.split('\n')[1]).toBe(line);
    expect(withNotice).toBe(await expectedComment(13, line));

    await settle(await start(plan([spec('build')]), { pr: 13, sha: 'c'.repeat(40) }));
    const after = botComments(forge, 13)[0]?.body ?? '';
    expect(after).not.toContain(line);
    expect(after).toBe(await expectedComment(13));
    expect(after).toContain('`ccccccc`');
    expect(botComments(forge, 13)).toHaveLength(1);
  });

  it('ignores a notice for a push run (no PR, no comment)', async () => {
    const { forge, reporter, start, settle } = setup();
    const run = await settle(await start(plan([spec('build')])));
    await reporter.notice(run, 'nothing to see');
    await reporter.idle();
    expect(commentWrites(forge)).toBe(0);
  });
});

describe('forge reporter: forge failures', () => {
  it('retries a few times, logs, and never breaks the run', async () => {
    const forge = new FakeForge();
    forge.failNext('setStatus', retryable, Infinity);
    forge.failNext('findStickyComment', retryable, Infinity);
    const { warnings, start, settle } = setup({ forge });
    const run = await settle(await start(layeredPlan(3, 2, 1), { pr: 21 }));
    expect(run.status).toBe('succeeded');
    expect((await store.listOrders(run.runId)).every((o) => o.state === 'succeeded')).toBe(true);
    // 6 orders × 2 writes × 3 tries, then given up.
    expect(forge.count('setStatus')).toBe(36);
    expect(forge.statuses).toHaveLength(0);
    expect(commentWrites(forge)).toBe(0);
    const messages = new Set(warnings.map((w) => w.msg));
    expect(messages).toEqual(new Set(['commit status not written', 'sticky comment not written']));
  });

  it('gets through transient errors with retries', async () => {
    const forge = new FakeForge();
    forge.failNext('setStatus', retryable, 2);
    forge.failNext('createComment', retryable, 1);
    const { start, settle, warnings } = setup({ forge });
    const run = await settle(await start(plan([spec('a'), spec('b')]), { pr: 22 }));
    expect(forge.statuses).toHaveLength(4);
    expect(botComments(forge, 22)[0]?.body).toBe(await expectedComment(22));
    expect(run.status).toBe('succeeded');
    expect(warnings).toHaveLength(0);
  });

  it('does not retry a permanent error', async () => {
    const forge = new FakeForge();
    forge.failNext('setStatus', () => new Error('boom'), Infinity);
    const { start, settle } = setup({ forge });
    await settle(await start(plan([spec('a')])));
    expect(forge.count('setStatus')).toBe(2);
  });

  it('carries on when finding the forge fails', async () => {
    const { start, settle, warnings } = setup({ forRun: () => Promise.reject(new Error('no installation')) });
    const run = await settle(await start(plan([spec('a')]), { pr: 23 }));
    expect(run.status).toBe('succeeded');
    expect(warnings.map((w) => w.msg)).toContain('no forge for the run; not reporting it');
  });
});
