/**
 * Secrets managed in spotcheck: where a secret lives (org, repository, a repository's environment), what a valid name
 * is, and which secrets an order gets. Pure: the store keeps sealed values; the server decides here which of them
 * to open for an order, and opens only those.
 */
import type { CallSecrets, ForgeKind, OrderSpec, RepoRef, RunTrust } from './types.ts';
import { secretNamesUsed } from './workflow/expressions.ts';

/**
 * Where a secret is defined. GitHub's three levels: an organization's (every repository of the owner), a
 * repository's, and an environment's (a repository's environment; only jobs naming it get them).
 */
export type SecretScope =
  | {
      readonly level: 'org';
      readonly forge: ForgeKind | 'local';
      readonly host: string;
      readonly owner: string;
    }
  | { readonly level: 'repo'; readonly repo: RepoRef }
  | { readonly level: 'environment'; readonly repo: RepoRef; readonly environment: string };

/** What may be shown about a secret: never its value. */
export interface SecretInfo {
  /** Upper-case: GitHub's secret names are case-insensitive. */
  readonly name: string;
  readonly scope: SecretScope;
  /** Given to `!testme`-approved runs of a non-member's pull request too. Default no. */
  readonly outsiders: boolean;
  /** Epoch ms of the last `set`. */
  readonly updatedAt: number;
}

export type { RunTrust };

/** GitHub's limit on one secret's value (48 KB, "Limits for secrets"). */
export const MAX_SECRET_VALUE_BYTES = 48 * 1024;

/**
 * GitHub's naming rules ("Naming your secrets"): letters, digits and `_` only, not starting with a digit, not
 * starting with the reserved `GITHUB_` prefix (in any case). Names are case-insensitive: the store keeps them
 * upper-case (`normalizeSecretName`). Returns a sentence, or undefined when the name is valid.
 */
export function secretNameError(name: string): string | undefined {
  if (name === '') return 'a secret name must not be empty';
  if (!/^[A-Za-z0-9_]+$/.test(name)) return `${name}: a secret name may contain only letters, digits and _`;
  if (/^[0-9]/.test(name)) return `${name}: a secret name must not start with a digit`;
  if (/^GITHUB_/i.test(name)) return `${name}: a secret name must not start with the reserved GITHUB_ prefix`;
  return undefined;
}

export const normalizeSecretName = (name: string): string => name.toUpperCase();

/** GitHub's longest environment name ("Creating an environment"). */
export const MAX_ENVIRONMENT_NAME_LENGTH = 255;

/**
 * A secret's value: not empty (always a mistake, an empty pipe or field, and an empty string cannot be masked in
 * logs) and at most GitHub's 48 KB. Returns a sentence, or undefined when the value may be stored.
 */
export function secretValueError(value: string): string | undefined {
  if (value === '') return 'a secret value must not be empty';
  // A string has at least as many UTF-8 bytes as UTF-16 units: a long one is refused before it is encoded.
  if (value.length > MAX_SECRET_VALUE_BYTES || new TextEncoder().encode(value).length > MAX_SECRET_VALUE_BYTES)
    return `a secret value may be at most ${String(MAX_SECRET_VALUE_BYTES / 1024)} KB`;
  return undefined;
}

/** An environment's name (already trimmed): 1 to 255 characters. A sentence, or undefined when valid. */
export function environmentNameError(name: string): string | undefined {
  if (name === '' || name.length > MAX_ENVIRONMENT_NAME_LENGTH || name.trim() !== name)
    return `an environment name must be 1 to ${String(MAX_ENVIRONMENT_NAME_LENGTH)} characters, without spaces around`;
  return undefined;
}

/** An owner's or a repository's name as a scope takes it: not empty, no `/`, no spaces around. */
export const isScopeNamePart = (s: string): boolean => s !== '' && s.trim() === s && !s.includes('/');

/** GitHub's environment names are case-insensitive. */
const sameEnvironment = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase();

const LEVEL_RANK = { org: 0, repo: 1, environment: 2 } as const satisfies Record<SecretScope['level'], number>;

/** What decides an order's secrets: the run's trust and the environment its job names. */
export interface SecretRecipient {
  /** Absent (a run recorded before trust was): treated as `approved-outsider`, the narrower grant. */
  readonly trust?: RunTrust;
  /** The order's `environment.name`, as planned (it may still hold an unevaluated `${{ }}`). */
  readonly environment?: string;
}

/**
 * Which secrets an order gets, from the org, repository and environment secrets of its repository:
 * - environment secrets only when the order's job names that environment (an environment name still holding an
 *   expression matches none: the server does not evaluate it, so it cannot know);
 * - per name, the most specific level wins (GitHub's precedence: environment over repository over organization);
 * - then, for a run of an approved outsider, only the winners marked `outsiders`. Filtering after precedence means
 *   an org secret is never handed out under a name a repository secret overrides for members only.
 * The result is sorted by name.
 */
