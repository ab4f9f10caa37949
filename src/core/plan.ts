/**
 * The planner: a parsed workflow plus the `github` context → the run's orders (one per matrix cell) and their graph.
 * Pure: no I/O, no clock. Expression errors become diagnostics at the job's position, never throws.
 */
import { data } from '@actions/expressions';
import { equals } from '@actions/expressions/result';
import {
  contextsUsed,
  evaluateValue,
  hasExpression,
  interpolate,
  toExpressionData,
  type ExpressionContext,
} from './workflow/expressions.ts';
import { MAX_MATRIX_FILTER_ENTRIES, MAX_MATRIX_ORDERS, MAX_MATRIX_PRODUCT } from './limits.ts';
import { validateNeedsGraph } from './workflow/parse-workflow.ts';
import type {
  Diagnostic,
  GithubContext,
  JobSpec,
  MatrixCell,
  MatrixSpec,
  MatrixValue,
  OrderSpec,
  RunPlan,
  SourcePos,
  StrategyContext,
  Workflow,
} from './types.ts';

export interface PlanInput {
  workflow: Workflow;
  github: GithubContext;
}

export type PlanResult = { ok: true; plan: RunPlan } | { ok: false; diagnostics: Diagnostic[] };

export type MatrixExpansion = { ok: true; cells: MatrixCell[] } | { ok: false; error: string };

/** GitHub truncates a job's display name to 100 characters, ending it with `...` (actions/runner JobNameBuilder). */
const MAX_DISPLAY_NAME_LENGTH = 100;

/** Contexts whose values are known when the run is planned; a value reading anything else waits for the runner. */
const PLAN_TIME_CONTEXTS: ReadonlySet<string> = new Set(['github', 'matrix', 'strategy']);

// ---------------------------------------------------------------------------------------------------------------
// Matrix expansion
// ---------------------------------------------------------------------------------------------------------------

/** One matrix cell plus the values GitHub shows in the display name: the cross-product values, or all of an added cell's. */
interface ExpandedCell {
  readonly cell: MatrixCell;
  readonly shown: readonly MatrixValue[];
}

type Expanded = { ok: true; cells: ExpandedCell[] } | { ok: false; error: string };

/** `matrix.a.b == literal` for every leaf of a filter, as actions/runner's MatrixFilter builds it. */
interface LeafCheck {
  readonly path: readonly (string | number)[];
  readonly expected: data.ExpressionData;
}

function leafChecks(filter: Readonly<Record<string, MatrixValue>>): LeafCheck[] {
  const checks: LeafCheck[] = [];
  const walk = (value: MatrixValue, path: (string | number)[]): void => {
    if (Array.isArray(value)) {
      (value as readonly MatrixValue[]).forEach((item, i) => walk(item, [...path, i]));
    } else if (value !== null && typeof value === 'object') {
      for (const [key, item] of Object.entries(value as Readonly<Record<string, MatrixValue>>))
        walk(item, [...path, key]);
    } else {
      checks.push({ path, expected: toExpressionData(value) });
    }
  };
  for (const [key, value] of Object.entries(filter)) walk(value, [key]);
  return checks;
}

/** Reads a path the way the expression evaluator does: object keys case-insensitively, a missing step is null. */
function readPath(cell: data.ExpressionData, path: readonly (string | number)[]): data.ExpressionData {
  let current = cell;
  for (const step of path) {
    if (typeof step === 'number' && current.kind === data.Kind.Array) {
      current = step < current.values().length ? current.get(step) : new data.Null();
    } else if (typeof step === 'string' && current.kind === data.Kind.Dictionary) {
      current = current.get(step) ?? new data.Null();
    } else {
      return new data.Null();
    }
  }
  return current;
}

/**
 * A filter matches when every leaf equals the cell's value at that path, with the expression language's `==`
 * (strings case-insensitively, `'12' == 12`): GitHub compiles each leaf to `matrix.<path> == <literal>`.
 * An exclude therefore only has to match partially, down into nested objects.
 */
function matches(cell: data.ExpressionData, checks: readonly LeafCheck[]): boolean {
  return checks.every((check) => equals(readPath(cell, check.path), check.expected));
}

