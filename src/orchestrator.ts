/**
 * The imperative shell around the engine: load the slice an event needs, ask `transition`, write each decision with
 * its condition, then execute the effects of the writes that won. Every effect is idempotent (launch tokens derive
 * from run/order/attempt; statuses and the comment are "set to"), so a crash between write and effect is repaired
 * by `tick` (the watchdog), which re-drives what was left half-done.
 */
import type { Logger } from 'pino';
import {
  callsFailingFast,
  DEFAULT_ENGINE_OPTIONS,
  matrixContexts,
  needsContext,
  runOutcome,
  concurrencyDecision,
  nextPendingRun,
  transition,
  triggersFailFast,
  type Decision,
  type EngineEvent,
  type EngineOptions,
} from './core/engine.ts';
import { cellIds, expandDynamicMatrix } from './core/dynamic-matrix.ts';
import {
  callSlots,
  capacityCounters,
  cellRecords,
  executionEvent,
  finalCountKey,
  finishCheck,
  GLOBAL_INFLIGHT,
  jobInflightKey,
  launchRoute,
  newRunRecords,
  reportEvent,
  WAITING,
  waitingToPull,
  watchAction,
  type NewRun,
} from './core/orchestration.ts';
import {
  enterJobGroup,
  isOrderOf,
  JOB_GROUP_DOC,
  jobGroupDoc,
  jobGroupKey,
  memberOf,
  membersOf,
  readJobGroupDoc,
  sameMember,
  settleJobGroup,
  waitingReason,
  type GroupEnding,
  type GroupMember,
  type JobGroupState,
  type Liveness,
} from './core/job-concurrency.ts';
import { keptStepResults, summariesOf } from './core/step-results.ts';
import {
  isFinalOrderState,
  type GithubContext,
  type OrderRecord,
  type OrderSpec,
  type RunRecord,
  type StepResult,
} from './core/types.ts';
import type { Limits } from './config.ts';
import { isRetryable, StoreError } from './errors.ts';
import type { AgentReport, ExecutionStatus, OrderJob, OrderRef, ReportSink, Route, Runner } from '../runners/runner.ts';
import { LiveSteps } from './store/live-steps.ts';
import { writeStepSummary } from './store/step-summaries.ts';
import type { Store } from './store/store.ts';

/** Tells the outside world (forge statuses and sticky comment, terminal progress, metrics). */
export interface Reporter {
  orderChanged(run: RunRecord, order: OrderRecord): Promise<void>;
  runChanged(run: RunRecord): Promise<void>;
}

export interface StartRunInput extends NewRun {
  /** Deterministic ids make a redelivered webhook start nothing new (createRun is idempotent). */
  readonly runId: string;
  readonly event: GithubContext['event_name'];
  readonly github: GithubContext;
}

export interface OrchestratorOptions {
  readonly store: Store;
  readonly runners: Partial<Record<Runner['kind'], Runner>>;
  readonly routes: ReadonlyMap<string, Route>;
  readonly limits: Limits;
  readonly reporter: Reporter;
  /**
   * Builds what an agent needs for an order, for the runner that will launch it (clone URL and credentials are the
   * forge's business: only the local runner reads the job's clone URL).
   */
  readonly jobFor: (
    run: RunRecord,
    order: OrderRecord,
    needs: OrderJob['needs'],
    runner: Runner['kind'],
  ) => Promise<OrderJob>;
  /**
   * Revokes the order's `GITHUB_TOKEN`(s) once it is final (success, failure, cancel, timeout): idempotent, never
   * throws. Absent: nothing to revoke (tokens expire within the hour anyway).
   */
  readonly revokeOrderToken?: (run: RunRecord, order: OrderRecord) => Promise<void>;
  readonly logger: Logger;
  readonly now?: () => number;
  /** How long an order may sit in `dispatching` without a handle before the watchdog re-drives its launch. */
  readonly redriveAfterMs?: number;
}

const RUN_CACHE_SIZE = 1000;
/** Conditional writes of a job group's document tried before giving up (each loss means another writer moved on). */
const GROUP_WRITE_ATTEMPTS = 20;
/** Job groups the watchdog settles per tick (oldest write first). */
const GROUP_TICK_LIMIT = 100;

export class Orchestrator implements ReportSink {
  readonly #store: Store;
  readonly #options: OrchestratorOptions;
  readonly #engine: EngineOptions;
  readonly #now: () => number;
  readonly #log: Logger;
  readonly #runs = new Map<string, RunRecord>();
  #pulling: Promise<void> | undefined;
  #pullAgain = false;
  readonly #liveSteps: LiveSteps;

