import { cpus, platform, release, totalmem } from 'node:os';
import type { MachineInfo } from './bench-report.ts';

/** The machine the numbers were taken on, for the head of BENCHMARKS.md. */
export function readMachine(date: Date): MachineInfo {
  const cores = cpus();
  return {
    cpuModel: cores[0]?.model.trim() ?? 'unknown',
    cores: cores.length,
    memoryBytes: totalmem(),
    nodeVersion: process.version,
    platform: `${platform()} ${release()}`,
    date: date.toISOString(),
  };
}
