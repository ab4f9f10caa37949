/**
 * The Lambda bundles (scripts/bundle-lambda.mjs): size of each handler, raw and gzipped, and cold import time —
 * a fresh `node` process importing the bundle, N times, median — with the AWS SDK bundled (what is deployed) and,
 * for the record of that choice, with `@aws-sdk/*` left to the runtime. The deployed bundle is imported from a
 * folder with no node_modules above it, so it must be self-contained, as on Lambda.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { formatNumber, median, renderTable, type BenchSection } from './bench-report.ts';
import type { BenchContext, Benchmark } from './benchmark.ts';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SCRIPT = join(ROOT, 'scripts', 'bundle-lambda.mjs');
/** Cold imports per bundle (the median is reported). */
const IMPORTS = 7;
/** Lambda's deployment package quota: 50 MB zipped for direct upload (Lambda quotas, "Deployment package"). */
const ZIP_LIMIT_BYTES = 50 * 1000 * 1000;

interface BundleRow {
  readonly variant: string;
  readonly file: string;
  readonly bytes: number;
  readonly gzipBytes: number;
  readonly importMs: number;
}

async function build(variant: 'bundle' | 'external', outdir: string): Promise<void> {
  await run(process.execPath, [SCRIPT, `--aws-sdk=${variant}`, `--outdir=${outdir}`, '--json'], { cwd: ROOT });
}

/** Median wall time of a fresh node process that imports `file`, less the median of one that imports nothing. */
async function coldImportMs(file: string): Promise<{ ms: number; failure?: string }> {
  const time = async (code: string): Promise<number> => {
    const started = process.hrtime.bigint();
    await run(process.execPath, ['--input-type=module', '-e', code], { cwd: tmpdir() });
    return Number(process.hrtime.bigint() - started) / 1e6;
  };
  const samples: number[] = [];
  const baseline: number[] = [];
  try {
    for (let i = 0; i < IMPORTS; i++) {
      baseline.push(await time(''));
      samples.push(await time(`await import(${JSON.stringify(pathToFileURL(file).href)});`));
    }
  } catch (error) {
    return { ms: Number.NaN, failure: `${file} cannot be imported: ${(error as Error).message.split('\n')[0] ?? ''}` };
  }
  return { ms: median(samples) - median(baseline) };
}

async function measure(
  variant: string,
  dir: string,
  context: BenchContext,
): Promise<{ rows: BundleRow[]; failures: string[] }> {
  const rows: BundleRow[] = [];
  const failures: string[] = [];
  // The handlers only: plan-worker.mjs runs in a worker thread the handlers start, never imported on its own.
  const handlers = (await readdir(dir)).filter((f) => f.endsWith('.mjs') && f !== 'plan-worker.mjs');
  for (const name of handlers.sort()) {
    const file = join(dir, name);
    const bytes = await readFile(file);
    context.log(`lambda: ${variant} ${name}: ${String(IMPORTS)} cold imports`);
    const imported = await coldImportMs(file);
    if (imported.failure) failures.push(imported.failure);
    rows.push({ variant, file: name, bytes: bytes.length, gzipBytes: gzipSync(bytes).length, importMs: imported.ms });
  }
  return { rows, failures };
}

export const lambdaBenchmark: Benchmark = {
  name: 'lambda',
  async run(context) {
    const deployed = await mkdtemp(join(tmpdir(), 'spotcheck-lambda-'));
    // Inside the repository, so the external SDK resolves from node_modules as it would from the runtime's path.
    const external = join(ROOT, 'dist', 'lambda-bench-external');
    try {
      await build('bundle', deployed);
      await build('external', external);
      const bundled = await measure('AWS SDK bundled (deployed)', deployed, context);
      const left = await measure('@aws-sdk/* external', external, context);
      const rows = [...bundled.rows, ...left.rows];
      const failures = [...bundled.failures, ...left.failures];
      for (const row of bundled.rows)
        if (row.gzipBytes > ZIP_LIMIT_BYTES) failures.push(`${row.file} is over Lambda's 50 MB package quota`);
      const kib = (n: number): string => formatNumber(n / 1024, 0);
      const markdown = [
        `Each handler bundled by \`scripts/bundle-lambda.mjs\` (esbuild, ESM, node22, minified). Cold import: a fresh ` +
          `\`node\` process running \`await import(bundle)\`, median of ${String(IMPORTS)}, less the median of a process ` +
          'importing nothing (node start-up). The deployed bundle is imported from a folder with no `node_modules`.',
        '',
        renderTable(
          [
            { header: 'variant' },
            { header: 'handler' },
            { header: 'KiB', align: 'right' },
            { header: 'KiB gzip', align: 'right' },
            { header: 'cold import ms', align: 'right' },
          ],
          rows.map((r) => [r.variant, r.file, kib(r.bytes), kib(r.gzipBytes), formatNumber(r.importMs, 0)]),
        ),
        '',
        `Criteria: the deployed bundles import with no \`node_modules\` present and stay under Lambda's 50 MB ` +
          `package quota — ${failures.length === 0 ? 'met' : 'NOT met'}.`,
      ].join('\n');
      return { title: 'Lambda bundles: size and cold import', markdown, failures } satisfies BenchSection;
    } finally {
      await rm(deployed, { recursive: true, force: true });
      await rm(external, { recursive: true, force: true });
    }
  },
};