  constructor(options: OrchestratorOptions) {
    this.#options = options;
    this.#store = options.store;
    this.#engine = { ...DEFAULT_ENGINE_OPTIONS, maxAttempts: options.limits.maxAttempts };
    this.#now = options.now ?? Date.now;
    this.#log = options.logger;
    this.#liveSteps = new LiveSteps(options.store, options.logger);
  }

  /** Persists a run and its orders, supersedes runs of its concurrency group, dispatches the roots. */
  async startRun(input: StartRunInput): Promise<{ run: RunRecord; created: boolean }> {
    const { plan } = input;
    const { run, orders } = newRunRecords(input, this.#now(), this.#options.limits.retentionDays);
    const created = await this.#store.createRun(run, orders);
    if (!created) {
      const existing = await this.#store.getRun(run.runId);
      return { run: existing ?? run, created: false };
    }
    this.#log.info({ runId: run.runId, file: run.file, orders: orders.length }, 'run created');
    if (run.status === 'pending' && plan.concurrency) {
      const group = await this.#groupRuns(run);
      const decision = concurrencyDecision(run, group, plan.concurrency.cancelInProgress);
      for (const old of decision.cancel) {
        await this.cancelRun(old.runId, `superseded by a newer run in concurrency group "${run.concurrencyGroup}"`);
      }
      if (!decision.start) {
        await this.#options.reporter.runChanged(run);
        return { run, created: true };
      }
      return { run: (await this.#promote(run, orders)) ?? run, created: true };
    }
    await this.#options.reporter.runChanged(run);
    await this.#dispatchRoots(run, orders);
    return { run, created: true };
  }

  /** A pending run's turn: mark it running (one replica wins) and dispatch its roots. */
  async #promote(run: RunRecord, orders?: readonly OrderRecord[]): Promise<RunRecord | undefined> {
    const running = await this.#store.updateRun(run.runId, { statuses: ['pending'] }, { status: 'running' });
    if (!running) return undefined;
    this.#log.info({ runId: run.runId }, 'run started');
    await this.#options.reporter.runChanged(running);
    await this.#dispatchRoots(running, orders ?? (await this.#store.listOrders(run.runId)));
    return running;
  }

  async #dispatchRoots(run: RunRecord, orders: readonly OrderRecord[]): Promise<void> {
    const slice = byId(orders);
    await this.#apply(
      run,
      transition({ run, orders: slice }, { type: 'started' }, this.#now(), this.#engine).decisions,
      slice,
    );
  }

  async #groupRuns(run: RunRecord): Promise<RunRecord[]> {
    if (run.concurrencyGroup === undefined) return [];
    const query = { repo: run.repo, concurrencyGroup: run.concurrencyGroup };
    const [running, pending] = await Promise.all([
      this.#store.listRuns({ ...query, status: 'running' }),
      this.#store.listRuns({ ...query, status: 'pending' }),
    ]);
    return [...running, ...pending];
  }

  /** After a run of a group ends (or on the watchdog tick), start the group's pending run if it may now run. */
  async #startNextInGroup(run: RunRecord): Promise<void> {
    if (run.concurrencyGroup === undefined) return;
    const next = nextPendingRun(await this.#groupRuns(run));
    if (next) await this.#promote(next);
  }

