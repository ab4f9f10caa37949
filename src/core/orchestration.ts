/**
 * The orchestrator's own decisions, apart from the engine's transitions: the records a new run starts with, what an
 * agent's report or a runner's inspection means for an order, what the watchdog does with an active order, whether
 * an order can launch on its route, and the counters capacity is kept in. Pure: the shell (src/orchestrator.ts)
 * reads, asks, and writes.
 */
import type { EngineEvent, FinishedConclusion } from './engine.ts';
import type { OrderRecord, OrderSpec, RepoRef, RunPlan, RunRecord, StepResult } from './types.ts';
import { matchRoute, noRouteMessage, runsOnLabels } from './route-match.ts';

// ---------------------------------------------------------------------------------------------------------------
// A new run

/** What a new run is made of (the orchestrator's `startRun` input, minus nothing). */
export interface NewRun {
  readonly runId: string;
  readonly repo: RepoRef;
  readonly plan: RunPlan;
  readonly event: RunRecord['event'];
  readonly ref: string;
  readonly sha: string;
  readonly actor: string;
  /** Whose code the run executes (what decides its secrets); see RunRecord.trust. */
  readonly trust?: RunRecord['trust'];
  readonly repoPrivate?: boolean;
  readonly github: RunRecord['github'];
  readonly pr?: number;
  readonly installationId?: number;
}

/**
 * The run and its orders as first written. A run of a concurrency group starts `pending` and is promoted once the
 * group lets it run; a run without orders is over at once.
 */
export function newRunRecords(
  input: NewRun,
  now: number,
  retentionDays: number,
): { readonly run: RunRecord; readonly orders: OrderRecord[] } {
  const { plan } = input;
  const run: RunRecord = {
    runId: input.runId,
    repo: input.repo,
    file: plan.file,
    workflowName: plan.workflowName,
    event: input.event,
    ref: input.ref,
    sha: input.sha,
    actor: input.actor,
    github: { ...input.github, run_id: input.runId },
    status: plan.orders.length === 0 ? 'succeeded' : plan.concurrency ? 'pending' : 'running',
    orderCount: plan.orders.length,
    createdAt: now,
    expiresAt: now + retentionDays * 86_400_000,
    ...(input.pr === undefined ? {} : { pr: input.pr }),
    ...(input.trust === undefined ? {} : { trust: input.trust }),
    ...(input.repoPrivate === undefined ? {} : { repoPrivate: input.repoPrivate }),
    ...(input.installationId === undefined ? {} : { installationId: input.installationId }),
    ...(plan.concurrency ? { concurrencyGroup: plan.concurrency.group } : {}),
    ...(plan.vars === undefined ? {} : { vars: plan.vars }),
    ...(plan.orders.length === 0 ? { finishedAt: now } : {}),
  };
  const dependents = new Map<string, string[]>();
  for (const order of plan.orders)
    for (const need of order.needsOrders) dependents.set(need, [...(dependents.get(need) ?? []), order.id]);
  const waves = graphDepths(plan);
  const orders: OrderRecord[] = plan.orders.map((spec, seq) => ({
    ...spec,
    runId: run.runId,
    seq,
    wave: waves.get(spec.id) ?? 0,
    state: 'queued',
    attempt: 1,
    pendingNeeds: spec.needsOrders.length,
    dependents: dependents.get(spec.id) ?? [],
    outputs: {},
    createdAt: now,
  }));
  return { run, orders };
}

/**
 * The records of a dynamic matrix's cells, written when it expands: queued with nothing left to wait for (their needs
 * are the expanded order's, all final), and the expanded order as their one dependent, so it ends when they all
 * have. They sit right after it when orders are listed (`seq`), on its wave.
 */
export function cellRecords(expanded: OrderRecord, cells: readonly OrderSpec[], now: number): OrderRecord[] {
  return cells.map((spec, i) => ({
    ...spec,
    runId: expanded.runId,
    seq: expanded.seq + (i + 1) / (cells.length + 1),
    wave: expanded.wave,
    state: 'queued',
    attempt: 1,
    pendingNeeds: 0,
    dependents: [expanded.id],
    outputs: {},
    createdAt: now,
    cellOf: expanded.id,
  }));
}