/** Primitive values of a value, depth-first, as GitHub collects display-name segments (null and '' are skipped). */
function displaySegments(values: readonly MatrixValue[]): string[] {
  const segments: string[] = [];
  const walk = (value: MatrixValue): void => {
    if (Array.isArray(value)) {
      for (const item of value as readonly MatrixValue[]) walk(item);
    } else if (value !== null && typeof value === 'object') {
      for (const item of Object.values(value as Readonly<Record<string, MatrixValue>>)) walk(item);
    } else if (value !== null) {
      // The library's coercion formats numbers as GitHub does (15 significant digits, no trailing zeros).
      const text = toExpressionData(value).coerceString();
      if (text !== '') segments.push(text);
    }
  };
  for (const value of values) walk(value);
  return segments;
}

/**
 * GitHub's expansion (docs "Running variations of jobs in a workflow"; actions/runner `MatrixBuilder.cs`):
 * 1. the cartesian product in axis order, the first axis varying slowest (`{version: 10, os: a}`, `{version: 10, os: b}`, …);
 * 2. `exclude` drops every product cell an entry matches (partial match: only the keys the entry names);
 * 3. each `include` entry splits into keys that are axes (its filter) and other keys (its extras); every product cell
 *    its filter matches gets its extras, later entries overwriting extras of earlier ones but never an axis value;
 * 4. each entry that matched no product cell is appended as a new cell of its own (includes are applied after
 *    excludes, so an include can add back an excluded combination). A matrix of only `include` is just step 4.
 */
function expand(spec: MatrixSpec): Expanded {
  const axes = Object.entries(spec.axes);
  for (const [name, values] of axes) {
    if (values.length === 0) return { ok: false, error: `Matrix vector '${name}' does not contain any values` };
  }
  if (spec.include.length > MAX_MATRIX_FILTER_ENTRIES || spec.exclude.length > MAX_MATRIX_FILTER_ENTRIES) {
    return { ok: false, error: `Matrix include and exclude take at most ${MAX_MATRIX_FILTER_ENTRIES} entries each` };
  }
  const product = axes.length === 0 ? 0 : axes.reduce((n, [, values]) => n * values.length, 1);
  if (product > MAX_MATRIX_PRODUCT) {
    return {
      ok: false,
      error: `Matrix has ${product} combinations before exclude; at most ${MAX_MATRIX_PRODUCT} are expanded and at most ${MAX_MATRIX_ORDERS} may run`,
    };
  }
  const axisNames = new Set(axes.map(([name]) => name));

  const excludes: LeafCheck[][] = [];
  for (const entry of spec.exclude) {
    const keys = Object.keys(entry);
    if (keys.length === 0) return { ok: false, error: 'Matrix exclude filter must not be empty' };
    const unknown = keys.find((key) => !axisNames.has(key));
    if (unknown !== undefined)
      return { ok: false, error: `Matrix exclude key '${unknown}' does not match any key within the matrix` };
    excludes.push(leafChecks(entry));
  }

  const includes = spec.include.map((entry) => {
    const filter: [string, MatrixValue][] = [];
    const extra: [string, MatrixValue][] = [];
    for (const pair of Object.entries(entry)) (axisNames.has(pair[0]) ? filter : extra).push(pair);
    return { filter, extra, checks: leafChecks(Object.fromEntries(filter)), matched: false };
  });
  if (spec.include.some((entry) => Object.keys(entry).length === 0)) {
    return { ok: false, error: 'Matrix include mapping does not contain any values' };
  }

  const cells: ExpandedCell[] = [];
  for (let index = 0; index < product; index++) {
    let block = product;
    const base: [string, MatrixValue][] = [];
    for (const [name, values] of axes) {
      block /= values.length;
      base.push([name, values[Math.floor(index / block) % values.length] as MatrixValue]);
    }
    const baseData = toExpressionData(Object.fromEntries(base));
    if (excludes.some((checks) => matches(baseData, checks))) continue;
    const extras = new Map<string, MatrixValue>();
    for (const include of includes) {
      if (!matches(baseData, include.checks)) continue;
      include.matched = true;
      for (const [key, value] of include.extra) extras.set(key, value);
    }
    cells.push({ cell: Object.fromEntries([...base, ...extras]), shown: base.map(([, value]) => value) });
  }
  for (const include of includes) {
    if (include.matched) continue;
    const entries = [...include.filter, ...include.extra];
    cells.push({ cell: Object.fromEntries(entries), shown: entries.map(([, value]) => value) });
  }
  if (cells.length > MAX_MATRIX_ORDERS) {
    return { ok: false, error: `Matrix expands to ${cells.length} orders; the maximum is ${MAX_MATRIX_ORDERS}` };
  }
  return { ok: true, cells };
}