  /** The completion path: local runners call it in-process, the callback route after verifying the agent's token. */
  async report(ref: OrderRef, report: AgentReport): Promise<void> {
    if (report.type === 'step') {
      await this.#keepSummaries(ref, [report.result]);
      return this.#liveSteps.record(ref, report.result);
    }
    // Log chunks are the log store's (the callback route and the local runner append them there); `reportEvent`
    // says what the rest means for the order.
    if (reportEvent(ref, report) === undefined) return;
    const [run, order] = await Promise.all([this.#runFor(ref.runId), this.#store.getOrder(ref.runId, ref.orderId)]);
    if (!run || !order) {
      this.#log.warn({ ...ref }, 'report for an unknown order');
      return;
    }
    let kept = report;
    if (report.type === 'finished') {
      await this.#keepSummaries(ref, report.stepResults, run);
      // The order record keeps steps without their summaries, and the steps' first annotations only (400 KB items).
      const earlier = order.attempt === ref.attempt ? order.stepResults : undefined;
      kept = { ...report, stepResults: keptStepResults(report.stepResults, earlier) };
    }
    const event = reportEvent(ref, kept);
    if (event !== undefined) await this.#drive(run, [order], event);
  }

  /**
   * Stores the step summaries a report carries, each as its own document (src/store/step-summaries.ts). A failed
   * write is logged, not thrown: the order's result matters more than its summary.
   */
  async #keepSummaries(ref: OrderRef, steps: readonly StepResult[], known?: RunRecord): Promise<void> {
    const summaries = summariesOf(steps);
    if (summaries.length === 0) return;
    const run = known ?? (await this.#runFor(ref.runId));
    if (!run) return;
    for (const { index, markdown } of summaries) {
      try {
        await writeStepSummary(this.#store, { ...ref, index }, markdown, run.expiresAt);
      } catch (error) {
        this.#log.warn({ err: error, ...ref, index }, 'step summary not stored');
      }
    }
  }

  /**
   * A run's identity (repo, SHA, github context, order count) never changes after creation, so reports read it
   * from a small cache; only status and reason change, and those are re-read where they matter.
   */
  async #runFor(runId: string): Promise<RunRecord | undefined> {
    const cached = this.#runs.get(runId);
    if (cached) return cached;
    const run = await this.#store.getRun(runId);
    if (run) {
      this.#runs.set(runId, run);
      if (this.#runs.size > RUN_CACHE_SIZE) this.#runs.delete(this.#runs.keys().next().value!);
    }
    return run;
  }

  /** Cancels every unfinished order of a run (PR closed, superseded, user request). */
  async cancelRun(runId: string, reason: string): Promise<void> {
    const run = await this.#store.updateRun(runId, { statuses: ['running', 'pending'] }, { reason });
    if (!run) return;
    this.#log.info({ runId, reason }, 'run cancelled');
    const orders = await this.#store.listOrders(runId);
    await this.#drive(run, orders, { type: 'cancel', reason });
    await this.#maybeFinishRun(run, 'recount');
  }

  /**
   * The watchdog: timeouts, launches left half-done by a crash, executions that vanished, orders waiting for
   * capacity, and runs whose last completion was lost. Safe to run from several replicas at once.
   */
  async tick(): Promise<void> {
    const now = this.#now();
    const redriveAfter = this.#options.redriveAfterMs ?? 60_000;
    for (const order of await this.#store.listActiveOrders()) {
      const run = await this.#runFor(order.runId); // identity only: the cache serves it
      if (!run) continue;
      const action = watchAction(order, now, redriveAfter);
      if (action.type === 'timeout') {
        await this.#drive(run, [order], { type: 'timeout', orderId: order.id, attempt: order.attempt });
      } else if (action.type === 'redrive') {
        await this.#launch(run, order);
      } else if (action.type === 'inspect') {
        await this.#checkExecution(run, order, action.handle, action.runner);
      } else if (action.type === 'write-cells') {
        await this.#rewriteCells(run, order);
      }
    }
    await this.#pullWaiting();
    // Job groups written a while ago: a member that ended without releasing the group (a crash between writes) is
    // dropped and the waiting one dispatched; a holder whose dispatch was lost is dispatched again.
    const settledBefore = now - redriveAfter;
    for (const doc of await this.#store.listDocs(JOB_GROUP_DOC, {
      dueBefore: settledBefore,
      limit: GROUP_TICK_LIMIT,
    })) {
      await this.#settleGroup(doc.key, { redriveBefore: settledBefore });
    }
    for (const run of await this.#store.listRuns({ status: 'pending', limit: 100 })) {
      await this.#startNextInGroup(run); // a promotion lost to a crash
    }
    for (const run of await this.#store.listRuns({ status: 'running', limit: 100 })) {
      await this.#maybeFinishRun(run, finishCheck(run, now));
    }
  }

  /**
   * An execution the store thinks is live: ask its runner (`executionEvent` says what its answer means). A runner
   * that cannot tell more than "gone" counts as interrupted (a local process lost to a restart is worth another
   * attempt).
   */
  async #checkExecution(run: RunRecord, order: OrderRecord, handle: string, kind: string): Promise<void> {
    const runner = this.#options.runners[kind as Runner['kind']];
    if (!runner) return;
    let status: ExecutionStatus;
    try {
      status = runner.inspect
        ? await runner.inspect(handle)
        : { alive: await runner.isAlive(handle), interrupted: true, reason: `the ${kind} execution ${handle} is gone` };
    } catch (error) {
      this.#log.warn({ err: error, runId: run.runId, orderId: order.id }, 'cannot inspect an execution');
      return;
    }
    const event = executionEvent(order, status, kind);
    if (event) await this.#drive(run, [order], event);
  }

