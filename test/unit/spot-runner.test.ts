import type { RunInstancesCommandInput } from '@aws-sdk/client-ec2';
import { describe, expect, it } from 'vitest';
import { parseRouteSettings } from '../../runners/route-settings.ts';
import type { LaunchRequest, Route } from '../../runners/runner.ts';
import { clientToken, createSpotRunner, type SpotRunner } from '../../runners/spot.ts';
import { RunnerError } from '../../src/errors.ts';
import { createFakeEc2, launchRequest } from '../contract/fake-aws.ts';

const T0 = Date.parse('2025-03-01T12:00:00Z');
const TYPES = ['m7i.large', 'm6i.large'];
const SUBNETS = ['subnet-aaaaaaaa', 'subnet-bbbbbbbb'];

function spotRoute(over: Record<string, unknown> = {}): Route {
  return {
    label: 'big',
    runner: 'spot',
    settings: {
      instanceTypes: TYPES,
      subnets: SUBNETS,
      securityGroups: ['sg-11111111'],
      ami: 'ami-0123456789abcdef0',
      onDemandFallback: true,
      maxLifetimeMinutes: 120,
      rootVolumeGiB: 40,
      instanceProfile: 'spotcheck-runner',
      ...over,
    },
  };
}

function setup(options: { refuse?: Parameters<typeof createFakeEc2>[0]['refuse']; bootstrapFails?: boolean } = {}) {
  const clock = { now: T0 };
  const ec2 = createFakeEc2({ clock: () => clock.now, ...(options.refuse ? { refuse: options.refuse } : {}) });
  const minted: string[] = [];
  const runner: SpotRunner = createSpotRunner({
    ec2: ec2.client,
    clock: () => clock.now,
    bootstrap: (request: LaunchRequest) => {
      if (options.bootstrapFails) return Promise.reject(new Error('store unavailable'));
      const { runId, orderId, attempt } = request.job.ref;
      const token = `boot_${minted.length + 1}_${'Q'.repeat(24)}`;
      minted.push(`${runId}/${orderId}/${attempt}:${token}`);
      return Promise.resolve({ url: 'https://ci.example.org/api/agent/bootstrap', token });
    },
  });
  return { clock, ec2, runner, minted };
}

const candidate = (input: RunInstancesCommandInput) =>
  `${input.InstanceMarketOptions === undefined ? 'on-demand' : 'spot'} ${input.InstanceType} ${input.SubnetId}`;

async function launchError(promise: Promise<unknown>): Promise<RunnerError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(RunnerError);
  return error as RunnerError;
}

