/**
 * `spotcheck run --job NAME`: keep the named jobs and every job they need, transitively, as `act -j` does; drop the
 * rest. Pure: plans in, plans out.
 */
import type { RunPlan } from './types.ts';

export type SelectJobsResult =
  | { readonly ok: true; readonly plans: readonly RunPlan[] }
  /** `known`: every job id of the given plans, per workflow file, for the error message. */
  | { readonly ok: false; readonly unknown: readonly string[]; readonly known: ReadonlyMap<string, readonly string[]> };

/**
 * Each plan keeps the orders of the selected jobs it has and of the jobs they need; a plan left with no order is
 * returned with `orders: []` (the caller says it has nothing selected). A name no plan has a job of is an error.
 */
export function selectJobs(plans: readonly RunPlan[], names: readonly string[]): SelectJobsResult {
  const known = new Map(plans.map((p) => [p.file, [...new Set(p.orders.map((o) => o.job))]]));
  const all = new Set([...known.values()].flat());
  const unknown = [...new Set(names)].filter((name) => !all.has(name));
  if (unknown.length > 0) return { ok: false, unknown, known };
  return { ok: true, plans: plans.map((plan) => ({ ...plan, orders: ordersOf(plan, names) })) };
}

function ordersOf(plan: RunPlan, names: readonly string[]): RunPlan['orders'] {
  const needs = new Map<string, readonly string[]>();
  for (const order of plan.orders) needs.set(order.job, order.needs);
  const keep = new Set<string>();
  const stack = names.filter((name) => needs.has(name));
  for (let job = stack.pop(); job !== undefined; job = stack.pop()) {
    if (keep.has(job)) continue;
    keep.add(job);
    stack.push(...(needs.get(job) ?? []));
  }
  return plan.orders.filter((order) => keep.has(order.job));
}

/** The error line for unknown names: `unknown job "x"; jobs: ci.yml: build, test; lint.yml: lint`. */
export function describeUnknownJobs(result: Extract<SelectJobsResult, { ok: false }>): string {
  const names = result.unknown.map((n) => `"${n}"`).join(', ');
  const listing = [...result.known].map(([file, jobs]) => `${file}: ${jobs.join(', ')}`).join('; ');
  return `unknown job${result.unknown.length === 1 ? '' : 's'} ${names}; the jobs this event runs are ${listing || '(none)'}`;
}
