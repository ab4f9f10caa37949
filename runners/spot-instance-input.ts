/**
 * What the Spot runner asks EC2 for: the candidates of a route in preference order, the idempotency token of each,
 * and the RunInstances request of one candidate. Pure: no EC2 call here. Capacity mode's launcher builds its
 * instances from the same candidates and the same request.
 */
import { createHash } from 'node:crypto';
import type { RunInstancesCommandInput } from '@aws-sdk/client-ec2';
import type { SpotSettings } from './route-settings.ts';
import type { OrderRef } from './runner.ts';

export type Market = 'spot' | 'on-demand';

/** One place an instance may launch: an instance type in a subnet, on one market. */
export interface Candidate {
  readonly market: Market;
  readonly instanceType: string;
  readonly subnet: string;
}

/** EC2 tag values: at most 256 Unicode characters (EC2 User Guide, "Tag restrictions"). */
export const MAX_TAG_VALUE = 256;

/** Type-major, then subnet, then market: every Spot candidate in preference order before any on-demand one. */
export function candidatesOf(settings: SpotSettings): Candidate[] {
  const markets: Market[] = settings.onDemandFallback ? ['spot', 'on-demand'] : ['spot'];
  return markets.flatMap((market) =>
    settings.instanceTypes.flatMap((instanceType) =>
      settings.subnets.map((subnet) => ({ market, instanceType, subnet })),
    ),
  );
}

/**
 * A ClientToken for one candidate of one attempt: the SHA-256 of run/order/attempt and the candidate, in hex —
 * 64 ASCII characters, the most EC2 takes. Stable across retries of the attempt, different across attempts and
 * across candidates (a different request needs a different token).
 */
export function clientToken(ref: OrderRef, candidate: Candidate): string {
  return createHash('sha256')
    .update(
      JSON.stringify([ref.runId, ref.orderId, ref.attempt, candidate.market, candidate.instanceType, candidate.subnet]),
    )
    .digest('hex');
}

/** The RunInstances request of one candidate for one order attempt: the order's tags on the instance and volume. */
export function orderInstanceInput(
  settings: SpotSettings,
  candidate: Candidate,
  meta: {
    readonly ref: OrderRef;
    readonly prefix: string;
    readonly expires: string;
    readonly userData: string;
    readonly token: string;
    readonly name: string;
  },
): RunInstancesCommandInput {
  const { ref, prefix } = meta;
  // The same tags on the instance and its volume, so the janitor and a cost report can find both.
  // `<prefix>:expires` is an ISO 8601 UTC timestamp (readable in the console; Date.parse reads it back).
  const tags = [
    { Key: `${prefix}:run`, Value: ref.runId },
    { Key: `${prefix}:order`, Value: ref.orderId },
    { Key: `${prefix}:attempt`, Value: String(ref.attempt) },
    { Key: `${prefix}:expires`, Value: meta.expires },
    { Key: 'Name', Value: meta.name.slice(0, MAX_TAG_VALUE) },
  ];
  return spotInstanceInput(settings, candidate, { token: meta.token, userData: meta.userData, tags });
}

/**
 * The RunInstances request for one candidate (type × subnet × market): what every spotcheck instance is, whatever
 * it runs (an order's agent, or a capacity runner) — IMDSv2 only, terminate on shutdown, an encrypted root volume,
 * the same tags on the instance and its volume. The caller gives the idempotency token, user data and tags.
 */
export function spotInstanceInput(
  settings: SpotSettings,
  candidate: Candidate,
  meta: { readonly token: string; readonly userData: string; readonly tags: readonly { Key: string; Value: string }[] },
): RunInstancesCommandInput {
  const tags = [...meta.tags];
  return {
    MinCount: 1,
    MaxCount: 1,
    ClientToken: meta.token,
    InstanceType: candidate.instanceType as RunInstancesCommandInput['InstanceType'],
    SubnetId: candidate.subnet,
    ...(settings.securityGroups.length > 0 ? { SecurityGroupIds: [...settings.securityGroups] } : {}),
    ...(settings.ami === undefined ? {} : { ImageId: settings.ami }),
    ...(settings.launchTemplate === undefined
      ? {}
      : {
          LaunchTemplate: {
            Version: settings.launchTemplate.version,
            ...(settings.launchTemplate.id === undefined ? {} : { LaunchTemplateId: settings.launchTemplate.id }),
            ...(settings.launchTemplate.name === undefined ? {} : { LaunchTemplateName: settings.launchTemplate.name }),
          },
        }),
    ...(settings.instanceProfile === undefined
      ? {}
      : {
          IamInstanceProfile: settings.instanceProfile.startsWith('arn:')
            ? { Arn: settings.instanceProfile }
            : { Name: settings.instanceProfile },
        }),
    UserData: meta.userData,
    // IMDSv2 only, and a hop limit of 1 so a container on the instance cannot reach the metadata service
    // (EC2 User Guide, "Configure the instance metadata options").
    MetadataOptions: { HttpTokens: 'required', HttpPutResponseHopLimit: 1, HttpEndpoint: 'enabled' },
    // Power-off (the agent's, or the lifetime cap's `shutdown -h`) terminates the instance.
    InstanceInitiatedShutdownBehavior: 'terminate',
    BlockDeviceMappings: [
      {
        DeviceName: settings.rootDeviceName,
        Ebs: {
          Encrypted: true,
          DeleteOnTermination: true,
          VolumeType: 'gp3',
          ...(settings.rootVolumeGiB === undefined ? {} : { VolumeSize: settings.rootVolumeGiB }),
        },
      },
    ],
    TagSpecifications: [
      { ResourceType: 'instance', Tags: tags },
      { ResourceType: 'volume', Tags: tags },
    ],
    ...(candidate.market === 'spot'
      ? {
          // One-time, terminate on interruption; no MaxPrice, so the cap is the on-demand price (AWS's advice:
          // "Spot Instance pricing", setting a maximum price raises interruptions, not savings).
          InstanceMarketOptions: {
            MarketType: 'spot',
            SpotOptions: { SpotInstanceType: 'one-time', InstanceInterruptionBehavior: 'terminate' },
          },
        }
      : {}),
  };
}
