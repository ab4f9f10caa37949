/**
 * The engine: pure decisions about order and run state. `transition(slice, event, now)` returns conditional updates
 * (each with the effects to run if, and only if, its conditional write wins). The orchestrator loads the slice the
 * event needs (the order, its dependents' needs, a job's siblings; never the whole run per completion), writes each
 * update with its `expect` condition, and executes the effects of the updates that won.
 */
import { cellIds, expandDynamicMatrix } from './dynamic-matrix.ts';
import { MAX_CONCURRENCY_GROUP_BYTES } from './limits.ts';
import { evaluateLateWith } from './plan-calls.ts';
import {
  evaluateCondition,
  evaluateFlag,
  interpolate,
  type ExpressionContext,
  type JobStatus,
} from './workflow/expressions.ts';
import {
  isFinalOrderState,
  type CallGate,
  type CallNeed,
  type FinalOrderState,
  type InputValues,
  type JobResult,
  type OrderRecord,
  type OrderSpec,
  type OrderState,
  type RunRecord,
  type RunStatus,
  type StepResult,
} from './types.ts';

/** Something the orchestrator does after the update it belongs to was written. Idempotent by construction. */
export type Effect =
  /** Start the order's current attempt on its route's runner (token derived from run/order/attempt). */
  | { readonly type: 'launch' }
  /** Stop a runner execution (instance, build, process group). */
  | { readonly type: 'terminate'; readonly handle: string; readonly runner: string; readonly reason: string }
  /** The order reached a final state: release capacity, satisfy dependents' needs, count towards run completion. */
  | { readonly type: 'order-final'; readonly result: JobResult }
  /** Tell the forge / the terminal (commit status, sticky comment, progress). */
  | { readonly type: 'notify' }
  /**
   * A dynamic matrix expanded: write its cells (create-if-absent) and start them. Repeatable: the watchdog repeats
   * it, with the same cells, for an expansion whose order is not yet marked `cellsWritten`.
   */
  | { readonly type: 'create-cells'; readonly cells: readonly OrderSpec[] };

/** A partial update; a key set to `undefined` removes that field (the store's `RecordChanges`). */
export type OrderChanges = { readonly [K in keyof OrderRecord]?: OrderRecord[K] | undefined };

export interface OrderExpectation {
  readonly states: readonly OrderState[];
  readonly attempt?: number;
}

/** A conditional update of one order plus what to do once it is written. */
export interface Decision {
  readonly orderId: string;
  readonly expect: OrderExpectation;
  readonly changes: OrderChanges;
  readonly effects: readonly Effect[];
  /**
   * Set on the dispatch of a ready order of a job concurrency group (its group evaluated): the orchestrator asks the
   * group first (src/core/job-concurrency.ts), and the order may wait instead.
   */
  readonly group?: { readonly name: string; readonly cancelInProgress: boolean };
}

export interface EngineOptions {
  /** Attempts an order gets when its runner is interrupted (Spot reclaim) before it fails. */
  readonly maxAttempts: number;
}

export const DEFAULT_ENGINE_OPTIONS: EngineOptions = { maxAttempts: 3 };

/** What the orchestrator loaded for an event: the run and the orders the event concerns. */
export interface RunSlice {
  readonly run: RunRecord;
  readonly orders: ReadonlyMap<string, OrderRecord>;
}

export type FinishedConclusion = 'success' | 'failure' | 'cancelled' | 'timed_out';

