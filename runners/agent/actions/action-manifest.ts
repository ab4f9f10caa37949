/**
 * An action's metadata file, `action.yml` or `action.yaml` (docs.github.com › "Metadata syntax for GitHub Actions"),
 * read into what the agent runs: inputs with their defaults, outputs, and `runs` — a JavaScript action's
 * main/pre/post, a composite's steps, or a Docker action (refused here, with the reason). The file comes from
 * whoever wrote the action, so it is bounded in size and every malformed part is an error naming the file.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'yaml';

/** Far above any real action.yml (actions/checkout's is ~5 KB); bounds the parse of an untrusted file. */
export const MAX_MANIFEST_BYTES = 256 * 1024;

/** The Node versions an action may ask for; all run with the agent's own Node (see `nodeAction`). */
export const NODE_RUNTIMES = ['node12', 'node16', 'node20', 'node24'] as const;
export type NodeRuntime = (typeof NODE_RUNTIMES)[number];

export interface ActionInput {
  readonly description?: string;
  readonly required: boolean;
  readonly default?: string;
  readonly deprecationMessage?: string;
}

export interface NodeRuns {
  readonly using: NodeRuntime;
  readonly main: string;
  readonly pre?: string;
  readonly post?: string;
  /** The condition of `pre`; GitHub's default is `always()`. */
  readonly preIf: string;
  /** The condition of `post`; GitHub's default is `always()`. */
  readonly postIf: string;
}

/** One step of a composite action, in the action's own words (converted to a StepSpec where it runs). */
export interface CompositeStep {
  readonly id?: string;
  readonly name?: string;
  readonly if?: string;
  readonly env: Readonly<Record<string, string>>;
  readonly continueOnError: boolean | string;
  readonly timeoutMinutes?: number | string;
  readonly workingDirectory?: string;
  readonly run?: string;
  readonly shell?: string;
  readonly uses?: string;
  readonly with: Readonly<Record<string, string>>;
}

export interface CompositeRuns {
  readonly using: 'composite';
  readonly steps: readonly CompositeStep[];
}

export interface ActionManifest {
  /** The file it was read from (for messages). */
  readonly file: string;
  readonly name: string;
  readonly inputs: Readonly<Record<string, ActionInput>>;
  /** Output names; for a composite, each with its `value:` expression. */
  readonly outputs: Readonly<Record<string, { readonly value?: string }>>;
  readonly runs: NodeRuns | CompositeRuns | { readonly using: 'docker' };
}

export class ActionManifestError extends Error {
  override readonly name = 'ActionManifestError';
}

const MANIFEST_NAMES = ['action.yml', 'action.yaml'] as const;

/**
 * Reads the manifest in `dir`. No action.yml/action.yaml is GitHub's message for it; a bare Dockerfile is a
 * Docker action. Throws ActionManifestError for every expected failure.
 */
export async function readActionManifest(dir: string): Promise<ActionManifest> {
  for (const name of MANIFEST_NAMES) {
    const file = path.join(dir, name);
    const info = await stat(file).catch(() => undefined);
    if (info === undefined) continue;
    if (!info.isFile()) throw new ActionManifestError(`${file} is not a file`);
    if (info.size > MAX_MANIFEST_BYTES) {
      throw new ActionManifestError(`${file} is ${info.size} bytes; the most spotcheck reads is ${MAX_MANIFEST_BYTES}`);
    }
    return parseActionManifest(await readFile(file, 'utf8'), file);
  }
  if (await stat(path.join(dir, 'Dockerfile')).catch(() => undefined)) {
    return {
      file: path.join(dir, 'Dockerfile'),
      name: path.basename(dir),
      inputs: {},
      outputs: {},
      runs: { using: 'docker' },
    };
  }
  // actions/runner's words, which users search for.
  throw new ActionManifestError(
    `Can't find 'action.yml', 'action.yaml' or 'Dockerfile' under '${dir}'. Did you forget to run actions/checkout before running your local action?`,
  );
}

type Obj = Record<string, unknown>;

