/**
 * Reads `.spotcheck/workflows/*.yml` into the Workflow model: the GitHub Actions dialect, subset plus `testme`
 * (docs/architecture.md, "Workflow files"). Strict: anything outside the subset is a diagnostic with file, line and
 * column, never silently dropped; every problem of a file is reported at once. Workflow files come from whoever can
 * open a pull request, so every dimension is bounded (src/core/limits.ts) and the work stays proportional to the file.
 *
 * Pipeline: text → a plain positioned tree (yaml-reader.ts, bounded against hostile input) → the schema below →
 * the `needs` graph (needs-graph.ts).
 */
import {
  MAX_FILTER_PATTERNS,
  MAX_FILTER_PATTERN_LENGTH,
  MAX_JOBS,
  MAX_MATRIX_FILTER_ENTRIES,
  MAX_MATRIX_ORDERS,
  MAX_MATRIX_PRODUCT,
  MAX_STEPS_PER_JOB,
  MAX_TIMEOUT_MINUTES,
  MAX_WORKFLOW_FILES,
  MAX_WORKFLOW_FILE_BYTES,
} from '../limits.ts';
import { DiagnosticSink, clip, formatBytes, kib } from './diagnostics.ts';
import { expressionError } from './expressions.ts';
import { filterPatternError } from './filter-pattern.ts';
import { validateNeedsGraph } from './needs-graph.ts';
import { shellProblem } from './shells.ts';
import { readYaml } from './yaml-reader.ts';
import { describeValue, field } from './yaml-tree.ts';
import type { YEntry, YMap, YValue } from './yaml-tree.ts';
import { EVENT_NAMES } from '../types.ts';
import type {
  ConcurrencySpec,
  Diagnostic,
  EventName,
  JobSpec,
  MatrixCell,
  MatrixSpec,
  MatrixValue,
  SourcePos,
  StepSpec,
  TriggerFilter,
  Workflow,
  WorkflowTriggers,
} from '../types.ts';

// ---------------------------------------------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------------------------------------------

export interface ParseWorkflowResult {
  /** Present only when the file has no diagnostics. */
  readonly workflow?: Workflow;
  readonly diagnostics: Diagnostic[];
}

/** `file:line:col: message`, the shape compilers use, so editors and CI logs can link it. */
export function formatDiagnostic(d: Diagnostic): string {
  return `${d.file}:${d.line}:${d.col}: ${d.message}`;
}

/**
 * Parses every workflow file; `workflows` holds the valid ones, `diagnostics` the problems of all the others. A
 * file whose `size` (bytes, as its source listed it) is over the cap is reported with that size and not parsed: a
 * reader that did not download it (the forge adapters, `spotcheck run`/`validate`) passes `text: ''`.
 */
export function parseWorkflowFiles(
  files: readonly { readonly path: string; readonly text: string; readonly size?: number }[],
): {
  workflows: Workflow[];
  diagnostics: Diagnostic[];
} {
  const workflows: Workflow[] = [];
  const diagnostics: Diagnostic[] = [];
  files.forEach((f, i) => {
    if (i === MAX_WORKFLOW_FILES) {
      diagnostics.push({
        file: f.path,
        line: 1,
        col: 1,
        message: `too many workflow files (${files.length}): spotcheck reads at most ${MAX_WORKFLOW_FILES}; this file and the ones after it were not read`,
      });
    }
    if (i >= MAX_WORKFLOW_FILES) return;
    if (f.size !== undefined && f.size > MAX_WORKFLOW_FILE_BYTES) {
      diagnostics.push({
        file: f.path,
        line: 1,
        col: 1,
        message: `file is too large (${formatBytes(f.size)}): workflow files are limited to ${kib(MAX_WORKFLOW_FILE_BYTES)}; it was not read`,
      });
      return;
    }
    const result = parseWorkflow(f.path, f.text);
    if (result.workflow) workflows.push(result.workflow);
    diagnostics.push(...result.diagnostics);
  });
  return { workflows, diagnostics };
}

export function parseWorkflow(file: string, text: string): ParseWorkflowResult {
  const sink = new DiagnosticSink(file);
  const tree = readYaml(sink, text);
  if (tree === undefined || sink.count > 0) return { diagnostics: sink.done() };
  const workflow = readWorkflow(sink, tree);
  const diagnostics = sink.done();
  return diagnostics.length === 0 && workflow ? { workflow, diagnostics } : { diagnostics };
}

// ---------------------------------------------------------------------------------------------------------------
// Stage 2: the schema
// ---------------------------------------------------------------------------------------------------------------