  /** Runs one engine event over a slice and applies its decisions. */
  async #drive(run: RunRecord, orders: readonly OrderRecord[], event: EngineEvent): Promise<void> {
    const slice = byId(orders);
    const result = transition({ run, orders: slice }, event, this.#now(), this.#engine);
    if (result.rejected !== undefined) {
      this.#log.debug({ runId: run.runId, event: event.type, why: result.rejected }, 'event refused');
      return;
    }
    await this.#apply(run, result.decisions, slice);
  }

  async #apply(
    run: RunRecord,
    decisions: readonly Decision[],
    before: ReadonlyMap<string, OrderRecord>,
  ): Promise<void> {
    await Promise.all(decisions.map((d) => this.#applyOne(run, d, before)));
  }

  async #applyOne(run: RunRecord, decision: Decision, slice: ReadonlyMap<string, OrderRecord>): Promise<void> {
    const before = slice.get(decision.orderId);
    // A job concurrency group is asked before capacity: a waiting order holds no slot.
    const grouped = decision.group !== undefined && before?.state === 'queued' ? decision.group : undefined;
    if (grouped !== undefined && before !== undefined && !(await this.#enterGroup(run, before, grouped))) return;
    const { changes, effects, held, startsWaiting } = await this.#takeCapacity(decision, before);
    const order = await this.#store.updateOrder(run.runId, decision.orderId, decision.expect, changes);
    if (!order) {
      await this.#releaseKeys(held); // lost the race: someone else made this transition
      // The group may now name a holder that was cancelled meanwhile: release it if so.
      if (grouped !== undefined && before !== undefined) {
        await this.#settleGroup(jobGroupKey(run.repo, grouped.name), { concerning: memberOf(before, 0) });
      }
      return;
    }
    // The `waiting` counter says whether a release needs to look for waiting orders at all (one read, instead of
    // querying the index after every completion). It may drift after a crash; the watchdog tick pulls regardless.
    if (startsWaiting) await this.#store.addCounter(WAITING, 1);
    else if (before?.waitingSince !== undefined && order.waitingSince === undefined) {
      await this.#store.addCounter(WAITING, -1);
    }
    // Capacity freed between the refused acquire and this write was released by orders that could not see this
    // one waiting yet: look once more, or it would wait for the next tick. Only for a newly waiting order, so a
    // pull that re-queues an order never loops.
    if (startsWaiting) await this.#pullWaiting();
    for (const effect of effects) await this.#applyEffect(run, order, effect, before, slice);
  }

  /**
   * A fresh dispatch takes capacity first; without it the order stays queued and waits (oldest first): the
   * decision's write becomes "waiting since", its effects a notice.
   */
  async #takeCapacity(
    decision: Decision,
    before: OrderRecord | undefined,
  ): Promise<Pick<Decision, 'changes' | 'effects'> & { held: string[]; startsWaiting: boolean }> {
    const { changes, effects } = decision;
    const takesCapacity = effects.some((e) => e.type === 'launch') && before?.state === 'queued';
    if (!takesCapacity || !before) return { changes, effects, held: [], startsWaiting: false };
    const held = await this.#acquire(before);
    if (held !== undefined) return { changes, effects, held, startsWaiting: false };
    return {
      changes: { waitingSince: before.waitingSince ?? this.#now() },
      effects: [{ type: 'notify' }],
      held: [],
      startsWaiting: before.waitingSince === undefined,
    };
  }

  async #applyEffect(
    run: RunRecord,
    order: OrderRecord,
    effect: Decision['effects'][number],
    before: OrderRecord | undefined,
    slice: ReadonlyMap<string, OrderRecord>,
  ): Promise<void> {
    switch (effect.type) {
      case 'launch':
        await this.#launch(run, order, before === undefined ? undefined : slice);
        break;
      case 'terminate':
        await this.#terminate(effect.runner, effect.handle, effect.reason);
        break;
      case 'notify':
        await this.#options.reporter.orderChanged(run, order);
        break;
      case 'order-final':
        await this.#onFinal(run, order, before);
        break;
      case 'create-cells':
        await this.#writeCells(run, order, effect.cells);
        break;
    }
  }

  /**
   * A dynamic matrix expanded: its cells are written (each only if absent), those still queued are started like a
   * run's roots, and the expanded order is marked so the watchdog leaves it alone. A crash anywhere in between is
   * repaired by `#rewriteCells`, which recomputes the same cells.
   */
  async #writeCells(run: RunRecord, expanded: OrderRecord, cells: readonly OrderSpec[]): Promise<void> {
    await this.#store.addOrders(run, cellRecords(expanded, cells, this.#now()));
    const [written, needs] = await Promise.all([
      this.#store.getOrders(run.runId, cellIds(expanded)),
      this.#store.getOrders(run.runId, expanded.needsOrders),
    ]);
    this.#log.info({ runId: run.runId, orderId: expanded.id, cells: written.length }, 'matrix expanded');
    const slice = byId([...needs, ...written]);
    const started = transition({ run, orders: slice }, { type: 'started' }, this.#now(), this.#engine);
    await this.#apply(run, started.decisions, slice);
    await this.#store.updateOrder(run.runId, expanded.id, { states: ['running'] }, { cellsWritten: true });
  }

  /** The watchdog's repair of an expansion a crash left half-written: the same cells, from the same needs. */
  async #rewriteCells(run: RunRecord, expanded: OrderRecord): Promise<void> {
    const needed = await this.#store.getOrders(run.runId, expanded.needsOrders);
    const byOrder = byId(needed);
    const needs = needsContext(expanded, (id) => byOrder.get(id));
    const expansion = expandDynamicMatrix(expanded, matrixContexts(run, expanded, needs));
    if (!expansion.ok || expansion.cells.length !== expanded.cells) {
      this.#log.warn({ runId: run.runId, orderId: expanded.id }, 'cannot repeat a matrix expansion');
      return;
    }
    await this.#writeCells(run, expanded, expansion.cells);
  }

  /** Capacity: the global cap and the job's max-parallel, as bounded counters. Returns the keys taken. */
  async #acquire(order: OrderRecord): Promise<string[] | undefined> {
    if (!(await this.#takeCallSlots(order))) return undefined;
    const taken: string[] = [];
    for (const [key, max] of capacityCounters(order, this.#options.limits.maxConcurrentOrders)) {
      if ((await this.#store.addCounter(key, 1, max)) === undefined) {
        await this.#releaseKeys(taken);
        return undefined;
      }
      taken.push(key);
    }
    return taken;
  }

  async #releaseKeys(keys: readonly string[]): Promise<void> {
    for (const key of keys) await this.#store.addCounter(key, -1);
  }

  /**
   * A matrix of calls under max-parallel: the order's cell takes a place in its group unless it holds one, and keeps it
   * until the cell is over (`#releaseCallSlots`), even while this order waits for other capacity. Of two orders of one
   * cell racing for the place, one marks the cell; the other gives back what it took.
   */
  async #takeCallSlots(order: OrderRecord): Promise<boolean> {
    for (const cell of callSlots(order)) {
      if ((await this.#store.getCounter(cell.slot)) > 0) continue;
      if ((await this.#store.addCounter(cell.group, 1, cell.max)) === undefined) {
        // The group is full, perhaps with this very cell (another of its orders marking it now).
        if ((await this.#store.getCounter(cell.slot)) > 0) continue;
        return false;
      }
      if ((await this.#store.addCounter(cell.slot, 1, 1)) === undefined) await this.#store.addCounter(cell.group, -1);
    }
    return true;
  }

  /** The order is final: a cell of a matrix of calls whose orders are now all final gives its place back. */
  async #releaseCallSlots(order: OrderRecord): Promise<boolean> {
    // A dynamic matrix's cells are not counted: the order that stands for them becomes final after them.
    if (order.cellOf !== undefined) return false;
    let released = false;
    for (const cell of callSlots(order)) {
      if ((await this.#store.addCounter(cell.finals, 1)) !== cell.orders) continue;
      // A cell that never ran (its calling job skipped) held no place.
      if ((await this.#store.addCounter(cell.slot, -1)) !== 0) continue;
      await this.#store.addCounter(cell.group, -1);
      released = true;
    }
    return released;
  }

  /** `loaded` may hold the order's needs already (the slice that made it ready), saving a read. */
  async #launch(run: RunRecord, order: OrderRecord, loaded?: ReadonlyMap<string, OrderRecord>): Promise<void> {
    const runners = this.#options.runners;
    const launchable = launchRoute(
      order,
      this.#options.routes,
      (kind) => runners[kind as Runner['kind']] !== undefined,
    );
    if ('event' in launchable) {
      await this.#drive(run, [order], launchable.event);
      return;
    }
    const { route } = launchable;
    const runner = runners[route.runner as Runner['kind']]!;
    const ref = { orderId: order.id, attempt: order.attempt };
    try {
      const needs = await this.#needsContext(order, loaded);
      const job = await this.#options.jobFor(run, order, needs, runner.kind);
      const { handle } = await runner.launch({ run, order, route, job });
      // `order` is the record this launch's own write produced: the dispatched transition only needs its attempt.
      await this.#drive(run, [order], { type: 'dispatched', ...ref, runner: runner.kind, handle });
    } catch (error) {
      // Retryable failures stay in `dispatching` for the watchdog to re-drive with the same token.
      if (isRetryable(error)) {
        this.#log.warn({ err: error, runId: run.runId, orderId: order.id }, 'launch failed, will retry');
        return;
      }
      await this.#drive(run, [order], {
        type: 'launch-failed',
        ...ref,
        reason: `launch failed: ${(error as Error).message}`,
      });
    }
  }

  async #needsContext(order: OrderRecord, loaded?: ReadonlyMap<string, OrderRecord>): Promise<OrderJob['needs']> {
    if (order.needsOrders.length === 0) return {};
    const preloaded = order.needsOrders.map((id) => loaded?.get(id));
    const needed = preloaded.every((o) => o !== undefined && isFinalOrderState(o.state))
      ? (preloaded as OrderRecord[])
      : await this.#store.getOrders(order.runId, order.needsOrders);
    const byOrder = byId(needed);
    return needsContext(order, (id) => byOrder.get(id));
  }

  async #terminate(kind: string, handle: string, reason: string): Promise<void> {
    const runner = this.#options.runners[kind as Runner['kind']];
    try {
      await runner?.terminate(handle, reason);
    } catch (error) {
      // The janitor sweeps what could not be terminated now.
      this.#log.warn({ err: error, handle }, 'terminate failed');
    }
  }

  /** An order became final: free its capacity, satisfy dependents, fail fast, and count towards the run's end. */
  async #onFinal(run: RunRecord, order: OrderRecord, before: OrderRecord | undefined): Promise<void> {
    await this.#options.revokeOrderToken?.(run, order);
    // An expanded dynamic matrix ran nothing itself: its cells held (and released) the capacity.
    const heldCapacity = before !== undefined && before.state !== 'queued' && order.dynamicMatrix === undefined;
    if (heldCapacity) {
      await this.#releaseKeys(
        order.maxParallel === undefined ? [GLOBAL_INFLIGHT] : [GLOBAL_INFLIGHT, jobInflightKey(order)],
      );
    }
    await Promise.all(
      order.dependents.map(async (dependentId) => {
        const result = await this.#store.satisfyNeed(run.runId, dependentId, order.id);
        if (!result?.applied || result.order.pendingNeeds !== 0) return;
        // An expanded dynamic matrix waits for its cells: the engine reads them to end it.
        const ids = [...result.order.needsOrders, ...cellIds(result.order)];
        const needs = await this.#store.getOrders(run.runId, ids);
        await this.#drive(run, [result.order, ...needs], { type: 'ready', orderId: dependentId });
      }),
    );
    if (order.concurrency !== undefined) {
      await this.#settleGroup(jobGroupKey(run.repo, order.concurrency.group), { concerning: memberOf(order, 0) });
    }
    if (triggersFailFast(order)) {
      const siblings = (await this.#store.listOrders(run.runId)).filter((o) => o.job === order.job);
      await this.#drive(run, siblings, { type: 'fail-fast', failedOrderId: order.id });
    }
    for (const caller of callsFailingFast(order)) {
      const cells = (await this.#store.listOrders(run.runId)).filter((o) => o.gates !== undefined);
      await this.#drive(run, [order, ...cells], { type: 'call-fail-fast', failedOrderId: order.id, caller });
    }
    const releasedCell = await this.#releaseCallSlots(order);
    // The run's order count is the plan's: a dynamic matrix's cells are not in it (their expanded order is, and it
    // becomes final only after them), so they do not count towards the run's end.
    const finals = order.cellOf === undefined ? await this.#store.addCounter(finalCountKey(run.runId), 1) : undefined;
    if (finals !== undefined && finals >= run.orderCount) await this.#maybeFinishRun(run, 'none');
    if ((heldCapacity || releasedCell) && (await this.#store.getCounter(WAITING)) > 0) await this.#pullWaiting();
  }

  /**
   * A ready order of a job concurrency group asks the group (src/core/job-concurrency.ts): true to dispatch it; false
   * when it waits, queued, as the group's pending member (its reason says so). The group's document is written with
   * its version as condition, so two replicas never both take the group; members the entry ends are cancelled after
   * the write (and again by the next writer or the watchdog while they are live).
   */
  async #enterGroup(run: RunRecord, order: OrderRecord, group: NonNullable<Decision['group']>): Promise<boolean> {
    const key = jobGroupKey(run.repo, group.name);
    const candidate = memberOf(order, this.#now());
    for (let attempt = 0; attempt < GROUP_WRITE_ATTEMPTS; attempt++) {
      const read = await this.#readGroup(key);
      const live = await this.#liveness(membersOf(read.state));
      const entry = enterJobGroup(read.state, group.name, candidate, group.cancelInProgress, live);
      if (entry.changed && !(await this.#writeGroup(key, entry.next, read.version))) continue;
      await this.#endMembers(entry.ending);
      if (entry.verdict === 'run') return true;
      // Stored as evaluated, so the order's end (a cancellation, its run's) settles this group.
      const waiting = await this.#store.updateOrder(
        run.runId,
        order.id,
        { states: ['queued'] },
        {
          reason: waitingReason(group.name),
          concurrency: { group: group.name, cancelInProgress: group.cancelInProgress },
        },
      );
      if (waiting) await this.#options.reporter.orderChanged(run, waiting);
      return false;
    }
    throw new StoreError(`job concurrency group "${group.name}" kept changing under ${GROUP_WRITE_ATTEMPTS} writes`, {
      retryable: true,
      context: { operation: 'enterGroup', runId: run.runId, orderId: order.id },
    });
  }

  /**
   * Settles a job group: members whose orders are all final are dropped, the pending member is promoted and its ready
   * orders dispatched when the group is free, and members the group ended are cancelled. `concerning`: only when the
   * document names that member (an order's end). `redriveBefore` (the watchdog): a holder that took the group before
   * then and still has ready orders queued lost its dispatch to a crash; dispatch them.
   */
  async #settleGroup(
    key: string,
    options: { readonly concerning?: GroupMember; readonly redriveBefore?: number },
  ): Promise<void> {
    for (let attempt = 0; attempt < GROUP_WRITE_ATTEMPTS; attempt++) {
      const read = await this.#readGroup(key);
      if (read.state === undefined) return;
      const members = membersOf(read.state);
      if (options.concerning !== undefined && !members.some((m) => sameMember(m, options.concerning))) return;
      const settled = settleJobGroup(read.state, await this.#liveness(members), this.#now());
      if (settled.changed && !(await this.#writeGroup(key, settled.next, read.version))) continue;
      await this.#endMembers(settled.ending);
      const holder = settled.next.running;
      if (settled.promote !== undefined) {
        this.#log.info({ group: settled.next.group, runId: settled.promote.runId }, 'job group passed on');
        await this.#dispatchMember(settled.promote);
      } else if (holder !== undefined && options.redriveBefore !== undefined && holder.since <= options.redriveBefore) {
        await this.#dispatchMember(holder);
      }
      return;
    }
    this.#log.warn({ key }, 'job group kept changing; the watchdog settles it');
  }

  async #readGroup(key: string): Promise<{ state?: JobGroupState; version?: number }> {
    const doc = await this.#store.getDoc(JOB_GROUP_DOC, key);
    const state = doc === undefined ? undefined : readJobGroupDoc(doc.value);
    return doc === undefined ? {} : { ...(state ? { state } : {}), version: doc.version };
  }

  /** The group's document, conditional on the version read (absent: on its absence). False when another writer won. */
  async #writeGroup(key: string, state: JobGroupState, version: number | undefined): Promise<boolean> {
    const now = this.#now();
    const written = await this.#store.putDoc(JOB_GROUP_DOC, key, jobGroupDoc(state, now), {
      expiresAt: now + this.#options.limits.retentionDays * 86_400_000,
      ...(version === undefined ? {} : { ifVersion: version }),
    });
    return written !== undefined;
  }

  /** The orders of a group member (one order, or every order of a called workflow). */
  async #memberOrders(member: GroupMember): Promise<OrderRecord[]> {
    if (member.whole === true) return (await this.#store.listOrders(member.runId)).filter((o) => isOrderOf(member, o));
    const order = await this.#store.getOrder(member.runId, member.unit);
    return order === undefined ? [] : [order];
  }

  /** Whether each member still has an order that is not final, from their orders read now. */
  async #liveness(members: readonly GroupMember[]): Promise<Liveness> {
    const live = new Set<string>();
    await Promise.all(
      members.map(async (m) => {
        if ((await this.#memberOrders(m)).some((o) => !isFinalOrderState(o.state))) live.add(`${m.runId}\n${m.unit}`);
      }),
    );
    return (m) => live.has(`${m.runId}\n${m.unit}`);
  }

  /** Cancels what is left of members a group ended (idempotent: final orders are left alone). */
  async #endMembers(ending: readonly GroupEnding[]): Promise<void> {
    for (const { member, reason } of ending) {
      const run = await this.#runFor(member.runId);
      const orders = (await this.#memberOrders(member)).filter((o) => !isFinalOrderState(o.state));
      if (!run || orders.length === 0) continue;
      this.#log.info({ runId: member.runId, unit: member.unit, reason }, 'job group member cancelled');
      await this.#drive(run, orders, { type: 'cancel', reason });
    }
  }

  /** A member's turn in its group: its ready orders are dispatched (each asks the group, which it now holds). */
  async #dispatchMember(member: GroupMember): Promise<void> {
    const run = await this.#runFor(member.runId);
    if (!run) return;
    for (const order of await this.#memberOrders(member)) {
      if (order.state !== 'queued' || order.pendingNeeds !== 0) continue;
      const needs = await this.#store.getOrders(run.runId, order.needsOrders);
      await this.#drive(run, [order, ...needs], { type: 'ready', orderId: order.id });
    }
  }

  /**
   * Dispatches orders that wait for capacity, oldest first, while capacity lasts.
   *
   * Single-flight per process: completions arriving together would otherwise each list the same oldest waiting
   * orders and race for the same slots. A call made while a pull runs asks for one more round and returns at
   * once (never awaiting the pull it may be part of).
   */
  async #pullWaiting(): Promise<void> {
    if (this.#pulling) {
      this.#pullAgain = true;
      return;
    }
    this.#pulling = (async () => {
      do {
        this.#pullAgain = false;
        await this.#pullWaitingOnce();
      } while (this.#pullAgain);
    })().finally(() => (this.#pulling = undefined));
    await this.#pulling;
  }

  async #pullWaitingOnce(): Promise<void> {
    const free = waitingToPull(this.#options.limits.maxConcurrentOrders, await this.#store.getCounter(GLOBAL_INFLIGHT));
    if (free <= 0) return;
    const waiting = await this.#store.listWaitingOrders(free);
    for (const order of waiting) {
      // A waiting order is queued, so its run is live (cancelling a run cancels its queued orders first).
      const run = await this.#runFor(order.runId);
      if (!run) continue;
      const needs = await this.#store.getOrders(run.runId, order.needsOrders);
      await this.#drive(run, [order, ...needs], { type: 'ready', orderId: order.id });
    }
  }

  /**
   * Ends a run when every order is final. The counter says when to look; the full read (once per run) decides, so
   * a counter that drifted after a crash costs a late finish from the watchdog, never a wrong one.
   */
  async #maybeFinishRun(run: RunRecord, check: 'none' | 'counter' | 'recount'): Promise<void> {
    if (check === 'counter' && (await this.#store.getCounter(finalCountKey(run.runId))) < run.orderCount) return;
    const orders = await this.#store.listOrders(run.runId);
    const fresh = (await this.#store.getRun(run.runId)) ?? run;
    const status = runOutcome(orders, fresh.reason !== undefined);
    if (status === 'running') return;
    const finished = await this.#store.updateRun(
      run.runId,
      { statuses: ['running', 'pending'] },
      { status, finishedAt: this.#now() },
    );
    if (!finished) return;
    this.#log.info({ runId: run.runId, status }, 'run finished');
    await this.#options.reporter.runChanged(finished);
    await this.#startNextInGroup(finished);
  }
}

function byId(orders: readonly OrderRecord[]): Map<string, OrderRecord> {
  return new Map(orders.map((o) => [o.id, o]));
}
