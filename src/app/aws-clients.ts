/** The AWS SDK clients by region, made on first use; shared by `spotcheck serve` and the external watchdog. */
import { CodeBuildClient } from '@aws-sdk/client-codebuild';
import { EC2Client } from '@aws-sdk/client-ec2';
import { memo } from './memo.ts';

export interface AwsClients {
  readonly ec2: (region: string | undefined) => EC2Client;
  readonly codebuild: (region: string | undefined) => CodeBuildClient;
  /** The first clients made (serve's janitor sweeps with them). */
  first(): { readonly ec2?: EC2Client; readonly codebuild?: CodeBuildClient };
  /** Destroys the clients made here (never those a factory passed in made: their owner closes them). */
  destroy(): void;
}

export function createAwsClients(
  factories: {
    readonly ec2?: ((region: string | undefined) => EC2Client) | undefined;
    readonly codebuild?: ((region: string | undefined) => CodeBuildClient) | undefined;
  } = {},
): AwsClients {
  const ec2Clients = new Map<string | undefined, EC2Client>();
  const codeBuildClients = new Map<string | undefined, CodeBuildClient>();
  return {
    ec2: (region) => memo(ec2Clients, region, () => factories.ec2?.(region) ?? new EC2Client(region ? { region } : {})),
    codebuild: (region) =>
      memo(
        codeBuildClients,
        region,
        () => factories.codebuild?.(region) ?? new CodeBuildClient(region ? { region } : {}),
      ),
    first() {
      const [ec2] = ec2Clients.values();
      const [codebuild] = codeBuildClients.values();
      return { ...(ec2 ? { ec2 } : {}), ...(codebuild ? { codebuild } : {}) };
    },
    destroy() {
      if (factories.ec2 === undefined) for (const client of ec2Clients.values()) client.destroy();
      if (factories.codebuild === undefined) for (const client of codeBuildClients.values()) client.destroy();
    },
  };
}
