import type { BenchSection } from './bench-report.ts';

/** What a benchmark gets from the runner: progress output and a full garbage collection before a baseline. */
export interface BenchContext {
  /** One line of progress on stderr (BENCHMARKS.md gets only the section). */
  log(line: string): void;
  /** Collects garbage now, so a memory baseline taken right after is not inflated by the previous run. */
  gc(): void;
}

/**
 * One benchmark: a name for `npm run bench -- <name>` and a function that measures, checks its criteria and
 * renders its section. Adding one is one file exporting a `Benchmark` and one line in `benchmarks.ts`.
 */
export interface Benchmark {
  readonly name: string;
  run(context: BenchContext): Promise<BenchSection>;
}
