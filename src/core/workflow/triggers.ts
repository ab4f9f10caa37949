/**
 * Does a workflow run for an event? GitHub's documented trigger-filter semantics ("Workflow syntax for GitHub
 * Actions": `on.push.<branches|tags|branches-ignore|tags-ignore>`, `on.<push|pull_request>.<paths|paths-ignore>`,
 * `on.pull_request.<branches|branches-ignore|types>`), applied to spotcheck's `push`, `pull_request` and `testme`
 * events. `testme` takes the `pull_request` filters except `types`. Other GitHub events never match (a workflow
 * listing only those is valid and never runs).
 */
import {
  filterPatternError,
  matchesFilters,
  matchesIgnoreFilters,
  pathsFilterPasses,
  pathsIgnorePasses,
} from './filter-pattern.ts';
import { DEFAULT_PULL_REQUEST_TYPES } from '../types.ts';
import type { EventName, TriggerEvent, TriggerFilter, TriggerMatch, Workflow } from '../types.ts';

const BRANCH_PREFIX = 'refs/heads/';
const TAG_PREFIX = 'refs/tags/';

type RefKind = 'branch' | 'tag';

const no = (reason: string): TriggerMatch => ({ matched: false, reason });

/** `refs/heads/main` → branch `main`; `refs/tags/v1.2` → tag `v1.2`; anything else → `undefined`. */
export function parseRef(ref: string): { readonly kind: RefKind; readonly name: string } | undefined {
  if (ref.startsWith(BRANCH_PREFIX)) return { kind: 'branch', name: ref.slice(BRANCH_PREFIX.length) };
  if (ref.startsWith(TAG_PREFIX)) return { kind: 'tag', name: ref.slice(TAG_PREFIX.length) };
  return undefined;
}

/**
 * Checks one ref name against an include list and an ignore list (the validator forbids having both; if both are
 * present anyway, both must pass). Returns the reason it fails, or `undefined` when it passes.
 */
function refFilterFailure(
  kind: RefKind,
  name: string,
  include: readonly string[] | undefined,
  ignore: readonly string[] | undefined,
): string | undefined {
  const plural = kind === 'branch' ? 'branches' : 'tags';
  if (include !== undefined && !matchesFilters(include, name)) return `${kind} "${name}" not in ${plural} filter`;
  if (ignore !== undefined && matchesIgnoreFilters(ignore, name)) return `${kind} "${name}" matches ${plural}-ignore`;
  return undefined;
}

function pathFilterFailure(filter: TriggerFilter, changedFiles: readonly string[] | null): string | undefined {
  if (filter.paths === undefined && filter.pathsIgnore === undefined) return undefined;
  // GitHub: "If there are no files changed, the workflow will not run." (for `paths` and `paths-ignore` alike)
  if (changedFiles !== null && changedFiles.length === 0) return 'no files changed';
  if (filter.paths !== undefined && !pathsFilterPasses(filter.paths, changedFiles)) {
    return 'no changed file matches paths';
  }
  if (filter.pathsIgnore !== undefined && !pathsIgnorePasses(filter.pathsIgnore, changedFiles)) {
    return 'all changed files match paths-ignore';
  }
  return undefined;
}

function matchPush(filter: TriggerFilter, event: Extract<TriggerEvent, { kind: 'push' }>): TriggerMatch {
  const ref = parseRef(event.ref);
  if (ref === undefined) return no(`push to ${event.ref} is neither a branch nor a tag`);
  // spotcheck's rule (docs/architecture.md): deleting a branch or tag runs nothing — there is no commit to build.
  if (event.deleted) return no(`${ref.kind} "${ref.name}" was deleted`);

  const hasBranchFilter = filter.branches !== undefined || filter.branchesIgnore !== undefined;
  const hasTagFilter = filter.tags !== undefined || filter.tagsIgnore !== undefined;
  // GitHub: "If you define only tags/tags-ignore or only branches/branches-ignore, the workflow won't run for
  // events affecting the undefined Git ref. If you define neither ..., the workflow will run for events affecting
  // either branches or tags."
  if (ref.kind === 'branch') {
    if (!hasBranchFilter && hasTagFilter) return no(`push to branch "${ref.name}" but the workflow filters tags only`);
    const failure = refFilterFailure('branch', ref.name, filter.branches, filter.branchesIgnore);
    if (failure !== undefined) return no(failure);
    // GitHub: "If you define both branches/branches-ignore and paths/paths-ignore, the workflow will only run when
    // both filters are satisfied."
    const pathFailure = pathFilterFailure(filter, event.changedFiles);
    if (pathFailure !== undefined) return no(pathFailure);
  } else {
    if (!hasTagFilter && hasBranchFilter) return no(`push to tag "${ref.name}" but the workflow filters branches only`);
    const failure = refFilterFailure('tag', ref.name, filter.tags, filter.tagsIgnore);
    if (failure !== undefined) return no(failure);
    // GitHub: "Path filters are not evaluated for pushes of tags."
  }
  return { matched: true, reason: `matched push to ${event.ref}` };
}

