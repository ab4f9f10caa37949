/**
 * A matrix built from expressions (`strategy.matrix: ${{ fromJSON(needs.a.outputs.m) }}`, or an axis, `include` or
 * `exclude` given that way), expanded as GitHub does it: when the job becomes ready, with the `needs`, `github`,
 * `vars` and `inputs` contexts. The result goes through the same expansion and the same cell planning as a matrix
 * written out (matrix-expansion.ts, plan.ts `planCell`); the limits apply here, as a failure of the job. Pure.
 */
import { expand } from './matrix-expansion.ts';
import { MAX_MATRIX_ORDERS } from './limits.ts';
import { planCell } from './plan.ts';
import type { MatrixCell, MatrixSpec, MatrixValue, OrderRecord, OrderSpec } from './types.ts';
import { evaluateValue, hasExpression, type ExpressionContext } from './workflow/expressions.ts';

export type CellExpansion =
  { readonly ok: true; readonly cells: OrderSpec[] } | { readonly ok: false; readonly error: string };

/** The contexts a dynamic matrix is evaluated with (GitHub's "Context availability" for `jobs.<id>.strategy`). */
export type MatrixContexts = Pick<ExpressionContext, 'github' | 'needs' | 'vars' | 'inputs'>;

/**
 * The cells of a dynamic-matrix order, planned as a written-out matrix's would be (ids `<order>.<n>`, n from 1 in
 * GitHub's expansion order), or why the job fails: an expression that does not evaluate, a value that is not a
 * matrix, an empty one, or more than MAX_MATRIX_ORDERS cells. Deterministic: the watchdog recomputes the same cells
 * to repair an expansion a crash left half-written.
 */
export function expandDynamicMatrix(order: OrderSpec, contexts: MatrixContexts): CellExpansion {
  const dynamic = order.dynamicMatrix;
  const template = dynamic?.job.matrixTemplate;
  if (dynamic === undefined || template === undefined) {
    return { ok: false, error: `order ${order.id} has no dynamic matrix` };
  }
  const { job } = dynamic;
  const source = describeSource(template);
  const evaluated = evaluateTree(template, contexts);
  if (!evaluated.ok) return { ok: false, error: `strategy.matrix (${source}): ${evaluated.error}` };
  const spec = toMatrixSpec(evaluated.value);
  if (!spec.ok) return { ok: false, error: `strategy.matrix (${source}): ${spec.error}` };
  const expanded = expand(spec.spec);
  if (!expanded.ok) {
    return {
      ok: false,
      error: `the matrix from ${source}: ${expanded.error}; spotcheck runs at most ${MAX_MATRIX_ORDERS}`,
    };
  }
  if (expanded.cells.length === 0) {
    return { ok: false, error: `the matrix from ${source} has no combination to run (every one is excluded)` };
  }
  const base: ExpressionContext = { ...contexts };
  const cells: OrderSpec[] = [];
  const problems: string[] = [];
  expanded.cells.forEach((cell, index) => {
    const workflow = {
      env: dynamic.workflowEnv,
      ...(dynamic.workflowPermissions === undefined ? {} : { permissions: dynamic.workflowPermissions }),
    };
    const planned = planCell(
      workflow,
      job,
      base,
      {
        expanded: cell,
        index,
        total: expanded.cells.length,
        id: `${order.id}.${index + 1}`,
        needsOrders: order.needsOrders,
      },
      {
        ...(order.scope === undefined ? {} : { prefix: order.scope }),
        ...(dynamic.namePrefix === undefined ? {} : { namePrefix: dynamic.namePrefix }),
        ...(dynamic.callerPermissions === undefined ? {} : { permissions: dynamic.callerPermissions }),
      },
    );
    if (planned.ok) cells.push({ ...planned.order, ...calledFields(order) });
    else problems.push(...planned.problems.map((p) => `matrix cell ${index + 1}: ${p}`));
  });
  if (problems.length > 0) return { ok: false, error: problems.join('; ') };
  return { ok: true, cells };
}

/**
 * What a cell inside a called workflow keeps of the order it expands (plan.ts `scopeFields`): its inputs, its scope
 * (whose job keys its needs name), its needs that are calls, its calling jobs, the secrets passed to it.
 */
