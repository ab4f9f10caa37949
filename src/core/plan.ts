/**
 * The planner: a parsed workflow plus the `github` context → the run's orders (one per matrix cell) and their graph.
 * Pure: no I/O, no clock. Expression errors become diagnostics at the job's position, never throws.
 *
 * Matrix expansion is in matrix-expansion.ts; here a run is planned in named steps: expand each job's matrix, number
 * the orders, plan each cell (display name, runs-on, continue-on-error, env), and the concurrency group.
 */
import {
  contextsUsed,
  evaluateValue,
  hasExpression,
  interpolate,
  type ExpressionContext,
} from './workflow/expressions.ts';
import { displaySegments, expand, type ExpandedCell } from './matrix-expansion.ts';
import { evaluateMinutes } from './workflow/evaluate-setting.ts';
import { validateNeedsGraph } from './workflow/needs-graph.ts';
import type {
  Diagnostic,
  EnvironmentSpec,
  GithubContext,
  InputValues,
  JobSpec,
  MatrixCell,
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
  /** The operator's variables for the repository (`vars`); absent: none, so `vars.X` is ''. */
  vars?: Readonly<Record<string, string>>;
  /** The `inputs` context (a reusable workflow's `with:`); absent: empty, as for push and pull_request. */
  inputs?: InputValues;
}

export type PlanResult = { ok: true; plan: RunPlan } | { ok: false; diagnostics: Diagnostic[] };

export { expandMatrix, type MatrixExpansion } from './matrix-expansion.ts';

/** GitHub truncates a job's display name to 100 characters, ending it with `...` (actions/runner JobNameBuilder). */
const MAX_DISPLAY_NAME_LENGTH = 100;

/** Contexts whose values are known when the run is planned; a value reading anything else waits for the runner. */
const PLAN_TIME_CONTEXTS: ReadonlySet<string> = new Set(['github', 'matrix', 'strategy', 'vars', 'inputs']);

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
 * - `permissions`: the job's, else the workflow's (a job's replaces the workflow's whole, as on GitHub).
 */
export function planRun(input: PlanInput): PlanResult {
  const { workflow, github } = input;
  const file = workflow.file;
  const diagnostics: Diagnostic[] = checkNeedsGraph(workflow.jobs, file);
  const base: ExpressionContext = {
    github: github as unknown as Readonly<Record<string, unknown>>,
    vars: input.vars ?? {},
    inputs: input.inputs ?? {},
  };
  const expandedByJob = expandJobs(workflow, diagnostics);
  const orderIds = orderIdsOf(workflow.jobs, expandedByJob);

  const orders: OrderSpec[] = [];
  for (const job of workflow.jobs) {
    if (!expandedByJob.has(job.id)) continue;
    const cells = expandedByJob.get(job.id);
    const ids = orderIds.get(job.id) ?? [];
    const needsOrders = job.needs.flatMap((need) => orderIds.get(need) ?? []);
    if (job.matrixTemplate !== undefined) {
      orders.push(planDynamicMatrixJob(workflow, job, needsOrders, input.inputs));
      continue;
    }
    const cellList: readonly (ExpandedCell | undefined)[] = cells ?? [undefined];
    cellList.forEach((expanded, index) => {
      const id = ids[index] ?? job.id;
      const planned = planCell(workflow, job, base, { expanded, index, total: cellList.length, id, needsOrders });
      if (planned.ok) {
        orders.push(planned.order);
        return;
      }
      const where = cells === undefined ? `Job '${job.id}'` : `Job '${job.id}' (matrix cell ${index + 1})`;
      for (const problem of planned.problems) diagnostics.push(at(file, job.pos, `${where}: ${problem}`));
    });
  }

  const concurrency = planConcurrency(workflow, base, diagnostics);
  if (diagnostics.length > 0) return { ok: false, diagnostics };
  return {
    ok: true,
    plan: {
      file,
      workflowName: workflow.name,
      orders: withInputs(orders, input.inputs),
      ...(concurrency !== undefined ? { concurrency } : {}),
      ...(input.vars !== undefined && Object.keys(input.vars).length > 0 ? { vars: input.vars } : {}),
    },
  };
}

