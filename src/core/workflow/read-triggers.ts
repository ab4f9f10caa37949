/**
 * `on:`: which events run the workflow (push, pull_request, testme), and each event's branch, tag and path filters,
 * checked here so that a filter that could never match is an error rather than a workflow that silently never runs.
 * Matching an event against them is triggers.ts.
 */
import { MAX_FILTER_PATTERNS, MAX_FILTER_PATTERN_LENGTH } from '../limits.ts';
import { EVENT_NAMES } from '../types.ts';
import type { EventName, SourcePos, TriggerFilter, WorkflowTriggers } from '../types.ts';
import { clip } from './diagnostics.ts';
import type { DiagnosticSink } from './diagnostics.ts';
import { filterPatternError } from './filter-pattern.ts';
import { checkKeys, readString } from './read-scalars.ts';
import { describeValue, field } from './yaml-tree.ts';
import type { YValue } from './yaml-tree.ts';

const PUSH_FILTERS = ['branches', 'branches-ignore', 'tags', 'tags-ignore', 'paths', 'paths-ignore'] as const;
const PR_FILTERS = ['branches', 'branches-ignore', 'paths', 'paths-ignore'] as const;
type FilterKey = (typeof PUSH_FILTERS)[number];

const FILTER_FIELDS = {
  branches: 'branches',
  'branches-ignore': 'branchesIgnore',
  tags: 'tags',
  'tags-ignore': 'tagsIgnore',
  paths: 'paths',
  'paths-ignore': 'pathsIgnore',
} as const satisfies Record<FilterKey, keyof TriggerFilter>;

export function readTriggers(sink: DiagnosticSink, v: YValue): WorkflowTriggers | undefined {
  const before = sink.count;
  const triggers: Partial<Record<EventName, TriggerFilter>> = {};
  const addEvent = (name: string, pos: SourcePos): EventName | undefined => {
    if (!isEventName(name)) {
      sink.error(pos, unsupportedEvent(name));
      return undefined;
    }
    if (triggers[name]) {
      sink.error(pos, `event \`${name}\` is listed twice in \`on\``);
      return undefined;
    }
    triggers[name] = {};
    return name;
  };
  if (v.kind === 'scalar') {
    if (typeof v.value !== 'string' || v.value === '') {
      sink.error(v.pos, `\`on\` must name events (push, pull_request, testme), not ${describeValue(v)}`);
      return undefined;
    }
    addEvent(v.value, v.pos);
  } else if (v.kind === 'seq') {
    for (const item of v.items) {
      if (item.kind !== 'scalar' || typeof item.value !== 'string') {
        sink.error(item.pos, `each entry of \`on\` must be an event name, not ${describeValue(item)}`);
        continue;
      }
      addEvent(item.value, item.pos);
    }
  } else {
    for (const entry of v.entries) {
      const event = addEvent(entry.key, entry.keyPos);
      if (!event) continue;
      const filter = readEventFilter(sink, event, entry.value);
      if (filter) triggers[event] = filter;
    }
  }
  if (Object.keys(triggers).length === 0 && sink.count === before) {
    sink.error(v.pos, '`on` lists no event: name at least one of push, pull_request, testme');
  }
  return triggers;
}

function isEventName(name: string): name is EventName {
  return (EVENT_NAMES as readonly string[]).includes(name);
}

function unsupportedEvent(name: string): string {
  const supported = 'spotcheck supports push, pull_request and testme (a `!testme` comment on a pull request)';
  if (name === 'workflow_dispatch' || name === 'repository_dispatch')
    return `event \`${name}\` is not supported: ${supported}; to run a workflow by hand, comment \`!testme\` on a pull request`;
  if (name === 'pull_request_target')
    return `event \`pull_request_target\` is not supported: ${supported}; pull_request runs for trusted authors, and \`!testme\` lets an org member approve the others`;
  if (name === 'workflow_call')
    return `event \`workflow_call\` is not supported: reusable workflows are not; ${supported}`;
  return `event \`${name}\` is not supported: ${supported}`;
}

