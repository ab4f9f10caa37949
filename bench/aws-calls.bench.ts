/**
 * AWS API calls per order (issue 6, item 8): what one order costs in EC2 and CodeBuild requests over its whole
 * life — the launch (with its capacity fallback or re-drive), the watchdog's ticks while it runs, and its share of
 * the janitor's sweeps — on the happy path and when half the launches hit a capacity error.
 *
 * The parts are the real ones, composed as `spotcheck watchdog` composes them (`openOperations`): the Orchestrator
 * on the embedded store, the Spot and CodeBuild runners and the janitor, talking to the EC2 and CodeBuild state
 * machines behind aws-sdk-client-mock (test/contract/fake-aws.ts). Agents are simulated on a fake clock: each
 * instance or build boots, exchanges its one-time bootstrap token, reports `running` then `finished` through the
 * orchestrator, and powers itself off. One simulated minute is one watchdog tick and one janitor sweep, as the
 * scheduled Lambda runs them (infra: an EventBridge rule every minute).
 *
 * Every call is counted where it is sent (a counting wrapper around the mocked clients) and attributed to the role
 * that sent it through AsyncLocalStorage: the runners' `launch`, `inspect`/`isAlive` (the watchdog) and `terminate`,
 * and the janitor's sweep. Fates (boot and run minutes, which orders are refused) are drawn from a seeded generator
 * per order id, and the whole run is dispatched at once, so the counts are the same on every run of the bench.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { StartBuildCommandInput } from '@aws-sdk/client-codebuild';
import type { RunInstancesCommandInput } from '@aws-sdk/client-ec2';
import pino from 'pino';
import { BUILD_MARKERS } from '../runners/codebuild.ts';
import type { RunnerKind } from '../runners/registry.ts';
import type { OrderRef, Route, Runner } from '../runners/runner.ts';
import { redeemBootstrapToken } from '../src/server/bootstrap-tokens.ts';
import { DEFAULT_LIMITS, defaultConfig, type OperatorConfig } from '../src/config.ts';
import { buildGithubContext } from '../src/core/github-context.ts';
import type { OrderSpec, RunPlan, RunRecord } from '../src/core/types.ts';
import { openOperations, type Operations } from '../src/app/operations.ts';
import type { Reporter } from '../src/orchestrator.ts';
import { createDynamoStore } from '../src/store/dynamodb.ts';
import { startEmbeddedStore } from '../src/store/embedded.ts';
import { createFakeCodeBuild, createFakeEc2 } from '../test/contract/fake-aws.ts';
import { formatNumber, renderTable, type BenchSection } from './bench-report.ts';
import type { BenchContext, Benchmark } from './benchmark.ts';

/**
 * The run: a 100-cell matrix, every cell on the same route. Per-order counts do not depend on the size (the
 * janitor's share aside, given per sweep too); the simulated store work does, and 100 keeps the bench under 30 s on
 * a busy two-core machine.
 */
export const AWS_BENCH_ORDERS = 100;
export const AWS_BENCH_SEED = 20250602;
const MINUTE = 60_000;
/** 2025-06-02T00:00:00Z. */
const T0 = Date.UTC(2025, 5, 2);
/** Orders of at most 8 minutes, all dispatched at once, settle in about 10; past this the bench gives up (and fails). */
const MAX_MINUTES = 120;
/**
 * Agents: an instance or build boots in 1–2 minutes, then the order's steps take 2–6 minutes. Short jobs keep the
 * bench quick (the simulated store work grows with order-minutes); the watchdog's share scales with a job's length,
 * which is why the section also gives it per order-minute.
 */
const BOOT_MINUTES = [1, 2] as const;
const RUN_MINUTES = [2, 6] as const;

export const EC2_COMMANDS = ['RunInstances', 'DescribeInstances', 'TerminateInstances', 'CreateTags'] as const;
export const CODEBUILD_COMMANDS = ['StartBuild', 'BatchGetBuilds', 'StopBuild', 'ListBuildsForProject'] as const;
/** Who sent a call: the runner's launch (fallback and re-drive look-ups included), the watchdog's inspection of a
 * live order, a terminate, or the janitor's sweep. `other` should stay empty; a call there is a bench bug. */
