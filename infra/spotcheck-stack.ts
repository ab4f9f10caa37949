/**
 * spotcheck on AWS, serverless: nothing runs while nobody pushes. One HTTP API in front of one Lambda (webhooks,
 * agent callbacks, log pages, dashboard), one scheduled Lambda (watchdog, inbox reconcile, janitor) every minute,
 * one DynamoDB table, one S3 log bucket, one CodeBuild project, and the runners' role, instance profile and security
 * group. Environment-agnostic (no account, region or VPC look-ups at synth), so `cdk synth` needs no credentials and
 * no network; what depends on the account (VPC, subnets, AMI, App id) comes in as CloudFormation parameters.
 *
 * IAM is least privilege and reviewable: every statement the Lambdas get is written out here (no grant helpers
 * with broader defaults, no AWSLambdaBasicExecutionRole, whose `logs:*` resources are `*`).
 */
import {
  CfnCondition,
  CfnOutput,
  CfnParameter,
  Duration,
  Fn,
  RemovalPolicy,
  Stack,
  type StackProps,
} from 'aws-cdk-lib';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as codebuild from 'aws-cdk-lib/aws-codebuild';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { STORE_INDEXES } from '../src/store/table-schema.ts';

/** The code of the two Lambdas: pre-bundled by scripts/bundle-lambda.mjs (infra/app.ts runs it), stubbed in tests. */
export interface SpotcheckLambdaCode {
  readonly code: lambda.Code;
  /** `<file without .mjs>.handler` of the HTTP handler, e.g. `lambda.handler`. */
  readonly httpHandler: string;
  readonly scheduledHandler: string;
}

export interface SpotcheckStackProps extends StackProps {
  readonly lambda: SpotcheckLambdaCode;
  /** Attach AmazonSSMManagedInstanceCore to the runner role (Session Manager into runners). Off: nobody logs in. */
  readonly runnerSsm?: boolean;
  /** Days logs and records are kept (the operator config's `limits.retentionDays` default). */
  readonly retentionDays?: number;
}

/** The tag every runner instance carries (runners/spot.ts, `<prefix>:run`); IAM conditions key on it. */
export const RUN_TAG = 'spotcheck:run';

/** Every DynamoDB call src/store/ makes on a table that exists (CreateTable is never needed here). */
const DYNAMODB_ACTIONS = [
  'dynamodb:DescribeTable',
  'dynamodb:GetItem',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:Query',
  'dynamodb:BatchGetItem',
  'dynamodb:BatchWriteItem',
];

/** The labels of the two routes this stack writes into the operator config. */
export const STACK_ROUTES = { spot: 'spot', codebuild: 'codebuild' } as const;

