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
 *
 * Here: the runner, its launch in named steps (settings, re-drive adoption, bootstrap, StartBuild, adoption after a
 * mismatch), inspect and terminate. The request, markers and result reading are in codebuild-build.ts.
 */
import {
  BatchGetBuildsCommand,
  ListBuildsForProjectCommand,
  StartBuildCommand,
  StopBuildCommand,
  type Build,
  type CodeBuildClient,
} from '@aws-sdk/client-codebuild';
import type { Logger } from 'pino';
import { RunnerError } from '../src/errors.ts';
import { renderBuildspec } from './buildspec.ts';
import {
  buildResultOf,
  classifyStartBuildError,
  isAttemptBuild,
  startBuildInput,
  timeoutMinutesFor,
  type BuildResult,
} from './codebuild-build.ts';
import { codeBuildSettingsOf, type CodeBuildSettings } from './route-settings.ts';
import type { ExecutionStatus, LaunchRequest, LaunchResult, OrderRef, Runner } from './runner.ts';
import { codeOf, isRetryableError, messageOf } from './spot-errors.ts';
import type { BootstrapMinter, LaunchCounts } from './spot.ts';
import { checkedUrl } from './user-data.ts';

export { BUILD_MARKERS, idempotencyToken, markersOf, timeoutMinutesFor, type BuildResult } from './codebuild-build.ts';

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

export interface CodeBuildLaunchResult extends LaunchResult {
  readonly buildId: string;
  readonly adopted: boolean;
  readonly counts: LaunchCounts;
}

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
const MAX_REMEMBERED_LAUNCHES = 10_000;

/** What one CodeBuild runner keeps for its whole life: its options with defaults, its totals, its recent builds. */
interface CodeBuildContext {
  readonly opts: CodeBuildRunnerOptions;
  readonly redriveAfter: number;
  readonly slack: number;
  readonly visibilityGrace: number;
  readonly buildspec: string;
  /** Build id → when this runner started it (epoch ms), for BatchGetBuilds' eventual consistency. */
  readonly launchedAt: Map<string, number>;
  readonly stats: { launched: number; adopted: number; readonly calls: Record<string, number> };
}

export function createCodeBuildRunner(opts: CodeBuildRunnerOptions): CodeBuildRunner {
  const ctx: CodeBuildContext = {
    opts,
    redriveAfter: opts.redriveLookupAfterMs ?? DEFAULT_REDRIVE_LOOKUP_AFTER_MS,
    slack: opts.startupSlackMinutes ?? DEFAULT_STARTUP_SLACK_MINUTES,
    visibilityGrace: opts.visibilityGraceMs ?? DEFAULT_VISIBILITY_GRACE_MS,
    buildspec: renderBuildspec(opts.agentCommand),
    launchedAt: new Map(),
    stats: { launched: 0, adopted: 0, calls: {} },
  };
  const inspect = (handle: string): Promise<ExecutionStatus> => inspectBuild(ctx, handle);
  return {
    kind: 'codebuild',
    launch: (request) => launchBuild(ctx, request),
    inspect,
    buildResult: async (handle) => {
      const build = await readBuild(ctx, handle);
      return build === undefined ? { done: false, known: false } : buildResultOf(build);
    },
    isAlive: async (handle) => (await inspect(handle)).alive,
    terminate: (handle, reason) => stopBuild(ctx, handle, reason),
    stats: () => ({ ...ctx.stats, calls: { ...ctx.stats.calls } }),
  };
}

/** One launch's tally: its CodeBuild calls and failures, and how it ends (a result, or a RunnerError with counts). */
class BuildLaunchTally {
  calls = 0;
  retryable = 0;
  permanent = 0;

  constructor(
    private readonly ctx: CodeBuildContext,
    private readonly log: Logger | undefined,
  ) {}

  fail(message: string, isRetryable: boolean, code?: string, cause?: unknown): RunnerError {
    if (isRetryable) this.retryable += 1;
    else this.permanent += 1;
    return new RunnerError(message, {
      retryable: isRetryable,
      ...(code === undefined ? {} : { code }),
      ...(cause === undefined ? {} : { cause }),
      context: {
        runner: 'codebuild',
        calls: this.calls,
        retryableFailures: this.retryable,
        permanentFailures: this.permanent,
      },
    });
  }

  done(buildId: string, adopted: boolean): CodeBuildLaunchResult {
    const { stats, launchedAt } = this.ctx;
    stats.launched += 1;
    if (adopted) stats.adopted += 1;
    launchedAt.set(buildId, this.ctx.opts.clock());
    if (launchedAt.size > MAX_REMEMBERED_LAUNCHES) launchedAt.delete(launchedAt.keys().next().value!);
    this.log?.info({ buildId, adopted, calls: this.calls }, 'codebuild launch');
    return {
      handle: buildId,
      buildId,
      adopted,
      counts: { calls: this.calls, retryableFailures: this.retryable, permanentFailures: this.permanent },
    };
  }
}

