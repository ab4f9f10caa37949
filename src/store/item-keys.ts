import type { SecretScope } from '../core/secrets.ts';
import type { RepoRef, RunRecord } from '../core/types.ts';

/**
 * The keys of every item and of its index entries. Items of the single table:
 *
 * | item    | pk                | sk                | notes                                                       |
 * |---------|-------------------|-------------------|-------------------------------------------------------------|
 * | run     | `RUN#<runId>`     | `RUN`             | RunRecord + index keys                                      |
 * | order   | `RUN#<runId>`     | `ORDER#<orderId>` | OrderRecord + the run's expiresAt + `doneNeeds` (string set) |
 * | counter | `COUNTER#<key>`   | `COUNTER`         | `v`                                                         |
 * | claim   | `CLAIM#<key>`     | `CLAIM`           | `expiresAt`, `released`                                     |
 * | doc     | `DOC#<kind>#<key>`| `DOC`             | `value` (a map), `version`, `expiresAt`, `docKind`, `docKey`  |
 * | secret  | `SECRETS#<scope>` | `SECRET#<NAME>`   | `name`, `scope`, `outsiders`, `updatedAt`, sealed value + wrapped data key; no expiry |
 * | secret environment | `SECRETS#repo#<repo>` | `ENVIRONMENT#<env>` | `environment`: a repository environment that has (had) secrets |
 *
 * Every caller-given part is URI-encoded, so a `#` inside an id can never forge another key.
 */

/**
 * The two order indexes and the docs index have one partition per shard: every order of every run lands in them,
 * and a single partition key value of a GSI takes at most 1,000 writes per second before it throttles the base
 * table (DynamoDB developer guide, "Designing partition keys to distribute your workload"). Readers query every
 * shard.
 */
export const INDEX_SHARDS = 4;

export const part = (s: string): string => encodeURIComponent(s);
export const runPk = (runId: string): string => `RUN#${part(runId)}`;
export const RUN_SK = 'RUN';
export const ORDER_SK_PREFIX = 'ORDER#';
export const orderSk = (orderId: string): string => `${ORDER_SK_PREFIX}${part(orderId)}`;
export const counterKey = (key: string) => ({ pk: `COUNTER#${part(key)}`, sk: 'COUNTER' }) as const;
export const claimKey = (key: string) => ({ pk: `CLAIM#${part(key)}`, sk: 'CLAIM' }) as const;
export const docKey = (kind: string, key: string) => ({ pk: `DOC#${part(kind)}#${part(key)}`, sk: 'DOC' }) as const;

/** Sorts as a string in numeric order (epoch ms have 13 digits until the year 2286). */
export const timeKey = (ms: number): string => String(Math.max(0, Math.trunc(ms))).padStart(15, '0');

/**
 * GitHub and Gitea treat owner and repository names case-insensitively (`Octo/Repo` and `octo/repo` are one
 * repository), and so do host names (RFC 4343), so the key lowercases them.
 */
export function repoKey(repo: RepoRef): string {
  return ['REPO', repo.forge, repo.host.toLowerCase(), repo.owner.toLowerCase(), repo.name.toLowerCase()]
    .map(part)
    .join('#');
}

/** FNV-1a: a stable, cheap spread of orders over the index shards. */
export function shardOf(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % INDEX_SHARDS;
}

export const statusPk = (status: string): string => `STATUS#${status}`;
export const activePk = (shard: number): string => `ACTIVE#${String(shard)}`;
export const waitingPk = (shard: number): string => `WAITING#${String(shard)}`;
export const docsPk = (kind: string, shard: number): string => `DOCS#${part(kind)}#${String(shard)}`;
export const groupPk = (repo: RepoRef, group: string): string => `${repoKey(repo)}#GROUP#${part(group)}`;
/** Run index sort key: `<createdAt>#<runId>`, so runs created in the same millisecond still sort apart. */
export const createdSk = (createdAt: number, runId: string): string => `${timeKey(createdAt)}#${part(runId)}`;

export function activeIndexKeys(runId: string, orderId: string): { activePk: string; activeSk: string } {
  return {
    activePk: activePk(shardOf(`${runId}/${orderId}`)),
    activeSk: `${part(runId)}#${part(orderId)}`,
  };
}

export function waitingIndexKeys(
  runId: string,
  orderId: string,
  waitingSince: number,
): { waitPk: string; waitSk: string } {
  return {
    waitPk: waitingPk(shardOf(`${runId}/${orderId}`)),
    waitSk: `${timeKey(waitingSince)}#${part(runId)}#${part(orderId)}`,
  };
}

export function runIndexKeys(run: Pick<RunRecord, 'runId' | 'repo' | 'status' | 'createdAt' | 'concurrencyGroup'>): {
  repoPk: string;
  statusPk: string;
  createdSk: string;
  groupPk?: string;
} {
  return {
    repoPk: repoKey(run.repo),
    statusPk: statusPk(run.status),
    createdSk: createdSk(run.createdAt, run.runId),
    ...(run.concurrencyGroup !== undefined ? { groupPk: groupPk(run.repo, run.concurrencyGroup) } : {}),
  };
}

export function docIndexKeys(kind: string, key: string, due: number): { docsPk: string; docsSk: string } {
  return {
    docsPk: docsPk(kind, shardOf(key)),
    docsSk: `${timeKey(due)}#${part(key)}`,
  };
}

/**
 * One partition per secret scope, so listing a scope is one query on the table's own key. Owner, repository, host
 * and environment names are case-insensitive on GitHub and Gitea, so they are lowercased.
 */
export function secretsPk(scope: SecretScope): string {
  const parts: string[] = ['SECRETS', scope.level];
  if (scope.level === 'org') parts.push(scope.forge, scope.host, scope.owner);
  else parts.push(scope.repo.forge, scope.repo.host, scope.repo.owner, scope.repo.name);
  if (scope.level === 'environment') parts.push(scope.environment);
  return parts.map((p, i) => (i < 2 ? p : part(p.toLowerCase()))).join('#');
}
export const SECRET_SK_PREFIX = 'SECRET#';
/** `name` is already upper-case (normalizeSecretName). */
export const secretSk = (name: string): string => `${SECRET_SK_PREFIX}${part(name)}`;
/** Beside a repository's own secrets: one item per environment of it that was given a secret (lower-cased). */
export const SECRET_ENVIRONMENT_SK_PREFIX = 'ENVIRONMENT#';
export const secretEnvironmentSk = (environment: string): string =>
  `${SECRET_ENVIRONMENT_SK_PREFIX}${part(environment.toLowerCase())}`;