export function chooseSecrets(available: readonly SecretInfo[], recipient: SecretRecipient): SecretInfo[] {
  const env = recipient.environment;
  const namedEnv = env !== undefined && env !== '' && !env.includes('${{') ? env : undefined;
  const winners = new Map<string, SecretInfo>();
  for (const secret of available) {
    const { scope } = secret;
    if (scope.level === 'environment' && (namedEnv === undefined || !sameEnvironment(scope.environment, namedEnv))) {
      continue;
    }
    const name = normalizeSecretName(secret.name);
    const held = winners.get(name);
    if (held === undefined || LEVEL_RANK[scope.level] > LEVEL_RANK[held.scope.level]) winners.set(name, secret);
  }
  const member = recipient.trust === 'member';
  return [...winners.values()]
    .filter((s) => member || s.outsiders)
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** The three scopes an order of `repo` may draw from (its environment's only when it names one). */
export function scopesFor(repo: RepoRef, environment?: string): SecretScope[] {
  const scopes: SecretScope[] = [
    { level: 'org', forge: repo.forge, host: repo.host, owner: repo.owner },
    { level: 'repo', repo },
  ];
  if (environment !== undefined && environment !== '' && !environment.includes('${{')) {
    scopes.push({ level: 'environment', repo, environment });
  }
  return scopes;
}

/** One line naming a scope, for the CLI and errors (`org octo`, `repo octo/app`, `environment prod of octo/app`). */
export function describeSecretScope(scope: SecretScope): string {
  switch (scope.level) {
    case 'org':
      return `org ${scope.owner}`;
    case 'repo':
      return `repo ${scope.repo.owner}/${scope.repo.name}`;
    case 'environment':
      return `environment ${scope.environment} of ${scope.repo.owner}/${scope.repo.name}`;
  }
}

/**
 * What a called workflow's job sees of its caller's secrets (GitHub, "Reusing workflows" › "Passing inputs and
 * secrets"): each enclosing call, outermost first, passes `inherit` (all it has) or a map whose values are
 * expressions over its own `secrets` (`NAME: ${{ secrets.X }}`); a call without `secrets:` passes none. A value
 * that does not evaluate is left out. Environment secrets are not passed: a called job naming an environment gets
 * that environment's own (added by the caller of this function). Pure; evaluated in memory, never logged.
 */
export function passSecretsThroughCalls(
  callerSecrets: Readonly<Record<string, string>>,
  passed: readonly CallSecrets[] | undefined,
  evaluate: (template: string, secrets: Readonly<Record<string, string>>) => string | undefined,
): Readonly<Record<string, string>> {
  let current = callerSecrets;
  for (const layer of passed ?? []) {
    if (layer === 'inherit') continue;
    const next: Record<string, string> = {};
    for (const [name, template] of Object.entries(layer)) {
      const value = evaluate(template, current);
      if (value !== undefined) next[name.toUpperCase()] = value;
    }
    current = next;
  }
  return current;
}

/** Deepest nesting walked in an order's fields when looking for secret references (steps are a few levels deep). */
const MAX_WALK_DEPTH = 16;

/**
 * The secrets an order's job reads by name (`secrets.NAME`, `secrets['NAME']`), upper-cased and sorted: in its env,
 * its steps (every field: `run`, `with`, `env`, names) and its outputs, and in the `secrets:` its calls pass. A job
 * that reads `secrets` whole (`toJSON(secrets)`) names no more than it names this way: what cannot be listed is not
 * fetched from outside stores.
 */
export function secretNamesOfOrder(
  order: Pick<OrderSpec, 'env' | 'steps' | 'outputExprs' | 'secretsPassed'>,
): string[] {
  const names = new Set<string>();
  const walk = (value: unknown, depth: number): void => {
    if (depth > MAX_WALK_DEPTH) return;
    if (typeof value === 'string') {
      if (!value.includes('${{')) return;
      for (const name of secretNamesUsed(value)?.names ?? []) names.add(name);
    } else if (Array.isArray(value)) {
      for (const item of value as unknown[]) walk(item, depth + 1);
    } else if (typeof value === 'object' && value !== null) {
      for (const item of Object.values(value)) walk(item, depth + 1);
    }
  };
  walk([order.env, order.steps, order.outputExprs, order.secretsPassed ?? []], 0);
  return [...names].sort();
}

/** Where a secret read through from an outside store was found: the level it stands at, as a stored one would. */
export type ExternalSecretLevel = 'environment' | 'repo' | 'org';

/** An environment name usable in an outside store's path: AWS parameter names allow only these characters. */
const PATH_SAFE = /^[\w.-]+$/;

/**
 * Where an outside store (AWS Secrets Manager, SSM Parameter Store) is asked for `name`, most specific first, as
 * stored secrets take precedence: `<prefix><owner>/<repo>/environments/<environment>/<NAME>` for a job naming an
 * environment (a name of letters, digits and `_.-` only), then `<prefix><owner>/<repo>/<NAME>`, then
 * `<prefix><owner>/<NAME>`. Owner, repository and environment are lower-cased (the forges treat them
 * case-insensitively, as the store's keys do); the name is upper-case, as secret names are kept.
 */
export function externalSecretPaths(
  prefix: string,
  repo: Pick<RepoRef, 'owner' | 'name'>,
  environment: string | undefined,
  name: string,
): { readonly path: string; readonly level: ExternalSecretLevel }[] {
  const owner = repo.owner.toLowerCase();
  const repoPath = `${prefix}${owner}/${repo.name.toLowerCase()}`;
  const upper = normalizeSecretName(name);
  // A part AWS would refuse in a name asks nothing (GitHub's and Gitea's names fit; this is for odd ones).
  if (!PATH_SAFE.test(owner) || !PATH_SAFE.test(upper)) return [];
  const paths: { path: string; level: ExternalSecretLevel }[] = [];
  if (PATH_SAFE.test(repo.name)) {
    if (environment !== undefined && PATH_SAFE.test(environment))
      paths.push({ path: `${repoPath}/environments/${environment.toLowerCase()}/${upper}`, level: 'environment' });
    paths.push({ path: `${repoPath}/${upper}`, level: 'repo' });
  }
  paths.push({ path: `${prefix}${owner}/${upper}`, level: 'org' });
  return paths;
}
