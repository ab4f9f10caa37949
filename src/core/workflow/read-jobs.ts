/**
 * `jobs:`: each job's fields (runs-on, needs, if, timeout, env, strategy, continue-on-error, outputs, permissions,
 * defaults, environment, concurrency, steps), then
 * the `needs` graph across them (needs-graph.ts), reported at the offending `needs` entry.
 */
import { MAX_JOBS } from '../limits.ts';
import type { EnvironmentSpec, JobSpec, SourcePos } from '../types.ts';
import { clip } from './diagnostics.ts';
import type { DiagnosticSink } from './diagnostics.ts';
import { validateNeedsGraph } from './needs-graph.ts';
import { CALL_JOB_KEYS, readCall } from './read-call.ts';
import { readConcurrency } from './read-concurrency.ts';
import { readDefaults, type RunDefaults } from './read-defaults.ts';
import { readEnv } from './read-env.ts';
import { readPermissions } from './read-permissions.ts';
import { ID_PATTERN, ID_RULE, checkKeys, readCondition, readFlag, readString, readTimeout } from './read-scalars.ts';
import { readSteps } from './read-steps.ts';
import { readStrategy } from './read-strategy.ts';
import { describeValue, field } from './yaml-tree.ts';
import type { YEntry, YMap, YValue } from './yaml-tree.ts';

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
  'permissions',
  'defaults',
  'environment',
  'concurrency',
] as const;

/** Why GitHub keys outside the subset are refused; the generic message lists the allowed keys instead. */
const UNSUPPORTED_JOB_KEYS: Readonly<Record<string, string>> = {
  with: '`with:` passes inputs to a reusable workflow, and this job has no `uses:`',
  secrets: '`secrets:` passes secrets to a reusable workflow, and this job has no `uses:`',
  services:
    '`services:` containers are not supported: start what the job needs from a `run:` step (for example `docker run -d …`)',
  container:
    '`container:` is not supported: steps run directly on the runner the `runs-on` route picks; use `docker run` in a step, or a route whose image has what the job needs',
};

/** Reads every job; `defaults` is the workflow's `defaults.run`, under each job's own. */
export function readJobs(sink: DiagnosticSink, jobsEntry: YEntry, defaults: RunDefaults = {}): JobSpec[] | undefined {
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
    const job = readJob(sink, entry, positions, defaults);
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

function readJob(
  sink: DiagnosticSink,
  entry: YEntry,
  needsPos: Map<string, SourcePos>,
  workflowDefaults: RunDefaults,
): JobSpec | undefined {
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
  const uses = field(v, 'uses');
  if (uses) return readCallingJob(sink, entry, v, needsPos);
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
  const permissions = field(v, 'permissions');
  const defaults = field(v, 'defaults');
  const environment = field(v, 'environment');
  const concurrency = field(v, 'concurrency');

  const jobName = name ? readString(sink, name.value, `${path}.name`, { nonEmpty: true }) : undefined;
  let label: string | undefined;
  if (!runsOn) sink.error(entry.keyPos, `job \`${id}\` has no \`runs-on\`: name the route label it runs on`);
  if (runsOn) label = readRunsOn(sink, runsOn.value, `${path}.runs-on`);
  const needList = needs ? readNeeds(sink, needs.value, `${path}.needs`, needsPos) : [];
  const ifText = cond ? readCondition(sink, cond.value, `${path}.if`) : undefined;
  const timeoutMinutes = timeout ? readTimeout(sink, timeout.value, `${path}.timeout-minutes`) : 360;
  const jobEnv = env ? readEnv(sink, env.value, `${path}.env`) : {};
  const strat = strategy ? readStrategy(sink, strategy.value, `${path}.strategy`) : { failFast: true };
  const continueOnError = coe ? readFlag(sink, coe.value, `${path}.continue-on-error`) : false;
  const jobOutputs = outputs ? readOutputs(sink, outputs.value, `${path}.outputs`) : {};
  if (!steps) sink.error(entry.keyPos, `job \`${id}\` has no \`steps\`: give it at least one \`run:\` step`);
  const perms = permissions ? readPermissions(sink, permissions.value, `${path}.permissions`) : undefined;
  const jobDefaults = defaults ? readDefaults(sink, defaults.value, `${path}.defaults`, false) : {};
  const env_ = environment ? readEnvironment(sink, environment.value, `${path}.environment`) : undefined;
  // Enforced when the job's orders become ready (src/core/job-concurrency.ts; README "Concurrency").
  const conc = concurrency ? readConcurrency(sink, concurrency.value, `${path}.concurrency`) : undefined;
  const stepSpecs = steps ? readSteps(sink, steps.value, path, { ...workflowDefaults, ...jobDefaults }) : [];

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
    ...(strat.matrixTemplate !== undefined ? { matrixTemplate: strat.matrixTemplate } : {}),
    failFast: strat.failFast,
    ...(strat.maxParallel !== undefined ? { maxParallel: strat.maxParallel } : {}),
    continueOnError,
    outputs: jobOutputs,
    steps: stepSpecs,
    ...(perms !== undefined ? { permissions: perms } : {}),
    ...(env_ !== undefined ? { environment: env_ } : {}),
    ...(conc !== undefined ? { concurrency: conc } : {}),
    pos: entry.keyPos,
  };
}

