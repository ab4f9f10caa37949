#!/usr/bin/env node
/**
 * Bundles the two Lambda handlers (src/app/lambda.ts → dist/lambda/lambda.mjs, scheduled.ts →
 * dist/lambda/scheduled.mjs) and their plan worker (src/intake/plan-worker.ts → dist/lambda/plan-worker.mjs) with
 * esbuild: ESM for nodejs22.x, minified, no source maps.
 *
 * The AWS SDK v3 is bundled, not left to the runtime's copy. Measured both ways (bench/lambda.bench.ts, on the
 * build machine, node start-up subtracted): with `@aws-sdk/*` and `@smithy/*` external, lambda.mjs is 0.85 MB
 * (0.26 MB gzip) instead of 2.7 MB (0.72 MB gzip) — but its cold import takes 0.9–1.3 s instead of 0.38 s, because
 * the SDK then loads from hundreds of separate files instead of one parsed bundle; and the clients' versions would
 * be whatever the runtime ships, updated on AWS's schedule, not the pinned ones the tests run against. Lambda's
 * 50 MB package quota is far away either way.
 *
 * Usage: node scripts/bundle-lambda.mjs [--aws-sdk=external] [--outdir=dir] [--json]
 */
import { mkdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = new Map(
  process.argv.slice(2).map((arg) => {
    const [key, value = 'true'] = arg.replace(/^--/, '').split('=');
    return [key, value];
  }),
);
const sdk = args.get('aws-sdk') ?? 'bundle';
if (sdk !== 'bundle' && sdk !== 'external') throw new Error('--aws-sdk must be bundle or external');
const outdir = args.get('outdir') ?? join(root, 'dist', 'lambda');

/**
 * `plan-worker` is not a handler: both handlers plan workflows in a worker thread started from this file, beside
 * them (src/app/lambda-app.ts, src/intake/plan-worker-pool.ts).
 */
export const ENTRIES = {
  lambda: 'src/app/lambda.ts',
  scheduled: 'src/app/scheduled.ts',
  'plan-worker': 'src/intake/plan-worker.ts',
};

/**
 * The embedded store (dynalite, on LevelDB's native addon) is never started on Lambda — the store is DynamoDB
 * there — but app.ts imports it statically. It is replaced by a stub that says so if it is ever called.
 */
const NOT_HERE = JSON.stringify('the embedded store is not part of the Lambda bundle');

const embeddedStoreStub = {
  name: 'embedded-store-stub',
  setup(b) {
    // `dynalite` and its database module (`dynalite/db/index.js`, wrapped by src/store/dynalite-errors.ts).
    b.onResolve({ filter: /^dynalite(?:\/db\/index\.js)?$/ }, (args) => ({ path: args.path, namespace: 'stub' }));
    b.onLoad({ filter: /.*/, namespace: 'stub' }, (args) => ({
      contents:
        args.path === 'dynalite'
          ? `export default function dynalite() { throw new Error(${NOT_HERE}); }`
          : `export default { create() { throw new Error(${NOT_HERE}); } };`,
      loader: 'js',
    }));
  },
};

await rm(outdir, { recursive: true, force: true });
await mkdir(outdir, { recursive: true });
const result = await build({
  absWorkingDir: root,
  entryPoints: Object.fromEntries(Object.entries(ENTRIES).map(([name, file]) => [name, join(root, file)])),
  outdir,
  outExtension: { '.js': '.mjs' },
  bundle: true,
  platform: 'node',
  target: 'node22',
  format: 'esm',
  minify: true,
  sourcemap: false,
  metafile: true,
  logLevel: 'warning',
  legalComments: 'none',
  external: sdk === 'external' ? ['@aws-sdk/*', '@smithy/*'] : [],
  plugins: [embeddedStoreStub],
  // Bundled CommonJS dependencies still call require(); an ES module has none unless it makes one.
  banner: {
    js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
  },
});
const outputs = Object.entries(result.metafile.outputs).map(([file, meta]) => ({ file, bytes: meta.bytes }));
if (args.get('json') === 'true') process.stdout.write(`${JSON.stringify({ sdk, outdir, outputs })}\n`);
else for (const o of outputs) process.stderr.write(`${o.file}: ${String(o.bytes)} bytes\n`);
