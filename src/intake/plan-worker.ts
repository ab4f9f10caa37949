/**
 * The plan worker's thread (plan-worker-pool.ts starts it): it plans one request at a time with the same
 * `planCommit` as in-process planning, asks the pool for each callee's text (the forge is the pool's), and tells it
 * which file it is reading, so that a file that exhausts the time budget can be named.
 *
 * Loaded through bin/spotcheck-plan-worker.js (TypeScript through tsx) or, in a bundle, on its own.
 */
import { parentPort } from 'node:worker_threads';
import type { PlanWorkflowsResult } from '../core/plan-workflows.ts';
import type { WorkflowRef } from '../core/types.ts';
import { formatWorkflowRef } from '../core/workflow/workflow-ref.ts';
import { planCommit, type PlanRequest } from './planner.ts';
import { DEFERRED } from './read-callees.ts';

/** The pool → the worker. */
export type ToPlanWorker =
  | { readonly type: 'plan'; readonly request: PlanRequest }
  | { readonly type: 'callee'; readonly id: number; readonly text: string | undefined; readonly deferred: boolean }
  | { readonly type: 'callee-failed'; readonly id: number };

/** The worker → the pool. */
export type FromPlanWorker =
  | { readonly type: 'ready' }
  | { readonly type: 'reading'; readonly file: string }
  | { readonly type: 'planning' }
  | { readonly type: 'callee'; readonly id: number; readonly ref: WorkflowRef }
  | { readonly type: 'done'; readonly results: readonly PlanWorkflowsResult[] }
  | { readonly type: 'failed'; readonly message: string };

/** Why the pool could not read a callee: the pool keeps the real error and rejects the request with it. */
class CalleeReadFailed extends Error {
  override readonly name = 'CalleeReadFailed';
}

const port = parentPort;
if (port === null) throw new Error('plan-worker.ts runs in a worker thread (plan-worker-pool.ts starts it)');

const post = (message: FromPlanWorker): void => port.postMessage(message);
const pending = new Map<
  number,
  { resolve: (text: string | undefined | typeof DEFERRED) => void; reject: () => void }
>();
let nextId = 0;

port.on('message', (message: ToPlanWorker) => {
  if (message.type === 'plan') {
    plan(message.request).then(
      (results) => post({ type: 'done', results }),
      (error: unknown) => post({ type: 'failed', message: error instanceof Error ? error.message : String(error) }),
    );
    return;
  }
  const waiting = pending.get(message.id);
  pending.delete(message.id);
  if (message.type === 'callee-failed') waiting?.reject();
  else waiting?.resolve(message.deferred ? DEFERRED : message.text);
});

function plan(request: PlanRequest): Promise<PlanWorkflowsResult[]> {
  const progress = {
    reading: (file: string) => post({ type: 'reading', file }),
    planning: () => post({ type: 'planning' }),
  };
  return planCommit(
    request,
    (ref) =>
      new Promise((resolve, reject) => {
        const id = nextId++;
        pending.set(id, {
          resolve: (text) => {
            // The callee is parsed as soon as its text is here: name it first.
            progress.reading(ref.kind === 'local' ? ref.path : formatWorkflowRef(ref));
            resolve(text);
          },
          reject: () => reject(new CalleeReadFailed(`reading ${formatWorkflowRef(ref)} failed`)),
        });
        post({ type: 'callee', id, ref });
      }),
    progress,
  );
}

post({ type: 'ready' });
