/**
 * The EC2 Spot runner: each order attempt on its own instance that always goes away.
 *
 * Why RunInstances and not CreateFleet (type `instant`): CreateFleet takes its instance settings from a launch
 * template, and its per-override fields (instance type, subnet, image, block devices, metadata options…) have no
 * `UserData` (EC2 API reference, FleetLaunchTemplateOverridesRequest). Each order needs its own user data (its
 * one-time bootstrap token), so CreateFleet would cost a CreateLaunchTemplateVersion per order, a second call and
 * a template version to clean up. RunInstances takes user data, tags, metadata options and the Spot market in one
 * call, so the happy path is ONE EC2 call per attempt; a capacity error costs one more call per candidate
 * (instance type × subnet, in the operator's preference order, then the same candidates on demand when allowed),
 * which honours "preference order" exactly, where a fleet's allocation strategy would only weigh it.
 *
 * Idempotency (EC2 API reference, "Ensuring idempotency"): every RunInstances carries a ClientToken derived from
 * run/order/attempt and the candidate (market, type, subnet), so a retried launch of the same attempt can never
 * start a second instance on a candidate that already started one; each candidate gets its own token because a
 * token reused with different parameters fails with IdempotentParameterMismatch. That error is therefore read as
 * "this candidate already launched for this attempt" (the user data differs when the bootstrap token was minted
 * again), and the instance is found by its client token. A re-drive of an order dispatched a while ago first looks
 * for a live instance of the attempt by its tags, so an earlier candidate whose capacity came back in the meantime
 * does not start a second one.
 *
 * Here: the runner and one launch, in named steps (settings, re-drive adoption, user data, the candidate walk,
 * adoption by client token). The candidates and their requests are in spot-instance-input.ts, the reading of EC2's
 * errors in spot-errors.ts.
 */
import {
  DescribeInstancesCommand,
  RunInstancesCommand,
  TerminateInstancesCommand,
  type DescribeInstancesCommandInput,
  type EC2Client,
  type Instance,
} from '@aws-sdk/client-ec2';
import type { Logger } from 'pino';
import { RunnerError } from '../src/errors.ts';
import { spotSettingsOf, type SpotSettings } from './route-settings.ts';
import type { ExecutionStatus, LaunchRequest, LaunchResult, OrderRef, Runner } from './runner.ts';
import { classifyLaunchError, codeOf, isRetryableError, messageOf } from './spot-errors.ts';
import {
  candidatesOf,
  clientToken,
  MAX_TAG_VALUE,
  orderInstanceInput,
  type Candidate,
  type Market,
} from './spot-instance-input.ts';
import { renderUserData } from './user-data.ts';

// Kept here for the modules that read EC2's errors and build instances through spot.ts (capacity mode, CodeBuild).
export { CANDIDATE_ERROR_CODES, CAPACITY_ERROR_CODES, codeOf, isRetryableError } from './spot-errors.ts';
export { candidatesOf, clientToken, spotInstanceInput, type Candidate, type Market } from './spot-instance-input.ts';

export type BootstrapMinter = (request: LaunchRequest) => Promise<{ readonly url: string; readonly token: string }>;

export interface SpotRunnerOptions {
  readonly ec2: EC2Client;
  /** Mints the one-time bootstrap token for run/order/attempt and names the server's public bootstrap URL. */
  readonly bootstrap: BootstrapMinter;
  /** Epoch ms. */
  readonly clock: () => number;
  readonly logger?: Logger;
  /** Tag keys are `<prefix>:run`, `<prefix>:order`, `<prefix>:attempt`, `<prefix>:expires`. */
  readonly tagPrefix?: string;
  readonly agentCommand?: readonly string[];
  /** A launch for an order dispatched at least this long ago is a re-drive: look for the attempt's instance first. */
  readonly redriveLookupAfterMs?: number;
  /**
   * DescribeInstances is eventually consistent (EC2 API reference, "Eventual consistency"): an instance this runner
   * launched less than this long ago that is not found yet counts as alive.
   */
  readonly visibilityGraceMs?: number;
}

/** The outcome of one launch (docs/conventions.md: launches return counts of retryable vs permanent failures). */
export interface LaunchCounts {
  /** EC2 calls this launch made (RunInstances and the look-ups). */
  readonly calls: number;
  /** Candidates that failed for capacity or a transient fault: the same launch may succeed later. */
  readonly retryableFailures: number;
  /** Candidates that failed for a reason that will not change by waiting. */
  readonly permanentFailures: number;
}

