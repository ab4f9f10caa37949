/**
 * The janitor: the braces to the runners' belt. Finds every instance (and CodeBuild build) spotcheck started that no
 * live order owns any more, or that outlived its expiry, and ends it. Orders own their execution through
 * run/order/attempt (tags on instances, `SPOTCHECK_BUILD_*` variables on builds) and the handle the order records.
 *
 * Never within `graceMs` of a launch: an instance that just started may belong to a launch whose `dispatched` write
 * has not landed yet (docs/architecture.md: a crash between effect and write is repaired by the watchdog, not by
 * killing).
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
import { isFinalOrderState, type OrderRecord } from '../src/core/types.ts';
import type { Store } from '../src/store/store.ts';
import { markersOf } from './codebuild.ts';
import { CODEBUILD_MAX_TIMEOUT_MINUTES } from './route-settings.ts';
import { codeOf } from './spot.ts';

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

interface Owner {
  readonly runId: string | undefined;
  readonly orderId: string | undefined;
  readonly attempt: string | undefined;
  readonly expires: string | undefined;
}

export function createJanitor(opts: JanitorOptions): Janitor {
  const prefix = opts.tagPrefix ?? 'spotcheck';
  const graceMs = opts.graceMs ?? DEFAULT_JANITOR_GRACE_MS;
  const log = opts.logger;

  /** Why an execution must go, or undefined to keep it. */
  const verdict = async (
    id: string,
    kind: 'spot' | 'codebuild',
    owner: Owner,
    startedAt: number | undefined,
    now: number,
  ): Promise<string | undefined> => {
    // Within the grace period nothing is judged, not even a missing start time's owner.
    if (startedAt === undefined || now - startedAt < graceMs) return undefined;
    const expires = owner.expires === undefined ? Number.NaN : Date.parse(owner.expires);
    if (Number.isFinite(expires) && expires <= now) return `past its expiry (${owner.expires})`;
    if (owner.runId === undefined || owner.orderId === undefined || owner.attempt === undefined)
      return 'carries no run/order/attempt';
    let order: OrderRecord | undefined;
    try {
      order = await opts.store.getOrder(owner.runId, owner.orderId);
    } catch (error) {
      // Unknown is not the same as absent: never kill on a failed read.
      log?.warn({ err: error, id }, 'janitor cannot read the order, keeping');
      return undefined;
    }
    if (order === undefined) return `its order ${owner.runId}/${owner.orderId} is unknown`;
    if (isFinalOrderState(order.state)) return `its order is ${order.state}`;
    if (String(order.attempt) !== owner.attempt)
      return `its order is at attempt ${order.attempt}, not ${owner.attempt}`;
    // A duplicate of the same attempt (two launches raced): the order's recorded handle is the one that counts.
    if (order.handle !== undefined && order.runner === kind && order.handle !== id)
      return `its order runs on ${order.handle}`;
    return undefined;
  };

  const listInstances = async (): Promise<Instance[]> => {
    const instances: Instance[] = [];
    let token: string | undefined;
    do {
      const out = await opts.ec2.send(
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
  };

  const listBuilds = async (client: CodeBuildClient, project: string, now: number): Promise<Build[]> => {
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
  };

  return {
    async sweep({ dryRun = false } = {}): Promise<SweepResult> {
      const now = opts.clock();
      const doomed: string[] = [];
      const kept: string[] = [];
      const reasons: Record<string, string> = {};

      for (const instance of await listInstances()) {
        const id = instance.InstanceId;
        if (id === undefined) continue;
        const tags = new Map((instance.Tags ?? []).map((t) => [t.Key, t.Value]));
        const owner: Owner = {
          runId: tags.get(`${prefix}:run`),
          orderId: tags.get(`${prefix}:order`),
          attempt: tags.get(`${prefix}:attempt`),
          expires: tags.get(`${prefix}:expires`),
        };
        const why = await verdict(id, 'spot', owner, instance.LaunchTime?.getTime(), now);
        if (why === undefined) kept.push(id);
        else {
          doomed.push(id);
          reasons[id] = why;
        }
      }
      const doomedInstances = [...doomed];

      const doomedBuilds: string[] = [];
      if (opts.codebuild !== undefined) {
        for (const project of opts.projects ?? []) {
          for (const build of await listBuilds(opts.codebuild, project, now)) {
            const id = build.id;
            if (id === undefined) continue;
            const markers = markersOf(build);
            // A build without our markers was not started by spotcheck: not ours to stop.
            if (markers.run === undefined) continue;
            const owner: Owner = {
              runId: markers.run,
              orderId: markers.order,
              attempt: markers.attempt,
              expires: markers.expires,
            };
            const why = await verdict(id, 'codebuild', owner, build.startTime?.getTime(), now);
            if (why === undefined) kept.push(id);
            else {
              doomedBuilds.push(id);
              reasons[id] = why;
            }
          }
        }
      }

      if (dryRun) return { terminated: [], kept, wouldTerminate: [...doomedInstances, ...doomedBuilds], reasons };

      const terminated: string[] = [];
      for (let i = 0; i < doomedInstances.length; i += TERMINATE_BATCH) {
        const batch = doomedInstances.slice(i, i + TERMINATE_BATCH);
        try {
          await opts.ec2.send(new TerminateInstancesCommand({ InstanceIds: batch }));
          terminated.push(...batch);
        } catch (error) {
          // One bad id fails the whole call; try them one by one so the others still go.
          log?.warn({ err: error, code: codeOf(error) }, 'janitor batch terminate failed, retrying one by one');
          for (const id of batch) {
            try {
              await opts.ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
              terminated.push(id);
            } catch (oneError) {
              log?.warn({ err: oneError, instanceId: id }, 'janitor cannot terminate an instance');
            }
          }
        }
      }
      for (const id of doomedBuilds) {
        try {
          await opts.codebuild?.send(new StopBuildCommand({ id }));
          terminated.push(id);
        } catch (error) {
          log?.warn({ err: error, buildId: id }, 'janitor cannot stop a build');
        }
      }
      for (const id of terminated) log?.info({ id, reason: reasons[id] }, 'janitor ended an execution');
      return { terminated, kept, wouldTerminate: [], reasons };
    },
  };
}
