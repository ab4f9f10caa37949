/**
 * The Lambdas' IAM statements, written out for review (least privilege; no grant helpers with broader defaults): the
 * table, the log bucket, the secret, the secrets' KMS key, secrets read through under their prefixes, the CodeBuild
 * project, and EC2 only for instances that carry the run tag.
 * infra/test/spotcheck-stack.test.ts checks that every AWS command the code sends is granted.
 */
import type { Stack } from 'aws-cdk-lib';
import type * as codebuild from 'aws-cdk-lib/aws-codebuild';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { READ_THROUGH_PREFIXES } from './stack-config.ts';

/** The tag every runner instance carries (runners/spot.ts, `<prefix>:run`); IAM conditions key on it. */
export const RUN_TAG = 'spotcheck:run';

/** The encryption context src/store/data-keys.ts sends with every KMS call (`purpose`, plus the secret's scope). */
export const SECRETS_KEY_PURPOSE = 'spotcheck-secret';

/** Every DynamoDB call src/store/ makes on a table that exists (CreateTable is never needed here). */
const DYNAMODB_ACTIONS = [
  'dynamodb:DescribeTable',
  'dynamodb:GetItem',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:Query',
  // The inbox's sweep for intents whose index entry was lost (embedded store only; kept for the same code path).
  'dynamodb:Scan',
  'dynamodb:BatchGetItem',
  'dynamodb:BatchWriteItem',
];

/** What the spot and codebuild runners, the janitor, the store, the S3 log store and the cold start call. */
export function runtimeStatements(
  stack: Stack,
  r: {
    table: dynamodb.Table;
    bucket: s3.Bucket;
    secret: secretsmanager.Secret;
    secretsKey: kms.Key;
    project: codebuild.Project;
    idTokenKey: kms.Key;
    runnerRole: iam.Role;
    runnerSg: ec2.CfnSecurityGroup;
    vpcId: string;
    amiId: string;
  },
): iam.PolicyStatement[] {
  const ec2Arn = (resource: string): string =>
    `arn:${stack.partition}:ec2:${stack.region}:${stack.account}:${resource}`;
  const vpcArn = ec2Arn(`vpc/${r.vpcId}`);
  return [
    new iam.PolicyStatement({
      sid: 'Store',
      actions: DYNAMODB_ACTIONS,
      resources: [r.table.tableArn, `${r.table.tableArn}/index/*`],
    }),
    new iam.PolicyStatement({
      sid: 'LogObjects',
      actions: ['s3:GetObject', 's3:PutObject'],
      resources: [r.bucket.arnForObjects('*')],
    }),
    new iam.PolicyStatement({ sid: 'LogListing', actions: ['s3:ListBucket'], resources: [r.bucket.bucketArn] }),
    new iam.PolicyStatement({
      sid: 'Secrets',
      actions: ['secretsmanager:GetSecretValue'],
      resources: [r.secret.secretArn],
    }),
    // Secrets read through by name (src/server/external-secrets.ts): only under the stack config's prefixes. A
    // SecureString or secret under the AWS managed key needs no KMS grant here (its key policy allows use through
    // the service); one under a key of the operator's needs kms:Decrypt on that key, added by the operator.
    new iam.PolicyStatement({
      sid: 'ReadThroughSecrets',
      actions: ['secretsmanager:GetSecretValue'],
      resources: [
        `arn:${stack.partition}:secretsmanager:${stack.region}:${stack.account}:secret:${READ_THROUGH_PREFIXES.secretsManager}*`,
      ],
    }),
    new iam.PolicyStatement({
      sid: 'ReadThroughParameters',
      actions: ['ssm:GetParameter'],
      resources: [
        // The ARN of /a/b is parameter/a/b: the path's leading slash is the separator's.
        `arn:${stack.partition}:ssm:${stack.region}:${stack.account}:parameter${READ_THROUGH_PREFIXES.ssm}*`,
      ],
    }),
    // Workflow secrets: data keys generated and unwrapped under the one key, only with spotcheck's encryption context
    // (a data key sealed for a secret never opens without it; KMS refuses a context other than the one it was made under).
    new iam.PolicyStatement({
      sid: 'SecretsDataKeys',
      actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
      resources: [r.secretsKey.keyArn],
      conditions: { StringEquals: { 'kms:EncryptionContext:purpose': SECRETS_KEY_PURPOSE } },
    }),
    // RunInstances authorizes every resource it touches (EC2 User Guide, "Example policies to control access
    // to the Amazon EC2 API", launch instances). What it creates and tags — the instance and its volume — only
    // with the run tag in the request; what it uses — the one AMI, the runner security group, subnets and
    // interfaces of the runner VPC, the Spot request — scoped by ARN or by VPC.
    new iam.PolicyStatement({
      sid: 'LaunchTaggedRunners',
      actions: ['ec2:RunInstances'],
      resources: [ec2Arn('instance/*'), ec2Arn('volume/*')],
      conditions: { Null: { [`aws:RequestTag/${RUN_TAG}`]: 'false' } },
    }),
    new iam.PolicyStatement({
      sid: 'LaunchWithRunnerResources',
      actions: ['ec2:RunInstances'],
      resources: [
        `arn:${stack.partition}:ec2:${stack.region}::image/${r.amiId}`,
        ec2Arn(`security-group/${r.runnerSg.attrGroupId}`),
        ec2Arn('spot-instances-request/*'),
      ],
    }),
    new iam.PolicyStatement({
      sid: 'LaunchInRunnerVpc',
      actions: ['ec2:RunInstances'],
      resources: [ec2Arn('subnet/*'), ec2Arn('network-interface/*')],
      conditions: { ArnEquals: { 'ec2:Vpc': vpcArn } },
    }),
    // Tags only as part of the launch (tag-on-create), never on anything that exists.
    new iam.PolicyStatement({
      sid: 'TagOnLaunch',
      actions: ['ec2:CreateTags'],
      resources: [ec2Arn('instance/*'), ec2Arn('volume/*')],
      conditions: { StringEquals: { 'ec2:CreateAction': 'RunInstances' } },
    }),
    new iam.PolicyStatement({
      sid: 'TerminateRunners',
      actions: ['ec2:TerminateInstances'],
      resources: [ec2Arn('instance/*')],
      conditions: { Null: { [`aws:ResourceTag/${RUN_TAG}`]: 'false' } },
    }),
    // DescribeInstances supports no resource-level permissions (Service Authorization Reference, Amazon EC2).
    new iam.PolicyStatement({ sid: 'DescribeInstances', actions: ['ec2:DescribeInstances'], resources: ['*'] }),
    new iam.PolicyStatement({
      sid: 'PassRunnerRole',
      actions: ['iam:PassRole'],
      resources: [r.runnerRole.roleArn],
      conditions: { StringEquals: { 'iam:PassedToService': 'ec2.amazonaws.com' } },
    }),
    // ID tokens: sign with the one key and publish its public half (src/server/kms-id-token-signer.ts).
    new iam.PolicyStatement({
      sid: 'SignIdTokens',
      actions: ['kms:Sign', 'kms:GetPublicKey'],
      resources: [r.idTokenKey.keyArn],
    }),
    new iam.PolicyStatement({
      sid: 'Builds',
      actions: [
        'codebuild:StartBuild',
        'codebuild:StopBuild',
        'codebuild:BatchGetBuilds',
        'codebuild:ListBuildsForProject',
      ],
      resources: [r.project.projectArn],
    }),
  ];
}
