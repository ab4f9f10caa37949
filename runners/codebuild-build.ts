/**
 * One CodeBuild build of one order attempt, without a CodeBuild call: the StartBuild request, the markers that say
 * which attempt a build is, what a finished build means, and what a refused StartBuild means. The CodeBuild runner
 * sends these; the janitor reads the markers.
 */
import { createHash } from 'node:crypto';
import type { Build, StartBuildCommandInput } from '@aws-sdk/client-codebuild';
import {
  CODEBUILD_MAX_TIMEOUT_MINUTES,
  CODEBUILD_MIN_TIMEOUT_MINUTES,
  type CodeBuildSettings,
} from './route-settings.ts';
import type { OrderRef } from './runner.ts';
import { codeOf, isRetryableError, messageOf } from './spot-errors.ts';

/** The environment variables that mark a build as one attempt of one order (the janitor and re-drives read them). */
export const BUILD_MARKERS = {
  run: 'SPOTCHECK_BUILD_RUN',
  order: 'SPOTCHECK_BUILD_ORDER',
  attempt: 'SPOTCHECK_BUILD_ATTEMPT',
  expires: 'SPOTCHECK_BUILD_EXPIRES',
} as const satisfies Record<string, string>;

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

/** Capacity-like: the account's concurrent-build quota is full; waiting helps (CodeBuild quotas). */
const RETRYABLE_CODES: ReadonlySet<string> = new Set(['AccountLimitExceededException']);

/** The StartBuild request of one attempt: spotcheck's buildspec, the order's timeout, the bootstrap and markers. */
export function startBuildInput(
  settings: CodeBuildSettings,
  ref: OrderRef,
  meta: {
    readonly buildspec: string;
    readonly bootstrap: { readonly url: string; readonly token: string };
    readonly timeoutMinutes: number;
    readonly expires: string;
  },
): StartBuildCommandInput {
  const { bootstrap } = meta;
  return {
    projectName: settings.project,
    idempotencyToken: idempotencyToken(ref),
    buildspecOverride: meta.buildspec,
    // The agent clones the commit itself with short-lived credentials from the bootstrap exchange; the project's
    // own source (if any) is not what runs.
    sourceTypeOverride: 'NO_SOURCE',
    timeoutInMinutesOverride: meta.timeoutMinutes,
    ...(settings.computeType === undefined
      ? {}
      : { computeTypeOverride: settings.computeType as StartBuildCommandInput['computeTypeOverride'] }),
    ...(settings.image === undefined ? {} : { imageOverride: settings.image }),
    environmentVariablesOverride: [
      { name: 'SPOTCHECK_BOOTSTRAP_URL', value: bootstrap.url, type: 'PLAINTEXT' },
      // Single-use and short-lived: see codebuild.ts's module comment for why PLAINTEXT is acceptable here.
      { name: 'SPOTCHECK_BOOTSTRAP_TOKEN', value: bootstrap.token, type: 'PLAINTEXT' },
      { name: 'SPOTCHECK_RUNNER', value: 'codebuild', type: 'PLAINTEXT' },
      { name: BUILD_MARKERS.run, value: ref.runId, type: 'PLAINTEXT' },
      { name: BUILD_MARKERS.order, value: ref.orderId, type: 'PLAINTEXT' },
      { name: BUILD_MARKERS.attempt, value: String(ref.attempt), type: 'PLAINTEXT' },
      { name: BUILD_MARKERS.expires, value: meta.expires, type: 'PLAINTEXT' },
    ],
  };
}

/**
 * What a refused StartBuild means: `mismatch` when the idempotency token was used with another request (this
 * attempt already started a build: find it), `retryable` when waiting may help (the concurrent-build quota, a
 * throttle, a fault), else `permanent`.
 */
export function classifyStartBuildError(error: unknown): 'mismatch' | 'retryable' | 'permanent' {
  const code = codeOf(error);
  if (code === 'InvalidInputException' && /idempoten|mismatch/i.test(messageOf(error))) return 'mismatch';
  if ((code !== undefined && RETRYABLE_CODES.has(code)) || isRetryableError(error, false)) return 'retryable';
  return 'permanent';
}

/** `SUCCEEDED`/`FAILED`/`FAULT`/`TIMED_OUT`/`STOPPED` are final; `IN_PROGRESS` is not (CodeBuild `StatusType`). */
export function buildResultOf(build: Build): BuildResult {
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

/** Whether a build is the running build of this attempt (by its markers). */
export function isAttemptBuild(build: Build, ref: OrderRef): boolean {
  const marker = markersOf(build);
  return (
    build.buildStatus === 'IN_PROGRESS' &&
    marker.run === ref.runId &&
    marker.order === ref.orderId &&
    marker.attempt === String(ref.attempt)
  );
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