export const CALL_ROLES = ['launch', 'watchdog', 'terminate', 'janitor', 'other'] as const;
export type CallRole = (typeof CALL_ROLES)[number];

export interface AwsCallScenario {
  readonly label: string;
  readonly runner: 'spot' | 'codebuild';
  /**
   * Half the orders (a seeded pick) have their first launch refused for capacity: on Spot, the first candidate
   * (first instance type in the first subnet) answers InsufficientInstanceCapacity on every try; on CodeBuild, the
   * first StartBuild answers AccountLimitExceededException (the concurrent-build quota is full) and a re-drive finds
   * room.
   */
  readonly capacityErrors: boolean;
}

export const AWS_CALL_SCENARIOS = [
  { label: 'spot, happy', runner: 'spot', capacityErrors: false },
  { label: 'spot, ½ capacity errors', runner: 'spot', capacityErrors: true },
  { label: 'codebuild, happy', runner: 'codebuild', capacityErrors: false },
  { label: 'codebuild, ½ capacity errors', runner: 'codebuild', capacityErrors: true },
] as const satisfies readonly AwsCallScenario[];

/** What one scenario measured. `calls[role][command]` counts every AWS request of the run's life. */
export interface AwsCallSample {
  readonly scenario: AwsCallScenario;
  readonly orders: number;
  /** Orders that ended `succeeded` (all of them, or the run was broken). */
  readonly succeeded: number;
  /** Orders whose first launch was refused for capacity. */
  readonly refusedOrders: number;
  /** Spot instances that ended up on demand (the fallback past every Spot candidate). */
  readonly onDemand: number;
  /** Watchdog ticks, each followed by one janitor sweep: the simulated minutes until everything settled. */
  readonly ticks: number;
  /** Instances or builds still live at the end (0, or something leaked). */
  readonly leftBehind: number;
  /** Sum over orders of the minutes from dispatch to their final state: what the watchdog watched. */
  readonly orderMinutes: number;
  readonly calls: Readonly<Record<CallRole, Readonly<Record<string, number>>>>;
}

// ---------------------------------------------------------------------------------------------------------------
// Pure helpers (unit-tested in test/unit/aws-calls-bench.test.ts)

/** Mulberry32: a small seeded generator, so every run of the bench draws the same fates. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Exactly ⌊n/2⌋ of `ids`, chosen by a seeded Fisher–Yates shuffle: "half the orders", the same half every run. */
export function pickHalf(ids: readonly string[], seed: number): ReadonlySet<string> {
  const random = seeded(seed);
  const shuffled = [...ids];
  for (let i = shuffled.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
  }
  return new Set(shuffled.slice(0, Math.floor(ids.length / 2)));
}

export interface AgentFate {
  readonly bootMinutes: number;
  readonly runMinutes: number;
}

/** Boot and run minutes per order id, drawn in id order (never in the order launches happen to complete). */
export function agentFates(ids: readonly string[], seed: number): ReadonlyMap<string, AgentFate> {
  const random = seeded(seed ^ 0x5eed);
  const between = ([lo, hi]: readonly [number, number]): number => lo + Math.floor(random() * (hi - lo + 1));
  return new Map(ids.map((id) => [id, { bootMinutes: between(BOOT_MINUTES), runMinutes: between(RUN_MINUTES) }]));
}

/** Calls of one command, summed over roles (or over the roles given). */
export function callsOf(sample: AwsCallSample, command: string, roles: readonly CallRole[] = CALL_ROLES): number {
  return roles.reduce((sum, role) => sum + (sample.calls[role][command] ?? 0), 0);
}

/** Calls of one role, summed over commands. */
export function roleTotal(sample: AwsCallSample, role: CallRole): number {
  return Object.values(sample.calls[role]).reduce((a, b) => a + b, 0);
}

