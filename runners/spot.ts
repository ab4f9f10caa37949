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
 */
import { createHash } from 'node:crypto';
import {
  DescribeInstancesCommand,
  RunInstancesCommand,
  TerminateInstancesCommand,
  type DescribeInstancesCommandInput,
  type EC2Client,
  type Instance,
  type RunInstancesCommandInput,
} from '@aws-sdk/client-ec2';
import type { Logger } from 'pino';
import { RunnerError } from '../src/errors.ts';
import { spotSettingsOf, type SpotSettings } from './route-settings.ts';
import type { ExecutionStatus, LaunchRequest, LaunchResult, OrderRef, Runner } from './runner.ts';
import { renderUserData } from './user-data.ts';

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

export type Market = 'spot' | 'on-demand';

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

/**
 * Error codes that mean "no capacity for this candidate now" (EC2 API reference, "Error codes"): try the next
 * candidate, and if none has capacity the whole launch is retryable later.
 */
export const CAPACITY_ERROR_CODES: ReadonlySet<string> = new Set([
  'InsufficientInstanceCapacity',
  'InsufficientCapacity',
  'InsufficientHostCapacity',
  'InsufficientReservedInstanceCapacity',
  'UnfulfillableCapacity',
  'SpotMaxPriceTooLow',
  'MaxSpotInstanceCountExceeded',
  'InsufficientFreeAddressesInSubnet',
  'InstanceLimitExceeded',
  'VcpuLimitExceeded',
]);

/** This candidate can never launch (the type is not offered in that subnet's zone), but another may. */
export const CANDIDATE_ERROR_CODES: ReadonlySet<string> = new Set(['Unsupported', 'InvalidInstanceType']);

/** Faults of the service itself, after the SDK's own retries: stop walking candidates and retry the launch later. */
const TRANSIENT_ERROR_CODES: ReadonlySet<string> = new Set([
  'RequestLimitExceeded',
  'Throttling',
  'ThrottlingException',
  'InternalError',
  'InternalFailure',
  'ServiceUnavailable',
  'Unavailable',
  'RequestTimeout',
  'RequestExpired',
]);

const INSTANCE_ID = /^i-[0-9a-f]{8,17}$/;
const DEFAULT_TAG_PREFIX = 'spotcheck';
/** The orchestrator re-drives after a minute by default; a first launch is never this late. */
const DEFAULT_REDRIVE_LOOKUP_AFTER_MS = 30_000;
const DEFAULT_VISIBILITY_GRACE_MS = 120_000;
/** EC2 tag values: at most 256 Unicode characters (EC2 User Guide, "Tag restrictions"). */
const MAX_TAG_VALUE = 256;
const MAX_REMEMBERED_LAUNCHES = 10_000;
/** StateReason codes of an instance EC2 reclaimed (EC2 API reference, StateReason). */
const SPOT_INTERRUPTION_CODES: ReadonlySet<string> = new Set([
  'Server.SpotInstanceTermination',
  'Server.SpotInstanceShutdown',
]);

interface Candidate {
  readonly market: Market;
  readonly instanceType: string;
  readonly subnet: string;
}

type Classified = 'capacity' | 'candidate' | 'transient' | 'mismatch' | 'permanent';

