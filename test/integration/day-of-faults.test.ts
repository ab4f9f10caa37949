/**
 * A simulated day of faults, ending with every order in a final state and no instance left behind (issue 6, "How it
 * will be checked").
 *
 * A fake clock walks through a day minute by minute. Runs start on a schedule; the real Orchestrator, Spot runner,
 * CodeBuild runner and janitor (built by `openOperations`, as `spotcheck watchdog` builds them) work on the embedded
 * store and on EC2/CodeBuild state machines behind aws-sdk-client-mock (test/contract/fake-aws.ts). Agents are
 * simulated: each instance or build that "boots" exchanges the one-time bootstrap token from its user data (or its
 * environment overrides) and reports through the orchestrator's ReportSink, or does what its injected fault says.
 * Every simulated minute: one watchdog tick and one janitor sweep.
 *
 * Injected: capacity errors on a share of launches (and two outages where nothing has capacity), Spot reclaims
 * mid-order, lost final callbacks, agents that hang (timeouts) or never start (lifetime cap), CodeBuild faults,
 * and crashes between launch and write (the launch succeeds, then the process "dies" before recording the handle:
 * its call never returns and a fresh process takes over the same store).
 *
 * The faults are decided up front (`planFaults`): each attempt's fate, work time and capacity answers are a function
 * of the seed and the attempt alone, never of the order in which concurrent calls happen to draw, and every kind of
 * fault is also placed by hand on an attempt the day surely reaches. The assertions then compare each injected fault
 * with the end the design promises for it, so they hold however a slower store or a busy machine interleaves calls.
 */
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OrderRef, Runner } from '../../runners/runner.ts';
import type { RunnerKind } from '../../runners/registry.ts';
import { BUILD_MARKERS } from '../../runners/codebuild.ts';
import { redeemBootstrapToken } from '../../src/server/bootstrap-tokens.ts';
import { DEFAULT_LIMITS, defaultConfig, type OperatorConfig } from '../../src/config.ts';
import { buildGithubContext } from '../../src/core/github-context.ts';
import { isFinalOrderState, type OrderRecord } from '../../src/core/types.ts';
import { RunnerError } from '../../src/errors.ts';
import { openOperations, type Operations } from '../../src/app/operations.ts';
import { createDynamoStore, type DynamoStore } from '../../src/store/dynamodb.ts';
import { startEmbeddedStore, type EmbeddedStore } from '../../src/store/embedded.ts';
import { createFakeCodeBuild, createFakeEc2 } from '../contract/fake-aws.ts';
import { plan, spec } from '../helpers/plans.ts';

const MINUTE = 60_000;
/** 2025-06-02T00:00:00Z, a Monday. */
const T0 = Date.UTC(2025, 5, 2);
const DAY_MINUTES = 24 * 60;
/** After the last run starts, the day may overrun this long to let everything end. */
const OVERRUN_MINUTES = 4 * 60;
const LIFETIME_MINUTES = 60;
const SPOT_TIMEOUT = 15;
const BUILD_TIMEOUT = 25;
const MAX_ATTEMPTS = 3;
/** About 45 s of CPU: 130 s at load 16, 520 s at load 12 plus two busy loops. A hang never settles, so it still
 * ends here. */
const DAY_TIMEOUT = 1_200_000;

const SEED = 20250602;
/** Two windows where nothing, not even on demand, has capacity; each opens as a run starts (08:50 and 14:50), so a
 * launch surely meets it. */
const OUTAGES: readonly (readonly [from: number, to: number])[] = [
  [8 * 60 + 50, 9 * 60 + 2],
  [14 * 60 + 50, 14 * 60 + 58],
];

/** Mulberry32: a small seeded generator. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type SpotFate = 'ok' | 'fail' | 'reclaim' | 'lost-callback' | 'hang' | 'wedged';
type BuildFate = 'ok' | 'lost-callback' | 'hang' | 'fault';
type CrashVariant = 'redrive' | 'cancel' | 'cancel-wedged';

/** The fault each runner's fate stands for (`ok` and `fail` are not faults). */
const FAULT_KIND: Record<string, string> = {
  'spot:reclaim': 'spot reclaim mid-order',
  'spot:lost-callback': 'lost final callback (spot)',
  'spot:hang': 'agent hangs: timeout (spot)',
  'spot:wedged': 'agent never starts: lifetime cap (spot)',
  'codebuild:lost-callback': 'lost final callback (codebuild)',
  'codebuild:hang': 'agent hangs: timeout (codebuild)',
  'codebuild:fault': 'codebuild fault',
};
const crashKind = (variant: CrashVariant): string => `crash between launch and write (${variant})`;