function calledFields(order: OrderSpec): Partial<OrderSpec> {
  return {
    ...(order.inputs === undefined ? {} : { inputs: order.inputs }),
    ...(order.scope === undefined ? {} : { scope: order.scope }),
    ...(order.calls === undefined ? {} : { calls: order.calls }),
    ...(order.gates === undefined ? {} : { gates: order.gates }),
    ...(order.secretsPassed === undefined ? {} : { secretsPassed: order.secretsPassed }),
    // A calling job's concurrency holds every order of its callee, these cells too (job-concurrency.ts).
    ...(order.concurrencyUnit === undefined
      ? {}
      : { concurrency: order.concurrency, concurrencyUnit: order.concurrencyUnit }),
  };
}

/** The ids of an expanded order's cells. */
export function cellIds(order: Pick<OrderRecord, 'id' | 'cells'>): string[] {
  return Array.from({ length: order.cells ?? 0 }, (_, i) => `${order.id}.${i + 1}`);
}

/** What the user wrote, for messages: the expressions of the template (`${{ fromJSON(needs.a.outputs.m) }}`). */
function describeSource(template: MatrixValue): string {
  const found: string[] = [];
  const walk = (value: MatrixValue): void => {
    if (typeof value === 'string' && hasExpression(value)) found.push(value.trim());
    else if (Array.isArray(value)) for (const item of value as readonly MatrixValue[]) walk(item);
    else if (value !== null && typeof value === 'object') for (const item of Object.values(value)) walk(item);
  };
  walk(template);
  const text = found.join(', ');
  // `${{ fromJSON(needs.a.outputs.m) }}` reads best as `needs.a.outputs.m` when that is all it says.
  const only = /^\$\{\{\s*fromJSON\(\s*([\w.-]+)\s*\)\s*\}\}$/i.exec(text);
  return only?.[1] ?? text;
}

type Evaluated = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: string };

/** Evaluates every string of the template that holds an expression; a string that is one `${{ }}` keeps its type. */
function evaluateTree(value: MatrixValue, contexts: MatrixContexts): Evaluated {
  if (typeof value === 'string') return hasExpression(value) ? evaluateValue(value, contexts) : { ok: true, value };
  if (Array.isArray(value)) {
    const items: unknown[] = [];
    for (const item of value as readonly MatrixValue[]) {
      const evaluated = evaluateTree(item, contexts);
      if (!evaluated.ok) return evaluated;
      items.push(evaluated.value);
    }
    return { ok: true, value: items };
  }
  if (value !== null && typeof value === 'object') {
    const entries: [string, unknown][] = [];
    for (const [key, item] of Object.entries(value)) {
      const evaluated = evaluateTree(item, contexts);
      if (!evaluated.ok) return evaluated;
      entries.push([key, evaluated.value]);
    }
    return { ok: true, value: Object.fromEntries(entries) };
  }
  return { ok: true, value };
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** The evaluated value as a matrix: a mapping of axes (lists) with optional `include`/`exclude` lists of mappings. */
function toMatrixSpec(value: unknown): { ok: true; spec: MatrixSpec } | { ok: false; error: string } {
  if (!isMapping(value)) {
    return { ok: false, error: `evaluated to ${describe(value)}, not a mapping of axes (name: [values])` };
  }
  const axes: [string, MatrixValue[]][] = [];
  let include: MatrixCell[] = [];
  let exclude: MatrixCell[] = [];
  for (const [key, item] of Object.entries(value)) {
    if (key === 'include' || key === 'exclude') {
      if (!Array.isArray(item) || !item.every(isMapping)) {
        return { ok: false, error: `${key} evaluated to ${describe(item)}, not a list of mappings` };
      }
      if (key === 'include') include = item as MatrixCell[];
      else exclude = item as MatrixCell[];
      continue;
    }
    if (!Array.isArray(item)) return { ok: false, error: `axis '${key}' evaluated to ${describe(item)}, not a list` };
    axes.push([key, item as MatrixValue[]]);
  }
  // GitHub: a matrix needs at least one axis or include entry.
  if (axes.length === 0 && include.length === 0) return { ok: false, error: 'Matrix must define at least one vector' };
  return { ok: true, spec: { axes: Object.fromEntries(axes), include, exclude } };
}

function describe(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  const text = JSON.stringify(value);
  return `${typeof value} ${text.length > 40 ? `${text.slice(0, 37)}...` : text}`;
}
