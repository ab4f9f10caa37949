/**
 * The CodeBuild runner, for long jobs: one build per order attempt in an operator-owned project, running spotcheck's
 * own buildspec (runners/buildspec.ts — never the repository's) whose only command starts the agent baked into the
 * build image.
 *
 * The bootstrap token travels as a PLAINTEXT environment override. CodeBuild shows plaintext variables to anyone who
 * may call BatchGetBuilds on the project, which is why no real secret may go there; this one is acceptable because
 * it is single-use (the agent exchanges it for its order at start, and a second exchange is refused), short-lived,
 * and opens nothing but that one order's job — a principal who can read it can also start builds in the project.
 * PARAMETER_STORE would cost a PutParameter and a DeleteParameter per order (and parameters left behind after a
 * crash) to protect a value that is worthless seconds after the build starts.
 *
 * Idempotency: StartBuild's `idempotencyToken` derives from run/order/attempt, but CodeBuild keeps it for 5 minutes
 * only (StartBuild API reference), and a re-minted bootstrap token changes the request (a "parameter mismatch").
 * So a re-drive of an order dispatched a while ago, and a mismatch, first look for the attempt's build among the
 * project's recent builds, by the `SPOTCHECK_BUILD_*` variables every build carries.
 */
import { createHash } from 'node:crypto';
import {
  BatchGetBuildsCommand,
  ListBuildsForProjectCommand,
  StartBuildCommand,
  StopBuildCommand,
  type Build,
  type CodeBuildClient,
  type StartBuildCommandInput,
} from '@aws-sdk/client-codebuild';
import type { Logger } from 'pino';
import { RunnerError } from '../src/errors.ts';
import { renderBuildspec } from './buildspec.ts';
import {
  CODEBUILD_MAX_TIMEOUT_MINUTES,
  CODEBUILD_MIN_TIMEOUT_MINUTES,
  codeBuildSettingsOf,
  type CodeBuildSettings,
} from './route-settings.ts';
import type { ExecutionStatus, LaunchRequest, LaunchResult, OrderRef, Runner } from './runner.ts';
import { type BootstrapMinter, codeOf, isRetryableError, type LaunchCounts } from './spot.ts';
import { checkedUrl } from './user-data.ts';

export interface CodeBuildRunnerOptions {
  readonly codebuild: CodeBuildClient;
  readonly bootstrap: BootstrapMinter;
  /** Epoch ms. */
  readonly clock: () => number;
  readonly logger?: Logger;
  readonly agentCommand?: readonly string[];
  /** A launch for an order dispatched at least this long ago is a re-drive: look for the attempt's build first. */
  readonly redriveLookupAfterMs?: number;
  /** Minutes added to the order's timeout for the agent's start, bootstrap and checkout. */
  readonly startupSlackMinutes?: number;
  /** A build this runner started less than this long ago that BatchGetBuilds does not list yet counts as alive. */
  readonly visibilityGraceMs?: number;
}

/** The environment variables that mark a build as one attempt of one order (the janitor and re-drives read them). */
export const BUILD_MARKERS = {
  run: 'SPOTCHECK_BUILD_RUN',
  order: 'SPOTCHECK_BUILD_ORDER',
  attempt: 'SPOTCHECK_BUILD_ATTEMPT',
  expires: 'SPOTCHECK_BUILD_EXPIRES',
} as const satisfies Record<string, string>;

export interface CodeBuildLaunchResult extends LaunchResult {
  readonly buildId: string;
  readonly adopted: boolean;
  readonly counts: LaunchCounts;
}

/** What CodeBuild itself says about a build: the watchdog's source of truth when the agent's callback was lost. */
export type BuildResult =
  | { readonly done: false; readonly known: boolean }
  | {
      readonly done: true;
      readonly conclusion: 'success' | 'failure' | 'timed_out' | 'cancelled';
      /** CodeBuild faulted (an infrastructure problem, not the order's steps): worth another attempt. */
      readonly interrupted: boolean;
      readonly reason: string;
    };

export type CodeBuildRunner = Omit<Runner, 'launch'> & {
  readonly kind: 'codebuild';
  launch(request: LaunchRequest): Promise<CodeBuildLaunchResult>;
  inspect(handle: string): Promise<ExecutionStatus>;
  buildResult(handle: string): Promise<BuildResult>;
  stats(): { readonly calls: Readonly<Record<string, number>>; readonly launched: number; readonly adopted: number };
};