export interface SpotLaunchResult extends LaunchResult {
  readonly instanceId: string;
  /** How the instance was found: launched now, or an instance an earlier launch of this attempt had started. */
  readonly adopted: boolean;
  readonly market?: Market;
  readonly instanceType?: string;
  readonly subnet?: string;
  readonly counts: LaunchCounts;
}

/** Totals since the runner was made, for metrics and the benchmark. */
export interface SpotStats {
  readonly launches: number;
  readonly launched: number;
  readonly adopted: number;
  readonly onDemand: number;
  readonly failedRetryable: number;
  readonly failedPermanent: number;
  readonly retryableFailures: number;
  readonly permanentFailures: number;
  /** Every EC2 call by command name (RunInstances, DescribeInstances, TerminateInstances). */
  readonly calls: Readonly<Record<string, number>>;
}

export type SpotRunner = Omit<Runner, 'launch'> & {
  readonly kind: 'spot';
  launch(request: LaunchRequest): Promise<SpotLaunchResult>;
  inspect(handle: string): Promise<ExecutionStatus>;
  stats(): SpotStats;
};

const INSTANCE_ID = /^i-[0-9a-f]{8,17}$/;
const DEFAULT_TAG_PREFIX = 'spotcheck';
/** The orchestrator re-drives after a minute by default; a first launch is never this late. */
const DEFAULT_REDRIVE_LOOKUP_AFTER_MS = 30_000;
const DEFAULT_VISIBILITY_GRACE_MS = 120_000;
const MAX_REMEMBERED_LAUNCHES = 10_000;
/** StateReason codes of an instance EC2 reclaimed (EC2 API reference, StateReason). */
const SPOT_INTERRUPTION_CODES: ReadonlySet<string> = new Set([
  'Server.SpotInstanceTermination',
  'Server.SpotInstanceShutdown',
]);

type StatsCounters = { -readonly [K in keyof Omit<SpotStats, 'calls'>]: number } & { calls: Record<string, number> };

/** What one Spot runner keeps for its whole life: its options with defaults, its totals, its recent launches. */
interface SpotContext {
  readonly opts: SpotRunnerOptions;
  readonly prefix: string;
  readonly redriveAfter: number;
  readonly visibilityGrace: number;
  /** Instance id → when this runner launched it (epoch ms), for DescribeInstances' eventual consistency. */
  readonly launchedAt: Map<string, number>;
  readonly stats: StatsCounters;
}

export function createSpotRunner(opts: SpotRunnerOptions): SpotRunner {
  const ctx: SpotContext = {
    opts,
    prefix: opts.tagPrefix ?? DEFAULT_TAG_PREFIX,
    redriveAfter: opts.redriveLookupAfterMs ?? DEFAULT_REDRIVE_LOOKUP_AFTER_MS,
    visibilityGrace: opts.visibilityGraceMs ?? DEFAULT_VISIBILITY_GRACE_MS,
    launchedAt: new Map(),
    stats: {
      launches: 0,
      launched: 0,
      adopted: 0,
      onDemand: 0,
      failedRetryable: 0,
      failedPermanent: 0,
      retryableFailures: 0,
      permanentFailures: 0,
      calls: {},
    },
  };
  const inspect = (handle: string): Promise<ExecutionStatus> => inspectInstance(ctx, handle);
  return {
    kind: 'spot',
    launch: (request) => launchOrder(ctx, request),
    inspect,
    isAlive: async (handle) => (await inspect(handle)).alive,
    terminate: (handle, reason) => terminateInstance(ctx, handle, reason),
    stats: () => ({ ...ctx.stats, calls: { ...ctx.stats.calls } }),
  };
}

/**
 * One launch's tally: its EC2 calls and failed candidates, and how it ends — a result, or a RunnerError carrying the
 * counts (retryable when waiting may help). Every failure and every end is also added to the runner's totals.
 */
class LaunchTally {
  calls = 0;
  retryable = 0;
  permanent = 0;

  constructor(
    private readonly ctx: SpotContext,
    private readonly log: Logger | undefined,
  ) {}

  retryableFailure(): void {
    this.retryable += 1;
    this.ctx.stats.retryableFailures += 1;
  }

  permanentFailure(): void {
    this.permanent += 1;
    this.ctx.stats.permanentFailures += 1;
  }

