/**
 * `${{ }}` expressions and `if:` conditions, evaluated by GitHub's own `@actions/expressions` (the lexer, parser and
 * evaluator behind actions/languageservices), never by a home-made evaluator. This module only:
 * - splits templates into literal text and `${{ }}` segments the way GitHub's template reader does,
 * - supplies the status functions `success() failure() cancelled() always()` as extension functions (the library
 *   leaves them to the host, see actions/languageservices `workflow-parser/src/model/converter/if-condition.ts`),
 * - supplies `hashFiles()` where GitHub's runner does (step fields), through a function the caller injects, since
 *   hashing reads the workspace,
 * - converts plain JS values to the library's `data.*` values and back,
 * - turns every throw of the library into a result.
 * Pure: no I/O, no clock.
 */
import { Evaluator, Lexer, Parser, data } from '@actions/expressions';
import { ContextAccess, Literal, Star } from '@actions/expressions/ast';
import type {
  Binary,
  Expr,
  ExprVisitor,
  FunctionCall,
  Grouping,
  IndexAccess,
  Logical,
  Unary,
} from '@actions/expressions/ast';
import type { FunctionDefinition, FunctionInfo } from '@actions/expressions/funcs/info';

/**
 * Longest single expression (or `if:` condition) we parse. GitHub's own cap is 21,000 characters
 * (`MAX_EXPRESSION_LENGTH` in @actions/expressions); workflow files are untrusted input, so we bound the work lower.
 */
export const MAX_EXPRESSION_LENGTH = 4096;

/** Deepest JS value converted into expression data (context payloads are trees; a cycle or a bomb stops here). */
const MAX_DATA_DEPTH = 64;

export interface ExpressionContext {
  github?: Readonly<Record<string, unknown>>;
  env?: Readonly<Record<string, string>>;
  matrix?: Readonly<Record<string, unknown>>;
  needs?: Readonly<Record<string, { result: string; outputs: Readonly<Record<string, string>> }>>;
  steps?: Readonly<Record<string, { outcome: string; conclusion: string; outputs: Readonly<Record<string, string>> }>>;
  runner?: Readonly<Record<string, unknown>>;
  job?: Readonly<Record<string, unknown>>;
  strategy?: Readonly<Record<string, unknown>>;
  /** Present only on the agent (step fields, job env, outputs): the server never evaluates with secrets. */
  secrets?: Readonly<Record<string, string>>;
  /** Operator-configured variables (org, then repository); an unknown name reads as null, hence '' in a string. */
  vars?: Readonly<Record<string, string>>;
  /**
   * A reusable workflow's (or workflow_dispatch's) inputs, a composite action's inside its steps and outputs; empty
   * for push and pull_request, as on GitHub.
   */
  inputs?: Readonly<Record<string, unknown>>;
  /** Only in a called workflow's `on.workflow_call.outputs` values: the callee's jobs' results and outputs. */
  jobs?: Readonly<Record<string, { result: string; outputs: Readonly<Record<string, string>> }>>;
  /**
   * The functions GitHub's runner adds when it evaluates a step's fields (not a context: expressions cannot read it).
   * Present only for step-time evaluation on the agent; without it `hashFiles()` is an error.
   */
  functions?: StepFunctions;
}

/**
 * Step-time functions. `hashFiles` receives its arguments coerced to strings (GitHub's `ConvertToString`) and
 * returns the hex digest, or '' when nothing matches; it may throw, which fails the evaluation.
 */
export interface StepFunctions {
  hashFiles(patterns: readonly string[]): string;
}

/** Where an expression is evaluated: by the server before the job starts, or by the runner for a step's fields. */
export type ExpressionScope = 'job' | 'step';

/** The job status the status functions read: success() is true iff 'success', failure() iff 'failure', cancelled() iff 'cancelled'. */
export type JobStatus = 'success' | 'failure' | 'cancelled';

export type Evaluated<T> = { ok: true; value: T } | { ok: false; error: string };

/** The named contexts spotcheck provides (docs/architecture.md "Workflow files"); anything else is a parse error. */
const CONTEXT_NAMES = [
  'github',
  'env',
  'matrix',
  'needs',
  'steps',
  'runner',
  'job',
  'strategy',
  'secrets',
  'vars',
  'inputs',
  'jobs',
] as const satisfies readonly (keyof ExpressionContext)[];