function matchPullRequest(
  filter: TriggerFilter,
  event: Extract<TriggerEvent, { kind: 'pull_request' | 'testme' }>,
): TriggerMatch {
  if (event.kind === 'pull_request') {
    // GitHub runs pull_request workflows for the activity types under `types`, by default opened, synchronize and
    // reopened; a `closed` type runs only when asked for. `testme` is spotcheck's own event and has no types.
    const action = event.action ?? 'synchronize';
    const types = filter.types ?? DEFAULT_PULL_REQUEST_TYPES;
    if (!types.includes(action)) return no(`pull_request activity "${action}" not in types (${types.join(', ')})`);
  }
  // GitHub: `on.pull_request.branches` is "evaluated against the Git ref's name" of the base (target) branch. The
  // event carries the short name; a full `refs/heads/...` is tolerated.
  const base = event.baseRef.startsWith(BRANCH_PREFIX) ? event.baseRef.slice(BRANCH_PREFIX.length) : event.baseRef;
  const failure = refFilterFailure('branch', base, filter.branches, filter.branchesIgnore);
  if (failure !== undefined) return no(`target ${failure}`);
  const pathFailure = pathFilterFailure(filter, event.changedFiles);
  if (pathFailure !== undefined) return no(pathFailure);
  const what =
    event.kind === 'testme'
      ? '!testme on a pull request'
      : event.action === undefined
        ? 'pull_request'
        : `pull_request ${event.action}`;
  return { matched: true, reason: `matched ${what} into ${base}` };
}

/** Whether `workflow` runs for `event`, with a one-line reason either way. */
export function matchTrigger(workflow: Workflow, event: TriggerEvent): TriggerMatch {
  const filter = workflow.on[event.kind];
  if (filter === undefined) return no(`workflow has no "${event.kind}" trigger`);
  return event.kind === 'push' ? matchPush(filter, event) : matchPullRequest(filter, event);
}

const FILTER_KEYS = [
  ['branches', 'branches'],
  ['branchesIgnore', 'branches-ignore'],
  ['tags', 'tags'],
  ['tagsIgnore', 'tags-ignore'],
  ['paths', 'paths'],
  ['pathsIgnore', 'paths-ignore'],
] as const satisfies readonly (readonly [keyof TriggerFilter, string])[];

/**
 * Validation errors in one event's filter, as GitHub states them: an include list and its `-ignore` form may not
 * both be used; a `!` list needs at least one positive pattern ("If you define a branch with the `!` character,
 * you must also define at least one branch without the `!` character"); `-ignore` lists take no `!` patterns (use
 * the include list with `!`); every pattern must be valid. With `event`, `tags` filters on `pull_request`/`testme`
 * are reported too (GitHub defines them for `push` only).
 */
export function triggerFilterErrors(filter: TriggerFilter, event?: EventName): string[] {
  const errors: string[] = [];
  const pairs = [
    ['branches', 'branchesIgnore'],
    ['tags', 'tagsIgnore'],
    ['paths', 'pathsIgnore'],
  ] as const;
  for (const [include, ignore] of pairs) {
    if (filter[include] !== undefined && filter[ignore] !== undefined) {
      const name = FILTER_KEYS.find(([key]) => key === include)?.[1] ?? include;
      errors.push(`${name} and ${name}-ignore cannot both be used for the same event`);
    }
  }
  if (event !== undefined && event !== 'push') {
    for (const key of ['tags', 'tagsIgnore'] as const) {
      if (filter[key] !== undefined) {
        errors.push(`${key === 'tags' ? 'tags' : 'tags-ignore'} applies only to push, not to ${event}`);
      }
    }
  }
  for (const [key, name] of FILTER_KEYS) {
    const patterns = filter[key];
    if (patterns === undefined) continue;
    const isIgnore = name.endsWith('-ignore');
    const negations = patterns.filter((p) => p.startsWith('!'));
    if (isIgnore && negations.length > 0) {
      errors.push(
        `${name} cannot hold '!' patterns (${negations.join(', ')}); use ${name.replace('-ignore', '')} with '!' instead`,
      );
    } else if (!isIgnore && patterns.length > 0 && negations.length === patterns.length) {
      errors.push(`${name} has only '!' patterns: add at least one positive pattern, or use ${name}-ignore`);
    }
    for (const pattern of patterns) {
      const error = filterPatternError(pattern);
      if (error !== undefined) errors.push(`${name}: ${error}`);
    }
  }
  return errors;
}