  fail(message: string, isRetryable: boolean, code?: string, cause?: unknown): RunnerError {
    if (isRetryable) this.ctx.stats.failedRetryable += 1;
    else this.ctx.stats.failedPermanent += 1;
    return new RunnerError(message, {
      retryable: isRetryable,
      ...(code === undefined ? {} : { code }),
      ...(cause === undefined ? {} : { cause }),
      context: {
        runner: 'spot',
        calls: this.calls,
        retryableFailures: this.retryable,
        permanentFailures: this.permanent,
      },
    });
  }

  note(level: 'info' | 'warn', fields: object, message: string): void {
    this.log?.[level](fields, message);
  }

  done(instanceId: string, adopted: boolean, candidate: Candidate | undefined): SpotLaunchResult {
    const { stats, launchedAt } = this.ctx;
    stats.launched += 1;
    if (adopted) stats.adopted += 1;
    if (candidate?.market === 'on-demand') stats.onDemand += 1;
    launchedAt.set(instanceId, this.ctx.opts.clock());
    if (launchedAt.size > MAX_REMEMBERED_LAUNCHES) launchedAt.delete(launchedAt.keys().next().value!);
    const { calls, retryable, permanent } = this;
    this.log?.info({ instanceId, adopted, ...candidate, calls, retryable, permanent }, 'spot launch');
    return {
      handle: instanceId,
      instanceId,
      adopted,
      ...(candidate === undefined
        ? {}
        : { market: candidate.market, instanceType: candidate.instanceType, subnet: candidate.subnet }),
      counts: { calls, retryableFailures: retryable, permanentFailures: permanent },
    };
  }
}

/** Launches one order attempt: adopt the attempt's instance on a re-drive, else walk the candidates. */
async function launchOrder(ctx: SpotContext, request: LaunchRequest): Promise<SpotLaunchResult> {
  ctx.stats.launches += 1;
  const ref = request.job.ref;
  const log = ctx.opts.logger?.child({ runId: ref.runId, orderId: ref.orderId, attempt: ref.attempt });
  const tally = new LaunchTally(ctx, log);
  const settings = readSettings(request, tally);
  const adopted = await adoptRedrivenInstance(ctx, request, tally);
  if (adopted !== undefined) return adopted;
  const userData = await renderOrderUserData(ctx, request, settings, tally);
  return launchFirstCandidate(ctx, request, settings, userData, tally);
}

/** The route's Spot settings, and ids that fit in a tag; both are permanent failures when wrong. */
function readSettings(request: LaunchRequest, tally: LaunchTally): SpotSettings {
  let settings: SpotSettings;
  try {
    settings = spotSettingsOf(request.route);
  } catch (error) {
    throw tally.fail((error as Error).message, false, undefined, error);
  }
  const ref = request.job.ref;
  for (const [key, value] of [
    ['run', ref.runId],
    ['order', ref.orderId],
  ] as const) {
    if (value.length > MAX_TAG_VALUE)
      throw tally.fail(`the ${key} id is longer than an EC2 tag value may be (${MAX_TAG_VALUE})`, false);
  }
  return settings;
}

/**
 * A re-drive (the order has sat in `dispatching`): an earlier launch may have started an instance before the crash
 * that lost its handle. Adopt it rather than start a second one.
 */
async function adoptRedrivenInstance(
  ctx: SpotContext,
  request: LaunchRequest,
  tally: LaunchTally,
): Promise<SpotLaunchResult | undefined> {
  const dispatchedAt = request.order.dispatchedAt;
  if (dispatchedAt === undefined || ctx.opts.clock() - dispatchedAt < ctx.redriveAfter) return undefined;
  tally.calls += 1;
  try {
    const existing = await findAttemptInstance(ctx, request.job.ref);
    return existing?.InstanceId === undefined ? undefined : tally.done(existing.InstanceId, true, undefined);
  } catch (error) {
    tally.retryableFailure();
    throw tally.fail('cannot look up earlier instances of this attempt; will retry', true, codeOf(error), error);
  }
}

