/**
 * A job's `strategy:`: `fail-fast`, `max-parallel` and the `matrix` (axes, `include`, `exclude`), whose size is
 * checked against the limits here (matrix-size.ts); the planner expands it (src/core/plan.ts).
 */
import { MAX_MATRIX_FILTER_ENTRIES, MAX_MATRIX_ORDERS } from '../limits.ts';
import type { MatrixCell, MatrixSpec, MatrixValue, SourcePos } from '../types.ts';
import type { DiagnosticSink } from './diagnostics.ts';
import { expressionError, hasExpression } from './expressions.ts';
import { matrixSize } from './matrix-size.ts';
import { checkKeys, readBoolean } from './read-scalars.ts';
import { describeValue, field } from './yaml-tree.ts';
import type { YValue } from './yaml-tree.ts';

const STRATEGY_KEYS = ['matrix', 'fail-fast', 'max-parallel'] as const;

export interface Strategy {
  readonly matrix?: MatrixSpec;
  /** A matrix built from expressions, as written: expanded when the job becomes ready (see JobSpec). */
  readonly matrixTemplate?: MatrixValue;
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
  const dynamic = matrixEntry !== undefined && isDynamicMatrix(matrixEntry.value);
  const matrixTemplate = dynamic ? readMatrixTemplate(sink, matrixEntry.value, `${path}.matrix`) : undefined;
  const matrix = matrixEntry && !dynamic ? readMatrix(sink, matrixEntry.value, `${path}.matrix`) : undefined;
  const failFast = failFastEntry ? readBoolean(sink, failFastEntry.value, `${path}.fail-fast`) : true;
  let maxParallel: number | undefined;
  if (maxParallelEntry) {
    const m = maxParallelEntry.value;
    if (m.kind === 'scalar' && typeof m.value === 'number' && Number.isInteger(m.value) && m.value >= 1)
      maxParallel = m.value;
    else sink.error(m.pos, `\`${path}.max-parallel\` must be a whole number of at least 1, not ${describeValue(m)}`);
  }
  if ((matrixEntry && !matrix && !matrixTemplate) || failFast === undefined) return undefined;
  if (maxParallelEntry && maxParallel === undefined) return undefined;
  return {
    ...(matrix ? { matrix } : {}),
    ...(matrixTemplate !== undefined ? { matrixTemplate } : {}),
    failFast,
    ...(maxParallel !== undefined ? { maxParallel } : {}),
  };
}

function isExpression(v: YValue): boolean {
  return v.kind === 'scalar' && typeof v.value === 'string' && hasExpression(v.value);
}

/**
 * Whether a matrix is built from expressions, in the places GitHub allows one: the whole matrix, an axis's list, or
 * the `include`/`exclude` list (`${{ fromJSON(needs.a.outputs.m) }}`). Such a matrix is expanded when the job
 * becomes ready, with the `needs`, `github`, `vars` and `inputs` contexts.
 */
function isDynamicMatrix(v: YValue): boolean {
  return isExpression(v) || (v.kind === 'map' && v.entries.some((entry) => isExpression(entry.value)));
}

/** A dynamic matrix as written: each expression must parse, and what is written out must have the matrix's shape. */
function readMatrixTemplate(sink: DiagnosticSink, v: YValue, path: string): MatrixValue | undefined {
  const before = sink.count;
  const check = (value: YValue, where: string): void => {
    if (value.kind !== 'scalar' || typeof value.value !== 'string' || !hasExpression(value.value)) return;
    const error = expressionError(value.value, 'template');
    if (error !== undefined) sink.error(value.pos, `\`${where}\`: ${error}`);
  };
  if (v.kind === 'map') {
    for (const entry of v.entries) {
      const where = `${path}.${entry.key}`;
      if (isExpression(entry.value)) check(entry.value, where);
      else if (entry.key === 'include' || entry.key === 'exclude') readMatrixCells(sink, entry.value, where);
      else if (entry.value.kind !== 'seq')
        sink.error(entry.value.pos, `\`${where}\` must be a list of values, not ${describeValue(entry.value)}`);
    }
  } else check(v, path);
  return sink.count > before ? undefined : toMatrixValue(v);
}

function readMatrix(sink: DiagnosticSink, v: YValue, path: string): MatrixSpec | undefined {
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
      sink.error(values.pos, `\`${path}.${entry.key}\` must be a list of values, not ${describeValue(values)}`);
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
    sink.error(v.pos, `\`${path}\` must be a list of mappings, not ${describeValue(v)}`);
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