/** The orders, each carrying the `inputs` context when there is one. */
function withInputs(orders: readonly OrderSpec[], inputs: InputValues | undefined): readonly OrderSpec[] {
  return inputs === undefined ? orders : orders.map((order) => ({ ...order, inputs }));
}

/**
 * Each job's expanded matrix cells (`undefined` for a job without a matrix). A job whose matrix cannot expand gets a
 * diagnostic and no entry.
 */
function expandJobs(workflow: Workflow, diagnostics: Diagnostic[]): Map<string, ExpandedCell[] | undefined> {
  const expandedByJob = new Map<string, ExpandedCell[] | undefined>();
  for (const job of workflow.jobs) {
    if (job.matrix === undefined) {
      expandedByJob.set(job.id, undefined);
      continue;
    }
    const expanded = expand(job.matrix);
    if (!expanded.ok) {
      diagnostics.push(at(workflow.file, job.pos, `Job '${job.id}': ${expanded.error}`));
      continue;
    }
    expandedByJob.set(job.id, expanded.cells);
  }
  return expandedByJob;
}

/** Order ids per job: the job id without a matrix, `<job>.<n>` per cell with one. */
function orderIdsOf(
  jobs: readonly JobSpec[],
  expandedByJob: ReadonlyMap<string, ExpandedCell[] | undefined>,
): Map<string, string[]> {
  const orderIds = new Map<string, string[]>();
  for (const job of jobs) {
    if (!expandedByJob.has(job.id)) continue;
    const cells = expandedByJob.get(job.id);
    orderIds.set(job.id, cells === undefined ? [job.id] : cells.map((_, i) => `${job.id}.${i + 1}`));
  }
  return orderIds;
}

/**
 * The one order that stands for a job whose matrix is built from expressions: its cells are planned when it becomes
 * ready (src/core/dynamic-matrix.ts), so it holds the job as parsed and runs nothing itself.
 */
function planDynamicMatrixJob(
  workflow: Workflow,
  job: JobSpec,
  needsOrders: readonly string[],
  inputs: InputValues | undefined,
): OrderSpec {
  return {
    id: job.id,
    job: job.id,
    name: job.name !== undefined && !hasExpression(job.name) ? job.name : job.id,
    needs: job.needs,
    needsOrders,
    runsOn: job.runsOn,
    matrix: {},
    ...(job.if !== undefined ? { if: job.if } : {}),
    timeoutMinutes: typeof job.timeoutMinutes === 'number' ? job.timeoutMinutes : 360,
    continueOnError: false,
    failFast: job.failFast,
    ...(job.maxParallel !== undefined ? { maxParallel: job.maxParallel } : {}),
    env: {},
    steps: [],
    outputExprs: job.outputs,
    ...(inputs !== undefined ? { inputs } : {}),
    dynamicMatrix: {
      job,
      workflowEnv: workflow.env,
      ...(workflow.permissions !== undefined ? { workflowPermissions: workflow.permissions } : {}),
    },
  };
}

/** One cell's order, or every problem it has. */
export type PlannedCell =
  { readonly ok: true; readonly order: OrderSpec } | { readonly ok: false; readonly problems: readonly string[] };

/**
 * Plans one matrix cell of a job (the only cell of a job without a matrix), with its `strategy` context. `base` holds
 * the contexts known for the whole job (`github`, `vars`, `inputs`, and `needs` once a dynamic matrix expands).
 */
