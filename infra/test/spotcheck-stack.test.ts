/**
 * The CDK stack, synthesized offline with stub Lambda code (the real bundles are built by infra/app.ts; nothing
 * here bundles): every resource the deployment relies on, and the IAM policy statement by statement.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Code } from 'aws-cdk-lib/aws-lambda';
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  type CreateTableCommandInput,
} from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeAll, describe, expect, it } from 'vitest';
import { RUN_TAG, SpotcheckStack } from '../spotcheck-stack.ts';
import { SpotcheckOidcTrust } from '../oidc-trust-example.ts';
import { Stack } from 'aws-cdk-lib';
import { parseConfig } from '../../src/config.ts';
import { readLambdaConfig } from '../../src/app/lambda-app.ts';
import { createDynamoStore } from '../../src/store/dynamodb.ts';

type Json = Record<string, unknown>;
interface Statement {
  readonly Sid?: string;
  readonly Effect: string;
  readonly Action: string | string[];
  readonly Resource: unknown;
  readonly Condition?: Json;
}

function synth(runnerSsm: boolean): Template {
  const app = new App();
  const stack = new SpotcheckStack(app, runnerSsm ? 'WithSsm' : 'Spotcheck', {
    lambda: {
      code: Code.fromInline('export const handler = () => {};'),
      httpHandler: 'lambda.handler',
      scheduledHandler: 'scheduled.handler',
    },
    runnerSsm,
  });
  return Template.fromStack(stack);
}

let template: Template;
let resources: Record<string, { Type: string; Properties?: Json; DeletionPolicy?: string }>;
// Synthesis bundles both Lambdas with esbuild: seconds alone, far more on a machine busy with the rest of the suite.
beforeAll(() => {
  template = synth(false);
  resources = template.toJSON().Resources as typeof resources;
}, 300_000);

const ofType = (type: string): [string, Json][] =>
  Object.entries(resources)
    .filter(([, r]) => r.Type === type)
    .map(([id, r]) => [id, r.Properties ?? {}]);
const idOf = (type: string, prefix: string): string => {
  const found = ofType(type).filter(([id]) => id.startsWith(prefix));
  expect(found).toHaveLength(1);
  return found[0]![0];
};
const actionsOf = (s: Statement): string[] => (Array.isArray(s.Action) ? s.Action : [s.Action]);
const resourcesOf = (s: Statement): unknown[] => (Array.isArray(s.Resource) ? s.Resource : [s.Resource]);

/** Every statement of every identity policy in the template (inline, managed, and roles' inline policies). */
function allStatements(): { owner: string; statement: Statement }[] {
  const out: { owner: string; statement: Statement }[] = [];
  const add = (owner: string, document: unknown): void => {
    for (const statement of (document as { Statement?: Statement[] } | undefined)?.Statement ?? [])
      out.push({ owner, statement });
  };
  for (const [id, p] of ofType('AWS::IAM::Policy')) add(id, p.PolicyDocument);
  for (const [id, p] of ofType('AWS::IAM::ManagedPolicy')) add(id, p.PolicyDocument);
  for (const [id, p] of ofType('AWS::IAM::Role'))
    for (const policy of (p.Policies as { PolicyDocument: unknown }[] | undefined) ?? [])
      add(id, policy.PolicyDocument);
  return out;
}

function runtimeStatements(): Statement[] {
  const [policy] = ofType('AWS::IAM::ManagedPolicy');
  return (policy?.[1].PolicyDocument as { Statement: Statement[] }).Statement;
}
const statement = (sid: string): Statement => {
  const found = runtimeStatements().find((s) => s.Sid === sid);
  expect(found, sid).toBeDefined();
  return found!;
};

/** Resolves the intrinsic functions the stack's environment uses, with made-up parameter and attribute values. */
function resolve(value: unknown, refs: Record<string, unknown>): unknown {
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  if (Array.isArray(value)) return value.map((v) => resolve(v, refs));
  const v = value as Json;
  if ('Ref' in v) {
    const ref = v.Ref as string;
    return ref in refs ? refs[ref] : `${ref}-value`;
  }
  if ('Fn::GetAtt' in v) {
    const attribute = (v['Fn::GetAtt'] as string[]).join('.');
    return attribute in refs ? refs[attribute] : `${attribute}-value`;
  }
  if ('Fn::Join' in v) {
    const [sep, parts] = v['Fn::Join'] as [string, unknown];
    const resolved = resolve(parts, refs) as unknown[];
    return resolved.flatMap((p) => (Array.isArray(p) ? [p.join(sep)] : [String(p)])).join(sep);
  }
  if ('Fn::If' in v) return resolve((v['Fn::If'] as unknown[])[1], refs); // conditions taken as true
  throw new Error(`unexpected intrinsic ${Object.keys(v).join(',')}`);
}

