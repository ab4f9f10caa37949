/**
 * What the Lambdas are told: the operator config (the table, and one route per runner this stack made) and the
 * environment variables `spotcheck serve` reads. Secrets are not here: the Lambdas get the secret's ARN.
 */
import { Fn, type Stack } from 'aws-cdk-lib';
import type { StackParameters } from './stack-parameters.ts';

/**
 * Where the Lambdas read through secrets the spotcheck store does not hold (the operator config's `secrets:`,
 * src/server/external-secrets.ts): Secrets Manager names and SSM parameters under these prefixes, and nothing else
 * (stack-policy.ts grants exactly these).
 */
export const READ_THROUGH_PREFIXES = { secretsManager: 'spotcheck/', ssm: '/spotcheck/' } as const;

/** The labels of the two routes this stack writes into the operator config. */
export const STACK_ROUTES = { spot: 'spot', codebuild: 'codebuild' } as const;

/** Placeholders for CloudFormation list parameters, which cannot be embedded in a string as they are. */
const LIST_MARK = { instanceTypes: '@@spotcheck-instance-types@@', subnets: '@@spotcheck-subnets@@' } as const;

/** The stack's resources the config and environment name. */
export interface ConfiguredResources {
  readonly tableName: string;
  readonly bucketName: string;
  readonly secretArn: string;
  /** The KMS key wrapping workflow secrets' data keys: the config's `store.kmsKeyId`. */
  readonly secretsKeyArn: string;
  readonly projectName: string;
  readonly securityGroupId: string;
  readonly instanceProfileArn: string;
  /** PUBLIC_URL: the parameter, or the HTTP API's URL when it is empty. */
  readonly publicBase: string;
  /** The logical id of the condition "the Org parameter is not empty". */
  readonly orgGivenCondition: string;
  /** The KMS key ID tokens are signed with (stack-oidc.ts). */
  readonly idTokenKeyArn: string;
}

/** The Lambdas' environment, SPOTCHECK_CONFIG_JSON included. */
export function lambdaEnvironment(
  stack: Stack,
  params: StackParameters,
  r: ConfiguredResources,
  retentionDays: number,
): Record<string, string> {
  // The operator config the Lambdas load (JSON is YAML): the table, and one route per runner this stack made.
  // Routes of the operator's own go beside these in a config of theirs; `local` routes cannot run on Lambda.
  const operatorConfig = renderOperatorConfig(
    {
      store: { kind: 'dynamodb', table: r.tableName, region: stack.region, kmsKeyId: r.secretsKeyArn },
      publicUrl: r.publicBase,
      oidc: { kmsKeyId: r.idTokenKeyArn, region: stack.region },
      secrets: {
        awsSecretsManager: { prefix: READ_THROUGH_PREFIXES.secretsManager, region: stack.region },
        ssm: { prefix: READ_THROUGH_PREFIXES.ssm, region: stack.region },
      },
      defaultRoutes: false,
      routes: {
        [STACK_ROUTES.spot]: {
          runner: 'spot',
          ami: params.amiId.valueAsString,
          instanceTypes: [LIST_MARK.instanceTypes],
          subnets: [LIST_MARK.subnets],
          securityGroups: [r.securityGroupId],
          instanceProfile: r.instanceProfileArn,
          onDemandFallback: true,
          maxLifetimeMinutes: 360,
        },
        [STACK_ROUTES.codebuild]: { runner: 'codebuild', project: r.projectName },
      },
      limits: { retentionDays },
    },
    { instanceTypes: params.instanceTypes.valueAsList, subnets: params.subnetIds.valueAsList },
    // `org` only when given: the config loader refuses an empty one.
    Fn.conditionIf(r.orgGivenCondition, Fn.join('', [',"org":"', params.org.valueAsString, '"']), '').toString(),
  );
  return {
    APP_ID: params.appId.valueAsString,
    GHE_HOST: params.gheHost.valueAsString,
    APP_SLUG: params.appSlug.valueAsString,
    GITEA_URL: params.giteaUrl.valueAsString,
    PUBLIC_URL: r.publicBase,
    SPOTCHECK_TABLE: r.tableName,
    SPOTCHECK_LOG_BUCKET: r.bucketName,
    SPOTCHECK_SECRETS_ARN: r.secretArn,
    SPOTCHECK_CONFIG_JSON: operatorConfig,
    LOG_LEVEL: params.logLevel.valueAsString,
  };
}

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