const WORKFLOW_KEYS = ['name', 'on', 'env', 'concurrency', 'jobs'] as const;
const JOB_KEYS = [
  'name',
  'runs-on',
  'needs',
  'if',
  'timeout-minutes',
  'env',
  'strategy',
  'continue-on-error',
  'outputs',
  'steps',
] as const;
const STEP_KEYS = [
  'name',
  'id',
  'run',
  'env',
  'working-directory',
  'shell',
  'if',
  'continue-on-error',
  'timeout-minutes',
] as const;
const STRATEGY_KEYS = ['matrix', 'fail-fast', 'max-parallel'] as const;
const CONCURRENCY_KEYS = ['group', 'cancel-in-progress'] as const;
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

/** Why GitHub keys outside the subset are refused; the generic message lists the allowed keys instead. */
const UNSUPPORTED_WORKFLOW_KEYS: Readonly<Record<string, string>> = {
  permissions: 'spotcheck gives steps no GITHUB_TOKEN, so there are no token permissions to set',
  defaults: 'set `shell` and `working-directory` on each step instead',
  'run-name': 'spotcheck names runs after the workflow and the event',
};
const UNSUPPORTED_JOB_KEYS: Readonly<Record<string, string>> = {
  uses: 'reusable workflows (`jobs.<id>.uses`) are not supported: spotcheck runs jobs made of `run:` steps',
  with: 'reusable workflows (`jobs.<id>.uses`/`with`) are not supported: spotcheck runs jobs made of `run:` steps',
  secrets: 'reusable workflows and their `secrets` are not supported',
  services:
    '`services:` containers are not supported: start what the job needs from a `run:` step (for example `docker run -d …`)',
  container:
    '`container:` is not supported: steps run directly on the runner the `runs-on` route picks; use `docker run` in a step, or a route whose image has what the job needs',
  permissions: 'spotcheck gives steps no GITHUB_TOKEN, so there are no token permissions to set',
  environment: 'deployment environments are not supported',
  concurrency: 'only the workflow-level `concurrency` is supported',
  defaults: 'set `shell` and `working-directory` on each step instead',
};
const UNSUPPORTED_STEP_KEYS: Readonly<Record<string, string>> = {
  uses: 'spotcheck runs `run:` steps only; actions (`uses:`) are not supported: write the commands the action would run as a `run:` step',
  with: '`with:` passes inputs to an action (`uses:`), and spotcheck runs `run:` steps only',
};

/** Keys that only pass inputs to a `uses:` (an action's `with:`, a reusable workflow's `with:` and `secrets:`). */
const USES_INPUTS: ReadonlySet<string> = new Set(['with', 'secrets']);

const ID_PATTERN = /^[A-Za-z_][A-Za-z0-9_-]*$/;
const ID_RULE = 'must start with a letter or `_` and contain only letters, digits, `-` and `_`';

function readWorkflow(sink: DiagnosticSink, root: YValue): Workflow | undefined {
  if (root.kind !== 'map') {
    sink.error(
      root.pos,
      `a workflow file must be a mapping with \`on:\` and \`jobs:\`, but this file holds ${describeValue(root)}`,
    );
    return undefined;
  }
  checkKeys(sink, root, WORKFLOW_KEYS, 'the top level of a workflow', UNSUPPORTED_WORKFLOW_KEYS);
  const name = field(root, 'name');
  const on = field(root, 'on');
  const env = field(root, 'env');
  const concurrency = field(root, 'concurrency');
  const jobs = field(root, 'jobs');
  if (!on) sink.error(root.pos, 'missing `on:`: say which events run this workflow (push, pull_request, testme)');
  if (!jobs) sink.error(root.pos, 'missing `jobs:`: a workflow needs at least one job');

  const workflowName = name ? readString(sink, name.value, 'name', { nonEmpty: true }) : sink.file;
  const triggers = on ? readTriggers(sink, on.value) : undefined;
  const workflowEnv = env ? readEnv(sink, env.value, 'env') : {};
  const conc = concurrency ? readConcurrency(sink, concurrency.value) : undefined;
  const jobSpecs = jobs ? readJobs(sink, jobs) : undefined;
  if (workflowName === undefined || !triggers || !jobSpecs) return undefined;
  return {
    file: sink.file,
    name: workflowName,
    on: triggers,
    env: workflowEnv,
    ...(conc ? { concurrency: conc } : {}),
    jobs: jobSpecs,
  };
}

// --- on --------------------------------------------------------------------------------------------------------

