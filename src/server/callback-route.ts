/**
 * `POST /api/agent/report`: where remote agents report. Agents are untrusted (docs/architecture.md, "Security model"):
 * the bearer token names the order (run, order, attempt, SHA) and the body is one strictly checked `AgentReport` that
 * cannot name another. Nothing changes a finished order, a superseded attempt, or an order of another commit.
 */
import { bearerCredential } from './auth-header.ts';
import {
  MAX_ANNOTATION_FILE_LENGTH,
  MAX_ANNOTATION_MESSAGE_LENGTH,
  MAX_ANNOTATION_TITLE_LENGTH,
  MAX_ANNOTATIONS_PER_STEP,
  MAX_STEP_SUMMARY_BYTES,
} from '../core/step-results.ts';
import { isFinalOrderState, type Annotation, type StepResult } from '../core/types.ts';
import type { AgentReport, OrderRef, ReportSink } from '../../runners/runner.ts';
import type { Store } from '../store/store.ts';
import type { LogStore } from './log-store.ts';
import { verifyOrderToken } from './order-token.ts';
import { text, type RouteDefinition, type RouterResponse } from './router.ts';

export const AGENT_REPORT_PATH = '/api/agent/report';
/** The route's body cap: one log chunk plus JSON escaping room. */
export const MAX_REPORT_BODY_BYTES = 2 * 1024 * 1024;
export const MAX_LOG_CHUNK_BYTES = 1024 * 1024;
const MAX_STEPS = 1000;
const MAX_OUTPUTS = 1000;
const MAX_NAME_LENGTH = 1024;
const MAX_REASON_LENGTH = 4096;

export interface CallbackRouteOptions {
  readonly store: Pick<Store, 'getRun' | 'getOrder'>;
  /** The orchestrator. */
  readonly sink: ReportSink;
  readonly logs: LogStore;
  /** The order token secret (≥ 32 bytes). */
  readonly secret: string | Uint8Array;
  readonly now: () => number;
}

export function createCallbackRoute(opts: CallbackRouteOptions): RouteDefinition {
  return {
    method: 'POST',
    pattern: AGENT_REPORT_PATH,
    maxBodyBytes: MAX_REPORT_BODY_BYTES,
    async handle(req) {
      const credential = bearerCredential(req.headers.authorization);
      const verdict = credential === undefined ? undefined : verifyOrderToken(opts.secret, credential, opts.now());
      if (!verdict?.ok) {
        req.log.info({ reason: verdict?.reason ?? 'missing' }, 'agent report refused: token');
        return unauthorized(verdict?.reason === 'expired' ? 'token expired' : 'invalid token');
      }
      const { claims } = verdict;
      const contentType = req.headers['content-type'];
      if (contentType !== undefined && !/^application\/json\s*(;|$)/i.test(contentType))
        return text(415, 'expected application/json');
      let value: unknown;
      try {
        value = JSON.parse((await req.body()).toString('utf8'));
      } catch {
        return text(400, 'the body is not JSON');
      }
      const parsed = parseAgentReport(value);
      if (!parsed.ok) return text(400, parsed.error);
      const report = parsed.report;

      const [run, order] = await Promise.all([
        opts.store.getRun(claims.runId),
        opts.store.getOrder(claims.runId, claims.orderId),
      ]);
      const ref: OrderRef = { runId: claims.runId, orderId: claims.orderId, attempt: claims.attempt };
      const log = req.log.child({ ...ref });
      if (!run || !order || run.sha !== claims.sha) return conflict(log, 'the order is not known');
      if (isFinalOrderState(order.state)) return conflict(log, 'the order is finished');
      if (order.attempt !== claims.attempt) return conflict(log, 'the attempt was superseded');

      if (report.type === 'log') {
        const appended = await opts.logs.append(ref, report.chunk);
        if (!appended.ok) log.debug('log chunk dropped: the log is full');
        return { status: 204 };
      }
      await opts.sink.report(ref, report);
      if (report.type === 'finished' || report.type === 'interrupted') await opts.logs.complete(ref);
      return { status: 204 };
    },
  };
}

function unauthorized(message: string): RouterResponse {
  return text(401, message, { 'www-authenticate': 'Bearer' });
}

function conflict(log: RouterRequestLog, message: string): RouterResponse {
  log.info({ why: message }, 'agent report refused: order state');
  return text(409, message);
}

type RouterRequestLog = Parameters<RouteDefinition['handle']>[0]['log'];