/** Mints the attempt's one-time bootstrap token and renders the instance's user data around it. */
async function renderOrderUserData(
  ctx: SpotContext,
  request: LaunchRequest,
  settings: SpotSettings,
  tally: LaunchTally,
): Promise<string> {
  let bootstrap: { url: string; token: string };
  try {
    bootstrap = await ctx.opts.bootstrap(request);
  } catch (error) {
    // The token lives in the store: a store outage is worth waiting out, like a capacity error.
    throw tally.fail('cannot mint the bootstrap token; will retry', isRetryableError(error, true), undefined, error);
  }
  try {
    return renderUserData({
      bootstrapUrl: bootstrap.url,
      bootstrapToken: bootstrap.token,
      maxLifetimeMinutes: settings.maxLifetimeMinutes,
      ...(ctx.opts.agentCommand === undefined ? {} : { agentCommand: ctx.opts.agentCommand }),
    }).base64;
  } catch (error) {
    throw tally.fail(`cannot render user data: ${(error as Error).message}`, false, undefined, error);
  }
}

/** RunInstances on each candidate in preference order until one launches (see the top of this file). */
async function launchFirstCandidate(
  ctx: SpotContext,
  request: LaunchRequest,
  settings: SpotSettings,
  userData: string,
  tally: LaunchTally,
): Promise<SpotLaunchResult> {
  const ref = request.job.ref;
  const expires = new Date(ctx.opts.clock() + settings.maxLifetimeMinutes * 60_000).toISOString();
  const failures: string[] = [];
  for (const candidate of candidatesOf(settings)) {
    const token = clientToken(ref, candidate);
    const input = orderInstanceInput(settings, candidate, {
      ref,
      prefix: ctx.prefix,
      expires,
      userData,
      token,
      name: `spotcheck ${request.job.repository} ${ref.orderId}#${ref.attempt}`,
    });
    tally.calls += 1;
    countCall(ctx, 'RunInstances');
    let instanceId: string | undefined;
    try {
      const out = await ctx.opts.ec2.send(new RunInstancesCommand(input));
      instanceId = out.Instances?.[0]?.InstanceId;
    } catch (error) {
      const outcome = await afterRefusal(ctx, tally, { candidate, token, error, failures });
      if (outcome === 'next') continue;
      return outcome;
    }
    if (instanceId === undefined) throw tally.fail('RunInstances returned no instance; will retry', true);
    return tally.done(instanceId, false, candidate);
  }
  // Every candidate failed. Capacity comes back, so the order stays `dispatching` and the watchdog re-drives it;
  // only when no candidate can ever launch does the order fail.
  if (tally.retryable > 0)
    throw tally.fail(`no capacity for any candidate (${failures.join('; ')}); will retry`, true, 'NoCapacity');
  throw tally.fail(`no candidate can launch: ${failures.join('; ')}`, false, 'NoCandidate');
}

/**
 * What a refused RunInstances means: `next` to try the next candidate (noting the failure), the instance this
 * candidate already launched for the attempt, or a thrown RunnerError that ends the launch.
 */
async function afterRefusal(
  ctx: SpotContext,
  tally: LaunchTally,
  refusal: { readonly candidate: Candidate; readonly token: string; readonly error: unknown; failures: string[] },
): Promise<SpotLaunchResult | 'next'> {
  const { candidate, error } = refusal;
  const code = codeOf(error);
  const where = `${candidate.market} ${candidate.instanceType} in ${candidate.subnet}`;
  switch (classifyLaunchError(error)) {
    case 'mismatch':
      return adoptByClientToken(ctx, tally, refusal, where);
    case 'capacity':
      tally.retryableFailure();
      refusal.failures.push(`${where}: ${code}`);
      tally.note('info', { code, ...candidate }, 'no capacity, trying the next candidate');
      return 'next';
    case 'candidate':
      tally.permanentFailure();
      refusal.failures.push(`${where}: ${code}`);
      tally.note('warn', { code, ...candidate }, 'candidate cannot launch, trying the next one');
      return 'next';
    case 'transient':
      tally.retryableFailure();
      throw tally.fail(`EC2 is unavailable (${code ?? 'network error'}); will retry`, true, code, error);
    case 'permanent':
      tally.permanentFailure();
      throw tally.fail(`EC2 refused the launch: ${code ?? 'error'}: ${messageOf(error)}`, false, code, error);
  }
}

/**
 * IdempotentParameterMismatch: this candidate already launched for this attempt (an earlier call with this token and
 * other user data). Find that instance by its client token and adopt it.
 */