export function planCell(
  workflow: Pick<Workflow, 'env' | 'permissions'>,
  job: JobSpec,
  base: ExpressionContext,
  cell: {
    readonly expanded: ExpandedCell | undefined;
    readonly index: number;
    readonly total: number;
    readonly id: string;
    readonly needsOrders: readonly string[];
  },
): PlannedCell {
  const matrix: MatrixCell = cell.expanded?.cell ?? {};
  const strategy: StrategyContext = {
    'fail-fast': job.failFast,
    'job-index': cell.index,
    'job-total': cell.total,
    'max-parallel': job.maxParallel ?? cell.total,
  };
  const ctx: ExpressionContext = { ...base, matrix, strategy };
  const problems: string[] = [];

  const name = displayName(job, ctx, cell.expanded?.shown);
  if (!name.ok) problems.push(name.error);

  const runsOn = interpolate(job.runsOn, ctx);
  if (!runsOn.ok) problems.push(`runs-on: ${runsOn.error}`);
  else if (runsOn.value.trim() === '') problems.push(`runs-on '${job.runsOn}' evaluated to an empty label`);

  const continueOnError = continueOnErrorOf(job, ctx, problems);
  const timeout = evaluateMinutes(job.timeoutMinutes, ctx);
  if (!timeout.ok) problems.push(`timeout-minutes ${timeout.error}`);
  const env = planEnv(workflow, job, ctx);
  const permissions = job.permissions ?? workflow.permissions;
  if (problems.length > 0 || !name.ok || !runsOn.ok || !timeout.ok) return { ok: false, problems };
  return {
    ok: true,
    order: {
      id: cell.id,
      job: job.id,
      name: name.name,
      needs: job.needs,
      needsOrders: cell.needsOrders,
      runsOn: runsOn.value.trim(),
      matrix,
      ...(job.if !== undefined ? { if: job.if } : {}),
      timeoutMinutes: timeout.value,
      continueOnError,
      failFast: job.failFast,
      ...(job.maxParallel !== undefined ? { maxParallel: job.maxParallel } : {}),
      strategy,
      env,
      steps: job.steps,
      outputExprs: job.outputs,
      ...(permissions !== undefined ? { permissions } : {}),
      ...(job.environment !== undefined ? { environment: planEnvironment(job.environment, ctx) } : {}),
      ...(job.concurrency !== undefined
        ? { concurrency: { ...job.concurrency, group: planEnvValue(job.concurrency.group, ctx) } }
        : {}),
    },
  };
}

/** The job's environment, its name and URL evaluated now when they read only plan-time contexts (`planEnvValue`). */
function planEnvironment(environment: EnvironmentSpec, ctx: ExpressionContext): EnvironmentSpec {
  const name = planEnvValue(environment.name, ctx);
  return environment.url === undefined ? { name } : { name, url: planEnvValue(environment.url, ctx) };
}

/** A job's `continue-on-error`: a boolean, or an expression that must evaluate to one (else a problem, and false). */
function continueOnErrorOf(job: JobSpec, ctx: ExpressionContext, problems: string[]): boolean {
  if (typeof job.continueOnError === 'boolean') return job.continueOnError;
  const value = evaluateValue(job.continueOnError, ctx);
  if (!value.ok) problems.push(`continue-on-error: ${value.error}`);
  else if (typeof value.value === 'boolean') return value.value;
  else
    problems.push(
      `continue-on-error '${job.continueOnError}' must evaluate to true or false, got ${JSON.stringify(value.value)}`,
    );
  return false;
}

/** The workflow's env, then the job's, each value evaluated now when it can be (`planEnvValue`). */
function planEnv(workflow: Pick<Workflow, 'env'>, job: JobSpec, ctx: ExpressionContext): Record<string, string> {
  const env: Record<string, string> = {};
  for (const source of [workflow.env, job.env]) {
    for (const [key, value] of Object.entries(source)) {
      // defineProperty, not assignment: a key such as `__proto__` is an env name like any other.
      Object.defineProperty(env, key, {
        value: planEnvValue(value, ctx),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
  }
  return env;
}

/** The run's concurrency group, evaluated with `github`; an error is a diagnostic at the top of the file. */
function planConcurrency(
  workflow: Workflow,
  base: ExpressionContext,
  diagnostics: Diagnostic[],
): RunPlan['concurrency'] {
  if (workflow.concurrency === undefined) return undefined;
  const group = interpolate(workflow.concurrency.group, base);
  if (!group.ok) {
    // ConcurrencySpec carries no position of its own; the diagnostic points at the top of the file.
    diagnostics.push(at(workflow.file, { line: 1, col: 1 }, `concurrency.group: ${group.error}`));
    return undefined;
  }
  return { group: group.value, cancelInProgress: workflow.concurrency.cancelInProgress };
}