/**
 * A number in [0, 1) fixed by the seed and the decision's name (FNV-1a, then one Mulberry32 step to spread it): the
 * same decision gets the same number in every run, whenever and in whatever order it is asked.
 */
function decider(seed: number): (...name: readonly (string | number)[]) => number {
  return (...name) => {
    let h = (0x811c9dc5 ^ seed) >>> 0;
    for (const ch of name.join('|')) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0;
    return seeded(h)();
  };
}

interface FaultPlan {
  /** What the agent of one attempt does. */
  spotFate(ref: OrderRef): SpotFate;
  buildFate(ref: OrderRef): BuildFate;
  /** How long the agent of one attempt works before it reports (or hangs). */
  workMinutes(ref: OrderRef, kind: Agent['kind']): number;
  /** When a reclaimed instance's notice runs out, after its agent started. */
  reclaimAfterMinutes(ref: OrderRef): number;
  /** The error the `nth` RunInstances call of an attempt in one pool (type and market) gets, or undefined. */
  spotRefusal(ref: OrderRef, pool: string, nth: number): string | undefined;
  /** The error the `nth` StartBuild call of an attempt gets, or undefined. */
  buildRefusal(ref: OrderRef, nth: number): string | undefined;
  /** Runs whose first launch of `order` crashes the process between launch and write. */
  readonly crashes: ReadonlyMap<string, { readonly order: string; readonly variant: CrashVariant }>;
  /** Attempts given a fault by hand, so each kind happens on a path the day surely reaches: key → fate, and the
   * kind of fault the day must record for it. */
  readonly placed: ReadonlyMap<string, { readonly fate: SpotFate | BuildFate; readonly kind: string }>;
}

/**
 * The day's faults from the seed. Drawn: each attempt's fate (spot: half ok, then fail, reclaim, lost callback,
 * hang, wedged; CodeBuild: over half ok, then lost callback, hang, fault) and work time, and the capacity answers.
 * Placed: every kind of fault at least once (day-02, 04, 06), an order reclaimed on every attempt (day-05), a launch
 * no Spot pool takes (day-06 build, so it falls back to on demand), and seven crashes between launch and write.
 * A placed fault's run has a build that always succeeds, so the faulty order is surely launched.
 */
