import { execFile } from 'node:child_process';
import { cpus, platform, release, totalmem } from 'node:os';
import { promisify } from 'node:util';
import type { MachineInfo } from './bench-report.ts';

/** The machine the numbers were taken on, for the head of BENCHMARKS.md. */
export function readMachine(date: Date, commit: string | undefined): MachineInfo {
  const cores = cpus();
  return {
    cpuModel: cores[0]?.model.trim() ?? 'unknown',
    cores: cores.length,
    memoryBytes: totalmem(),
    nodeVersion: process.version,
    platform: `${platform()} ${release()}`,
    date: date.toISOString(),
    ...(commit === undefined ? {} : { commit }),
  };
}

/**
 * The commit being measured: `SPOTCHECK_BENCH_COMMIT` when set (a bench run from an exported tree, which has no
 * .git), else `git rev-parse HEAD` in `cwd`, else unknown.
 */
export async function readCommit(cwd: string, env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  if (env.SPOTCHECK_BENCH_COMMIT) return env.SPOTCHECK_BENCH_COMMIT;
  try {
    const { stdout } = await promisify(execFile)('git', ['rev-parse', 'HEAD'], { cwd });
    return stdout.trim() || undefined;
  } catch {
    return undefined;
  }
}