export type EngineEvent =
  /** A new run: the slice holds every order; roots become ready. */
  | { readonly type: 'started' }
  /**
   * An order's last need became final (pendingNeeds reached 0): the slice holds it and its needs (and, for an
   * expanded dynamic matrix, whose needs are then its cells, those cells).
   */
  | { readonly type: 'ready'; readonly orderId: string }
  /** The runner accepted the launch. */
  | {
      readonly type: 'dispatched';
      readonly orderId: string;
      readonly attempt: number;
      readonly runner: string;
      readonly handle: string;
    }
  /** The launch failed for good (after the runner's own fallbacks), or the route is unknown. */
  | { readonly type: 'launch-failed'; readonly orderId: string; readonly attempt: number; readonly reason: string }
  /** The order's route says `skip` (a standing runner serves that label elsewhere). */
  | { readonly type: 'route-skipped'; readonly orderId: string; readonly attempt: number; readonly reason: string }
  | { readonly type: 'order-running'; readonly orderId: string; readonly attempt: number }
  | {
      readonly type: 'order-finished';
      readonly orderId: string;
      readonly attempt: number;
      readonly conclusion: FinishedConclusion;
      readonly outputs: Readonly<Record<string, string>>;
      readonly stepResults: readonly StepResult[];
      readonly reason?: string;
    }
  /** The runner went away under the order (Spot interruption, lost instance): retried while attempts remain. */
  | { readonly type: 'order-interrupted'; readonly orderId: string; readonly attempt: number; readonly reason: string }
  /** The watchdog saw the order past its deadline. */
  | { readonly type: 'timeout'; readonly orderId: string; readonly attempt: number }
  /** A matrix cell failed under fail-fast: the slice holds its siblings. */
  | { readonly type: 'fail-fast'; readonly failedOrderId: string }
  /**
   * A job of one cell of a matrix of calls (calling order `caller`) failed under the calling job's fail-fast: the
   * slice holds the orders of the other cells.
   */
  | { readonly type: 'call-fail-fast'; readonly failedOrderId: string; readonly caller: string }
  /** Cancel every non-final order of the slice (PR closed, superseded by concurrency, user request). */
  | { readonly type: 'cancel'; readonly reason: string };

export interface Transition {
  readonly decisions: readonly Decision[];
  /** Set when the event is refused (stale attempt, finished order): the caller logs it and answers 409. */
  readonly rejected?: string;
}

const LIVE_STATES = ['dispatching', 'running'] as const satisfies readonly OrderState[];
const NOT_FINAL = ['queued', 'dispatching', 'running', 'interrupted'] as const satisfies readonly OrderState[];

export function transition(
  slice: RunSlice,
  event: EngineEvent,
  now: number,
  options: EngineOptions = DEFAULT_ENGINE_OPTIONS,
): Transition {
  switch (event.type) {
    case 'started':
      return accept(
        [...slice.orders.values()]
          .filter((o) => o.state === 'queued' && o.pendingNeeds === 0)
          .map((o) => ready(slice, o, now)),
      );
    case 'ready': {
      const order = slice.orders.get(event.orderId);
      if (!order) return reject(`order ${event.orderId} is not loaded`);
      if (order.state === 'running' && order.cells !== undefined && order.pendingNeeds === 0) {
        return matrixFinished(slice, order, now);
      }
      if (order.state !== 'queued') return reject(`order ${order.id} is ${order.state}, not queued`);
      if (order.pendingNeeds > 0) return reject(`order ${order.id} still waits for ${order.pendingNeeds} needs`);
      return accept([ready(slice, order, now)]);
    }
    case 'dispatched':
      return withOrder(slice, event.orderId, event.attempt, ['dispatching'], (order) => ({
        orderId: order.id,
        expect: { states: ['dispatching'], attempt: order.attempt },
        changes: { runner: event.runner, handle: event.handle },
        effects: [],
      }));
    case 'launch-failed':
      return withOrder(slice, event.orderId, event.attempt, ['queued', 'dispatching'], (order) =>
        finish(order, 'failed', 'failure', now, { reason: event.reason }),
      );
    case 'route-skipped':
      return withOrder(slice, event.orderId, event.attempt, ['dispatching'], (order) =>
        finish(order, 'skipped', 'skipped', now, { reason: event.reason }),
      );
    case 'order-running':
      return withOrder(slice, event.orderId, event.attempt, ['dispatching'], (order) => ({
        orderId: order.id,
        expect: { states: ['dispatching'], attempt: order.attempt },
        changes: { state: 'running', startedAt: now, deadline: now + order.timeoutMinutes * 60_000 },
        effects: [{ type: 'notify' }],
      }));
    case 'order-finished':
      return withOrder(slice, event.orderId, event.attempt, LIVE_STATES, (order) => finished(order, event, now));
    case 'order-interrupted':
      return withOrder(slice, event.orderId, event.attempt, LIVE_STATES, (order) =>
        interrupted(order, event.reason, now, options),
      );
    case 'timeout':
      return withOrder(slice, event.orderId, event.attempt, LIVE_STATES, (order) => {
        const minutes = order.timeoutMinutes;
        const decision = finish(order, 'timed_out', 'failure', now, {
          reason: `timed out after ${minutes} minute${minutes === 1 ? '' : 's'} (timeout-minutes)`,
        });
        return withTerminate(decision, order, 'timed out');
      });
    case 'fail-fast': {
      const failed = slice.orders.get(event.failedOrderId);
      if (!failed) return reject(`order ${event.failedOrderId} is not loaded`);
      // The order that stands for a dynamic matrix is not a sibling: it ends when its cells do.
      const siblings = [...slice.orders.values()].filter(
        (o) =>
          o.job === failed.job && o.id !== failed.id && o.dynamicMatrix === undefined && !isFinalOrderState(o.state),
      );
      const reason = `cancelled by fail-fast: ${failed.name} failed`;
      return accept(siblings.map((o) => cancel(o, reason, now)));
    }
    case 'call-fail-fast': {
      const failed = slice.orders.get(event.failedOrderId);
      const job = failed?.gates?.find((g) => g.caller === event.caller)?.strategy?.job;
      if (!failed || job === undefined) return reject(`order ${event.failedOrderId} is not in a matrix of calls`);
      // Every other cell's orders, but not an expanded dynamic matrix's order: it ends when its cells do.
      const others = [...slice.orders.values()].filter(
        (o) =>
          !isFinalOrderState(o.state) &&
          o.cells === undefined &&
          (o.gates ?? []).some((g) => g.strategy?.job === job && g.caller !== event.caller),
      );
      const reason = `cancelled by fail-fast: ${failed.name} failed`;
      return accept(others.map((o) => cancel(o, reason, now)));
    }
    case 'cancel':
      return accept(
        [...slice.orders.values()].filter((o) => !isFinalOrderState(o.state)).map((o) => cancel(o, event.reason, now)),
      );
  }
}

