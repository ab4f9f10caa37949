import type { EnvironmentVariable } from '@aws-sdk/client-codebuild';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { createCodeBuildRunner, idempotencyToken, timeoutMinutesFor } from '../../runners/codebuild.ts';
import { parseRouteSettings } from '../../runners/route-settings.ts';
import type { Route } from '../../runners/runner.ts';
import { RunnerError } from '../../src/errors.ts';
import { createFakeCodeBuild, launchRequest } from '../contract/fake-aws.ts';

const T0 = Date.parse('2025-03-01T12:00:00Z');

function buildRoute(over: Record<string, unknown> = {}): Route {
  return {
    label: 'long',
    runner: 'codebuild',
    settings: {
      project: 'spotcheck-runner',
      computeType: 'BUILD_GENERAL1_LARGE',
      image: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/spotcheck-agent:1',
      ...over,
    },
  };
}

function setup(refuse?: (input: unknown) => string | undefined) {
  const clock = { now: T0 };
  const cb = createFakeCodeBuild({ clock: () => clock.now, ...(refuse ? { refuse } : {}) });
  let minted = 0;
  const runner = createCodeBuildRunner({
    codebuild: cb.client,
    clock: () => clock.now,
    bootstrap: () => {
      minted += 1;
      return Promise.resolve({
        url: 'https://ci.example.org/api/agent/bootstrap',
        token: `boot_${minted}_${'Z'.repeat(24)}`,
      });
    },
  });
  return { clock, cb, runner, minted: () => minted };
}

async function launchError(promise: Promise<unknown>): Promise<RunnerError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(RunnerError);
  return error as RunnerError;
}

describe('codebuild runner: StartBuild', () => {
  it('starts a build with our buildspec, env overrides, an idempotency token and the order timeout', async () => {
    const { cb, runner } = setup();
    const request = launchRequest({
      route: buildRoute(),
      runId: 'r-7',
      orderId: 'e2e',
      attempt: 2,
      timeoutMinutes: 45,
      env: { API_KEY: 'sk_live_SUPERSECRET' },
    });
    const result = await runner.launch(request);
    expect(result.handle).toMatch(/^spotcheck-runner:[0-9a-f-]{36}$/);
    expect(result.counts).toEqual({ calls: 1, retryableFailures: 0, permanentFailures: 0 });
    const [input] = cb.startInputs();
    expect(input).toMatchObject({
      projectName: 'spotcheck-runner',
      idempotencyToken: idempotencyToken({ runId: 'r-7', orderId: 'e2e', attempt: 2 }),
      timeoutInMinutesOverride: 55,
      computeTypeOverride: 'BUILD_GENERAL1_LARGE',
      imageOverride: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/spotcheck-agent:1',
      sourceTypeOverride: 'NO_SOURCE',
    });
    const buildspec = parse(input?.buildspecOverride ?? '') as unknown;
    expect(buildspec).toEqual({
      version: 0.2,
      env: { shell: 'bash' },
      phases: { build: { commands: ['/opt/spotcheck/agent/bin/spotcheck-agent'] } },
    });
    const env: Record<string, EnvironmentVariable> = {};
    for (const variable of input?.environmentVariablesOverride ?? []) env[variable.name ?? ''] = variable;
    expect(Object.keys(env).sort()).toEqual([
      'SPOTCHECK_BOOTSTRAP_TOKEN',
      'SPOTCHECK_BOOTSTRAP_URL',
      'SPOTCHECK_BUILD_ATTEMPT',
      'SPOTCHECK_BUILD_EXPIRES',
      'SPOTCHECK_BUILD_ORDER',
      'SPOTCHECK_BUILD_RUN',
      'SPOTCHECK_RUNNER',
    ]);
    expect(Object.values(env).every((v) => v.type === 'PLAINTEXT')).toBe(true);
    expect(env.SPOTCHECK_BUILD_EXPIRES?.value).toBe(new Date(T0 + 55 * 60_000).toISOString());
    // Nothing of the order's secrets in the request: steps, env and clone credentials come from the exchange.
    const text = JSON.stringify(input);
    for (const secret of ['SUPERSECRET', 'ghs_CLONE_SECRET', 'echo hello']) expect(text).not.toContain(secret);
  });

  it('the same attempt twice starts one build (token), also after the token expired (re-drive look-up)', async () => {
    const { clock, cb, runner, minted } = setup();
    const first = await runner.launch(launchRequest({ route: buildRoute(), dispatchedAt: T0 }));
    const second = await runner.launch(launchRequest({ route: buildRoute(), dispatchedAt: T0 }));
    expect(minted()).toBe(2);
    expect(second).toMatchObject({ handle: first.handle, adopted: true });
    clock.now = T0 + 10 * 60_000; // CodeBuild has forgotten the token; the watchdog re-drives
    const third = await runner.launch(launchRequest({ route: buildRoute(), dispatchedAt: T0 }));
    expect(third).toMatchObject({ handle: first.handle, adopted: true, counts: { calls: 2 } });
    expect(cb.builds.size).toBe(1);
    const other = await runner.launch(launchRequest({ route: buildRoute(), attempt: 2, dispatchedAt: clock.now }));
    expect(other.handle).not.toBe(first.handle);
    expect(cb.startInputs()[0]?.idempotencyToken).not.toBe(cb.startInputs().at(-1)?.idempotencyToken);
  });

  it.each([
    ['AccountLimitExceededException', true],
    ['ThrottlingException', true],
    ['ResourceNotFoundException', false],
    ['AccessDeniedException', false],
  ] as const)('%s → retryable %s', async (code, retryable) => {
    const { runner } = setup(() => code);
    const error = await launchError(runner.launch(launchRequest({ route: buildRoute() })));
    expect(error.retryable).toBe(retryable);
    expect(error.message).toContain(code);
  });
});