/** Launches one order attempt: adopt the attempt's build on a re-drive, else start one. */
async function launchBuild(ctx: CodeBuildContext, request: LaunchRequest): Promise<CodeBuildLaunchResult> {
  const ref = request.job.ref;
  const log = ctx.opts.logger?.child({ runId: ref.runId, orderId: ref.orderId, attempt: ref.attempt });
  const tally = new BuildLaunchTally(ctx, log);
  let settings: CodeBuildSettings;
  try {
    settings = codeBuildSettingsOf(request.route);
  } catch (error) {
    throw tally.fail((error as Error).message, false, undefined, error);
  }
  const dispatchedAt = request.order.dispatchedAt;
  if (dispatchedAt !== undefined && ctx.opts.clock() - dispatchedAt >= ctx.redriveAfter) {
    const adopted = await adoptAttemptBuild(ctx, tally, settings.project, ref);
    if (adopted) return adopted;
  }
  let bootstrap: { url: string; token: string };
  try {
    bootstrap = await ctx.opts.bootstrap(request);
    checkedUrl(bootstrap.url);
  } catch (error) {
    throw tally.fail('cannot mint the bootstrap token; will retry', isRetryableError(error, true), undefined, error);
  }
  const timeoutMinutes = timeoutMinutesFor(request.job.timeoutMinutes, ctx.slack, settings.timeoutMinutes);
  const expires = new Date(ctx.opts.clock() + timeoutMinutes * 60_000).toISOString();
  const input = startBuildInput(settings, ref, { buildspec: ctx.buildspec, bootstrap, timeoutMinutes, expires });
  tally.calls += 1;
  countCall(ctx, 'StartBuild');
  let id: string | undefined;
  try {
    id = (await ctx.opts.codebuild.send(new StartBuildCommand(input))).build?.id;
  } catch (error) {
    return afterRefusal(ctx, tally, settings.project, ref, error);
  }
  if (id === undefined) throw tally.fail('StartBuild returned no build; will retry', true);
  return tally.done(id, false);
}

/** A refused StartBuild: adopt the attempt's build after a mismatch, else a retryable or permanent RunnerError. */
async function afterRefusal(
  ctx: CodeBuildContext,
  tally: BuildLaunchTally,
  project: string,
  ref: OrderRef,
  error: unknown,
): Promise<CodeBuildLaunchResult> {
  const code = codeOf(error);
  switch (classifyStartBuildError(error)) {
    case 'mismatch': {
      const adopted = await adoptAttemptBuild(ctx, tally, project, ref);
      if (adopted) return adopted;
      throw tally.fail('the idempotency token is taken but no build of this attempt runs; will retry', true, code);
    }
    case 'retryable':
      throw tally.fail(
        `CodeBuild cannot start the build now (${code ?? 'network error'}); will retry`,
        true,
        code,
        error,
      );
    case 'permanent':
      throw tally.fail(`CodeBuild refused the build: ${code ?? 'error'}: ${messageOf(error)}`, false, code, error);
  }
}

/** The attempt's running build, adopted; a failed look-up is retryable. */
async function adoptAttemptBuild(
  ctx: CodeBuildContext,
  tally: BuildLaunchTally,
  project: string,
  ref: OrderRef,
): Promise<CodeBuildLaunchResult | undefined> {
  try {
    const existing = await findAttemptBuild(ctx, project, ref, () => (tally.calls += 1));
    return existing?.id === undefined ? undefined : tally.done(existing.id, true);
  } catch (error) {
    throw tally.fail('cannot look up earlier builds of this attempt; will retry', true, codeOf(error), error);
  }
}

function countCall(ctx: CodeBuildContext, command: string): void {
  ctx.stats.calls[command] = (ctx.stats.calls[command] ?? 0) + 1;
}

async function getBuilds(ctx: CodeBuildContext, ids: readonly string[], onCall?: () => void): Promise<Build[]> {
  countCall(ctx, 'BatchGetBuilds');
  onCall?.();
  const out = await ctx.opts.codebuild.send(new BatchGetBuildsCommand({ ids: [...ids] }));
  return out.builds ?? [];
}

/** The newest page of the project's builds (newest first): an attempt's build, if any, is recent. */
async function findAttemptBuild(
  ctx: CodeBuildContext,
  project: string,
  ref: OrderRef,
  onCall: () => void,
): Promise<Build | undefined> {
  countCall(ctx, 'ListBuildsForProject');
  onCall();
  const listed = await ctx.opts.codebuild.send(
    new ListBuildsForProjectCommand({ projectName: project, sortOrder: 'DESCENDING' }),
  );
  const ids = listed.ids ?? [];
  if (ids.length === 0) return undefined;
  const builds = await getBuilds(ctx, ids.slice(0, 100), onCall);
  return builds.find((build) => isAttemptBuild(build, ref));
}

async function readBuild(ctx: CodeBuildContext, handle: string): Promise<Build | undefined> {
  if (!BUILD_ID.test(handle)) return undefined;
  return (await getBuilds(ctx, [handle])).find((build) => build.id === handle);
}

async function inspectBuild(ctx: CodeBuildContext, handle: string): Promise<ExecutionStatus> {
  const build = await readBuild(ctx, handle);
  if (build === undefined) {
    const at = ctx.launchedAt.get(handle);
    if (at !== undefined && ctx.opts.clock() - at < ctx.visibilityGrace)
      return { alive: true, interrupted: false, reason: `build ${handle} is not visible yet` };
    return { alive: false, interrupted: false, reason: `build ${handle} is unknown to CodeBuild` };
  }
  const result = buildResultOf(build);
  if (!result.done) return { alive: true, interrupted: false, reason: `build ${handle} is in progress` };
  return {
    alive: false,
    interrupted: result.interrupted,
    reason: result.reason,
    ...(result.interrupted ? {} : { conclusion: result.conclusion }),
  };
}

async function stopBuild(ctx: CodeBuildContext, handle: string, reason: string): Promise<void> {
  if (!BUILD_ID.test(handle)) return;
  countCall(ctx, 'StopBuild');
  try {
    await ctx.opts.codebuild.send(new StopBuildCommand({ id: handle }));
    ctx.opts.logger?.info({ buildId: handle, reason }, 'build stopped');
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
}
