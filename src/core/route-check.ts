/**
 * `spotcheck validate`: jobs whose `runs-on` no route serves. At run time such an order fails with the same message
 * (route-match.ts `noRouteMessage`); this finds it before anything runs. Pure: workflows and routes in, findings out.
 */
import { buildGithubContext } from './github-context.ts';
import { planRun } from './plan.ts';
import { matchRoute, runsOnLabels } from './route-match.ts';
import type { SourcePos, Workflow } from './types.ts';

export interface UnroutedJob {
  readonly file: string;
  readonly job: string;
  /** The `runs-on` as planned: one label, or a list's labels joined with `, `. */
  readonly label: string;
  readonly labels: readonly string[];
  readonly pos: SourcePos;
}

/**
 * One finding per job and label set. A label written as an expression (`${{ matrix.os }}`) is evaluated per matrix cell
 * by planning the workflow as a nominal push; one that reads what only a real event knows cannot be judged here and
 * is left alone.
 */
export function findUnroutedJobs(workflows: readonly Workflow[], routes: ReadonlyMap<string, unknown>): UnroutedJob[] {
  const found: UnroutedJob[] = [];
  for (const workflow of workflows) {
    const evaluated = evaluatedLabels(workflow);
    for (const job of workflow.jobs) {
      // A calling job runs nowhere itself: its callee's jobs have their own `runs-on`.
      if (job.call !== undefined) continue;
      const jobLabels = job.runsOn.includes('${{') ? (evaluated.get(job.id) ?? []) : [job.runsOn];
      for (const label of new Set(jobLabels)) {
        const labels = runsOnLabels(label);
        if (matchRoute(routes, labels) === undefined)
          found.push({ file: workflow.file, job: job.id, label, labels, pos: job.pos });
      }
    }
  }
  return found;
}

function evaluatedLabels(workflow: Workflow): Map<string, string[]> {
  const byJob = new Map<string, string[]>();
  if (!workflow.jobs.some((job) => job.runsOn.includes('${{'))) return byJob;
  const github = buildGithubContext({
    event: 'push',
    ref: 'refs/heads/main',
    sha: '0000000000000000000000000000000000000000',
    repository: 'local/repo',
    actor: 'validate',
    serverUrl: 'https://github.com',
    workflow: workflow.name,
  });
  // A call's workflow is read elsewhere (its jobs have their own runs-on): deferred here, so the jobs beside it are
  // still planned and their labels seen.
  const planned = planRun({ workflow, github, callees: () => ({ kind: 'deferred' }) });
  if (!planned.ok) return byJob;
  for (const order of planned.plan.orders) {
    // An expression that read an empty context evaluates to '': that is not a label anyone wrote.
    if (order.runsOn === '') continue;
    byJob.set(order.job, [...(byJob.get(order.job) ?? []), order.runsOn]);
  }
  return byJob;
}
