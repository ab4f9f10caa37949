/**
 * Reusable workflows, both sides (GitHub's "Reusing workflows"): a calling job's `uses:`, `with:` and `secrets:`,
 * and a callable file's `on.workflow_call` (`inputs` with `type`/`required`/`default`, `outputs` with `value`,
 * `secrets` with `required`). Whether a call matches its callee is checked when both are read (plan.ts, plan-calls.ts).
 */
import type { CallSecrets, SourcePos, WorkflowCall, WorkflowCallInput, WorkflowCallSpec } from '../types.ts';
import { clip } from './diagnostics.ts';
import type { DiagnosticSink } from './diagnostics.ts';
import { ID_PATTERN, ID_RULE, checkKeys, readBoolean, readString } from './read-scalars.ts';
import { parseWorkflowRef } from './workflow-ref.ts';
import { describeValue, field } from './yaml-tree.ts';
import type { YMap, YValue } from './yaml-tree.ts';

/** GitHub's keys of a job that calls a reusable workflow (workflow syntax: "Supported keywords for jobs that call a reusable workflow"). */
export const CALL_JOB_KEYS = [
  'name',
  'uses',
  'with',
  'secrets',
  'strategy',
  'needs',
  'if',
  'permissions',
  'concurrency',
] as const;

const INPUT_TYPES = ['string', 'number', 'boolean'] as const;

/** A calling job's `uses:`, `with:` and `secrets:`. */
export function readCall(sink: DiagnosticSink, job: YMap, path: string, usesPos: SourcePos): WorkflowCall | undefined {
  const before = sink.count;
  const uses = field(job, 'uses');
  const withMap = field(job, 'with');
  const secrets = field(job, 'secrets');
  if (!uses) return undefined;
  const text = readString(sink, uses.value, `${path}.uses`, { nonEmpty: true, noExpression: true });
  const parsed = text === undefined ? undefined : parseWorkflowRef(text);
  if (parsed && !parsed.ok) sink.error(uses.value.pos, `\`${path}.uses\`: ${parsed.error}`);
  const inputs = withMap ? readWith(sink, withMap.value, `${path}.with`) : {};
  const passed = secrets ? readSecrets(sink, secrets.value, `${path}.secrets`) : undefined;
  if (sink.count > before || text === undefined || !parsed?.ok) return undefined;
  return {
    uses: text,
    workflow: parsed.ref,
    with: inputs,
    ...(passed !== undefined ? { secrets: passed } : {}),
    pos: usesPos,
  };
}

/** `with:` of a call: input name → a string, number or boolean (strings may hold expressions). */
function readWith(sink: DiagnosticSink, v: YValue, path: string): Record<string, string | number | boolean> {
  if (v.kind === 'scalar' && v.value === null) return {};
  if (v.kind !== 'map') {
    sink.error(v.pos, `\`${path}\` must be a mapping of input names to values, not ${describeValue(v)}`);
    return {};
  }
  const pairs: [string, string | number | boolean][] = [];
  for (const entry of v.entries) {
    const value = entry.value;
    if (value.kind === 'scalar' && (typeof value.value === 'number' || typeof value.value === 'boolean')) {
      pairs.push([entry.key, value.value]);
      continue;
    }
    const text = readString(sink, value, `${path}.${entry.key}`, {});
    if (text !== undefined) pairs.push([entry.key, text]);
  }
  return Object.fromEntries(pairs);
}

/** `secrets: inherit`, or a mapping of the callee's secret names to values. */
function readSecrets(sink: DiagnosticSink, v: YValue, path: string): CallSecrets | undefined {
  if (v.kind === 'scalar' && v.value === 'inherit') return 'inherit';
  if (v.kind !== 'map') {
    sink.error(
      v.pos,
      `\`${path}\` must be \`inherit\` or a mapping of secret names to values, not ${describeValue(v)}`,
    );
    return undefined;
  }
  const pairs: [string, string][] = [];
  for (const entry of v.entries) {
    const text = readString(sink, entry.value, `${path}.${entry.key}`, {});
    if (text !== undefined) pairs.push([entry.key, text]);
  }
  return Object.fromEntries(pairs);
}

/** `on.workflow_call`: what a reusable workflow takes and gives. */
export function readWorkflowCallSpec(sink: DiagnosticSink, v: YValue): WorkflowCallSpec | undefined {
  if (v.kind === 'scalar' && v.value === null) return { inputs: {}, outputs: {}, secrets: {} };
  if (v.kind !== 'map') return undefined; // reported by read-triggers.ts
  const inputs = field(v, 'inputs');
  const outputs = field(v, 'outputs');
  const secrets = field(v, 'secrets');
  return {
    inputs: inputs ? readSection(sink, inputs.value, 'on.workflow_call.inputs', readInput) : {},
    outputs: outputs ? readSection(sink, outputs.value, 'on.workflow_call.outputs', readOutput) : {},
    secrets: secrets ? readSection(sink, secrets.value, 'on.workflow_call.secrets', readSecret) : {},
  };
}

