/**
 * The pure parts of planning a call to a reusable workflow (GitHub's "Reusing workflows"): where the callee lives,
 * the `inputs` it gets from the call's `with:`, the `secrets:` it is passed, and the token permissions it may have.
 */
import {
  contextsUsed,
  evaluateValue,
  hasExpression,
  propertiesRead,
  type ExpressionContext,
} from './workflow/expressions.ts';
import { typeProblem } from './workflow/read-call.ts';
import { formatWorkflowRef } from './workflow/workflow-ref.ts';
import {
  PERMISSION_SCOPES,
  type CallNeed,
  type Diagnostic,
  type LateWith,
  type PermissionLevel,
  type Permissions,
  type WorkflowCall,
  type WorkflowCallInput,
  type Workflow,
  type WorkflowCallSpec,
  type WorkflowRef,
} from './types.ts';

/** A called workflow as the planner gets it: parsed, invalid, unreadable, or (for `spotcheck plan`) read later. */
export type CalleeFile =
  | { readonly kind: 'workflow'; readonly workflow: Workflow }
  | { readonly kind: 'invalid'; readonly diagnostics: readonly Diagnostic[] }
  | { readonly kind: 'unreadable'; readonly reason: string }
  | { readonly kind: 'deferred' };

/** Callees by key (`callKey`); `undefined`: not read at all. */
export type CalleeLookup = (key: string) => CalleeFile | undefined;

/**
 * The callee's place: a `./path` inside a workflow read from another repository is in that repository at that ref
 * (GitHub reads a nested local call from the repository of the workflow that makes it).
 */
export function resolveWorkflowRef(ref: WorkflowRef, within: WorkflowRef | undefined): WorkflowRef {
  if (ref.kind === 'remote' || within === undefined || within.kind === 'local') return ref;
  return { kind: 'remote', owner: within.owner, repo: within.repo, path: ref.path, ref: within.ref };
}

/** The key a callee is read and looked up by: its `uses:` in one spelling, resolved against the calling file. */
export function callKey(ref: WorkflowRef, within: WorkflowRef | undefined): string {
  return formatWorkflowRef(resolveWorkflowRef(ref, within));
}

/** Every call a workflow makes, as keys (for readers that fetch callees before planning). */
export function callKeysOf(workflow: Workflow, within: WorkflowRef | undefined): { key: string; ref: WorkflowRef }[] {
  return workflow.jobs.flatMap((job) =>
    job.call === undefined
      ? []
      : [{ key: callKey(job.call.workflow, within), ref: resolveWorkflowRef(job.call.workflow, within) }],
  );
}

type InputValue = string | number | boolean;

/** GitHub's contexts for `jobs.<job_id>.with.<with_id>` ("Context availability"). */
const WITH_CONTEXTS: ReadonlySet<string> = new Set(['github', 'needs', 'strategy', 'matrix', 'inputs', 'vars']);

/** A call's inputs: those known when the run is planned, and those left for when the calling job is ready. */
export interface CallInputs {
  /** Values known now, defaults applied for inputs left out. */
  readonly inputs: Record<string, InputValue>;
  /** Values that read `needs` (or an input of the caller's that does): evaluated when the calling job is ready. */
  readonly late: LateWith['values'];
  readonly problems: string[];
}

/**
 * The callee's `inputs` context from the call's `with:` (GitHub's rules): an input the callee does not declare is an
 * error, a required one without a value or default is an error, a value of another type is an error; inputs left
 * out take their default (a string input with none is '', a number 0, a boolean false, as GitHub fills them).
 * GitHub evaluates `with:` when the calling job is ready; here a value is evaluated when the run is planned unless
 * it reads `needs`, or one of `lateNames` (the caller's own inputs that are late), which waits for the engine.
 */
