/**
 * `npm run bench`: runs every registered benchmark (or those named on the command line) in one process, writes
 * BENCHMARKS.md (the sections of the named ones only, keeping the others) and exits non-zero when any criterion
 * failed, so CI can gate on it.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parseArgs } from 'node:util';
import { mergeBenchReport, renderBenchReport, type BenchSection } from './bench-report.ts';
import type { BenchContext } from './benchmark.ts';
import { BENCHMARKS } from './benchmarks.ts';
import { readCommit, readMachine } from './machine.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DEFAULT_OUT = fileURLToPath(new URL('../BENCHMARKS.md', import.meta.url));

export async function main(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    options: { out: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    allowPositionals: true,
  });
  const names = BENCHMARKS.map((b) => b.name);
  if (values.help) {
    process.stdout.write(`usage: npm run bench [-- [--out FILE] [${names.join('|')} ...]]\n`);
    return 0;
  }
  const unknown = positionals.filter((p) => !names.includes(p));
  if (unknown.length > 0) {
    process.stderr.write(`unknown benchmark ${unknown.join(', ')}; known: ${names.join(', ')}\n`);
    return 2;
  }
  const selected = positionals.length === 0 ? BENCHMARKS : BENCHMARKS.filter((b) => positionals.includes(b.name));
  const context: BenchContext = { log: (line) => process.stderr.write(`${line}\n`), gc: loadGc() };
  const machine = readMachine(new Date(), await readCommit(ROOT));
  const sections: BenchSection[] = [];
  for (const benchmark of selected) {
    context.log(`bench: ${benchmark.name}`);
    sections.push(await benchmark.run(context));
  }
  const out = values.out ?? DEFAULT_OUT;
  // A run of every benchmark writes the file anew; a run of some replaces only their sections, keeping the others.
  const existing = selected === BENCHMARKS ? undefined : await readFile(out, 'utf8').catch(() => undefined);
  await writeFile(
    out,
    existing === undefined ? renderBenchReport(machine, sections) : mergeBenchReport(existing, machine, sections),
  );
  const failures = sections.flatMap((s) => s.failures.map((f) => `${s.title}: ${f}`));
  for (const failure of failures) process.stderr.write(`FAILED ${failure}\n`);
  process.stderr.write(`bench: wrote ${out}; ${failures.length === 0 ? 'all criteria held' : 'criteria failed'}\n`);
  return failures.length === 0 ? 0 : 1;
}

/**
 * `global.gc` without asking every caller for `node --expose-gc`: V8 accepts the flag at run time, and a new
 * context created after it has `gc` as a global. Memory baselines are then taken on a collected heap.
 */
function loadGc(): () => void {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as unknown;
  return typeof gc === 'function' ? () => void (gc as () => void)() : () => undefined;
}
