/**
 * spotcheck on AWS, serverless: nothing runs while nobody pushes. One HTTP API in front of one Lambda (webhooks,
 * agent callbacks, log pages, dashboard), one scheduled Lambda (watchdog, inbox reconcile, janitor) every minute,
 * one DynamoDB table, one S3 log bucket, one CodeBuild project, and the runners' role, instance profile and security
 * group. Environment-agnostic (no account, region or VPC look-ups at synth), so `cdk synth` needs no credentials and
 * no network; what depends on the account (VPC, subnets, AMI, App id) comes in as CloudFormation parameters.
 *
 * IAM is least privilege and reviewable: every statement the Lambdas get is written out here (no grant helpers
 * with broader defaults, no AWSLambdaBasicExecutionRole, whose `logs:*` resources are `*`).
 *
 * The stack is assembled here from one function per resource group, each beside this file: parameters
 * (stack-parameters.ts), table, log bucket, secret and secrets key (stack-storage.ts), runner role, profile,
 * security group and CodeBuild project (stack-runners.ts), the IAM statements (stack-policy.ts), the Lambdas' config
 * and environment (stack-config.ts), and the Lambdas with their API route and tick (stack-lambdas.ts).
 */
import { CfnCondition, CfnOutput, Fn, Stack, type StackProps } from 'aws-cdk-lib';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { Construct } from 'constructs';
import { lambdaEnvironment } from './stack-config.ts';
import { defineLambdas, type SpotcheckLambdaCode } from './stack-lambdas.ts';
import { defineParameters } from './stack-parameters.ts';
import { runtimeStatements } from './stack-policy.ts';
import { defineBuildProject, defineRunnerIdentity } from './stack-runners.ts';
import { defineLogBucket, defineSecrets, defineSecretsKey, defineTable } from './stack-storage.ts';
import { defineIdTokenKey } from './stack-oidc.ts';

export { STACK_ROUTES } from './stack-config.ts';
export type { SpotcheckLambdaCode } from './stack-lambdas.ts';
export { RUN_TAG } from './stack-policy.ts';
export { STORE_INDEXES } from '../src/store/table-schema.ts';

export interface SpotcheckStackProps extends StackProps {
  readonly lambda: SpotcheckLambdaCode;
  /** Attach AmazonSSMManagedInstanceCore to the runner role (Session Manager into runners). Off: nobody logs in. */
  readonly runnerSsm?: boolean;
  /** Days logs and records are kept (the operator config's `limits.retentionDays` default). */
  readonly retentionDays?: number;
}

export class SpotcheckStack extends Stack {
  constructor(scope: Construct, id: string, props: SpotcheckStackProps) {
    super(scope, id, props);
    const retentionDays = props.retentionDays ?? 30;
    const params = defineParameters(this);

    const table = defineTable(this);
    const bucket = defineLogBucket(this, retentionDays);
    const secret = defineSecrets(this);
    const idTokenKey = defineIdTokenKey(this);
    const secretsKey = defineSecretsKey(this);

    const runner = defineRunnerIdentity(this, {
      runnerSsm: props.runnerSsm ?? false,
      vpcId: params.vpcId.valueAsString,
    });
    const project = defineBuildProject(this, params.buildImage.valueAsString);

    const api = new apigwv2.HttpApi(this, 'Api', {
      description: 'spotcheck: webhooks, agent callbacks, log pages, dashboard',
      createDefaultStage: true,
    });
    const orgGiven = new CfnCondition(this, 'OrgGiven', {
      expression: Fn.conditionNot(Fn.conditionEquals(params.org.valueAsString, '')),
    });
    const useApiUrl = new CfnCondition(this, 'UseApiUrl', {
      expression: Fn.conditionEquals(params.publicUrl.valueAsString, ''),
    });
    const publicBase = Fn.conditionIf(useApiUrl.logicalId, api.apiEndpoint, params.publicUrl.valueAsString).toString();
    const environment = lambdaEnvironment(
      this,
      params,
      {
        tableName: table.tableName,
        bucketName: bucket.bucketName,
        secretArn: secret.secretArn,
        secretsKeyArn: secretsKey.keyArn,
        projectName: project.projectName,
        securityGroupId: runner.securityGroup.attrGroupId,
        instanceProfileArn: runner.instanceProfile.instanceProfileArn,
        publicBase,
        orgGivenCondition: orgGiven.logicalId,
        idTokenKeyArn: idTokenKey.keyArn,
      },
      retentionDays,
    );

    const runtimePolicy = new iam.ManagedPolicy(this, 'RuntimePolicy', {
      description: 'spotcheck Lambdas: the one table, bucket, secret, key and project; EC2 only for tagged runners',
      statements: runtimeStatements(this, {
        table,
        bucket,
        secret,
        secretsKey,
        project,
        idTokenKey,
        runnerRole: runner.role,
        runnerSg: runner.securityGroup,
        vpcId: params.vpcId.valueAsString,
        amiId: params.amiId.valueAsString,
      }),
    });
    defineLambdas(this, api, { lambda: props.lambda, runtimePolicy, environment });

    new CfnOutput(this, 'Url', { value: publicBase, description: 'PUBLIC_URL' });
    new CfnOutput(this, 'GitHubWebhookUrl', { value: `${publicBase}/api/github/webhooks` });
    new CfnOutput(this, 'SecretArn', {
      value: secret.secretArn,
      description: 'put PRIVATE_KEY and WEBHOOK_SECRET here',
    });
    new CfnOutput(this, 'OidcIssuer', { value: publicBase, description: 'the OpenID Connect issuer of ID tokens' });
    new CfnOutput(this, 'SecretsKeyArn', {
      value: secretsKey.keyArn,
      description: 'store.kmsKeyId for spotcheck secrets set|list|rm against this table',
    });
    new CfnOutput(this, 'TableName', { value: table.tableName });
    new CfnOutput(this, 'LogBucketName', { value: bucket.bucketName });
    new CfnOutput(this, 'CodeBuildProject', { value: project.projectName });
    new CfnOutput(this, 'RunnerInstanceProfileArn', { value: runner.instanceProfile.instanceProfileArn });
    new CfnOutput(this, 'RunnerSecurityGroupId', { value: runner.securityGroup.attrGroupId });
  }
}
