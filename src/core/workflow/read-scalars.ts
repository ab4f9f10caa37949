/**
 * The small readers every part of the schema shares: allowed keys (unknown ones refused with the list of allowed
 * ones), strings, conditions, booleans, minutes, ids, and `${{ }}` syntax. Each reports into the sink and returns
 * `undefined` for a value it refused, so a caller can go on and find the file's other problems.
 */
import { MAX_TIMEOUT_MINUTES } from '../limits.ts';
import type { SourcePos } from '../types.ts';
import { clip } from './diagnostics.ts';
import type { DiagnosticSink } from './diagnostics.ts';
import { expressionError } from './expressions.ts';
import { shellProblem, windowsShellNotice } from './shells.ts';
import { describeValue } from './yaml-tree.ts';
import type { YMap, YValue } from './yaml-tree.ts';

/** Job, step and output ids, GitHub's rule for job and step ids (a letter or `_`, then letters, digits, `-`, `_`). */
export const ID_PATTERN = /^[A-Za-z_][A-Za-z0-9_-]*$/;
export const ID_RULE = 'must start with a letter or `_` and contain only letters, digits, `-` and `_`';

/** Keys that only pass inputs to a `uses:` (an action's `with:`, a reusable workflow's `with:` and `secrets:`). */
const USES_INPUTS: ReadonlySet<string> = new Set(['with', 'secrets']);

/**
 * Reports each key of `map` outside `allowed`: with the hint of `hints` when there is one (a GitHub key spotcheck
 * refuses, and why), else as unknown, listing the allowed keys.
 */
export function checkKeys(
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

export interface StringOptions {
  readonly nonEmpty?: boolean;
  readonly noExpression?: boolean;
}

/** A string field. GitHub reads numbers and booleans where a string is expected as their text (`1.10` is "1.1"). */
export function readString(sink: DiagnosticSink, v: YValue, path: string, opts: StringOptions): string | undefined {
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

export function readCondition(sink: DiagnosticSink, v: YValue, path: string): string | undefined {
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

export function readBoolean(sink: DiagnosticSink, v: YValue, path: string): boolean | undefined {
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

/**
 * `timeout-minutes` of a job or a step: a number of minutes, more than 0 and at most MAX_TIMEOUT_MINUTES, or one
 * `${{ }}` expression (evaluated with the job when the run is planned, or by the agent for a step).
 */
export function readTimeout(sink: DiagnosticSink, v: YValue, path: string): number | string | undefined {
  if (v.kind === 'scalar' && typeof v.value === 'number') {
    if (v.value > 0 && v.value <= MAX_TIMEOUT_MINUTES) return v.value;
    sink.error(
      v.pos,
      `\`${path}\` must be more than 0 and at most ${MAX_TIMEOUT_MINUTES} minutes (5 days), not ${v.value}`,
    );
    return undefined;
  }
  if (v.kind === 'scalar' && typeof v.value === 'string' && isWholeExpression(v.value))
    return checkExpression(sink, v.value, 'template', v.pos, path) ? v.value : undefined;
  sink.error(v.pos, `\`${path}\` must be a number of minutes or a \`\${{ }}\` expression, not ${describeValue(v)}`);
  return undefined;
}

/** `continue-on-error`: true, false, or one `${{ }}` expression that must evaluate to one of them. */
export function readFlag(sink: DiagnosticSink, v: YValue, path: string): boolean | string | undefined {
  if (v.kind === 'scalar' && typeof v.value === 'boolean') return v.value;
  if (v.kind === 'scalar' && typeof v.value === 'string' && isWholeExpression(v.value)) {
    return checkExpression(sink, v.value, 'template', v.pos, path) ? v.value : undefined;
  }
  sink.error(v.pos, `\`${path}\` must be true, false or a \`\${{ }}\` expression, not ${describeValue(v)}`);
  return undefined;
}

/** Whether the text is one `${{ }}` with nothing around it: the form a job's `continue-on-error` may take. */
export function isWholeExpression(text: string): boolean {
  const t = text.trim();
  return t.startsWith('${{') && t.endsWith('}}');
}

/** `${{ }}` syntax, checked by src/core/workflow/expressions.ts with GitHub's own @actions/expressions parser. */
export function checkExpression(
  sink: DiagnosticSink,
  text: string,
  kind: 'condition' | 'template',
  pos: SourcePos,
  path: string,
): boolean {
  // A step's fields are evaluated by the runner, which adds hashFiles(); everything else by the server, before the job.
  const problem = expressionError(text, kind, /\.steps\[\d+\]\./.test(path) ? 'step' : 'job');
  if (problem) sink.error(pos, `\`${path}\`: ${problem}`);
  return problem === undefined;
}

/**
 * A step's `shell` (or a `defaults.run.shell`): one GitHub knows (src/core/workflow/shells.ts), caught here rather than
 * when the step runs; a Windows-only one gets a notice.
 */
export function readShell(sink: DiagnosticSink, v: YValue, path: string): string | undefined {
  if (v.kind === 'scalar' && typeof v.value === 'string' && v.value.includes('${{')) {
    sink.error(v.pos, shellProblem(v.value) ?? `\`${path}\` cannot use \`\${{ }}\` expressions`);
    return undefined;
  }
  const text = readString(sink, v, path, { nonEmpty: true });
  if (text === undefined) return undefined;
  const problem = shellProblem(text);
  if (problem !== undefined) sink.error(v.pos, problem);
  const windowsOnly = windowsShellNotice(text);
  if (windowsOnly !== undefined) sink.notice(v.pos, windowsOnly);
  return problem === undefined ? text : undefined;
}