export function createSpotRunner(opts: SpotRunnerOptions): SpotRunner {
  const prefix = opts.tagPrefix ?? DEFAULT_TAG_PREFIX;
  const redriveAfter = opts.redriveLookupAfterMs ?? DEFAULT_REDRIVE_LOOKUP_AFTER_MS;
  const visibilityGrace = opts.visibilityGraceMs ?? DEFAULT_VISIBILITY_GRACE_MS;
  const launchedAt = new Map<string, number>();
  const stats = {
    launches: 0,
    launched: 0,
    adopted: 0,
    onDemand: 0,
    failedRetryable: 0,
    failedPermanent: 0,
    retryableFailures: 0,
    permanentFailures: 0,
    calls: {} as Record<string, number>,
  };

  const count = (command: string): void => {
    stats.calls[command] = (stats.calls[command] ?? 0) + 1;
  };

  const remember = (instanceId: string): void => {
    launchedAt.set(instanceId, opts.clock());
    if (launchedAt.size > MAX_REMEMBERED_LAUNCHES) launchedAt.delete(launchedAt.keys().next().value!);
  };

  /** Finds instances by filters; errors propagate (the caller decides what a failed look-up means). */
  const describe = async (input: DescribeInstancesCommandInput): Promise<Instance[]> => {
    count('DescribeInstances');
    const out = await opts.ec2.send(new DescribeInstancesCommand(input));
    return (out.Reservations ?? []).flatMap((r) => r.Instances ?? []);
  };

  const findAttemptInstance = async (ref: OrderRef): Promise<Instance | undefined> => {
    const instances = await describe({
      Filters: [
        { Name: `tag:${prefix}:run`, Values: [ref.runId] },
        { Name: `tag:${prefix}:order`, Values: [ref.orderId] },
        { Name: `tag:${prefix}:attempt`, Values: [String(ref.attempt)] },
        { Name: 'instance-state-name', Values: ['pending', 'running'] },
      ],
    });
    return instances.find((i) => i.InstanceId !== undefined);
  };

  async function launch(request: LaunchRequest): Promise<SpotLaunchResult> {
    stats.launches += 1;
    const ref = request.job.ref;
    const log = opts.logger?.child({ runId: ref.runId, orderId: ref.orderId, attempt: ref.attempt });
    let calls = 0;
    let retryable = 0;
    let permanent = 0;
    const fail = (message: string, isRetryable: boolean, code?: string, cause?: unknown): RunnerError => {
      if (isRetryable) stats.failedRetryable += 1;
      else stats.failedPermanent += 1;
      return new RunnerError(message, {
        retryable: isRetryable,
        ...(code === undefined ? {} : { code }),
        ...(cause === undefined ? {} : { cause }),
        context: { runner: 'spot', calls, retryableFailures: retryable, permanentFailures: permanent },
      });
    };
    const done = (instanceId: string, adopted: boolean, candidate: Candidate | undefined): SpotLaunchResult => {
      stats.launched += 1;
      if (adopted) stats.adopted += 1;
      if (candidate?.market === 'on-demand') stats.onDemand += 1;
      remember(instanceId);
      log?.info({ instanceId, adopted, ...candidate, calls, retryable, permanent }, 'spot launch');
      return {
        handle: instanceId,
        instanceId,
        adopted,
        ...(candidate === undefined
          ? {}
          : { market: candidate.market, instanceType: candidate.instanceType, subnet: candidate.subnet }),
        counts: { calls, retryableFailures: retryable, permanentFailures: permanent },
      };
    };

    let settings: SpotSettings;
    try {
      settings = spotSettingsOf(request.route);
    } catch (error) {
      throw fail((error as Error).message, false, undefined, error);
    }
    for (const [key, value] of [
      ['run', ref.runId],
      ['order', ref.orderId],
    ] as const) {
      if (value.length > MAX_TAG_VALUE)
        throw fail(`the ${key} id is longer than an EC2 tag value may be (${MAX_TAG_VALUE})`, false);
    }

    // A re-drive (the order has sat in `dispatching`): an earlier launch may have started an instance before the
    // crash that lost its handle. Adopt it rather than start a second one.
    const dispatchedAt = request.order.dispatchedAt;
    if (dispatchedAt !== undefined && opts.clock() - dispatchedAt >= redriveAfter) {
      calls += 1;
      try {
        const existing = await findAttemptInstance(ref);
        if (existing?.InstanceId !== undefined) return done(existing.InstanceId, true, undefined);
      } catch (error) {
        retryable += 1;
        stats.retryableFailures += 1;
        throw fail('cannot look up earlier instances of this attempt; will retry', true, codeOf(error), error);
      }
    }

    let bootstrap: { url: string; token: string };
    try {
      bootstrap = await opts.bootstrap(request);
    } catch (error) {
      // The token lives in the store: a store outage is worth waiting out, like a capacity error.
      throw fail('cannot mint the bootstrap token; will retry', isRetryableError(error, true), undefined, error);
    }
    let userData: string;
    try {
      userData = renderUserData({
        bootstrapUrl: bootstrap.url,
        bootstrapToken: bootstrap.token,
        maxLifetimeMinutes: settings.maxLifetimeMinutes,
        ...(opts.agentCommand === undefined ? {} : { agentCommand: opts.agentCommand }),
      }).base64;
    } catch (error) {
      throw fail(`cannot render user data: ${(error as Error).message}`, false, undefined, error);
    }

    const expires = new Date(opts.clock() + settings.maxLifetimeMinutes * 60_000).toISOString();
    const failures: string[] = [];
    for (const candidate of candidatesOf(settings)) {
      const token = clientToken(ref, candidate);
      const input = runInstancesInput(settings, candidate, {
        ref,
        prefix,
        expires,
        userData,
        token,
        name: `spotcheck ${request.job.repository} ${ref.orderId}#${ref.attempt}`,
      });
      calls += 1;
      count('RunInstances');
      try {
        const out = await opts.ec2.send(new RunInstancesCommand(input));
        const instanceId = out.Instances?.[0]?.InstanceId;
        if (instanceId === undefined) throw fail('RunInstances returned no instance; will retry', true);
        return done(instanceId, false, candidate);
      } catch (error) {
        if (error instanceof RunnerError) throw error;
        const code = codeOf(error);
        const kind = classify(error);
        const where = `${candidate.market} ${candidate.instanceType} in ${candidate.subnet}`;
        switch (kind) {
          case 'mismatch': {
            // This candidate already launched for this attempt (an earlier call with this token, other user data).
            calls += 1;
            try {
              const earlier = await describe({ Filters: [{ Name: 'client-token', Values: [token] }] });
              const id = earlier[0]?.InstanceId;
              if (id !== undefined) return done(id, true, candidate);
            } catch (lookupError) {
              retryable += 1;
              stats.retryableFailures += 1;
              throw fail('cannot find the instance of an earlier launch; will retry', true, codeOf(lookupError));
            }
            retryable += 1;
            stats.retryableFailures += 1;
            throw fail(`${where}: the client token is taken but no instance carries it; will retry`, true, code);
          }
          case 'capacity':
            retryable += 1;
            stats.retryableFailures += 1;
            failures.push(`${where}: ${code}`);
            log?.info({ code, ...candidate }, 'no capacity, trying the next candidate');
            continue;
          case 'candidate':
            permanent += 1;
            stats.permanentFailures += 1;
            failures.push(`${where}: ${code}`);
            log?.warn({ code, ...candidate }, 'candidate cannot launch, trying the next one');
            continue;
          case 'transient':
            retryable += 1;
            stats.retryableFailures += 1;
            throw fail(`EC2 is unavailable (${code ?? 'network error'}); will retry`, true, code, error);
          case 'permanent':
            permanent += 1;
            stats.permanentFailures += 1;
            throw fail(`EC2 refused the launch: ${code ?? 'error'}: ${messageOf(error)}`, false, code, error);
        }
      }
    }
    // Every candidate failed. Capacity comes back, so the order stays `dispatching` and the watchdog re-drives it;
    // only when no candidate can ever launch does the order fail.
    if (retryable > 0)
      throw fail(`no capacity for any candidate (${failures.join('; ')}); will retry`, true, 'NoCapacity');
    throw fail(`no candidate can launch: ${failures.join('; ')}`, false, 'NoCandidate');
  }

  async function inspect(handle: string): Promise<ExecutionStatus> {
    if (!INSTANCE_ID.test(handle)) return { alive: false, interrupted: false, reason: `not an instance id: ${handle}` };
    let instance: Instance | undefined;
    try {
      instance = (await describe({ InstanceIds: [handle] }))[0];
    } catch (error) {
      if (!codeOf(error)?.startsWith('InvalidInstanceID')) throw error;
    }
    if (instance === undefined) {
      const at = launchedAt.get(handle);
      if (at !== undefined && opts.clock() - at < visibilityGrace)
        return { alive: true, interrupted: false, reason: `instance ${handle} is not visible yet` };
      return { alive: false, interrupted: false, reason: `instance ${handle} is unknown to EC2` };
    }
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

  return {
    kind: 'spot',
    launch,
    inspect,

    async isAlive(handle: string): Promise<boolean> {
      return (await inspect(handle)).alive;
    },

    async terminate(handle: string, reason: string): Promise<void> {
      if (!INSTANCE_ID.test(handle)) return;
      count('TerminateInstances');
      try {
        await opts.ec2.send(new TerminateInstancesCommand({ InstanceIds: [handle] }));
        opts.logger?.info({ instanceId: handle, reason }, 'instance terminated');
      } catch (error) {
        // Terminating a gone or unknown instance is not an error (the Runner contract).
        if (codeOf(error)?.startsWith('InvalidInstanceID')) return;
        throw new RunnerError(`cannot terminate ${handle}: ${codeOf(error) ?? 'error'}`, {
          retryable: isRetryableError(error, false),
          cause: error,
          context: { runner: 'spot', handle },
        });
      }
    },

    stats: () => ({ ...stats, calls: { ...stats.calls } }),
  };
}

/** Type-major, then subnet, then market: every Spot candidate in preference order before any on-demand one. */
export function candidatesOf(settings: SpotSettings): Candidate[] {
  const markets: Market[] = settings.onDemandFallback ? ['spot', 'on-demand'] : ['spot'];
  return markets.flatMap((market) =>
    settings.instanceTypes.flatMap((instanceType) =>
      settings.subnets.map((subnet) => ({ market, instanceType, subnet })),
    ),
  );
}

/**
 * A ClientToken for one candidate of one attempt: the SHA-256 of run/order/attempt and the candidate, in hex —
 * 64 ASCII characters, the most EC2 takes. Stable across retries of the attempt, different across attempts and
 * across candidates (a different request needs a different token).
 */
export function clientToken(ref: OrderRef, candidate: Candidate): string {
  return createHash('sha256')
    .update(
      JSON.stringify([ref.runId, ref.orderId, ref.attempt, candidate.market, candidate.instanceType, candidate.subnet]),
    )
    .digest('hex');
}

function runInstancesInput(
  settings: SpotSettings,
  candidate: Candidate,
  meta: {
    readonly ref: OrderRef;
    readonly prefix: string;
    readonly expires: string;
    readonly userData: string;
    readonly token: string;
    readonly name: string;
  },
): RunInstancesCommandInput {
  const { ref, prefix } = meta;
  // The same tags on the instance and its volume, so the janitor and a cost report can find both.
  // `<prefix>:expires` is an ISO 8601 UTC timestamp (readable in the console; Date.parse reads it back).
  const tags = [
    { Key: `${prefix}:run`, Value: ref.runId },
    { Key: `${prefix}:order`, Value: ref.orderId },
    { Key: `${prefix}:attempt`, Value: String(ref.attempt) },
    { Key: `${prefix}:expires`, Value: meta.expires },
    { Key: 'Name', Value: meta.name.slice(0, MAX_TAG_VALUE) },
  ];
  return spotInstanceInput(settings, candidate, { token: meta.token, userData: meta.userData, tags });
}

/**
 * The RunInstances request for one candidate (type × subnet × market): what every spotcheck instance is, whatever
 * it runs (an order's agent, or a capacity runner) — IMDSv2 only, terminate on shutdown, an encrypted root volume,
 * the same tags on the instance and its volume. The caller gives the idempotency token, user data and tags.
 */
export function spotInstanceInput(
  settings: SpotSettings,
  candidate: Candidate,
  meta: { readonly token: string; readonly userData: string; readonly tags: readonly { Key: string; Value: string }[] },
): RunInstancesCommandInput {
  const tags = [...meta.tags];
  return {
    MinCount: 1,
    MaxCount: 1,
    ClientToken: meta.token,
    InstanceType: candidate.instanceType as RunInstancesCommandInput['InstanceType'],
    SubnetId: candidate.subnet,
    ...(settings.securityGroups.length > 0 ? { SecurityGroupIds: [...settings.securityGroups] } : {}),
    ...(settings.ami === undefined ? {} : { ImageId: settings.ami }),
    ...(settings.launchTemplate === undefined
      ? {}
      : {
          LaunchTemplate: {
            Version: settings.launchTemplate.version,
            ...(settings.launchTemplate.id === undefined ? {} : { LaunchTemplateId: settings.launchTemplate.id }),
            ...(settings.launchTemplate.name === undefined ? {} : { LaunchTemplateName: settings.launchTemplate.name }),
          },
        }),
    ...(settings.instanceProfile === undefined
      ? {}
      : {
          IamInstanceProfile: settings.instanceProfile.startsWith('arn:')
            ? { Arn: settings.instanceProfile }
            : { Name: settings.instanceProfile },
        }),
    UserData: meta.userData,
    // IMDSv2 only, and a hop limit of 1 so a container on the instance cannot reach the metadata service
    // (EC2 User Guide, "Configure the instance metadata options").
    MetadataOptions: { HttpTokens: 'required', HttpPutResponseHopLimit: 1, HttpEndpoint: 'enabled' },
    // Power-off (the agent's, or the lifetime cap's `shutdown -h`) terminates the instance.
    InstanceInitiatedShutdownBehavior: 'terminate',
    BlockDeviceMappings: [
      {
        DeviceName: settings.rootDeviceName,
        Ebs: {
          Encrypted: true,
          DeleteOnTermination: true,
          VolumeType: 'gp3',
          ...(settings.rootVolumeGiB === undefined ? {} : { VolumeSize: settings.rootVolumeGiB }),
        },
      },
    ],
    TagSpecifications: [
      { ResourceType: 'instance', Tags: tags },
      { ResourceType: 'volume', Tags: tags },
    ],
    ...(candidate.market === 'spot'
      ? {
          // One-time, terminate on interruption; no MaxPrice, so the cap is the on-demand price (AWS's advice:
          // "Spot Instance pricing", setting a maximum price raises interruptions, not savings).
          InstanceMarketOptions: {
            MarketType: 'spot',
            SpotOptions: { SpotInstanceType: 'one-time', InstanceInterruptionBehavior: 'terminate' },
          },
        }
      : {}),
  };
}

function classify(error: unknown): Classified {
  const code = codeOf(error);
  if (code === 'IdempotentParameterMismatch') return 'mismatch';
  if (code !== undefined && CAPACITY_ERROR_CODES.has(code)) return 'capacity';
  if (code !== undefined && CANDIDATE_ERROR_CODES.has(code)) return 'candidate';
  if (isRetryableError(error, false)) return 'transient';
  return 'permanent';
}

/** The AWS SDK v3 puts the service's error code in `name` (and in `Code` for EC2's query protocol). */
export function codeOf(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const record = error as { Code?: unknown; name?: unknown };
  if (typeof record.Code === 'string' && record.Code !== '') return record.Code;
  if (typeof record.name === 'string' && record.name !== '' && record.name !== 'Error') return record.name;
  return undefined;
}

/**
 * Whether waiting may help: a throttle, a 5xx, a network error (no service code at all), or an error that says so
 * itself (`retryable`, as StoreError does). `unknownIsRetryable` decides for errors we cannot read.
 */
export function isRetryableError(error: unknown, unknownIsRetryable: boolean): boolean {
  if (typeof error !== 'object' || error === null) return unknownIsRetryable;
  const record = error as { retryable?: unknown; $fault?: unknown; $retryable?: unknown };
  if (typeof record.retryable === 'boolean') return record.retryable;
  const code = codeOf(error);
  if (code !== undefined && TRANSIENT_ERROR_CODES.has(code)) return true;
  if (record.$fault === 'server' || record.$retryable !== undefined) return true;
  if (record.$fault === 'client') return false;
  // No service code: the request never got an answer (DNS, connection reset, socket timeout).
  if (code === undefined || ['TimeoutError', 'AbortError'].includes(code) || code.startsWith('ECONN')) return true;
  return unknownIsRetryable;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
