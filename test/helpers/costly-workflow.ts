/**
 * A valid workflow file of 512 KiB (MAX_WORKFLOW_FILE_BYTES, the largest the parser reads) that costs the parser
 * the most time of the shapes tried (listed in bench/plan-stall.bench.ts): one top-level `env:` map of ~57,000 short
 * keys. Every bound holds (depth, nodes, aliases, size), yet reading it takes tens of seconds of CPU (32 s on the
 * 2-core bench VM): `yaml`'s duplicate-key check compares each key of a map with the keys before it. Deterministic,
 * so a test and the bench read the same bytes.
 */
import { MAX_WORKFLOW_FILE_BYTES } from '../../src/core/limits.ts';

export const COSTLY_WORKFLOW_PATH = '.spotcheck/workflows/costly.yml';

export function costlyWorkflow(bytes: number = MAX_WORKFLOW_FILE_BYTES, runsOn = 'local'): string {
  const head = `name: costly\non: [push, pull_request]\njobs:\n  a:\n    runs-on: ${runsOn}\n    steps:\n      - run: echo hi\nenv:\n`;
  const lines = [head];
  let size = head.length;
  for (let i = 0; ; i++) {
    const line = ` k${i.toString(36)}: 1\n`;
    if (size + line.length > bytes) break;
    lines.push(line);
    size += line.length;
  }
  return lines.join('');
}