describe('codebuild runner: inspect, buildResult, terminate', () => {
  it.each([
    ['SUCCEEDED', { done: true, conclusion: 'success', interrupted: false }],
    ['FAILED', { done: true, conclusion: 'failure', interrupted: false }],
    ['FAULT', { done: true, conclusion: 'failure', interrupted: true }],
    ['TIMED_OUT', { done: true, conclusion: 'timed_out', interrupted: false }],
    ['STOPPED', { done: true, conclusion: 'cancelled', interrupted: false }],
  ] as const)('a %s build is gone, with its result', async (status, expected) => {
    const { cb, runner } = setup();
    const { handle } = await runner.launch(launchRequest({ route: buildRoute() }));
    expect(await runner.buildResult(handle)).toEqual({ done: false, known: true });
    expect(await runner.isAlive(handle)).toBe(true);
    cb.finish(handle, status);
    expect(await runner.buildResult(handle)).toMatchObject(expected);
    expect(await runner.inspect(handle)).toMatchObject({ alive: false, interrupted: expected.interrupted });
  });

  it('terminate stops the build; a finished or unknown build is fine', async () => {
    const { cb, runner } = setup();
    const { handle } = await runner.launch(launchRequest({ route: buildRoute() }));
    await runner.terminate(handle, 'cancelled');
    expect(cb.builds.get(handle)?.status).toBe('STOPPED');
    await runner.terminate(handle, 'again');
    await runner.terminate('spotcheck-runner:00000000-0000-4000-8000-00000000dead', 'unknown');
    expect(await runner.isAlive('spotcheck-runner:00000000-0000-4000-8000-00000000dead')).toBe(false);
    expect(await runner.buildResult('nonsense')).toEqual({ done: false, known: false });
  });
});

describe('codebuild timeout and settings', () => {
  it.each([
    [20, undefined, 30],
    [1, undefined, 11],
    [0, undefined, 2160],
    [3000, undefined, 2160],
    [120, 60, 60],
    [Number.POSITIVE_INFINITY, 90, 90],
  ])('order %s min, route cap %s → %s min', (order, cap, expected) => {
    expect(timeoutMinutesFor(order, 10, cap)).toBe(expected);
  });

  it('validates codebuild settings, every error at once', () => {
    expect(parseRouteSettings({ label: 'l', runner: 'codebuild', settings: { project: 'p1' } })).toEqual({
      ok: true,
      settings: { runner: 'codebuild', codebuild: { project: 'p1' } },
    });
    const parsed = parseRouteSettings({
      label: 'l',
      runner: 'codebuild',
      settings: { computeType: 'HUGE', image: 'has space', timeoutMinutes: 3, buildspec: 'x' },
    });
    expect(parsed).toEqual({
      ok: false,
      errors: [
        expect.stringContaining('routes.l.buildspec: unknown key for codebuild'),
        'routes.l.project: required (the CodeBuild project to start builds in)',
        expect.stringContaining('routes.l.computeType: must be one of BUILD_GENERAL1_SMALL'),
        'routes.l.image: must be an image name or URI without spaces',
        'routes.l.timeoutMinutes: must be a whole number from 5 to 2160',
      ],
    });
  });
});
