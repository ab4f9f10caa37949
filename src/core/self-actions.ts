/**
 * GitHub's self-repository actions (`uses: $/path`) resolve to the repository of the workflow that names them, at the
 * commit running (the self-repository syntax, actions/runner 2.336.0). In the run's own repository that is the commit
 * the agent checks out as the workspace, so they stay local actions; in a workflow read from another repository (a
 * reusable workflow called as `owner/repo/path@ref`) they are that repository's actions at that ref. Pure.
 */
import { isUsesStep, type StepSpec, type Workflow, type WorkflowRef } from './types.ts';

export function resolveSelfActions(workflow: Workflow, within: WorkflowRef | undefined): Workflow {
  if (within?.kind !== 'remote') return workflow;
  const resolve = (step: StepSpec): StepSpec => {
    if (!isUsesStep(step) || step.action.kind !== 'local' || step.action.self !== true) return step;
    const { path } = step.action;
    return {
      ...step,
      action: {
        kind: 'remote',
        owner: within.owner,
        repo: within.repo,
        ...(path === '.' ? {} : { path }),
        ref: within.ref,
      },
    };
  };
  return { ...workflow, jobs: workflow.jobs.map((job) => ({ ...job, steps: job.steps.map(resolve) })) };
}
