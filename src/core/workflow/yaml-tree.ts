/**
 * The plain tree the YAML reader (yaml-reader.ts) makes of a workflow file and the field readers (read-*.ts) read:
 * scalars, lists and mappings, each with its line and column, aliases already expanded. Nothing of the yaml
 * library's node types reaches the schema.
 */
import type { SourcePos } from '../types.ts';
import { clip } from './diagnostics.ts';

type Scalar = string | number | boolean | null;
export type YValue = YMap | YSeq | YScalar;
export interface YMap {
  readonly kind: 'map';
  readonly pos: SourcePos;
  readonly entries: readonly YEntry[];
}
export interface YSeq {
  readonly kind: 'seq';
  readonly pos: SourcePos;
  readonly items: readonly YValue[];
}
export interface YScalar {
  readonly kind: 'scalar';
  readonly pos: SourcePos;
  readonly value: Scalar;
}
export interface YEntry {
  readonly key: string;
  readonly keyPos: SourcePos;
  readonly value: YValue;
}

/** The entry of `key` in a mapping (keys are unique: the reader refuses duplicates). */
export function field(map: YMap, key: string): YEntry | undefined {
  return map.entries.find((e) => e.key === key);
}

/** How a message names a value: a mapping, a list, nothing (null), the string `abc`, the number `3`. */
export function describeValue(v: YValue): string {
  if (v.kind === 'map') return 'a mapping';
  if (v.kind === 'seq') return 'a list';
  if (v.value === null) return 'nothing (null)';
  if (typeof v.value === 'string') return `the string \`${clip(v.value)}\``;
  return `the ${typeof v.value} \`${String(v.value)}\``;
}