describe('Lambdas', () => {
  it.each([
    ['HttpFunction', 'lambda.handler', 29],
    ['ScheduledFunction', 'scheduled.handler', 55],
  ])('%s: nodejs22.x on arm64, its own log group, its own role', (prefix, handler, timeout) => {
    const id = idOf('AWS::Lambda::Function', prefix);
    const props = resources[id]!.Properties!;
    expect(props).toMatchObject({
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      Handler: handler,
      Timeout: timeout,
    });
    expect(props.LoggingConfig).toEqual({ LogGroup: { Ref: idOf('AWS::Logs::LogGroup', `${prefix}Logs`) } });
    expect(props.Role).toEqual({ 'Fn::GetAtt': [idOf('AWS::IAM::Role', `${prefix}Role`), 'Arn'] });
  });

  it('gets secrets by ARN only: no secret value or secret-named variable in the environment', () => {
    for (const [, props] of ofType('AWS::Lambda::Function')) {
      const variables = (props.Environment as { Variables: Json }).Variables;
      expect(variables.SPOTCHECK_SECRETS_ARN).toEqual({ Ref: idOf('AWS::SecretsManager::Secret', 'Secrets') });
      for (const name of [
        'PRIVATE_KEY',
        'PRIVATE_KEY_PATH',
        'WEBHOOK_SECRET',
        'GITEA_TOKEN',
        'GITEA_WEBHOOK_SECRET',
        'SPOTCHECK_AGENT_SECRET',
      ])
        expect(variables).not.toHaveProperty(name);
      expect(JSON.stringify(variables)).not.toMatch(/PRIVATE KEY|SecretString/);
      expect(variables).toMatchObject({
        APP_ID: { Ref: 'GitHubAppId' },
        SPOTCHECK_TABLE: { Ref: idOf('AWS::DynamoDB::Table', 'Table') },
        SPOTCHECK_LOG_BUCKET: { Ref: idOf('AWS::S3::Bucket', 'LogBucket') },
      });
    }
    template.hasResourceProperties('AWS::SecretsManager::Secret', {
      GenerateSecretString: Match.objectLike({ GenerateStringKey: 'SPOTCHECK_AGENT_SECRET' }),
    });
  });

  it('carries an operator config the server accepts: the table, a spot and a codebuild route of this stack', async () => {
    const id = idOf('AWS::Lambda::Function', 'HttpFunction');
    const variables = (resources[id]!.Properties!.Environment as { Variables: Json }).Variables;
    const text = resolve(variables.SPOTCHECK_CONFIG_JSON, {
      RunnerAmiId: 'ami-0123456789abcdef0',
      Org: 'octo-org',
      RunnerInstanceTypes: ['m7i.large', 'm6i.large'],
      RunnerSubnetIds: ['subnet-0aaaaaaaaaaaaaaaa', 'subnet-0bbbbbbbbbbbbbbbb'],
      'AWS::Region': 'eu-west-1',
      [`${idOf('AWS::ApiGatewayV2::Api', 'Api')}.ApiEndpoint`]:
        'https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com',
      [idOf('AWS::CodeBuild::Project', 'Builds')]: 'Builds-abc',
    }) as string;
    const withIds = text
      .replace(/"[A-Za-z0-9]*SecurityGroup[A-Za-z0-9]*\.GroupId-value"/, '"sg-0cccccccccccccccc"')
      .replace(/"RunnerInstanceProfile[A-Za-z0-9]*\.Arn-value"/, '"arn:aws:iam::123456789012:instance-profile/runner"');
    const config = parseConfig(withIds, 'SPOTCHECK_CONFIG_JSON');
    expect(config.store).toMatchObject({ kind: 'dynamodb', region: 'eu-west-1' });
    // The secrets' key reaches the store as store.kmsKeyId, through the Lambdas' own reading of the config too.
    const keyArn = `${idOf('AWS::KMS::Key', 'SecretsKey')}.Arn-value`;
    expect(config.store.kmsKeyId).toBe(keyArn);
    const lambdaConfig = await readLambdaConfig({
      SPOTCHECK_CONFIG_JSON: withIds,
      SPOTCHECK_TABLE: 'table',
      SPOTCHECK_LOG_BUCKET: 'bucket',
      AWS_REGION: 'eu-west-1',
    });
    expect(lambdaConfig.store).toMatchObject({ kind: 'dynamodb', table: 'table', kmsKeyId: keyArn });
    expect(config.org).toBe('octo-org');
    // No PublicUrl parameter: the HTTP API's own endpoint, which the server must accept as an absolute https URL.
    expect(config.publicUrl).toMatch(/^https:\/\/[^/]+\.execute-api\.eu-west-1\.amazonaws\.com$/);
    expect([...config.routes.keys()].sort()).toEqual(['codebuild', 'spot']);
    expect(config.routes.get('spot')?.settings).toMatchObject({
      subnets: ['subnet-0aaaaaaaaaaaaaaaa', 'subnet-0bbbbbbbbbbbbbbbb'],
      instanceTypes: ['m7i.large', 'm6i.large'],
      securityGroups: ['sg-0cccccccccccccccc'],
    });
    expect(config.routes.get('codebuild')?.settings).toEqual({ project: 'Builds-abc' });
  });
});

