/**
 * Workflow files of 512 KiB (MAX_WORKFLOW_FILE_BYTES, the largest the parser reads) within every parser bound (depth,
 * nodes, aliases, size) that cost the parser and planner the most. Deterministic, so a test and the bench read the
 * same bytes.
 */
import { MAX_MATRIX_FILTER_ENTRIES, MAX_WORKFLOW_FILE_BYTES, MAX_YAML_ALIAS_COUNT } from '../../src/core/limits.ts';

export const COSTLY_WORKFLOW_PATH = '.spotcheck/workflows/costly.yml';

const head = (runsOn: string): string =>
  `name: costly\non: [push, pull_request]\njobs:\n  a:\n    runs-on: ${runsOn}\n    steps:\n      - run: echo hi\n`;

/**
 * The costliest shape found (shapes tried: bench/plan-stall.bench.ts): one job whose matrix has 2 × 16 × 128 = 4,096
 * combinations (MAX_MATRIX_PRODUCT), cut to 128 orders by 16 `exclude` entries that come after 240 entries matching
 * nothing. Axis `a`'s two values and the fillers (aliases of three anchors) are strings of one length (~100 KB) that
 * differ only at their end. Every combination is compared with every filler twice: when the file is read (the
 * matrix's size, with `===`: about 100 GB of text compared) and when it is planned (the expression language's `==`,
 * which upper-cases both strings: about 200 GB of text).
 */
export function costlyWorkflow(bytes: number = MAX_WORKFLOW_FILE_BYTES, runsOn = 'local'): string {
  const axisB = Array.from({ length: 16 }, (_, i) => String(i));
  const axisC = Array.from({ length: 128 }, (_, i) => String(i));
  const real = ['          - {a: *a1}\n', ...axisB.slice(1).map((b) => `          - {b: ${b}}\n`)];
  const fillers = MAX_MATRIX_FILTER_ENTRIES - real.length;
  const anchors = Math.ceil(fillers / MAX_YAML_ALIAS_COUNT);
  const aliases: string[] = [];
  for (let n = anchors; n < fillers; n++) aliases.push(`          - {a: *x${n % anchors}}\n`);
  const long = (length: number, end: string): string => `${'x'.repeat(length)}${end}`;
  const build = (length: number): string =>
    `${head(runsOn)}    strategy:\n      matrix:\n` +
    `        a: [&a0 ${long(length, 'a0')}, &a1 ${long(length, 'a1')}]\n` +
    `        b: [${axisB.join(', ')}]\n        c: [${axisC.join(', ')}]\n        exclude:\n` +
    Array.from({ length: anchors }, (_, n) => `          - {a: &x${n} ${long(length, `x${n}`)}}\n`).join('') +
    aliases.join('') +
    real.join('');
  const length = Math.floor((bytes - build(0).length) / (2 + anchors));
  return build(length);
}

/**
 * One top-level `env:` map of ~57,000 short keys. yaml's duplicate-key check compared each key of a map with the
 * keys before it: 30 s of CPU for this file until the reader found duplicates itself (test/security). Its parsed
 * document is also the largest in memory of the shapes tried, so the plan worker's heap-cap test uses it.
 */
export function manyKeysWorkflow(bytes: number = MAX_WORKFLOW_FILE_BYTES, runsOn = 'local'): string {
  const lines = [`${head(runsOn)}env:\n`];
  let size = lines[0]!.length;
  for (let i = 0; ; i++) {
    const line = ` k${i.toString(36)}: 1\n`;
    if (size + line.length > bytes) break;
    lines.push(line);
    size += line.length;
  }
  return lines.join('');
}