function planFaults(seed: number): FaultPlan {
  const draw = decider(seed);
  const crashes = new Map<string, { order: string; variant: CrashVariant }>([
    ['day-03', { order: 'build', variant: 'redrive' }],
    ['day-07', { order: 'build', variant: 'cancel' }],
    ['day-11', { order: 'e2e', variant: 'redrive' }],
    ['day-15', { order: 'build', variant: 'cancel-wedged' }],
    ['day-19', { order: 'build', variant: 'redrive' }],
    ['day-24', { order: 'build', variant: 'cancel-wedged' }],
    ['day-29', { order: 'e2e', variant: 'redrive' }],
  ]);
  const placed = new Map<string, { fate: SpotFate | BuildFate; kind: string }>();
  // e2e runs on CodeBuild, the other orders on Spot.
  const place = (k: string, fate: SpotFate | BuildFate): void => {
    placed.set(k, { fate, kind: FAULT_KIND[`${k.includes('/e2e#') ? 'codebuild' : 'spot'}:${fate}`]! });
  };
  place('day-02/test.1#1', 'lost-callback');
  place('day-02/test.2#1', 'hang');
  place('day-02/e2e#1', 'lost-callback');
  place('day-04/test.1#1', 'wedged');
  place('day-04/test.2#1', 'reclaim');
  place('day-04/e2e#1', 'hang');
  place('day-06/e2e#1', 'fault');
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) place(`day-05/test.2#${attempt}`, 'reclaim');
  const alwaysOk = new Set(['day-02/build', 'day-04/build', 'day-05/build', 'day-06/build']);
  // The crashed execution does what its variant needs: a healthy agent, or one wedged at boot. Its launch must reach
  // EC2 (or CodeBuild) at once, and an e2e crash needs its build to succeed.
  const crashKeys = new Set<string>();
  for (const [runId, { order, variant }] of crashes) {
    const k = `${runId}/${order}#1`;
    crashKeys.add(k);
    placed.set(k, { fate: variant === 'cancel-wedged' ? 'wedged' : 'ok', kind: crashKind(variant) });
    if (order !== 'build') alwaysOk.add(`${runId}/build`);
  }
  const fixed = (ref: OrderRef): SpotFate | BuildFate | undefined =>
    placed.get(key(ref))?.fate ?? (alwaysOk.has(`${ref.runId}/${ref.orderId}`) ? 'ok' : undefined);
  return {
    crashes,
    placed,
    spotFate(ref) {
      const r = draw('spot fate', key(ref));
      const drawn: SpotFate =
        r < 0.5
          ? 'ok'
          : r < 0.6
            ? 'fail'
            : r < 0.72
              ? 'reclaim'
              : r < 0.8
                ? 'lost-callback'
                : r < 0.9
                  ? 'hang'
                  : 'wedged';
      return (fixed(ref) as SpotFate | undefined) ?? drawn;
    },
    buildFate(ref) {
      const r = draw('build fate', key(ref));
      const drawn: BuildFate = r < 0.55 ? 'ok' : r < 0.7 ? 'lost-callback' : r < 0.85 ? 'hang' : 'fault';
      return (fixed(ref) as BuildFate | undefined) ?? drawn;
    },
    workMinutes(ref, kind) {
      const r = draw('work minutes', key(ref));
      return kind === 'codebuild' ? 8 + Math.floor(r * 11) : 3 + Math.floor(r * 7);
    },
    reclaimAfterMinutes: (ref) => 1 + Math.floor(draw('reclaim after', key(ref)) * 2),
    spotRefusal(ref, pool, nth) {
      const k = key(ref);
      if (crashKeys.has(k)) return undefined;
      if (k === 'day-06/build#1' && pool.endsWith('/spot')) return 'InsufficientInstanceCapacity';
      if (!pool.endsWith('/spot')) return undefined;
      if (pool.startsWith('c7i.large/') && draw('c7i capacity', k, pool, nth) < 0.45)
        return 'InsufficientInstanceCapacity';
      const r = draw('spot capacity', k, pool, nth);
      return r < 0.15 ? 'MaxSpotInstanceCountExceeded' : r < 0.3 ? 'InsufficientInstanceCapacity' : undefined;
    },
    buildRefusal: (ref, nth) =>
      !crashKeys.has(key(ref)) && draw('build capacity', key(ref), nth) < 0.1
        ? 'AccountLimitExceededException'
        : undefined,
  };
}

interface Agent {
  readonly id: string;
  readonly kind: 'spot' | 'codebuild';
  readonly ref: OrderRef;
  readonly token: string;
  readonly fate: SpotFate | BuildFate;
  readonly launchedAt: number;
  phase: 'booting' | 'running' | 'wedged' | 'done';
  bootAt: number;
  endAt: number;
  interruptAt?: number;
}

interface Fault {
  readonly kind: string;
  readonly key: string;
  readonly ref: OrderRef;
  readonly execId?: string;
}

const key = (ref: OrderRef): string => `${ref.runId}/${ref.orderId}#${ref.attempt}`;

const config: OperatorConfig = {
  routes: new Map([
    [
      'spot',
      {
        label: 'spot',
        runner: 'spot',
        settings: {
          instanceTypes: ['c7i.large', 'c6i.large'],
          subnets: ['subnet-0a0a0a0a', 'subnet-0b0b0b0b'],
          securityGroups: ['sg-0c0c0c0c'],
          ami: 'ami-0d0d0d0d',
          onDemandFallback: true,
          maxLifetimeMinutes: LIFETIME_MINUTES,
          region: 'eu-west-1',
        },
      },
    ],
    ['long', { label: 'long', runner: 'codebuild', settings: { project: 'spotcheck-long', region: 'eu-west-1' } }],
  ]),
  limits: { ...DEFAULT_LIMITS, maxConcurrentOrders: 8, maxAttempts: MAX_ATTEMPTS },
  store: { kind: 'embedded', dir: 'unused', table: 'unused' },
  publicUrl: 'https://ci.example.com',
  workflows: defaultConfig().workflows,
};