describe('spot runner: the RunInstances request', () => {
  it('launches with IMDSv2 (hop limit 1), an encrypted root volume, tags on instance and volume, terminate on shutdown', async () => {
    const { ec2, runner } = setup();
    const result = await runner.launch(
      launchRequest({ route: spotRoute(), runId: 'r-42', orderId: 'test.2', attempt: 3 }),
    );
    expect(result.handle).toMatch(/^i-[0-9a-f]{17}$/);
    expect(result).toMatchObject({ adopted: false, market: 'spot', instanceType: 'm7i.large', subnet: SUBNETS[0] });
    expect(result.counts).toEqual({ calls: 1, retryableFailures: 0, permanentFailures: 0 });
    const [input] = ec2.runInputs();
    expect(ec2.runInputs()).toHaveLength(1);
    expect(input).toMatchObject({
      MinCount: 1,
      MaxCount: 1,
      ImageId: 'ami-0123456789abcdef0',
      InstanceType: 'm7i.large',
      SubnetId: 'subnet-aaaaaaaa',
      SecurityGroupIds: ['sg-11111111'],
      IamInstanceProfile: { Name: 'spotcheck-runner' },
      MetadataOptions: { HttpTokens: 'required', HttpPutResponseHopLimit: 1, HttpEndpoint: 'enabled' },
      InstanceInitiatedShutdownBehavior: 'terminate',
      BlockDeviceMappings: [
        {
          DeviceName: '/dev/xvda',
          Ebs: { Encrypted: true, DeleteOnTermination: true, VolumeType: 'gp3', VolumeSize: 40 },
        },
      ],
      InstanceMarketOptions: {
        MarketType: 'spot',
        SpotOptions: { SpotInstanceType: 'one-time', InstanceInterruptionBehavior: 'terminate' },
      },
    });
    expect(input?.KeyName).toBeUndefined();
    expect(input?.ClientToken).toMatch(/^[0-9a-f]{64}$/);
    const expires = new Date(T0 + 120 * 60_000).toISOString();
    for (const resourceType of ['instance', 'volume']) {
      const spec = input?.TagSpecifications?.find((s) => s.ResourceType === resourceType);
      expect(spec?.Tags).toEqual(
        expect.arrayContaining([
          { Key: 'spotcheck:run', Value: 'r-42' },
          { Key: 'spotcheck:order', Value: 'test.2' },
          { Key: 'spotcheck:attempt', Value: '3' },
          { Key: 'spotcheck:expires', Value: expires },
        ]),
      );
    }
  });

  it('uses a launch template by id or name and version, and an instance profile ARN', async () => {
    const { ec2, runner } = setup();
    const arn = 'arn:aws:iam::123456789012:instance-profile/spotcheck';
    await runner.launch(
      launchRequest({
        route: spotRoute({
          ami: undefined,
          launchTemplate: { name: 'spotcheck-runner', version: 4 },
          instanceProfile: arn,
        }),
      }),
    );
    const [input] = ec2.runInputs();
    expect(input?.ImageId).toBeUndefined();
    expect(input?.LaunchTemplate).toEqual({ LaunchTemplateName: 'spotcheck-runner', Version: '4' });
    expect(input?.IamInstanceProfile).toEqual({ Arn: arn });
  });

  it('puts only the bootstrap URL, the one-time token and the start command in user data — no secret of the order', async () => {
    const { ec2, runner, minted } = setup();
    const secretEnv = { API_KEY: 'sk_live_SUPERSECRET_0987654321' };
    await runner.launch(launchRequest({ route: spotRoute(), env: secretEnv, steps: ['deploy --token "$API_KEY"'] }));
    await runner.launch(launchRequest({ route: spotRoute(), orderId: 'other', steps: ['make test'] }));
    const [first, second] = ec2.runInputs();
    const decode = (b64: string | undefined) => Buffer.from(b64 ?? '', 'base64').toString('utf8');
    const one = decode(first?.UserData);
    const two = decode(second?.UserData);
    expect(first?.UserData?.length).toBeLessThan(16 * 1024);
    const token1 = minted[0]!.split(':')[1]!;
    const token2 = minted[1]!.split(':')[1]!;
    expect(one).toContain(`SPOTCHECK_BOOTSTRAP_TOKEN='${token1}'`);
    expect(one).toContain(`SPOTCHECK_BOOTSTRAP_URL='https://ci.example.org/api/agent/bootstrap'`);
    expect(one).toContain('shutdown -h +120');
    for (const secret of ['SUPERSECRET', 'ghs_CLONE_SECRET', 'deploy --token', 'acme/widgets', 'github.com'])
      expect(one).not.toContain(secret);
    // Two different orders: user data differs by the token only, so nothing else of an order can be in it.
    expect(one.replace(token1, 'TOKEN')).toBe(two.replace(token2, 'TOKEN'));
  });
});