/**
 * GitHub's rule ("Using secrets in GitHub Actions"): "Secrets cannot be directly referenced in `if:` conditionals";
 * a job or step sets the secret as an environment variable and its `if:` reads `env` instead.
 */
const SECRETS_IN_IF =
  "secrets cannot be referenced directly in an if: condition (GitHub's rule); set the secret in env: and test env.<NAME> instead";

const STATUS_FUNCTION_NAMES = ['success', 'failure', 'cancelled', 'always'] as const;

const STATUS_FUNCTIONS: FunctionInfo[] = STATUS_FUNCTION_NAMES.map((name) => ({ name, minArgs: 0, maxArgs: 0 }));

/** GitHub's runner registers hashFiles with 1 to 255 arguments (actions/runner `HashFilesFunction`, `byte.MaxValue`). */
const HASH_FILES: FunctionInfo = { name: 'hashFiles', minArgs: 1, maxArgs: 255 };

const OPEN = '${{';
const CLOSE = '}}';

// ---------------------------------------------------------------------------------------------------------------
// JS values <-> @actions/expressions data
// ---------------------------------------------------------------------------------------------------------------

/**
 * Converts a plain JS value to expression data: `null`/`undefined` → Null, booleans, finite and non-finite numbers,
 * strings, arrays, plain objects (own enumerable keys in insertion order). Anything else (functions, symbols) and
 * anything nested deeper than the bound becomes Null.
 */
export function toExpressionData(value: unknown, depth = 0): data.ExpressionData {
  if (value === null || value === undefined) return new data.Null();
  switch (typeof value) {
    case 'boolean':
      return new data.BooleanData(value);
    case 'number':
      return new data.NumberData(value);
    case 'bigint':
      return new data.NumberData(Number(value));
    case 'string':
      return new data.StringData(value);
    case 'object':
      break;
    default:
      return new data.Null();
  }
  if (depth >= MAX_DATA_DEPTH) return new data.Null();
  if (Array.isArray(value)) {
    return new data.Array(...value.map((item: unknown) => toExpressionData(item, depth + 1)));
  }
  const dict = new data.Dictionary();
  for (const [key, item] of Object.entries(value)) dict.add(key, toExpressionData(item, depth + 1));
  return dict;
}

/** Converts expression data back to a plain JS value (Dictionary → object, Array → array, Null → null). */
export function fromExpressionData(value: data.ExpressionData): unknown {
  switch (value.kind) {
    case data.Kind.Null:
      return null;
    case data.Kind.Boolean:
    case data.Kind.Number:
    case data.Kind.String:
      return value.value;
    case data.Kind.Array:
      return value.values().map(fromExpressionData);
    case data.Kind.Dictionary:
      // fromEntries defines properties, so a key such as `__proto__` stays a plain key.
      return Object.fromEntries(value.pairs().map((pair) => [pair.key, fromExpressionData(pair.value)]));
    default:
      return null;
  }
}

/**
 * GitHub's string coercion of a result spliced into a template: null → '', booleans → 'true'/'false', numbers as
 * the library formats them (at most 15 significant digits, `-0` → '0'), strings as is, objects and arrays as the
 * pretty JSON `toJSON()` would print.
 */
export function coerceToString(value: data.ExpressionData): string {
  if (value.kind === data.Kind.Dictionary || value.kind === data.Kind.Array) {
    return JSON.stringify(value, data.replacer, 2);
  }
  return value.coerceString();
}

function contextData(ctx: ExpressionContext): data.Dictionary {
  const dict = new data.Dictionary();
  // Every known context is present, empty when not supplied: the evaluator reads a missing one as `undefined`.
  for (const name of CONTEXT_NAMES) dict.add(name, toExpressionData(ctx[name] ?? {}));
  if (ctx.inputs !== undefined) dict.add('inputs', toExpressionData(ctx.inputs));
  return dict;
}