function readEventFilter(sink: DiagnosticSink, event: EventName, v: YValue): TriggerFilter | undefined {
  if (v.kind === 'scalar' && v.value === null) return {};
  if (v.kind !== 'map') {
    sink.error(v.pos, `\`on.${event}\` must be a mapping of filters (or empty), not ${describeValue(v)}`);
    return undefined;
  }
  const allowed = event === 'push' ? PUSH_FILTERS : PR_FILTERS;
  const hints: Record<string, string> = {
    types:
      event === 'push'
        ? '`push` has no activity types'
        : `\`types:\` is not supported: spotcheck decides which pull request activity starts a run (new commits on the pull request, or a \`!testme\` comment), so a \`types:\` list would be silently ignored`,
  };
  if (event !== 'push') {
    hints['tags'] = `tag filters apply to \`push\` only; \`${event}\` is filtered by its base branch and changed paths`;
    hints['tags-ignore'] = hints['tags'];
  }
  checkKeys(sink, v, allowed, `\`on.${event}\``, hints);
  const filter: Partial<Record<keyof TriggerFilter, readonly string[]>> = {};
  for (const entry of v.entries) {
    if (!(allowed as readonly string[]).includes(entry.key)) continue;
    const key = entry.key as FilterKey;
    const patterns = readPatterns(sink, entry.value, `on.${event}.${key}`);
    if (patterns) filter[FILTER_FIELDS[key]] = patterns;
  }
  // GitHub: "You cannot use both the branches and branches-ignore filters for the same event" (likewise tags and
  // paths); a `!pattern` in the positive list expresses the exclusions.
  for (const [a, b] of [
    ['branches', 'branches-ignore'],
    ['tags', 'tags-ignore'],
    ['paths', 'paths-ignore'],
  ] as const) {
    const second = field(v, b);
    if (field(v, a) && second) {
      sink.error(
        second.keyPos,
        `\`${a}\` and \`${b}\` cannot both filter \`${event}\` (GitHub's rule): keep \`${a}\` and add \`!pattern\` entries for the exclusions`,
      );
    }
  }
  return filter;
}

function readPatterns(sink: DiagnosticSink, v: YValue, path: string): string[] | undefined {
  const items = v.kind === 'seq' ? v.items : [v];
  if (v.kind === 'map') {
    sink.error(v.pos, `\`${path}\` must be a pattern or a list of patterns, not a mapping`);
    return undefined;
  }
  if (items.length === 0) {
    sink.error(v.pos, `\`${path}\` is an empty list: remove it, or list at least one pattern`);
    return undefined;
  }
  if (items.length > MAX_FILTER_PATTERNS) {
    sink.error(v.pos, `\`${path}\` lists ${items.length} patterns; at most ${MAX_FILTER_PATTERNS} are allowed`);
    return undefined;
  }
  const patterns: string[] = [];
  const ignoreList = path.endsWith('-ignore');
  for (const item of items) {
    const p = readString(sink, item, `${path} entry`, { nonEmpty: true, noExpression: true });
    if (p === undefined) continue;
    const problem = patternProblem(p);
    if (problem) sink.error(item.pos, `\`${path}\` pattern \`${clip(p)}\`: ${problem}`);
    else if (ignoreList && p.startsWith('!')) {
      // GitHub documents `!` for the positive lists only; in an `-ignore` list it would re-include nothing.
      const positive = path.slice(0, -'-ignore'.length);
      sink.error(
        item.pos,
        `\`${path}\` cannot hold \`!\` patterns: use \`${positive.split('.').pop() ?? positive}\` with \`!\` entries instead`,
      );
    } else patterns.push(p);
  }
  if (patterns.length === items.length && !ignoreList && patterns.every((p) => p.startsWith('!'))) {
    // The last matching pattern wins and a value no pattern matches is excluded, so negations alone match nothing.
    sink.error(
      v.pos,
      `\`${path}\` has only \`!\` patterns, which can match nothing: add a positive pattern first, or use the \`-ignore\` list`,
    );
    return undefined;
  }
  return patterns.length === items.length ? patterns : undefined;
}

/**
 * Bounds and syntax of one filter pattern. GitHub's filter pattern cheat sheet defines `*`, `**`, `?`, `+`,
 * `[]` and a leading `!`, escaped with `\`; `{a,b}` alternation is not part of it. spotcheck's matcher
 * (filter-pattern.ts) reads a brace literally, so nothing expands, but a user writing `{a,b}` means alternation and
 * would get a filter that silently never matches: an unescaped brace is refused. The rest of the syntax is checked
 * by the matcher itself, so the validator and the matcher cannot disagree.
 */
function patternProblem(p: string): string | undefined {
  if (p.length > MAX_FILTER_PATTERN_LENGTH)
    return `is ${p.length} characters long; at most ${MAX_FILTER_PATTERN_LENGTH} are allowed`;
  if (p === '!') return '`!` negates the pattern after it, and nothing follows it';
  for (let i = 0; i < p.length; i++) {
    const c = p[i];
    if (c === '\\') i++;
    else if (c === '{' || c === '}')
      return "`{…}` alternation is not part of GitHub's filter pattern syntax (`*`, `**`, `?`, `+`, `[]`, `!`): list each alternative as its own pattern, or write `\\{` for a literal brace";
  }
  return filterPatternError(p);
}
