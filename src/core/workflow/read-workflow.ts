/**
 * The top level of a workflow file (name, run-name, on, env, concurrency, permissions, defaults, jobs): stage 2 of parsing, from the positioned tree
 * (yaml-tree.ts) to the Workflow model. Strict: anything outside spotcheck's GitHub Actions subset is a diagnostic
 * with its position, never silently dropped.
 */
import type { Workflow } from '../types.ts';
import type { DiagnosticSink } from './diagnostics.ts';
import { readWorkflowCallSpec } from './read-call.ts';
import { readDefaults } from './read-defaults.ts';
import { readEnv } from './read-env.ts';
import { readJobs } from './read-jobs.ts';
import { readPermissions } from './read-permissions.ts';
import { readConcurrency } from './read-concurrency.ts';
import { checkKeys, readString } from './read-scalars.ts';
import { readTriggers } from './read-triggers.ts';
import { contextsUsed } from './expressions.ts';
import { describeValue, field } from './yaml-tree.ts';
import type { YEntry, YValue } from './yaml-tree.ts';

const WORKFLOW_KEYS = ['name', 'run-name', 'on', 'env', 'concurrency', 'permissions', 'defaults', 'jobs'] as const;

/** The contexts `run-name` may read (actions/runner's workflow schema: `run-name` has github, inputs and vars). */
const RUN_NAME_CONTEXTS: ReadonlySet<string> = new Set(['github', 'inputs', 'vars']);

/**
 * `run-name`: GitHub's name for the runs of the workflow (workflow syntax, `run-name`), a string whose expressions
 * may read `github`, `inputs` and `vars`. Checked, then ignored: spotcheck names a run after its workflow and event.
 */
function readRunName(sink: DiagnosticSink, entry: YEntry): void {
  const text = readString(sink, entry.value, 'run-name', { nonEmpty: true });
  if (text === undefined) return;
  const other = [...(contextsUsed(text) ?? [])].filter((c) => !RUN_NAME_CONTEXTS.has(c));
  if (other.length > 0) {
    sink.error(
      entry.value.pos,
      `\`run-name\` can read only the github, inputs and vars contexts, not ${other.map((c) => `\`${c}\``).join(', ')}`,
    );
    return;
  }
  sink.notice(
    entry.keyPos,
    '`run-name` is accepted but ignored: spotcheck names runs after the workflow and the event',
    'ignored',
  );
}

export function readWorkflow(sink: DiagnosticSink, root: YValue): Workflow | undefined {
  if (root.kind !== 'map') {
    sink.error(
      root.pos,
      `a workflow file must be a mapping with \`on:\` and \`jobs:\`, but this file holds ${describeValue(root)}`,
    );
    return undefined;
  }
  checkKeys(sink, root, WORKFLOW_KEYS, 'the top level of a workflow', {});
  const name = field(root, 'name');
  const runName = field(root, 'run-name');
  const on = field(root, 'on');
  const env = field(root, 'env');
  const concurrency = field(root, 'concurrency');
  const permissions = field(root, 'permissions');
  const defaults = field(root, 'defaults');
  const jobs = field(root, 'jobs');
  if (!on) sink.error(root.pos, 'missing `on:`: say which events run this workflow (push, pull_request, testme)');
  if (!jobs) sink.error(root.pos, 'missing `jobs:`: a workflow needs at least one job');

  const workflowName = name ? readString(sink, name.value, 'name', { nonEmpty: true }) : sink.file;
  if (runName) readRunName(sink, runName);
  const triggers = on ? readTriggers(sink, on.value) : undefined;
  const workflowEnv = env ? readEnv(sink, env.value, 'env') : {};
  const conc = concurrency ? readConcurrency(sink, concurrency.value, 'concurrency') : undefined;
  const perms = permissions ? readPermissions(sink, permissions.value, 'permissions') : undefined;
  const runDefaults = defaults ? readDefaults(sink, defaults.value, 'defaults', true) : {};
  const jobSpecs = jobs ? readJobs(sink, jobs, runDefaults) : undefined;
  const onCall = on?.value.kind === 'map' ? field(on.value, 'workflow_call') : undefined;
  const listsCall =
    onCall !== undefined ||
    (on?.value.kind === 'scalar' && on.value.value === 'workflow_call') ||
    (on?.value.kind === 'seq' && on.value.items.some((i) => i.kind === 'scalar' && i.value === 'workflow_call'));
  const call = onCall ? readWorkflowCallSpec(sink, onCall.value) : undefined;
  if (workflowName === undefined || !triggers || !jobSpecs) return undefined;
  if (permissions && perms === undefined) return undefined;
  return {
    file: sink.file,
    name: workflowName,
    on: triggers,
    env: workflowEnv,
    ...(conc ? { concurrency: conc } : {}),
    ...(perms !== undefined ? { permissions: perms } : {}),
    ...(call !== undefined ? { call } : listsCall ? { call: { inputs: {}, outputs: {}, secrets: {} } } : {}),
    jobs: jobSpecs,
  };
}