export function totalCalls(sample: AwsCallSample): number {
  return CALL_ROLES.reduce((sum, role) => sum + roleTotal(sample, role), 0);
}

const perOrder = (sample: AwsCallSample, value: number): number =>
  sample.orders === 0 ? Number.NaN : value / sample.orders;
const perMinute = (sample: AwsCallSample, value: number): number =>
  sample.orderMinutes === 0 ? Number.NaN : value / sample.orderMinutes;

export interface AwsCriterion {
  readonly passed: boolean;
  readonly markdown: string;
}

/**
 * The criteria: every order of every scenario succeeded and nothing was left running; a happy launch is ONE call
 * (issue 6, item 2: "one EC2 call per launch"); a capacity error loses no order and costs only the calls the
 * fallback needs — on Spot one more RunInstances per refused candidate, on CodeBuild the refused StartBuild plus the
 * re-drive's look-up (ListBuildsForProject + BatchGetBuilds) and its StartBuild.
 */
export function judgeAwsCalls(samples: readonly AwsCallSample[]): AwsCriterion[] {
  const criteria: AwsCriterion[] = [];
  const check = (passed: boolean, text: string): void => {
    criteria.push({ passed, markdown: `${passed ? '✅' : '❌'} ${text}` });
  };
  for (const s of samples) {
    const label = `**${s.scenario.label}**`;
    check(
      s.succeeded === s.orders && s.leftBehind === 0 && roleTotal(s, 'other') === 0,
      `${label}: ${s.succeeded}/${s.orders} orders succeeded, ${s.leftBehind} executions left behind` +
        (roleTotal(s, 'other') === 0 ? '' : `, ${roleTotal(s, 'other')} calls of no known role`),
    );
    const launch = roleTotal(s, 'launch');
    const launchCommand = s.scenario.runner === 'spot' ? 'RunInstances' : 'StartBuild';
    // Spot: the refused first candidate, then the next one. CodeBuild: the refused StartBuild, then the re-drive's
    // ListBuildsForProject + BatchGetBuilds (is an earlier build of this attempt running?) and its StartBuild.
    const extraPerRefusal = s.scenario.runner === 'spot' ? 1 : 3;
    const expected = s.orders + s.refusedOrders * extraPerRefusal;
    // A fault that was never injected would make the half-capacity column a second happy path.
    const refusals = s.scenario.capacityErrors ? Math.floor(s.orders / 2) : 0;
    check(
      s.refusedOrders === refusals &&
        launch === expected &&
        callsOf(s, launchCommand, ['launch']) === s.orders + s.refusedOrders,
      `${label}: launch calls ${formatNumber(perOrder(s, launch), 2)}/order (expected ` +
        `${formatNumber(perOrder(s, expected), 2)}: 1 ${launchCommand} per order` +
        (refusals === 0 ? '' : ` + ${extraPerRefusal} per refused order`) +
        (refusals === 0
          ? s.refusedOrders === 0
            ? ')'
            : `; ${s.refusedOrders} unplanned refusals)`
          : `; ${s.refusedOrders} of ${refusals} planned refusals happened)`),
    );
  }
  return criteria;
}

const cell = (value: number): string => formatNumber(value, 2);

/**
 * The section: calls per order by command, then by role, the facts of each scenario, the criteria and a verdict
 * against the old systems. Pure: a function of the samples.
 */