export function callInputs(
  spec: WorkflowCallSpec,
  call: WorkflowCall,
  ctx: ExpressionContext,
  lateNames: ReadonlySet<string> = new Set(),
): CallInputs {
  const problems: string[] = [];
  const inputs: Record<string, InputValue> = {};
  const late: Record<string, LateWith['values'][string]> = {};
  const declared = Object.keys(spec.inputs);
  for (const [name, written] of Object.entries(call.with)) {
    const input = Object.hasOwn(spec.inputs, name) ? spec.inputs[name] : undefined;
    if (input === undefined) {
      problems.push(
        `with: input \`${name}\` is not defined by \`${call.uses}\` (its on.workflow_call.inputs: ${declared.length === 0 ? 'none' : declared.join(', ')})`,
      );
      continue;
    }
    const value = evaluateInput(written, ctx, lateNames);
    if (value.kind === 'error') problems.push(`with.${name}: ${value.error}`);
    else if (value.kind === 'late') setOwn(late, name, { value: value.template, type: input.type });
    else {
      const checked = checkInput(name, input.type, value.value, call.uses);
      if (checked.ok) setOwn(inputs, name, checked.value);
      else problems.push(checked.error);
    }
  }
  for (const [name, input] of Object.entries(spec.inputs)) {
    if (Object.hasOwn(inputs, name) || Object.hasOwn(call.with, name)) continue;
    if (input.default !== undefined) setOwn(inputs, name, input.default);
    else if (input.required) problems.push(`with: input \`${name}\` is required by \`${call.uses}\` and has no value`);
    else setOwn(inputs, name, input.type === 'string' ? '' : input.type === 'number' ? 0 : false);
  }
  return { inputs, late, problems };
}

/**
 * The late `with:` values of a call, evaluated now that the calling job is ready (`ctx` holds its `needs`) and
 * checked against the callee's input types, or every problem, joined.
 */
export function evaluateLateWith(
  late: LateWith,
  ctx: ExpressionContext,
): { ok: true; inputs: Record<string, InputValue> } | { ok: false; error: string } {
  const inputs: Record<string, InputValue> = {};
  const problems: string[] = [];
  for (const [name, { value: template, type }] of Object.entries(late.values)) {
    const value = evaluateValue(template, ctx);
    if (!value.ok) {
      problems.push(`with.${name}: ${value.error}`);
      continue;
    }
    const checked = checkInput(name, type, value.value, late.uses);
    if (checked.ok) setOwn(inputs, name, checked.value);
    else problems.push(checked.error);
  }
  return problems.length === 0 ? { ok: true, inputs } : { ok: false, error: problems.join('; ') };
}

/** A value against its input's type: a string input takes a number or boolean as its text. */
function checkInput(
  name: string,
  type: WorkflowCallInput['type'],
  value: unknown,
  uses: string,
): { ok: true; value: InputValue } | { ok: false; error: string } {
  const problem = typeProblem(type, value);
  if (problem !== undefined)
    return { ok: false, error: `with.${name} must be ${problem} (input \`${name}\` of \`${uses}\` is a ${type})` };
  return { ok: true, value: type === 'string' ? String(value) : (value as InputValue) };
}

type WithValue =
  | { readonly kind: 'now'; readonly value: unknown }
  | { readonly kind: 'late'; readonly template: string }
  | { readonly kind: 'error'; readonly error: string };

function evaluateInput(written: InputValue, ctx: ExpressionContext, lateNames: ReadonlySet<string>): WithValue {
  if (typeof written !== 'string' || !hasExpression(written)) return { kind: 'now', value: written };
  const used = contextsUsed(written);
  if (used !== undefined) {
    const unavailable = [...used].filter((name) => !WITH_CONTEXTS.has(name));
    if (unavailable.length > 0)
      return {
        kind: 'error',
        error: `reads \`${unavailable.join('`, `')}\`; a call's \`with:\` may read github, needs, strategy, matrix, inputs and vars (GitHub's context availability)`,
      };
    if (used.has('needs') || readsLateInputs(written, lateNames).length > 0) return { kind: 'late', template: written };
  }
  const value = evaluateValue(written, ctx);
  return value.ok ? { kind: 'now', value: value.value } : { kind: 'error', error: value.error };
}

