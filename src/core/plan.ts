/**
 * The planner: a parsed workflow plus the `github` context → the run's orders (one per matrix cell) and their graph.
 * Pure: no I/O, no clock. Expression errors become diagnostics at the job's position, never throws.
 *
 * Matrix expansion is in matrix-expansion.ts; here a run is planned in named steps: expand each job's matrix, number
 * the orders, plan each cell (display name, runs-on, continue-on-error, env), and the concurrency group.
 */
import {
  contextsUsed,
  evaluateFlag,
  evaluateValue,
  hasExpression,
  interpolate,
  type ExpressionContext,
} from './workflow/expressions.ts';
import { displaySegments, expand, type ExpandedCell } from './matrix-expansion.ts';
import { evaluateMinutes } from './workflow/evaluate-setting.ts';
import { validateNeedsGraph } from './workflow/needs-graph.ts';
import { resolveSelfActions } from './self-actions.ts';
import { MAX_UNIQUE_CALLED_WORKFLOWS, MAX_WORKFLOW_LEVELS } from './limits.ts';
import {
  callInputs,
  callKey,
  mergeCallNeeds,
  narrowPermissions,
  readsLateInputs,
  resolveWorkflowRef,
  secretProblems,
  type CalleeLookup,
} from './plan-calls.ts';
import type {
  CallGate,
  CallNeed,
  CallStrategy,
  CallSecrets,
  ConcurrencySpec,
  Diagnostic,
  EnvironmentSpec,
  GithubContext,
  InputValues,
  JobSpec,
  MatrixCell,
  MatrixValue,
  OrderSpec,
  Permissions,
  RunPlan,
  SourcePos,
  StrategyContext,
  Workflow,
  WorkflowCall,
  WorkflowRef,
} from './types.ts';