/**
 * A job that calls a reusable workflow: GitHub's keys for such a job only (no `runs-on`, `steps`, `env`…: the
 * callee's jobs have their own). Planned as the callee's jobs (plan.ts).
 */
function readCallingJob(
  sink: DiagnosticSink,
  entry: YEntry,
  v: YMap,
  needsPos: Map<string, SourcePos>,
): JobSpec | undefined {
  const id = entry.key;
  const path = `jobs.${id}`;
  const before = sink.count;
  checkKeys(sink, v, CALL_JOB_KEYS, `job \`${id}\`, which calls a reusable workflow,`, {});
  const name = field(v, 'name');
  const needs = field(v, 'needs');
  const cond = field(v, 'if');
  const strategy = field(v, 'strategy');
  const permissions = field(v, 'permissions');
  const concurrency = field(v, 'concurrency');
  const jobName = name ? readString(sink, name.value, `${path}.name`, { nonEmpty: true }) : undefined;
  const needList = needs ? readNeeds(sink, needs.value, `${path}.needs`, needsPos) : [];
  const ifText = cond ? readCondition(sink, cond.value, `${path}.if`) : undefined;
  const strat = strategy ? readStrategy(sink, strategy.value, `${path}.strategy`) : { failFast: true };
  const perms = permissions ? readPermissions(sink, permissions.value, `${path}.permissions`) : undefined;
  const conc = concurrency ? readConcurrency(sink, concurrency.value, `${path}.concurrency`) : undefined;
  const call = readCall(sink, v, path, entry.keyPos);
  if (sink.count > before || !call || !strat || needList === undefined) return undefined;
  return {
    id,
    ...(jobName !== undefined ? { name: jobName } : {}),
    runsOn: '',
    needs: needList,
    ...(ifText !== undefined ? { if: ifText } : {}),
    timeoutMinutes: 360,
    env: {},
    ...(strat.matrix ? { matrix: strat.matrix } : {}),
    failFast: strat.failFast,
    ...(strat.maxParallel !== undefined ? { maxParallel: strat.maxParallel } : {}),
    continueOnError: false,
    outputs: {},
    steps: [],
    ...(perms !== undefined ? { permissions: perms } : {}),
    ...(conc !== undefined ? { concurrency: conc } : {}),
    call,
    pos: entry.keyPos,
  };
}

