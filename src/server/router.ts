/**
 * A transport-neutral router: routes see a `RouterRequest` and return a `RouterResponse`, and know nothing of
 * `node:http` (node-http.ts adapts Node's server; a Lambda adapter can wrap the same router). The router owns the
 * answers every route shares: 404, 405 with `Allow`, 413 for a body over the route's cap, and a 500 that says
 * nothing about what failed (the log says it).
 */
import { isWellFormedId } from './ids.ts';
import type { Logger } from 'pino';
import { SpotcheckError } from '../errors.ts';

export const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];

/** A body cap for routes that do not set one: small, since most routes take no body at all. */
export const DEFAULT_MAX_BODY_BYTES = 64 * 1024;

export interface RouterRequest {
  readonly method: string;
  /** The URL's path, not decoded, without the query. */
  readonly path: string;
  readonly query: URLSearchParams;
  /** Header names lower-cased; repeated headers joined with `, `. */
  readonly headers: Readonly<Record<string, string | undefined>>;
  /** The body, read once (later calls share the result); rejects with `BodyTooLargeError` past the route's cap. */
  body(): Promise<Buffer>;
  /** Aborted when the client goes away: long answers (a tailed log) stop early. */
  readonly signal: AbortSignal;
  /** A child logger for this request (carries the request id). */
  readonly log: Logger;
  /** The peer's address as the transport saw it (the socket's, or API Gateway's source IP); absent when unknown. */
  readonly client?: string;
}

export interface RouterResponse {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  /** An AsyncIterable is streamed with backpressure; the transport stops iterating when the client goes away. */
  readonly body?: string | Buffer | AsyncIterable<string | Buffer>;
}

export type RouteParams = Readonly<Record<string, string>>;

export interface RouteDefinition {
  readonly method: HttpMethod;
  /** Literal segments and `:name` segments, e.g. `/runs/:run/orders/:order/log`. */
  readonly pattern: string;
  /** Body cap in bytes; `DEFAULT_MAX_BODY_BYTES` when unset. */
  readonly maxBodyBytes?: number;
  handle(req: RouterRequest, params: RouteParams): Promise<RouterResponse>;
}

/** What a transport hands the router: the request without its body, and a way to read the body under a cap. */
export interface IncomingRequest extends Omit<RouterRequest, 'body'> {
  /**
   * Reads the whole body, rejecting with `BodyTooLargeError` when it is declared (Content-Length) or turns out
   * (streamed) to be larger than `limit` bytes; in that case the transport reads no further.
   */
  readBody(limit: number): Promise<Buffer>;
}

export interface Router {
  handle(req: IncomingRequest): Promise<RouterResponse>;
}

/** The request body is over the route's cap. The router answers 413. */
export class BodyTooLargeError extends SpotcheckError {
  override readonly name: string = 'BodyTooLargeError';
  readonly limit: number;

  constructor(limit: number) {
    super(`the request body is larger than ${String(limit)} bytes`, { context: { limit } });
    this.limit = limit;
  }
}

/** The client went away or sent a broken body before it ended. Nobody is left to answer. */
export class BodyAbortedError extends SpotcheckError {
  override readonly name: string = 'BodyAbortedError';
}

type Segment = { readonly literal: string } | { readonly param: string };

export function createRouter(routes: readonly RouteDefinition[]): Router {
  const compiled = routes.map((definition) => ({ definition, segments: compile(definition.pattern) }));

  return {
    async handle(req) {
      const segments = splitPath(req.path);
      if (segments === undefined) return text(404, 'not found');
      const matches = compiled.flatMap((route) => {
        const params = match(route.segments, segments);
        return params === undefined ? [] : [{ route, params }];
      });
      if (matches.length === 0) return text(404, 'not found');
      // HEAD is GET without a body (RFC 9110 §9.3.2); the transport drops the body.
      const wanted = req.method === 'HEAD' ? 'GET' : req.method;
      const found = matches.find((m) => m.route.definition.method === wanted);
      if (!found) {
        const allow = [...new Set(matches.map((m) => m.route.definition.method))];
        if (allow.includes('GET')) allow.push('HEAD');
        return text(405, 'method not allowed', { allow: allow.join(', ') });
      }
      const { definition } = found.route;
      const limit = definition.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
      // A declared length over the cap is refused before a byte of the body is read.
      const declared = req.headers['content-length'];
      if (declared !== undefined && /^\d+$/.test(declared) && Number(declared) > limit) return tooLarge(limit);
      let body: Promise<Buffer> | undefined;
      const request: RouterRequest = {
        method: req.method,
        path: req.path,
        query: req.query,
        headers: req.headers,
        signal: req.signal,
        log: req.log,
        ...(req.client === undefined ? {} : { client: req.client }),
        body: () => (body ??= req.readBody(limit)),
      };
      try {
        return await definition.handle(request, found.params);
      } catch (error) {
        if (error instanceof BodyTooLargeError) return tooLarge(error.limit);
        if (error instanceof BodyAbortedError) return text(400, 'the request body was cut short');
        req.log.error({ err: error, route: definition.pattern }, 'route failed');
        return text(500, 'internal error');
      }
    },
  };
}

function compile(pattern: string): Segment[] {
  const parts = splitPath(pattern);
  if (parts === undefined) throw new TypeError(`bad route pattern ${pattern}`);
  return parts.map((part) => (part.startsWith(':') ? { param: part.slice(1) } : { literal: part }));
}

/** `/a/b%20c` → `['a', 'b c']`; undefined for a path that is not absolute or holds a broken percent-escape. */
function splitPath(path: string): string[] | undefined {
  if (!path.startsWith('/')) return undefined;
  const parts = path === '/' ? [] : path.slice(1).split('/');
  try {
    return parts.map((part) => decodeURIComponent(part));
  } catch {
    return undefined;
  }
}

function match(pattern: readonly Segment[], segments: readonly string[]): Record<string, string> | undefined {
  if (pattern.length !== segments.length) return undefined;
  const params: Record<string, string> = {};
  for (const [i, segment] of pattern.entries()) {
    const value = segments[i]!;
    if ('literal' in segment) {
      if (segment.literal !== value) return undefined;
    } else {
      // Every parameter is an id or a name: a malformed one names nothing here (ids.ts).
      if (!isWellFormedId(value)) return undefined;
      params[segment.param] = value;
    }
  }
  return params;
}

function tooLarge(limit: number): RouterResponse {
  return text(413, `request body too large (the limit is ${String(limit)} bytes)`, { connection: 'close' });
}

/** A short plain-text answer (a trailing newline, so `curl` output ends cleanly). */
export function text(status: number, message: string, headers: Record<string, string> = {}): RouterResponse {
  return {
    status,
    headers: { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff', ...headers },
    body: `${message}\n`,
  };
}

export function json(status: number, value: unknown, headers: Record<string, string> = {}): RouterResponse {
  return {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
    body: JSON.stringify(value),
  };
}