/** Parses a manifest's text; `file` names it in errors. */
export function parseActionManifest(text: string, file: string): ActionManifest {
  const fail = (problem: string): never => {
    throw new ActionManifestError(`${file}: ${problem}`);
  };
  let doc: unknown;
  try {
    // A low alias budget: a "billion laughs" manifest fails instead of expanding.
    doc = parse(text, { maxAliasCount: 50, uniqueKeys: true });
  } catch (err) {
    return fail(`not valid YAML: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
  }
  if (!isObj(doc)) return fail('expected a mapping at the top level');
  const name = optionalString(doc.name, 'name', fail) ?? path.basename(path.dirname(file));
  const inputs = readInputs(doc.inputs, fail);
  if (!isObj(doc.runs)) return fail('`runs` is missing or not a mapping');
  const runs = readRuns(doc.runs, fail);
  const outputs = readOutputs(doc.outputs, runs.using === 'composite', fail);
  return { file, name, inputs, outputs, runs };
}

function readInputs(value: unknown, fail: (p: string) => never): Record<string, ActionInput> {
  if (value === undefined || value === null) return {};
  if (!isObj(value)) return fail('`inputs` must be a mapping of input names');
  const inputs: Record<string, ActionInput> = {};
  for (const [key, spec] of Object.entries(value)) {
    if (spec === null) {
      inputs[key] = { required: false };
      continue;
    }
    if (!isObj(spec)) return fail(`inputs.${key} must be a mapping`);
    const description = optionalString(spec.description, `inputs.${key}.description`, fail);
    const deflt = optionalScalar(spec.default, `inputs.${key}.default`, fail);
    const deprecationMessage = optionalString(spec.deprecationMessage, `inputs.${key}.deprecationMessage`, fail);
    inputs[key] = {
      required: spec.required === true || spec.required === 'true',
      ...(description === undefined ? {} : { description }),
      ...(deflt === undefined ? {} : { default: deflt }),
      ...(deprecationMessage === undefined ? {} : { deprecationMessage }),
    };
  }
  return inputs;
}

function readOutputs(
  value: unknown,
  composite: boolean,
  fail: (p: string) => never,
): Record<string, { value?: string }> {
  if (value === undefined || value === null) return {};
  if (!isObj(value)) return fail('`outputs` must be a mapping of output names');
  const outputs: Record<string, { value?: string }> = {};
  for (const [key, spec] of Object.entries(value)) {
    const v = isObj(spec) ? optionalScalar(spec.value, `outputs.${key}.value`, fail) : undefined;
    if (composite && v === undefined) return fail(`outputs.${key}.value is required in a composite action`);
    outputs[key] = v === undefined ? {} : { value: v };
  }
  return outputs;
}

function readRuns(runs: Obj, fail: (p: string) => never): ActionManifest['runs'] {
  const using = runs.using;
  if (typeof using !== 'string') return fail('`runs.using` is missing');
  if (using === 'docker') return { using: 'docker' };
  if (using === 'composite') {
    if (!Array.isArray(runs.steps)) return fail('`runs.steps` must be a list in a composite action');
    return { using, steps: runs.steps.map((step: unknown, i) => readCompositeStep(step, i, fail)) };
  }
  if (!(NODE_RUNTIMES as readonly string[]).includes(using)) {
    return fail(`runs.using '${using}' is not one of ${[...NODE_RUNTIMES, 'composite', 'docker'].join(', ')}`);
  }
  const main = optionalString(runs.main, 'runs.main', fail);
  if (main === undefined || main.trim() === '') return fail(`runs.main is required for a ${using} action`);
  const pre = optionalString(runs.pre, 'runs.pre', fail);
  const post = optionalString(runs.post, 'runs.post', fail);
  return {
    using: using as NodeRuntime,
    main,
    ...(pre === undefined ? {} : { pre }),
    ...(post === undefined ? {} : { post }),
    preIf: optionalScalar(runs['pre-if'], 'runs.pre-if', fail) ?? 'always()',
    postIf: optionalScalar(runs['post-if'], 'runs.post-if', fail) ?? 'always()',
  };
}

const STEP_KEYS = new Set([
  'id',
  'name',
  'if',
  'env',
  'continue-on-error',
  'timeout-minutes',
  'working-directory',
  'run',
  'shell',
  'uses',
  'with',
]);

function readCompositeStep(step: unknown, i: number, fail: (p: string) => never): CompositeStep {
  const at = `runs.steps[${i}]`;
  if (!isObj(step)) return fail(`${at} must be a mapping`);
  const unknown = Object.keys(step).filter((key) => !STEP_KEYS.has(key));
  if (unknown.length > 0) return fail(`${at} has unknown key(s) ${unknown.join(', ')}`);
  const run = optionalScalar(step.run, `${at}.run`, fail);
  const uses = optionalString(step.uses, `${at}.uses`, fail);
  if ((run === undefined) === (uses === undefined)) return fail(`${at} needs exactly one of \`run\` or \`uses\``);
  const shell = optionalString(step.shell, `${at}.shell`, fail);
  // GitHub's composite schema requires `shell` on every run step (there is no job default to fall back on).
  if (run !== undefined && shell === undefined) return fail(`${at}: a composite action's run step needs \`shell\``);
  if (uses !== undefined && (shell !== undefined || step['working-directory'] !== undefined)) {
    return fail(`${at}: \`shell\` and \`working-directory\` belong to run steps, not uses steps`);
  }
  const coe = step['continue-on-error'];
  if (coe !== undefined && typeof coe !== 'boolean' && typeof coe !== 'string') {
    return fail(`${at}.continue-on-error must be a boolean or an expression`);
  }
  const timeout = step['timeout-minutes'];
  if (timeout !== undefined && typeof timeout !== 'number' && typeof timeout !== 'string') {
    return fail(`${at}.timeout-minutes must be a number or an expression`);
  }
  const fields = {
    id: optionalString(step.id, `${at}.id`, fail),
    name: optionalString(step.name, `${at}.name`, fail),
    if: optionalScalar(step.if, `${at}.if`, fail),
    workingDirectory: optionalString(step['working-directory'], `${at}.working-directory`, fail),
    run,
    shell,
    uses,
    timeoutMinutes: timeout,
  };
  const defined = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));
  return {
    ...defined,
    env: stringMap(step.env, `${at}.env`, fail),
    with: stringMap(step.with, `${at}.with`, fail),
    continueOnError: coe ?? false,
  };
}

function isObj(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function optionalString(value: unknown, at: string, fail: (p: string) => never): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') return fail(`${at} must be a string`);
  return value;
}

/** A string, number or boolean, as text (YAML reads `default: 3` or `if: true` as non-strings). */
function optionalScalar(value: unknown, at: string, fail: (p: string) => never): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return fail(`${at} must be a string, number or boolean`);
}

function stringMap(value: unknown, at: string, fail: (p: string) => never): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (!isObj(value)) return fail(`${at} must be a mapping`);
  const map: Record<string, string> = {};
  for (const [key, v] of Object.entries(value)) map[key] = optionalScalar(v, `${at}.${key}`, fail) ?? '';
  return map;
}