export interface PlanInput {
  workflow: Workflow;
  github: GithubContext;
  /** The reusable workflows it calls, read beforehand (`readCallees`); absent: a call is "not read". */
  callees?: CalleeLookup;
  /** The operator's variables for the repository (`vars`); absent: none, so `vars.X` is ''. */
  vars?: Readonly<Record<string, string>>;
  /** The `inputs` context of the top-level workflow; absent: empty, as for push and pull_request. */
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
function planEnvValue(value: string, ctx: ExpressionContext, late?: ReadonlySet<string>): string {
  if (!hasExpression(value) || (late !== undefined && readsLateInputs(value, late).length > 0)) return value;
  const used = contextsUsed(value);
  if (used === undefined || [...used].some((name) => !PLAN_TIME_CONTEXTS.has(name))) return value;
  const result = interpolate(value, ctx);
  return result.ok && !hasExpression(result.value) ? result.value : value;
}

function displayName(
  job: JobSpec,
  ctx: ExpressionContext,
  shown: readonly MatrixValue[] | undefined,
  late?: ReadonlySet<string>,
): { ok: true; name: string } | { ok: false; error: string } {
  let name: string;
  if (job.name !== undefined && late !== undefined && readsLateInputs(job.name, late).length > 0) {
    // A name that reads an input known only when the calling job is ready is shown as written, as GitHub shows a
    // job's name before the job starts.
    name = job.name;
  } else if (job.name !== undefined && hasExpression(job.name)) {
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
 * - A job that calls a reusable workflow (`uses:`) has no orders of its own: each of its cells plans the callee's
 *   jobs, from `callees`, as orders `<call>.<job>` named `call / job`, waiting for what the calling job needs and
 *   gated by its needs and `if` (`gates`); a job that needs the call waits for all of them (`calls` maps its outputs).
 */
export function planRun(input: PlanInput): PlanResult {
  const { workflow, github } = input;
  const file = workflow.file;
  const diagnostics: Diagnostic[] = checkNeedsGraph(workflow.jobs, file);
  const state: PlanState = {
    github: github as unknown as Readonly<Record<string, unknown>>,
    vars: input.vars ?? {},
    callees: input.callees ?? (() => undefined),
    diagnostics,
    unique: new Set(),
    deferred: [],
  };
  const planned = planScope(state, {
    workflow,
    gates: [],
    secretsPassed: [],
    implicitNeeds: [],
    chain: [],
    ...(input.inputs !== undefined ? { inputs: input.inputs } : {}),
  });
  const orders = workflow.jobs.flatMap((job) => planned.ordersByJob.get(job.id) ?? []);
  const concurrency = planConcurrency(workflow, baseContext(state, input.inputs), diagnostics);
  if (diagnostics.length > 0) return { ok: false, diagnostics };
  return {
    ok: true,
    plan: {
      file,
      workflowName: workflow.name,
      orders,
      ...(concurrency !== undefined ? { concurrency } : {}),
      ...(state.deferred.length > 0 ? { deferredCalls: state.deferred } : {}),
      ...(input.vars !== undefined && Object.keys(input.vars).length > 0 ? { vars: input.vars } : {}),
    },
  };
}

/** What planning one run shares across the workflows it calls. */
interface PlanState {
  readonly github: Readonly<Record<string, unknown>>;
  readonly vars: Readonly<Record<string, string>>;
  readonly callees: CalleeLookup;
  readonly diagnostics: Diagnostic[];
  /** Every callee key met, for GitHub's limit on unique reusable workflows per run. */
  readonly unique: Set<string>;
  readonly deferred: { job: string; uses: string }[];
}

/** One workflow being planned: the top-level one, or a callee inside the calling order `prefix`. */
interface Scope {
  readonly workflow: Workflow;
  /** The calling order's id; absent at the top level. */
  readonly prefix?: string;
  /** `caller / ` display names, outermost first. */
  readonly namePrefix?: string;
  readonly gates: readonly CallGate[];
  readonly inputs?: Readonly<Record<string, string | number | boolean>>;
  readonly secretsPassed: readonly CallSecrets[];
  /** Orders every job of this scope waits for: what the calling job needs. */
  readonly implicitNeeds: readonly string[];
  /** The calling job's token permissions, which the callee's can only narrow. */
  readonly permissions?: Permissions;
  /** Callee keys from the top-level workflow down to this one (cycles, nesting depth). */
  readonly chain: readonly string[];
  /** Inputs of this scope that the call's `with:` sets from `needs`: unknown until the calling job is ready. */
  readonly lateInputs?: ReadonlySet<string>;
  /** Where this workflow was read from, for its own `./` calls. */
  readonly within?: WorkflowRef;
  /** The outermost calling job's `concurrency` that governs this scope's orders, and that calling order's id. */
  readonly concurrency?: { readonly spec: ConcurrencySpec; readonly unit: string };
}

interface PlannedScope {
  readonly ordersByJob: Map<string, OrderSpec[]>;
  readonly idsByJob: Map<string, string[]>;
  readonly callNeeds: Map<string, CallNeed>;
}

/** Plans a workflow's jobs in needs order (a job's needs' order ids must be known), each into its orders. */
function planScope(state: PlanState, scope: Scope): PlannedScope {
  const workflow = resolveSelfActions(scope.workflow, scope.within);
  const out: PlannedScope = { ordersByJob: new Map(), idsByJob: new Map(), callNeeds: new Map() };
  const expandedByJob = expandJobs(workflow, state.diagnostics);
  for (const job of needsOrder(workflow.jobs)) {
    if (!expandedByJob.has(job.id)) continue;
    const cells = expandedByJob.get(job.id);
    const key = scope.prefix === undefined ? job.id : `${scope.prefix}.${job.id}`;
    const ids = cells === undefined ? [key] : cells.map((_, i) => `${key}.${i + 1}`);
    const needsOrders = [
      ...new Set([...job.needs.flatMap((need) => out.idsByJob.get(need) ?? []), ...scope.implicitNeeds]),
    ];
    const calls = callsOf(job, out.callNeeds);
    if (job.matrixTemplate !== undefined && job.call === undefined) {
      const placeholder = planDynamicMatrixJob(workflow, job, needsOrders, scope);
      out.ordersByJob.set(job.id, [{ ...placeholder, id: key, ...scopeFields(scope, calls) }]);
      out.idsByJob.set(job.id, [key]);
      continue;
    }
    const cellList: readonly (ExpandedCell | undefined)[] = cells ?? [undefined];
    const orders: OrderSpec[] = [];
    const callCells: CallNeed[] = [];
    cellList.forEach((expanded, index) => {
      const id = ids[index] ?? key;
      const cell = { expanded, index, total: cellList.length, id, needsOrders };
      const where = cells === undefined ? `Job '${job.id}'` : `Job '${job.id}' (matrix cell ${index + 1})`;
      if (job.call !== undefined) {
        const called = planCallCell(state, scope, job, job.call, cell, calls);
        if (called.ok) {
          orders.push(...called.orders);
          callCells.push(called.need);
        } else
          for (const problem of called.problems)
            state.diagnostics.push(at(workflow.file, job.pos, `${where}: ${problem}`));
        return;
      }
      const planned = planCell(workflow, job, baseContext(state, scope.inputs), cell, scope);
      if (planned.ok) orders.push({ ...planned.order, ...scopeFields(scope, calls) });
      else
        for (const problem of planned.problems)
          state.diagnostics.push(at(workflow.file, job.pos, `${where}: ${problem}`));
    });
    out.ordersByJob.set(job.id, orders);
    out.idsByJob.set(job.id, job.call === undefined ? ids : orders.map((o) => o.id));
    const merged = mergeCallNeeds(callCells);
    if (merged !== undefined) out.callNeeds.set(job.id, merged);
  }
  return out;
}

/** The fields an order of a called workflow carries (none at the top level, so plans without calls are unchanged). */
function scopeFields(scope: Scope, calls: Readonly<Record<string, CallNeed>> | undefined): Partial<OrderSpec> {
  return {
    ...(scope.prefix !== undefined ? { scope: scope.prefix } : {}),
    ...(calls !== undefined ? { calls } : {}),
    ...(scope.gates.length > 0 ? { gates: scope.gates } : {}),
    ...(scope.inputs !== undefined ? { inputs: scope.inputs } : {}),
    ...(scope.secretsPassed.length > 0 ? { secretsPassed: scope.secretsPassed } : {}),
    ...(scope.concurrency !== undefined
      ? { concurrency: scope.concurrency.spec, concurrencyUnit: scope.concurrency.unit }
      : {}),
    ...(scope.prefix !== undefined && scope.within !== undefined ? { calledWorkflow: scope.within } : {}),
  };
}

/** The job's needs that are calls, with their callee's jobs and outputs. */
function callsOf(job: JobSpec, callNeeds: ReadonlyMap<string, CallNeed>): Record<string, CallNeed> | undefined {
  const pairs = job.needs.flatMap((need) => {
    const call = callNeeds.get(need);
    return call === undefined ? [] : [[need, call] as const];
  });
  return pairs.length === 0 ? undefined : Object.fromEntries(pairs);
}

/** Jobs with each after its needs (file order otherwise); a job in a cycle (reported already) comes last. */
function needsOrder(jobs: readonly JobSpec[]): JobSpec[] {
  const done = new Set<string>();
  const ids = new Set(jobs.map((j) => j.id));
  const ordered: JobSpec[] = [];
  let progress = true;
  while (progress && ordered.length < jobs.length) {
    progress = false;
    for (const job of jobs) {
      if (done.has(job.id) || !job.needs.every((n) => done.has(n) || !ids.has(n))) continue;
      done.add(job.id);
      ordered.push(job);
      progress = true;
    }
  }
  return [...ordered, ...jobs.filter((j) => !done.has(j.id))];
}

type PlannedCall =
  | { readonly ok: true; readonly orders: readonly OrderSpec[]; readonly need: CallNeed }
  | { readonly ok: false; readonly problems: readonly string[] };

/**
 * One cell of a calling job: the callee found and checked (cycles, GitHub's nesting and unique-workflow limits,
 * `on.workflow_call`, inputs, secrets), then its jobs planned as orders of this run, inside the calling order.
 */
function planCallCell(
  state: PlanState,
  scope: Scope,
  job: JobSpec,
  call: WorkflowCall,
  cell: CellInput,
  calls: Readonly<Record<string, CallNeed>> | undefined,
): PlannedCall {
  const key = callKey(call.workflow, scope.within);
  if (scope.chain.includes(key))
    return fail(`\`${call.uses}\` calls itself: ${[...scope.chain, key].join(' → ')} is a cycle`);
  if (scope.chain.length + 2 > MAX_WORKFLOW_LEVELS)
    return fail(
      `\`${call.uses}\` would be level ${scope.chain.length + 2} of nested workflows; GitHub connects at most ${MAX_WORKFLOW_LEVELS} (the caller and ${MAX_WORKFLOW_LEVELS - 1} called)`,
    );
  state.unique.add(key);
  if (state.unique.size > MAX_UNIQUE_CALLED_WORKFLOWS)
    return fail(
      `\`${call.uses}\` is one more unique reusable workflow than the ${MAX_UNIQUE_CALLED_WORKFLOWS} GitHub allows per run`,
    );
  const file = state.callees(key);
  if (file === undefined) return fail(`\`${call.uses}\` was not read`);
  if (file.kind === 'deferred') {
    state.deferred.push({ job: cell.id, uses: key });
    return { ok: true, orders: [], need: { jobs: {}, outputs: {} } };
  }
  if (file.kind === 'unreadable') return fail(`\`${call.uses}\` could not be read: ${file.reason}`);
  if (file.kind === 'invalid') {
    for (const d of file.diagnostics)
      if (
        !state.diagnostics.some(
          (e) => e.file === d.file && e.line === d.line && e.col === d.col && e.message === d.message,
        )
      )
        state.diagnostics.push(d);
    return fail(`\`${call.uses}\` is not a valid workflow (see its errors)`);
  }
  const callee = file.workflow;
  if (callee.call === undefined)
    return fail(`\`${call.uses}\` is not a reusable workflow: its \`on\` does not list \`workflow_call\``);

  const matrix: MatrixCell = cell.expanded?.cell ?? {};
  const strategy = strategyOf(job, cell);
  const ctx: ExpressionContext = {
    github: state.github,
    vars: state.vars,
    matrix,
    strategy,
    ...(scope.inputs ? { inputs: scope.inputs } : {}),
  };
  const name = displayName(job, ctx, cell.expanded?.shown, scope.lateInputs);
  const { inputs, late, problems } = callInputs(callee.call, call, ctx, scope.lateInputs);
  problems.push(...secretProblems(callee.call, call));
  if (!name.ok) problems.push(name.error);
  if (problems.length > 0 || !name.ok) return { ok: false, problems };

  const lateNames = new Set(Object.keys(late));
  const jobKey = scope.prefix === undefined ? job.id : `${scope.prefix}.${job.id}`;
  const gate: CallGate = {
    caller: cell.id,
    needs: job.needs,
    ...(scope.prefix !== undefined ? { scope: scope.prefix } : {}),
    ...(calls !== undefined ? { calls } : {}),
    ...(job.if !== undefined ? { if: job.if } : {}),
    matrix,
    ...(scope.inputs !== undefined && Object.keys(scope.inputs).length > 0 ? { inputs: scope.inputs } : {}),
    ...(lateNames.size > 0 ? { lateWith: { uses: call.uses, strategy, values: late } } : {}),
    ...(cell.expanded !== undefined
      ? {
          strategy: {
            job: jobKey,
            failFast: job.failFast,
            ...(job.maxParallel !== undefined ? { maxParallel: job.maxParallel } : {}),
            orders: 0,
          },
        }
      : {}),
  };
  const inner = planScope(state, {
    workflow: callee,
    prefix: cell.id,
    namePrefix: `${scope.namePrefix ?? ''}${name.name} / `,
    gates: [...scope.gates, gate],
    inputs,
    ...(lateNames.size > 0 ? { lateInputs: lateNames } : {}),
    secretsPassed: [...scope.secretsPassed, call.secrets ?? {}],
    implicitNeeds: cell.needsOrders,
    ...withPermissions(narrowPermissions(scope.permissions, job.permissions ?? scope.workflow.permissions)),
    chain: [...scope.chain, key],
    within: resolveWorkflowRef(call.workflow, scope.within),
    ...callerConcurrency(scope, job, { ...baseContext(state, scope.inputs), matrix, strategy }, cell.id),
  });
  const jobs = Object.fromEntries(
    callee.jobs.map((j) => {
      const nested = inner.callNeeds.get(j.id);
      return [j.id, { orders: inner.idsByJob.get(j.id) ?? [], ...(nested ? { call: nested } : {}) }];
    }),
  );
  const orders = callee.jobs.flatMap((j) => inner.ordersByJob.get(j.id) ?? []);
  return {
    ok: true,
    orders: gate.strategy === undefined ? orders : withCellSize(orders, cell.id, gate.strategy),
    need: { jobs, outputs: callee.call.outputs },
  };
}

/**
 * A calling job's `concurrency` governs its called workflow as a unit (GitHub applies it to the calling job, which is
 * the whole called workflow): every order of the callee carries it, with the calling order's id as the group member
 * they form together (src/core/job-concurrency.ts). A callee job's own `concurrency` gives way to it (an order is in
 * one group), and an enclosing call's concurrency to an outer one.
 */
function callerConcurrency(
  scope: Scope,
  job: JobSpec,
  ctx: ExpressionContext,
  caller: string,
): Pick<Scope, 'concurrency'> {
  if (scope.concurrency !== undefined) return { concurrency: scope.concurrency };
  if (job.concurrency === undefined) return {};
  const spec = { ...job.concurrency, group: planEnvValue(job.concurrency.group, ctx) };
  return { concurrency: { spec, unit: caller } };
}

/** The orders of one cell of a matrix of calls, their gate for that cell told how many orders the cell has. */
function withCellSize(orders: readonly OrderSpec[], caller: string, strategy: CallStrategy): OrderSpec[] {
  const sized = { ...strategy, orders: orders.length };
  return orders.map((order) => ({
    ...order,
    gates: (order.gates ?? []).map((g) => (g.caller === caller ? { ...g, strategy: sized } : g)),
  }));
}

function withPermissions(permissions: Permissions | undefined): { permissions?: Permissions } {
  return permissions === undefined ? {} : { permissions };
}

function fail(problem: string): PlannedCall {
  return { ok: false, problems: [problem] };
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

/** One cell's order, or every problem it has. */
export type PlannedCell =
  { readonly ok: true; readonly order: OrderSpec } | { readonly ok: false; readonly problems: readonly string[] };

export interface CellInput {
  readonly expanded: ExpandedCell | undefined;
  readonly index: number;
  readonly total: number;
  readonly id: string;
  readonly needsOrders: readonly string[];
}

function strategyOf(job: JobSpec, cell: CellInput): StrategyContext {
  return {
    'fail-fast': job.failFast,
    'job-index': cell.index,
    'job-total': cell.total,
    'max-parallel': job.maxParallel ?? cell.total,
  };
}

/**
 * Plans one matrix cell of a job (the only cell of a job without a matrix), with its `strategy` context; inside a
 * called workflow, with its `inputs`, its job key and name under the calling order, its permissions narrowed.
 */
export function planCell(
  workflow: Pick<Workflow, 'env' | 'permissions'>,
  job: JobSpec,
  base: ExpressionContext,
  cell: CellInput,
  scope: Pick<Scope, 'prefix' | 'namePrefix' | 'permissions' | 'lateInputs'> = {},
): PlannedCell {
  const matrix: MatrixCell = cell.expanded?.cell ?? {};
  const strategy = strategyOf(job, cell);
  const ctx: ExpressionContext = { ...base, matrix, strategy };
  const late = scope.lateInputs;
  const problems: string[] = [];
  for (const [key, value] of [
    ['runs-on', job.runsOn],
    ['timeout-minutes', job.timeoutMinutes],
    ['continue-on-error', job.continueOnError],
  ] as const) {
    const problem = lateProblem(key, value, late);
    if (problem !== undefined) problems.push(problem);
  }
  if (problems.length > 0) return { ok: false, problems };

  const name = displayName(job, ctx, cell.expanded?.shown, late);
  if (!name.ok) problems.push(name.error);

  const runsOn = interpolate(job.runsOn, ctx);
  if (!runsOn.ok) problems.push(`runs-on: ${runsOn.error}`);
  else if (runsOn.value.trim() === '') problems.push(`runs-on '${job.runsOn}' evaluated to an empty label`);

  const continueOnError = continueOnErrorOf(job, ctx, problems);
  const timeout = evaluateMinutes(job.timeoutMinutes, ctx);
  if (!timeout.ok) problems.push(`timeout-minutes ${timeout.error}`);
  const env = planEnv(workflow, job, ctx, late);
  const permissions = narrowPermissions(scope.permissions, job.permissions ?? workflow.permissions);
  if (problems.length > 0 || !name.ok || !runsOn.ok || !timeout.ok) return { ok: false, problems };
  return {
    ok: true,
    order: {
      id: cell.id,
      job: scope.prefix === undefined ? job.id : `${scope.prefix}.${job.id}`,
      name: `${scope.namePrefix ?? ''}${name.name}`,
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
      ...(job.environment !== undefined ? { environment: planEnvironment(job.environment, ctx, late) } : {}),
      ...(job.concurrency !== undefined
        ? { concurrency: { ...job.concurrency, group: planEnvValue(job.concurrency.group, ctx, late) } }
        : {}),
    },
  };
}

/** The job's environment, its name and URL evaluated now when they read only plan-time contexts (`planEnvValue`). */
function planEnvironment(
  environment: EnvironmentSpec,
  ctx: ExpressionContext,
  late: ReadonlySet<string> | undefined,
): EnvironmentSpec {
  const name = planEnvValue(environment.name, ctx, late);
  return environment.url === undefined ? { name } : { name, url: planEnvValue(environment.url, ctx, late) };
}

/**
 * Why a value the planner must evaluate cannot be: it reads an input that the call's `with:` sets from `needs`,
 * which is known only when the calling job is ready.
 */
function lateProblem(
  key: string,
  value: string | number | boolean,
  late: ReadonlySet<string> | undefined,
): string | undefined {
  if (late === undefined || typeof value !== 'string') return undefined;
  const [name] = readsLateInputs(value, late);
  if (name === undefined) return undefined;
  return `${key} reads \`inputs.${name}\`, which the call's \`with:\` sets from \`needs\`; spotcheck evaluates ${key} when the run is planned, from inputs known then`;
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
function planEnv(
  workflow: Pick<Workflow, 'env'>,
  job: JobSpec,
  ctx: ExpressionContext,
  late?: ReadonlySet<string>,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const source of [workflow.env, job.env]) {
    for (const [key, value] of Object.entries(source)) {
      // defineProperty, not assignment: a key such as `__proto__` is an env name like any other.
      Object.defineProperty(env, key, {
        value: planEnvValue(value, ctx, late),
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
  const cancel = evaluateFlag(workflow.concurrency.cancelInProgress, base);
  if (!cancel.ok) {
    diagnostics.push(at(workflow.file, { line: 1, col: 1 }, `concurrency.cancel-in-progress: ${cancel.error}`));
    return undefined;
  }
  return { group: group.value, cancelInProgress: cancel.value };
}

/**
 * The one order that stands for a job whose matrix is built from expressions: its cells are planned when it becomes
 * ready (src/core/dynamic-matrix.ts), so it holds the job as parsed and runs nothing itself.
 */
function planDynamicMatrixJob(
  workflow: Workflow,
  job: JobSpec,
  needsOrders: readonly string[],
  scope: Pick<Scope, 'prefix' | 'namePrefix' | 'permissions' | 'inputs'>,
): OrderSpec {
  const key = scope.prefix === undefined ? job.id : `${scope.prefix}.${job.id}`;
  const name = job.name !== undefined && !hasExpression(job.name) ? job.name : job.id;
  return {
    id: key,
    job: key,
    name: `${scope.namePrefix ?? ''}${name}`,
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
    ...(scope.inputs !== undefined ? { inputs: scope.inputs } : {}),
    dynamicMatrix: {
      job,
      workflowEnv: workflow.env,
      ...(workflow.permissions !== undefined ? { workflowPermissions: workflow.permissions } : {}),
      ...(scope.namePrefix !== undefined ? { namePrefix: scope.namePrefix } : {}),
      ...(scope.permissions !== undefined ? { callerPermissions: scope.permissions } : {}),
    },
  };
}

/** The contexts known for a whole job when the run is planned: `github`, `vars`, and the scope's `inputs`. */
function baseContext(state: PlanState, inputs: InputValues | undefined): ExpressionContext {
  return { github: state.github, vars: state.vars, inputs: inputs ?? {} };
}
