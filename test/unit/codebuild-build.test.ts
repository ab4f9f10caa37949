import type { Build } from '@aws-sdk/client-codebuild';
import { describe, expect, it } from 'vitest';
import {
  BUILD_MARKERS,
  buildResultOf,
  classifyStartBuildError,
  isAttemptBuild,
  markersOf,
} from '../../runners/codebuild-build.ts';

const awsError = (name: string, message: string, fault: 'client' | 'server' = 'client'): Error =>
  Object.assign(new Error(message), { name, $fault: fault });

describe('codebuild build: what a refused StartBuild means', () => {
  it.each([
    ['InvalidInputException', 'Idempotency token already used with different parameters', 'mismatch'],
    ['InvalidInputException', 'parameter mismatch', 'mismatch'],
    ['InvalidInputException', 'Project cannot be found', 'permanent'],
    ['AccountLimitExceededException', 'Cannot have more than 60 builds in queue', 'retryable'],
    ['ThrottlingException', 'Rate exceeded', 'retryable'],
    ['ResourceNotFoundException', 'no such project', 'permanent'],
  ])('%s (%s) → %s', (code, message, kind) => {
    expect(classifyStartBuildError(awsError(code, message))).toBe(kind);
  });

  it('a server fault is retryable', () => {
    expect(classifyStartBuildError(awsError('InternalFailure', 'oops', 'server'))).toBe('retryable');
  });
});

describe('codebuild build: what a build says', () => {
  it.each([
    ['IN_PROGRESS', { done: false, known: true }],
    [undefined, { done: false, known: true }],
    ['SUCCEEDED', { done: true, conclusion: 'success', interrupted: false }],
    ['FAILED', { done: true, conclusion: 'failure', interrupted: false }],
    ['FAULT', { done: true, conclusion: 'failure', interrupted: true }],
    ['TIMED_OUT', { done: true, conclusion: 'timed_out', interrupted: false }],
    ['STOPPED', { done: true, conclusion: 'cancelled', interrupted: false }],
  ] as const)('%s → %o', (buildStatus, expected) => {
    const build: Build = { id: 'p:1', ...(buildStatus === undefined ? {} : { buildStatus }) };
    expect(buildResultOf(build)).toMatchObject(expected);
  });

  it('finds the running build of an attempt by its markers, and only that one', () => {
    const ref = { runId: 'r1', orderId: 'build', attempt: 2 };
    const build = (attempt: string, buildStatus: Build['buildStatus']): Build => ({
      buildStatus,
      environment: {
        type: 'LINUX_CONTAINER',
        image: 'i',
        computeType: 'BUILD_GENERAL1_SMALL',
        environmentVariables: [
          { name: BUILD_MARKERS.run, value: 'r1' },
          { name: BUILD_MARKERS.order, value: 'build' },
          { name: BUILD_MARKERS.attempt, value: attempt },
          { name: 'OTHER', value: 'x' },
        ],
      },
    });
    expect(markersOf(build('2', 'IN_PROGRESS'))).toEqual({ run: 'r1', order: 'build', attempt: '2' });
    expect(isAttemptBuild(build('2', 'IN_PROGRESS'), ref)).toBe(true);
    expect(isAttemptBuild(build('1', 'IN_PROGRESS'), ref)).toBe(false);
    expect(isAttemptBuild(build('2', 'SUCCEEDED'), ref)).toBe(false);
  });
});