/**
 * The late inputs (of `lateNames`) a template reads: every one when it reads `inputs` whole or by a computed name.
 * Names compare as GitHub's contexts do, without regard to case.
 */
export function readsLateInputs(template: string, lateNames: ReadonlySet<string>): string[] {
  if (lateNames.size === 0 || !hasExpression(template)) return [];
  const read = propertiesRead(template, 'inputs');
  if (read === undefined || read.size === 0) return [];
  if (read.has('*')) return [...lateNames];
  return [...lateNames].filter((name) => read.has(name.toLowerCase()));
}

function setOwn<T>(record: Record<string, T>, name: string, value: T): void {
  Object.defineProperty(record, name, { value, enumerable: true, writable: true, configurable: true });
}

/** `secrets:` of a call against what the callee declares: undeclared names and missing required ones are errors. */
export function secretProblems(spec: WorkflowCallSpec, call: WorkflowCall): string[] {
  if (call.secrets === 'inherit') return [];
  const passed = call.secrets ?? {};
  const problems = Object.keys(passed)
    .filter((name) => !Object.hasOwn(spec.secrets, name))
    .map((name) => `secrets: \`${name}\` is not defined by \`${call.uses}\` (its on.workflow_call.secrets)`);
  for (const [name, secret] of Object.entries(spec.secrets))
    if (secret.required && !Object.hasOwn(passed, name))
      problems.push(`secrets: \`${name}\` is required by \`${call.uses}\`; pass it or use \`secrets: inherit\``);
  return problems;
}

const RANK: Readonly<Record<PermissionLevel, number>> = { none: 0, read: 1, write: 2 };

/**
 * GitHub: a called workflow's token "can only be downgraded (not elevated)" from the caller's. The inner request,
 * each scope capped at the outer one; either side absent means no narrowing from it.
 */
export function narrowPermissions(
  outer: Permissions | undefined,
  inner: Permissions | undefined,
): Permissions | undefined {
  if (outer === undefined) return inner;
  if (inner === undefined) return outer;
  const narrowed: Partial<Record<(typeof PERMISSION_SCOPES)[number], PermissionLevel>> = {};
  for (const scope of PERMISSION_SCOPES) {
    const a = levelOf(outer, scope);
    const b = levelOf(inner, scope);
    const level = RANK[a] <= RANK[b] ? a : b;
    if (level !== 'none') narrowed[scope] = level;
  }
  return narrowed;
}

function levelOf(p: Permissions, scope: (typeof PERMISSION_SCOPES)[number]): PermissionLevel {
  if (p === 'read-all') return 'read';
  if (p === 'write-all') return 'write';
  return p[scope] ?? 'none';
}

/** One call need from the cells of a matrix of calls: each callee job's orders across every cell. */
export function mergeCallNeeds(cells: readonly CallNeed[]): CallNeed | undefined {
  const first = cells[0];
  if (first === undefined) return undefined;
  const jobs: Record<string, { orders: string[]; call?: CallNeed }> = {};
  for (const cell of cells)
    for (const [name, job] of Object.entries(cell.jobs)) {
      const entry = Object.hasOwn(jobs, name) ? jobs[name] : undefined;
      if (entry === undefined)
        Object.defineProperty(jobs, name, {
          value: { orders: [...job.orders], ...(job.call ? { call: job.call } : {}) },
          enumerable: true,
          writable: true,
          configurable: true,
        });
      else entry.orders.push(...job.orders);
    }
  return { jobs, outputs: first.outputs };
}

/** Every order a call need stands for, nested calls included. */
export function callNeedOrders(need: CallNeed): string[] {
  return Object.values(need.jobs).flatMap((job) => job.orders);
}