/** Each order's depth in the needs graph (the plan validated it is acyclic); iterative, so deep chains are fine. */
export function graphDepths(plan: Pick<RunPlan, 'orders'>): Map<string, number> {
  const specs = new Map(plan.orders.map((o) => [o.id, o]));
  const depth = new Map<string, number>();
  const visiting = new Set<string>();
  for (const root of plan.orders) {
    const stack = [root.id];
    while (stack.length > 0) {
      const id = stack[stack.length - 1]!;
      if (depth.has(id)) {
        stack.pop();
        continue;
      }
      const needs = specs.get(id)?.needsOrders ?? [];
      // A need already on the path would be a cycle; plans reject those, but never loop on one.
      const pending = needs.filter((n) => !depth.has(n) && specs.has(n) && !visiting.has(n));
      if (pending.length > 0 && !visiting.has(id)) {
        visiting.add(id);
        stack.push(...pending);
        continue;
      }
      depth.set(id, needs.length === 0 ? 0 : 1 + Math.max(...needs.map((n) => depth.get(n) ?? 0)));
      visiting.delete(id);
      stack.pop();
    }
  }
  return depth;
}

// ---------------------------------------------------------------------------------------------------------------
// Reports and inspections

/** An agent's report, in the runner port's shape (runners/runner.ts `AgentReport`). */
export type ReportLike =
  | { readonly type: 'running' }
  | { readonly type: 'log' }
  | { readonly type: 'step' }
  | {
      readonly type: 'finished';
      readonly conclusion: FinishedConclusion;
      readonly outputs: Readonly<Record<string, string>>;
      readonly stepResults: readonly StepResult[];
      readonly reason?: string;
    }
  | { readonly type: 'interrupted'; readonly reason: string };

/**
 * What an agent's report means for its order. Undefined: nothing for the engine. Log chunks are the log store's,
 * and a live `step` report is not kept (yet): the `finished` report carries every step's result.
 */
export function reportEvent(
  ref: { readonly orderId: string; readonly attempt: number },
  report: ReportLike,
): EngineEvent | undefined {
  const { orderId, attempt } = ref;
  switch (report.type) {
    case 'log':
    case 'step':
      return undefined;
    case 'running':
      return { type: 'order-running', orderId, attempt };
    case 'interrupted':
      return { type: 'order-interrupted', orderId, attempt, reason: report.reason };
    case 'finished':
      return {
        type: 'order-finished',
        orderId,
        attempt,
        conclusion: report.conclusion,
        outputs: report.outputs,
        stepResults: report.stepResults,
        ...(report.reason === undefined ? {} : { reason: report.reason }),
      };
  }
}

/** A runner's answer about an execution, in the runner port's shape (runners/runner.ts `ExecutionStatus`). */
export interface ExecutionStatusLike {
  readonly alive: boolean;
  readonly interrupted: boolean;
  readonly reason: string;
  readonly conclusion?: FinishedConclusion;
}

/**
 * What an inspected execution means for its order. Alive → nothing. Gone because the provider took it back (a Spot
 * reclaim) → interrupted, retried; gone with a result the provider knows (a CodeBuild build) → that result; gone
 * otherwise → failed, with the provider's reason.
 */
