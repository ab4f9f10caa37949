/**
 * The stack's CloudFormation parameters: what only the operator's account knows (the App, the VPC and subnets, the
 * runner AMI), so `cdk synth` needs no account look-up.
 */
import { CfnParameter, type Stack } from 'aws-cdk-lib';

export interface StackParameters {
  readonly appId: CfnParameter;
  readonly gheHost: CfnParameter;
  readonly appSlug: CfnParameter;
  readonly giteaUrl: CfnParameter;
  readonly publicUrl: CfnParameter;
  readonly org: CfnParameter;
  readonly vpcId: CfnParameter;
  readonly subnetIds: CfnParameter;
  readonly amiId: CfnParameter;
  readonly instanceTypes: CfnParameter;
  readonly buildImage: CfnParameter;
  readonly logLevel: CfnParameter;
}

export function defineParameters(stack: Stack): StackParameters {
  return {
    appId: new CfnParameter(stack, 'GitHubAppId', {
      type: 'String',
      allowedPattern: '^[0-9]+$',
      description: 'The GitHub App id (the App settings page, "App ID").',
    }),
    gheHost: new CfnParameter(stack, 'GitHubHost', {
      type: 'String',
      default: '',
      description: 'GitHub Enterprise Server host (GHE_HOST); empty for github.com.',
    }),
    appSlug: new CfnParameter(stack, 'GitHubAppSlug', {
      type: 'String',
      default: '',
      description: 'The App slug (APP_SLUG); empty to ask GitHub at cold start.',
    }),
    giteaUrl: new CfnParameter(stack, 'GiteaUrl', {
      type: 'String',
      default: '',
      description: 'Base URL of a Gitea instance to serve too (GITEA_URL); empty for none.',
    }),
    publicUrl: new CfnParameter(stack, 'PublicUrl', {
      type: 'String',
      default: '',
      description: 'URL the forge and agents reach spotcheck at (a custom domain); empty for the HTTP API URL.',
    }),
    org: new CfnParameter(stack, 'Org', {
      type: 'String',
      default: '',
      description: 'The org whose members may run PR code; empty for the repository owner when it is an org.',
    }),
    vpcId: new CfnParameter(stack, 'RunnerVpcId', {
      type: 'AWS::EC2::VPC::Id',
      description: 'VPC the Spot runners start in (the default VPC works).',
    }),
    subnetIds: new CfnParameter(stack, 'RunnerSubnetIds', {
      type: 'List<AWS::EC2::Subnet::Id>',
      description: 'Subnets of that VPC, in preference order, with a route to the internet (public or NAT).',
    }),
    amiId: new CfnParameter(stack, 'RunnerAmiId', {
      type: 'String',
      allowedPattern: '^ami-[0-9a-f]{8,17}$',
      description: 'The runner AMI (ami/README.md: packer build prints its id).',
    }),
    instanceTypes: new CfnParameter(stack, 'RunnerInstanceTypes', {
      type: 'CommaDelimitedList',
      default: 'm7i.large,m6i.large,m5.large',
      description: 'Spot instance types in preference order (match the AMI architecture).',
    }),
    buildImage: new CfnParameter(stack, 'CodeBuildImage', {
      type: 'String',
      default: 'aws/codebuild/amazonlinux-x86_64-standard:5.0',
      description: 'CodeBuild image; it must carry the spotcheck agent (ami/README.md) for codebuild routes.',
    }),
    logLevel: new CfnParameter(stack, 'LogLevel', {
      type: 'String',
      default: 'info',
      allowedValues: ['trace', 'debug', 'info', 'warn', 'error'],
    }),
  };
}
