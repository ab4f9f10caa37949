/**
 * `on:`: which events run the workflow (push, pull_request, testme), and each event's branch, tag and path filters,
 * checked here so that a filter that could never match is an error rather than a workflow that silently never runs.
 * Every other event GitHub defines is accepted, with a notice that spotcheck does not act on it, and its keys are
 * checked loosely (names only), so a file shared with GitHub Actions stays valid. Matching is triggers.ts.
 */
import { MAX_FILTER_PATTERNS, MAX_FILTER_PATTERN_LENGTH } from '../limits.ts';
import { EVENT_NAMES, PULL_REQUEST_TYPES } from '../types.ts';
import type { EventName, PullRequestType, SourcePos, TriggerFilter, WorkflowTriggers } from '../types.ts';
import { clip } from './diagnostics.ts';
import type { DiagnosticSink } from './diagnostics.ts';
import { filterPatternError } from './filter-pattern.ts';
import { checkKeys, readString } from './read-scalars.ts';
import { describeValue, field } from './yaml-tree.ts';
import type { YMap, YValue } from './yaml-tree.ts';

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

/**
 * The events GitHub's "Events that trigger workflows" lists besides push and pull_request, with the keys GitHub's
 * workflow syntax gives each (`schedule` is a list of `{cron, timezone}` entries instead).
 */
const FOREIGN_EVENTS = {
  branch_protection_rule: ['types'],
  check_run: ['types'],
  check_suite: ['types'],
  create: [],
  delete: [],
  deployment: [],
  deployment_status: [],
  discussion: ['types'],
  discussion_comment: ['types'],
  fork: [],
  gollum: [],
  issue_comment: ['types'],
  issues: ['types'],
  label: ['types'],
  merge_group: ['types'],
  milestone: ['types'],
  page_build: [],
  public: [],
  pull_request_review: ['types'],
  pull_request_review_comment: ['types'],
  pull_request_target: ['types', 'branches', 'branches-ignore', 'paths', 'paths-ignore'],
  registry_package: ['types'],
  release: ['types'],
  repository_dispatch: ['types'],
  schedule: [],
  status: [],
  watch: ['types'],
  workflow_call: ['inputs', 'outputs', 'secrets'],
  workflow_dispatch: ['inputs'],
  workflow_run: ['types', 'workflows', 'branches', 'branches-ignore'],
} as const satisfies Record<string, readonly string[]>;
type ForeignEvent = keyof typeof FOREIGN_EVENTS;

const SCHEDULE_KEYS = ['cron', 'timezone'] as const;

export function readTriggers(sink: DiagnosticSink, v: YValue): WorkflowTriggers | undefined {
  const before = sink.count;
  const triggers: Partial<Record<EventName, TriggerFilter>> = {};
  const seen = new Set<string>();
  let foreign = 0;
  /** The event if spotcheck acts on it; a foreign event gets its notice, an unknown one its error. */
  const addEvent = (name: string, pos: SourcePos): EventName | ForeignEvent | undefined => {
    if (!isEventName(name) && !isForeignEvent(name)) {
      sink.error(pos, unknownEvent(name));
      return undefined;
    }
    if (seen.has(name)) {
      sink.error(pos, `event \`${name}\` is listed twice in \`on\``);
      return undefined;
    }
    seen.add(name);
    if (isForeignEvent(name)) {
      foreign += 1;
      sink.notice(pos, foreignEventNotice(name));
      return name;
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
      if (isForeignEvent(event)) {
        readForeignEvent(sink, event, entry.value);
        continue;
      }
      const filter = readEventFilter(sink, event, entry.value);
      if (filter) triggers[event] = filter;
    }
  }
  if (Object.keys(triggers).length === 0 && foreign === 0 && sink.count === before) {
    sink.error(v.pos, '`on` lists no event: name at least one of push, pull_request, testme');
  }
  return triggers;
}

function isEventName(name: string): name is EventName {
  return (EVENT_NAMES as readonly string[]).includes(name);
}

function isForeignEvent(name: string): name is ForeignEvent {
  return Object.hasOwn(FOREIGN_EVENTS, name);
}

function unknownEvent(name: string): string {
  return `unknown event \`${clip(name)}\`: GitHub defines no such event (spotcheck runs workflows on push, pull_request and testme, a \`!testme\` comment on a pull request)`;
}

/** Said once per foreign event; the file stays valid and runs only for the spotcheck events it also lists. */
function foreignEventNotice(name: ForeignEvent): string {
  const base = `\`${name}\` is not a spotcheck trigger: spotcheck never runs this workflow for it (it runs on push, pull_request and testme)`;
  if (name === 'workflow_dispatch' || name === 'repository_dispatch')
    return `${base}; to run a workflow by hand, comment \`!testme\` on a pull request`;
  if (name === 'workflow_call')
    return '`workflow_call`: this workflow runs when another one calls it (`jobs.<id>.uses`), never by itself';
  if (name === 'pull_request_target')
    return `${base}; pull_request runs for trusted authors, and \`!testme\` lets an org member approve the others`;
  return base;
}

/**
 * A foreign event's value, checked loosely: empty, or a mapping of the keys GitHub defines for it (their values are
 * not read); `schedule` a list of `{cron, timezone}`; `workflow_dispatch`/`workflow_call` sections mappings. Every key
 * found is noted as accepted but ignored (`validate --verbose`).
 */
