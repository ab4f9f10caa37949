/**
 * Launches and ends capacity-mode instances on EC2: the Spot runner's candidates (instance type × subnet in the
 * operator's order, then on demand when allowed) and its safety settings (IMDSv2 with hop limit 1, encrypted root
 * volume, power-off = terminate, one-time Spot), with capacity tags instead of run/order tags: `<prefix>:capacity`
 * names the runner, so the order janitor (which sweeps `<prefix>:run`) never judges these by orders, and the
 * capacity sweep finds them. ClientToken per runner and candidate (EC2 API reference, "Ensuring idempotency").
 * Order mode's Spot runner (spot.ts) and this launcher share the candidates, the instance input and the reading of
 * EC2's errors, so both modes launch and classify failures the same way.
 */
import { createHash } from 'node:crypto';
import {
  DescribeInstancesCommand,
  RunInstancesCommand,
  TerminateInstancesCommand,
  type EC2Client,
} from '@aws-sdk/client-ec2';
import type { SpotSettings } from './route-settings.ts';
import {
  CANDIDATE_ERROR_CODES,
  CAPACITY_ERROR_CODES,
  candidatesOf,
  codeOf,
  isRetryableError,
  spotInstanceInput,
} from './spot.ts';

export const CAPACITY_TAG = 'spotcheck:capacity';
export const CAPACITY_EXPIRES_TAG = 'spotcheck:capacity-expires';

export interface CapacityInstance {
  readonly instanceId: string;
  readonly launchedAt: number;
  readonly state: string;
  readonly runnerName: string | undefined;
}

export type LaunchOutcome =
  | { readonly ok: true; readonly instanceId: string; readonly instanceType: string; readonly market: string }
  | { readonly ok: false; readonly retryable: boolean; readonly reason: string };

/** EC2's error, read the way the Spot runner reads it. */
function classifyLaunchError(error: unknown): 'mismatch' | 'capacity' | 'candidate' | 'transient' | 'permanent' {
  const code = codeOf(error);
  if (code === 'IdempotentParameterMismatch') return 'mismatch';
  if (code !== undefined && CAPACITY_ERROR_CODES.has(code)) return 'capacity';
  if (code !== undefined && CANDIDATE_ERROR_CODES.has(code)) return 'candidate';
  return isRetryableError(error, false) ? 'transient' : 'permanent';
}

export async function launchCapacityInstance(
  ec2: EC2Client,
  settings: SpotSettings,
  runner: { readonly name: string; readonly userData: string; readonly expires: string; readonly label: string },
): Promise<LaunchOutcome> {
  const failures: string[] = [];
  let retryable = false;
  for (const candidate of candidatesOf(settings)) {
    const token = createHash('sha256')
      .update(JSON.stringify([runner.name, candidate.market, candidate.instanceType, candidate.subnet]))
      .digest('hex');
    const tags = [
      { Key: CAPACITY_TAG, Value: runner.name },
      { Key: CAPACITY_EXPIRES_TAG, Value: runner.expires },
      { Key: 'Name', Value: `spotcheck capacity ${runner.label} ${runner.name}`.slice(0, 256) },
    ];
    const input = spotInstanceInput(settings, candidate, { token, userData: runner.userData, tags });
    const where = `${candidate.market} ${candidate.instanceType} in ${candidate.subnet}`;
    try {
      const out = await ec2.send(new RunInstancesCommand(input));
      const id = out.Instances?.[0]?.InstanceId;
      if (id !== undefined)
        return { ok: true, instanceId: id, instanceType: candidate.instanceType, market: candidate.market };
      return { ok: false, retryable: true, reason: 'RunInstances returned no instance' };
    } catch (error) {
      const kind = classifyLaunchError(error);
      if (kind === 'mismatch') {
        // This candidate launched for this runner already (another bootstrap token in its user data): adopt it.
        const earlier = await ec2.send(
          new DescribeInstancesCommand({ Filters: [{ Name: 'client-token', Values: [token] }] }),
        );
        const id = earlier.Reservations?.[0]?.Instances?.[0]?.InstanceId;
        if (id !== undefined)
          return { ok: true, instanceId: id, instanceType: candidate.instanceType, market: candidate.market };
        return { ok: false, retryable: true, reason: `${where}: the client token is taken but no instance carries it` };
      }
      if (kind === 'capacity' || kind === 'candidate') {
        retryable ||= kind === 'capacity';
        failures.push(`${where}: ${codeOf(error) ?? 'error'}`);
        continue;
      }
      return {
        ok: false,
        retryable: kind === 'transient',
        reason: `EC2 refused the launch: ${codeOf(error) ?? 'error'}`,
      };
    }
  }
  return { ok: false, retryable, reason: `no candidate launched (${failures.join('; ')})` };
}

/** Every live capacity instance (pending or running), with its runner name and launch time. */
export async function listCapacityInstances(ec2: EC2Client): Promise<CapacityInstance[]> {
  const found: CapacityInstance[] = [];
  let token: string | undefined;
  do {
    const out = await ec2.send(
      new DescribeInstancesCommand({
        Filters: [
          { Name: 'tag-key', Values: [CAPACITY_TAG] },
          { Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped'] },
        ],
        MaxResults: 1000,
        ...(token === undefined ? {} : { NextToken: token }),
      }),
    );
    for (const reservation of out.Reservations ?? [])
      for (const i of reservation.Instances ?? []) {
        if (i.InstanceId === undefined) continue;
        found.push({
          instanceId: i.InstanceId,
          launchedAt: i.LaunchTime?.getTime() ?? 0,
          state: i.State?.Name ?? 'unknown',
          runnerName: i.Tags?.find((t) => t.Key === CAPACITY_TAG)?.Value,
        });
      }
    token = out.NextToken;
  } while (token !== undefined && token !== '');
  return found;
}

/** Whether an instance is still pending or running; an id EC2 does not know is gone. */
export async function isInstanceAlive(ec2: EC2Client, instanceId: string): Promise<boolean> {
  try {
    const out = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
    const state = out.Reservations?.[0]?.Instances?.[0]?.State?.Name;
    return state === 'pending' || state === 'running';
  } catch (error) {
    if (codeOf(error)?.startsWith('InvalidInstanceID')) return false;
    throw error;
  }
}

/** Terminating a gone instance is not an error. */
export async function terminateCapacityInstance(ec2: EC2Client, instanceId: string): Promise<void> {
  try {
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [instanceId] }));
  } catch (error) {
    if (!codeOf(error)?.startsWith('InvalidInstanceID')) throw error;
  }
}
