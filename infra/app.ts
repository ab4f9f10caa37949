/**
 * The CDK app (`npm run synth`, `npm run cdk -- deploy` at the repository root: the CDK CLI lives in infra/node_modules,
 * installed on first use by scripts/install-infra.mjs; cdk.json runs this file through tsx).
 * Offline by construction: the Lambda code is bundled here with the installed esbuild before synthesis, the stack
 * is environment-agnostic (no account, region or VPC look-ups), so synth needs no credentials and no network.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { App } from 'aws-cdk-lib';
import { Code } from 'aws-cdk-lib/aws-lambda';
import { build } from 'esbuild';
import { SpotcheckStack } from './spotcheck-stack.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The two bundles and their handlers, as scripts/bundle-lambda.mjs writes them to dist/lambda. */
export const LAMBDA_BUNDLES = {
  dir: join(root, 'dist', 'lambda'),
  http: 'lambda',
  scheduled: 'scheduled',
} as const;

/**
 * Runs the project's bundle script (one esbuild configuration for the deployment and the benchmark); while that
 * script does not exist, bundles the two entry files with the same essentials itself.
 */
export async function bundleLambdas(): Promise<void> {
  const script = join(root, 'scripts', 'bundle-lambda.mjs');
  if (existsSync(script)) {
    // stdout stays the CDK CLI's; the script's chatter goes to stderr.
    execFileSync(process.execPath, [script], { cwd: root, stdio: ['ignore', 2, 2] });
    return;
  }
  const entries = [LAMBDA_BUNDLES.http, LAMBDA_BUNDLES.scheduled].map((name) => join(root, 'src', 'app', `${name}.ts`));
  const missing = entries.filter((entry) => !existsSync(entry));
  if (missing.length > 0) throw new Error(`cannot bundle the Lambdas: missing ${missing.join(', ')}`);
  await build({
    entryPoints: entries,
    outdir: LAMBDA_BUNDLES.dir,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    platform: 'node',
    target: 'node22',
    format: 'esm',
    minify: true,
    logLevel: 'warning',
    // Bundled CommonJS dependencies still call require(); an ES module has none unless it makes one.
    banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
  });
}

await bundleLambdas();
const app = new App();
const stackName: unknown = app.node.tryGetContext('spotcheck:stackName');
new SpotcheckStack(app, typeof stackName === 'string' ? stackName : 'Spotcheck', {
  description: 'spotcheck: a CI bot for GitHub and Gitea on AWS serverless',
  lambda: {
    code: Code.fromAsset(LAMBDA_BUNDLES.dir),
    httpHandler: `${LAMBDA_BUNDLES.http}.handler`,
    scheduledHandler: `${LAMBDA_BUNDLES.scheduled}.handler`,
  },
  // `-c spotcheck:runnerSsm=true` on the command line gives the string, cdk.json the boolean.
  runnerSsm: String(app.node.tryGetContext('spotcheck:runnerSsm')) === 'true',
});
app.synth();
