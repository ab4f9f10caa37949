import { awsCallsBenchmark } from './aws-calls.bench.ts';
import type { Benchmark } from './benchmark.ts';
import { dashboardBenchmark } from './dashboard.bench.ts';
import { engineBenchmark } from './engine.bench.ts';
import { installBenchmark } from './install.bench.ts';
import { lambdaBenchmark } from './lambda.bench.ts';
import { planStallBenchmark } from './plan-stall.bench.ts';
import { serveBenchmark } from './serve.bench.ts';

/** Every benchmark `npm run bench` runs, in this order (BENCHMARKS.md keeps it). */
export const BENCHMARKS: readonly Benchmark[] = [
  engineBenchmark,
  serveBenchmark,
  planStallBenchmark,
  dashboardBenchmark,
  lambdaBenchmark,
  awsCallsBenchmark,
  installBenchmark,
];
