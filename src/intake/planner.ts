/**
 * The planner port: a commit's workflow files → what runs, for one or more events. Intake is given one
 * (src/app/app.ts composes it): the plan worker pool (plan-worker-pool.ts) under `spotcheck serve`, so that parsing
 * repository content runs off the server's event loop under a time budget; `planInProcess` in tests, the CLI and the
 * Lambda (docs/architecture.md, "A webhook, hop by hop").
 *
 * A request is plain data, so it crosses to a worker thread by structured clone; the reusable workflows the files
 * call are read through the caller's `CalleeReader` (I/O stays on the caller's side), level by level as the files
 * are parsed.
 */
import type { GithubContextInput } from '../core/github-context.ts';
import { planParsedWorkflows, type PlanWorkflowsResult } from '../core/plan-workflows.ts';
import type { TriggerEvent, WorkflowSource } from '../core/types.ts';
import { parseWorkflowFiles } from '../core/workflow/parse-workflow.ts';
import { readCalleesOf, type CalleeReader } from './read-callees.ts';

/** One event to plan a commit's files for, with the `github` context its runs get. */
export interface PlanEvent {
  readonly event: TriggerEvent;
  readonly context: Omit<GithubContextInput, 'workflow'>;
}

export interface PlanRequest {
  readonly sources: readonly WorkflowSource[];
  /** Planned in this order; the answer holds one result per event. */
  readonly events: readonly PlanEvent[];
  readonly limits: { readonly maxOrdersPerRun: number };
  /** The repository's `vars` context (src/core/vars.ts). */
  readonly vars: Readonly<Record<string, string>>;
}

/**
 * Plans a request: one result per event, in order. What a file holds never makes it throw: a file too costly to
 * parse is a diagnostic on that file. It rejects only when reading a callee does (a forge error, to retry).
 */
export type Planner = (request: PlanRequest, read: CalleeReader) => Promise<readonly PlanWorkflowsResult[]>;

/** Where planning is, for naming what was being read when a budget ran out. */
export interface PlanProgress {
  /** A file of the commit, or a callee (its path, or `owner/repo/path@ref`), is about to be parsed. */
  reading(file: string): void;
  /** Every file is parsed and every callee read: the rest is planning. */
  planning(): void;
}

const UNWATCHED: PlanProgress = { reading: () => undefined, planning: () => undefined };

/** Parses the files once, reads their callees, and plans them for each event. */
export async function planCommit(
  request: PlanRequest,
  read: CalleeReader,
  progress: PlanProgress = UNWATCHED,
): Promise<PlanWorkflowsResult[]> {
  const parsed = parseWorkflowFiles(request.sources, (file) => progress.reading(file));
  const callees = await readCalleesOf(parsed.workflows, read);
  progress.planning();
  return request.events.map(({ event, context }) =>
    planParsedWorkflows(parsed, event, context, request.limits, callees, request.vars),
  );
}

/** Plans in the caller's thread: bounded by the parser's limits only (src/core/limits.ts), not by a time budget. */
export const planInProcess: Planner = (request, read) => planCommit(request, read);