const DEFAULT_REDRIVE_LOOKUP_AFTER_MS = 30_000;
const DEFAULT_STARTUP_SLACK_MINUTES = 10;
const DEFAULT_VISIBILITY_GRACE_MS = 120_000;
/** CodeBuild build ids are `<project>:<uuid>`. */
const BUILD_ID = /^[A-Za-z0-9][A-Za-z0-9\-_]{1,254}:[0-9a-f-]{36}$/;
/** Capacity-like: the account's concurrent-build quota is full; waiting helps (CodeBuild quotas). */
const RETRYABLE_CODES: ReadonlySet<string> = new Set(['AccountLimitExceededException']);
const MAX_REMEMBERED_LAUNCHES = 10_000;

export function createCodeBuildRunner(opts: CodeBuildRunnerOptions): CodeBuildRunner {
  const redriveAfter = opts.redriveLookupAfterMs ?? DEFAULT_REDRIVE_LOOKUP_AFTER_MS;
  const slack = opts.startupSlackMinutes ?? DEFAULT_STARTUP_SLACK_MINUTES;
  const visibilityGrace = opts.visibilityGraceMs ?? DEFAULT_VISIBILITY_GRACE_MS;
  const buildspec = renderBuildspec(opts.agentCommand);
  const launchedAt = new Map<string, number>();
  const stats = { launched: 0, adopted: 0, calls: {} as Record<string, number> };
  const count = (command: string): void => {
    stats.calls[command] = (stats.calls[command] ?? 0) + 1;
  };

  const getBuilds = async (ids: readonly string[], onCall?: () => void): Promise<Build[]> => {
    count('BatchGetBuilds');
    onCall?.();
    const out = await opts.codebuild.send(new BatchGetBuildsCommand({ ids: [...ids] }));
    return out.builds ?? [];
  };

  /** The newest page of the project's builds (newest first): an attempt's build, if any, is recent. */
  const findAttemptBuild = async (project: string, ref: OrderRef, onCall: () => void): Promise<Build | undefined> => {
    count('ListBuildsForProject');
    onCall();
    const listed = await opts.codebuild.send(
      new ListBuildsForProjectCommand({ projectName: project, sortOrder: 'DESCENDING' }),
    );
    const ids = listed.ids ?? [];
    if (ids.length === 0) return undefined;
    const builds = await getBuilds(ids.slice(0, 100), onCall);
    return builds.find((build) => {
      const marker = markersOf(build);
      return (
        build.buildStatus === 'IN_PROGRESS' &&
        marker.run === ref.runId &&
        marker.order === ref.orderId &&
        marker.attempt === String(ref.attempt)
      );
    });
  };

  async function launch(request: LaunchRequest): Promise<CodeBuildLaunchResult> {
    const ref = request.job.ref;
    const log = opts.logger?.child({ runId: ref.runId, orderId: ref.orderId, attempt: ref.attempt });
    let calls = 0;
    let retryable = 0;
    let permanent = 0;
    const fail = (message: string, isRetryable: boolean, code?: string, cause?: unknown): RunnerError => {
      if (isRetryable) retryable += 1;
      else permanent += 1;
      return new RunnerError(message, {
        retryable: isRetryable,
        ...(code === undefined ? {} : { code }),
        ...(cause === undefined ? {} : { cause }),
        context: { runner: 'codebuild', calls, retryableFailures: retryable, permanentFailures: permanent },
      });
    };
    const done = (buildId: string, adopted: boolean): CodeBuildLaunchResult => {
      stats.launched += 1;
      if (adopted) stats.adopted += 1;
      launchedAt.set(buildId, opts.clock());
      if (launchedAt.size > MAX_REMEMBERED_LAUNCHES) launchedAt.delete(launchedAt.keys().next().value!);
      log?.info({ buildId, adopted, calls }, 'codebuild launch');
      return {
        handle: buildId,
        buildId,
        adopted,
        counts: { calls, retryableFailures: retryable, permanentFailures: permanent },
      };
    };
    const adoptExisting = async (project: string): Promise<CodeBuildLaunchResult | undefined> => {
      try {
        const existing = await findAttemptBuild(project, ref, () => (calls += 1));
        return existing?.id === undefined ? undefined : done(existing.id, true);
      } catch (error) {
        throw fail('cannot look up earlier builds of this attempt; will retry', true, codeOf(error), error);
      }
    };

    let settings: CodeBuildSettings;
    try {
      settings = codeBuildSettingsOf(request.route);
    } catch (error) {
      throw fail((error as Error).message, false, undefined, error);
    }
    const dispatchedAt = request.order.dispatchedAt;
    if (dispatchedAt !== undefined && opts.clock() - dispatchedAt >= redriveAfter) {
      const adopted = await adoptExisting(settings.project);
      if (adopted) return adopted;
    }

    let bootstrap: { url: string; token: string };
    try {
      bootstrap = await opts.bootstrap(request);
      checkedUrl(bootstrap.url);
    } catch (error) {
      throw fail('cannot mint the bootstrap token; will retry', isRetryableError(error, true), undefined, error);
    }
    const timeout = timeoutMinutesFor(request.job.timeoutMinutes, slack, settings.timeoutMinutes);
    const expires = new Date(opts.clock() + timeout * 60_000).toISOString();
    const input: StartBuildCommandInput = {
      projectName: settings.project,
      idempotencyToken: idempotencyToken(ref),
      buildspecOverride: buildspec,
      // The agent clones the commit itself with short-lived credentials from the bootstrap exchange; the project's
      // own source (if any) is not what runs.
      sourceTypeOverride: 'NO_SOURCE',
      timeoutInMinutesOverride: timeout,
      ...(settings.computeType === undefined
        ? {}
        : { computeTypeOverride: settings.computeType as StartBuildCommandInput['computeTypeOverride'] }),
      ...(settings.image === undefined ? {} : { imageOverride: settings.image }),
      environmentVariablesOverride: [
        { name: 'SPOTCHECK_BOOTSTRAP_URL', value: bootstrap.url, type: 'PLAINTEXT' },
        // Single-use and short-lived: see the module comment for why PLAINTEXT is acceptable here.
        { name: 'SPOTCHECK_BOOTSTRAP_TOKEN', value: bootstrap.token, type: 'PLAINTEXT' },
        { name: 'SPOTCHECK_RUNNER', value: 'codebuild', type: 'PLAINTEXT' },
        { name: BUILD_MARKERS.run, value: ref.runId, type: 'PLAINTEXT' },
        { name: BUILD_MARKERS.order, value: ref.orderId, type: 'PLAINTEXT' },
        { name: BUILD_MARKERS.attempt, value: String(ref.attempt), type: 'PLAINTEXT' },
        { name: BUILD_MARKERS.expires, value: expires, type: 'PLAINTEXT' },
      ],
    };
    calls += 1;
    count('StartBuild');
    try {
      const out = await opts.codebuild.send(new StartBuildCommand(input));
      const id = out.build?.id;
      if (id === undefined) throw fail('StartBuild returned no build; will retry', true);
      return done(id, false);
    } catch (error) {
      if (error instanceof RunnerError) throw error;
      const code = codeOf(error);
      if (code === 'InvalidInputException' && /idempoten|mismatch/i.test(messageOf(error))) {
        const adopted = await adoptExisting(settings.project);
        if (adopted) return adopted;
        throw fail('the idempotency token is taken but no build of this attempt runs; will retry', true, code);
      }
      if ((code !== undefined && RETRYABLE_CODES.has(code)) || isRetryableError(error, false))
        throw fail(`CodeBuild cannot start the build now (${code ?? 'network error'}); will retry`, true, code, error);
      throw fail(`CodeBuild refused the build: ${code ?? 'error'}: ${messageOf(error)}`, false, code, error);
    }
  }

  const readBuild = async (handle: string): Promise<Build | undefined> => {
    if (!BUILD_ID.test(handle)) return undefined;
    return (await getBuilds([handle])).find((build) => build.id === handle);
  };

  async function buildResult(handle: string): Promise<BuildResult> {
    const build = await readBuild(handle);
    if (build === undefined) return { done: false, known: false };
    return resultOf(build);
  }

  async function inspect(handle: string): Promise<ExecutionStatus> {
    const build = await readBuild(handle);
    if (build === undefined) {
      const at = launchedAt.get(handle);
      if (at !== undefined && opts.clock() - at < visibilityGrace)
        return { alive: true, interrupted: false, reason: `build ${handle} is not visible yet` };
      return { alive: false, interrupted: false, reason: `build ${handle} is unknown to CodeBuild` };
    }
    const result = resultOf(build);
    if (!result.done) return { alive: true, interrupted: false, reason: `build ${handle} is in progress` };
    return {
      alive: false,
      interrupted: result.interrupted,
      reason: result.reason,
      ...(result.interrupted ? {} : { conclusion: result.conclusion }),
    };
  }

  return {
    kind: 'codebuild',
    launch,
    inspect,
    buildResult,
    async isAlive(handle) {
      return (await inspect(handle)).alive;
    },
    async terminate(handle, reason) {
      if (!BUILD_ID.test(handle)) return;
      count('StopBuild');
      try {
        await opts.codebuild.send(new StopBuildCommand({ id: handle }));
        opts.logger?.info({ buildId: handle, reason }, 'build stopped');
      } catch (error) {
        // Stopping a finished or unknown build is not an error (the Runner contract); CodeBuild answers those with
        // ResourceNotFoundException or InvalidInputException ("build already completed").
        const code = codeOf(error);
        if (code === 'ResourceNotFoundException' || code === 'InvalidInputException') return;
        throw new RunnerError(`cannot stop ${handle}: ${code ?? 'error'}`, {
          retryable: isRetryableError(error, false),
          cause: error,
          context: { runner: 'codebuild', handle },
        });
      }
    },
    stats: () => ({ ...stats, calls: { ...stats.calls } }),
  };
}