export type ParsedReport =
  { readonly ok: true; readonly report: AgentReport } | { readonly ok: false; readonly error: string };

const STEP_OUTCOMES = ['success', 'failure', 'cancelled', 'skipped'] as const;
const FINISH_CONCLUSIONS = ['success', 'failure', 'cancelled', 'timed_out'] as const;
/** GitHub's output names are identifiers; this also keeps `__proto__` and friends out of the record. */
const OUTPUT_NAME = /^[A-Za-z_][A-Za-z0-9_-]{0,99}$/;

/** Strict: exactly the keys of one report type, each of its type and within its bound. */
export function parseAgentReport(value: unknown): ParsedReport {
  if (!isPlainObject(value)) return fail('the body must be a JSON object');
  const type = value.type;
  switch (type) {
    case 'running':
      return onlyKeys(value, ['type'], []) ?? { ok: true, report: { type } };
    case 'log': {
      const bad = onlyKeys(value, ['type', 'chunk'], []);
      if (bad) return bad;
      if (typeof value.chunk !== 'string') return fail('chunk must be a string');
      if (Buffer.byteLength(value.chunk) > MAX_LOG_CHUNK_BYTES)
        return fail(`chunk is larger than ${String(MAX_LOG_CHUNK_BYTES)} bytes`);
      return { ok: true, report: { type, chunk: value.chunk } };
    }
    case 'step': {
      const bad = onlyKeys(value, ['type', 'result'], []);
      if (bad) return bad;
      const result = parseStepResult(value.result);
      return typeof result === 'string' ? fail(`result: ${result}`) : { ok: true, report: { type, result } };
    }
    case 'finished': {
      const bad = onlyKeys(value, ['type', 'conclusion', 'outputs', 'stepResults'], ['reason']);
      if (bad) return bad;
      const { conclusion, outputs, stepResults, reason } = value;
      if (!oneOf(FINISH_CONCLUSIONS, conclusion))
        return fail(`conclusion must be one of ${FINISH_CONCLUSIONS.join(', ')}`);
      if (!isPlainObject(outputs)) return fail('outputs must be an object');
      const entries = Object.entries(outputs);
      if (entries.length > MAX_OUTPUTS) return fail(`more than ${String(MAX_OUTPUTS)} outputs`);
      const cleanOutputs: Record<string, string> = {};
      for (const [name, output] of entries) {
        if (!OUTPUT_NAME.test(name)) return fail('an output name is not an identifier');
        if (typeof output !== 'string') return fail(`output ${name} must be a string`);
        cleanOutputs[name] = output;
      }
      if (!Array.isArray(stepResults)) return fail('stepResults must be an array');
      if (stepResults.length > MAX_STEPS) return fail(`more than ${String(MAX_STEPS)} step results`);
      const steps: StepResult[] = [];
      for (const [i, raw] of stepResults.entries()) {
        const step = parseStepResult(raw);
        if (typeof step === 'string') return fail(`stepResults[${String(i)}]: ${step}`);
        steps.push(step);
      }
      if (reason !== undefined && !isBoundedString(reason, MAX_REASON_LENGTH))
        return fail(`reason must be a string of at most ${String(MAX_REASON_LENGTH)} characters`);
      return {
        ok: true,
        report: {
          type,
          conclusion,
          outputs: cleanOutputs,
          stepResults: steps,
          ...(reason === undefined ? {} : { reason }),
        },
      };
    }
    case 'interrupted': {
      const bad = onlyKeys(value, ['type', 'reason'], []);
      if (bad) return bad;
      if (!isBoundedString(value.reason, MAX_REASON_LENGTH))
        return fail(`reason must be a string of at most ${String(MAX_REASON_LENGTH)} characters`);
      return { ok: true, report: { type, reason: value.reason } };
    }
    default:
      return fail('type must be one of running, log, step, finished, interrupted');
  }
}