/** The host functions for one evaluation; the evaluator looks them up by lower-cased name. */
function hostFunctions(
  status: JobStatus | undefined,
  step: StepFunctions | undefined,
): Map<string, FunctionDefinition> {
  const functions = new Map<string, FunctionDefinition>();
  if (status !== undefined) {
    const is = (wanted: JobStatus) => (): data.ExpressionData => new data.BooleanData(status === wanted);
    functions.set('success', { name: 'success', minArgs: 0, maxArgs: 0, call: is('success') });
    functions.set('failure', { name: 'failure', minArgs: 0, maxArgs: 0, call: is('failure') });
    functions.set('cancelled', { name: 'cancelled', minArgs: 0, maxArgs: 0, call: is('cancelled') });
    functions.set('always', { name: 'always', minArgs: 0, maxArgs: 0, call: () => new data.BooleanData(true) });
  }
  if (step !== undefined) {
    const call = (...args: data.ExpressionData[]): data.ExpressionData =>
      new data.StringData(step.hashFiles(args.map((arg) => arg.coerceString())));
    functions.set('hashfiles', { ...HASH_FILES, call });
  }
  return functions;
}

// ---------------------------------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------------------------------

type Parsed = { ok: true; tree: Expr | undefined } | { ok: false; error: string };

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Library messages, made actionable for spotcheck users. */
function explainParseError(message: string): string {
  if (/^Unrecognized function: 'hashFiles'/i.test(message)) {
    return `${message}: hashFiles() is available only in a step's fields (run, env, if, name, working-directory), where GitHub evaluates it on the runner; here the expression is evaluated before any workspace exists`;
  }
  if (message.startsWith('Unrecognized named-value')) {
    return `${message} (spotcheck provides: ${CONTEXT_NAMES.join(', ')})`;
  }
  return message;
}

function parseExpression(
  source: string,
  withStatusFunctions: boolean,
  scope: ExpressionScope = 'job',
  withSecrets = true,
): Parsed {
  if (source.length > MAX_EXPRESSION_LENGTH) {
    return {
      ok: false,
      error: `Expression is ${source.length} characters long; the maximum is ${MAX_EXPRESSION_LENGTH}`,
    };
  }
  try {
    const { tokens } = new Lexer(source).lex();
    // Parser.parse() returns undefined for an empty token list although its declared type says Expr.
    const functions = [...(withStatusFunctions ? STATUS_FUNCTIONS : []), ...(scope === 'step' ? [HASH_FILES] : [])];
    // The server never holds secrets: where it evaluates (runs-on, concurrency, a job's if, …) `secrets` is not a
    // context, which is GitHub's rule for those keys too ("Context availability").
    const names = CONTEXT_NAMES.filter((n) => withSecrets || n !== 'secrets');
    const tree: Expr | undefined = new Parser(tokens, names, functions).parse();
    return { ok: true, tree };
  } catch (err) {
    return { ok: false, error: explainParseError(errorMessage(err)) };
  }
}

/**
 * What an expression refers to: lower-cased context names and function names, and per context the properties it
 * reads (`inputs.version`, `inputs['version']`: `version`; the whole context or a computed property: `*`).
 */
interface References {
  readonly contexts: Set<string>;
  readonly functions: Set<string>;
  readonly properties: Map<string, Set<string>>;
}

class ReferenceCollector implements ExprVisitor<void> {
  readonly refs: References = { contexts: new Set(), functions: new Set(), properties: new Map() };
  #property(context: string, name: string): void {
    const names = this.refs.properties.get(context) ?? new Set<string>();
    names.add(name);
    this.refs.properties.set(context, names);
  }
  visitLiteral(_literal: Literal): void {}
  visitUnary(unary: Unary): void {
    unary.expr.accept(this);
  }
  visitBinary(binary: Binary): void {
    binary.left.accept(this);
    binary.right.accept(this);
  }
  visitLogical(logical: Logical): void {
    for (const arg of logical.args) arg.accept(this);
  }
  visitGrouping(grouping: Grouping): void {
    grouping.group.accept(this);
  }
  visitContextAccess(contextAccess: ContextAccess): void {
    const name = contextAccess.name.lexeme.toLowerCase();
    this.refs.contexts.add(name);
    this.#property(name, '*');
  }
  visitIndexAccess(indexAccess: IndexAccess): void {
    const { expr, index } = indexAccess;
    const key = index instanceof Literal ? index.literal : undefined;
    if (expr instanceof ContextAccess && key instanceof data.StringData) {
      const name = expr.name.lexeme.toLowerCase();
      this.refs.contexts.add(name);
      this.#property(name, key.value.toLowerCase());
    } else expr.accept(this);
    // `[*]` is a Star node: no children, and its accept() is not meant to be called.
    if (!(index instanceof Star)) index.accept(this);
  }
  visitFunctionCall(functionCall: FunctionCall): void {
    this.refs.functions.add(functionCall.functionName.lexeme.toLowerCase());
    for (const arg of functionCall.args) arg.accept(this);
  }
}