/** `SUCCEEDED`/`FAILED`/`FAULT`/`TIMED_OUT`/`STOPPED` are final; `IN_PROGRESS` is not (CodeBuild `StatusType`). */
function resultOf(build: Build): BuildResult {
  const id = build.id ?? 'build';
  switch (build.buildStatus) {
    case 'IN_PROGRESS':
    case undefined:
      return { done: false, known: true };
    case 'SUCCEEDED':
      return { done: true, conclusion: 'success', interrupted: false, reason: `build ${id} succeeded` };
    case 'FAILED':
      return { done: true, conclusion: 'failure', interrupted: false, reason: `build ${id} failed` };
    case 'FAULT':
      return { done: true, conclusion: 'failure', interrupted: true, reason: `build ${id} faulted in CodeBuild` };
    case 'TIMED_OUT':
      return { done: true, conclusion: 'timed_out', interrupted: false, reason: `build ${id} timed out` };
    case 'STOPPED':
      return { done: true, conclusion: 'cancelled', interrupted: false, reason: `build ${id} was stopped` };
  }
}

/** The `SPOTCHECK_BUILD_*` markers of a build, by name. */
export function markersOf(build: Build): Partial<Record<keyof typeof BUILD_MARKERS, string>> {
  const vars = new Map((build.environment?.environmentVariables ?? []).map((v) => [v.name, v.value]));
  const markers: Partial<Record<keyof typeof BUILD_MARKERS, string>> = {};
  for (const [key, name] of Object.entries(BUILD_MARKERS) as [keyof typeof BUILD_MARKERS, string][]) {
    const value = vars.get(name);
    if (value !== undefined) markers[key] = value;
  }
  return markers;
}

/** SHA-256 of run/order/attempt, hex: stable across retries of one attempt, different across attempts. */
export function idempotencyToken(ref: OrderRef): string {
  return createHash('sha256')
    .update(JSON.stringify([ref.runId, ref.orderId, ref.attempt, 'codebuild']))
    .digest('hex');
}

/** The order's timeout plus start-up slack, within CodeBuild's 5–2160 minutes and the route's own cap. */
export function timeoutMinutesFor(orderMinutes: number, slack: number, cap: number | undefined): number {
  const upper = Math.min(cap ?? CODEBUILD_MAX_TIMEOUT_MINUTES, CODEBUILD_MAX_TIMEOUT_MINUTES);
  const wanted = Number.isFinite(orderMinutes) && orderMinutes > 0 ? Math.ceil(orderMinutes) + slack : upper;
  return Math.max(CODEBUILD_MIN_TIMEOUT_MINUTES, Math.min(wanted, upper));
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