/** Whether a fail-fast cancellation of siblings should follow a finished order (the orchestrator asks). */
export function triggersFailFast(order: OrderRecord): boolean {
  return (
    order.failFast &&
    Object.keys(order.matrix).length > 0 &&
    !order.continueOnError &&
    (order.state === 'failed' || order.state === 'timed_out')
  );
}

/**
 * The calling orders whose other cells a finished order's failure cancels: each enclosing matrix of calls under
 * fail-fast (GitHub: a failed job fails its calling job's cell, and the cell's failure cancels the other cells).
 */
export function callsFailingFast(order: OrderRecord): string[] {
  if (order.result !== 'failure') return [];
  return (order.gates ?? []).filter((g) => g.strategy?.failFast === true).map((g) => g.caller);
}

/**
 * An order whose needs are all final: skip it (its `if` says so, or a need did not succeed and the `if` does not
 * ask for that), or dispatch it. GitHub's rule: "If a job fails or is skipped, all jobs that need it are skipped
 * unless the jobs use a conditional expression that causes the job to continue."
 */
function ready(slice: RunSlice, order: OrderRecord, now: number): Decision {
  const upstream = upstreamOf(order, slice);
  const carry: OrderChanges = { upstream };
  // A called workflow's job runs only where each calling job would have: their needs and `if` first, outermost first.
  // Each call's `with:` values that read `needs` are evaluated then, with the calling job's needs and inputs: the
  // inputs of one level are the `inputs` context of the calling job one level in.
  let late: InputValues = {};
  for (const gate of order.gates ?? []) {
    const needs = needsContext({ ...gate, needsOrders: order.needsOrders }, (id) => slice.orders.get(id));
    const inputs = { ...gate.inputs, ...late };
    // The calling job sees what came before it, not its callee's own jobs (those answer to the callee's rules).
    const verdict = gateVerdict(slice, gate, needs, upstreamOf(order, slice, { outside: `${gate.caller}.` }), {
      inputs,
    });
    if (verdict !== undefined) {
      const reason = `${verdict.reason} (calling job "${gate.caller}")`;
      return verdict.failed
        ? finish(order, 'failed', 'failure', now, { ...carry, reason })
        : finish(order, 'skipped', 'skipped', now, { ...carry, reason });
    }
    if (gate.lateWith === undefined) {
      late = {};
      continue;
    }
    const ctx = { ...contextsOf(slice.run), matrix: gate.matrix, strategy: gate.lateWith.strategy, needs, inputs };
    const evaluated = evaluateLateWith(gate.lateWith, ctx);
    if (!evaluated.ok)
      return finish(order, 'failed', 'failure', now, {
        ...carry,
        reason: `${evaluated.error} (calling job "${gate.caller}")`,
      });
    late = evaluated.inputs;
  }
  const inputs = Object.keys(late).length === 0 ? order.inputs : { ...order.inputs, ...late };
  const resolved: OrderChanges = inputs === order.inputs ? {} : { inputs };
  // Once its calling jobs let it run, a callee's job answers only to the callee's own jobs (GitHub runs the callee as a
  // workflow of its own: a caller that ran under `if: always()` starts its jobs whatever failed before it).
  const ownUpstream = order.scope === undefined ? upstream : upstreamOf(order, slice, { within: `${order.scope}.` });
  const needs = needsContext(order, (id) => slice.orders.get(id));
  const own = gateVerdict(slice, order, needs, ownUpstream, {
    env: order.env,
    ...(inputs !== undefined ? { inputs } : {}),
  });
  if (own !== undefined)
    return own.failed
      ? finish(order, 'failed', 'failure', now, { upstream: ownUpstream, reason: own.reason })
      : finish(order, 'skipped', 'skipped', now, { upstream: ownUpstream, reason: own.reason });
  if (order.dynamicMatrix !== undefined) {
    const withInputs = inputs === undefined ? order : { ...order, inputs };
    return expandOrder(slice, withInputs, needs, { upstream: ownUpstream, ...resolved }, now);
  }
  const group = concurrencyGroupOf(slice, order);
  if (group !== undefined && !group.ok) {
    return finish(order, 'failed', 'failure', now, { upstream: ownUpstream, reason: group.error });
  }
  const dispatch: Decision = {
    orderId: order.id,
    expect: { states: ['queued'] },
    changes: { upstream: ownUpstream, ...resolved, state: 'dispatching', dispatchedAt: now, waitingSince: undefined },
    effects: [{ type: 'launch' }, { type: 'notify' }],
  };
  if (group === undefined) return dispatch;
  const { name, cancelInProgress } = group;
  return {
    ...dispatch,
    // Stored as evaluated: the order's end releases the group by this name.
    changes: { ...dispatch.changes, reason: undefined, concurrency: { group: name, cancelInProgress } },
    group: { name, cancelInProgress },
  };
}

