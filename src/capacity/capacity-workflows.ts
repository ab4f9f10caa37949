/**
 * A lenient reader for `.gitea/workflows/*.yml` and `.github/workflows/*.yml`: capacity mode only needs each
 * workflow's `on` (to know whether a push runs it) and each job's `runs-on` (to know which runners it waits for).
 * Everything else (`uses:` steps, `services:`, `container:`…) is the forge's runner's business, so unknown keys are
 * not errors here, unlike `.spotcheck/workflows` (core/workflow/parse-workflow.ts). The trigger decision reuses the core
 * trigger engine (GitHub's documented filter semantics, which Gitea Actions follows: act's model). Pure: no I/O.
 */
import { parse } from 'yaml';
import { matchTrigger, triggerFilterErrors } from '../core/workflow/triggers.ts';
import type { TriggerEvent, TriggerFilter, Workflow } from '../core/types.ts';

export interface CapacityJob {
  readonly id: string;
  /**
   * One label set per runner the job needs: one per matrix cell (the axes' product; include/exclude are not
   * counted, the reconcile corrects the difference), each with every label of `runs-on` (a runner must carry all).
   */
  readonly runners: readonly (readonly string[])[];
}

export interface CapacityWorkflow {
  readonly file: string;
  readonly workflow: Workflow;
  readonly jobs: readonly CapacityJob[];
  /** Why a job or the whole file was passed over (a `runs-on` expression not resolvable without running it). */
  readonly notes: readonly string[];
}

export interface PlannedRunner {
  readonly file: string;
  readonly jobId: string;
  readonly labels: readonly string[];
}

/** Above this many cells a matrix is left to the reconcile (GitHub's own cap is 256 jobs per matrix). */
const MAX_CELLS = 256;
const MATRIX_RUNS_ON = /^\$\{\{\s*matrix\.([A-Za-z_][A-Za-z0-9_-]*)\s*\}\}$/;
const FILTER_KEYS = [
  ['branches', 'branches'],
  ['branches-ignore', 'branchesIgnore'],
  ['tags', 'tags'],
  ['tags-ignore', 'tagsIgnore'],
  ['paths', 'paths'],
  ['paths-ignore', 'pathsIgnore'],
] as const;

type Doc = Readonly<Record<string, unknown>>;

function isMap(value: unknown): value is Doc {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stringList(value: unknown): string[] | undefined {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value;
  return undefined;
}

/** Reads one file; `undefined` when it is not a workflow at all (bad YAML, no `on`, no `jobs`). */
export function readCapacityWorkflow(file: string, text: string): CapacityWorkflow | undefined {
  let doc: unknown;
  try {
    // The alias cap guards against billion-laughs documents (the same bound as the operator config).
    doc = parse(text, { maxAliasCount: 50 });
  } catch {
    return undefined;
  }
  if (!isMap(doc) || !isMap(doc.jobs)) return undefined;
  // YAML 1.1 readers turn a bare `on` key into `true`; the `yaml` package (YAML 1.2) keeps it a string.
  const rawOn = doc.on ?? doc.true;
  const notes: string[] = [];
  const on: Partial<Record<'push', TriggerFilter>> = {};
  const events = typeof rawOn === 'string' ? [rawOn] : Array.isArray(rawOn) ? rawOn : isMap(rawOn) ? null : [];
  if (events !== null) {
    if (events.includes('push')) on.push = {};
  } else if (isMap(rawOn) && 'push' in rawOn) {
    const push = rawOn.push;
    const filter: Record<string, readonly string[]> = {};
    if (isMap(push))
      for (const [key, field] of FILTER_KEYS) {
        const list = stringList(push[key]);
        if (list !== undefined) filter[field] = list;
      }
    const errors = triggerFilterErrors(filter, 'push');
    if (errors.length > 0) notes.push(`${file}: on.push: ${errors.join('; ')}`);
    else on.push = filter;
  }
  const jobs: CapacityJob[] = [];
  for (const [id, raw] of Object.entries(doc.jobs)) {
    if (!isMap(raw)) continue;
    // A reusable-workflow call runs its jobs elsewhere; it has no runner of its own.
    if (raw.uses !== undefined) continue;
    const job = readJob(id, raw, notes, file);
    if (job !== undefined) jobs.push(job);
  }
  const name = typeof doc.name === 'string' ? doc.name : file;
  return { file, workflow: { file, name, on, env: {}, jobs: [] }, jobs, notes };
}

function readJob(id: string, raw: Doc, notes: string[], file: string): CapacityJob | undefined {
  const runsOn = raw['runs-on'];
  const axes = isMap(raw.strategy) && isMap(raw.strategy.matrix) ? raw.strategy.matrix : undefined;
  const axisLists = axes
    ? Object.entries(axes).filter(([key, v]) => key !== 'include' && key !== 'exclude' && Array.isArray(v))
    : [];
  const cells = axisLists.reduce((n, [, v]) => n * (v as unknown[]).length, 1);
  if (cells > MAX_CELLS || cells === 0) {
    notes.push(`${file}: job ${id}: a matrix of ${cells} cells is left to the reconcile`);
    return undefined;
  }
  // `runs-on: { group, labels }` (GitHub's runner groups): the labels are what a runner must carry.
  const labels = stringList(isMap(runsOn) ? runsOn.labels : runsOn);
  if (labels === undefined || labels.length === 0) {
    notes.push(`${file}: job ${id}: no readable runs-on`);
    return undefined;
  }
  const matrixLabel = labels.length === 1 ? MATRIX_RUNS_ON.exec(labels[0]!) : null;
  if (matrixLabel !== null) {
    // `runs-on: ${{ matrix.os }}`: one runner per cell, labelled by that cell's value.
    const values = axes?.[matrixLabel[1]!];
    if (!Array.isArray(values) || !values.every((v) => typeof v === 'string')) {
      notes.push(`${file}: job ${id}: runs-on names a matrix axis that is not a list of labels`);
      return undefined;
    }
    const per = cells / values.length;
    return { id, runners: values.flatMap((label) => Array.from({ length: per }, () => [label])) };
  }
  if (labels.some((l) => l.includes('${{'))) {
    notes.push(`${file}: job ${id}: runs-on is an expression; the reconcile will see its jobs`);
    return undefined;
  }
  return { id, runners: Array.from({ length: cells }, () => labels) };
}

/** One entry per runner a push needs: every job of every workflow the push triggers, per matrix cell. */
export function planCapacityRunners(
  workflows: readonly CapacityWorkflow[],
  event: Extract<TriggerEvent, { kind: 'push' }>,
): PlannedRunner[] {
  const planned: PlannedRunner[] = [];
  for (const wf of workflows) {
    if (!matchTrigger(wf.workflow, event).matched) continue;
    for (const job of wf.jobs) for (const labels of job.runners) planned.push({ file: wf.file, jobId: job.id, labels });
  }
  return planned;
}