export function renderAwsCallsSection(samples: readonly AwsCallSample[], criteria: readonly AwsCriterion[]): string {
  const columns = [
    { header: 'AWS calls per order' },
    ...samples.map((s) => ({ header: s.scenario.label, align: 'right' as const })),
  ];
  const byCommand = renderTable(columns, [
    ...[...EC2_COMMANDS, ...CODEBUILD_COMMANDS].map((command) => [
      command,
      ...samples.map((s) => cell(perOrder(s, callsOf(s, command)))),
    ]),
    ['**total**', ...samples.map((s) => `**${cell(perOrder(s, totalCalls(s)))}**`)],
  ]);
  const roleRows: [CallRole, string][] = [
    ['launch', 'launch (fallback and re-drive look-ups included)'],
    ['watchdog', 'watchdog (one inspection per live order per tick)'],
    ['terminate', 'terminate (cancel, timeout)'],
    ['janitor', 'janitor (its sweeps, shared by the orders)'],
  ];
  const used = samples.some((s) => roleTotal(s, 'other') > 0) ? [...roleRows, ['other', 'other'] as const] : roleRows;
  const byRole = renderTable(columns, [
    ...used.map(([role, label]) => [label, ...samples.map((s) => cell(perOrder(s, roleTotal(s, role))))]),
    ['**total**', ...samples.map((s) => `**${cell(perOrder(s, totalCalls(s)))}**`)],
  ]);
  const facts = renderTable(
    [{ header: 'the run' }, ...samples.map((s) => ({ header: s.scenario.label, align: 'right' as const }))],
    [
      ['orders succeeded', ...samples.map((s) => `${s.succeeded}/${s.orders}`)],
      ['orders refused on their first launch', ...samples.map((s) => String(s.refusedOrders))],
      ['on-demand fallbacks', ...samples.map((s) => (s.scenario.runner === 'spot' ? String(s.onDemand) : '–'))],
      ['mean order life, dispatch → final (min)', ...samples.map((s) => cell(perOrder(s, s.orderMinutes)))],
      ['watchdog calls per order-minute', ...samples.map((s) => cell(perMinute(s, roleTotal(s, 'watchdog'))))],
      ['ticks (= janitor sweeps)', ...samples.map((s) => String(s.ticks))],
      ['janitor calls per sweep', ...samples.map((s) => cell(s.ticks === 0 ? 0 : roleTotal(s, 'janitor') / s.ticks))],
      ['calls in all', ...samples.map((s) => formatNumber(totalCalls(s)))],
      ['executions left behind', ...samples.map((s) => String(s.leftBehind))],
    ],
  );
  return [
    `One run of a ${AWS_BENCH_ORDERS}-cell matrix, dispatched at once, with the real Orchestrator on the embedded ` +
      'store, the real Spot and CodeBuild runners and the janitor (composed as `spotcheck watchdog` composes them), ' +
      'over the EC2 and CodeBuild state machines of test/contract/fake-aws.ts behind aws-sdk-client-mock. Simulated ' +
      `agents boot in ${BOOT_MINUTES.join('–')} minutes, exchange their bootstrap token, report through the ` +
      `orchestrator, run ${RUN_MINUTES.join('–')} minutes and power off; every simulated minute is one watchdog ` +
      'tick and one janitor sweep (the scheduled Lambda runs every minute), until the run has ended and nothing is ' +
      `live. "½ capacity errors": a seeded half of the orders (exactly ${AWS_BENCH_ORDERS / 2}) have their first ` +
      'launch refused — on Spot the first candidate (type × subnet) answers InsufficientInstanceCapacity, on ' +
      'CodeBuild the first StartBuild answers AccountLimitExceededException. The Spot route lists 2 instance types ' +
      '× 2 subnets with on-demand fallback; each scenario has only its own route. Calls are counted as they are ' +
      'sent and attributed to the role that sent them; the counts are deterministic (seed ' +
      `${AWS_BENCH_SEED}).`,
    '',
    byCommand,
    '',
    'Tags ride on RunInstances (`TagSpecifications`), so CreateTags is never called. On the happy path no ' +
      'TerminateInstances/StopBuild is needed either: the agent powers its instance off (shutdown behaviour ' +
      '`terminate`) and a build ends on its own; terminate calls come only with a cancel or a timeout.',
    '',
    byRole,
    '',
    facts,
    '',
    '### Criteria',
    '',
    ...criteria.map((c) => `- ${c.markdown}`),
    '',
    renderVerdict(samples),
  ].join('\n');
}