describe('spot runner: fallback and idempotency', () => {
  it('walks instance types × subnets in preference order, then the same candidates on demand', async () => {
    const { ec2, runner } = setup({
      refuse: (input) => (input.InstanceMarketOptions !== undefined ? 'InsufficientInstanceCapacity' : undefined),
    });
    const result = await runner.launch(launchRequest({ route: spotRoute() }));
    expect(ec2.runInputs().map(candidate)).toEqual([
      'spot m7i.large subnet-aaaaaaaa',
      'spot m7i.large subnet-bbbbbbbb',
      'spot m6i.large subnet-aaaaaaaa',
      'spot m6i.large subnet-bbbbbbbb',
      'on-demand m7i.large subnet-aaaaaaaa',
    ]);
    expect(result).toMatchObject({
      market: 'on-demand',
      counts: { calls: 5, retryableFailures: 4, permanentFailures: 0 },
    });
    // Every candidate has its own token (a different request needs a different token); on-demand is fresh.
    const tokens = ec2.runInputs().map((i) => i.ClientToken);
    expect(new Set(tokens).size).toBe(5);
  });

  it.each([
    'InsufficientInstanceCapacity',
    'InsufficientCapacity',
    'UnfulfillableCapacity',
    'SpotMaxPriceTooLow',
    'MaxSpotInstanceCountExceeded',
    'InsufficientFreeAddressesInSubnet',
  ])('%s falls through to the next candidate', async (code) => {
    let calls = 0;
    const { runner } = setup({ refuse: () => (calls++ === 0 ? code : undefined) });
    const result = await runner.launch(launchRequest({ route: spotRoute() }));
    expect(result).toMatchObject({ instanceType: 'm7i.large', subnet: 'subnet-bbbbbbbb', market: 'spot' });
    expect(result.counts).toEqual({ calls: 2, retryableFailures: 1, permanentFailures: 0 });
  });

  it('never loses the order: no capacity anywhere (and no on-demand) is a retryable error with counts', async () => {
    const { ec2, runner } = setup({ refuse: () => 'InsufficientInstanceCapacity' });
    const error = await launchError(runner.launch(launchRequest({ route: spotRoute({ onDemandFallback: false }) })));
    expect(error.retryable).toBe(true);
    expect(error.code).toBe('NoCapacity');
    expect(error.context).toMatchObject({ calls: 4, retryableFailures: 4, permanentFailures: 0 });
    expect(ec2.runInputs().every((i) => i.InstanceMarketOptions !== undefined)).toBe(true);
    expect(runner.stats()).toMatchObject({ failedRetryable: 1, retryableFailures: 4, launched: 0 });
  });

  it.each([['InvalidAMIID.NotFound'], ['UnauthorizedOperation'], ['InvalidGroup.NotFound'], ['InvalidParameterValue']])(
    '%s is permanent at once: one call, a clear message',
    async (code) => {
      const { ec2, runner } = setup({ refuse: () => code });
      const error = await launchError(runner.launch(launchRequest({ route: spotRoute() })));
      expect(error.retryable).toBe(false);
      expect(error.message).toContain(code);
      expect(ec2.runInputs()).toHaveLength(1);
    },
  );

  it('throttling stops the walk and is retryable', async () => {
    const { ec2, runner } = setup({ refuse: () => 'RequestLimitExceeded' });
    const error = await launchError(runner.launch(launchRequest({ route: spotRoute() })));
    expect(error.retryable).toBe(true);
    expect(ec2.runInputs()).toHaveLength(1);
  });

  it('a type no subnet offers (Unsupported everywhere) is permanent; mixed with capacity it is retryable', async () => {
    const unsupported = setup({ refuse: () => 'Unsupported' });
    const error = await launchError(unsupported.runner.launch(launchRequest({ route: spotRoute() })));
    expect(error).toMatchObject({ retryable: false, code: 'NoCandidate' });
    expect(unsupported.ec2.runInputs()).toHaveLength(8);
    const mixed = setup({
      refuse: (input) => (input.InstanceType === 'm7i.large' ? 'Unsupported' : 'InsufficientInstanceCapacity'),
    });
    const mixedError = await launchError(mixed.runner.launch(launchRequest({ route: spotRoute() })));
    expect(mixedError.retryable).toBe(true);
    expect(mixedError.context).toMatchObject({ retryableFailures: 4, permanentFailures: 4 });
  });

  it('ClientTokens are stable across retries of one attempt and differ across attempts', async () => {
    const { ec2, runner } = setup({ refuse: () => 'InsufficientInstanceCapacity' });
    const route = spotRoute({ onDemandFallback: false });
    await runner.launch(launchRequest({ route, attempt: 1 })).catch(() => undefined);
    await runner.launch(launchRequest({ route, attempt: 1 })).catch(() => undefined);
    await runner.launch(launchRequest({ route, attempt: 2 })).catch(() => undefined);
    const tokens = ec2.runInputs().map((i) => i.ClientToken);
    expect(tokens.slice(0, 4)).toEqual(tokens.slice(4, 8));
    expect(tokens.slice(8, 12).some((t) => tokens.slice(0, 4).includes(t))).toBe(false);
    expect(
      clientToken({ runId: 'r', orderId: 'o', attempt: 1 }, { market: 'spot', instanceType: 'm7i.large', subnet: 's' }),
    ).toHaveLength(64);
  });

  it('a second launch of the same attempt (new bootstrap token) adopts the first instance', async () => {
    const { ec2, runner, minted } = setup();
    const first = await runner.launch(launchRequest({ route: spotRoute() }));
    const second = await runner.launch(launchRequest({ route: spotRoute() }));
    expect(minted).toHaveLength(2);
    expect(second.handle).toBe(first.handle);
    expect(second.adopted).toBe(true);
    expect(ec2.instances.size).toBe(1);
  });

  it('a re-drive adopts the live instance of the attempt even when an earlier candidate has capacity again', async () => {
    let full = true;
    const { clock, ec2, runner } = setup({
      refuse: (input) => (full && input.SubnetId === 'subnet-aaaaaaaa' ? 'InsufficientInstanceCapacity' : undefined),
    });
    const first = await runner.launch(launchRequest({ route: spotRoute(), dispatchedAt: T0 }));
    expect(first.subnet).toBe('subnet-bbbbbbbb');
    full = false; // capacity is back in the first subnet; the crash lost the handle; the watchdog re-drives
    clock.now = T0 + 90_000;
    const again = await runner.launch(launchRequest({ route: spotRoute(), dispatchedAt: T0 }));
    expect(again).toMatchObject({ handle: first.handle, adopted: true });
    expect(ec2.instances.size).toBe(1);
    expect(ec2.runInputs()).toHaveLength(2);
  });

  it('a failing bootstrap mint is retryable and launches nothing; invalid settings are permanent', async () => {
    const failing = setup({ bootstrapFails: true });
    expect((await launchError(failing.runner.launch(launchRequest({ route: spotRoute() })))).retryable).toBe(true);
    expect(failing.ec2.instances.size).toBe(0);
    const bad = setup();
    const error = await launchError(bad.runner.launch(launchRequest({ route: spotRoute({ subnets: [] }) })));
    expect(error.retryable).toBe(false);
    expect(bad.ec2.calls()).toBe(0);
  });
});

