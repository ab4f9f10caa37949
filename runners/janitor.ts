/**
 * The janitor: the braces to the runners' belt. Finds every instance (and CodeBuild build) spotcheck started that no
 * live order owns any more, or that outlived its expiry, and ends it. Orders own their execution through
 * run/order/attempt (tags on instances, `SPOTCHECK_BUILD_*` variables on builds) and the handle the order records.
 *
 * Never within `graceMs` of a launch (janitor-verdict.ts says why, and judges each execution). Here: listing what
 * spotcheck started, and ending what the verdict dooms, in named steps.
 */
import {
  BatchGetBuildsCommand,
  ListBuildsForProjectCommand,
  StopBuildCommand,
  type Build,
  type CodeBuildClient,
} from '@aws-sdk/client-codebuild';
import {
  DescribeInstancesCommand,
  TerminateInstancesCommand,
  type EC2Client,
  type Instance,
} from '@aws-sdk/client-ec2';
import type { Logger } from 'pino';
import type { Store } from '../src/store/store.ts';
import { buildOwner, instanceOwner, verdictOf, type Execution } from './janitor-verdict.ts';
import { CODEBUILD_MAX_TIMEOUT_MINUTES } from './route-settings.ts';
import { codeOf } from './spot-errors.ts';

export interface JanitorOptions {
  readonly ec2: EC2Client;
  readonly codebuild?: CodeBuildClient;
  /** The CodeBuild projects spotcheck routes use (their builds are swept). */
  readonly projects?: readonly string[];
  readonly store: Pick<Store, 'getOrder'>;
  /** Epoch ms. */
  readonly clock: () => number;
  readonly graceMs?: number;
  readonly logger?: Logger;
  readonly tagPrefix?: string;
}

export interface SweepResult {
  /** Instance ids and build ids ended by this sweep. */
  readonly terminated: string[];
  /** Live and owned: left alone. */
  readonly kept: string[];
  /** With `dryRun`: what the sweep would have ended. */
  readonly wouldTerminate: string[];
  /** Why each id was (or would be) ended, for the CLI's `--dry-run` listing and the log. */
  readonly reasons: Readonly<Record<string, string>>;
}

export interface Janitor {
  sweep(options?: { readonly dryRun?: boolean }): Promise<SweepResult>;
}

export const DEFAULT_JANITOR_GRACE_MS = 10 * 60_000;
/** TerminateInstances takes up to 1000 ids per call (EC2 API reference). */
const TERMINATE_BATCH = 1000;
/** BatchGetBuilds takes up to 100 ids per call (CodeBuild API reference). */
const BUILD_BATCH = 100;
/**
 * A build cannot run longer than CodeBuild's timeout cap plus its queue time (at most 8 hours, the queued-timeout
 * cap); pages of builds that all started before that are history, and listing stops there.
 */
const BUILD_HORIZON_MS = (CODEBUILD_MAX_TIMEOUT_MINUTES + 8 * 60) * 60_000;

/** What one sweep decided: the ids to end (instances and builds apart), those kept, and why each must go. */
interface Judgement {
  readonly instances: string[];
  readonly builds: string[];
  readonly kept: string[];
  readonly reasons: Record<string, string>;
}

export function createJanitor(opts: JanitorOptions): Janitor {
  const prefix = opts.tagPrefix ?? 'spotcheck';
  return {
    async sweep({ dryRun = false } = {}): Promise<SweepResult> {
      const now = opts.clock();
      const judgement: Judgement = { instances: [], builds: [], kept: [], reasons: {} };
      const judge = async (execution: Execution, doomed: string[]): Promise<void> => {
        const why = await verdictOf(
          execution,
          {
            now,
            graceMs: opts.graceMs ?? DEFAULT_JANITOR_GRACE_MS,
            readOrder: (run, order) => opts.store.getOrder(run, order),
          },
          (error) => opts.logger?.warn({ err: error, id: execution.id }, 'janitor cannot read the order, keeping'),
        );
        if (why === undefined) judgement.kept.push(execution.id);
        else {
          doomed.push(execution.id);
          judgement.reasons[execution.id] = why;
        }
      };
      for (const instance of await listInstances(opts.ec2, prefix)) {
        const id = instance.InstanceId;
        if (id === undefined) continue;
        const owner = instanceOwner(instance, prefix);
        await judge({ id, kind: 'spot', owner, startedAt: instance.LaunchTime?.getTime() }, judgement.instances);
      }
      for (const build of await listProjectBuilds(opts, now)) {
        const id = build.id;
        const owner = buildOwner(build);
        // A build without our markers was not started by spotcheck: not ours to stop.
        if (id === undefined || owner === undefined) continue;
        await judge({ id, kind: 'codebuild', owner, startedAt: build.startTime?.getTime() }, judgement.builds);
      }
      const { kept, reasons } = judgement;
      if (dryRun)
        return { terminated: [], kept, wouldTerminate: [...judgement.instances, ...judgement.builds], reasons };
      const terminated = [
        ...(await terminateInstances(opts.ec2, judgement.instances, opts.logger)),
        ...(await stopBuilds(opts.codebuild, judgement.builds, opts.logger)),
      ];
      for (const id of terminated) opts.logger?.info({ id, reason: reasons[id] }, 'janitor ended an execution');
      return { terminated, kept, wouldTerminate: [], reasons };
    },
  };
}