function parseStepResult(value: unknown): StepResult | string {
  if (!isPlainObject(value)) return 'must be an object';
  const bad = onlyKeys(
    value,
    ['index', 'name', 'outcome', 'conclusion', 'durationMs'],
    ['exitCode', 'annotations', 'summary'],
  );
  if (bad) return bad.error;
  const { index, name, outcome, conclusion, durationMs, exitCode, annotations, summary } = value;
  if (typeof index !== 'number' || !Number.isSafeInteger(index) || index < 0 || index >= MAX_STEPS)
    return 'index must be a step position';
  if (!isBoundedString(name, MAX_NAME_LENGTH)) return 'name must be a short string';
  if (!oneOf(STEP_OUTCOMES, outcome) || !oneOf(STEP_OUTCOMES, conclusion))
    return `outcome and conclusion must be one of ${STEP_OUTCOMES.join(', ')}`;
  if (typeof durationMs !== 'number' || !Number.isFinite(durationMs) || durationMs < 0)
    return 'durationMs must be a duration';
  if (exitCode !== undefined && (typeof exitCode !== 'number' || !Number.isSafeInteger(exitCode)))
    return 'exitCode must be an integer';
  if (summary !== undefined && (typeof summary !== 'string' || Buffer.byteLength(summary) > MAX_STEP_SUMMARY_BYTES))
    return `summary must be a string of at most ${String(MAX_STEP_SUMMARY_BYTES)} bytes`;
  let notes: Annotation[] | undefined;
  if (annotations !== undefined) {
    if (!Array.isArray(annotations)) return 'annotations must be an array';
    if (annotations.length > MAX_ANNOTATIONS_PER_STEP)
      return `more than ${String(MAX_ANNOTATIONS_PER_STEP)} annotations`;
    notes = [];
    for (const [i, raw] of annotations.entries()) {
      const note = parseAnnotation(raw);
      if (typeof note === 'string') return `annotations[${String(i)}]: ${note}`;
      notes.push(note);
    }
  }
  return {
    index,
    name,
    outcome,
    conclusion,
    durationMs,
    ...(exitCode === undefined ? {} : { exitCode }),
    ...(notes === undefined || notes.length === 0 ? {} : { annotations: notes }),
    ...(summary === undefined ? {} : { summary }),
  };
}

const ANNOTATION_LEVELS = ['error', 'warning', 'notice'] as const;
const POSITIONS = ['line', 'endLine', 'col', 'endColumn'] as const;

/** One `::error|warning|notice::` annotation: its level and message, and the optional properties GitHub knows. */
function parseAnnotation(value: unknown): Annotation | string {
  if (!isPlainObject(value)) return 'must be an object';
  const bad = onlyKeys(value, ['level', 'message'], ['title', 'file', ...POSITIONS]);
  if (bad) return bad.error;
  const { level, message, title, file } = value;
  if (!oneOf(ANNOTATION_LEVELS, level)) return `level must be one of ${ANNOTATION_LEVELS.join(', ')}`;
  if (!isBoundedString(message, MAX_ANNOTATION_MESSAGE_LENGTH))
    return `message must be a string of at most ${String(MAX_ANNOTATION_MESSAGE_LENGTH)} characters`;
  if (title !== undefined && !isBoundedString(title, MAX_ANNOTATION_TITLE_LENGTH))
    return `title must be a string of at most ${String(MAX_ANNOTATION_TITLE_LENGTH)} characters`;
  if (file !== undefined && !isBoundedString(file, MAX_ANNOTATION_FILE_LENGTH))
    return `file must be a string of at most ${String(MAX_ANNOTATION_FILE_LENGTH)} characters`;
  const positions: Partial<Record<(typeof POSITIONS)[number], number>> = {};
  for (const key of POSITIONS) {
    const n = value[key];
    if (n === undefined) continue;
    // 1-based, as the step wrote them (actions/toolkit's AnnotationProperties).
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1) return `${key} must be a positive integer`;
    positions[key] = n;
  }
  return {
    level,
    message,
    ...(title === undefined ? {} : { title }),
    ...(file === undefined ? {} : { file }),
    ...positions,
  };
}

function onlyKeys(
  value: Record<string, unknown>,
  required: readonly string[],
  optional: readonly string[],
): { ok: false; error: string } | undefined {
  for (const key of Object.keys(value))
    if (!required.includes(key) && !optional.includes(key)) return fail(`unknown field "${key.slice(0, 64)}"`);
  for (const key of required) if (!Object.hasOwn(value, key)) return fail(`missing field "${key}"`);
  return undefined;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isBoundedString(value: unknown, max: number): value is string {
  return typeof value === 'string' && value.length <= max;
}

function oneOf<T extends string>(values: readonly T[], value: unknown): value is T {
  return typeof value === 'string' && (values as readonly string[]).includes(value);
}

function fail(error: string): { ok: false; error: string } {
  return { ok: false, error };
}