/** build (spot) → test.1, test.2 (spot matrix) and e2e (CodeBuild). */
const runPlan = plan([
  spec('build', { runsOn: 'spot', timeoutMinutes: SPOT_TIMEOUT }),
  ...[1, 2].map((shard) =>
    spec(`test.${shard}`, {
      job: 'test',
      runsOn: 'spot',
      needs: ['build'],
      needsOrders: ['build'],
      matrix: { shard },
      failFast: false,
      timeoutMinutes: SPOT_TIMEOUT,
    }),
  ),
  spec('e2e', { runsOn: 'long', needs: ['build'], needsOrders: ['build'], timeoutMinutes: BUILD_TIMEOUT }),
]);

let embedded: EmbeddedStore;
let store: DynamoStore;
let now = T0;
const clock = (): number => now;

beforeAll(async () => {
  embedded = await startEmbeddedStore({});
  store = createDynamoStore({ client: embedded.client, table: 'day-of-faults', now: clock });
  await store.ensureTable();
});
afterAll(async () => {
  await embedded.close();
});

describe('a simulated day of faults', { timeout: DAY_TIMEOUT }, () => {
  it('ends with every order final, every run final, no instance or build left, no attempt launched twice', async () => {
    const faultPlan = planFaults(SEED);

    // --- capacity: a share of Spot launches refused, two outages where nothing (not even on demand) has capacity
    const outage = (t: number): boolean => {
      const m = (t - T0) / MINUTE;
      return OUTAGES.some(([from, to]) => m >= from && m < to);
    };
    const refusals = new Map<string, number>();
    const refuse = (code: string | undefined): string | undefined => {
      if (code !== undefined) refusals.set(code, (refusals.get(code) ?? 0) + 1);
      return code;
    };
    /** Calls so far per attempt and pool, so each call's capacity answer is its own planned decision. */
    const calls = new Map<string, number>();
    const nthCall = (name: string): number => {
      const n = (calls.get(name) ?? 0) + 1;
      calls.set(name, n);
      return n;
    };
    const ec2 = createFakeEc2({
      clock,
      refuse: (input) => {
        if (outage(now)) return refuse('InsufficientInstanceCapacity');
        const tags = new Map(
          (input.TagSpecifications ?? [])
            .filter((spec) => spec.ResourceType === 'instance')
            .flatMap((spec) => spec.Tags ?? [])
            .map((t) => [t.Key, t.Value]),
        );
        const ref = {
          runId: tags.get('spotcheck:run')!,
          orderId: tags.get('spotcheck:order')!,
          attempt: Number(tags.get('spotcheck:attempt')),
        };
        const market = input.InstanceMarketOptions?.MarketType === 'spot' ? 'spot' : 'on-demand';
        const pool = `${input.InstanceType ?? ''}/${input.SubnetId ?? ''}/${market}`;
        return refuse(faultPlan.spotRefusal(ref, pool, nthCall(`${key(ref)} ${pool}`)));
      },
    });
    const codebuild = createFakeCodeBuild({
      clock,
      refuse: (input) => {
        const env = new Map((input.environmentVariablesOverride ?? []).map((v) => [v.name, v.value]));
        const ref = {
          runId: env.get(BUILD_MARKERS.run)!,
          orderId: env.get(BUILD_MARKERS.order)!,
          attempt: Number(env.get(BUILD_MARKERS.attempt)),
        };
        return refuse(faultPlan.buildRefusal(ref, nthCall(`${key(ref)} codebuild`)));
      },
    });

    // --- processes: each boot is a fresh orchestrator (and runners) on the same store
    const faults: Fault[] = [];
    const armedCrashes = new Map<string, CrashVariant>();
    const crashVariantOfRun = new Map<string, CrashVariant>();
    const crashedExec = new Map<string, string>();
    const tally = { noCapacityRounds: 0, processes: 0 };
    const allRunners: Runner[] = [];
    let current: Operations;
    let crash = deferred<'crash'>();

    const boot = async (): Promise<Operations> => {
      const ops = await openOperations({
        config,
        env: {},
        logger: pino({ level: 'silent' }),
        now: clock,
        store,
        ec2: () => ec2.client,
        codebuild: () => codebuild.client,
      });
      tally.processes += 1;
      const runners: Partial<Record<RunnerKind, Runner>> = ops.runners;
      for (const kind of ['spot', 'codebuild'] as const) {
        const real = runners[kind];
        if (real === undefined) continue;
        allRunners.push(real);
        runners[kind] = {
          kind: real.kind,
          launch: async (request) => {
            let handle: string;
            try {
              ({ handle } = await real.launch(request));
            } catch (error) {
              if (error instanceof RunnerError && error.code === 'NoCapacity') tally.noCapacityRounds += 1;
              throw error;
            }
            const k = key(request.job.ref);
            const variant = armedCrashes.get(k);
            if (variant !== undefined && ops === current) {
              // The launch reached EC2 (or CodeBuild); the process dies before it records the handle.
              armedCrashes.delete(k);
              crashedExec.set(k, handle);
              faults.push({
                kind: crashKind(variant),
                key: k,
                ref: request.job.ref,
                execId: handle,
              });
              crash.resolve('crash');
              return new Promise<never>(() => undefined);
            }
            return { handle };
          },
          terminate: (handle, reason) => real.terminate(handle, reason),
          isAlive: (handle) => real.isAlive(handle),
          ...(real.inspect ? { inspect: (handle: string) => real.inspect!(handle) } : {}),
        };
      }
      return ops;
    };
    current = await boot();

    /** Runs one call on the current process; when the process "dies" during it, a fresh one takes over. */
    const survive = async (work: (ops: Operations) => Promise<unknown>): Promise<boolean> => {
      const outcome = await Promise.race([work(current).then(() => 'done' as const), crash.promise]);
      if (outcome === 'done') return false;
      crash = deferred<'crash'>();
      current = await boot();
      return true;
    };

    // --- the schedule: a run every 40 minutes; the plan says which runs crash
    const runIds: string[] = [];
    const schedule = new Map<number, string>();
    for (let m = 10, i = 1; m < DAY_MINUTES; m += 40, i++) schedule.set(m, `day-${String(i).padStart(2, '0')}`);

    const startRun = async (runId: string): Promise<void> => {
      runIds.push(runId);
      const crashAt = faultPlan.crashes.get(runId);
      if (crashAt) {
        armedCrashes.set(key({ runId, orderId: crashAt.order, attempt: 1 }), crashAt.variant);
        crashVariantOfRun.set(runId, crashAt.variant);
      }
      const sha = runId.replace(/\D/g, '').padStart(40, 'a');
      const github = buildGithubContext({
        event: 'push',
        ref: 'refs/heads/main',
        sha,
        repository: 'acme/widgets',
        actor: 'octocat',
        serverUrl: 'https://github.com',
        workflow: 'ci',
      });
      await survive((ops) =>
        ops.orchestrator.startRun({
          runId,
          repo: { forge: 'github', host: 'github.com', owner: 'acme', name: 'widgets' },
          plan: runPlan,
          event: 'push',
          ref: 'refs/heads/main',
          sha,
          actor: 'octocat',
          github,
        }),
      );
    };

    // --- the agents
    const agents = new Map<string, Agent>();
    const seen = new Set<string>();

    const discover = (): void => {
      for (const instance of ec2.instances.values()) {
        if (seen.has(instance.id)) continue;
        seen.add(instance.id);
        const ref = {
          runId: instance.tags['spotcheck:run']!,
          orderId: instance.tags['spotcheck:order']!,
          attempt: Number(instance.tags['spotcheck:attempt']),
        };
        const script = Buffer.from(instance.input.UserData ?? '', 'base64').toString('utf8');
        const token = /SPOTCHECK_BOOTSTRAP_TOKEN='([A-Za-z0-9_-]+)'/.exec(script)?.[1] ?? '';
        adopt({
          id: instance.id,
          kind: 'spot',
          ref,
          token,
          fate: faultPlan.spotFate(ref),
          launchedAt: instance.launchTime,
        });
      }
      for (const build of codebuild.builds.values()) {
        if (seen.has(build.id)) continue;
        seen.add(build.id);
        const env = new Map(build.env.map((v) => [v.name, v.value]));
        const ref = {
          runId: env.get(BUILD_MARKERS.run)!,
          orderId: env.get(BUILD_MARKERS.order)!,
          attempt: Number(env.get(BUILD_MARKERS.attempt)),
        };
        const token = env.get('SPOTCHECK_BOOTSTRAP_TOKEN') ?? '';
        adopt({
          id: build.id,
          kind: 'codebuild',
          ref,
          token,
          fate: faultPlan.buildFate(ref),
          launchedAt: build.startTime,
        });
      }
    };
    const adopt = (agent: Omit<Agent, 'phase' | 'bootAt' | 'endAt'>): void => {
      const k = key(agent.ref);
      agents.set(agent.id, { ...agent, phase: 'booting', bootAt: now + 2 * MINUTE, endAt: Number.POSITIVE_INFINITY });
      const kind = FAULT_KIND[`${agent.kind}:${agent.fate}`];
      // A crash's own execution is counted as the crash; its fate only serves the variant.
      if (kind !== undefined && !crashedExec.has(k)) faults.push({ kind, key: k, ref: agent.ref, execId: agent.id });
    };

    const live = (agent: Agent): boolean =>
      agent.kind === 'spot'
        ? ['pending', 'running'].includes(ec2.instances.get(agent.id)!.state)
        : codebuild.builds.get(agent.id)!.status === 'IN_PROGRESS';
    const powerOff = (agent: Agent, buildStatus: 'SUCCEEDED' | 'FAILED' | 'FAULT' = 'SUCCEEDED'): void => {
      agent.phase = 'done';
      if (!live(agent)) return;
      if (agent.kind === 'spot') ec2.powerOff(agent.id);
      else codebuild.finish(agent.id, buildStatus);
    };
    const report = (ref: OrderRef, conclusion?: 'success' | 'failure'): Promise<boolean> =>
      survive((ops) =>
        ops.orchestrator.report(
          ref,
          conclusion === undefined
            ? { type: 'running' }
            : { type: 'finished', conclusion, outputs: {}, stepResults: [] },
        ),
      );
    const exchanges = { ok: 0, refused: 0 };

    const stepAgents = async (): Promise<void> => {
      for (const agent of agents.values()) {
        if (agent.phase === 'done') continue;
        if (!live(agent)) {
          agent.phase = 'done';
          continue;
        }
        // The belt: the instance's own `shutdown -h +N` (user data).
        if (agent.kind === 'spot' && now >= agent.launchedAt + LIFETIME_MINUTES * MINUTE) {
          powerOff(agent);
          continue;
        }
        if (agent.phase === 'booting' && now >= agent.bootAt && agent.fate === 'wedged') {
          agent.phase = 'wedged'; // the agent never starts: no exchange, no report, no power-off
          continue;
        }
        if (agent.phase === 'booting' && now >= agent.bootAt) {
          // The bootstrap exchange, as the server's route does it: the token once, then the order's own state.
          const redeemed = await redeemBootstrapToken(store, 'order', agent.token, now);
          expect(redeemed.ok, `${agent.id} exchanges its token`).toBe(true);
          if (redeemed.ok) expect(redeemed.ref).toEqual(agent.ref);
          const order = await store.getOrder(agent.ref.runId, agent.ref.orderId);
          if (!order || isFinalOrderState(order.state) || order.attempt !== agent.ref.attempt) {
            exchanges.refused += 1;
            powerOff(agent, 'FAILED'); // the agent powers off on every path
            continue;
          }
          exchanges.ok += 1;
          agent.phase = 'running';
          agent.endAt = now + faultPlan.workMinutes(agent.ref, agent.kind) * MINUTE;
          if (agent.fate === 'reclaim') agent.interruptAt = now + faultPlan.reclaimAfterMinutes(agent.ref) * MINUTE;
          await report(agent.ref);
          continue;
        }
        if (agent.phase !== 'running') continue;
        if (agent.interruptAt !== undefined && now >= agent.interruptAt) {
          ec2.interrupt(agent.id); // no report: the two-minute notice went unheard
          agent.phase = 'done';
          continue;
        }
        if (now < agent.endAt) continue;
        switch (agent.fate) {
          case 'ok':
          case 'fail':
            await report(agent.ref, agent.fate === 'ok' ? 'success' : 'failure');
            powerOff(agent, agent.fate === 'ok' ? 'SUCCEEDED' : 'FAILED');
            break;
          case 'lost-callback':
            powerOff(agent, 'SUCCEEDED'); // the final report never arrives
            break;
          case 'fault':
            powerOff(agent, 'FAULT');
            break;
          case 'hang':
            break; // runs until someone stops it
        }
      }
    };

    // --- the day
    const sweeps = new Map<string, string>();
    let minute = 0;
    const settled = async (): Promise<boolean> =>
      ec2.live().length === 0 &&
      codebuild.live().length === 0 &&
      (await store.listActiveOrders()).length === 0 &&
      (await store.listRuns({ status: 'running' })).length === 0 &&
      (await store.listRuns({ status: 'pending' })).length === 0 &&
      armedCrashes.size === 0;
    for (; minute < DAY_MINUTES + OVERRUN_MINUTES; minute++) {
      now = T0 + minute * MINUTE;
      if (minute >= DAY_MINUTES && (await settled())) break;
      const runId = schedule.get(minute);
      if (runId !== undefined) {
        await startRun(runId);
        const variant = crashVariantOfRun.get(runId);
        if (variant === 'cancel' || variant === 'cancel-wedged') {
          // A newer push supersedes the run before any watchdog tick could re-drive the lost launch.
          await survive((ops) => ops.orchestrator.cancelRun(runId, 'superseded by a newer push'));
        }
      }
      let sweep: Awaited<ReturnType<Operations['tick']>>['sweep'];
      await survive(async (ops) => ({ sweep } = await ops.tick()));
      for (const id of sweep?.terminated ?? []) sweeps.set(id, sweep?.reasons[id] ?? '');
      discover();
      await stepAgents();
    }

    // --- the end state
    const orders = new Map<string, OrderRecord>();
    for (const runId of runIds) {
      const run = await store.getRun(runId);
      expect(run?.status, `run ${runId}`).toMatch(/^(succeeded|failed|cancelled)$/);
      for (const order of await store.listOrders(runId)) {
        orders.set(`${runId}/${order.id}`, order);
        expect(isFinalOrderState(order.state), `${runId}/${order.id} is ${order.state}`).toBe(true);
        expect(order.reason ?? '', `${runId}/${order.id}`).not.toMatch(/launch failed|not enabled|no route/);
      }
    }
    expect(ec2.live()).toEqual([]);
    expect(codebuild.live()).toEqual([]);
    const perAttempt = new Map<string, number>();
    for (const agent of agents.values()) perAttempt.set(key(agent.ref), (perAttempt.get(key(agent.ref)) ?? 0) + 1);
    const launchedTwice = [...perAttempt].filter(([, n]) => n > 1);
    expect(launchedTwice).toEqual([]);

    // --- how each fault ended
    const endOf = (fault: Fault): string => {
      const order = orders.get(`${fault.ref.runId}/${fault.ref.orderId}`)!;
      const sameAttempt = order.attempt === fault.ref.attempt;
      const reason = order.reason ?? '';
      const instance = fault.execId === undefined ? undefined : ec2.instances.get(fault.execId);
      const build = fault.execId === undefined ? undefined : codebuild.builds.get(fault.execId);
      if (fault.kind.startsWith('crash')) {
        if (fault.kind.includes('(redrive)')) {
          const adopted = perAttempt.get(fault.key) === 1 && (!sameAttempt || order.handle === fault.execId);
          return adopted && order.state !== 'cancelled' ? 're-driven: adopted the same execution' : `?? ${order.state}`;
        }
        if (sweeps.has(fault.execId!)) return `reaped by the janitor (${sweeps.get(fault.execId!)})`;
        if (instance?.stateReason === 'Client.InstanceInitiatedShutdown')
          return 'agent refused at the exchange, powered itself off';
        return `?? ${instance?.state ?? 'unknown'}`;
      }
      switch (fault.kind) {
        case 'spot reclaim mid-order':
        case 'codebuild fault':
          if (!sameAttempt) return 'retried with a new attempt';
          return order.state === 'failed' && reason.startsWith(`interrupted ${MAX_ATTEMPTS} times`)
            ? `failed after ${MAX_ATTEMPTS} attempts`
            : `?? ${order.state}`;
        case 'lost final callback (spot)':
          return sameAttempt && order.state === 'failed' && reason.includes('before the agent reported')
            ? 'failed: instance gone without a report'
            : `?? ${order.state}: ${reason}`;
        case 'lost final callback (codebuild)':
          return sameAttempt && order.state === 'succeeded' && reason.includes('result from codebuild')
            ? "succeeded: CodeBuild's own result"
            : `?? ${order.state}: ${reason}`;
        case 'agent hangs: timeout (spot)':
        case 'agent hangs: timeout (codebuild)': {
          const stopped = instance?.stateReason === 'Client.UserInitiatedShutdown' || build?.status === 'STOPPED';
          return sameAttempt && order.state === 'timed_out' && stopped
            ? 'timed out, execution stopped by the watchdog'
            : `?? ${order.state}`;
        }
        case 'agent never starts: lifetime cap (spot)':
          if (!sameAttempt || order.state !== 'failed') return `?? ${order.state}`;
          return sweeps.has(fault.execId!)
            ? 'failed: janitor ended it past its expiry'
            : 'failed: the lifetime cap powered it off';
      }
      return '?? unknown fault';
    };
    const table = new Map<string, Map<string, number>>();
    for (const fault of faults) {
      const outcomes = table.get(fault.kind) ?? new Map<string, number>();
      const end = endOf(fault);
      outcomes.set(end, (outcomes.get(end) ?? 0) + 1);
      table.set(fault.kind, outcomes);
    }
    const onDemand = [...ec2.instances.values()].filter((i) => i.market === 'on-demand').length;
    const lines = [
      `day of faults: ${runIds.length} runs, ${orders.size} orders, ${ec2.instances.size} instances, ` +
        `${codebuild.builds.size} builds, ${tally.processes} processes, settled at minute ${minute}`,
      `  capacity refusals: ${[...refusals].map(([code, n]) => `${code} ×${n}`).join(', ')}; ` +
        `${tally.noCapacityRounds} launches found no capacity anywhere (re-driven); ${onDemand} on-demand fallbacks`,
      `  bootstrap exchanges: ${exchanges.ok} served, ${exchanges.refused} refused (order final)`,
      ...[...table].flatMap(([kind, outcomes]) => [
        `  ${kind}: ${[...outcomes.values()].reduce((a, b) => a + b, 0)} injected`,
        ...[...outcomes].map(([end, n]) => `      → ${end}: ${n}`),
      ]),
      `  final orders: ${JSON.stringify(countBy([...orders.values()].map((o) => o.state)))}`,
    ];
    console.log(lines.join('\n'));

    // Every injected fault ended the way the design promises for its kind (and, for a retried fault, its attempt).
    const promised = (fault: Fault): readonly string[] => {
      switch (fault.kind) {
        case 'spot reclaim mid-order':
        case 'codebuild fault':
          return [
            fault.ref.attempt < MAX_ATTEMPTS ? 'retried with a new attempt' : `failed after ${MAX_ATTEMPTS} attempts`,
          ];
        case 'lost final callback (spot)':
          return ['failed: instance gone without a report'];
        case 'lost final callback (codebuild)':
          return ["succeeded: CodeBuild's own result"];
        case 'agent hangs: timeout (spot)':
        case 'agent hangs: timeout (codebuild)':
          return ['timed out, execution stopped by the watchdog'];
        case 'agent never starts: lifetime cap (spot)':
          // The janitor's expiry and the instance's own shutdown fall on the same minute; either ends it.
          return ['failed: janitor ended it past its expiry', 'failed: the lifetime cap powered it off'];
        case 'crash between launch and write (redrive)':
          return ['re-driven: adopted the same execution'];
        case 'crash between launch and write (cancel)':
          return ['agent refused at the exchange, powered itself off'];
        case 'crash between launch and write (cancel-wedged)':
          return ['reaped by the janitor (its order is cancelled)'];
      }
      return [];
    };
    const broken = faults
      .filter((f) => !promised(f).includes(endOf(f)))
      .map((f) => `${f.kind} ${f.key}: ${endOf(f)}, promised ${promised(f).join(' or ')}`);
    expect(broken).toEqual([]);
    // Every fault the plan placed was injected (its attempt was reached), as the kind it names.
    for (const [k, { kind }] of faultPlan.placed)
      expect(
        faults.filter((f) => f.key === k).map((f) => f.kind),
        k,
      ).toEqual([kind]);
    const injected = (kind: string): number => [...(table.get(kind)?.values() ?? [])].reduce((a, b) => a + b, 0);
    for (const kind of [
      ...Object.values(FAULT_KIND),
      ...(['redrive', 'cancel', 'cancel-wedged'] as const).map(crashKind),
    ])
      expect(injected(kind), kind).toBeGreaterThan(0);
    expect(injected('crash between launch and write (redrive)')).toBe(4);
    expect(injected('crash between launch and write (cancel)')).toBe(1);
    expect(injected('crash between launch and write (cancel-wedged)')).toBe(2);
    expect(orders.get('day-05/test.2')).toMatchObject({ state: 'failed', attempt: MAX_ATTEMPTS });
    expect(refusals.get('InsufficientInstanceCapacity')).toBeGreaterThan(0);
    expect(tally.noCapacityRounds).toBeGreaterThan(0);
    expect(onDemand).toBeGreaterThan(0);
    expect(tally.processes).toBe(1 + 7);
  });
});

function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

function countBy(values: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const v of values) counts[v] = (counts[v] ?? 0) + 1;
  return counts;
}