/** The secret names an expression reads by name, and whether it reads `secrets` some other way (whole, computed). */
class SecretNameCollector extends ReferenceCollector {
  readonly names = new Set<string>();
  whole = false;
  override visitContextAccess(contextAccess: ContextAccess): void {
    super.visitContextAccess(contextAccess);
    if (isSecretsContext(contextAccess)) this.whole = true;
  }
  override visitIndexAccess(indexAccess: IndexAccess): void {
    const { expr, index } = indexAccess;
    if (isSecretsContext(expr) && index instanceof Literal && index.literal.kind === data.Kind.String) {
      // `secrets.NAME` and `secrets['NAME']` parse alike; names are case-insensitive.
      this.names.add(index.literal.coerceString().toUpperCase());
      return;
    }
    super.visitIndexAccess(indexAccess);
  }
}

function isSecretsContext(expr: Expr): boolean {
  return expr instanceof ContextAccess && expr.name.lexeme.toLowerCase() === 'secrets';
}

function referencesOf(tree: Expr | undefined): References {
  const collector = new ReferenceCollector();
  tree?.accept(collector);
  return collector.refs;
}

// ---------------------------------------------------------------------------------------------------------------
// Templates
// ---------------------------------------------------------------------------------------------------------------

type Segment = { readonly literal: string } | { readonly expression: string };
type Split = { ok: true; segments: Segment[] } | { ok: false; error: string };

/**
 * Splits a template into literal text and expressions, as GitHub's template reader does
 * (actions/languageservices `workflow-parser/src/templates/template-reader.ts` parseScalar): an expression runs
 * from `${{` to the first `}}` outside a single-quoted string literal; an unclosed `${{` and an empty expression
 * are errors.
 */
function splitTemplate(template: string): Split {
  const segments: Segment[] = [];
  let i = 0;
  while (i < template.length) {
    const start = template.indexOf(OPEN, i);
    if (start < 0) {
      segments.push({ literal: template.slice(i) });
      break;
    }
    if (start > i) segments.push({ literal: template.slice(i, start) });
    let end = -1;
    let inString = false;
    for (let j = start + OPEN.length; j < template.length; j++) {
      const c = template[j];
      // Toggling on every quote also handles the escaped quote of a literal ('it''s').
      if (c === "'") inString = !inString;
      else if (!inString && c === '}' && template[j - 1] === '}' && j - 1 >= start + OPEN.length) {
        end = j - 1;
        break;
      }
    }
    if (end < 0) {
      return {
        ok: false,
        error:
          'The expression is not closed. An unescaped ${{ sequence was found, but the closing }} sequence was not found.',
      };
    }
    const expression = template.slice(start + OPEN.length, end).trim();
    if (expression === '') return { ok: false, error: 'An expression was expected' };
    segments.push({ expression });
    i = end + CLOSE.length;
  }
  return { ok: true, segments };
}

function evaluateParsed(
  tree: Expr | undefined,
  ctx: ExpressionContext,
  status?: JobStatus,
): Evaluated<data.ExpressionData> {
  if (tree === undefined) return { ok: true, value: new data.Null() };
  try {
    return { ok: true, value: new Evaluator(tree, contextData(ctx), hostFunctions(status, ctx.functions)).evaluate() };
  } catch (err) {
    return { ok: false, error: errorMessage(err) };
  }
}

function evaluateExpression(expression: string, ctx: ExpressionContext): Evaluated<data.ExpressionData> {
  const parsed = parseExpression(expression, false, scopeOf(ctx), ctx.secrets !== undefined);
  if (!parsed.ok) return { ok: false, error: `${parsed.error} in \${{ ${expression} }}` };
  const result = evaluateParsed(parsed.tree, ctx);
  return result.ok ? result : { ok: false, error: `${result.error} in \${{ ${expression} }}` };
}

function scopeOf(ctx: ExpressionContext): ExpressionScope {
  return ctx.functions === undefined ? 'job' : 'step';
}

/** Whether a string contains `${{`. */
export function hasExpression(source: string): boolean {
  return source.includes(OPEN);
}