/** The verdict line: what spotcheck spends per order beyond tinqs-ci's single RunInstances, and what it buys. */
export function renderVerdict(samples: readonly AwsCallSample[]): string {
  const find = (runner: 'spot' | 'codebuild', capacityErrors: boolean): AwsCallSample | undefined =>
    samples.find((s) => s.scenario.runner === runner && s.scenario.capacityErrors === capacityErrors);
  /** Launch calls a refused order cost beyond the happy path's one. */
  const extraPerRefusal = (happy: AwsCallSample, half: AwsCallSample): number =>
    half.refusedOrders === 0 ? 0 : (roleTotal(half, 'launch') - roleTotal(happy, 'launch')) / half.refusedOrders;
  const perSweep = (s: AwsCallSample): number => (s.ticks === 0 ? 0 : roleTotal(s, 'janitor') / s.ticks);
  const parts: string[] = [];
  const spotHappy = find('spot', false);
  const spotHalf = find('spot', true);
  if (spotHappy && spotHalf) {
    parts.push(
      'tinqs-ci made 1 RunInstances per job and had no fallback. spotcheck launches with the same single call on ' +
        `the happy path (${cell(perOrder(spotHappy, callsOf(spotHappy, 'RunInstances')))} RunInstances/order); ` +
        `with half the first candidates out of capacity it makes ` +
        `${cell(perOrder(spotHalf, callsOf(spotHalf, 'RunInstances')))}/order ` +
        `(${cell(extraPerRefusal(spotHappy, spotHalf))} more call per refused order) and runs ` +
        `${spotHalf.succeeded}/${spotHalf.orders} orders, where a single-shot launch would have lost the ` +
        `${spotHalf.refusedOrders} refused jobs.`,
      'What spotcheck adds per order is supervision: the watchdog, ' +
        `${cell(perOrder(spotHappy, roleTotal(spotHappy, 'watchdog')))} DescribeInstances/order here — ` +
        `${cell(perMinute(spotHappy, roleTotal(spotHappy, 'watchdog')))} per minute of an order's life, since each ` +
        'tick inspects each live order with its own call (a 30-minute job costs about 30) — and the janitor, ' +
        `${cell(perOrder(spotHappy, roleTotal(spotHappy, 'janitor')))}/order ` +
        `(${cell(perSweep(spotHappy))} DescribeInstances per sweep, whatever the number of orders): ` +
        `${cell(perOrder(spotHappy, totalCalls(spotHappy)))} calls/order in all. Beyond the launch they are ` +
        'read-only Describe calls, which EC2 throttles in their own per-action bucket, apart from RunInstances ' +
        '(EC2 API reference, "Request throttling").',
    );
  }
  const cbHappy = find('codebuild', false);
  const cbHalf = find('codebuild', true);
  if (cbHappy && cbHalf) {
    parts.push(
      `On CodeBuild: ${cell(perOrder(cbHappy, callsOf(cbHappy, 'StartBuild', ['launch'])))} StartBuild/order on ` +
        `the happy path; ${cell(extraPerRefusal(cbHappy, cbHalf))} more calls per refused order (the refused ` +
        "StartBuild, then the re-drive's ListBuildsForProject + BatchGetBuilds look-up and its StartBuild), " +
        `${cbHalf.succeeded}/${cbHalf.orders} orders run. The watchdog adds ` +
        `${cell(perMinute(cbHappy, roleTotal(cbHappy, 'watchdog')))} BatchGetBuilds per order-minute and the ` +
        `janitor ${cell(perSweep(cbHappy))} calls per sweep: it lists every build of the project within the build ` +
        'horizon (ListBuildsForProject pages of 100, a BatchGetBuilds each, and one DescribeInstances), so its ' +
        "cost grows with the project's recent builds, not with one run.",
    );
  }
  return parts.length === 0 ? '' : `**Verdict.** ${parts.join(' ')}`;
}

// ---------------------------------------------------------------------------------------------------------------
// The measurement

