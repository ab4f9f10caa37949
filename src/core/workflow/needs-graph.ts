/**
 * The `needs` graph of a workflow's jobs: every need names a job, and no chain of needs comes back to where it
 * started. Used by the parser (diagnostics at the `needs` entry) and the planner (src/core/plan.ts).
 */

export interface NeedsGraphProblem {
  readonly kind: 'unknown-need' | 'cycle';
  /** The job whose `needs` holds the problem (for a cycle: its first job in file order). */
  readonly job: string;
  /** The offending entry of that job's `needs` (for a cycle: the next job on the cycle). */
  readonly need: string;
  /** For `cycle`: the job ids on the cycle, first one repeated at the end (`a → b → a` is `['a', 'b', 'a']`). */
  readonly cycle?: readonly string[];
  readonly message: string;
}

/**
 * Checks that every `needs` entry names a job of the workflow and that `needs` has no cycle (GitHub rejects both
 * before running anything). Each cycle is reported once, naming it in order, e.g. `a → b → c → a`. When there is no
 * problem, `order` lists the job ids so that every job comes after the jobs it needs (file order among equals).
 */
export function validateNeedsGraph(jobs: readonly { readonly id: string; readonly needs: readonly string[] }[]): {
  problems: NeedsGraphProblem[];
  order?: string[];
} {
  const problems: NeedsGraphProblem[] = [];
  const ids = new Set(jobs.map((j) => j.id));
  const known = ids.size === 0 ? '(none)' : [...ids].map((id) => `\`${id}\``).join(', ');
  const edges = new Map<string, string[]>();
  for (const job of jobs) {
    const own: string[] = [];
    for (const need of job.needs) {
      if (ids.has(need)) own.push(need);
      else
        problems.push({
          kind: 'unknown-need',
          job: job.id,
          need,
          message: `job \`${job.id}\` needs \`${need}\`, which is not a job in this workflow (jobs: ${known})`,
        });
    }
    edges.set(job.id, own);
  }

  // Kahn's algorithm: a job is placed once all its needs are placed. Whatever remains sits on a cycle or needs
  // (transitively) a job that does, so every remaining job has at least one remaining need.
  const pending = new Map<string, number>();
  const dependents = new Map<string, string[]>();
  for (const job of jobs) {
    const own = edges.get(job.id) ?? [];
    pending.set(job.id, new Set(own).size);
    for (const need of new Set(own)) dependents.set(need, [...(dependents.get(need) ?? []), job.id]);
  }
  const order: string[] = [];
  const ready = jobs.filter((j) => pending.get(j.id) === 0).map((j) => j.id);
  while (ready.length > 0) {
    const id = ready.shift() as string;
    order.push(id);
    for (const dep of dependents.get(id) ?? []) {
      const left = (pending.get(dep) ?? 0) - 1;
      pending.set(dep, left);
      if (left === 0) ready.push(dep);
    }
  }

  // Walk "first remaining need" from each remaining job: the walk must revisit a job. If it revisits one of this
  // walk, that is a new cycle; if it reaches an earlier walk's job, this job is only downstream of a known cycle.
  const placed = new Set(order);
  const visited = new Set<string>();
  for (const job of jobs) {
    if (placed.has(job.id) || visited.has(job.id)) continue;
    const path: string[] = [];
    const onPath = new Map<string, number>();
    let at: string | undefined = job.id;
    while (at !== undefined && !visited.has(at)) {
      visited.add(at);
      onPath.set(at, path.length);
      path.push(at);
      at = (edges.get(at) ?? []).find((n) => !placed.has(n));
    }
    if (at === undefined || !onPath.has(at)) continue;
    const cycle = path.slice(onPath.get(at));
    const first = cycle.reduce((a, b) => (indexOf(jobs, a) <= indexOf(jobs, b) ? a : b));
    const start = cycle.indexOf(first);
    const rotated = [...cycle.slice(start), ...cycle.slice(0, start), first];
    problems.push({
      kind: 'cycle',
      job: first,
      need: rotated[1] ?? first,
      cycle: rotated,
      message:
        rotated.length === 2
          ? `job \`${first}\` needs itself`
          : `jobs form a cycle through \`needs\`: ${rotated.join(' → ')}; no job of it could ever start`,
    });
  }
  return problems.length === 0 ? { problems, order } : { problems };
}

function indexOf(jobs: readonly { readonly id: string }[], id: string): number {
  return jobs.findIndex((j) => j.id === id);
}