async function adoptByClientToken(
  ctx: SpotContext,
  tally: LaunchTally,
  refusal: { readonly candidate: Candidate; readonly token: string; readonly error: unknown },
  where: string,
): Promise<SpotLaunchResult> {
  tally.calls += 1;
  let id: string | undefined;
  try {
    const earlier = await describeInstances(ctx, { Filters: [{ Name: 'client-token', Values: [refusal.token] }] });
    id = earlier[0]?.InstanceId;
  } catch (lookupError) {
    tally.retryableFailure();
    throw tally.fail('cannot find the instance of an earlier launch; will retry', true, codeOf(lookupError));
  }
  if (id !== undefined) return tally.done(id, true, refusal.candidate);
  tally.retryableFailure();
  const code = codeOf(refusal.error);
  throw tally.fail(`${where}: the client token is taken but no instance carries it; will retry`, true, code);
}

function countCall(ctx: SpotContext, command: string): void {
  ctx.stats.calls[command] = (ctx.stats.calls[command] ?? 0) + 1;
}

/** Finds instances by filters; errors propagate (the caller decides what a failed look-up means). */
async function describeInstances(ctx: SpotContext, input: DescribeInstancesCommandInput): Promise<Instance[]> {
  countCall(ctx, 'DescribeInstances');
  const out = await ctx.opts.ec2.send(new DescribeInstancesCommand(input));
  return (out.Reservations ?? []).flatMap((r) => r.Instances ?? []);
}

/** A pending or running instance tagged with this attempt's run, order and attempt. */
async function findAttemptInstance(ctx: SpotContext, ref: OrderRef): Promise<Instance | undefined> {
  const { prefix } = ctx;
  const instances = await describeInstances(ctx, {
    Filters: [
      { Name: `tag:${prefix}:run`, Values: [ref.runId] },
      { Name: `tag:${prefix}:order`, Values: [ref.orderId] },
      { Name: `tag:${prefix}:attempt`, Values: [String(ref.attempt)] },
      { Name: 'instance-state-name', Values: ['pending', 'running'] },
    ],
  });
  return instances.find((i) => i.InstanceId !== undefined);
}

async function inspectInstance(ctx: SpotContext, handle: string): Promise<ExecutionStatus> {
  if (!INSTANCE_ID.test(handle)) return { alive: false, interrupted: false, reason: `not an instance id: ${handle}` };
  let instance: Instance | undefined;
  try {
    instance = (await describeInstances(ctx, { InstanceIds: [handle] }))[0];
  } catch (error) {
    if (!codeOf(error)?.startsWith('InvalidInstanceID')) throw error;
  }
  if (instance === undefined) {
    const at = ctx.launchedAt.get(handle);
    if (at !== undefined && ctx.opts.clock() - at < ctx.visibilityGrace)
      return { alive: true, interrupted: false, reason: `instance ${handle} is not visible yet` };
    return { alive: false, interrupted: false, reason: `instance ${handle} is unknown to EC2` };
  }
  return instanceStatus(handle, instance);
}

/** Alive while pending or running; a Spot interruption told apart from a power-off by the state reason. */
function instanceStatus(handle: string, instance: Instance): ExecutionStatus {
  const state = instance.State?.Name ?? 'unknown';
  const alive = state === 'pending' || state === 'running';
  const code = instance.StateReason?.Code;
  const interrupted = code !== undefined && SPOT_INTERRUPTION_CODES.has(code);
  const reason = alive
    ? `instance ${handle} is ${state}`
    : interrupted
      ? `spot instance ${handle} was reclaimed by EC2 (${code})`
      : `instance ${handle} is ${state}${code === undefined ? '' : ` (${code})`}`;
  return { alive, interrupted, reason };
}

async function terminateInstance(ctx: SpotContext, handle: string, reason: string): Promise<void> {
  if (!INSTANCE_ID.test(handle)) return;
  countCall(ctx, 'TerminateInstances');
  try {
    await ctx.opts.ec2.send(new TerminateInstancesCommand({ InstanceIds: [handle] }));
    ctx.opts.logger?.info({ instanceId: handle, reason }, 'instance terminated');
  } catch (error) {
    // Terminating a gone or unknown instance is not an error (the Runner contract).
    if (codeOf(error)?.startsWith('InvalidInstanceID')) return;
    throw new RunnerError(`cannot terminate ${handle}: ${codeOf(error) ?? 'error'}`, {
      retryable: isRetryableError(error, false),
      cause: error,
      context: { runner: 'spot', handle },
    });
  }
}