describe('HTTP API', () => {
  it('sends every path ($default) to the HTTP Lambda with payload format 2.0', () => {
    template.resourceCountIs('AWS::ApiGatewayV2::Api', 1);
    template.hasResourceProperties('AWS::ApiGatewayV2::Api', { ProtocolType: 'HTTP' });
    const routes = ofType('AWS::ApiGatewayV2::Route');
    expect(routes.map(([, r]) => r.RouteKey)).toEqual(['$default']);
    const integrationId = idOf('AWS::ApiGatewayV2::Integration', 'DefaultRouteHttpIntegration');
    expect(routes[0]![1].Target).toEqual({ 'Fn::Join': ['', ['integrations/', { Ref: integrationId }]] });
    expect(resources[integrationId]!.Properties).toMatchObject({
      IntegrationType: 'AWS_PROXY',
      PayloadFormatVersion: '2.0',
      IntegrationUri: { 'Fn::GetAtt': [idOf('AWS::Lambda::Function', 'HttpFunction'), 'Arn'] },
    });
  });
});

describe('DynamoDB table', () => {
  it('is on demand, with TTL on `ttl` and point-in-time recovery', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
    });
  });

  it('has exactly the keys and indexes the store creates for itself (ensureTable)', async () => {
    let created: CreateTableCommandInput | undefined;
    const client = new DynamoDBClient({ region: 'eu-west-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
    mockClient(client)
      .on(CreateTableCommand)
      .callsFake((input: CreateTableCommandInput) => {
        created = input;
        return {};
      })
      .on(DescribeTableCommand)
      .callsFake(() => {
        if (created === undefined) throw Object.assign(new Error('no table'), { name: 'ResourceNotFoundException' });
        const indexes = (created.GlobalSecondaryIndexes ?? []).map((i) => ({ ...i, IndexStatus: 'ACTIVE' as const }));
        return { Table: { TableStatus: 'ACTIVE', GlobalSecondaryIndexes: indexes } };
      });
    await createDynamoStore({ client, table: 'spotcheck' }).ensureTable();
    expect(created).toBeDefined();
    const props = ofType('AWS::DynamoDB::Table')[0]![1];
    const sortByName = <T>(list: T[], key: (t: T) => string): T[] =>
      [...list].sort((a, b) => key(a).localeCompare(key(b)));
    expect(props.KeySchema).toEqual(created!.KeySchema);
    expect(sortByName(props.AttributeDefinitions as { AttributeName: string }[], (a) => a.AttributeName)).toEqual(
      sortByName(created!.AttributeDefinitions as { AttributeName: string }[], (a) => a.AttributeName),
    );
    const shape = (i: { IndexName?: string | undefined; KeySchema?: unknown; Projection?: unknown }) => ({
      IndexName: i.IndexName,
      KeySchema: i.KeySchema,
      Projection: i.Projection,
    });
    expect(
      sortByName((props.GlobalSecondaryIndexes as { IndexName: string }[]).map(shape), (i) => i.IndexName ?? ''),
    ).toEqual(sortByName((created!.GlobalSecondaryIndexes ?? []).map(shape), (i) => i.IndexName ?? ''));
    expect(created!.GlobalSecondaryIndexes).toHaveLength(6);
  });
});

