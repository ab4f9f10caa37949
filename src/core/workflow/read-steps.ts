/**
 * A job's `steps:`: each a `run:` step (a script, a shell the runner can start) or a `uses:` step (an action and its
 * `with:` inputs), never both; unique ids; at most MAX_STEPS_PER_JOB.
 */
import { MAX_STEPS_PER_JOB } from '../limits.ts';
import type { ActionRef, SourcePos, StepBase, StepSpec } from '../types.ts';
import { parseActionRef } from './action-ref.ts';
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
  'uses',
  'with',
  'env',
  'working-directory',
  'shell',
  'if',
  'continue-on-error',
  'timeout-minutes',
] as const;

/** Reads a job's steps; `defaults` (the job's `defaults.run` over the workflow's) fill what a step leaves unset. */
export function readSteps(sink: DiagnosticSink, v: YValue, jobPath: string, defaults: RunDefaults = {}): StepSpec[] {
  const path = `${jobPath}.steps`;
  if (v.kind !== 'seq') {
    sink.error(v.pos, `\`${path}\` must be a list of steps, not ${describeValue(v)}`);
    return [];
  }
  if (v.items.length === 0) {
    sink.error(v.pos, `\`${path}\` is empty: give the job at least one step (\`run:\` or \`uses:\`)`);
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
    sink.error(v.pos, `\`${path}\` must be a mapping with \`run:\` or \`uses:\`, not ${describeValue(v)}`);
    return undefined;
  }
  const before = sink.count;
  checkKeys(sink, v, STEP_KEYS, `step \`${path}\``, {});
  const run = field(v, 'run');
  const uses = field(v, 'uses');
  const withMap = field(v, 'with');
  if (!run && !uses) sink.error(v.pos, `step \`${path}\` has neither \`run:\` nor \`uses:\`: give it one of them`);
  if (run && uses)
    sink.error(
      uses.keyPos,
      `step \`${path}\` has both \`run:\` and \`uses:\`: a step runs a script or an action, not both`,
    );
  if (run && withMap)
    sink.error(
      withMap.keyPos,
      `\`with:\` in step \`${path}\` passes inputs to an action, and this step has no \`uses:\``,
    );
  const name = field(v, 'name');
  const id = field(v, 'id');
  const env = field(v, 'env');
  const wd = field(v, 'working-directory');
  const shell = field(v, 'shell');
  const cond = field(v, 'if');
  const coe = field(v, 'continue-on-error');
  const timeout = field(v, 'timeout-minutes');

  const script = run ? readString(sink, run.value, `${path}.run`, { nonEmpty: true }) : undefined;
  const action = uses ? readUses(sink, uses.value, `${path}.uses`) : undefined;
  const inputs = withMap ? readEnv(sink, withMap.value, `${path}.with`) : {};
  if (uses) {
    // GitHub's schema: `shell` and `working-directory` belong to `run:` steps (an action has its own).
    for (const key of ['shell', 'working-directory'] as const) {
      const entry = field(v, key);
      if (entry)
        sink.error(
          entry.keyPos,
          `\`${key}\` in step \`${path}\` applies to \`run:\` steps only, and this step has \`uses:\``,
        );
    }
  }
  const stepName = name ? readString(sink, name.value, `${path}.name`, { nonEmpty: true }) : undefined;
  let stepId: string | undefined;
  if (id) {
    stepId = readString(sink, id.value, `${path}.id`, { nonEmpty: true, noExpression: true });
    if (stepId !== undefined && !ID_PATTERN.test(stepId))
      sink.error(id.value.pos, `step id \`${clip(stepId)}\` ${ID_RULE}`);
  }
  const stepEnv = env ? readEnv(sink, env.value, `${path}.env`) : {};
  const ifText = cond ? readCondition(sink, cond.value, `${path}.if`) : undefined;
  const continueOnError = coe ? readFlag(sink, coe.value, `${path}.continue-on-error`) : false;
  const timeoutMinutes = timeout ? readTimeout(sink, timeout.value, `${path}.timeout-minutes`) : undefined;
  if (sink.count > before || continueOnError === undefined) return undefined;
  const base: StepBase = {
    index,
    ...(stepName !== undefined ? { name: stepName } : {}),
    ...(stepId !== undefined ? { id: stepId } : {}),
    env: stepEnv,
    ...(ifText !== undefined ? { if: ifText } : {}),
    continueOnError,
    ...(timeoutMinutes !== undefined ? { timeoutMinutes } : {}),
    pos: v.pos,
  };
  if (action !== undefined) return { ...base, uses: action.text, action: action.ref, with: inputs };
  if (script === undefined) return undefined;
  const workingDirectory = wd
    ? readString(sink, wd.value, `${path}.working-directory`, { nonEmpty: true })
    : defaults.workingDirectory;
  const shellText = shell ? readShell(sink, shell.value, `${path}.shell`) : defaults.shell;
  if (sink.count > before) return undefined;
  return {
    ...base,
    run: script,
    ...(workingDirectory !== undefined ? { workingDirectory } : {}),
    ...(shellText !== undefined ? { shell: shellText } : {}),
  };
}

/** `uses:`: a string naming an action (see action-ref.ts), reported at its value when it does not parse. */
function readUses(sink: DiagnosticSink, v: YValue, path: string): { text: string; ref: ActionRef } | undefined {
  const text = readString(sink, v, path, { nonEmpty: true });
  if (text === undefined) return undefined;
  const parsed = parseActionRef(text);
  if (!parsed.ok) {
    sink.error(v.pos, `\`${path}\`: ${parsed.error}`);
    return undefined;
  }
  return { text, ref: parsed.ref };
}