/** Replaces each `${{ expr }}` in a string with the expression's string coercion (see `coerceToString`). A string with no `${{` is returned as is. */
export function interpolate(template: string, ctx: ExpressionContext): Evaluated<string> {
  if (!hasExpression(template)) return { ok: true, value: template };
  const split = splitTemplate(template);
  if (!split.ok) return split;
  const parts: string[] = [];
  for (const segment of split.segments) {
    if ('literal' in segment) {
      parts.push(segment.literal);
      continue;
    }
    const result = evaluateExpression(segment.expression, ctx);
    if (!result.ok) return result;
    parts.push(coerceToString(result.value));
  }
  return { ok: true, value: parts.join('') };
}

/** A value that is exactly one `${{ expr }}` evaluates to the raw value (objects/arrays for fromJSON); otherwise interpolate. */
export function evaluateValue(template: string, ctx: ExpressionContext): Evaluated<unknown> {
  if (!hasExpression(template)) return { ok: true, value: template };
  const split = splitTemplate(template);
  if (!split.ok) return split;
  const only = split.segments.length === 1 ? split.segments[0] : undefined;
  if (only !== undefined && 'expression' in only) {
    const result = evaluateExpression(only.expression, ctx);
    return result.ok ? { ok: true, value: fromExpressionData(result.value) } : result;
  }
  return interpolate(template, ctx);
}

