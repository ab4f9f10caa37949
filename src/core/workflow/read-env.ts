/** `env:` of a workflow, a job or a step: variable names to string values. */
import { clip } from './diagnostics.ts';
import type { DiagnosticSink } from './diagnostics.ts';
import { readString } from './read-scalars.ts';
import { describeValue } from './yaml-tree.ts';
import type { YValue } from './yaml-tree.ts';

export function readEnv(sink: DiagnosticSink, v: YValue, path: string): Record<string, string> {
  if (v.kind === 'scalar' && v.value === null) return {};
  if (v.kind !== 'map') {
    sink.error(v.pos, `\`${path}\` must be a mapping of variable names to values, not ${describeValue(v)}`);
    return {};
  }
  const pairs: [string, string][] = [];
  for (const entry of v.entries) {
    if (entry.key === '' || entry.key.includes('=') || entry.key.includes('\0')) {
      sink.error(
        entry.keyPos,
        `\`${path}\` variable name \`${clip(entry.key)}\` is not valid: it must be non-empty, without \`=\``,
      );
      continue;
    }
    // GitHub turns numbers and booleans into their string form (`3.10` becomes "3.1"), and an empty value into "".
    const value =
      entry.value.kind === 'scalar' && entry.value.value === null
        ? ''
        : readString(sink, entry.value, `${path}.${entry.key}`, {});
    if (value !== undefined) pairs.push([entry.key, value]);
  }
  // Object.fromEntries defines own properties, so a variable named `__proto__` stays a variable.
  return Object.fromEntries(pairs);
}