export function executionEvent(
  order: Pick<OrderRecord, 'id' | 'attempt'>,
  status: ExecutionStatusLike,
  runner: string,
): EngineEvent | undefined {
  if (status.alive) return undefined;
  const ref = { orderId: order.id, attempt: order.attempt };
  if (status.interrupted) return { type: 'order-interrupted', ...ref, reason: status.reason };
  return {
    type: 'order-finished',
    ...ref,
    conclusion: status.conclusion ?? 'failure',
    outputs: {},
    stepResults: [],
    reason: status.conclusion
      ? `${status.reason} (result from ${runner}: the agent's report was lost)`
      : `${status.reason} before the agent reported`,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The watchdog

/** What the watchdog does with one active order. */
export type WatchAction =
  | { readonly type: 'timeout' }
  /** A launch left half-done (a crash between the dispatching write and the runner's answer): launch again. */
  | { readonly type: 'redrive' }
  /** An execution the store thinks is live: ask its runner. */
  | { readonly type: 'inspect'; readonly handle: string; readonly runner: string }
  /** A dynamic matrix expanded but its cells not all written (a crash in between): write them again. */
  | { readonly type: 'write-cells' }
  | { readonly type: 'none' };

export function watchAction(
  order: Pick<
    OrderRecord,
    'state' | 'deadline' | 'handle' | 'runner' | 'dispatchedAt' | 'cells' | 'cellsWritten' | 'startedAt'
  >,
  now: number,
  redriveAfterMs: number,
): WatchAction {
  if (order.state === 'running' && order.cells !== undefined) {
    const stale = order.cellsWritten !== true && (order.startedAt ?? 0) + redriveAfterMs <= now;
    return stale ? { type: 'write-cells' } : { type: 'none' };
  }
  if (order.state === 'running' && order.deadline !== undefined && order.deadline <= now) return { type: 'timeout' };
  if (order.state === 'dispatching' && order.handle === undefined) {
    return (order.dispatchedAt ?? 0) + redriveAfterMs <= now ? { type: 'redrive' } : { type: 'none' };
  }
  if (order.handle !== undefined && order.runner !== undefined) {
    return { type: 'inspect', handle: order.handle, runner: order.runner };
  }
  return { type: 'none' };
}

/** How the watchdog checks whether a running run is over: a completion lost to a crash leaves the final count short; after an hour of that, recount the hard way. */
export function finishCheck(run: Pick<RunRecord, 'createdAt'>, now: number): 'counter' | 'recount' {
  return now - run.createdAt < 3_600_000 ? 'counter' : 'recount';
}

// ---------------------------------------------------------------------------------------------------------------
// Launching

/** A route, in the runner port's shape (runners/runner.ts `Route`). */
export interface RouteLike {
  readonly runner: string;
}

/**
 * Whether an order can launch on its route with the runners this server has enabled: the route to launch on, or the
 * event that ends the order instead (no route: the reason names the fix, since routes are operator config, never
 * the repository's; a `skip` route: another runner serves the label).
 */
export function launchRoute<R extends RouteLike>(
  order: Pick<OrderRecord, 'id' | 'attempt' | 'runsOn'>,
  routes: ReadonlyMap<string, R>,
  enabled: (runner: string) => boolean,
): { readonly route: R } | { readonly event: EngineEvent } {
  const labels = runsOnLabels(order.runsOn);
  const route = matchRoute(routes, labels);
  const ref = { orderId: order.id, attempt: order.attempt };
  if (!route) {
    // Name the fix: routes are operator config (spotcheck.yml or the file SPOTCHECK_CONFIG names), never the repo.
    return { event: { type: 'launch-failed', ...ref, reason: noRouteMessage(labels, [...routes.keys()]) } };
  }
  if (route.runner === 'skip') {
    return {
      event: {
        type: 'route-skipped',
        ...ref,
        reason: `skipped: label "${order.runsOn}" is served by another runner (route: skip)`,
      },
    };
  }
  if (!enabled(route.runner)) {
    return {
      event: {
        type: 'launch-failed',
        ...ref,
        reason: `the "${route.runner}" runner is not enabled on this server (runs-on: ${order.runsOn})`,
      },
    };
  }
  return { route };
}

// ---------------------------------------------------------------------------------------------------------------
// Capacity counters

export const GLOBAL_INFLIGHT = 'inflight';
/** How many orders wait for capacity (a hint: the orchestrator's `#applyOne` says why). */
export const WAITING = 'waiting';

/** The counters a dispatched order holds, with their caps: the global cap and its job's max-parallel. */
export function capacityCounters(
  order: Pick<OrderRecord, 'runId' | 'job' | 'maxParallel'>,
  maxConcurrentOrders: number,
): [key: string, max: number][] {
  const wants: [string, number][] = [[GLOBAL_INFLIGHT, maxConcurrentOrders]];
  if (order.maxParallel !== undefined) wants.push([jobInflightKey(order), order.maxParallel]);
  return wants;
}

/**
 * How many waiting orders to pull: only as many as there are free slots (the rest would fail to acquire and stay
 * waiting anyway).
 */
export function waitingToPull(maxConcurrentOrders: number, inflight: number): number {
  return Math.max(0, maxConcurrentOrders - inflight);
}

export function jobInflightKey(order: Pick<OrderRecord, 'runId' | 'job'>): string {
  return `run#${order.runId}#job#${order.job}#inflight`;
}

/**
 * A cell of a matrix of calls under `max-parallel`, as one of its callee's orders sees it. GitHub counts the calling
 * job's cells, not their jobs: a cell takes a place in its `group` (at most `max`) when its first order dispatches
 * and marks it in `slot` (0 or 1), and gives it back when its last order is final (`finals` reaching `orders`).
 */
export interface CallSlot {
  readonly slot: string;
  readonly group: string;
  readonly max: number;
  readonly finals: string;
  readonly orders: number;
}

/** The cells of matrices of calls under `max-parallel` that an order is inside, outermost first. */
export function callSlots(order: Pick<OrderRecord, 'runId' | 'gates'>): CallSlot[] {
  return (order.gates ?? []).flatMap((gate) => {
    const strategy = gate.strategy;
    if (strategy?.maxParallel === undefined) return [];
    const cell = `run#${order.runId}#call#${gate.caller}`;
    return [
      {
        slot: `${cell}#slot`,
        group: jobInflightKey({ runId: order.runId, job: strategy.job }),
        max: strategy.maxParallel,
        finals: `${cell}#final`,
        orders: strategy.orders,
      },
    ];
  });
}

export function finalCountKey(runId: string): string {
  return `run#${runId}#final`;
}
