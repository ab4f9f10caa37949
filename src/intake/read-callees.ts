/**
 * The reusable workflows a commit's workflows call, read before the run is planned (GitHub reads them when the run
 * starts, so a run's jobs are fixed from the start): `./path` from the same repository at the same commit,
 * `owner/repo/path@ref` from that repository of the same forge. Nested calls are followed level by level, no deeper
 * than GitHub's nesting limit and no wider than its unique-workflow limit (one more of each is read, for the planner
 * to report). Shared by intake (through the Forge) and `spotcheck plan`/`validate` (from the working tree).
 */
import { MAX_UNIQUE_CALLED_WORKFLOWS, MAX_WORKFLOW_LEVELS } from '../core/limits.ts';
import { callKeysOf, type CalleeFile } from '../core/plan-calls.ts';
import { parseWorkflow, parseWorkflowFiles } from '../core/workflow/parse-workflow.ts';
import { formatWorkflowRef } from '../core/workflow/workflow-ref.ts';
import type { RepoRef, Workflow, WorkflowRef, WorkflowSource } from '../core/types.ts';
import type { Forge } from '../forges/forge.ts';

/** A callee's text, `undefined` when there is no such file, or `DEFERRED` when this reader does not read it. */
export type CalleeReader = (ref: WorkflowRef) => Promise<string | undefined | typeof DEFERRED>;

export const DEFERRED = { deferred: true } as const;

export async function readCallees(
  sources: readonly WorkflowSource[],
  read: CalleeReader,
): Promise<Map<string, CalleeFile>> {
  return readCalleesOf(parseWorkflowFiles(sources).workflows, read);
}

/** `readCallees` for workflows parsed already. */
export async function readCalleesOf(
  workflows: readonly Workflow[],
  read: CalleeReader,
): Promise<Map<string, CalleeFile>> {
  const callees = new Map<string, CalleeFile>();
  let level: { workflow: Workflow; within: WorkflowRef | undefined }[] = workflows.map((workflow) => ({
    workflow,
    within: undefined,
  }));
  for (let depth = 1; depth < MAX_WORKFLOW_LEVELS + 1 && level.length > 0; depth++) {
    const next: typeof level = [];
    for (const { workflow, within } of level) {
      for (const { key, ref } of callKeysOf(workflow, within)) {
        if (callees.has(key) || callees.size > MAX_UNIQUE_CALLED_WORKFLOWS) continue;
        const file = await readOne(ref, read);
        callees.set(key, file);
        if (file.kind === 'workflow') next.push({ workflow: file.workflow, within: ref });
      }
    }
    level = next;
  }
  return callees;
}

async function readOne(ref: WorkflowRef, read: CalleeReader): Promise<CalleeFile> {
  const text = await read(ref);
  if (typeof text === 'object') return { kind: 'deferred' };
  const where = ref.kind === 'local' ? 'at this commit' : `in ${ref.owner}/${ref.repo} at ${ref.ref}`;
  if (text === undefined) return { kind: 'unreadable', reason: `no file \`${ref.path}\` ${where}` };
  // A remote callee's diagnostics name it as its `uses:` does, so the user sees which repository and ref.
  const parsed = parseWorkflow(ref.kind === 'local' ? ref.path : formatWorkflowRef(ref), text);
  return parsed.workflow !== undefined
    ? { kind: 'workflow', workflow: parsed.workflow }
    : { kind: 'invalid', diagnostics: parsed.diagnostics };
}

/** Callees through the Forge: a local one in the run's repository at its commit, a remote one at its ref. */
export function forgeCalleeReader(forge: Pick<Forge, 'readFile'>, repo: RepoRef, sha: string): CalleeReader {
  return (ref) =>
    ref.kind === 'local'
      ? forge.readFile(repo, sha, ref.path)
      : forge.readFile({ ...repo, owner: ref.owner, name: ref.repo }, ref.ref, ref.path);
}