/**
 * The job concurrency group of a ready order, evaluated now when the plan could not (it reads `needs`): with the
 * order's own needs and matrix, or, for a calling job's concurrency (`concurrencyUnit`), that calling job's (its gate).
 * GitHub allows `github`, `inputs`, `vars`, `needs`, `strategy` and `matrix` there; an empty group is an error.
 */
function concurrencyGroupOf(
  slice: RunSlice,
  order: OrderRecord,
): { ok: true; name: string; cancelInProgress: boolean } | { ok: false; error: string } | undefined {
  const spec = order.concurrency;
  if (spec === undefined) return undefined;
  const gate = order.gates?.find((g) => g.caller === order.concurrencyUnit);
  const from = order.concurrencyUnit !== undefined && gate !== undefined ? gate : order;
  const lookup = (id: string): OrderRecord | undefined => slice.orders.get(id);
  const needs = needsContext({ ...from, needsOrders: order.needsOrders }, lookup);
  const ctx = {
    github: { ...slice.run.github },
    vars: slice.run.vars ?? {},
    inputs: order.inputs ?? {},
    matrix: from.matrix,
    ...(from === order && order.strategy !== undefined ? { strategy: order.strategy } : {}),
    needs,
  };
  const value = interpolate(spec.group, ctx);
  if (!value.ok) return { ok: false, error: `invalid concurrency.group: ${value.error}` };
  const cancelInProgress = evaluateFlag(spec.cancelInProgress, ctx);
  if (!cancelInProgress.ok)
    return { ok: false, error: `invalid concurrency.cancel-in-progress: ${cancelInProgress.error}` };
  if (value.value.trim() === '') return { ok: false, error: `concurrency.group '${spec.group}' evaluated to ''` };
  const bytes = new TextEncoder().encode(value.value).length;
  if (bytes > MAX_CONCURRENCY_GROUP_BYTES) {
    return {
      ok: false,
      error: `concurrency.group is ${bytes} bytes once evaluated; spotcheck allows at most ${MAX_CONCURRENCY_GROUP_BYTES}`,
    };
  }
  return { ok: true, name: value.value, cancelInProgress: cancelInProgress.value };
}

