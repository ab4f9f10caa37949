/**
 * Red-team finding: one mapping of ~57,000 keys (512 KiB, every parser bound held) took 30 s of CPU to read, because
 * yaml's duplicate-key check (`uniqueKeys`) compares each key of a mapping with every key before it; `spotcheck
 * validate`/`plan`/`run` and anything planning in-process stalled that long. The reader now finds duplicate keys itself
 * with a Set per mapping. Replayed: the file is read within the test's timeout (a hang guard: before the fix the parse
 * alone was 30 s of CPU, so it could not finish in time on the machines that ran it), and a duplicate as the last of
 * those keys is still found with its position. Nothing here is timed.
 */
import { describe, expect, it } from 'vitest';
import { formatDiagnostic, parseWorkflow } from '../../src/core/workflow/parse-workflow.ts';
import { manyKeysWorkflow } from '../helpers/costly-workflow.ts';

const KEY_LINE = /^ k[0-9a-z]+: 1$/;

describe('a mapping of tens of thousands of keys', () => {
  const text = manyKeysWorkflow();
  const keyLines = text.split('\n').filter((line) => KEY_LINE.test(line));

  it('is read whole: every key of the 512 KiB file is in the workflow', () => {
    expect(keyLines.length).toBeGreaterThan(50_000);
    const { workflow, diagnostics } = parseWorkflow('many.yml', text);
    expect(diagnostics).toEqual([]);
    expect(Object.keys(workflow?.env ?? {})).toHaveLength(keyLines.length);
  });

  it('still has its duplicate keys found, at the key, when one repeats the first', () => {
    const first = keyLines[0]!;
    const lines = text.split('\n');
    const last = lines.findLastIndex((line) => KEY_LINE.test(line));
    lines[last] = first;
    const { workflow, diagnostics } = parseWorkflow('many.yml', lines.join('\n'));
    expect(workflow).toBeUndefined();
    expect(diagnostics.map(formatDiagnostic)).toEqual([
      `many.yml:${last + 1}:2: duplicate key \`${first.trim().split(':')[0]!}\`: keys of a mapping must be unique (YAML would otherwise keep only one of the values)`,
    ]);
  });
});