/**
 * Expands a job's matrix into its cells, in GitHub's order (see `expand`). `undefined` (no matrix) is one empty
 * cell; a matrix whose every combination is excluded has zero cells.
 */
export function expandMatrix(matrix: MatrixSpec | undefined): MatrixExpansion {
  if (matrix === undefined) return { ok: true, cells: [{}] };
  const expanded = expand(matrix);
  return expanded.ok ? { ok: true, cells: expanded.cells.map((c) => c.cell) } : expanded;
}

// ---------------------------------------------------------------------------------------------------------------
// Graph
// ---------------------------------------------------------------------------------------------------------------

/**
 * Unknown `needs` and cycles (GitHub rejects both before running anything), checked by the workflow parser's
 * `validateNeedsGraph` and reported here at the position of the job that declares the problem. The parser reports
 * them too; the planner checks again because it may be handed a workflow that did not come from the parser.
 */
export function checkNeedsGraph(jobs: readonly JobSpec[], file: string): Diagnostic[] {
  const byId = new Map(jobs.map((job) => [job.id, job]));
  return validateNeedsGraph(jobs).problems.map((problem) =>
    at(file, byId.get(problem.job)?.pos ?? { line: 1, col: 1 }, problem.message),
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Plan
// ---------------------------------------------------------------------------------------------------------------

function at(file: string, pos: SourcePos, message: string): Diagnostic {
  return { file, line: pos.line, col: pos.col, message };
}

/**
 * Evaluates an env value now when it reads only plan-time contexts and its result holds no `${{` (the runner
 * evaluates env again, so a result such as a commit message containing `${{` must not be handed on as a template).
 * Anything else (steps, needs, runner, a parse error for the runner to report) is kept verbatim.
 */
function planEnvValue(value: string, ctx: ExpressionContext): string {
  if (!hasExpression(value)) return value;
  const used = contextsUsed(value);
  if (used === undefined || [...used].some((name) => !PLAN_TIME_CONTEXTS.has(name))) return value;
  const result = interpolate(value, ctx);
  return result.ok && !hasExpression(result.value) ? result.value : value;
}

function displayName(
  job: JobSpec,
  ctx: ExpressionContext,
  shown: readonly MatrixValue[] | undefined,
): { ok: true; name: string } | { ok: false; error: string } {
  let name: string;
  if (job.name !== undefined && hasExpression(job.name)) {
    // A name built from expressions (`Test ${{ matrix.os }}`) already says which cell it is: GitHub shows it as
    // evaluated, without appending the matrix values.
    const result = interpolate(job.name, ctx);
    if (!result.ok) return { ok: false, error: `name: ${result.error}` };
    name = result.value;
  } else {
    name = job.name ?? job.id;
    const segments = shown === undefined ? [] : displaySegments(shown);
    if (segments.length > 0) name = `${name} (${segments.join(', ')})`;
  }
  if (name.length > MAX_DISPLAY_NAME_LENGTH) name = `${name.slice(0, MAX_DISPLAY_NAME_LENGTH - 3)}...`;
  return { ok: true, name };
}

/**
 * Plans a run: every job's matrix expanded into orders, in file order and cell order.
 * - Order ids: the job id for a job without a matrix; `<job>.<n>` (n from 1, expansion order) for a matrix job.
 * - `needsOrders`: every order of every needed job. A needed job whose matrix expanded to zero cells has no orders,
 *   so it adds none; whoever builds the `needs` context for the dependent must report such a job as `skipped`
 *   (GitHub's result for a job that did not run), which skips the dependent under the implicit `success()` and
 *   still runs it under `always()`.
 * - `runsOn`, the display name and an expression `continue-on-error` are evaluated per cell with `github`, `matrix`
 *   and `strategy`; `if` and the step-time env values are kept for the engine and the runner.
 */
export function planRun(input: PlanInput): PlanResult {
  const { workflow, github } = input;
  const file = workflow.file;
  const diagnostics: Diagnostic[] = checkNeedsGraph(workflow.jobs, file);
  const githubCtx = github as unknown as Readonly<Record<string, unknown>>;

  const expandedByJob = new Map<string, ExpandedCell[] | undefined>();
  for (const job of workflow.jobs) {
    if (job.matrix === undefined) {
      expandedByJob.set(job.id, undefined);
      continue;
    }
    const expanded = expand(job.matrix);
    if (!expanded.ok) {
      diagnostics.push(at(file, job.pos, `Job '${job.id}': ${expanded.error}`));
      continue;
    }
    expandedByJob.set(job.id, expanded.cells);
  }

  const orderIds = new Map<string, string[]>();
  for (const job of workflow.jobs) {
    if (!expandedByJob.has(job.id)) continue;
    const cells = expandedByJob.get(job.id);
    orderIds.set(job.id, cells === undefined ? [job.id] : cells.map((_, i) => `${job.id}.${i + 1}`));
  }

  const orders: OrderSpec[] = [];
  for (const job of workflow.jobs) {
    if (!expandedByJob.has(job.id)) continue;
    const cells = expandedByJob.get(job.id);
    const ids = orderIds.get(job.id) ?? [];
    const needsOrders = job.needs.flatMap((need) => orderIds.get(need) ?? []);
    const cellList: readonly (ExpandedCell | undefined)[] = cells ?? [undefined];
    cellList.forEach((expanded, index) => {
      const matrix: MatrixCell = expanded?.cell ?? {};
      const strategy: StrategyContext = {
        'fail-fast': job.failFast,
        'job-index': index,
        'job-total': cellList.length,
        'max-parallel': job.maxParallel ?? cellList.length,
      };
      const ctx: ExpressionContext = { github: githubCtx, matrix, strategy };
      const problems: string[] = [];

      const name = displayName(job, ctx, expanded?.shown);
      if (!name.ok) problems.push(name.error);

      const runsOn = interpolate(job.runsOn, ctx);
      if (!runsOn.ok) problems.push(`runs-on: ${runsOn.error}`);
      else if (runsOn.value.trim() === '') problems.push(`runs-on '${job.runsOn}' evaluated to an empty label`);

      let continueOnError = false;
      if (typeof job.continueOnError === 'boolean') {
        continueOnError = job.continueOnError;
      } else {
        const value = evaluateValue(job.continueOnError, ctx);
        if (!value.ok) problems.push(`continue-on-error: ${value.error}`);
        else if (typeof value.value === 'boolean') continueOnError = value.value;
        else
          problems.push(
            `continue-on-error '${job.continueOnError}' must evaluate to true or false, got ${JSON.stringify(value.value)}`,
          );
      }

      const env: Record<string, string> = {};
      for (const source of [workflow.env, job.env]) {
        for (const [key, value] of Object.entries(source)) {
          Object.defineProperty(env, key, {
            value: planEnvValue(value, ctx),
            enumerable: true,
            writable: true,
            configurable: true,
          });
        }
      }

      const where = cells === undefined ? `Job '${job.id}'` : `Job '${job.id}' (matrix cell ${index + 1})`;
      for (const problem of problems) diagnostics.push(at(file, job.pos, `${where}: ${problem}`));
      if (problems.length > 0 || !name.ok || !runsOn.ok) return;

      orders.push({
        id: ids[index] ?? job.id,
        job: job.id,
        name: name.name,
        needs: job.needs,
        needsOrders,
        runsOn: runsOn.value.trim(),
        matrix,
        ...(job.if !== undefined ? { if: job.if } : {}),
        timeoutMinutes: job.timeoutMinutes,
        continueOnError,
        failFast: job.failFast,
        ...(job.maxParallel !== undefined ? { maxParallel: job.maxParallel } : {}),
        strategy,
        env,
        steps: job.steps,
        outputExprs: job.outputs,
      });
    });
  }

  let concurrency: RunPlan['concurrency'];
  if (workflow.concurrency !== undefined) {
    const group = interpolate(workflow.concurrency.group, { github: githubCtx });
    if (!group.ok) {
      // ConcurrencySpec carries no position of its own; the diagnostic points at the top of the file.
      diagnostics.push(at(file, { line: 1, col: 1 }, `concurrency.group: ${group.error}`));
    } else {
      concurrency = { group: group.value, cancelInProgress: workflow.concurrency.cancelInProgress };
    }
  }

  if (diagnostics.length > 0) return { ok: false, diagnostics };
  return {
    ok: true,
    plan: {
      file,
      workflowName: workflow.name,
      orders,
      ...(concurrency !== undefined ? { concurrency } : {}),
    },
  };
}
