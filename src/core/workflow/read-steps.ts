/** A job's `steps:`: `run:` steps only, with unique ids, a shell the runner can start, at most MAX_STEPS_PER_JOB. */
import { MAX_STEPS_PER_JOB } from '../limits.ts';
import type { SourcePos, StepSpec } from '../types.ts';
import { clip } from './diagnostics.ts';
import type { DiagnosticSink } from './diagnostics.ts';
import { readEnv } from './read-env.ts';
import {
  ID_PATTERN,
  ID_RULE,
  checkKeys,
  readFlag,
  readCondition,
  readShell,
  readString,
  readTimeout,
} from './read-scalars.ts';
import { describeValue, field } from './yaml-tree.ts';
import type { YValue } from './yaml-tree.ts';
import type { RunDefaults } from './read-defaults.ts';

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

/** Why GitHub keys outside the subset are refused; the generic message lists the allowed keys instead. */
const UNSUPPORTED_STEP_KEYS: Readonly<Record<string, string>> = {
  uses: 'spotcheck runs `run:` steps only; actions (`uses:`) are not supported: write the commands the action would run as a `run:` step',
  with: '`with:` passes inputs to an action (`uses:`), and spotcheck runs `run:` steps only',
};

/** Reads a job's steps; `defaults` (the job's `defaults.run` over the workflow's) fill what a step leaves unset. */
export function readSteps(sink: DiagnosticSink, v: YValue, jobPath: string, defaults: RunDefaults = {}): StepSpec[] {
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
    const step = readStep(sink, item, `${path}[${index}]`, index, defaults);
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

function readStep(
  sink: DiagnosticSink,
  v: YValue,
  path: string,
  index: number,
  defaults: RunDefaults,
): StepSpec | undefined {
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
  const workingDirectory = wd
    ? readString(sink, wd.value, `${path}.working-directory`, { nonEmpty: true })
    : defaults.workingDirectory;
  const shellText = shell ? readShell(sink, shell.value, `${path}.shell`) : defaults.shell;
  const ifText = cond ? readCondition(sink, cond.value, `${path}.if`) : undefined;
  const continueOnError = coe ? readFlag(sink, coe.value, `${path}.continue-on-error`) : false;
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
