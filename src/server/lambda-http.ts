/**
 * The Lambda transport for the router, the twin of node-http.ts: an API Gateway HTTP API event (payload format
 * 2.0) or a Lambda function URL event (the same 2.0 shape) in, a structured 2.0 result out.
 *
 * What the 2.0 format says (API Gateway developer guide, "Working with AWS Lambda proxy integrations for HTTP
 * APIs"; Lambda developer guide, "Invoking Lambda function URLs"):
 * - header names arrive lower-cased; repeated headers are already joined with commas; cookies come apart, in
 *   `cookies`, and are sent back in `cookies` (one Set-Cookie each);
 * - a binary body arrives base64-encoded with `isBase64Encoded`, and a binary answer goes back the same way;
 * - for a stage other than `$default`, `rawPath` carries the stage name in front.
 *
 * A buffered response has limits a socket has not: Lambda returns at most 6 MB (Lambda quotas, "Invocation
 * payload (request and response)"), and API Gateway waits at most 30 s for an integration (API Gateway quotas,
 * "Integration timeout"). A streamed body (a live log) is therefore collected up to a deadline and a size cap,
 * then the route is told the client went away (its signal aborts) and the answer goes out with what there is.
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type { Logger } from 'pino';
import { BodyTooLargeError, type IncomingRequest, type Router, type RouterResponse } from './router.ts';

/** API Gateway's 2.0 payload; @types/aws-lambda's `LambdaFunctionURLEvent` is this same type. */
export type HttpEventV2 = APIGatewayProxyEventV2;
export type HttpResultV2 = APIGatewayProxyStructuredResultV2;

export interface LambdaHttpOptions {
  readonly logger: Logger;
  /** How long a streamed body is collected before the answer goes out (the caller leaves room for the rest). */
  readonly streamDeadlineMs?: number;
  /** Bytes of a streamed body collected at most; the base64 of a binary answer must still fit 6 MB. */
  readonly maxStreamBytes?: number;
  /** Injected in tests; the clock for the request log's duration only. */
  readonly now?: () => number;
}

/** API Gateway's 30 s integration timeout, less room for the rest of the invocation. */
export const DEFAULT_STREAM_DEADLINE_MS = 20_000;
/** 6 MB is the response quota, JSON envelope and base64 included: 4 MiB of raw body fits with room. */
export const DEFAULT_MAX_STREAM_BYTES = 4 * 1024 * 1024;
/** After the deadline, how long the route gets to notice the abort and hand over its last chunk. */
const ABORT_GRACE_MS = 1_000;

/** Answers one 2.0 event with the router. Never throws: a router failure is a 500 that says nothing more. */
export async function handleHttpEvent(
  router: Router,
  event: HttpEventV2,
  opts: LambdaHttpOptions,
): Promise<HttpResultV2> {
  const now = opts.now ?? Date.now;
  const started = now();
  const method = event.requestContext.http.method.toUpperCase();
  const path = eventPath(event);
  const log = opts.logger.child({ reqId: event.requestContext.requestId });
  const controller = new AbortController();
  const incoming = toIncomingRequest(event, { method, path, log, signal: controller.signal });
  let response: RouterResponse;
  try {
    response = await router.handle(incoming);
  } catch (error) {
    log.error({ err: error }, 'router failed');
    response = { status: 500, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: 'internal error\n' };
  }
  const result = await toResult(response, method === 'HEAD', controller, {
    deadlineMs: opts.streamDeadlineMs ?? DEFAULT_STREAM_DEADLINE_MS,
    maxBytes: opts.maxStreamBytes ?? DEFAULT_MAX_STREAM_BYTES,
    log,
  });
  // Never the query or headers: they may carry tokens.
  log.info({ method, path, status: result.statusCode, ms: now() - started }, 'request');
  return result;
}

/** The event as the router's request. Exported for the unit tests. */
export function toIncomingRequest(
  event: HttpEventV2,
  ctx: { readonly method: string; readonly path: string; readonly log: Logger; readonly signal: AbortSignal },
): IncomingRequest {
  const headers: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(event.headers ?? {})) {
    if (value === undefined) continue;
    const lower = name.toLowerCase();
    // Names are lower-cased already by API Gateway; a hand-made event may differ only in case, so join as Node does.
    headers[lower] = headers[lower] === undefined ? value : `${headers[lower]}, ${value}`;
  }
  // RFC 6265 §5.4: the user agent sends one Cookie header, pairs separated by "; ".
  if (event.cookies !== undefined && event.cookies.length > 0) headers.cookie = event.cookies.join('; ');
  const raw = event.body;
  return {
    method: ctx.method,
    path: ctx.path,
    query: new URLSearchParams(event.rawQueryString ?? ''),
    headers,
    signal: ctx.signal,
    log: ctx.log,
    ...(event.requestContext?.http?.sourceIp === undefined ? {} : { client: event.requestContext.http.sourceIp }),
    readBody(limit) {
      // The event holds the whole body already; the cap still applies, so a route never sees more than it allows.
      if (raw === undefined || raw === '') return Promise.resolve(Buffer.alloc(0));
      // base64 of n bytes is 4·⌈n/3⌉ characters: refuse from the encoded length before decoding a huge body.
      if (event.isBase64Encoded && Math.floor((raw.length * 3) / 4) - 2 > limit)
        return Promise.reject(new BodyTooLargeError(limit));
      const bytes = event.isBase64Encoded ? Buffer.from(raw, 'base64') : Buffer.from(raw, 'utf8');
      if (bytes.length > limit) return Promise.reject(new BodyTooLargeError(limit));
      return Promise.resolve(bytes);
    },
  };
}

