/** Where a repository keeps its spotcheck workflows. */
export const WORKFLOWS_DIR = '.spotcheck/workflows';

/** Whether a repository path is a workflow file spotcheck reads. */
export function isWorkflowPath(path: string): boolean {
  return (
    path.startsWith(`${WORKFLOWS_DIR}/`) && !path.slice(WORKFLOWS_DIR.length + 1).includes('/') && /\.ya?ml$/.test(path)
  );
}