/** Every pending, running, stopping or stopped instance that carries `<prefix>:run`, over all pages. */
async function listInstances(ec2: EC2Client, prefix: string): Promise<Instance[]> {
  const instances: Instance[] = [];
  let token: string | undefined;
  do {
    const out = await ec2.send(
      new DescribeInstancesCommand({
        Filters: [
          { Name: 'tag-key', Values: [`${prefix}:run`] },
          { Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped'] },
        ],
        MaxResults: 1000,
        ...(token === undefined ? {} : { NextToken: token }),
      }),
    );
    for (const reservation of out.Reservations ?? []) instances.push(...(reservation.Instances ?? []));
    token = out.NextToken;
  } while (token !== undefined && token !== '');
  return instances;
}

/** The builds in progress in every project spotcheck routes use (none without a CodeBuild client). */
async function listProjectBuilds(opts: JanitorOptions, now: number): Promise<Build[]> {
  if (opts.codebuild === undefined) return [];
  const builds: Build[] = [];
  for (const project of opts.projects ?? []) builds.push(...(await listBuilds(opts.codebuild, project, now)));
  return builds;
}

/** A project's builds in progress, newest first, until a page holds only builds past the horizon. */
async function listBuilds(client: CodeBuildClient, project: string, now: number): Promise<Build[]> {
  const builds: Build[] = [];
  let token: string | undefined;
  do {
    const page = await client.send(
      new ListBuildsForProjectCommand({
        projectName: project,
        sortOrder: 'DESCENDING',
        ...(token === undefined ? {} : { nextToken: token }),
      }),
    );
    const ids = page.ids ?? [];
    let recent = false;
    for (let i = 0; i < ids.length; i += BUILD_BATCH) {
      const out = await client.send(new BatchGetBuildsCommand({ ids: ids.slice(i, i + BUILD_BATCH) }));
      for (const build of out.builds ?? []) {
        if (build.startTime === undefined || now - build.startTime.getTime() < BUILD_HORIZON_MS) recent = true;
        if (build.buildStatus === 'IN_PROGRESS') builds.push(build);
      }
    }
    token = recent ? page.nextToken : undefined;
  } while (token !== undefined && token !== '');
  return builds;
}

/** Terminates instances in batches; a failed batch is retried one by one so the others still go. */
async function terminateInstances(ec2: EC2Client, ids: readonly string[], log: Logger | undefined): Promise<string[]> {
  const terminated: string[] = [];
  for (let i = 0; i < ids.length; i += TERMINATE_BATCH) {
    const batch = ids.slice(i, i + TERMINATE_BATCH);
    try {
      await ec2.send(new TerminateInstancesCommand({ InstanceIds: batch }));
      terminated.push(...batch);
    } catch (error) {
      // One bad id fails the whole call; try them one by one so the others still go.
      log?.warn({ err: error, code: codeOf(error) }, 'janitor batch terminate failed, retrying one by one');
      for (const id of batch) {
        try {
          await ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
          terminated.push(id);
        } catch (oneError) {
          log?.warn({ err: oneError, instanceId: id }, 'janitor cannot terminate an instance');
        }
      }
    }
  }
  return terminated;
}

async function stopBuilds(
  client: CodeBuildClient | undefined,
  ids: readonly string[],
  log: Logger | undefined,
): Promise<string[]> {
  const stopped: string[] = [];
  for (const id of ids) {
    try {
      await client?.send(new StopBuildCommand({ id }));
      stopped.push(id);
    } catch (error) {
      log?.warn({ err: error, buildId: id }, 'janitor cannot stop a build');
    }
  }
  return stopped;
}
