/** Where orders run: the Spot runners' role, instance profile and security group, and the CodeBuild project. */
import { Duration, type Stack } from 'aws-cdk-lib';
import * as codebuild from 'aws-cdk-lib/aws-codebuild';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';

export interface RunnerIdentity {
  readonly role: iam.Role;
  readonly instanceProfile: iam.InstanceProfile;
  readonly securityGroup: ec2.CfnSecurityGroup;
}

/**
 * The agent talks to spotcheck over HTTPS with its one-time bootstrap token and per-order token: it needs no AWS
 * permission at all, so the role has none (an instance role only lets the agent read its own order's job through
 * the server, never the table). Outbound-only networking.
 */
export function defineRunnerIdentity(
  stack: Stack,
  options: { readonly runnerSsm: boolean; readonly vpcId: string },
): RunnerIdentity {
  const role = new iam.Role(stack, 'RunnerRole', {
    assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
    description: 'spotcheck runner instances: no permissions unless Session Manager is enabled',
    managedPolicies: options.runnerSsm
      ? [iam.ManagedPolicy.fromAwsManagedPolicyName('AmazonSSMManagedInstanceCore')]
      : [],
  });
  const instanceProfile = new iam.InstanceProfile(stack, 'RunnerInstanceProfile', { role });
  // The L1 construct: the L2 one wants the VPC's zones and subnets at synth time, which only a look-up knows.
  const securityGroup = new ec2.CfnSecurityGroup(stack, 'RunnerSecurityGroup', {
    vpcId: options.vpcId,
    groupDescription: 'spotcheck runners: outbound only (forge, package registries, spotcheck callbacks)',
    securityGroupEgress: [{ ipProtocol: '-1', cidrIp: '0.0.0.0/0', description: 'outbound to anywhere' }],
  });
  return { role, instanceProfile, securityGroup };
}

export function defineBuildProject(stack: Stack, buildImage: string): codebuild.Project {
  return new codebuild.Project(stack, 'Builds', {
    description: 'spotcheck orders on CodeBuild: the buildspec and variables come with each StartBuild',
    // No source: every StartBuild passes sourceTypeOverride NO_SOURCE and spotcheck's own buildspec
    // (runners/buildspec.ts); this placeholder only exists because a NO_SOURCE project must have one.
    buildSpec: codebuild.BuildSpec.fromObject({
      version: '0.2',
      phases: { build: { commands: ['echo "spotcheck passes its buildspec with each build" && exit 1'] } },
    }),
    environment: {
      buildImage: codebuild.LinuxBuildImage.fromCodeBuildImageId(buildImage),
      computeType: codebuild.ComputeType.SMALL,
    },
    timeout: Duration.hours(2),
  });
}