/** `rawPath` without the stage prefix (present for a named stage, absent for `$default` and function URLs). */
export function eventPath(event: HttpEventV2): string {
  const raw = event.rawPath || '/';
  const stage = event.requestContext.stage;
  if (stage && stage !== '$default') {
    const prefix = `/${stage}`;
    if (raw === prefix) return '/';
    if (raw.startsWith(`${prefix}/`)) return raw.slice(prefix.length);
  }
  return raw;
}

const TEXTUAL = /^(text\/|application\/(json|xml|javascript|x-www-form-urlencoded)|image\/svg\+xml)|[+/]json\b/i;

async function toResult(
  response: RouterResponse,
  head: boolean,
  controller: AbortController,
  limits: { readonly deadlineMs: number; readonly maxBytes: number; readonly log: Logger },
): Promise<HttpResultV2> {
  const headers: Record<string, string> = {};
  const cookies: string[] = [];
  for (const [name, value] of Object.entries(response.headers ?? {})) {
    // The 2.0 format sends Set-Cookie from `cookies`; a header map holds one value per name.
    if (name.toLowerCase() === 'set-cookie') cookies.push(value);
    else headers[name.toLowerCase()] = value;
  }
  // Content-Length and the connection are API Gateway's and Lambda's business once the answer is buffered.
  delete headers['content-length'];
  delete headers.connection;
  let bytes: Buffer;
  const { body } = response;
  if (body === undefined) bytes = Buffer.alloc(0);
  else if (typeof body === 'string') bytes = Buffer.from(body, 'utf8');
  else if (Buffer.isBuffer(body)) bytes = body;
  else if (head) {
    bytes = Buffer.alloc(0);
    controller.abort(new Error('HEAD: the body is not sent'));
  } else {
    const collected = await collect(body, controller, limits);
    bytes = collected.bytes;
    if (collected.cut !== undefined) headers['x-spotcheck-cut'] = collected.cut;
  }
  const textual = TEXTUAL.test(headers['content-type'] ?? 'text/plain');
  return {
    statusCode: response.status,
    headers,
    ...(cookies.length > 0 ? { cookies } : {}),
    ...(head || bytes.length === 0
      ? { body: '', isBase64Encoded: false }
      : textual
        ? { body: bytes.toString('utf8'), isBase64Encoded: false }
        : { body: bytes.toString('base64'), isBase64Encoded: true }),
  };
}

/**
 * Reads a streamed body until it ends, the deadline passes or the size cap is reached. Past the deadline the
 * signal aborts (the route stops, as when a socket closes) and the route gets a moment to hand over its last chunk.
 */
async function collect(
  body: AsyncIterable<string | Buffer>,
  controller: AbortController,
  limits: { readonly deadlineMs: number; readonly maxBytes: number; readonly log: Logger },
): Promise<{ bytes: Buffer; cut?: 'deadline' | 'size' }> {
  const chunks: Buffer[] = [];
  let size = 0;
  const iterator = body[Symbol.asyncIterator]();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'deadline'>((resolve) => {
    timer = setTimeout(() => resolve('deadline'), limits.deadlineMs);
  });
  let cut: 'deadline' | 'size' | undefined;
  let finished = false;
  try {
    for (;;) {
      const pending = iterator.next();
      let next = await Promise.race([pending, deadline]);
      if (next === 'deadline') {
        cut = 'deadline';
        controller.abort(new Error('the Lambda answer is due'));
        next = await Promise.race([pending, sleep(ABORT_GRACE_MS).then(() => 'deadline' as const)]);
        if (next === 'deadline') break;
      }
      if (next.done === true) {
        finished = cut === undefined;
        break;
      }
      const chunk = typeof next.value === 'string' ? Buffer.from(next.value, 'utf8') : next.value;
      if (size + chunk.length > limits.maxBytes) {
        cut = 'size';
        controller.abort(new Error('the Lambda answer is full'));
        break;
      }
      chunks.push(chunk);
      size += chunk.length;
      if (cut === 'deadline') break;
    }
  } catch (error) {
    // Headers are not out yet, unlike on a socket: what was collected goes out, the log says why it ends early.
    limits.log.error({ err: error }, 'response stream failed');
    cut = 'deadline';
  } finally {
    clearTimeout(timer);
    // Lets the producer clean up (close files, stop timers); not awaited, a pending read may still hold it.
    if (!finished) void iterator.return?.().catch(() => undefined);
  }
  return { bytes: Buffer.concat(chunks, size), ...(cut === undefined ? {} : { cut }) };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
