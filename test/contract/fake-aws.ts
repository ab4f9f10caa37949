/**
 * Tiny state machines behind aws-sdk-client-mock: an EC2 that keeps instances, honours ClientToken the way the EC2
 * API reference describes it (same token + same parameters → the same instance; same token + other parameters →
 * IdempotentParameterMismatch), filters DescribeInstances and paginates; a CodeBuild that keeps builds and
 * honours idempotencyToken for 5 minutes. Each mocks one client instance (never the class: nothing global), and
 * any command without a handler fails the test's call loudly.
 */
import {
  BatchGetBuildsCommand,
  CodeBuildClient,
  ListBuildsForProjectCommand,
  StartBuildCommand,
  StopBuildCommand,
  type Build,
  type StartBuildCommandInput,
} from '@aws-sdk/client-codebuild';
import {
  DescribeInstancesCommand,
  EC2Client,
  RunInstancesCommand,
  TerminateInstancesCommand,
  type DescribeInstancesCommandInput,
  type Instance,
  type RunInstancesCommandInput,
} from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import type { LaunchRequest, OrderJob, Route } from '../../runners/runner.ts';
import type { OrderRecord, RunRecord, StepSpec } from '../../src/core/types.ts';
import { makeGithubContext } from '../helpers/records.ts';

export function awsError(code: string, message = code, fault: 'client' | 'server' = 'client'): Error {
  return Object.assign(new Error(message), { name: code, $fault: fault, $metadata: { httpStatusCode: 400 } });
}

export interface FakeInstance {
  readonly id: string;
  state: 'pending' | 'running' | 'shutting-down' | 'terminated' | 'stopping' | 'stopped';
  stateReason?: string;
  readonly tags: Record<string, string>;
  readonly clientToken: string | undefined;
  readonly params: string;
  readonly launchTime: number;
  readonly input: RunInstancesCommandInput;
  readonly market: 'spot' | 'on-demand';
}

export interface FakeEc2Options {
  readonly clock: () => number;
  /** The error code a RunInstances call gets (capacity, permissions…), or undefined to launch. */
  readonly refuse?: (input: RunInstancesCommandInput) => string | undefined;
  /** DescribeInstances page size (to exercise pagination). */
  readonly pageSize?: number;
}