const SPOT_ROUTE: Route = {
  label: 'cloud',
  runner: 'spot',
  settings: {
    instanceTypes: ['c7i.large', 'c6i.large'],
    subnets: ['subnet-0a0a0a0a', 'subnet-0b0b0b0b'],
    securityGroups: ['sg-0c0c0c0c'],
    ami: 'ami-0d0d0d0d',
    onDemandFallback: true,
    maxLifetimeMinutes: 60,
    region: 'eu-west-1',
  },
};
const FIRST_CANDIDATE = { instanceType: 'c7i.large', subnet: 'subnet-0a0a0a0a' } as const;
const CODEBUILD_ROUTE: Route = {
  label: 'cloud',
  runner: 'codebuild',
  settings: { project: 'spotcheck-bench', region: 'eu-west-1' },
};

function configFor(runner: 'spot' | 'codebuild', orders: number): OperatorConfig {
  return {
    routes: new Map([['cloud', runner === 'spot' ? SPOT_ROUTE : CODEBUILD_ROUTE]]),
    // A cap above the run's size: every cell is dispatched at once, so no queue order (a race) shapes the counts.
    limits: { ...DEFAULT_LIMITS, maxConcurrentOrders: orders, maxOrdersPerRun: orders },
    store: { kind: 'embedded', dir: 'unused', table: 'unused' },
    publicUrl: 'https://ci.example.com',
    workflows: defaultConfig().workflows,
  };
}

export function matrixPlan(orders: number): RunPlan {
  const specs: OrderSpec[] = Array.from({ length: orders }, (_, i) => ({
    id: `test.${i + 1}`,
    job: 'test',
    name: `test (${i + 1})`,
    needs: [],
    needsOrders: [],
    runsOn: 'cloud',
    matrix: { shard: i + 1 },
    timeoutMinutes: 30,
    continueOnError: false,
    failFast: false,
    env: {},
    steps: [],
    outputExprs: {},
  }));
  return { file: '.spotcheck/workflows/ci.yml', workflowName: 'ci', orders: specs };
}

