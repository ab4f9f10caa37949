/**
 * The app as the two Lambdas build it, once per container: the same composition as `spotcheck serve`
 * (createSpotcheckApp), configured from the environment the stack sets, with DynamoDB as the store and S3 for logs.
 * No embedded store and no local runner: a Lambda has neither a disk that outlives it nor a host to run steps on.
 *
 * Environment: the variables `serve` reads (APP_ID, GHE_HOST, APP_SLUG, GITEA_URL, PUBLIC_URL, LOG_LEVEL …; empty
 * means unset, as CloudFormation parameters cannot be absent), plus
 * - SPOTCHECK_TABLE (the DynamoDB table), SPOTCHECK_LOG_BUCKET (the S3 bucket), AWS_REGION (Lambda sets it);
 * - SPOTCHECK_SECRETS_ARN: a Secrets Manager secret whose JSON keys are variable names (PRIVATE_KEY,
 *   WEBHOOK_SECRET, GITEA_TOKEN, GITEA_WEBHOOK_SECRET, SPOTCHECK_AGENT_SECRET), read at cold start so no secret sits
 *   in the function's configuration;
 * - SPOTCHECK_CONFIG_JSON (the operator config as text; JSON is YAML) or SPOTCHECK_CONFIG (a path);
 * - SPOTCHECK_DYNAMODB_ENDPOINT, SPOTCHECK_S3_ENDPOINT: for a local stand-in (tests); unset on AWS.
 */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { existsSync } from 'node:fs';
import { S3Client } from '@aws-sdk/client-s3';
import pino, { type Logger } from 'pino';
import type { ProbotOctokit } from 'probot';
import { createSpotcheckApp, type SpotcheckApp } from './app.ts';
import { readServerSettings } from './settings.ts';
import { defaultConfig, loadConfig, parseConfig, type OperatorConfig } from '../config.ts';
import { ConfigError } from '../errors.ts';
import { createS3LogStore } from '../server/s3-log-store.ts';
import type { RunRecord } from '../core/types.ts';

type Env = Readonly<Record<string, string | undefined>>;

/**
 * The plan worker in the Lambda bundle: scripts/bundle-lambda.mjs writes it beside the handlers. On Lambda too a
 * workflow file is parsed off the handler's thread: a file that took seconds in it would hold the invocation's
 * answer past GitHub's 10 s, and the time budget could not end it. From the sources (tests) the file does not exist,
 * and the pool's default entry (tsx) is used.
 */
const BUNDLED_PLAN_WORKER = new URL('./plan-worker.mjs', import.meta.url);

/** Reads a secret's string by ARN. The default uses the AWS SDK the nodejs22.x runtime ships. */
export type SecretReader = (arn: string) => Promise<string>;

export interface LambdaAppOptions {
  readonly env: Env;
  readonly readSecret?: SecretReader;
  readonly s3?: S3Client;
  readonly logger?: Logger;
  readonly now?: () => number;
  /** Tests: Probot's Octokit with short retry pauses; where checkouts come from. */
  readonly Octokit?: typeof ProbotOctokit;
  readonly cloneUrlFor?: (run: RunRecord) => Promise<string>;
}

export interface LambdaApp extends SpotcheckApp {
  readonly logger: Logger;
}

/** Variables read from the environment, then from the secret (the secret wins: it is where secrets belong). */
export async function readLambdaEnv(env: Env, readSecret: SecretReader): Promise<Record<string, string>> {
  const merged: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) if (value !== undefined && value !== '') merged[name] = value;
  const arn = merged.SPOTCHECK_SECRETS_ARN;
  if (arn === undefined) return merged;
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readSecret(arn));
  } catch (error) {
    throw new ConfigError('SPOTCHECK_SECRETS_ARN: the secret cannot be read or is not a JSON object', {
      source: 'environment',
      cause: error,
    });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new ConfigError('SPOTCHECK_SECRETS_ARN: the secret is not a JSON object', { source: 'environment' });
  for (const [name, value] of Object.entries(parsed))
    if (typeof value === 'string' && value !== '') merged[name] = value;
  return merged;
}

