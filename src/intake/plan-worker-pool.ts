/**
 * Parsing and planning off the server's event loop (issue 16: no input can stall the server). A workflow file comes
 * from whoever can open a pull request; the parser's bounds (src/core/limits.ts) keep its work proportional to the
 * file, but a 512 KiB file can still take seconds of CPU, and in the server's own thread those seconds would hold up
 * every webhook, callback and health check. So `spotcheck serve` plans in a few worker threads (plan-worker.ts),
 * each request under a hard time budget and each worker under a heap cap:
 *
 * - The budget counts the worker's own time, not its waits for the callees the pool reads through the forge.
 * - When it runs out, or the worker runs out of memory or dies, the worker is ended and a new one takes its place
 *   when next needed. The file that was being read gets a diagnostic (its failed commit status says so: "spotcheck
 *   stopped reading .spotcheck/workflows/x.yml after 10 s: the file is too costly to parse") and the commit's other
 *   files are planned once more without it, under a new budget. If that runs out too, or the budget ran out while
 *   reading a callee or planning, every file gets the diagnostic. A request takes at most two budgets.
 * - Nothing is left stuck: the request always settles (a result, or the forge's error while reading a callee, for
 *   the inbox to retry).
 */
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { PlanWorkflowsResult } from '../core/plan-workflows.ts';
import type { Diagnostic } from '../core/types.ts';
import type { FromPlanWorker, ToPlanWorker } from './plan-worker.ts';
import type { Planner, PlanRequest } from './planner.ts';
import type { CalleeReader } from './read-callees.ts';

/** The worker's entry when running from source: it loads plan-worker.ts through tsx. */
export const PLAN_WORKER_ENTRY = new URL('../../bin/spotcheck-plan-worker.js', import.meta.url);

export interface PlanWorkerPoolOptions {
  /** Workers at most, never more than the machine's cores; each is started when first needed. */
  readonly workers: number;
  /** One request's time budget, ms: the worker's own time, not its waits for callees. */
  readonly budgetMs: number;
  /** A worker's heap cap (V8's old generation), MiB. */
  readonly memoryMb: number;
  readonly logger: Logger;
  /** The worker's entry module (a bundle passes its own). */
  readonly entry?: URL;
}

export interface PlanWorkerPool {
  readonly planner: Planner;
  /** Workers started so far, and how many of them were ended (budget, memory, a crash). */
  stats(): { readonly started: number; readonly stopped: number };
  /** Ends every worker; a request still running rejects. */
  close(): Promise<void>;
}

/** Why a worker ended in the middle of a request. */
type Stop =
  | { readonly kind: 'time' }
  | { readonly kind: 'memory' }
  | { readonly kind: 'crash'; readonly detail: string }
  | { readonly kind: 'closed' };

type Outcome =
  | { readonly kind: 'done'; readonly results: readonly PlanWorkflowsResult[] }
  | { readonly kind: 'stopped'; readonly stop: Stop; readonly at: string | undefined };

interface Slot {
  readonly worker: Worker;
  readonly ready: Promise<void>;
  ended: boolean;
  /** The request this worker is on. */
  job: { onMessage(message: FromPlanWorker): void; onEnd(stop: Stop): void } | undefined;
}

