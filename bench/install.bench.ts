/**
 * What the quick start installs (issue 11, "Install weight and warnings"): a fresh clone of the committed tree,
 * `npm ci` timed, the size of `node_modules`, the engine warnings npm printed, and the CDK toolchain's install on
 * first use (`scripts/install-infra.mjs`). The comparison is the install before the CDK moved to `infra/` and
 * `content-type` was pinned (measured at commit dc43cb5 on the same kind of machine: 907 MB, 112.9 s, one
 * `EBADENGINE`). npm's cache is whatever the machine has (warm on a developer's machine, as here).
 */
import { execFile } from 'node:child_process';
import { lstat, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { formatNumber, renderTable, type BenchSection } from './bench-report.ts';
import type { Benchmark } from './benchmark.ts';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BEFORE = { megabytes: 907, seconds: 112.9, engineWarnings: 1 } as const;

/** Bytes on disk under `dir` (apparent sizes; links are not followed). */
async function sizeOf(dir: string): Promise<number> {
  let total = 0;
  const entries = await readdir(dir, { withFileTypes: true });
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) total += await sizeOf(path);
    else total += (await lstat(path)).size;
  }
  return total;
}

async function timed(file: string, args: readonly string[], cwd: string): Promise<{ seconds: number; output: string }> {
  const started = process.hrtime.bigint();
  const { stdout, stderr } = await run(file, args, { cwd, maxBuffer: 64 * 1024 * 1024 });
  return { seconds: Number(process.hrtime.bigint() - started) / 1e9, output: `${stdout}\n${stderr}` };
}

export const installBenchmark: Benchmark = {
  name: 'install',
  async run(context) {
    const dir = await mkdtemp(join(tmpdir(), 'spotcheck-install-'));
    try {
      const clone = join(dir, 'spotcheck');
      await run('git', ['clone', '-q', ROOT, clone]);
      context.log('install: npm ci in a fresh clone');
      const root = await timed('npm', ['ci', '--no-audit', '--no-fund'], clone);
      const rootBytes = await sizeOf(join(clone, 'node_modules'));
      const engineWarnings = (root.output.match(/EBADENGINE/g) ?? []).length;
      context.log('install: the CDK toolchain on first use');
      const infra = await timed(process.execPath, [join('scripts', 'install-infra.mjs')], clone);
      const infraBytes = await sizeOf(join(clone, 'infra', 'node_modules'));
      const megabytes = rootBytes / 1e6;
      const failures: string[] = [];
      if (engineWarnings > 0) failures.push(`npm ci printed ${String(engineWarnings)} EBADENGINE warning(s)`);
      if (megabytes >= BEFORE.megabytes) failures.push(`node_modules is ${formatNumber(megabytes)} MB, not lighter`);
      const markdown = [
        'A fresh `git clone` of the committed tree, then `npm ci --no-audit --no-fund` (the quick start), timed; ' +
          '`node_modules` measured file by file. The CDK toolchain is its own package in `infra/`, installed on ' +
          'first use by `npm run synth`, `npm run cdk`, `npm run typecheck` and the infra tests.',
        '',
        renderTable(
          [
            { header: 'install' },
            { header: 'MB on disk', align: 'right' },
            { header: 'seconds', align: 'right' },
            { header: 'EBADENGINE', align: 'right' },
            { header: 'before (dc43cb5)' },
          ],
          [
            [
              '`npm ci` (quick start)',
              formatNumber(megabytes),
              formatNumber(root.seconds, 1),
              String(engineWarnings),
              `${String(BEFORE.megabytes)} MB, ${String(BEFORE.seconds)} s, ${String(BEFORE.engineWarnings)} EBADENGINE`,
            ],
            [
              '`infra/` on first use',
              formatNumber(infraBytes / 1e6),
              formatNumber(infra.seconds, 1),
              '',
              'part of the root install',
            ],
          ],
        ),
        '',
        `Criteria: no engine warning on Node 20 and a lighter quick-start install than before — ${
          failures.length === 0 ? 'met' : 'NOT met'
        }. The largest package left is @octokit/openapi (the GitHub API description every forge request is ` +
          'checked against in tests).',
      ].join('\n');
      return { title: 'Install: what the quick start costs', markdown, failures } satisfies BenchSection;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
};