function readRunsOn(sink: DiagnosticSink, v: YValue, path: string): string | undefined {
  if (v.kind === 'seq') {
    // A list needs one route with all its labels (GitHub's self-hosted rule); planned as the labels joined with `, `.
    const labels = v.items.map((item) => readLabel(sink, item, path));
    if (v.items.length === 0) sink.error(v.pos, `\`${path}\` is an empty list: name the route label the job runs on`);
    return v.items.length === 0 || labels.includes(undefined) ? undefined : labels.join(', ');
  }
  if (v.kind === 'map') return readRunnerGroup(sink, v, path);
  return readLabel(sink, v, path);
}

/**
 * `{group, labels}`: GitHub picks a runner of the group that has every label. A route has labels, not a group, so
 * the group is one more label the route must have (a route `labels: [<group>, …]`); planned as the labels joined.
 */
function readRunnerGroup(sink: DiagnosticSink, v: YMap, path: string): string | undefined {
  checkKeys(sink, v, ['group', 'labels'], `\`${path}\``, {});
  const group = field(v, 'group');
  const labels = field(v, 'labels');
  if (!group && !labels) {
    sink.error(v.pos, `\`${path}\` needs a \`group\`, \`labels\` or both`);
    return undefined;
  }
  const parts: (string | undefined)[] = [];
  if (group) parts.push(readLabel(sink, group.value, `${path}.group`));
  if (labels?.value.kind === 'seq' && labels.value.items.length === 0) {
    sink.error(labels.value.pos, `\`${path}.labels\` is an empty list: name the labels or leave \`labels\` out`);
    return undefined;
  }
  if (labels) {
    const items = labels.value.kind === 'seq' ? labels.value.items : [labels.value];
    for (const item of items) parts.push(readLabel(sink, item, `${path}.labels`));
  }
  if (parts.includes(undefined)) return undefined;
  // The same label named as the group and in the list is one requirement.
  return [...new Set(parts as string[])].join(', ');
}

/** A runner label never holds a comma: runners register their labels as one comma-separated list. */
function readLabel(sink: DiagnosticSink, v: YValue, path: string): string | undefined {
  const label = readString(sink, v, path, { nonEmpty: true });
  if (label === undefined || !label.includes(',') || label.includes('${{')) return label;
  sink.error(v.pos, `\`${path}\`: a runner label cannot contain a comma; list several labels as a YAML list`);
  return undefined;
}

/**
 * `environment`: a name, or `{name, url, deployment}`; name and url may use expressions (GitHub evaluates them before
 * the job). `deployment` (true, false or an expression) says whether GitHub records a deployment for the job
 * ("Using environments without deployments"): checked and ignored, since spotcheck records none either way.
 */
function readEnvironment(sink: DiagnosticSink, v: YValue, path: string): EnvironmentSpec | undefined {
  if (v.kind === 'scalar') {
    const name = readString(sink, v, path, { nonEmpty: true });
    return name === undefined ? undefined : { name };
  }
  if (v.kind !== 'map') {
    sink.error(
      v.pos,
      `\`${path}\` must be an environment name or a mapping with \`name\` and \`url\`, not ${describeValue(v)}`,
    );
    return undefined;
  }
  checkKeys(sink, v, ['name', 'url', 'deployment'], `\`${path}\``, {});
  const name = field(v, 'name');
  const url = field(v, 'url');
  const deployment = field(v, 'deployment');
  if (!name) {
    sink.error(v.pos, `\`${path}\` needs a \`name\``);
    return undefined;
  }
  const nameText = readString(sink, name.value, `${path}.name`, { nonEmpty: true });
  const urlText = url ? readString(sink, url.value, `${path}.url`, { nonEmpty: true }) : undefined;
  if (deployment && readFlag(sink, deployment.value, `${path}.deployment`) !== undefined)
    sink.notice(
      deployment.keyPos,
      `\`${path}.deployment\` is accepted but ignored: spotcheck records no deployments`,
      'ignored',
    );
  if (nameText === undefined || (url && urlText === undefined)) return undefined;
  return { name: nameText, ...(urlText !== undefined ? { url: urlText } : {}) };
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