export function createPlanWorkerPool(options: PlanWorkerPoolOptions): PlanWorkerPool {
  const size = Math.max(1, Math.min(options.workers, availableParallelism()));
  const entry = options.entry ?? PLAN_WORKER_ENTRY;
  const all = new Set<Slot>();
  const idle: Slot[] = [];
  const waiting: { resolve: (slot: Slot) => void; reject: (error: Error) => void }[] = [];
  let started = 0;
  let stopped = 0;
  let closed = false;

  function spawn(): Slot {
    const worker = new Worker(entry, { resourceLimits: { maxOldGenerationSizeMb: options.memoryMb } });
    started++;
    let markReady = (): void => undefined;
    let failReady = (_error: Error): void => undefined;
    const ready = new Promise<void>((resolve, reject) => {
      markReady = resolve;
      failReady = reject;
    });
    // Awaited only by a request; a worker that dies idle must not be an unhandled rejection.
    ready.catch(() => undefined);
    const slot: Slot = { worker, ready, ended: false, job: undefined };
    const end = (stop: Stop): void => {
      if (slot.ended) return;
      stopped++;
      slot.ended = true;
      all.delete(slot);
      const at = idle.indexOf(slot);
      if (at >= 0) idle.splice(at, 1);
      failReady(new Error('the plan worker ended before it was ready'));
      slot.job?.onEnd(stop);
    };
    worker.on('message', (message: FromPlanWorker) => {
      if (message.type === 'ready') markReady();
      else slot.job?.onMessage(message);
    });
    worker.on('error', (error: Error & { code?: string }) =>
      end(error.code === 'ERR_WORKER_OUT_OF_MEMORY' ? { kind: 'memory' } : { kind: 'crash', detail: error.message }),
    );
    worker.on('exit', (code) => end({ kind: 'crash', detail: `it exited with code ${String(code)}` }));
    all.add(slot);
    return slot;
  }

  /** Ends a worker on the pool's own decision (budget, close). */
  function stop(slot: Slot, why: Stop): void {
    if (slot.ended) return;
    if (why.kind !== 'closed') stopped++;
    slot.ended = true;
    all.delete(slot);
    slot.job?.onEnd(why);
    void slot.worker.terminate();
  }

  function acquire(): Promise<Slot> {
    if (closed) return Promise.reject(new Error('the plan worker pool is closed'));
    const free = idle.pop();
    if (free !== undefined) return Promise.resolve(free);
    if (all.size < size) return Promise.resolve(spawn());
    return new Promise((resolve, reject) => waiting.push({ resolve, reject }));
  }

  function release(slot: Slot): void {
    if (closed) return;
    const next = waiting.shift();
    if (next === undefined) {
      if (!slot.ended) idle.push(slot);
    } else next.resolve(slot.ended ? spawn() : slot);
  }

  async function runOnce(request: PlanRequest, read: CalleeReader): Promise<Outcome> {
    const slot = await acquire();
    try {
      await slot.ready;
      return await new Promise<Outcome>((resolve, reject) => {
        let remaining = options.budgetMs;
        let armedAt = 0;
        let timer: NodeJS.Timeout | undefined;
        let at: string | undefined;
        let readError: { error: Error } | undefined;
        const arm = (): void => {
          armedAt = performance.now();
          timer = setTimeout(() => stop(slot, { kind: 'time' }), Math.max(0, remaining));
        };
        const pause = (): void => {
          clearTimeout(timer);
          remaining -= performance.now() - armedAt;
        };
        const answer = (message: ToPlanWorker): void => {
          if (slot.ended) return;
          slot.worker.postMessage(message);
          arm();
        };
        slot.job = {
          onMessage(message) {
            switch (message.type) {
              case 'reading':
                at = message.file;
                options.logger.debug({ file: message.file }, 'a plan worker is reading a file');
                return;
              case 'planning':
                at = undefined;
                return;
              case 'callee':
                pause();
                read(message.ref).then(
                  (text) =>
                    answer({
                      type: 'callee',
                      id: message.id,
                      text: typeof text === 'string' ? text : undefined,
                      deferred: typeof text === 'object',
                    }),
                  (error: unknown) => {
                    readError = { error: error instanceof Error ? error : new Error(String(error)) };
                    answer({ type: 'callee-failed', id: message.id });
                  },
                );
                return;
              case 'done':
                clearTimeout(timer);
                resolve({ kind: 'done', results: message.results });
                return;
              case 'failed':
                clearTimeout(timer);
                reject(readError?.error ?? new Error(`planning failed: ${message.message}`));
            }
          },
          onEnd(why) {
            clearTimeout(timer);
            if (why.kind === 'closed') reject(new Error('the plan worker pool closed during planning'));
            else resolve({ kind: 'stopped', stop: why, at });
          },
        };
        slot.worker.postMessage({ type: 'plan', request } satisfies ToPlanWorker);
        arm();
      });
    } finally {
      slot.job = undefined;
      release(slot);
    }
  }

  const describe = (outcome: Extract<Outcome, { kind: 'stopped' }>, file: string): Diagnostic =>
    stopDiagnostic(file, outcome, options);

  const planner: Planner = async (request, read) => {
    const first = await runOnce(request, read);
    if (first.kind === 'done') return first.results;
    options.logger.warn({ at: first.at, stop: first.stop }, 'a plan worker was ended during planning');
    const culprit = request.sources.find((s) => s.path === first.at);
    if (culprit === undefined)
      return failAll(
        request,
        request.sources.map((s) => describe(first, s.path)),
      );
    const blamed = describe(first, culprit.path);
    const rest = request.sources.filter((s) => s !== culprit);
    if (rest.length === 0) return failAll(request, [blamed]);
    const second = await runOnce({ ...request, sources: rest }, read);
    if (second.kind === 'done')
      return second.results.map((result) => ({ ...result, diagnostics: [blamed, ...result.diagnostics] }));
    options.logger.warn({ at: second.at, stop: second.stop }, 'a plan worker was ended during planning');
    return failAll(request, [blamed, ...rest.map((s) => describe(second, s.path))]);
  };

  return {
    planner,
    stats: () => ({ started, stopped }),
    async close() {
      closed = true;
      for (const { reject } of waiting.splice(0)) reject(new Error('the plan worker pool is closed'));
      const ending = [...all];
      for (const slot of ending) stop(slot, { kind: 'closed' });
      await Promise.all(ending.map((slot) => slot.worker.terminate()));
    },
  };
}

/** The same answer for every event: nothing planned, a diagnostic per file. */
function failAll(request: PlanRequest, diagnostics: readonly Diagnostic[]): PlanWorkflowsResult[] {
  return request.events.map(() => ({ decisions: [], diagnostics, notices: [] }));
}

/** What the user reads on the file's failed status: what spotcheck was doing when it stopped, and why. */
export function stopDiagnostic(
  file: string,
  outcome: { readonly stop: Stop; readonly at: string | undefined },
  limits: { readonly budgetMs: number; readonly memoryMb: number },
): Diagnostic {
  const { stop, at } = outcome;
  const doing = at === undefined ? "planning this commit's workflows" : `reading ${at}`;
  const what =
    at === undefined
      ? 'they are too costly to plan'
      : at === file
        ? 'the file is too costly to parse'
        : 'a workflow this commit calls is too costly to parse';
  const message =
    stop.kind === 'time'
      ? `spotcheck stopped ${doing} after ${String(limits.budgetMs / 1000)} s: ${what}`
      : stop.kind === 'memory'
        ? `spotcheck stopped ${doing}: it needed more than ${String(limits.memoryMb)} MiB`
        : `spotcheck stopped ${doing}: the plan worker ended (${stop.kind === 'crash' ? stop.detail : 'closed'})`;
  return { file, line: 1, col: 1, message };
}