function readSection<T>(
  sink: DiagnosticSink,
  v: YValue,
  path: string,
  read: (sink: DiagnosticSink, v: YValue, path: string) => T | undefined,
): Record<string, T> {
  if (v.kind !== 'map') return {};
  const pairs: [string, T][] = [];
  for (const entry of v.entries) {
    if (!ID_PATTERN.test(entry.key)) {
      sink.error(entry.keyPos, `name \`${clip(entry.key)}\` in \`${path}\` ${ID_RULE}`);
      continue;
    }
    const item = read(sink, entry.value, `${path}.${entry.key}`);
    if (item !== undefined) pairs.push([entry.key, item]);
  }
  return Object.fromEntries(pairs);
}

function readInput(sink: DiagnosticSink, v: YValue, path: string): WorkflowCallInput | undefined {
  if (v.kind !== 'map') {
    sink.error(
      v.pos,
      `\`${path}\` must be a mapping with \`type\` (string, number or boolean), not ${describeValue(v)}`,
    );
    return undefined;
  }
  checkKeys(sink, v, ['description', 'required', 'type', 'default'], `\`${path}\``, {});
  const type = field(v, 'type');
  const required = field(v, 'required');
  const def = field(v, 'default');
  const description = field(v, 'description');
  if (!type) {
    sink.error(v.pos, `\`${path}\` needs a \`type\`: string, number or boolean (GitHub requires it)`);
    return undefined;
  }
  const typeText = readString(sink, type.value, `${path}.type`, { nonEmpty: true, noExpression: true });
  const inputType = INPUT_TYPES.find((t) => t === typeText);
  if (typeText !== undefined && inputType === undefined)
    sink.error(type.value.pos, `\`${path}.type\` must be string, number or boolean, not \`${clip(typeText)}\``);
  const isRequired = required ? readBoolean(sink, required.value, `${path}.required`) : false;
  const desc = description ? readString(sink, description.value, `${path}.description`, {}) : undefined;
  if (inputType === undefined || isRequired === undefined) return undefined;
  let defaultValue: string | number | boolean | undefined;
  if (def && !(def.value.kind === 'scalar' && def.value.value === null)) {
    defaultValue = def.value.kind === 'scalar' ? (def.value.value as string | number | boolean) : undefined;
    const problem = defaultValue === undefined ? 'a scalar' : typeProblem(inputType, defaultValue);
    if (problem !== undefined) {
      sink.error(def.value.pos, `\`${path}.default\` must be ${problem}`);
      return undefined;
    }
  }
  return {
    type: inputType,
    required: isRequired,
    ...(defaultValue !== undefined ? { default: defaultValue } : {}),
    ...(desc !== undefined ? { description: desc } : {}),
  };
}

function readOutput(sink: DiagnosticSink, v: YValue, path: string): string | undefined {
  if (v.kind !== 'map') {
    sink.error(v.pos, `\`${path}\` must be a mapping with \`value\`, not ${describeValue(v)}`);
    return undefined;
  }
  checkKeys(sink, v, ['description', 'value'], `\`${path}\``, {});
  const value = field(v, 'value');
  if (!value) {
    sink.error(v.pos, `\`${path}\` needs a \`value\` (such as \`\${{ jobs.build.outputs.version }}\`)`);
    return undefined;
  }
  return readString(sink, value.value, `${path}.value`, {});
}

function readSecret(sink: DiagnosticSink, v: YValue, path: string): { required: boolean } | undefined {
  if (v.kind === 'scalar' && v.value === null) return { required: false };
  if (v.kind !== 'map') {
    sink.error(
      v.pos,
      `\`${path}\` must be a mapping (\`required\`, \`description\`) or empty, not ${describeValue(v)}`,
    );
    return undefined;
  }
  checkKeys(sink, v, ['description', 'required'], `\`${path}\``, {});
  const required = field(v, 'required');
  const isRequired = required ? readBoolean(sink, required.value, `${path}.required`) : false;
  return isRequired === undefined ? undefined : { required: isRequired };
}

/**
 * Why a value does not fit an input's type, or undefined when it does. GitHub refuses a `with:` value of another
 * type ("Unexpected value"); an expression is checked once evaluated.
 */
export function typeProblem(type: WorkflowCallInput['type'], value: unknown): string | undefined {
  // A number or boolean where a string is expected is read as its text, as for `env:` values.
  if (type === 'string' && (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean'))
    return undefined;
  if (type === 'number' && typeof value === 'number') return undefined;
  if (type === 'boolean' && typeof value === 'boolean') return undefined;
  return `a ${type}, not ${typeof value === 'string' ? `the string '${clip(value)}'` : `the ${typeof value} ${String(value)}`}`;
}