describe('spot runner: inspect, isAlive, terminate', () => {
  it('tells a Spot interruption from a power-off and an unknown instance', async () => {
    const { clock, ec2, runner } = setup();
    const a = (await runner.launch(launchRequest({ route: spotRoute(), orderId: 'a' }))).handle;
    const b = (await runner.launch(launchRequest({ route: spotRoute(), orderId: 'b' }))).handle;
    expect(await runner.inspect(a)).toMatchObject({ alive: true, interrupted: false });
    ec2.interrupt(a);
    ec2.powerOff(b);
    expect(await runner.inspect(a)).toMatchObject({ alive: false, interrupted: true });
    expect((await runner.inspect(a)).reason).toContain('Server.SpotInstanceTermination');
    expect(await runner.inspect(b)).toMatchObject({ alive: false, interrupted: false });
    expect(await runner.isAlive('i-0000000000000dead')).toBe(false);
    expect(await runner.isAlive('not-an-instance')).toBe(false);
    // An instance this runner just launched that EC2 does not list yet (eventual consistency) is alive.
    ec2.instances.delete(a);
    expect(await runner.isAlive(a)).toBe(true);
    clock.now += 10 * 60_000;
    expect(await runner.isAlive(a)).toBe(false);
  });

  it('terminate ends the instance; a gone or unknown one is fine', async () => {
    const { ec2, runner } = setup();
    const { handle } = await runner.launch(launchRequest({ route: spotRoute() }));
    await runner.terminate(handle, 'cancelled');
    expect(await runner.isAlive(handle)).toBe(false);
    await runner.terminate(handle, 'again');
    await runner.terminate('i-0000000000000beef', 'unknown');
    expect(ec2.live()).toHaveLength(0);
  });
});

