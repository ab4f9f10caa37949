/**
 * From workflow sources and one event to what runs: parse, match triggers, plan. Shared by `spotcheck plan`,
 * `spotcheck run` and the forge handlers, so a dry run says exactly what the bot would do.
 */
import { buildGithubContext, type GithubContextInput } from './github-context.ts';
import { planRun } from './plan.ts';
import type { CalleeFile } from './plan-calls.ts';
import { matchTrigger } from './workflow/triggers.ts';
import { parseWorkflowFiles } from './workflow/parse-workflow.ts';
import type { WorkflowNotice } from './workflow/diagnostics.ts';
import type { Diagnostic, GithubContext, RunPlan, TriggerEvent, Workflow } from './types.ts';

export interface WorkflowDecision {
  readonly file: string;
  readonly matched: boolean;
  readonly reason: string;
  /** Present when matched and planned. */
  readonly plan?: RunPlan;
  /** The `github` context the plan was made with (the run keeps it for later `if:` evaluation). */
  readonly github?: GithubContext;
}

export interface PlanWorkflowsResult {
  readonly decisions: readonly WorkflowDecision[];
  /** Invalid files and plan errors: the caller reports them where the user sees them. */
  readonly diagnostics: readonly Diagnostic[];
  /** Notes on the valid files (GitHub events spotcheck does not act on; keys it ignores). */
  readonly notices: readonly WorkflowNotice[];
}

/**
 * `callees`: the reusable workflows the files call, read beforehand (src/intake/read-callees.ts); `vars`: the
 * repository's `vars` context (src/core/vars.ts).
 */
export function planWorkflows(
  sources: readonly { readonly path: string; readonly text: string }[],
  event: TriggerEvent,
  context: Omit<GithubContextInput, 'workflow'>,
  limits: { readonly maxOrdersPerRun: number } = { maxOrdersPerRun: Number.POSITIVE_INFINITY },
  callees: ReadonlyMap<string, CalleeFile> = new Map(),
  vars: Readonly<Record<string, string>> = {},
): PlanWorkflowsResult {
  return planParsedWorkflows(parseWorkflowFiles(sources), event, context, limits, callees, vars);
}

/** What `parseWorkflowFiles` made of a commit's files. */
export interface ParsedWorkflows {
  readonly workflows: readonly Workflow[];
  readonly diagnostics: readonly Diagnostic[];
  readonly notices: readonly WorkflowNotice[];
}

/**
 * `planWorkflows` for files parsed already: a commit's files are parsed once and planned for each event that
 * applies (a pull request's `pull_request` and `testme`), and the parse can be watched (src/intake/planner.ts).
 */
export function planParsedWorkflows(
  parsed: ParsedWorkflows,
  event: TriggerEvent,
  context: Omit<GithubContextInput, 'workflow'>,
  limits: { readonly maxOrdersPerRun: number } = { maxOrdersPerRun: Number.POSITIVE_INFINITY },
  callees: ReadonlyMap<string, CalleeFile> = new Map(),
  vars: Readonly<Record<string, string>> = {},
): PlanWorkflowsResult {
  const { workflows, diagnostics, notices } = parsed;
  const all: Diagnostic[] = [...diagnostics];
  const decisions: WorkflowDecision[] = [];
  for (const workflow of workflows) {
    const match = matchTrigger(workflow, event);
    if (!match.matched) {
      decisions.push({ file: workflow.file, matched: false, reason: match.reason });
      continue;
    }
    const github = buildGithubContext({ ...context, workflow: workflow.name });
    const planned = planRun({ workflow, github, callees: (key) => callees.get(key), vars });
    if (!planned.ok) {
      all.push(...planned.diagnostics);
      decisions.push({ file: workflow.file, matched: true, reason: 'invalid: see the errors' });
      continue;
    }
    if (planned.plan.orders.length > limits.maxOrdersPerRun) {
      all.push({
        file: workflow.file,
        line: 1,
        col: 1,
        message: `the run would have ${planned.plan.orders.length} orders; this server allows ${limits.maxOrdersPerRun} per run`,
      });
      decisions.push({ file: workflow.file, matched: true, reason: 'invalid: too many orders' });
      continue;
    }
    decisions.push({ file: workflow.file, matched: true, reason: match.reason, plan: planned.plan, github });
  }
  return { decisions, diagnostics: all, notices };
}