function readForeignEvent(sink: DiagnosticSink, event: ForeignEvent, v: YValue): void {
  if (event === 'schedule') {
    readSchedule(sink, v);
    return;
  }
  if (v.kind === 'scalar' && v.value === null) return;
  if (v.kind !== 'map') {
    sink.error(v.pos, `\`on.${event}\` must be a mapping (or empty), not ${describeValue(v)}`);
    return;
  }
  const allowed: readonly string[] = FOREIGN_EVENTS[event];
  if (allowed.length === 0) {
    for (const entry of v.entries) {
      sink.error(entry.keyPos, `\`on.${event}\` takes no keys (GitHub defines none for it); leave it empty`);
    }
    return;
  }
  checkKeys(sink, v, allowed, `\`on.${event}\``, {});
  for (const entry of v.entries) {
    if (!allowed.includes(entry.key)) continue;
    const isSection = entry.key === 'inputs' || entry.key === 'outputs' || entry.key === 'secrets';
    const value = entry.value;
    if (isSection && !(value.kind === 'map' || (value.kind === 'scalar' && value.value === null))) {
      sink.error(value.pos, `\`on.${event}.${entry.key}\` must be a mapping, not ${describeValue(value)}`);
      continue;
    }
    if (!isSection && value.kind === 'map') {
      sink.error(value.pos, `\`on.${event}.${entry.key}\` must be a name or a list of names, not a mapping`);
      continue;
    }
    // A called workflow's inputs, outputs and secrets are read by read-call.ts, not ignored.
    if (event !== 'workflow_call') noteIgnored(sink, entry.keyPos, `on.${event}.${entry.key}`, event);
  }
}

function readSchedule(sink: DiagnosticSink, v: YValue): void {
  if (v.kind !== 'seq' || v.items.length === 0) {
    sink.error(v.pos, "`on.schedule` must be a list of `- cron: '…'` entries");
    return;
  }
  for (const item of v.items) {
    if (item.kind !== 'map') {
      sink.error(item.pos, `each entry of \`on.schedule\` must be a mapping with \`cron\`, not ${describeValue(item)}`);
      continue;
    }
    checkKeys(sink, item, SCHEDULE_KEYS, '`on.schedule` entry', {});
    const cron = field(item, 'cron');
    if (!cron) sink.error(item.pos, 'an `on.schedule` entry needs `cron`');
    else readString(sink, cron.value, 'on.schedule cron', { nonEmpty: true });
    const timezone = field(item, 'timezone');
    if (timezone) readString(sink, timezone.value, 'on.schedule timezone', { nonEmpty: true });
    noteIgnoredKeys(sink, item, 'on.schedule', 'schedule');
  }
}

function noteIgnoredKeys(sink: DiagnosticSink, map: YMap, path: string, event: ForeignEvent): void {
  for (const entry of map.entries) noteIgnored(sink, entry.keyPos, `${path}.${entry.key}`, event);
}

function noteIgnored(sink: DiagnosticSink, pos: SourcePos, path: string, event: ForeignEvent): void {
  sink.notice(pos, `\`${path}\` is accepted but ignored: \`${event}\` is not a spotcheck trigger`, 'ignored');
}

function readEventFilter(sink: DiagnosticSink, event: EventName, v: YValue): TriggerFilter | undefined {
  if (v.kind === 'scalar' && v.value === null) return {};
  if (v.kind !== 'map') {
    sink.error(v.pos, `\`on.${event}\` must be a mapping of filters (or empty), not ${describeValue(v)}`);
    return undefined;
  }
  const allowed: readonly string[] =
    event === 'push' ? PUSH_FILTERS : event === 'pull_request' ? [...PR_FILTERS, 'types'] : PR_FILTERS;
  const hints: Record<string, string> = {
    types:
      event === 'push'
        ? '`push` has no activity types'
        : '`testme` has no activity types: it runs when an org member comments `!testme` on a pull request',
  };
  if (event !== 'push') {
    hints['tags'] = `tag filters apply to \`push\` only; \`${event}\` is filtered by its base branch and changed paths`;
    hints['tags-ignore'] = hints['tags'];
  }
  checkKeys(sink, v, allowed, `\`on.${event}\``, hints);
  const types = event === 'pull_request' ? field(v, 'types') : undefined;
  const activity = types ? readPullRequestTypes(sink, types.value) : undefined;
  const filter: Partial<Record<Exclude<keyof TriggerFilter, 'types'>, readonly string[]>> = {};
  for (const entry of v.entries) {
    if (entry.key === 'types' || !allowed.includes(entry.key)) continue;
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
  return activity ? { ...filter, types: activity } : filter;
}

/** `on.pull_request.types`: one of GitHub's activity types, or a list of them. */
function readPullRequestTypes(sink: DiagnosticSink, v: YValue): PullRequestType[] | undefined {
  if (v.kind === 'map') {
    sink.error(v.pos, '`on.pull_request.types` must be an activity type or a list of them, not a mapping');
    return undefined;
  }
  const items = v.kind === 'seq' ? v.items : [v];
  if (items.length === 0) {
    sink.error(
      v.pos,
      '`on.pull_request.types` is an empty list: remove it (opened, synchronize, reopened), or list a type',
    );
    return undefined;
  }
  const types: PullRequestType[] = [];
  for (const item of items) {
    const name = readString(sink, item, 'on.pull_request.types entry', { nonEmpty: true, noExpression: true });
    if (name === undefined) continue;
    const type = PULL_REQUEST_TYPES.find((t) => t === name);
    if (type === undefined) {
      sink.error(
        item.pos,
        `\`${clip(name)}\` is not an activity type of \`pull_request\`; GitHub's are ${PULL_REQUEST_TYPES.join(', ')}`,
      );
    } else if (!types.includes(type)) types.push(type);
  }
  return types.length > 0 ? types : undefined;
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