export function createFakeEc2(options: FakeEc2Options) {
  const client = new EC2Client({ region: 'eu-west-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
  const mock = mockClient(client);
  const instances = new Map<string, FakeInstance>();
  let next = 1;
  let refuse = options.refuse;

  mock.onAnyCommand().rejects(awsError('UnexpectedCommand', 'the fake EC2 has no handler for this command'));

  mock.on(RunInstancesCommand).callsFake((input: RunInstancesCommandInput) => {
    const { ClientToken: token, ...rest } = input;
    const params = JSON.stringify(rest);
    const earlier = [...instances.values()].find((i) => token !== undefined && i.clientToken === token);
    if (earlier) {
      if (earlier.params !== params) throw awsError('IdempotentParameterMismatch');
      return { Instances: [describeOne(earlier)] };
    }
    const refused = refuse?.(input);
    if (refused !== undefined) throw awsError(refused);
    const id = `i-${(next++).toString(16).padStart(17, '0')}`;
    const tags: Record<string, string> = {};
    for (const spec of input.TagSpecifications ?? [])
      if (spec.ResourceType === 'instance') for (const t of spec.Tags ?? []) tags[t.Key!] = t.Value!;
    const instance: FakeInstance = {
      id,
      state: 'pending',
      tags,
      clientToken: token,
      params,
      launchTime: options.clock(),
      input,
      market: input.InstanceMarketOptions?.MarketType === 'spot' ? 'spot' : 'on-demand',
    };
    instances.set(id, instance);
    return { Instances: [describeOne(instance)] };
  });

  mock.on(DescribeInstancesCommand).callsFake((input: DescribeInstancesCommandInput) => {
    let found: FakeInstance[];
    if (input.InstanceIds !== undefined) {
      const unknown = input.InstanceIds.filter((id) => !instances.has(id));
      if (unknown.length > 0) throw awsError('InvalidInstanceID.NotFound');
      found = input.InstanceIds.map((id) => instances.get(id)!);
    } else found = [...instances.values()];
    found = found.filter((i) => (input.Filters ?? []).every((f) => matches(i, f.Name!, f.Values ?? [])));
    const size = options.pageSize ?? 1000;
    const start = input.NextToken === undefined ? 0 : Number(input.NextToken);
    const page = found.slice(start, start + size);
    return {
      Reservations: page.map((i) => ({ Instances: [describeOne(i)] })),
      ...(start + size < found.length ? { NextToken: String(start + size) } : {}),
    };
  });

  mock.on(TerminateInstancesCommand).callsFake((input: { InstanceIds?: string[] }) => {
    const ids = input.InstanceIds ?? [];
    if (ids.some((id) => !instances.has(id))) throw awsError('InvalidInstanceID.NotFound');
    return {
      TerminatingInstances: ids.map((id) => {
        const instance = instances.get(id)!;
        const previous = instance.state;
        instance.state = 'terminated';
        instance.stateReason ??= 'Client.UserInitiatedShutdown';
        return { InstanceId: id, PreviousState: { Name: previous }, CurrentState: { Name: 'terminated' } };
      }),
    };
  });

  return {
    client,
    mock,
    instances,
    /** Live instances (pending or running). */
    live: () => [...instances.values()].filter((i) => i.state === 'pending' || i.state === 'running'),
    setRefuse(fn: FakeEc2Options['refuse']) {
      refuse = fn;
    },
    /** EC2 reclaims a Spot instance (its two-minute notice has run out). */
    interrupt(id: string) {
      const instance = instances.get(id)!;
      instance.state = 'terminated';
      instance.stateReason = 'Server.SpotInstanceTermination';
    },
    /** The instance powers itself off (the agent's shutdown; InstanceInitiatedShutdownBehavior=terminate). */
    powerOff(id: string) {
      const instance = instances.get(id)!;
      instance.state = 'terminated';
      instance.stateReason = 'Client.InstanceInitiatedShutdown';
    },
    runInputs: (): RunInstancesCommandInput[] => mock.commandCalls(RunInstancesCommand).map((c) => c.args[0].input),
    calls: () => mock.calls().length,
  };
}

function matches(instance: FakeInstance, name: string, values: readonly string[]): boolean {
  if (name === 'instance-state-name') return values.includes(instance.state);
  if (name === 'client-token') return instance.clientToken !== undefined && values.includes(instance.clientToken);
  if (name === 'tag-key') return values.some((key) => key in instance.tags);
  if (name.startsWith('tag:')) {
    const value = instance.tags[name.slice(4)];
    return value !== undefined && values.includes(value);
  }
  throw awsError('InvalidParameterValue', `the fake EC2 does not know the filter ${name}`);
}

function describeOne(instance: FakeInstance): Instance {
  return {
    InstanceId: instance.id,
    State: { Name: instance.state },
    ...(instance.stateReason === undefined
      ? {}
      : { StateReason: { Code: instance.stateReason, Message: instance.stateReason } }),
    Tags: Object.entries(instance.tags).map(([Key, Value]) => ({ Key, Value })),
    LaunchTime: new Date(instance.launchTime),
    ...(instance.clientToken === undefined ? {} : { ClientToken: instance.clientToken }),
    InstanceType: instance.input.InstanceType,
    SubnetId: instance.input.SubnetId,
  };
}

export interface FakeBuild {
  readonly id: string;
  status: 'IN_PROGRESS' | 'SUCCEEDED' | 'FAILED' | 'FAULT' | 'TIMED_OUT' | 'STOPPED';
  readonly project: string;
  readonly startTime: number;
  readonly input: StartBuildCommandInput;
  readonly token: string | undefined;
  readonly params: string;
  /** Builds not started through StartBuild here (someone else's, in the same project). */
  readonly env: { name: string; value: string }[];
}

export interface FakeCodeBuildOptions {
  readonly clock: () => number;
  readonly refuse?: (input: StartBuildCommandInput) => string | undefined;
  readonly pageSize?: number;
}

/** CodeBuild keeps an idempotency token for 5 minutes (StartBuild API reference). */
const TOKEN_TTL_MS = 5 * 60_000;

export function createFakeCodeBuild(options: FakeCodeBuildOptions) {
  const client = new CodeBuildClient({ region: 'eu-west-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
  const mock = mockClient(client);
  const builds = new Map<string, FakeBuild>();
  let next = 1;
  let refuse = options.refuse;

  mock.onAnyCommand().rejects(awsError('UnexpectedCommand', 'the fake CodeBuild has no handler for this command'));

  const add = (project: string, input: StartBuildCommandInput, token: string | undefined, params: string) => {
    const uuid = `00000000-0000-4000-8000-${(next++).toString(16).padStart(12, '0')}`;
    const build: FakeBuild = {
      id: `${project}:${uuid}`,
      status: 'IN_PROGRESS',
      project,
      startTime: options.clock(),
      input,
      token,
      params,
      env: (input.environmentVariablesOverride ?? []).map((v) => ({ name: v.name!, value: v.value! })),
    };
    builds.set(build.id, build);
    return build;
  };

  mock.on(StartBuildCommand).callsFake((input: StartBuildCommandInput) => {
    const { idempotencyToken: token, ...rest } = input;
    const params = JSON.stringify(rest);
    const earlier = [...builds.values()].find(
      (b) => token !== undefined && b.token === token && options.clock() - b.startTime < TOKEN_TTL_MS,
    );
    if (earlier) {
      if (earlier.params !== params)
        throw awsError('InvalidInputException', 'Idempotency token already used with different parameters');
      return { build: describeBuild(earlier) };
    }
    const refused = refuse?.(input);
    if (refused !== undefined) throw awsError(refused);
    return { build: describeBuild(add(input.projectName!, input, token, params)) };
  });

  mock.on(BatchGetBuildsCommand).callsFake((input: { ids?: string[] }) => {
    const ids = input.ids ?? [];
    if (ids.length > 100) throw awsError('InvalidInputException', 'at most 100 ids');
    return {
      builds: ids.filter((id) => builds.has(id)).map((id) => describeBuild(builds.get(id)!)),
      buildsNotFound: ids.filter((id) => !builds.has(id)),
    };
  });

  mock.on(ListBuildsForProjectCommand).callsFake((input: { projectName?: string; nextToken?: string }) => {
    const ids = [...builds.values()]
      .filter((b) => b.project === input.projectName)
      .sort((a, b) => b.startTime - a.startTime || b.id.localeCompare(a.id))
      .map((b) => b.id);
    const size = options.pageSize ?? 100;
    const start = input.nextToken === undefined ? 0 : Number(input.nextToken);
    return {
      ids: ids.slice(start, start + size),
      ...(start + size < ids.length ? { nextToken: String(start + size) } : {}),
    };
  });

  mock.on(StopBuildCommand).callsFake((input: { id?: string }) => {
    const build = builds.get(input.id ?? '');
    if (!build) throw awsError('ResourceNotFoundException');
    if (build.status !== 'IN_PROGRESS') throw awsError('InvalidInputException', 'Build already completed');
    build.status = 'STOPPED';
    return { build: describeBuild(build) };
  });

  return {
    client,
    mock,
    builds,
    live: () => [...builds.values()].filter((b) => b.status === 'IN_PROGRESS'),
    setRefuse(fn: FakeCodeBuildOptions['refuse']) {
      refuse = fn;
    },
    /** A build someone else started in the project (no spotcheck markers). */
    foreign(project: string) {
      return add(project, { projectName: project }, undefined, '{}');
    },
    finish(id: string, status: FakeBuild['status']) {
      builds.get(id)!.status = status;
    },
    startInputs: (): StartBuildCommandInput[] => mock.commandCalls(StartBuildCommand).map((c) => c.args[0].input),
  };
}

function describeBuild(build: FakeBuild): Build {
  return {
    id: build.id,
    projectName: build.project,
    buildStatus: build.status,
    buildComplete: build.status !== 'IN_PROGRESS',
    startTime: new Date(build.startTime),
    environment: {
      type: 'LINUX_CONTAINER',
      image: build.input.imageOverride ?? 'aws/codebuild/amazonlinux-x86_64-standard:5.0',
      computeType: build.input.computeTypeOverride ?? 'BUILD_GENERAL1_SMALL',
      environmentVariables: build.env.map((v) => ({ ...v, type: 'PLAINTEXT' })),
    },
  };
}

export interface RequestInput {
  readonly route: Route;
  readonly runId?: string;
  readonly orderId?: string;
  readonly attempt?: number;
  readonly dispatchedAt?: number;
  readonly timeoutMinutes?: number;
  readonly env?: Record<string, string>;
  readonly cloneUrl?: string;
  readonly sha?: string;
  readonly steps?: readonly string[];
}

/** A launch request as the orchestrator builds it; cloud runners read the route, the order and the job's ref. */
export function launchRequest(input: RequestInput): LaunchRequest {
  const ref = { runId: input.runId ?? 'run-1', orderId: input.orderId ?? 'build', attempt: input.attempt ?? 1 };
  const steps: StepSpec[] = (input.steps ?? ['echo hello']).map((run, index) => ({
    index,
    run,
    env: {},
    continueOnError: false,
    pos: { line: 1, col: 1 },
  }));
  const github = makeGithubContext({
    sha: input.sha ?? 'a'.repeat(40),
    repository: 'acme/widgets',
    repository_owner: 'acme',
    run_id: ref.runId,
  });
  const job: OrderJob = {
    ref,
    repository: 'acme/widgets',
    cloneUrl: input.cloneUrl ?? 'https://x-access-token:ghs_CLONE_SECRET_1234567890@github.com/acme/widgets.git',
    sha: input.sha ?? 'a'.repeat(40),
    github,
    matrix: {},
    needs: {},
    env: input.env ?? {},
    steps,
    outputExprs: {},
    timeoutMinutes: input.timeoutMinutes ?? 20,
  };
  const order = {
    id: ref.orderId,
    runId: ref.runId,
    attempt: ref.attempt,
    state: 'dispatching',
    runsOn: input.route.label,
    timeoutMinutes: job.timeoutMinutes,
    ...(input.dispatchedAt === undefined ? {} : { dispatchedAt: input.dispatchedAt }),
  } as OrderRecord;
  return { run: { runId: ref.runId, github } as RunRecord, order, route: input.route, job };
}