export class SpotcheckStack extends Stack {
  constructor(scope: Construct, id: string, props: SpotcheckStackProps) {
    super(scope, id, props);
    const retentionDays = props.retentionDays ?? 30;

    // --- Parameters: what only the operator's account knows. -------------------------------------------------
    const appId = new CfnParameter(this, 'GitHubAppId', {
      type: 'String',
      allowedPattern: '^[0-9]+$',
      description: 'The GitHub App id (the App settings page, "App ID").',
    });
    const gheHost = new CfnParameter(this, 'GitHubHost', {
      type: 'String',
      default: '',
      description: 'GitHub Enterprise Server host (GHE_HOST); empty for github.com.',
    });
    const appSlug = new CfnParameter(this, 'GitHubAppSlug', {
      type: 'String',
      default: '',
      description: 'The App slug (APP_SLUG); empty to ask GitHub at cold start.',
    });
    const giteaUrl = new CfnParameter(this, 'GiteaUrl', {
      type: 'String',
      default: '',
      description: 'Base URL of a Gitea instance to serve too (GITEA_URL); empty for none.',
    });
    const publicUrl = new CfnParameter(this, 'PublicUrl', {
      type: 'String',
      default: '',
      description: 'URL the forge and agents reach spotcheck at (a custom domain); empty for the HTTP API URL.',
    });
    const org = new CfnParameter(this, 'Org', {
      type: 'String',
      default: '',
      description: 'The org whose members may run PR code; empty for the repository owner when it is an org.',
    });
    const vpcId = new CfnParameter(this, 'RunnerVpcId', {
      type: 'AWS::EC2::VPC::Id',
      description: 'VPC the Spot runners start in (the default VPC works).',
    });
    const subnetIds = new CfnParameter(this, 'RunnerSubnetIds', {
      type: 'List<AWS::EC2::Subnet::Id>',
      description: 'Subnets of that VPC, in preference order, with a route to the internet (public or NAT).',
    });
    const amiId = new CfnParameter(this, 'RunnerAmiId', {
      type: 'String',
      allowedPattern: '^ami-[0-9a-f]{8,17}$',
      description: 'The runner AMI (ami/README.md: packer build prints its id).',
    });
    const instanceTypes = new CfnParameter(this, 'RunnerInstanceTypes', {
      type: 'CommaDelimitedList',
      default: 'm7i.large,m6i.large,m5.large',
      description: 'Spot instance types in preference order (match the AMI architecture).',
    });
    const buildImage = new CfnParameter(this, 'CodeBuildImage', {
      type: 'String',
      default: 'aws/codebuild/amazonlinux-x86_64-standard:5.0',
      description: 'CodeBuild image; it must carry the spotcheck agent (ami/README.md) for codebuild routes.',
    });
    const logLevel = new CfnParameter(this, 'LogLevel', {
      type: 'String',
      default: 'info',
      allowedValues: ['trace', 'debug', 'info', 'warn', 'error'],
    });

    // --- Store and logs. ----------------------------------------------------------------------------------------
    const table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
      // On demand: an idle bot costs storage only (DynamoDB pricing, "on-demand capacity mode").
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      // Cleanup only: correctness never relies on TTL deletion (docs/architecture.md; reads filter on expiresAt).
      timeToLiveAttribute: 'ttl',
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy: RemovalPolicy.RETAIN,
    });
    for (const [indexName, keys] of Object.entries(STORE_INDEXES)) {
      table.addGlobalSecondaryIndex({
        indexName,
        partitionKey: { name: keys.pk, type: dynamodb.AttributeType.STRING },
        sortKey: { name: keys.sk, type: dynamodb.AttributeType.STRING },
        projectionType: dynamodb.ProjectionType.ALL,
      });
    }
    const bucket = new s3.Bucket(this, 'LogBucket', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [
        {
          id: 'expire-logs',
          expiration: Duration.days(retentionDays),
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
      ],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // Private key, webhook secrets, Gitea token: in Secrets Manager, named to the Lambdas by ARN and read at cold
    // start, never in plain environment variables (which the console and GetFunctionConfiguration show). The keys
    // are the variable names `spotcheck serve` reads; the agent secret is generated here.
    const secret = new secretsmanager.Secret(this, 'Secrets', {
      description: 'spotcheck: PRIVATE_KEY, WEBHOOK_SECRET, GITEA_TOKEN, GITEA_WEBHOOK_SECRET, SPOTCHECK_AGENT_SECRET',
      generateSecretString: {
        secretStringTemplate: JSON.stringify({
          PRIVATE_KEY: '',
          WEBHOOK_SECRET: '',
          GITEA_TOKEN: '',
          GITEA_WEBHOOK_SECRET: '',
        }),
        generateStringKey: 'SPOTCHECK_AGENT_SECRET',
        excludePunctuation: true,
        passwordLength: 64,
      },
      removalPolicy: RemovalPolicy.RETAIN,
    });

    // --- Runners. -----------------------------------------------------------------------------------------------
    // The agent talks to spotcheck over HTTPS with its one-time bootstrap token and per-order token: it needs no
    // AWS permission at all, so the role has none (an instance role only lets the agent read its own order's job
    // through the server, never the table).
    const runnerRole = new iam.Role(this, 'RunnerRole', {
      assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
      description: 'spotcheck runner instances: no permissions unless Session Manager is enabled',
      managedPolicies: props.runnerSsm
        ? [iam.ManagedPolicy.fromAwsManagedPolicyName('AmazonSSMManagedInstanceCore')]
        : [],
    });
    const instanceProfile = new iam.InstanceProfile(this, 'RunnerInstanceProfile', { role: runnerRole });
    // The L1 construct: the L2 one wants the VPC's zones and subnets at synth time, which only a look-up knows.
    const runnerSg = new ec2.CfnSecurityGroup(this, 'RunnerSecurityGroup', {
      vpcId: vpcId.valueAsString,
      groupDescription: 'spotcheck runners: outbound only (forge, package registries, spotcheck callbacks)',
      securityGroupEgress: [{ ipProtocol: '-1', cidrIp: '0.0.0.0/0', description: 'outbound to anywhere' }],
    });
    const project = new codebuild.Project(this, 'Builds', {
      description: 'spotcheck orders on CodeBuild: the buildspec and variables come with each StartBuild',
      // No source: every StartBuild passes sourceTypeOverride NO_SOURCE and spotcheck's own buildspec
      // (runners/buildspec.ts); this placeholder only exists because a NO_SOURCE project must have one.
      buildSpec: codebuild.BuildSpec.fromObject({
        version: '0.2',
        phases: { build: { commands: ['echo "spotcheck passes its buildspec with each build" && exit 1'] } },
      }),
      environment: {
        buildImage: codebuild.LinuxBuildImage.fromCodeBuildImageId(buildImage.valueAsString),
        computeType: codebuild.ComputeType.SMALL,
      },
      timeout: Duration.hours(2),
    });

    // --- Lambdas. -----------------------------------------------------------------------------------------------
    // One function behind the `$default` route: the router (src/server/router.ts) owns every path, `/` included,
    // as under `spotcheck serve`.
    const api = new apigwv2.HttpApi(this, 'Api', {
      description: 'spotcheck: webhooks, agent callbacks, log pages, dashboard',
      createDefaultStage: true,
    });
    const orgGiven = new CfnCondition(this, 'OrgGiven', {
      expression: Fn.conditionNot(Fn.conditionEquals(org.valueAsString, '')),
    });
    const useApiUrl = new CfnCondition(this, 'UseApiUrl', {
      expression: Fn.conditionEquals(publicUrl.valueAsString, ''),
    });
    const publicBase = Fn.conditionIf(useApiUrl.logicalId, api.apiEndpoint, publicUrl.valueAsString).toString();

    // The operator config the Lambdas load (JSON is YAML): the table, and one route per runner this stack made.
    // Routes of the operator's own go beside these in a config of theirs; `local` routes cannot run on Lambda.
    const operatorConfig = renderOperatorConfig(
      {
        store: { kind: 'dynamodb', table: table.tableName, region: this.region },
        publicUrl: publicBase,
        defaultRoutes: false,
        routes: {
          [STACK_ROUTES.spot]: {
            runner: 'spot',
            ami: amiId.valueAsString,
            instanceTypes: [LIST_MARK.instanceTypes],
            subnets: [LIST_MARK.subnets],
            securityGroups: [runnerSg.attrGroupId],
            instanceProfile: instanceProfile.instanceProfileArn,
            onDemandFallback: true,
            maxLifetimeMinutes: 360,
          },
          [STACK_ROUTES.codebuild]: { runner: 'codebuild', project: project.projectName },
        },
        limits: { retentionDays },
      },
      { instanceTypes: instanceTypes.valueAsList, subnets: subnetIds.valueAsList },
      // `org` only when given: the config loader refuses an empty one.
      Fn.conditionIf(orgGiven.logicalId, Fn.join('', [',"org":"', org.valueAsString, '"']), '').toString(),
    );
    const environment: Record<string, string> = {
      APP_ID: appId.valueAsString,
      GHE_HOST: gheHost.valueAsString,
      APP_SLUG: appSlug.valueAsString,
      GITEA_URL: giteaUrl.valueAsString,
      PUBLIC_URL: publicBase,
      SPOTCHECK_TABLE: table.tableName,
      SPOTCHECK_LOG_BUCKET: bucket.bucketName,
      SPOTCHECK_SECRETS_ARN: secret.secretArn,
      SPOTCHECK_CONFIG_JSON: operatorConfig,
      LOG_LEVEL: logLevel.valueAsString,
    };

    const runtimePolicy = new iam.ManagedPolicy(this, 'RuntimePolicy', {
      description: 'spotcheck Lambdas: the one table, bucket, secret and project; EC2 only for tagged runners',
      statements: this.runtimeStatements({
        table,
        bucket,
        secret,
        project,
        runnerRole,
        runnerSg,
        vpcId: vpcId.valueAsString,
        amiId: amiId.valueAsString,
      }),
    });
    const makeFunction = (id: string, handler: string, timeout: Duration, description: string): lambda.Function => {
      const logGroup = new logs.LogGroup(this, `${id}Logs`, {
        retention: logs.RetentionDays.ONE_MONTH,
        removalPolicy: RemovalPolicy.DESTROY,
      });
      const role = new iam.Role(this, `${id}Role`, {
        assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
        managedPolicies: [runtimePolicy],
      });
      role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          sid: 'OwnLogGroup',
          actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          resources: [logGroup.logGroupArn],
        }),
      );
      return new lambda.Function(this, id, {
        description,
        runtime: lambda.Runtime.NODEJS_22_X,
        architecture: lambda.Architecture.ARM_64,
        code: props.lambda.code,
        handler,
        memorySize: 1024,
        timeout,
        role,
        logGroup,
        environment,
      });
    };
    // API Gateway answers 503 after 30 s (HTTP API quotas, "Maximum integration timeout"); GitHub gives up after 10.
    const httpFunction = makeFunction(
      'HttpFunction',
      props.lambda.httpHandler,
      Duration.seconds(29),
      'spotcheck HTTP: webhooks, callbacks, logs, dashboard',
    );
    const scheduledFunction = makeFunction(
      'ScheduledFunction',
      props.lambda.scheduledHandler,
      Duration.seconds(55),
      'spotcheck tick: watchdog, inbox reconcile, janitor',
    );

    new apigwv2.HttpRoute(this, 'DefaultRoute', {
      httpApi: api,
      routeKey: apigwv2.HttpRouteKey.DEFAULT,
      integration: new HttpLambdaIntegration('HttpIntegration', httpFunction, {
        payloadFormatVersion: apigwv2.PayloadFormatVersion.VERSION_2_0,
      }),
    });
    new events.Rule(this, 'Tick', {
      description: 'spotcheck: one watchdog + janitor tick a minute (the shortest EventBridge rate)',
      schedule: events.Schedule.rate(Duration.minutes(1)),
      targets: [new targets.LambdaFunction(scheduledFunction, { retryAttempts: 0 })],
    });

    new CfnOutput(this, 'Url', { value: publicBase, description: 'PUBLIC_URL' });
    new CfnOutput(this, 'GitHubWebhookUrl', { value: `${publicBase}/api/github/webhooks` });
    new CfnOutput(this, 'SecretArn', {
      value: secret.secretArn,
      description: 'put PRIVATE_KEY and WEBHOOK_SECRET here',
    });
    new CfnOutput(this, 'TableName', { value: table.tableName });
    new CfnOutput(this, 'LogBucketName', { value: bucket.bucketName });
    new CfnOutput(this, 'CodeBuildProject', { value: project.projectName });
    new CfnOutput(this, 'RunnerInstanceProfileArn', { value: instanceProfile.instanceProfileArn });
    new CfnOutput(this, 'RunnerSecurityGroupId', { value: runnerSg.attrGroupId });
  }

  /** What the spot and codebuild runners, the janitor, the store, the S3 log store and the cold start call. */
  private runtimeStatements(r: {
    table: dynamodb.Table;
    bucket: s3.Bucket;
    secret: secretsmanager.Secret;
    project: codebuild.Project;
    runnerRole: iam.Role;
    runnerSg: ec2.CfnSecurityGroup;
    vpcId: string;
    amiId: string;
  }): iam.PolicyStatement[] {
    const ec2Arn = (resource: string): string => `arn:${this.partition}:ec2:${this.region}:${this.account}:${resource}`;
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
          `arn:${this.partition}:ec2:${this.region}::image/${r.amiId}`,
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
}

/** Placeholders for CloudFormation list parameters, which cannot be embedded in a string as they are. */
const LIST_MARK = { instanceTypes: '@@spotcheck-instance-types@@', subnets: '@@spotcheck-subnets@@' } as const;

/**
 * The operator config as JSON text. String tokens embed in a string (CDK turns it into Fn::Join); a list parameter
 * does not, so each list is written as `"a","b"` with Fn::Join in place of its placeholder. `Stack.toJsonString`
 * would do it with a custom resource — a Lambda run at deploy time — which this text does not need. The values
 * joined are ids and instance types, which hold no `"` to escape.
 */
function renderOperatorConfig(
  config: unknown,
  lists: Record<keyof typeof LIST_MARK, string[]>,
  extraMembers: string,
): string {
  let text = JSON.stringify(config);
  text = `${text.slice(0, -1)}${extraMembers}}`;
  for (const [key, mark] of Object.entries(LIST_MARK) as [keyof typeof LIST_MARK, string][]) {
    text = text.replace(mark, Fn.join('","', lists[key]));
  }
  return text;
}