/** Escapes literal text for a `format('…')` string: quotes doubled, braces doubled (GitHub's template reader does the same). */
function formatLiteral(text: string): string {
  return text.replace(/'/g, "''").replace(/\{/g, '{{').replace(/\}/g, '}}');
}

/**
 * The expression text of an `if:` value: a value wrapped in exactly one `${{ }}` is unwrapped; text mixed with
 * `${{ }}` becomes `format('text {0}', expr)`, exactly as GitHub's template reader rewrites it (so such a condition
 * is a non-empty string, hence truthy — GitHub's behaviour, surprising as it is).
 */
function conditionSource(condition: string): Evaluated<string> {
  const trimmed = condition.trim();
  if (!hasExpression(trimmed)) return { ok: true, value: trimmed };
  const split = splitTemplate(trimmed);
  if (!split.ok) return split;
  const only = split.segments.length === 1 ? split.segments[0] : undefined;
  if (only !== undefined && 'expression' in only) return { ok: true, value: only.expression };
  let format = '';
  const args: string[] = [];
  for (const segment of split.segments) {
    if ('literal' in segment) {
      format += formatLiteral(segment.literal);
    } else {
      format += `{${args.length}}`;
      args.push(segment.expression);
    }
  }
  return { ok: true, value: `format('${format}'${args.map((a) => `, ${a}`).join('')})` };
}

/**
 * `if:` semantics: the condition may or may not be wrapped in `${{ }}`; an empty condition means success();
 * a condition that calls no status function is implicitly `success() && (cond)` (GitHub's rule, see
 * actions/languageservices `if-condition.ts` ensureStatusFunction).
 */
/**
 * `concurrency.cancel-in-progress`: true or false as written, or its `${{ }}` evaluated and taken as a condition
 * (the expression language's truthiness: false, 0, '', null are false).
 */
export function evaluateFlag(value: boolean | string, ctx: ExpressionContext): Evaluated<boolean> {
  if (typeof value === 'boolean') return { ok: true, value };
  const evaluated = evaluateValue(value, ctx);
  if (!evaluated.ok) return evaluated;
  return { ok: true, value: truthy(toExpressionData(evaluated.value)) };
}

export function evaluateCondition(
  condition: string | undefined,
  ctx: ExpressionContext,
  status: JobStatus,
): Evaluated<boolean> {
  const source = conditionSource(condition ?? '');
  if (!source.ok) return source;
  const parsed = // `secrets` parses here so that its use in `if:` gets GitHub's own advice below, not "unrecognized".
    parseExpression(source.value, true, scopeOf(ctx));
  if (!parsed.ok) return { ok: false, error: `${parsed.error} in if: ${condition ?? ''}` };
  let tree = parsed.tree;
  if (referencesOf(tree).contexts.has('secrets')) return { ok: false, error: `${SECRETS_IN_IF}: ${condition ?? ''}` };
  const usesStatus = STATUS_FUNCTION_NAMES.some((name) => referencesOf(tree).functions.has(name));
  if (tree === undefined || !usesStatus) {
    const wrapped = parseExpression(
      tree === undefined ? 'success()' : `success() && (${source.value})`,
      true,
      scopeOf(ctx),
    );
    if (!wrapped.ok) return { ok: false, error: `${wrapped.error} in if: ${condition ?? ''}` };
    tree = wrapped.tree;
  }
  const result = evaluateParsed(tree, ctx, status);
  if (!result.ok) return { ok: false, error: `${result.error} in if: ${condition ?? ''}` };
  return { ok: true, value: truthy(result.value) };
}

/** GitHub's truthiness: null, false, 0, NaN and '' are falsy; arrays and objects are truthy. */
function truthy(value: data.ExpressionData): boolean {
  switch (value.kind) {
    case data.Kind.Null:
      return false;
    case data.Kind.Boolean:
      return value.value;
    case data.Kind.Number: {
      const n = value.value;
      return n !== 0 && !Number.isNaN(n);
    }
    case data.Kind.String:
      return value.value.length > 0;
    default:
      return true;
  }
}

/**
 * Syntax check for the validator: unbalanced `${{`, lexer/parser errors, unknown named contexts/functions.
 * `scope` 'step' admits `hashFiles()` (GitHub's runner evaluates a step's fields; the server evaluates the rest).
 */
export function expressionError(
  source: string,
  kind: 'condition' | 'template',
  scope: ExpressionScope = 'job',
): string | undefined {
  if (kind === 'condition') {
    const cond = conditionSource(source);
    if (!cond.ok) return cond.error;
    const parsed = parseExpression(cond.value, true, scope);
    if (!parsed.ok) return parsed.error;
    return referencesOf(parsed.tree).contexts.has('secrets') ? SECRETS_IN_IF : undefined;
  }
  if (!hasExpression(source)) return undefined;
  const split = splitTemplate(source);
  if (!split.ok) return split.error;
  for (const segment of split.segments) {
    if ('literal' in segment) continue;
    const parsed = parseExpression(segment.expression, false, scope);
    if (!parsed.ok) return `${parsed.error} in \${{ ${segment.expression} }}`;
  }
  return undefined;
}

/**
 * The secrets a template's expressions read by name (`secrets.NAME`, `secrets['name']`; upper-cased), and whether one
 * reads `secrets` otherwise (`toJSON(secrets)`, `secrets[format(…)]`), when no list of names is complete. Undefined
 * when the template does not parse. The server uses it to fetch only the secrets a job names from outside stores.
 */
export function secretNamesUsed(
  template: string,
): { readonly names: ReadonlySet<string>; readonly whole: boolean } | undefined {
  const split = splitTemplate(template);
  if (!split.ok) return undefined;
  const collector = new SecretNameCollector();
  for (const segment of split.segments) {
    if ('literal' in segment) continue;
    const parsed = parseExpression(segment.expression, false, 'step');
    if (!parsed.ok) return undefined;
    parsed.tree?.accept(collector);
  }
  return { names: collector.names, whole: collector.whole };
}

/**
 * The contexts a template's expressions read (lower-cased), or undefined when it does not parse. The planner uses
 * it to decide whether a value can be evaluated at plan time (only `github`, `matrix`, `strategy`).
 */
export function contextsUsed(template: string): ReadonlySet<string> | undefined {
  const split = splitTemplate(template);
  if (!split.ok) return undefined;
  const used = new Set<string>();
  for (const segment of split.segments) {
    if ('literal' in segment) continue;
    const parsed = parseExpression(segment.expression, false);
    if (!parsed.ok) return undefined;
    for (const name of referencesOf(parsed.tree).contexts) used.add(name);
  }
  return used;
}

/**
 * The properties of one context a template's expressions read, lower-cased (`inputs.version` → `version`); `*` when
 * an expression reads the context whole or by a computed name. Undefined when the template does not parse.
 */
export function propertiesRead(template: string, context: string): ReadonlySet<string> | undefined {
  const split = splitTemplate(template);
  if (!split.ok) return undefined;
  const read = new Set<string>();
  for (const segment of split.segments) {
    if ('literal' in segment) continue;
    const parsed = parseExpression(segment.expression, true);
    if (!parsed.ok) return undefined;
    for (const name of referencesOf(parsed.tree).properties.get(context) ?? []) read.add(name);
  }
  return read;
}