describe('S3 log bucket', () => {
  it('blocks public access, encrypts, expires logs after 30 days', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      },
      LifecycleConfiguration: {
        Rules: Match.arrayWith([Match.objectLike({ ExpirationInDays: 30, Status: 'Enabled' })]),
      },
    });
  });

  it('refuses requests without TLS', () => {
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Action: 's3:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });
});

describe('secrets key', () => {
  it('is one symmetric KMS key with yearly rotation, kept when the stack goes', () => {
    const keys = ofType('AWS::KMS::Key').filter(([id]) => id.startsWith('SecretsKey'));
    expect(keys).toHaveLength(1);
    expect(keys[0]![1]).toMatchObject({ EnableKeyRotation: true, KeyUsage: 'ENCRYPT_DECRYPT' });
    expect(keys[0]![1].KeySpec ?? 'SYMMETRIC_DEFAULT').toBe('SYMMETRIC_DEFAULT');
    expect(resources[keys[0]![0]]).toMatchObject({ DeletionPolicy: 'Retain' });
  });

  it('the Lambdas may only generate and decrypt data keys under it, with spotcheck’s encryption context', () => {
    const keyArn = { 'Fn::GetAtt': [idOf('AWS::KMS::Key', 'SecretsKey'), 'Arn'] };
    // The ID-token signing key has its own statement (SignIdTokens, tested with the OIDC issuer).
    const kmsStatements = allStatements().filter(
      ({ statement: s }) => actionsOf(s).some((a) => a.startsWith('kms:')) && s.Sid !== 'SignIdTokens',
    );
    expect(kmsStatements.map(({ statement: s }) => s)).toEqual([
      {
        Sid: 'SecretsDataKeys',
        Effect: 'Allow',
        Action: ['kms:GenerateDataKey', 'kms:Decrypt'],
        Resource: keyArn,
        Condition: { StringEquals: { 'kms:EncryptionContext:purpose': 'spotcheck-secret' } },
      },
    ]);
    // The runners' role gets nothing of it: values reach agents through the bootstrap exchange, never from KMS.
    expect(kmsStatements.map(({ owner }) => owner)).toEqual([idOf('AWS::IAM::ManagedPolicy', 'RuntimePolicy')]);
  });

  it('the condition matches the context the store sends', async () => {
    const { kmsDataKeys } = await import('../../src/store/data-keys.ts');
    const sent: unknown[] = [];
    const client = {
      send: (command: { input: { EncryptionContext?: Record<string, string> } }) => {
        sent.push(command.input.EncryptionContext);
        return Promise.resolve({ Plaintext: new Uint8Array(32), CiphertextBlob: new Uint8Array(8) });
      },
    };
    const keys = kmsDataKeys(client as never, 'key');
    await keys.generate('SECRETS#repo#github#github.com#octo#app\nTOKEN');
    await keys.unwrap(Buffer.alloc(8), 'SECRETS#repo#github#github.com#octo#app\nTOKEN');
    expect(sent).toHaveLength(2);
    for (const context of sent) expect(context).toMatchObject({ purpose: 'spotcheck-secret' });
  });
});

describe('schedule and CodeBuild', () => {
  it('ticks the scheduled Lambda every minute', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 minute)',
      State: 'ENABLED',
      Targets: [
        Match.objectLike({ Arn: { 'Fn::GetAtt': [idOf('AWS::Lambda::Function', 'ScheduledFunction'), 'Arn'] } }),
      ],
    });
  });

  it('has one CodeBuild project with no source (the buildspec comes with each build)', () => {
    template.resourceCountIs('AWS::CodeBuild::Project', 1);
    template.hasResourceProperties('AWS::CodeBuild::Project', {
      Source: Match.objectLike({ Type: 'NO_SOURCE' }),
      Artifacts: { Type: 'NO_ARTIFACTS' },
      Environment: Match.objectLike({ Image: { Ref: 'CodeBuildImage' }, PrivilegedMode: false }),
    });
  });
});