describe('spot runner: EC2 calls per order (benchmark data)', () => {
  /** Launches `orders` orders; `refuse(n)` says whether the n-th RunInstances call hits a capacity error. */
  async function measure(orders: number, refuse: (call: number) => boolean) {
    let call = 0;
    const { ec2, runner } = setup({ refuse: () => (refuse(call++) ? 'InsufficientInstanceCapacity' : undefined) });
    for (let i = 0; i < orders; i++) {
      // A launch that found no capacity anywhere is re-driven (the watchdog's job), and its calls count too.
      let handle: string | undefined;
      for (let tries = 0; handle === undefined && tries < 10; tries++) {
        handle = await runner.launch(launchRequest({ route: spotRoute(), orderId: `o${i}` })).then(
          (r) => r.handle,
          (e: unknown) => {
            if (!(e instanceof RunnerError) || !e.retryable) throw e;
            return undefined;
          },
        );
      }
      await runner.terminate(handle!, 'done');
    }
    const stats = runner.stats();
    return { perOrder: ec2.calls() / orders, launchCallsPerOrder: (stats.calls.RunInstances ?? 0) / orders, stats };
  }

  it('happy path: one RunInstances per order (two with the terminate)', async () => {
    const { perOrder, launchCallsPerOrder } = await measure(100, () => false);
    expect(launchCallsPerOrder).toBe(1);
    expect(perOrder).toBe(2);
  });

  it('half the launches hit a capacity error on their first candidate: 1.5 RunInstances per order', async () => {
    // Odd orders' first call fails; the call index counts calls, so track orders instead.
    let order = 0;
    let first = true;
    const { launchCallsPerOrder, stats } = await measure(100, () => {
      const fail = first && order % 2 === 1;
      if (!fail) {
        order += 1;
        first = true;
      } else first = false;
      return fail;
    });
    expect(launchCallsPerOrder).toBe(1.5);
    expect(stats).toMatchObject({ launched: 100, retryableFailures: 50, failedRetryable: 0 });
  });

  it('every call has a 50% chance of a capacity error (seeded): about 2 RunInstances per order', async () => {
    let seed = 42;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const { launchCallsPerOrder, stats } = await measure(200, () => random() < 0.5);
    // Geometric with p = 0.5 (8 candidates, then a re-drive): a mean of about 2.
    expect(launchCallsPerOrder).toBeGreaterThan(1.5);
    expect(launchCallsPerOrder).toBeLessThan(2.5);
    expect(stats.launched).toBe(200);
  });
});

describe('route settings: spot', () => {
  it('accepts a full route and applies defaults', () => {
    const parsed = parseRouteSettings({
      label: 'x',
      runner: 'spot',
      settings: { instanceTypes: ['c7g.large'], subnets: ['subnet-0123456789abcdef0'], ami: 'ami-12345678' },
    });
    expect(parsed).toEqual({
      ok: true,
      settings: {
        runner: 'spot',
        spot: {
          instanceTypes: ['c7g.large'],
          subnets: ['subnet-0123456789abcdef0'],
          securityGroups: [],
          ami: 'ami-12345678',
          onDemandFallback: false,
          maxLifetimeMinutes: 360,
          rootDeviceName: '/dev/xvda',
        },
      },
    });
  });

  it('collects every error at once, naming keys and never echoing values', () => {
    const parsed = parseRouteSettings({
      label: 'big',
      runner: 'spot',
      settings: {
        instanceTypes: [],
        subnets: ['subnet-zz', 'ghp_SECRETVALUE'],
        securityGroups: 'sg-1',
        onDemandFallback: 'yes',
        maxLifetimeMinutes: 0,
        rootVolumeGiB: 2,
        keyName: 'my-ssh-key',
        launchTemplate: { id: 'lt-0123456789abcdef0', name: 'both' },
        colour: 'blue',
      },
    });
    expect(parsed.ok).toBe(false);
    const errors = parsed.ok ? [] : parsed.errors;
    expect(errors).toEqual([
      'routes.big.keyName: not allowed: runners are ephemeral and nobody logs into them: an SSH key pair is refused',
      expect.stringContaining('routes.big.colour: unknown key for spot'),
      'routes.big.instanceTypes: must be a non-empty list of instance types such as "m7i.large"',
      'routes.big.subnets[0]: must be one of subnet ids ("subnet-…")',
      'routes.big.subnets[1]: must be one of subnet ids ("subnet-…")',
      'routes.big.securityGroups: must be a non-empty list of security group ids ("sg-…")',
      'routes.big.launchTemplate: needs exactly one of "id" and "name"',
      'routes.big.onDemandFallback: must be true or false',
      'routes.big.maxLifetimeMinutes: must be a whole number from 1 to 10080',
      'routes.big.rootVolumeGiB: must be a whole number from 8 to 16384',
    ]);
    expect(errors.join('\n')).not.toContain('SECRETVALUE');
    expect(errors.join('\n')).not.toContain('my-ssh-key');
  });

  it('needs an image: ami or launchTemplate', () => {
    const parsed = parseRouteSettings({
      label: 'x',
      runner: 'spot',
      settings: { instanceTypes: ['m7i.large'], subnets: ['subnet-aaaaaaaa'] },
    });
    expect(parsed).toEqual({ ok: false, errors: ['routes.x: needs "ami" or "launchTemplate" (which image to boot)'] });
  });
});
