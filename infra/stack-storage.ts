/**
 * The stack's state: the one DynamoDB table, the S3 log bucket, the secret the Lambdas read at cold start, and the
 * KMS key that wraps workflow secrets' data keys.
 */
import { Duration, RemovalPolicy, type Stack } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { STORE_INDEXES } from '../src/store/table-schema.ts';

export function defineTable(stack: Stack): dynamodb.Table {
  const table = new dynamodb.Table(stack, 'Table', {
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
  return table;
}

/** Private, encrypted, TLS only; logs expire with the records (`retentionDays`). */
export function defineLogBucket(stack: Stack, retentionDays: number): s3.Bucket {
  return new s3.Bucket(stack, 'LogBucket', {
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
}

/**
 * Private key, webhook secrets, Gitea token: in Secrets Manager, named to the Lambdas by ARN and read at cold start,
 * never in plain environment variables (which the console and GetFunctionConfiguration show). The keys are the
 * variable names `spotcheck serve` reads; the agent secret is generated here.
 */
export function defineSecrets(stack: Stack): secretsmanager.Secret {
  return new secretsmanager.Secret(stack, 'Secrets', {
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
}

/**
 * Workflow secrets (`spotcheck secrets set`) are sealed under data keys this key generates and unwraps
 * (src/store/data-keys.ts): symmetric, rotated yearly by KMS (old key material keeps decrypting), kept when the
 * stack goes, since without it no stored secret opens again.
 */
export function defineSecretsKey(stack: Stack): kms.Key {
  return new kms.Key(stack, 'SecretsKey', {
    description: 'spotcheck: wraps the data keys of workflow secrets (spotcheck secrets set)',
    keySpec: kms.KeySpec.SYMMETRIC_DEFAULT,
    keyUsage: kms.KeyUsage.ENCRYPT_DECRYPT,
    enableKeyRotation: true,
    removalPolicy: RemovalPolicy.RETAIN,
  });
}
