/**
 * Which route serves an order's `runs-on`. The operator's route table maps each label to one route; a route that
 * lists several labels (`labels: [self-hosted, linux, gpu]`) is found under each of them, so a route's label set is
 * every label that leads to it. GitHub's rule for self-hosted runners: "a job runs on a runner only if the runner has
 * all the labels the job lists", and labels compare case-insensitively. Pure: a map and labels in, a route out.
 */

/**
 * The labels of an order's `runs-on` text. A list is planned as its labels joined with `, `: a label never holds a
 * comma, since a runner's labels are registered as one comma-separated list (actions/runner `config.sh --labels`).
 */
export function runsOnLabels(runsOn: string): string[] {
  return runsOn
    .split(',')
    .map((label) => label.trim())
    .filter((label) => label !== '');
}

/** The route whose labels include every label of `labels`, or undefined (no route, or no one route has them all). */
export function matchRoute<R>(routes: ReadonlyMap<string, R>, labels: readonly string[]): R | undefined {
  const first = labels[0];
  if (first === undefined) return undefined;
  const route = routeOfLabel(routes, first);
  if (route === undefined) return undefined;
  return labels.every((label) => routeOfLabel(routes, label) === route) ? route : undefined;
}

function routeOfLabel<R>(routes: ReadonlyMap<string, R>, label: string): R | undefined {
  const direct = routes.get(label);
  if (direct !== undefined) return direct;
  const lower = label.toLowerCase();
  for (const [key, route] of routes) if (key.toLowerCase() === lower) return route;
  return undefined;
}

/**
 * Why no route serves `labels`, and the operator config lines that would add one. GitHub-hosted images
 * (`macos-*`, `windows-*`) have no stand-in here: the snippet leaves the runner for the operator to choose.
 */
export function noRouteMessage(labels: readonly string[], known: readonly string[]): string {
  const shown = labels.map((label) => `"${label}"`).join(', ');
  const what =
    labels.length === 1 ? `runs-on label ${shown}` : `runs-on labels ${shown} (one route must have them all)`;
  const knownText = known.length === 0 ? '(none)' : [...known].sort().join(', ');
  return `spotcheck has no route for ${what}; routes serve: ${knownText}; add one to the operator config (spotcheck.yml):\n${routeSnippet(labels)}`;
}

/** The YAML lines that add a route for `labels` (keys quoted when they are not plain words). */
export function routeSnippet(labels: readonly string[]): string {
  const key = (label: string): string => (/^[A-Za-z0-9_.-]+$/.test(label) ? label : JSON.stringify(label));
  const hosted = labels.some((label) => /^(macos|windows)-/i.test(label));
  const runner = hosted ? '…' : 'local';
  const [first = 'label', ...rest] = labels;
  const extra = rest.length === 0 ? '' : `, labels: [${rest.map(key).join(', ')}]`;
  return `routes:\n  ${key(first)}: { runner: ${runner}${extra} }`;
}