/** Counts every `send` of a client by command name, under the role the caller's async context carries. */
function countingClient<C extends object>(client: C, record: (command: string) => void): C {
  const send = Reflect.get(client, 'send') as (this: C, command: object, ...rest: unknown[]) => unknown;
  return new Proxy(client, {
    get(target, property) {
      if (property === 'send')
        return (command: object, ...rest: unknown[]): unknown => {
          record(command.constructor.name.replace(/Command$/, ''));
          return send.call(target, command, ...rest);
        };
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** Remembers the run once it has ended (the simulation runs on until nothing is live either). */
class RunEndReporter implements Reporter {
  ended: RunRecord | undefined;
  orderChanged(): Promise<void> {
    return Promise.resolve();
  }
  runChanged(run: RunRecord): Promise<void> {
    if (run.status !== 'running' && run.status !== 'pending') this.ended = run;
    return Promise.resolve();
  }
}

interface SimAgent {
  readonly id: string;
  readonly ref: OrderRef;
  readonly token: string;
  readonly fate: AgentFate;
  phase: 'booting' | 'running' | 'done';
  bootAt: number;
  endAt: number;
}

const tagOf = (input: RunInstancesCommandInput, key: string): string | undefined =>
  input.TagSpecifications?.find((s) => s.ResourceType === 'instance')?.Tags?.find((t) => t.Key === key)?.Value;
const envOf = (input: StartBuildCommandInput, name: string): string | undefined =>
  input.environmentVariablesOverride?.find((v) => v.name === name)?.value;

/** One scenario on a fresh in-memory engine and fresh fakes. */
export async function measureAwsCalls(
  scenario: AwsCallScenario,
  orders = AWS_BENCH_ORDERS,
  seed = AWS_BENCH_SEED,
): Promise<AwsCallSample> {
  const embedded = await startEmbeddedStore({});
  let ops: Operations | undefined;
  try {
    let now = T0;
    const clock = (): number => now;
    const store = createDynamoStore({ client: embedded.client, table: 'aws-calls', now: clock });
    await store.ensureTable();

    const plan = matrixPlan(orders);
    const ids = plan.orders.map((o) => o.id);
    const refused = scenario.capacityErrors ? pickHalf(ids, seed) : new Set<string>();
    const fates = agentFates(ids, seed);
    const refusedSoFar = new Set<string>();
    const ec2 = createFakeEc2({
      clock,
      refuse: (input) => {
        const order = tagOf(input, 'spotcheck:order');
        const first =
          input.InstanceMarketOptions?.MarketType === 'spot' &&
          input.InstanceType === FIRST_CANDIDATE.instanceType &&
          input.SubnetId === FIRST_CANDIDATE.subnet;
        if (order === undefined || !first || !refused.has(order)) return undefined;
        refusedSoFar.add(order);
        return 'InsufficientInstanceCapacity';
      },
    });
    const codebuild = createFakeCodeBuild({
      clock,
      refuse: (input) => {
        const order = envOf(input, BUILD_MARKERS.order);
        if (order === undefined || !refused.has(order) || refusedSoFar.has(order)) return undefined;
        refusedSoFar.add(order);
        return 'AccountLimitExceededException';
      },
    });

    const role = new AsyncLocalStorage<CallRole>();
    const calls: Record<CallRole, Record<string, number>> = {
      launch: {},
      watchdog: {},
      terminate: {},
      janitor: {},
      other: {},
    };
    const record = (command: string): void => {
      const counts = calls[role.getStore() ?? 'other'];
      counts[command] = (counts[command] ?? 0) + 1;
    };
    const reporter = new RunEndReporter();
    const opened = await openOperations({
      config: configFor(scenario.runner, orders),
      env: {},
      logger: pino({ level: 'silent' }),
      now: clock,
      store,
      reporter,
      ec2: () => countingClient(ec2.client, record),
      codebuild: () => countingClient(codebuild.client, record),
    });
    ops = opened;
    // The orchestrator reads its runners from this record at each call: wrapping them in place tags their calls.
    const runners: Partial<Record<RunnerKind, Runner>> = opened.runners;
    const real = runners[scenario.runner];
    if (real === undefined) throw new Error(`no ${scenario.runner} runner was built`);
    runners[scenario.runner] = {
      kind: real.kind,
      launch: (request) => role.run('launch', () => real.launch(request)),
      terminate: (handle, reason) => role.run('terminate', () => real.terminate(handle, reason)),
      isAlive: (handle) => role.run('watchdog', () => real.isAlive(handle)),
      ...(real.inspect ? { inspect: (handle: string) => role.run('watchdog', () => real.inspect!(handle)) } : {}),
    };

    const sha = 'c'.repeat(40);
    const runId = 'aws-calls';
    await opened.orchestrator.startRun({
      runId,
      repo: { forge: 'github', host: 'github.com', owner: 'bench', name: 'app' },
      plan,
      event: 'push',
      ref: 'refs/heads/main',
      sha,
      actor: 'bench',
      github: buildGithubContext({
        event: 'push',
        ref: 'refs/heads/main',
        sha,
        repository: 'bench/app',
        actor: 'bench',
        serverUrl: 'https://github.com',
        workflow: plan.workflowName,
      }),
    });

    const agents = new Map<string, SimAgent>();
    const discover = (): void => {
      const found: { id: string; ref: OrderRef; token: string }[] = [];
      for (const instance of ec2.instances.values()) {
        const script = Buffer.from(instance.input.UserData ?? '', 'base64').toString('utf8');
        found.push({
          id: instance.id,
          ref: {
            runId: instance.tags['spotcheck:run'] ?? '',
            orderId: instance.tags['spotcheck:order'] ?? '',
            attempt: Number(instance.tags['spotcheck:attempt']),
          },
          token: /SPOTCHECK_BOOTSTRAP_TOKEN='([A-Za-z0-9_-]+)'/.exec(script)?.[1] ?? '',
        });
      }
      for (const build of codebuild.builds.values()) {
        const env = new Map(build.env.map((v) => [v.name, v.value]));
        found.push({
          id: build.id,
          ref: {
            runId: env.get(BUILD_MARKERS.run) ?? '',
            orderId: env.get(BUILD_MARKERS.order) ?? '',
            attempt: Number(env.get(BUILD_MARKERS.attempt)),
          },
          token: env.get('SPOTCHECK_BOOTSTRAP_TOKEN') ?? '',
        });
      }
      for (const exec of found) {
        if (agents.has(exec.id)) continue;
        const fate = fates.get(exec.ref.orderId) ?? { bootMinutes: 1, runMinutes: 1 };
        agents.set(exec.id, {
          ...exec,
          fate,
          phase: 'booting',
          bootAt: now + fate.bootMinutes * MINUTE,
          endAt: Number.POSITIVE_INFINITY,
        });
      }
    };
    const powerOff = (agent: SimAgent): void => {
      agent.phase = 'done';
      if (scenario.runner === 'spot') {
        const instance = ec2.instances.get(agent.id);
        if (instance && (instance.state === 'pending' || instance.state === 'running')) ec2.powerOff(agent.id);
      } else if (codebuild.builds.get(agent.id)?.status === 'IN_PROGRESS') codebuild.finish(agent.id, 'SUCCEEDED');
    };
    const stepAgents = async (): Promise<void> => {
      for (const agent of agents.values()) {
        if (agent.phase === 'booting' && now >= agent.bootAt) {
          const redeemed = await redeemBootstrapToken(store, 'order', agent.token, now);
          if (!redeemed.ok) {
            powerOff(agent); // the agent powers off on every path
            continue;
          }
          agent.phase = 'running';
          agent.endAt = now + agent.fate.runMinutes * MINUTE;
          await opened.orchestrator.report(agent.ref, { type: 'running' });
        } else if (agent.phase === 'running' && now >= agent.endAt) {
          await opened.orchestrator.report(agent.ref, {
            type: 'finished',
            conclusion: 'success',
            outputs: {},
            stepResults: [],
          });
          powerOff(agent);
        }
      }
    };
    const live = (): number => ec2.live().length + codebuild.live().length;

    let ticks = 0;
    discover();
    for (let minute = 0; minute < MAX_MINUTES; minute++) {
      now = T0 + minute * MINUTE;
      if (reporter.ended !== undefined && live() === 0) break;
      await role.run('watchdog', () => opened.orchestrator.tick());
      await role.run('janitor', () => opened.sweep());
      ticks += 1;
      discover();
      await stepAgents();
    }

    const final = await store.listOrders(runId);
    return {
      scenario,
      orders,
      succeeded: final.filter((o) => o.state === 'succeeded').length,
      refusedOrders: refusedSoFar.size,
      onDemand: [...ec2.instances.values()].filter((i) => i.market === 'on-demand').length,
      ticks,
      leftBehind: live(),
      orderMinutes: final.reduce((sum, o) => sum + ((o.finishedAt ?? now) - (o.dispatchedAt ?? T0)) / MINUTE, 0),
      calls,
    };
  } finally {
    await ops?.close();
    await embedded.close();
  }
}

export const awsCallsBenchmark: Benchmark = {
  name: 'aws-calls',
  async run(context: BenchContext): Promise<BenchSection> {
    const samples: AwsCallSample[] = [];
    for (const scenario of AWS_CALL_SCENARIOS) {
      const sample = await measureAwsCalls(scenario);
      samples.push(sample);
      context.log(
        `aws-calls: ${scenario.label}: ${formatNumber(totalCalls(sample))} calls, ` +
          `${formatNumber(totalCalls(sample) / sample.orders, 2)}/order, ${sample.ticks} ticks`,
      );
    }
    const criteria = judgeAwsCalls(samples);
    return {
      title: 'AWS API calls per order',
      markdown: renderAwsCallsSection(samples, criteria),
      failures: criteria.filter((c) => !c.passed).map((c) => c.markdown),
    };
  },
};
