/**
 * What `spotcheck validate` finds in a repository's workflow files, apart from printing it: the parser's
 * diagnostics, the calls' problems, runs-on labels no route serves, and the actions' findings. The CLI prints the
 * result; the real-workflow corpus test (test/unit/real-workflows.test.ts) asserts it file by file.
 */
import type { Diagnostic, Workflow, WorkflowSource } from '../core/types.ts';
import type { WorkflowNotice } from '../core/workflow/diagnostics.ts';
import { parseWorkflowFiles } from '../core/workflow/parse-workflow.ts';
import { buildGithubContext } from '../core/github-context.ts';
import { planRun } from '../core/plan.ts';
import { findUnroutedJobs } from '../core/route-check.ts';
import { noRouteMessage } from '../core/route-match.ts';
import type { OperatorConfig } from '../config.ts';
import { readCallees } from '../intake/read-callees.ts';
import { checkActions } from './check-actions.ts';
import { localCalleeReader } from './read-workflow-dir.ts';

export interface ValidateOptions {
  /** The working tree: `./path` actions and called workflows are read from it. */
  readonly root: string;
  readonly config: OperatorConfig;
  /**
   * Whether the operator named the config (`--config`): then a runs-on label no route serves is an error, as the
   * run would fail the order; otherwise it is a warning about the default routes.
   */
  readonly configNamed: boolean;
  /** The user's action cache (`userActionsCacheDir`). */
  readonly cacheDir: string;
}

export interface ValidateFindings {
  /** The valid workflows. */
  readonly workflows: readonly Workflow[];
  readonly errors: readonly Diagnostic[];
  /** Messages start with `warning`. */
  readonly warnings: readonly Diagnostic[];
  readonly notices: readonly WorkflowNotice[];
}

export async function validateWorkflows(
  read: readonly WorkflowSource[],
  options: ValidateOptions,
): Promise<ValidateFindings> {
  const { config, configNamed } = options;
  const { workflows, diagnostics: parsed, notices } = parseWorkflowFiles(read);
  const diagnostics = [...parsed, ...(await callProblems(workflows, read, options.root))];
  const unrouted = findUnroutedJobs(workflows, config.routes);
  // The message a run would fail the order with; without --config it is a warning about the default routes.
  const routeProblems: Diagnostic[] = unrouted.map(({ file, job, labels, pos }) => ({
    file,
    ...pos,
    message: `${configNamed ? '' : 'warning (default routes; a server uses its own operator config): '}job \`${job}\`: ${noRouteMessage(labels, [...config.routes.keys()])}`,
  }));
  const actions = await checkActions(workflows, {
    root: options.root,
    cacheDir: options.cacheDir,
    routes: config.routes,
    ...(config.actions === undefined ? {} : { actions: config.actions }),
  });
  return {
    workflows,
    errors: [...diagnostics, ...(configNamed ? routeProblems : []), ...actions.errors],
    warnings: [...(configNamed ? [] : routeProblems), ...actions.warnings],
    notices: [...notices, ...actions.notices],
  };
}

/**
 * What is wrong with the workflows' calls (a callee missing, invalid or not callable, inputs and secrets it does not
 * declare, cycles, GitHub's nesting limits), found by planning each calling workflow as a push to the default
 * branch; only the calls' problems are kept (the rest of a plan depends on the event, which `plan` shows).
 */
async function callProblems(
  workflows: readonly Workflow[],
  read: readonly WorkflowSource[],
  root: string,
): Promise<Diagnostic[]> {
  const calling = workflows.filter((w) => w.jobs.some((j) => j.call !== undefined));
  if (calling.length === 0) return [];
  const callees = await readCallees(read, localCalleeReader(root));
  return calling.flatMap((workflow) => {
    const github = buildGithubContext({
      event: 'push',
      ref: 'refs/heads/main',
      sha: '0'.repeat(40),
      repository: 'local/repo',
      actor: 'local',
      serverUrl: 'https://github.com',
      workflow: workflow.name,
    });
    const planned = planRun({ workflow, github, callees: (key) => callees.get(key) });
    const callJobs = workflow.jobs.filter((j) => j.call !== undefined).map((j) => `Job '${j.id}'`);
    return planned.ok
      ? []
      : planned.diagnostics.filter(
          (d) =>
            (d.file !== workflow.file || callJobs.some((prefix) => d.message.startsWith(prefix))) &&
            !isRunTimeType(workflow, d.message),
        );
  });
}

/**
 * Whether a diagnostic is a `with:` value's type found wrong only because validate planned a push: a value computed by
 * an expression (`${{ inputs.pr }}` of a workflow_dispatch, null on a push) has its type when the run happens, where
 * the check applies again. A literal of the wrong type stays an error.
 */
function isRunTimeType(workflow: Workflow, message: string): boolean {
  for (const job of workflow.jobs) {
    if (job.call === undefined) continue;
    for (const [name, value] of Object.entries(job.call.with)) {
      if (typeof value !== 'string' || !value.includes('${{')) continue;
      if (message.startsWith(`Job '${job.id}': with.${name} must be `)) return true;
    }
  }
  return false;
}
