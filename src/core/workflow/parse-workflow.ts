/**
 * Reads `.spotcheck/workflows/*.yml` into the Workflow model: the GitHub Actions dialect, subset plus `testme`
 * (docs/architecture.md, "Workflow files"). Strict: anything outside the subset is a diagnostic with file, line and
 * column, never silently dropped; every problem of a file is reported at once. Workflow files come from whoever can
 * open a pull request, so every dimension is bounded (src/core/limits.ts) and the work stays proportional to the file.
 *
 * Pipeline, one module per stage:
 * - yaml-reader.ts: text → a plain positioned tree (yaml-tree.ts), every hostile-input bound checked on the way;
 * - read-workflow.ts: the tree → the Workflow model, through read-triggers.ts (`on`), read-jobs.ts (jobs, then the
 *   `needs` graph of needs-graph.ts), read-strategy.ts (matrix, sized by matrix-size.ts), read-steps.ts, read-env.ts
 *   and read-scalars.ts (keys, strings, conditions, expressions);
 * - diagnostics.ts: the sink every stage reports into.
 */
import { MAX_WORKFLOW_FILES, MAX_WORKFLOW_FILE_BYTES } from '../limits.ts';
import type { Diagnostic, Workflow, WorkflowSource } from '../types.ts';
import { DiagnosticSink, formatBytes, kib } from './diagnostics.ts';
import type { WorkflowNotice } from './diagnostics.ts';
import { readWorkflow } from './read-workflow.ts';
import { readYaml } from './yaml-reader.ts';

export interface ParseWorkflowResult {
  /** Present only when the file has no diagnostics. */
  readonly workflow?: Workflow;
  readonly diagnostics: Diagnostic[];
  /** Notes on a valid file (events spotcheck does not act on, keys it ignores); empty when the file is invalid. */
  readonly notices: WorkflowNotice[];
}

/** `file:line:col: message`, the shape compilers use, so editors and CI logs can link it. */
export function formatDiagnostic(d: Diagnostic): string {
  return `${d.file}:${d.line}:${d.col}: ${d.message}`;
}

/** `file:line:col: notice: message` (or `ignored:`), so a notice reads apart from an error. */
export function formatNotice(n: WorkflowNotice): string {
  return `${n.file}:${n.line}:${n.col}: ${n.level}: ${n.message}`;
}

/**
 * Parses every workflow file; `workflows` holds the valid ones, `diagnostics` the problems of all the others. A
 * file whose `size` (bytes, as its source listed it) is over the cap is reported with that size and not parsed: a
 * reader that did not download it (the forge adapters, `spotcheck run`/`validate`) passes `text: ''`. `onFile` is
 * told each path just before that file is parsed (the plan worker reports it, so a file that exhausts the time budget
 * is named: src/intake/plan-worker-pool.ts).
 */
export function parseWorkflowFiles(
  files: readonly WorkflowSource[],
  onFile: (path: string) => void = () => undefined,
): {
  workflows: Workflow[];
  diagnostics: Diagnostic[];
  notices: WorkflowNotice[];
} {
  const workflows: Workflow[] = [];
  const diagnostics: Diagnostic[] = [];
  const notices: WorkflowNotice[] = [];
  files.forEach((f, i) => {
    if (i === MAX_WORKFLOW_FILES) {
      diagnostics.push({
        file: f.path,
        line: 1,
        col: 1,
        message: `too many workflow files (${files.length}): spotcheck reads at most ${MAX_WORKFLOW_FILES}; this file and the ones after it were not read`,
      });
    }
    if (i >= MAX_WORKFLOW_FILES) return;
    if (f.size !== undefined && f.size > MAX_WORKFLOW_FILE_BYTES) {
      diagnostics.push({
        file: f.path,
        line: 1,
        col: 1,
        message: `file is too large (${formatBytes(f.size)}): workflow files are limited to ${kib(MAX_WORKFLOW_FILE_BYTES)}; it was not read`,
      });
      return;
    }
    onFile(f.path);
    const result = parseWorkflow(f.path, f.text);
    if (result.workflow) workflows.push(result.workflow);
    diagnostics.push(...result.diagnostics);
    notices.push(...result.notices);
  });
  return { workflows, diagnostics, notices };
}

/** One file's text → its Workflow, or every problem it has (no schema check on a file that is not a YAML tree). */
export function parseWorkflow(file: string, text: string): ParseWorkflowResult {
  const sink = new DiagnosticSink(file);
  const tree = readYaml(sink, text);
  if (tree === undefined || sink.count > 0) return { diagnostics: sink.done(), notices: [] };
  const workflow = readWorkflow(sink, tree);
  const diagnostics = sink.done();
  return diagnostics.length === 0 && workflow
    ? { workflow, diagnostics, notices: sink.notices() }
    : { diagnostics, notices: [] };
}