function readTriggers(sink: DiagnosticSink, v: YValue): WorkflowTriggers | undefined {
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

// --- env, concurrency ---------------------------------------------------------------------------------------------

function readEnv(sink: DiagnosticSink, v: YValue, path: string): Record<string, string> {
  if (v.kind === 'scalar' && v.value === null) return {};
  if (v.kind !== 'map') {
    sink.error(v.pos, `\`${path}\` must be a mapping of variable names to values, not ${describeValue(v)}`);
    return {};
  }
  const pairs: [string, string][] = [];
  for (const entry of v.entries) {
    if (entry.key === '' || entry.key.includes('=') || entry.key.includes('\0')) {
      sink.error(
        entry.keyPos,
        `\`${path}\` variable name \`${clip(entry.key)}\` is not valid: it must be non-empty, without \`=\``,
      );
      continue;
    }
    // GitHub turns numbers and booleans into their string form (`3.10` becomes "3.1"), and an empty value into "".
    const value =
      entry.value.kind === 'scalar' && entry.value.value === null
        ? ''
        : readString(sink, entry.value, `${path}.${entry.key}`, {});
    if (value !== undefined) pairs.push([entry.key, value]);
  }
  // Object.fromEntries defines own properties, so a variable named `__proto__` stays a variable.
  return Object.fromEntries(pairs);
}

function readConcurrency(sink: DiagnosticSink, v: YValue): ConcurrencySpec | undefined {
  if (v.kind === 'scalar') {
    const group = readString(sink, v, 'concurrency', { nonEmpty: true });
    return group === undefined ? undefined : { group, cancelInProgress: false };
  }
  if (v.kind !== 'map') {
    sink.error(v.pos, `\`concurrency\` must be a group name or a mapping with \`group\`, not ${describeValue(v)}`);
    return undefined;
  }
  checkKeys(sink, v, CONCURRENCY_KEYS, '`concurrency`', {
    queue: '`queue` is not supported: a newer run cancels or waits for the older one as `cancel-in-progress` says',
  });
  const group = field(v, 'group');
  if (!group) {
    sink.error(v.pos, '`concurrency` needs a `group`');
    return undefined;
  }
  const g = readString(sink, group.value, 'concurrency.group', { nonEmpty: true });
  const cancel = field(v, 'cancel-in-progress');
  const c = cancel ? readBoolean(sink, cancel.value, 'concurrency.cancel-in-progress') : false;
  return g === undefined || c === undefined ? undefined : { group: g, cancelInProgress: c };
}

// --- jobs --------------------------------------------------------------------------------------------------------

function readJobs(sink: DiagnosticSink, jobsEntry: YEntry): JobSpec[] | undefined {
  const v = jobsEntry.value;
  if (v.kind !== 'map') {
    sink.error(
      v.kind === 'scalar' && v.value === null ? jobsEntry.keyPos : v.pos,
      `\`jobs\` must be a mapping of job ids to jobs, not ${describeValue(v)}`,
    );
    return undefined;
  }
  if (v.entries.length === 0) {
    sink.error(v.pos, '`jobs` is empty: a workflow needs at least one job');
    return undefined;
  }
  if (v.entries.length > MAX_JOBS) {
    sink.error(v.pos, `\`jobs\` defines ${v.entries.length} jobs; at most ${MAX_JOBS} are allowed per workflow`);
    return undefined;
  }
  const jobs: JobSpec[] = [];
  const needsPos = new Map<string, Map<string, SourcePos>>();
  let ok = true;
  for (const entry of v.entries) {
    if (!ID_PATTERN.test(entry.key)) {
      sink.error(entry.keyPos, `job id \`${clip(entry.key)}\` ${ID_RULE}`);
      ok = false;
      continue;
    }
    const positions = new Map<string, SourcePos>();
    needsPos.set(entry.key, positions);
    const job = readJob(sink, entry, positions);
    if (job) jobs.push(job);
    else ok = false;
  }
  if (!ok) return undefined;
  const { problems } = validateNeedsGraph(jobs);
  for (const p of problems) {
    const job = jobs.find((j) => j.id === p.job);
    sink.error(needsPos.get(p.job)?.get(p.need) ?? job?.pos ?? v.pos, p.message);
  }
  return problems.length === 0 ? jobs : undefined;
}

function readJob(sink: DiagnosticSink, entry: YEntry, needsPos: Map<string, SourcePos>): JobSpec | undefined {
  const id = entry.key;
  const path = `jobs.${id}`;
  const v = entry.value;
  if (v.kind !== 'map') {
    sink.error(
      v.kind === 'scalar' && v.value === null ? entry.keyPos : v.pos,
      `job \`${id}\` must be a mapping (runs-on, steps, …), not ${describeValue(v)}`,
    );
    return undefined;
  }
  const before = sink.count;
  checkKeys(sink, v, JOB_KEYS, `job \`${id}\``, UNSUPPORTED_JOB_KEYS);
  const name = field(v, 'name');
  const runsOn = field(v, 'runs-on');
  const needs = field(v, 'needs');
  const cond = field(v, 'if');
  const timeout = field(v, 'timeout-minutes');
  const env = field(v, 'env');
  const strategy = field(v, 'strategy');
  const coe = field(v, 'continue-on-error');
  const outputs = field(v, 'outputs');
  const steps = field(v, 'steps');

  const jobName = name ? readString(sink, name.value, `${path}.name`, { nonEmpty: true }) : undefined;
  let label: string | undefined;
  if (!runsOn && !field(v, 'uses'))
    sink.error(entry.keyPos, `job \`${id}\` has no \`runs-on\`: name the route label it runs on`);
  if (runsOn) label = readRunsOn(sink, runsOn.value, `${path}.runs-on`);
  const needList = needs ? readNeeds(sink, needs.value, `${path}.needs`, needsPos) : [];
  const ifText = cond ? readCondition(sink, cond.value, `${path}.if`) : undefined;
  const timeoutMinutes = timeout ? readTimeout(sink, timeout.value, `${path}.timeout-minutes`) : 360;
  const jobEnv = env ? readEnv(sink, env.value, `${path}.env`) : {};
  const strat = strategy ? readStrategy(sink, strategy.value, `${path}.strategy`) : { failFast: true };
  const continueOnError = coe ? readJobContinueOnError(sink, coe.value, `${path}.continue-on-error`) : false;
  const jobOutputs = outputs ? readOutputs(sink, outputs.value, `${path}.outputs`) : {};
  if (!steps && !field(v, 'uses'))
    sink.error(entry.keyPos, `job \`${id}\` has no \`steps\`: give it at least one \`run:\` step`);
  const stepSpecs = steps ? readSteps(sink, steps.value, path) : [];

  if (sink.count > before || label === undefined || timeoutMinutes === undefined || !strat) return undefined;
  if (continueOnError === undefined || needList === undefined) return undefined;
  return {
    id,
    ...(jobName !== undefined ? { name: jobName } : {}),
    runsOn: label,
    needs: needList,
    ...(ifText !== undefined ? { if: ifText } : {}),
    timeoutMinutes,
    env: jobEnv,
    ...(strat.matrix ? { matrix: strat.matrix } : {}),
    failFast: strat.failFast,
    ...(strat.maxParallel !== undefined ? { maxParallel: strat.maxParallel } : {}),
    continueOnError,
    outputs: jobOutputs,
    steps: stepSpecs,
    pos: entry.keyPos,
  };
}

function readRunsOn(sink: DiagnosticSink, v: YValue, path: string): string | undefined {
  if (v.kind === 'seq') {
    if (v.items.length === 1 && v.items[0]) return readString(sink, v.items[0], path, { nonEmpty: true });
    const labels = v.items.map((i) => (i.kind === 'scalar' ? `\`${String(i.value)}\`` : describeValue(i))).join(', ');
    sink.error(
      v.pos,
      v.items.length === 0
        ? `\`${path}\` is an empty list: name the route label the job runs on`
        : `\`${path}\` lists ${v.items.length} labels (${labels}): spotcheck routes a job by exactly one label, which the operator maps to a runner; name that one label`,
    );
    return undefined;
  }
  if (v.kind === 'map') {
    sink.error(v.pos, `\`${path}\` must be one route label; runner groups (\`group:\`/\`labels:\`) are not supported`);
    return undefined;
  }
  return readString(sink, v, path, { nonEmpty: true });
}

function readNeeds(
  sink: DiagnosticSink,
  v: YValue,
  path: string,
  positions: Map<string, SourcePos>,
): string[] | undefined {
  if (v.kind === 'map') {
    sink.error(v.pos, `\`${path}\` must be a job id or a list of job ids, not a mapping`);
    return undefined;
  }
  const items = v.kind === 'seq' ? v.items : [v];
  const needs: string[] = [];
  let ok = true;
  for (const item of items) {
    if (item.kind !== 'scalar' || typeof item.value !== 'string' || item.value === '') {
      sink.error(item.pos, `\`${path}\` must name jobs by id, but this is ${describeValue(item)}`);
      ok = false;
      continue;
    }
    if (item.value.includes('${{')) {
      sink.error(item.pos, `\`${path}\` cannot use expressions: the job graph is fixed before anything runs`);
      ok = false;
      continue;
    }
    // A job listed twice is still one dependency; keep the first occurrence.
    if (!positions.has(item.value)) {
      positions.set(item.value, item.pos);
      needs.push(item.value);
    }
  }
  return ok ? needs : undefined;
}

function readTimeout(sink: DiagnosticSink, v: YValue, path: string): number | undefined {
  if (v.kind === 'scalar' && typeof v.value === 'number') {
    if (v.value > 0 && v.value <= MAX_TIMEOUT_MINUTES) return v.value;
    sink.error(
      v.pos,
      `\`${path}\` must be more than 0 and at most ${MAX_TIMEOUT_MINUTES} minutes (5 days), not ${v.value}`,
    );
    return undefined;
  }
  const expr = v.kind === 'scalar' && typeof v.value === 'string' && v.value.includes('${{');
  sink.error(
    v.pos,
    expr
      ? `\`${path}\` must be a number of minutes; spotcheck does not evaluate expressions here`
      : `\`${path}\` must be a number of minutes, not ${describeValue(v)}`,
  );
  return undefined;
}

function readJobContinueOnError(sink: DiagnosticSink, v: YValue, path: string): boolean | string | undefined {
  if (v.kind === 'scalar' && typeof v.value === 'boolean') return v.value;
  if (v.kind === 'scalar' && typeof v.value === 'string' && isWholeExpression(v.value)) {
    return checkExpression(sink, v.value, 'template', v.pos, path) ? v.value : undefined;
  }
  sink.error(v.pos, `\`${path}\` must be true, false or a \`\${{ }}\` expression, not ${describeValue(v)}`);
  return undefined;
}

function readOutputs(sink: DiagnosticSink, v: YValue, path: string): Record<string, string> {
  if (v.kind === 'scalar' && v.value === null) return {};
  if (v.kind !== 'map') {
    sink.error(v.pos, `\`${path}\` must be a mapping of output names to values, not ${describeValue(v)}`);
    return {};
  }
  const pairs: [string, string][] = [];
  for (const entry of v.entries) {
    if (!ID_PATTERN.test(entry.key)) {
      sink.error(entry.keyPos, `output name \`${clip(entry.key)}\` ${ID_RULE}`);
      continue;
    }
    const value = readString(sink, entry.value, `${path}.${entry.key}`, {});
    if (value !== undefined) pairs.push([entry.key, value]);
  }
  return Object.fromEntries(pairs);
}

// --- strategy / matrix ---------------------------------------------------------------------------------------------

interface Strategy {
  readonly matrix?: MatrixSpec;
  readonly failFast: boolean;
  readonly maxParallel?: number;
}

function readStrategy(sink: DiagnosticSink, v: YValue, path: string): Strategy | undefined {
  if (v.kind !== 'map') {
    sink.error(v.pos, `\`${path}\` must be a mapping (matrix, fail-fast, max-parallel), not ${describeValue(v)}`);
    return undefined;
  }
  checkKeys(sink, v, STRATEGY_KEYS, `\`${path}\``, {});
  const matrixEntry = field(v, 'matrix');
  const failFastEntry = field(v, 'fail-fast');
  const maxParallelEntry = field(v, 'max-parallel');
  const matrix = matrixEntry ? readMatrix(sink, matrixEntry.value, `${path}.matrix`) : undefined;
  const failFast = failFastEntry ? readBoolean(sink, failFastEntry.value, `${path}.fail-fast`) : true;
  let maxParallel: number | undefined;
  if (maxParallelEntry) {
    const m = maxParallelEntry.value;
    if (m.kind === 'scalar' && typeof m.value === 'number' && Number.isInteger(m.value) && m.value >= 1)
      maxParallel = m.value;
    else sink.error(m.pos, `\`${path}.max-parallel\` must be a whole number of at least 1, not ${describeValue(m)}`);
  }
  if ((matrixEntry && !matrix) || failFast === undefined) return undefined;
  if (maxParallelEntry && maxParallel === undefined) return undefined;
  return {
    ...(matrix ? { matrix } : {}),
    failFast,
    ...(maxParallel !== undefined ? { maxParallel } : {}),
  };
}

function readMatrix(sink: DiagnosticSink, v: YValue, path: string): MatrixSpec | undefined {
  if (v.kind === 'scalar' && typeof v.value === 'string' && v.value.includes('${{')) {
    sink.error(
      v.pos,
      `\`${path}\` built from an expression is not supported: spotcheck plans every order before anything runs, so write the axes out`,
    );
    return undefined;
  }
  if (v.kind !== 'map') {
    sink.error(
      v.pos,
      `\`${path}\` must be a mapping of axes (name: [values]) with optional include/exclude, not ${describeValue(v)}`,
    );
    return undefined;
  }
  const before = sink.count;
  const axes: [string, MatrixValue[]][] = [];
  let include: MatrixCell[] = [];
  let exclude: { cell: MatrixCell; pos: SourcePos }[] = [];
  for (const entry of v.entries) {
    if (entry.key === 'include' || entry.key === 'exclude') {
      const cells = readMatrixCells(sink, entry.value, `${path}.${entry.key}`);
      if (entry.key === 'include') include = cells.map((c) => c.cell);
      else exclude = cells;
      continue;
    }
    if (entry.key === '') {
      sink.error(entry.keyPos, `\`${path}\` axis names must not be empty`);
      continue;
    }
    const values = entry.value;
    if (values.kind !== 'seq') {
      const expr = values.kind === 'scalar' && typeof values.value === 'string' && values.value.includes('${{');
      sink.error(
        values.pos,
        expr
          ? `\`${path}.${entry.key}\` built from an expression is not supported: list the values`
          : `\`${path}.${entry.key}\` must be a list of values, not ${describeValue(values)}`,
      );
      continue;
    }
    if (values.items.length === 0) {
      sink.error(values.pos, `\`${path}.${entry.key}\` is an empty list: an axis needs at least one value`);
      continue;
    }
    axes.push([entry.key, values.items.map(toMatrixValue)]);
  }
  if (sink.count > before) return undefined;
  const axisNames = new Set(axes.map(([name]) => name));
  for (const { cell, pos } of exclude) {
    for (const key of Object.keys(cell)) {
      // GitHub refuses an exclude key that is not an axis: it could never match, so it is surely a typo.
      if (!axisNames.has(key))
        sink.error(
          pos,
          `\`${path}.exclude\` key \`${key}\` is not a matrix axis (axes: ${[...axisNames].join(', ') || 'none'})`,
        );
    }
  }
  if (sink.count > before) return undefined;

  const size = matrixSize(
    axes,
    include,
    exclude.map((e) => e.cell),
  );
  if (size.kind === 'too-large') {
    sink.error(
      v.pos,
      `\`${path}\` has ${size.product} combinations (${axes.map(([, vals]) => vals.length).join(' × ')}); spotcheck runs at most ${MAX_MATRIX_ORDERS} orders per matrix`,
    );
    return undefined;
  }
  if (size.orders > MAX_MATRIX_ORDERS) {
    sink.error(
      v.pos,
      `\`${path}\` expands to ${size.orders} orders; spotcheck runs at most ${MAX_MATRIX_ORDERS} per matrix`,
    );
    return undefined;
  }
  if (size.orders === 0) {
    sink.error(v.pos, `\`${path}\` expands to no combination at all (every one is excluded, or there are no axes)`);
    return undefined;
  }
  return { axes: Object.fromEntries(axes), include, exclude: exclude.map((e) => e.cell) };
}

function readMatrixCells(sink: DiagnosticSink, v: YValue, path: string): { cell: MatrixCell; pos: SourcePos }[] {
  if (v.kind !== 'seq') {
    const expr = v.kind === 'scalar' && typeof v.value === 'string' && v.value.includes('${{');
    sink.error(
      v.pos,
      expr
        ? `\`${path}\` built from an expression is not supported: list the entries`
        : `\`${path}\` must be a list of mappings, not ${describeValue(v)}`,
    );
    return [];
  }
  if (v.items.length > MAX_MATRIX_FILTER_ENTRIES) {
    sink.error(v.pos, `\`${path}\` has ${v.items.length} entries; at most ${MAX_MATRIX_FILTER_ENTRIES} are allowed`);
    return [];
  }
  const cells: { cell: MatrixCell; pos: SourcePos }[] = [];
  for (const item of v.items) {
    if (item.kind !== 'map' || item.entries.length === 0) {
      sink.error(
        item.pos,
        `each \`${path}\` entry must be a non-empty mapping of axis: value, not ${describeValue(item)}`,
      );
      continue;
    }
    cells.push({ cell: Object.fromEntries(item.entries.map((e) => [e.key, toMatrixValue(e.value)])), pos: item.pos });
  }
  return cells;
}

function toMatrixValue(v: YValue): MatrixValue {
  if (v.kind === 'scalar') return v.value;
  if (v.kind === 'seq') return v.items.map(toMatrixValue);
  return Object.fromEntries(v.entries.map((e) => [e.key, toMatrixValue(e.value)]));
}

/**
 * How many orders a matrix expands to, GitHub's way: the product of the axes, minus the combinations an `exclude`
 * entry partially matches, plus each `include` entry that matches no remaining combination on the original axes
 * (one that matches extends those combinations instead). The product is checked before anything is enumerated.
 */
function matrixSize(
  axes: readonly (readonly [string, readonly MatrixValue[]])[],
  include: readonly MatrixCell[],
  exclude: readonly MatrixCell[],
): { kind: 'ok'; orders: number } | { kind: 'too-large'; product: number } {
  let product = axes.length === 0 ? 0 : 1;
  for (const [, values] of axes) product *= values.length;
  if (product > MAX_MATRIX_PRODUCT) return { kind: 'too-large', product };
  const combos: Record<string, MatrixValue>[] = [];
  for (let n = 0; n < product; n++) {
    const combo: [string, MatrixValue][] = [];
    let rest = n;
    for (const [name, values] of axes) {
      combo.push([name, values[rest % values.length] as MatrixValue]);
      rest = Math.floor(rest / values.length);
    }
    combos.push(Object.fromEntries(combo));
  }
  const matches = (combo: Record<string, MatrixValue>, cell: MatrixCell, keys: Iterable<string>): boolean => {
    for (const key of keys) if (Object.hasOwn(cell, key) && !sameValue(combo[key], cell[key])) return false;
    return true;
  };
  const kept = combos.filter((c) => !exclude.some((e) => matches(c, e, Object.keys(e))));
  const axisNames = axes.map(([name]) => name);
  const added = include.filter((inc) => !kept.some((c) => matches(c, inc, axisNames))).length;
  return { kind: 'ok', orders: kept.length + added };
}

function sameValue(a: MatrixValue | undefined, b: MatrixValue | undefined): boolean {
  if (a === b) return true;
  if (a === null || b === null || a === undefined || b === undefined) return false;
  if (typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((x: MatrixValue, i) => sameValue(x, b[i] as MatrixValue));
  }
  const ao = a as Readonly<Record<string, MatrixValue>>;
  const bo = b as Readonly<Record<string, MatrixValue>>;
  const keys = Object.keys(ao);
  return keys.length === Object.keys(bo).length && keys.every((k) => Object.hasOwn(bo, k) && sameValue(ao[k], bo[k]));
}

// --- steps -------------------------------------------------------------------------------------------------------

function readSteps(sink: DiagnosticSink, v: YValue, jobPath: string): StepSpec[] {
  const path = `${jobPath}.steps`;
  if (v.kind !== 'seq') {
    sink.error(v.pos, `\`${path}\` must be a list of steps, not ${describeValue(v)}`);
    return [];
  }
  if (v.items.length === 0) {
    sink.error(v.pos, `\`${path}\` is empty: give the job at least one \`run:\` step`);
    return [];
  }
  if (v.items.length > MAX_STEPS_PER_JOB) {
    sink.error(v.pos, `\`${path}\` has ${v.items.length} steps; at most ${MAX_STEPS_PER_JOB} are allowed per job`);
    return [];
  }
  const steps: StepSpec[] = [];
  const ids = new Map<string, SourcePos>();
  v.items.forEach((item, index) => {
    const step = readStep(sink, item, `${path}[${index}]`, index);
    if (!step) return;
    if (step.id !== undefined) {
      const first = ids.get(step.id);
      if (first) {
        sink.error(
          step.pos,
          `step id \`${step.id}\` is already used by another step of this job (line ${first.line}): step ids must be unique within a job`,
        );
        return;
      }
      ids.set(step.id, step.pos);
    }
    steps.push(step);
  });
  return steps;
}

function readStep(sink: DiagnosticSink, v: YValue, path: string, index: number): StepSpec | undefined {
  if (v.kind !== 'map') {
    sink.error(v.pos, `\`${path}\` must be a mapping with \`run:\`, not ${describeValue(v)}`);
    return undefined;
  }
  const before = sink.count;
  checkKeys(sink, v, STEP_KEYS, `step \`${path}\``, UNSUPPORTED_STEP_KEYS);
  const run = field(v, 'run');
  if (!run && !field(v, 'uses'))
    sink.error(v.pos, `step \`${path}\` has no \`run:\`: spotcheck runs \`run:\` steps only`);
  const name = field(v, 'name');
  const id = field(v, 'id');
  const env = field(v, 'env');
  const wd = field(v, 'working-directory');
  const shell = field(v, 'shell');
  const cond = field(v, 'if');
  const coe = field(v, 'continue-on-error');
  const timeout = field(v, 'timeout-minutes');

  const script = run ? readString(sink, run.value, `${path}.run`, { nonEmpty: true }) : undefined;
  const stepName = name ? readString(sink, name.value, `${path}.name`, { nonEmpty: true }) : undefined;
  let stepId: string | undefined;
  if (id) {
    stepId = readString(sink, id.value, `${path}.id`, { nonEmpty: true, noExpression: true });
    if (stepId !== undefined && !ID_PATTERN.test(stepId))
      sink.error(id.value.pos, `step id \`${clip(stepId)}\` ${ID_RULE}`);
  }
  const stepEnv = env ? readEnv(sink, env.value, `${path}.env`) : {};
  const workingDirectory = wd ? readString(sink, wd.value, `${path}.working-directory`, { nonEmpty: true }) : undefined;
  const shellText = shell ? readShell(sink, shell.value, `${path}.shell`) : undefined;
  const ifText = cond ? readCondition(sink, cond.value, `${path}.if`) : undefined;
  const continueOnError = coe ? readBoolean(sink, coe.value, `${path}.continue-on-error`) : false;
  const timeoutMinutes = timeout ? readTimeout(sink, timeout.value, `${path}.timeout-minutes`) : undefined;
  if (sink.count > before || script === undefined || continueOnError === undefined) return undefined;
  return {
    index,
    ...(stepName !== undefined ? { name: stepName } : {}),
    ...(stepId !== undefined ? { id: stepId } : {}),
    run: script,
    env: stepEnv,
    ...(workingDirectory !== undefined ? { workingDirectory } : {}),
    ...(shellText !== undefined ? { shell: shellText } : {}),
    ...(ifText !== undefined ? { if: ifText } : {}),
    continueOnError,
    ...(timeoutMinutes !== undefined ? { timeoutMinutes } : {}),
    pos: v.pos,
  };
}

// --- scalar readers ---------------------------------------------------------------------------------------------------

function checkKeys(
  sink: DiagnosticSink,
  map: YMap,
  allowed: readonly string[],
  where: string,
  hints: Readonly<Record<string, string>>,
): void {
  // `with:` and `secrets:` only feed a `uses:`: beside an unsupported `uses:` they are one problem, reported once.
  const usesRefused = !allowed.includes('uses') && map.entries.some((e) => e.key === 'uses');
  for (const entry of map.entries) {
    if (allowed.includes(entry.key)) continue;
    if (usesRefused && USES_INPUTS.has(entry.key)) continue;
    const hint = Object.hasOwn(hints, entry.key) ? hints[entry.key] : undefined;
    const merge = entry.key === '<<' ? ' (YAML merge keys `<<` are not supported, as on GitHub)' : '';
    sink.error(
      entry.keyPos,
      hint
        ? `\`${entry.key}\` is not supported in ${where}: ${hint}`
        : `unknown key \`${clip(entry.key)}\` in ${where}${merge}; allowed keys: ${allowed.join(', ')}`,
    );
  }
}

interface StringOptions {
  readonly nonEmpty?: boolean;
  readonly noExpression?: boolean;
}

/** A string field. GitHub reads numbers and booleans where a string is expected as their text (`1.10` is "1.1"). */
function readString(sink: DiagnosticSink, v: YValue, path: string, opts: StringOptions): string | undefined {
  if (v.kind !== 'scalar' || v.value === null) {
    sink.error(v.pos, `\`${path}\` must be a string, not ${describeValue(v)}`);
    return undefined;
  }
  const text = String(v.value);
  if (opts.nonEmpty && text.trim() === '') {
    sink.error(v.pos, `\`${path}\` must not be empty`);
    return undefined;
  }
  if (text.includes('${{')) {
    if (opts.noExpression) {
      sink.error(v.pos, `\`${path}\` cannot use \`\${{ }}\` expressions`);
      return undefined;
    }
    if (!checkExpression(sink, text, 'template', v.pos, path)) return undefined;
  }
  return text;
}

/** A step's `shell`: one the runner can start (src/core/workflow/shells.ts), caught here rather than when the step runs. */
function readShell(sink: DiagnosticSink, v: YValue, path: string): string | undefined {
  if (v.kind === 'scalar' && typeof v.value === 'string' && v.value.includes('${{')) {
    sink.error(v.pos, shellProblem(v.value) ?? `\`${path}\` cannot use \`\${{ }}\` expressions`);
    return undefined;
  }
  const text = readString(sink, v, path, { nonEmpty: true });
  if (text === undefined) return undefined;
  const problem = shellProblem(text);
  if (problem !== undefined) sink.error(v.pos, problem);
  return problem === undefined ? text : undefined;
}

function readCondition(sink: DiagnosticSink, v: YValue, path: string): string | undefined {
  if (v.kind !== 'scalar' || v.value === null || v.value === '') {
    sink.error(
      v.pos,
      `\`${path}\` must be a condition (an expression such as \`github.event_name == 'push'\`), not ${describeValue(v)}`,
    );
    return undefined;
  }
  const text = String(v.value);
  return checkExpression(sink, text, 'condition', v.pos, path) ? text : undefined;
}

function readBoolean(sink: DiagnosticSink, v: YValue, path: string): boolean | undefined {
  if (v.kind === 'scalar' && typeof v.value === 'boolean') return v.value;
  const expr = v.kind === 'scalar' && typeof v.value === 'string' && v.value.includes('${{');
  sink.error(
    v.pos,
    expr
      ? `\`${path}\` must be true or false; spotcheck does not evaluate expressions here`
      : `\`${path}\` must be true or false, not ${describeValue(v)}`,
  );
  return undefined;
}

function isWholeExpression(text: string): boolean {
  const t = text.trim();
  return t.startsWith('${{') && t.endsWith('}}');
}

/** `${{ }}` syntax, checked by src/core/workflow/expressions.ts with GitHub's own @actions/expressions parser. */
function checkExpression(
  sink: DiagnosticSink,
  text: string,
  kind: 'condition' | 'template',
  pos: SourcePos,
  path: string,
): boolean {
  const problem = expressionError(text, kind);
  if (problem) sink.error(pos, `\`${path}\`: ${problem}`);
  return problem === undefined;
}
