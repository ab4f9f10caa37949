/**
 * Capacity mode's pure decisions: which route serves a forge-native job, when a runner's document is due, what the
 * sweep does with a runner, which instances are orphans, which push-path runner serves a queued job. No I/O, no
 * clock of its own (`now` is an argument); the manager (src/capacity/capacity-manager.ts) applies the decisions.
 *
 * A Gitea Actions or GitHub Actions job names its runner by labels (`runs-on`); a runner serves it only when the
 * runner carries every label (GitHub: "Choosing the runner for a job": a self-hosted runner must match all the
 * labels; act_runner matches the same way). So the runner spotcheck starts registers with all of the job's labels,
 * on the instance of the first label a capacity route claims.
 */
import type { RepoRef } from './types.ts';

/** A `workflow_job` delivery in spotcheck's words (capacity-events.ts maps both forges' payloads to it). */
export interface CapacityJobEvent {
  readonly action: 'queued' | 'waiting' | 'in_progress' | 'completed';
  readonly repo: RepoRef;
  readonly installationId?: number;
  readonly jobId: number;
  readonly runId: number;
  readonly labels: readonly string[];
  readonly runnerName?: string;
}

/** The part of an operator route capacity mode reads (runners/runner.ts `Route` has it). */
export interface CapacityRouteLike {
  readonly runner: string;
  readonly settings: Readonly<Record<string, unknown>>;
}

export type CapacityDecision<R extends CapacityRouteLike = CapacityRouteLike> =
  | { readonly kind: 'launch'; readonly route: R; readonly label: string }
  /** A `skip` route names a label a standing runner serves (`host`): never launch for it. */
  | { readonly kind: 'skip'; readonly label: string; readonly reason: string }
  /** No capacity route claims any label: another runner may serve it, so it is left alone. */
  | { readonly kind: 'ignore'; readonly reason: string };

/** A spot route the operator marked `capacity: true` (validated by runners/route-settings.ts at load). */
export function isCapacityRoute(route: CapacityRouteLike): boolean {
  return route.runner === 'spot' && route.settings.capacity === true;
}

/** The capacity routes of a route table, by label. */
export function capacityRoutes<R extends CapacityRouteLike>(routes: ReadonlyMap<string, R>): Map<string, R> {
  return new Map([...routes].filter(([, route]) => isCapacityRoute(route)));
}

/** Labels compare case-insensitively on both forges (GitHub: "Labels are case-insensitive"). */
function routeFor<R extends CapacityRouteLike>(routes: ReadonlyMap<string, R>, label: string): R | undefined {
  const direct = routes.get(label);
  if (direct !== undefined) return direct;
  const lower = label.toLowerCase();
  for (const [key, route] of routes) if (key.toLowerCase() === lower) return route;
  return undefined;
}

export function decideCapacity<R extends CapacityRouteLike>(
  labels: readonly string[],
  routes: ReadonlyMap<string, R>,
): CapacityDecision<R> {
  if (labels.length === 0) return { kind: 'ignore', reason: 'the job names no runner label' };
  for (const label of labels) {
    if (routeFor(routes, label)?.runner === 'skip')
      return { kind: 'skip', label, reason: `label "${label}" is a skip route (a standing runner serves it)` };
  }
  for (const label of labels) {
    const route = routeFor(routes, label);
    if (route !== undefined && isCapacityRoute(route)) return { kind: 'launch', route, label };
  }
  return { kind: 'ignore', reason: `no capacity route claims ${labels.map((l) => `"${l}"`).join(', ')}` };
}

/** What the sweep knows of one runner. */
export interface RunnerView {
  readonly state: 'launching' | 'idle' | 'busy';
  readonly launchedAt: number;
  readonly idleMs: number;
  readonly hasInstance: boolean;
  readonly jobId?: number;
}

/** What the forge says of the runner's job, when it was asked. */
export interface JobView {
  readonly status: string;
  readonly runnerName?: string;
}

export type SweepDecision =
  /** A launch that crashed before recording its instance: forgotten (the orphan pass ends the instance). */
  | { readonly kind: 'forget' }
  /** Not yet: a launch still within its grace period. */
  | { readonly kind: 'wait' }
  | { readonly kind: 'finish'; readonly reason: string }
  | { readonly kind: 'busy'; readonly due: number }
  | { readonly kind: 'reschedule'; readonly due: number };

/**
 * One runner in the sweep: its instance's liveness (undefined: not asked, no instance) and its job's state at the
 * forge (undefined: no job bound, or the forge does not know it). Nothing is judged within `graceMs` of its launch.
 */
export function judgeRunner(
  runner: RunnerView,
  facts: { readonly name: string; readonly alive?: boolean; readonly job?: JobView },
  limits: { readonly now: number; readonly graceMs: number; readonly checkEveryMs: number },
): SweepDecision {
  const { now, graceMs } = limits;
  if (runner.state === 'launching' || !runner.hasInstance)
    return now - runner.launchedAt >= graceMs ? { kind: 'forget' } : { kind: 'wait' };
  if (facts.alive === false) return { kind: 'finish', reason: 'its instance is gone' };
  const job = facts.job;
  if (job?.status === 'completed' && (runner.state === 'busy' || job.runnerName !== facts.name))
    return { kind: 'finish', reason: 'its job completed (webhook lost)' };
  if (job?.status === 'in_progress' && job.runnerName === facts.name)
    return { kind: 'busy', due: now + limits.checkEveryMs };
  const idleUntil = runner.launchedAt + Math.max(runner.idleMs, graceMs);
  if (runner.state === 'idle' && now >= idleUntil)
    return { kind: 'finish', reason: 'idle limit: it never picked up a job' };
  return { kind: 'reschedule', due: runner.state === 'idle' ? idleUntil : now + limits.checkEveryMs };
}

/** An instance tagged for capacity is an orphan past the grace period unless its runner's document names it. */
export function isOrphan(
  instance: { readonly instanceId: string; readonly launchedAt: number },
  recordedInstanceId: string | undefined,
  limits: { readonly now: number; readonly graceMs: number },
): boolean {
  if (limits.now - instance.launchedAt < limits.graceMs) return false;
  return recordedInstanceId !== instance.instanceId;
}

/**
 * The push-path runner (no job bound yet) that can serve a job: the first that carries every label of the job
 * (labels compare case-insensitively); -1 when none does.
 */
export function findServingRunner(
  jobLabels: readonly string[],
  unbound: readonly { readonly labels: readonly string[] }[],
): number {
  const wanted = jobLabels.map((l) => l.toLowerCase());
  return unbound.findIndex((u) => wanted.every((l) => u.labels.some((m) => m.toLowerCase() === l)));
}

/**
 * Whether a `completed` job ends the runner launched for it (its slot): yes unless that runner is busy with another
 * job (a runner takes whichever waiting job matches its labels, so the slot's runner may be running someone else's).
 */
export function slotEndsWith(
  jobId: number,
  slot: { readonly state: RunnerView['state']; readonly jobId?: number } | undefined,
): boolean {
  return slot !== undefined && (slot.state !== 'busy' || slot.jobId === jobId);
}