/** The contexts every server-side evaluation of a run has: `github` and `vars`. */
function contextsOf(run: RunRecord): Pick<ExpressionContext, 'github' | 'vars'> {
  return { github: { ...run.github }, vars: run.vars ?? {} };
}

/** What decides whether a job runs: its needs (named in its own scope) and `if`, read in its matrix cell. */
type Gate = Pick<CallGate, 'needs' | 'if' | 'matrix'>;

/**
 * Why a job (or a calling job, for its callee's orders) does not run, or undefined when it does: a need did not
 * succeed (or an ancestor failed) and the `if` asks no status function, or the `if` is false or invalid.
 */
function gateVerdict(
  slice: RunSlice,
  gate: Gate,
  needs: NeedsContext,
  upstream: OrderRecord['upstream'],
  extra: Pick<ExpressionContext, 'env' | 'inputs'>,
): { readonly failed: boolean; readonly reason: string } | undefined {
  const results = gate.needs.map((job) => needs[job]?.result ?? 'skipped');
  const status: JobStatus = upstream?.result ?? 'success';
  const condition = gate.if;
  const usesStatusFunction = condition !== undefined && /\b(always|failure|cancelled|success)\s*\(/.test(condition);
  if (!usesStatusFunction && (!results.every((r) => r === 'success') || upstream !== undefined)) {
    const culprit = gate.needs.find((_, i) => results[i] !== 'success');
    return {
      failed: false,
      reason:
        culprit !== undefined
          ? `skipped: needed job "${culprit}" ${describeResult(results[gate.needs.indexOf(culprit)])}`
          : `skipped: job "${upstream?.job ?? ''}", which a needed job depends on, ${describeResult(upstream?.result)}`,
    };
  }
  const verdict = evaluateCondition(
    condition,
    { ...contextsOf(slice.run), matrix: gate.matrix, needs, ...extra },
    status,
  );
  if (!verdict.ok) return { failed: true, reason: `invalid if: ${verdict.error}` };
  if (!verdict.value) return { failed: false, reason: `skipped: if: ${condition ?? ''} was false` };
  return undefined;
}

/**
 * A dynamic matrix whose job is to run: its cells, planned now that its needs' outputs are known, become the orders
 * it waits for (GitHub: dependents of a matrix job wait for every cell). A matrix that does not evaluate or expand
 * fails the job with the reason.
 */
function expandOrder(
  slice: RunSlice,
  order: OrderRecord,
  needs: NeedsContext,
  carry: OrderChanges,
  now: number,
): Decision {
  const expansion = expandDynamicMatrix(order, matrixContexts(slice.run, order, needs));
  if (!expansion.ok) return finish(order, 'failed', 'failure', now, { ...carry, reason: expansion.error });
  const count = expansion.cells.length;
  return {
    orderId: order.id,
    expect: { states: ['queued'] },
    changes: {
      ...carry,
      state: 'running',
      startedAt: now,
      cells: count,
      pendingNeeds: count,
      reason: `expanded into ${count} order${count === 1 ? '' : 's'}`,
      waitingSince: undefined,
    },
    effects: [{ type: 'create-cells', cells: expansion.cells }, { type: 'notify' }],
  };
}

/** The contexts a dynamic matrix reads: the run's `github` and `vars`, the order's `inputs`, its needs. */
export function matrixContexts(run: RunRecord, order: OrderRecord, needs: NeedsContext) {
  return { github: { ...run.github }, vars: run.vars ?? {}, inputs: order.inputs ?? {}, needs };
}

/**
 * Every cell of an expanded matrix is final: the job's result from its cells (any failure fails it, as
 * `jobResult`), its outputs combined across cells ("Using job outputs in a matrix job").
 */
function matrixFinished(slice: RunSlice, order: OrderRecord, now: number): Transition {
  const cells = cellIds(order).map((id) => slice.orders.get(id));
  const loaded = cells.filter((c): c is OrderRecord => c !== undefined && isFinalOrderState(c.state));
  if (loaded.length !== cells.length) return reject(`the cells of ${order.id} are not all loaded and final`);
  const result = jobResult(loaded.map((c) => c.result ?? 'skipped'));
  const counts = new Map<string, number>();
  for (const cell of loaded) counts.set(cell.state, (counts.get(cell.state) ?? 0) + 1);
  const summary = [...counts].map(([state, n]) => `${n} ${state.replace('_', ' ')}`).join(', ');
  return accept([
    finish(order, RESULT_STATES[result], result, now, {
      outputs: combinedOutputs(loaded.map((c) => c.outputs)),
      reason: `${loaded.length} order${loaded.length === 1 ? '' : 's'}: ${summary}`,
    }),
  ]);
}

const RESULT_STATES = {
  success: 'succeeded',
  failure: 'failed',
  cancelled: 'cancelled',
  skipped: 'skipped',
} as const satisfies Record<JobResult, FinalOrderState>;

/**
 * The first failed (else cancelled) job among the order's ancestors: its needs' own results, then what each need
 * carried from its own ancestors. A job that failed under continue-on-error has the result `success` and does not
 * count, as on GitHub; a skipped job does not count either ("a job that is skipped will report its status as
 * Success").
 */
function upstreamOf(
  order: OrderRecord,
  slice: RunSlice,
  jobs: { readonly within?: string; readonly outside?: string } = {},
): OrderRecord['upstream'] {
  const { within, outside } = jobs;
  const needOrders = order.needsOrders
    .flatMap((id) => slice.orders.get(id) ?? [])
    .filter((need) => within === undefined || need.job.startsWith(within))
    .filter((need) => outside === undefined || !need.job.startsWith(outside));
  const seen = needOrders.flatMap((need) => [
    ...(need.result === 'failure' || need.result === 'cancelled' ? [{ job: need.job, result: need.result }] : []),
    ...(need.upstream === undefined ? [] : [need.upstream]),
  ]);
  return seen.find((u) => u.result === 'failure') ?? seen.find((u) => u.result === 'cancelled');
}

function finished(order: OrderRecord, event: Extract<EngineEvent, { type: 'order-finished' }>, now: number): Decision {
  const base = { outputs: event.outputs, stepResults: event.stepResults };
  switch (event.conclusion) {
    case 'success': {
      const tolerated = event.stepResults.filter((s) => s.outcome === 'failure' && s.conclusion === 'success');
      const reason =
        tolerated.length === 0
          ? event.reason
          : `${tolerated.map((s) => `step "${s.name}"`).join(', ')} failed (continue-on-error)`;
      return finish(order, 'succeeded', 'success', now, reason === undefined ? base : { ...base, reason });
    }
    case 'cancelled':
      return finish(order, 'cancelled', 'cancelled', now, { ...base, reason: event.reason ?? 'cancelled' });
    case 'timed_out':
      return finish(order, 'timed_out', order.continueOnError ? 'success' : 'failure', now, {
        ...base,
        reason: event.reason ?? 'timed out',
      });
    case 'failure': {
      // Job-level continue-on-error: the job shows as failed, but the run and its dependents treat it as success.
      const reason = event.reason ?? failedStepReason(event.stepResults);
      return finish(order, 'failed', order.continueOnError ? 'success' : 'failure', now, {
        ...base,
        ...(reason === undefined ? {} : { reason: order.continueOnError ? `${reason} (continue-on-error)` : reason }),
      });
    }
  }
}

function interrupted(order: OrderRecord, reason: string, now: number, options: EngineOptions): Decision {
  if (order.attempt >= options.maxAttempts) {
    return finish(order, 'failed', 'failure', now, {
      reason: `interrupted ${order.attempt} times, giving up: ${reason}`,
    });
  }
  // A fresh attempt: a new launch token (run/order/attempt), so the dead attempt's late reports are refused.
  return {
    orderId: order.id,
    expect: { states: LIVE_STATES, attempt: order.attempt },
    changes: {
      state: 'dispatching',
      attempt: order.attempt + 1,
      reason: `retrying (attempt ${order.attempt + 1} of ${options.maxAttempts}): ${reason}`,
      handle: undefined,
      startedAt: undefined,
      deadline: undefined,
    },
    effects: [{ type: 'launch' }, { type: 'notify' }],
  };
}

function cancel(order: OrderRecord, reason: string, now: number): Decision {
  return withTerminate(finish(order, 'cancelled', 'cancelled', now, { reason }), order, reason);
}

function finish(
  order: OrderRecord,
  state: FinalOrderState,
  result: JobResult,
  now: number,
  extra: OrderChanges,
): Decision {
  return {
    orderId: order.id,
    expect: { states: NOT_FINAL, attempt: order.attempt },
    changes: {
      // A reason left from an earlier attempt ("retrying …") no longer applies once the order is final.
      reason: undefined,
      ...extra,
      state,
      result,
      finishedAt: now,
      waitingSince: undefined,
      deadline: undefined,
    },
    effects: [{ type: 'notify' }, { type: 'order-final', result }],
  };
}

function withTerminate(decision: Decision, order: OrderRecord, reason: string): Decision {
  if (!order.handle || !order.runner || !(LIVE_STATES as readonly string[]).includes(order.state)) return decision;
  return {
    ...decision,
    effects: [{ type: 'terminate', handle: order.handle, runner: order.runner, reason }, ...decision.effects],
  };
}

function withOrder(
  slice: RunSlice,
  orderId: string,
  attempt: number,
  states: readonly OrderState[],
  decide: (order: OrderRecord) => Decision,
): Transition {
  const order = slice.orders.get(orderId);
  if (!order) return reject(`unknown order ${orderId}`);
  if (attempt !== order.attempt) return reject(`attempt ${attempt} of ${orderId} was superseded by ${order.attempt}`);
  if (!states.includes(order.state)) return reject(`order ${orderId} is ${order.state}`);
  return accept([decide(order)]);
}

export type NeedsContext = Record<string, { result: JobResult; outputs: Readonly<Record<string, string>> }>;

/**
 * The `needs` context of an order: per needed job, its result over all its cells (`jobResult`) and its outputs —
 * for a matrix job, every cell's outputs combined, the last non-empty value of each winning (GitHub's docs, "Using
 * job outputs in a matrix job": a cell's empty output never overwrites another cell's value). A need that is not
 * loaded counts as skipped.
 */
export function needsContext(
  order: Pick<OrderSpec, 'needs' | 'needsOrders' | 'scope' | 'calls'>,
  lookup: (orderId: string) => OrderRecord | undefined,
): NeedsContext {
  const context: NeedsContext = {};
  for (const job of order.needs) {
    const call = order.calls !== undefined && Object.hasOwn(order.calls, job) ? order.calls[job] : undefined;
    if (call !== undefined) {
      context[job] = callResult(call, lookup);
      continue;
    }
    // Inside a called workflow, a need names a job of the callee, kept under the calling order's id.
    const key = order.scope === undefined ? job : `${order.scope}.${job}`;
    const cells = order.needsOrders.map(lookup).filter((o) => o?.job === key);
    context[job] = {
      result: jobResult(cells.map((o) => o?.result ?? 'skipped')),
      outputs: combinedOutputs(cells.map((o) => o?.outputs ?? {})),
    };
  }
  return context;
}

/**
 * A calling job's result and outputs (GitHub: the callee's jobs' results combine as a matrix job's do; its outputs
 * are the callee's `on.workflow_call.outputs`, their values evaluated over the `jobs` context of its jobs). An output
 * whose value cannot be evaluated is empty.
 */
function callResult(call: CallNeed, lookup: (orderId: string) => OrderRecord | undefined): NeedsContext[string] {
  const jobs: NeedsContext = {};
  for (const [name, job] of Object.entries(call.jobs)) {
    const value =
      job.call !== undefined
        ? callResult(job.call, lookup)
        : {
            result: jobResult(job.orders.map((id) => lookup(id)?.result ?? 'skipped')),
            outputs: combinedOutputs(job.orders.map((id) => lookup(id)?.outputs ?? {})),
          };
    Object.defineProperty(jobs, name, { value, enumerable: true, writable: true, configurable: true });
  }
  const outputs: Record<string, string> = {};
  for (const [name, expr] of Object.entries(call.outputs)) {
    const value = interpolate(expr, { jobs });
    Object.defineProperty(outputs, name, {
      value: value.ok ? value.value : '',
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return { result: jobResult(Object.values(jobs).map((j) => j.result)), outputs };
}

function combinedOutputs(cells: readonly Readonly<Record<string, string>>[]): Record<string, string> {
  const combined: Record<string, string> = {};
  for (const outputs of cells)
    for (const [name, value] of Object.entries(outputs))
      if (value !== '' || !Object.hasOwn(combined, name))
        Object.defineProperty(combined, name, { value, enumerable: true, writable: true, configurable: true });
  return combined;
}

/** A job's result from its cells: any failure fails it, then cancelled, then success; all skipped is skipped. */
export function jobResult(cells: readonly JobResult[]): JobResult {
  if (cells.includes('failure')) return 'failure';
  if (cells.includes('cancelled')) return 'cancelled';
  if (cells.includes('success')) return 'success';
  return 'skipped';
}

/** The run's status once every order is final. */
export function runOutcome(orders: readonly OrderRecord[], cancelled: boolean): RunStatus {
  if (orders.some((o) => !isFinalOrderState(o.state))) return 'running';
  if (orders.some((o) => o.result === 'failure')) return 'failed';
  if (cancelled || orders.some((o) => o.result === 'cancelled')) return 'cancelled';
  return 'succeeded';
}

/**
 * What a new run does to its concurrency group (GitHub's rules): with cancel-in-progress it cancels the group's
 * running and pending runs and starts; without, it starts only when no run of the group is running, else it waits
 * as the group's one pending run and any older pending run is cancelled.
 */
export function concurrencyDecision(
  newRun: RunRecord,
  group: readonly RunRecord[],
  cancelInProgress: boolean,
): { readonly start: boolean; readonly cancel: readonly RunRecord[] } {
  if (newRun.concurrencyGroup === undefined) return { start: true, cancel: [] };
  const others = group.filter(
    (r) =>
      r.runId !== newRun.runId &&
      r.concurrencyGroup === newRun.concurrencyGroup &&
      (r.status === 'running' || r.status === 'pending') &&
      r.createdAt <= newRun.createdAt,
  );
  if (cancelInProgress) return { start: true, cancel: others };
  return { start: !others.some((r) => r.status === 'running'), cancel: others.filter((r) => r.status === 'pending') };
}

/** The oldest pending run of a group, once none of it is running. */
export function nextPendingRun(group: readonly RunRecord[]): RunRecord | undefined {
  if (group.some((r) => r.status === 'running')) return undefined;
  return group.filter((r) => r.status === 'pending').sort((a, b) => a.createdAt - b.createdAt)[0];
}

function failedStepReason(steps: readonly StepResult[]): string | undefined {
  const step = steps.find((s) => s.conclusion === 'failure');
  if (!step) return undefined;
  return `step "${step.name}" failed${step.exitCode === undefined ? '' : ` (exit code ${step.exitCode})`}`;
}

function describeResult(result: JobResult | undefined): string {
  switch (result) {
    case 'failure':
      return 'failed';
    case 'cancelled':
      return 'was cancelled';
    case 'skipped':
    case undefined:
      return 'was skipped';
    case 'success':
      return 'succeeded';
  }
}

function accept(decisions: readonly Decision[]): Transition {
  return { decisions };
}

function reject(reason: string): Transition {
  return { decisions: [], rejected: reason };
}
