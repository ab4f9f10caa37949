/**
 * Which operator route serves a forge-native job (capacity mode). A Gitea Actions or GitHub Actions job names its
 * runner by labels (`runs-on`); a runner serves it only when the runner carries every label (GitHub: "Choosing the
 * runner for a job": a self-hosted runner must match all the labels; act_runner matches the same way). So the
 * runner spotcheck starts registers with all of the job's labels, on the instance of the first label a capacity
 * route claims. Pure: no I/O.
 */
import type { Route } from '../../runners/runner.ts';

export type CapacityDecision =
  | { readonly kind: 'launch'; readonly route: Route; readonly label: string }
  /** A `skip` route names a label a standing runner serves (`host`): never launch for it. */
  | { readonly kind: 'skip'; readonly label: string; readonly reason: string }
  /** No capacity route claims any label: another runner may serve it, so it is left alone. */
  | { readonly kind: 'ignore'; readonly reason: string };

/** A spot route the operator marked `capacity: true` (validated by runners/route-settings.ts at load). */
export function isCapacityRoute(route: Route): boolean {
  return route.runner === 'spot' && route.settings.capacity === true;
}

/** The capacity routes of a route table, by label. */
export function capacityRoutes(routes: ReadonlyMap<string, Route>): Map<string, Route> {
  return new Map([...routes].filter(([, route]) => isCapacityRoute(route)));
}

/** Labels compare case-insensitively on both forges (GitHub: "Labels are case-insensitive"). */
function routeFor(routes: ReadonlyMap<string, Route>, label: string): Route | undefined {
  const direct = routes.get(label);
  if (direct !== undefined) return direct;
  const lower = label.toLowerCase();
  for (const [key, route] of routes) if (key.toLowerCase() === lower) return route;
  return undefined;
}

export function decideCapacity(labels: readonly string[], routes: ReadonlyMap<string, Route>): CapacityDecision {
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
