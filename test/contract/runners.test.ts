import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createCodeBuildRunner } from '../../runners/codebuild.ts';
import { createLocalRunner } from '../../runners/local.ts';
import { createRunners } from '../../runners/registry.ts';
import type { AgentReport, OrderRef, ReportSink, Route } from '../../runners/runner.ts';
import { createSpotRunner } from '../../runners/spot.ts';
import { describe, expect, it } from 'vitest';
import { createFakeCodeBuild, createFakeEc2, launchRequest } from './fake-aws.ts';
import { defineRunnerContract } from './runner-contract.ts';

const T0 = Date.parse('2025-03-01T12:00:00Z');
const bootstrap = () => Promise.resolve({ url: 'https://ci.example.org/api/agent/bootstrap', token: 'B'.repeat(32) });

const spotRoute: Route = {
  label: 'big',
  runner: 'spot',
  settings: { instanceTypes: ['m7i.large'], subnets: ['subnet-aaaaaaaa'], ami: 'ami-12345678' },
};
const buildRoute: Route = { label: 'long', runner: 'codebuild', settings: { project: 'ci' } };

defineRunnerContract('local', async () => {
  const root = await mkdtemp(path.join(tmpdir(), 'spotcheck-contract-'));
  const repo = path.join(root, 'repo');
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: root };
  const git = (args: string[], cwd: string) =>
    execFileSync('git', args, {
      cwd,
      encoding: 'utf8',
      env: {
        ...env,
        GIT_AUTHOR_NAME: 't',
        GIT_AUTHOR_EMAIL: 't@e',
        GIT_COMMITTER_NAME: 't',
        GIT_COMMITTER_EMAIL: 't@e',
      },
    }).trim();
  git(['init', '--quiet', '--initial-branch=main', repo], root);
  await writeFile(path.join(repo, 'README.md'), 'hello\n');
  git(['add', 'README.md'], repo);
  git(['commit', '--quiet', '-m', 'one'], repo);
  const sha = git(['rev-parse', 'HEAD'], repo);
  const reports: { ref: OrderRef; report: AgentReport }[] = [];
  const sink: ReportSink = {
    report(ref, report) {
      reports.push({ ref, report });
      return Promise.resolve();
    },
  };
  const runner = createLocalRunner({
    sink,
    dataDir: path.join(root, 'data'),
    baseEnv: () => env,
    killGraceMs: 200,
    logFlushMs: 10,
  });
  return {
    runner,
    unknownHandle: 'local:none/none/1',
    request: ({ orderId, attempt = 1, long = false }) =>
      launchRequest({
        route: { label: 'local', runner: 'local', settings: {} },
        orderId,
        attempt,
        cloneUrl: repo,
        sha,
        timeoutMinutes: 2,
        steps: [long ? 'sleep 30' : 'echo hello'],
      }),
    executions: (orderId, attempt) =>
      Promise.resolve(
        reports.filter((r) => r.ref.orderId === orderId && r.ref.attempt === attempt && r.report.type === 'running')
          .length,
      ),
    reports: (orderId) => reports.filter((r) => r.ref.orderId === orderId).map((r) => r.report),
    settle: () => runner.idle(),
    cleanup: async () => {
      await runner.idle();
      await rm(root, { recursive: true, force: true });
    },
  };
});

defineRunnerContract('spot', () => {
  const ec2 = createFakeEc2({ clock: () => T0 });
  const runner = createSpotRunner({ ec2: ec2.client, clock: () => T0, bootstrap });
  return Promise.resolve({
    runner,
    unknownHandle: 'i-0000000000000dead',
    request: ({ orderId, attempt = 1 }) => launchRequest({ route: spotRoute, orderId, attempt }),
    executions: (orderId, attempt) =>
      Promise.resolve(
        [...ec2.instances.values()].filter(
          (i) => i.tags['spotcheck:order'] === orderId && i.tags['spotcheck:attempt'] === String(attempt),
        ).length,
      ),
  });
});

defineRunnerContract('codebuild', () => {
  const cb = createFakeCodeBuild({ clock: () => T0 });
  const runner = createCodeBuildRunner({ codebuild: cb.client, clock: () => T0, bootstrap });
  return Promise.resolve({
    runner,
    unknownHandle: 'ci:00000000-0000-4000-8000-00000000dead',
    request: ({ orderId, attempt = 1 }) => launchRequest({ route: buildRoute, orderId, attempt }),
    executions: (orderId, attempt) =>
      Promise.resolve(
        [...cb.builds.values()].filter(
          (b) =>
            b.env.some((v) => v.name === 'SPOTCHECK_BUILD_ORDER' && v.value === orderId) &&
            b.env.some((v) => v.name === 'SPOTCHECK_BUILD_ATTEMPT' && v.value === String(attempt)),
        ).length,
      ),
  });
});

describe('runner registry', () => {
  const local: Route = { label: 'local', runner: 'local', settings: {} };
  const localOptions = { sink: { report: () => Promise.resolve() }, dataDir: tmpdir(), baseEnv: () => ({}) };

  it('builds only the kinds some route uses', () => {
    const ec2 = createFakeEc2({ clock: () => T0 });
    const onlyLocal = createRunners([local, { label: 'off', runner: 'skip', settings: {} }], { local: localOptions });
    expect(Object.keys(onlyLocal)).toEqual(['local']);
    let made = 0;
    const cloud = createRunners(new Map([['big', spotRoute]]), {
      bootstrap,
      ec2: () => {
        made += 1;
        return ec2.client;
      },
    });
    expect(Object.keys(cloud)).toEqual(['spot']);
    expect(cloud.spot?.kind).toBe('spot');
    expect(made).toBe(1);
  });

  it('reports every problem at once', () => {
    expect(() =>
      createRunners(
        [
          local,
          { ...spotRoute, settings: { ...spotRoute.settings, region: 'eu-west-1' } },
          { ...spotRoute, label: 'b', settings: { ...spotRoute.settings, region: 'us-east-1' } },
          { ...buildRoute, settings: {} },
        ],
        {},
      ),
    ).toThrow(
      [
        'runners: 5 problems:',
        '  - routes.long.project: required (the CodeBuild project to start builds in)',
        '  - spot routes name 2 different regions; all spot routes must share one',
        "  - spot routes need the server's bootstrap endpoint (publicUrl) to launch agents",
        "  - codebuild routes need the server's bootstrap endpoint (publicUrl) to launch agents",
        '  - local routes need the local runner options',
      ].join('\n'),
    );
  });
});
