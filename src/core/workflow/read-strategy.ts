/**
 * A job's `strategy:`: `fail-fast`, `max-parallel` and the `matrix` (axes, `include`, `exclude`), whose size is
 * checked against the limits here (matrix-size.ts); the planner expands it (src/core/plan.ts).
 */
import { MAX_MATRIX_FILTER_ENTRIES, MAX_MATRIX_ORDERS } from '../limits.ts';
import type { MatrixCell, MatrixSpec, MatrixValue, SourcePos } from '../types.ts';
import type { DiagnosticSink } from './diagnostics.ts';
import { matrixSize } from './matrix-size.ts';
import { checkKeys, readBoolean } from './read-scalars.ts';
import { describeValue, field } from './yaml-tree.ts';
import type { YValue } from './yaml-tree.ts';

const STRATEGY_KEYS = ['matrix', 'fail-fast', 'max-parallel'] as const;

export interface Strategy {
  readonly matrix?: MatrixSpec;
  readonly failFast: boolean;
  readonly maxParallel?: number;
}

export function readStrategy(sink: DiagnosticSink, v: YValue, path: string): Strategy | undefined {
  if (v.kind !== 'map') {
    sink.error(v.pos, `\`${path}\` must be a mapping (matrix, fail-fast, max-parallel), not ${describeValue(v)}`);
    return undefined;
  }
  checkKeys(sink, v, STRATEGY_KEYS, `\`${path}\``, {});
  const matrixEntry = field(v, 'matrix');
  const failFastEntry = field(v, 'fail-fast');
  const maxParallelEntry = field(v, 'max-parallel');
  const matrix = matrixEntry ? readMatrix(sink, matrixEntry.value, `${path}.matrix`) : undefined;
  const failFast = failFastEntry ? readBoolean(sink, failFastEntry.value, `${path}.fail-fast`) : true;
  let maxParallel: number | undefined;
  if (maxParallelEntry) {
    const m = maxParallelEntry.value;
    if (m.kind === 'scalar' && typeof m.value === 'number' && Number.isInteger(m.value) && m.value >= 1)
      maxParallel = m.value;
    else sink.error(m.pos, `\`${path}.max-parallel\` must be a whole number of at least 1, not ${describeValue(m)}`);
  }
  if ((matrixEntry && !matrix) || failFast === undefined) return undefined;
  if (maxParallelEntry && maxParallel === undefined) return undefined;
  return {
    ...(matrix ? { matrix } : {}),
    failFast,
    ...(maxParallel !== undefined ? { maxParallel } : {}),
  };
}

function readMatrix(sink: DiagnosticSink, v: YValue, path: string): MatrixSpec | undefined {
  if (v.kind === 'scalar' && typeof v.value === 'string' && v.value.includes('${{')) {
    sink.error(
      v.pos,
      `\`${path}\` built from an expression is not supported: spotcheck plans every order before anything runs, so write the axes out`,
    );
    return undefined;
  }
  if (v.kind !== 'map') {
    sink.error(
      v.pos,
      `\`${path}\` must be a mapping of axes (name: [values]) with optional include/exclude, not ${describeValue(v)}`,
    );
    return undefined;
  }
  const before = sink.count;
  const axes: [string, MatrixValue[]][] = [];
  let include: MatrixCell[] = [];
  let exclude: { cell: MatrixCell; pos: SourcePos }[] = [];
  for (const entry of v.entries) {
    if (entry.key === 'include' || entry.key === 'exclude') {
      const cells = readMatrixCells(sink, entry.value, `${path}.${entry.key}`);
      if (entry.key === 'include') include = cells.map((c) => c.cell);
      else exclude = cells;
      continue;
    }
    if (entry.key === '') {
      sink.error(entry.keyPos, `\`${path}\` axis names must not be empty`);
      continue;
    }
    const values = entry.value;
    if (values.kind !== 'seq') {
      const expr = values.kind === 'scalar' && typeof values.value === 'string' && values.value.includes('${{');
      sink.error(
        values.pos,
        expr
          ? `\`${path}.${entry.key}\` built from an expression is not supported: list the values`
          : `\`${path}.${entry.key}\` must be a list of values, not ${describeValue(values)}`,
      );
      continue;
    }
    if (values.items.length === 0) {
      sink.error(values.pos, `\`${path}.${entry.key}\` is an empty list: an axis needs at least one value`);
      continue;
    }
    axes.push([entry.key, values.items.map(toMatrixValue)]);
  }
  if (sink.count > before) return undefined;
  const axisNames = new Set(axes.map(([name]) => name));
  for (const { cell, pos } of exclude) {
    for (const key of Object.keys(cell)) {
      // GitHub refuses an exclude key that is not an axis: it could never match, so it is surely a typo.
      if (!axisNames.has(key))
        sink.error(
          pos,
          `\`${path}.exclude\` key \`${key}\` is not a matrix axis (axes: ${[...axisNames].join(', ') || 'none'})`,
        );
    }
  }
  if (sink.count > before) return undefined;

  const size = matrixSize(
    axes,
    include,
    exclude.map((e) => e.cell),
  );
  if (size.kind === 'too-large') {
    sink.error(
      v.pos,
      `\`${path}\` has ${size.product} combinations (${axes.map(([, vals]) => vals.length).join(' × ')}); spotcheck runs at most ${MAX_MATRIX_ORDERS} orders per matrix`,
    );
    return undefined;
  }
  if (size.orders > MAX_MATRIX_ORDERS) {
    sink.error(
      v.pos,
      `\`${path}\` expands to ${size.orders} orders; spotcheck runs at most ${MAX_MATRIX_ORDERS} per matrix`,
    );
    return undefined;
  }
  if (size.orders === 0) {
    sink.error(v.pos, `\`${path}\` expands to no combination at all (every one is excluded, or there are no axes)`);
    return undefined;
  }
  return { axes: Object.fromEntries(axes), include, exclude: exclude.map((e) => e.cell) };
}

function readMatrixCells(sink: DiagnosticSink, v: YValue, path: string): { cell: MatrixCell; pos: SourcePos }[] {
  if (v.kind !== 'seq') {
    const expr = v.kind === 'scalar' && typeof v.value === 'string' && v.value.includes('${{');
    sink.error(
      v.pos,
      expr
        ? `\`${path}\` built from an expression is not supported: list the entries`
        : `\`${path}\` must be a list of mappings, not ${describeValue(v)}`,
    );
    return [];
  }
  if (v.items.length > MAX_MATRIX_FILTER_ENTRIES) {
    sink.error(v.pos, `\`${path}\` has ${v.items.length} entries; at most ${MAX_MATRIX_FILTER_ENTRIES} are allowed`);
    return [];
  }
  const cells: { cell: MatrixCell; pos: SourcePos }[] = [];
  for (const item of v.items) {
    if (item.kind !== 'map' || item.entries.length === 0) {
      sink.error(
        item.pos,
        `each \`${path}\` entry must be a non-empty mapping of axis: value, not ${describeValue(item)}`,
      );
      continue;
    }
    cells.push({ cell: Object.fromEntries(item.entries.map((e) => [e.key, toMatrixValue(e.value)])), pos: item.pos });
  }
  return cells;
}

function toMatrixValue(v: YValue): MatrixValue {
  if (v.kind === 'scalar') return v.value;
  if (v.kind === 'seq') return v.items.map(toMatrixValue);
  return Object.fromEntries(v.entries.map((e) => [e.key, toMatrixValue(e.value)]));
}