describe('runners', () => {
  it('the runner role has no permissions and is the instance profile role', () => {
    const roleId = idOf('AWS::IAM::Role', 'RunnerRole');
    const role = resources[roleId]!.Properties!;
    expect(role.AssumeRolePolicyDocument).toMatchObject({
      Statement: [{ Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' } }],
    });
    expect(role.ManagedPolicyArns ?? []).toEqual([]);
    expect(role.Policies).toBeUndefined();
    const attached = [...ofType('AWS::IAM::Policy'), ...ofType('AWS::IAM::ManagedPolicy')].filter(([, p]) =>
      JSON.stringify(p.Roles ?? []).includes(roleId),
    );
    expect(attached).toEqual([]);
    template.hasResourceProperties('AWS::IAM::InstanceProfile', { Roles: [{ Ref: roleId }] });
  });

  it('Session Manager on the runner role only when asked for', () => {
    const withSsm = synth(true).toJSON().Resources as typeof resources;
    const role = Object.entries(withSsm).find(([id]) => id.startsWith('RunnerRole'))![1].Properties!;
    expect(JSON.stringify(role.ManagedPolicyArns)).toContain('AmazonSSMManagedInstanceCore');
  });

  it('the security group allows no ingress', () => {
    const groups = ofType('AWS::EC2::SecurityGroup');
    expect(groups).toHaveLength(1);
    expect(groups[0]![1].SecurityGroupIngress).toBeUndefined();
    expect(groups[0]![1].VpcId).toEqual({ Ref: 'RunnerVpcId' });
    template.resourceCountIs('AWS::EC2::SecurityGroupIngress', 0);
  });
});

describe('IAM', () => {
  it('no action has a wildcard; only ec2:DescribeInstances has Resource *', () => {
    const statements = allStatements();
    expect(statements.length).toBeGreaterThan(10);
    for (const { owner, statement: s } of statements) {
      if (s.Effect !== 'Allow') continue;
      for (const action of actionsOf(s)) expect(action, owner).not.toContain('*');
      if (resourcesOf(s).includes('*')) expect(actionsOf(s), owner).toEqual(['ec2:DescribeInstances']);
    }
  });

  it('each Lambda role has the shared runtime policy and writes only to its own log group', () => {
    const policyId = idOf('AWS::IAM::ManagedPolicy', 'RuntimePolicy');
    for (const prefix of ['HttpFunction', 'ScheduledFunction']) {
      const roleId = idOf('AWS::IAM::Role', `${prefix}Role`);
      expect(resources[roleId]!.Properties!.ManagedPolicyArns).toEqual([{ Ref: policyId }]);
      const inline = ofType('AWS::IAM::Policy').filter(([, p]) => JSON.stringify(p.Roles).includes(roleId));
      expect(inline).toHaveLength(1);
      const statements = (inline[0]![1].PolicyDocument as { Statement: Statement[] }).Statement;
      expect(statements).toEqual([
        expect.objectContaining({
          Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          Resource: { 'Fn::GetAtt': [idOf('AWS::Logs::LogGroup', `${prefix}Logs`), 'Arn'] },
        }),
      ]);
    }
  });

  it('RunInstances creates only instances and volumes carrying the run tag', () => {
    const s = statement('LaunchTaggedRunners');
    expect(actionsOf(s)).toEqual(['ec2:RunInstances']);
    expect(JSON.stringify(s.Resource)).toMatch(/instance\/\*.*volume\/\*/);
    expect(s.Condition).toEqual({ Null: { [`aws:RequestTag/${RUN_TAG}`]: 'false' } });
  });

  it('RunInstances uses only the runner AMI, the runner security group and the runner VPC', () => {
    const fixed = JSON.stringify(statement('LaunchWithRunnerResources').Resource);
    expect(fixed).toContain('image/');
    expect(fixed).toContain('{"Ref":"RunnerAmiId"}');
    expect(fixed).toMatch(/security-group\/".*RunnerSecurityGroup/);
    expect(fixed).toContain('spot-instances-request/*');
    const vpc = statement('LaunchInRunnerVpc');
    expect(JSON.stringify(vpc.Resource)).toMatch(/subnet\/\*.*network-interface\/\*/);
    expect(JSON.stringify(vpc.Condition)).toMatch(/"ArnEquals":\{"ec2:Vpc":.*vpc\/".*"Ref":"RunnerVpcId"/);
    // Every RunInstances statement is one of these three: no unscoped launch.
    const launches = runtimeStatements().filter((st) => actionsOf(st).includes('ec2:RunInstances'));
    expect(launches.map((st) => st.Sid).sort()).toEqual([
      'LaunchInRunnerVpc',
      'LaunchTaggedRunners',
      'LaunchWithRunnerResources',
    ]);
  });

  it('CreateTags only as part of RunInstances; TerminateInstances only on tagged instances', () => {
    const tag = statement('TagOnLaunch');
    expect(actionsOf(tag)).toEqual(['ec2:CreateTags']);
    expect(tag.Condition).toEqual({ StringEquals: { 'ec2:CreateAction': 'RunInstances' } });
    const terminate = statement('TerminateRunners');
    expect(actionsOf(terminate)).toEqual(['ec2:TerminateInstances']);
    expect(JSON.stringify(terminate.Resource)).toContain(':instance/*');
    expect(terminate.Condition).toEqual({ Null: { [`aws:ResourceTag/${RUN_TAG}`]: 'false' } });
  });

  it('PassRole only for the runner role, only to EC2', () => {
    const pass = runtimeStatements().filter((s) => actionsOf(s).some((a) => a.startsWith('iam:')));
    expect(pass).toEqual([
      expect.objectContaining({
        Action: 'iam:PassRole',
        Resource: { 'Fn::GetAtt': [idOf('AWS::IAM::Role', 'RunnerRole'), 'Arn'] },
        Condition: { StringEquals: { 'iam:PassedToService': 'ec2.amazonaws.com' } },
      }),
    ]);
  });

  it('CodeBuild, DynamoDB, S3, Secrets Manager and KMS each on their one resource', () => {
    const project = idOf('AWS::CodeBuild::Project', 'Builds');
    expect(statement('Builds').Resource).toEqual({ 'Fn::GetAtt': [project, 'Arn'] });
    const table = idOf('AWS::DynamoDB::Table', 'Table');
    expect(statement('Store').Resource).toEqual([
      { 'Fn::GetAtt': [table, 'Arn'] },
      { 'Fn::Join': ['', [{ 'Fn::GetAtt': [table, 'Arn'] }, '/index/*']] },
    ]);
    const bucket = idOf('AWS::S3::Bucket', 'LogBucket');
    expect(statement('LogListing').Resource).toEqual({ 'Fn::GetAtt': [bucket, 'Arn'] });
    expect(statement('LogObjects').Resource).toEqual({ 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucket, 'Arn'] }, '/*']] });
    expect(statement('Secrets')).toMatchObject({
      Action: 'secretsmanager:GetSecretValue',
      Resource: { Ref: idOf('AWS::SecretsManager::Secret', 'Secrets') },
    });
    // Secrets read through only under the prefixes the operator config names.
    const arn = (service: string, resource: string) => ({
      'Fn::Join': [
        '',
        [
          'arn:',
          { Ref: 'AWS::Partition' },
          `:${service}:`,
          { Ref: 'AWS::Region' },
          ':',
          { Ref: 'AWS::AccountId' },
          resource,
        ],
      ],
    });
    expect(statement('ReadThroughSecrets')).toMatchObject({
      Action: 'secretsmanager:GetSecretValue',
      Resource: arn('secretsmanager', ':secret:spotcheck/*'),
    });
    expect(statement('ReadThroughParameters')).toMatchObject({
      Action: 'ssm:GetParameter',
      Resource: arn('ssm', ':parameter/spotcheck/*'),
    });
    expect(JSON.stringify(resources)).toContain(
      '\\"secrets\\":{\\"awsSecretsManager\\":{\\"prefix\\":\\"spotcheck/\\"',
    );
    expect(statement('SecretsDataKeys').Resource).toEqual({
      'Fn::GetAtt': [idOf('AWS::KMS::Key', 'SecretsKey'), 'Arn'],
    });
  });

  // The code decides what the policy must allow: every AWS command the store and the runners send is granted.
  it.each([
    ['src/store/', 'dynamodb', ['CreateTable', 'UpdateTimeToLive']],
    ['runners/spot.ts', 'ec2', []],
    ['runners/janitor.ts', 'ec2', []],
    ['runners/codebuild.ts', 'codebuild', []],
    ['src/server/s3-log-store.ts', 's3', []],
    ['src/server/kms-id-token-signer.ts', 'kms', []],
    ['src/server/external-secrets.ts', 'secretsmanager', []],
  ])('%s: every command it sends is allowed', (file, service, notNeeded) => {
    // A folder stands for every module in it (the store's operations live in one module per aggregate).
    const files = file.endsWith('/')
      ? readdirSync(new URL(`../../${file}`, import.meta.url))
          .filter((f) => f.endsWith('.ts'))
          .map((f) => `${file}${f}`)
      : [file];
    const source = files.map((f) => readFileSync(new URL(`../../${f}`, import.meta.url), 'utf8')).join('\n');
    const commands = [...new Set([...source.matchAll(/new (\w+)Command\(/g)].map((m) => m[1]!))];
    // lib-dynamodb's document commands are the item operations' short names.
    const documentNames: Record<string, string> = {
      Get: 'GetItem',
      Put: 'PutItem',
      Update: 'UpdateItem',
      Delete: 'DeleteItem',
      BatchGet: 'BatchGetItem',
      BatchWrite: 'BatchWriteItem',
      // S3 authorizes HeadObject by s3:GetObject and ListObjectsV2 by s3:ListBucket (Service Authorization Reference).
      HeadObject: 'GetObject',
      ListObjectsV2: 'ListBucket',
    };
    const granted = new Set(runtimeStatements().flatMap(actionsOf));
    // The store's data keys come from KMS (src/store/data-keys.ts), beside its DynamoDB calls.
    const KMS_COMMANDS = ['GenerateDataKey', 'Decrypt'];
    const serviceOf = (command: string): string =>
      /Build/.test(command)
        ? 'codebuild'
        : KMS_COMMANDS.includes(command)
          ? 'kms'
          : /Parameter/.test(command)
            ? 'ssm'
            : service;
    const needed = commands
      .filter((c) => !notNeeded.includes(c))
      .map((c) => `${serviceOf(c)}:${documentNames[c] ?? c}`);
    expect(needed.length).toBeGreaterThan(0);
    for (const action of needed) expect(granted, action).toContain(action);
  });
});

describe('OpenID Connect', () => {
  it('signs ID tokens with an RSA_2048 SIGN_VERIFY KMS key, kept with the stack gone; the Lambdas may Sign and GetPublicKey on it only', () => {
    const keyId = idOf('AWS::KMS::Key', 'IdTokenKey');
    expect(resources[keyId]).toMatchObject({
      Properties: { KeySpec: 'RSA_2048', KeyUsage: 'SIGN_VERIFY' },
      DeletionPolicy: 'Retain',
    });
    expect(statement('SignIdTokens')).toMatchObject({
      Action: ['kms:Sign', 'kms:GetPublicKey'],
      Resource: { 'Fn::GetAtt': [keyId, 'Arn'] },
    });
    expect(JSON.stringify(resources)).toContain('\\"oidc\\":{\\"kmsKeyId\\"');
  });

  it('the example target-account trust lets one repository and branch assume the role, for sts.amazonaws.com', () => {
    const stack = new Stack(new App(), 'Target');
    new SpotcheckOidcTrust(stack, 'Trust', {
      issuerUrl: 'https://ci.example.com/',
      repository: 'octo/app',
      branch: 'main',
    });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::IAM::OIDCProvider', {
      Url: 'https://ci.example.com/',
      ClientIdList: ['sts.amazonaws.com'],
    });
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [
          Match.objectLike({
            Action: 'sts:AssumeRoleWithWebIdentity',
            Condition: {
              StringEquals: {
                'ci.example.com:aud': 'sts.amazonaws.com',
                'ci.example.com:sub': 'repo:octo/app:ref:refs/heads/main',
              },
            },
          }),
        ],
      },
    });
    expect(
      () => new SpotcheckOidcTrust(stack, 'Http', { issuerUrl: 'http://x', repository: 'a/b', branch: 'main' }),
    ).toThrow('https');
  });
});