/** The operator config for Lambda: DynamoDB forced, and no route to the local runner. */
export async function readLambdaConfig(env: Readonly<Record<string, string>>): Promise<OperatorConfig> {
  const base = defaultConfig({ dataDir: '/tmp/spotcheck', ...(env.PUBLIC_URL ? { publicUrl: env.PUBLIC_URL } : {}) });
  const loaded = env.SPOTCHECK_CONFIG_JSON
    ? parseConfig(env.SPOTCHECK_CONFIG_JSON, 'SPOTCHECK_CONFIG_JSON', base)
    : await loadConfig(env.SPOTCHECK_CONFIG, base);
  const problems: string[] = [];
  const table = env.SPOTCHECK_TABLE ?? (loaded.store.kind === 'dynamodb' ? loaded.store.table : undefined);
  if (table === undefined) problems.push('SPOTCHECK_TABLE is required (the DynamoDB table)');
  if (!env.SPOTCHECK_LOG_BUCKET) problems.push('SPOTCHECK_LOG_BUCKET is required (the S3 bucket for logs)');
  const local = [...loaded.routes].filter(([, route]) => route.runner === 'local').map(([label]) => label);
  if (local.length > 0)
    problems.push(
      `routes ${local.join(', ')} use the local runner, which cannot run on Lambda (route them to spot, codebuild or ` +
        'skip; set defaultRoutes: false to drop the built-in local labels)',
    );
  if (problems.length > 0 || table === undefined)
    throw new ConfigError(`cannot start on Lambda:\n  - ${problems.join('\n  - ')}`, { source: 'environment' });
  const region = env.AWS_REGION ?? (loaded.store.kind === 'dynamodb' ? loaded.store.region : undefined);
  const endpoint = env.SPOTCHECK_DYNAMODB_ENDPOINT;
  return {
    ...loaded,
    ...(env.PUBLIC_URL ? { publicUrl: env.PUBLIC_URL } : {}),
    store: {
      kind: 'dynamodb',
      dir: '/tmp/spotcheck',
      table,
      ...(region ? { region } : {}),
      ...(endpoint ? { endpoint } : {}),
      // The key that wraps workflow secrets (the stack passes its own in the config): without it none open.
      ...(loaded.store.kmsKeyId ? { kmsKeyId: loaded.store.kmsKeyId } : {}),
    },
  };
}

export async function createLambdaApp(options: LambdaAppOptions): Promise<LambdaApp> {
  const env = await readLambdaEnv(options.env, options.readSecret ?? readSecretFromSecretsManager);
  const logger = options.logger ?? pino({ level: env.LOG_LEVEL ?? 'info', base: { app: 'spotcheck' } });
  const config = await readLambdaConfig(env);
  const settings = await readServerSettings(env, undefined, { giteaPoll: config.gitea?.poll !== undefined });
  const s3 =
    options.s3 ??
    new S3Client({
      ...(env.AWS_REGION ? { region: env.AWS_REGION } : {}),
      ...(env.SPOTCHECK_S3_ENDPOINT ? { endpoint: env.SPOTCHECK_S3_ENDPOINT, forcePathStyle: true } : {}),
    });
  const app = await createSpotcheckApp({
    settings,
    config,
    logger,
    localRunner: false,
    ...(existsSync(BUNDLED_PLAN_WORKER) ? { planWorkerEntry: BUNDLED_PLAN_WORKER } : {}),
    logs: createS3LogStore({ client: s3, bucket: env.SPOTCHECK_LOG_BUCKET! }),
    ...(options.now ? { now: options.now } : {}),
    ...(options.Octokit ? { Octokit: options.Octokit } : {}),
    ...(options.cloneUrlFor ? { cloneUrlFor: options.cloneUrlFor } : {}),
  });
  return {
    ...app,
    logger,
    async close() {
      await app.close();
      if (options.s3 === undefined) s3.destroy();
    },
  };
}

/**
 * GetSecretValue through `@aws-sdk/client-secrets-manager` (a dependency since secrets are read through from AWS,
 * bundled with the rest of the SDK: the bundle imports with no `node_modules`).
 */
const readSecretFromSecretsManager: SecretReader = async (arn) => {
  const client = new SecretsManagerClient({});
  const answer = await client.send(new GetSecretValueCommand({ SecretId: arn }));
  if (answer.SecretString === undefined) throw new Error('the secret has no string value');
  return answer.SecretString;
};

/** One app per container: the promise is kept, and forgotten when it failed so the next invocation tries again. */
export function perContainer<T>(make: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | undefined;
  return () => {
    pending ??= make().catch((error: unknown) => {
      pending = undefined;
      throw error;
    });
    return pending;
  };
}

/** Waits for the app's background work, at most `ms`. */
export async function settle(app: Pick<LambdaApp, 'idle' | 'logger'>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const budget = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  const settled = await Promise.race([app.idle().then(() => true as const), budget]);
  clearTimeout(timer);
  if (!settled) app.logger.warn('background work outlives the invocation; the scheduled tick takes it up');
  return settled;
}

/** The container's app, from the function's environment. */
export function containerApp(options: Omit<LambdaAppOptions, 'env'> = {}): () => Promise<LambdaApp> {
  return perContainer(() => createLambdaApp({ ...options, env: process.env }));
}
