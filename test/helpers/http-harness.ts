/**
 * The expectation and recording machinery shared by the forge nock harnesses (github-api.ts, gitea-api.ts). A forge
 * harness says how a request URL maps to a path below its API base and checks the request against the forge's
 * published API description; this module intercepts every request to the origin, records it, answers it from the
 * first matching expectation, and fails the test on a failed check, a request nothing was set up for, a request to a
 * host without a harness, and an expectation left unused (docs/conventions.md: a mock that is set up but never called
 * fails the test).
 */
import nock from 'nock';
import { afterEach, beforeEach } from 'vitest';
import { safeDecode } from './api-description.ts';
import { holdNetwork } from './nock-network.ts';

export interface HarnessRequest {
  readonly method: string;
  /** Decoded path below the API base (`/repos/o/r/contents/.spotcheck/workflows`), without the query. */
  readonly path: string;
  readonly query: Readonly<Record<string, string>>;
  /** Full URL as sent. */
  readonly url: string;
  /** Parsed JSON body, or undefined. */
  readonly body: unknown;
  readonly headers: Readonly<Record<string, string>>;
  /** `METHOD /template` of the forge's API description, when the request matched one. */
  readonly endpoint?: string;
}

export interface ReplySpec {
  readonly status: number;
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}

type QueryMatcher = Readonly<Record<string, string | number | boolean>> | ((query: Record<string, string>) => boolean);
type BodyMatcher = Readonly<Record<string, unknown>> | ((body: unknown) => boolean);
type Responder<R> =
  | { readonly kind: 'reply'; readonly reply: (request: R) => ReplySpec }
  | { readonly kind: 'network-error'; readonly message: string };

export interface Expectation<R extends HarnessRequest> {
  /** Exact query (every listed parameter, and no other), or a predicate. */
  query(matcher: QueryMatcher): Expectation<R>;
  /** The JSON body contains these fields (deep-equal), or a predicate. */
  body(matcher: BodyMatcher): Expectation<R>;
  /** How many requests this answers (1 by default). */
  times(count: number): Expectation<R>;
  reply(status: number, body?: unknown, headers?: Readonly<Record<string, string>>): HttpHarness<R>;
  reply(fn: (request: R) => ReplySpec): HttpHarness<R>;
  /** The connection fails (DNS, reset): the client sees an error without a response. */
  replyWithNetworkError(message?: string): HttpHarness<R>;
}

export interface HttpHarness<R extends HarnessRequest> {
  /** The base URL the client under test is given. */
  readonly baseUrl: string;
  /** Paths are below the API base, as in the forge's description; a `?query` in the path is matched exactly. */
  get(path: string | RegExp): Expectation<R>;
  post(path: string | RegExp): Expectation<R>;
  put(path: string | RegExp): Expectation<R>;
  patch(path: string | RegExp): Expectation<R>;
  delete(path: string | RegExp): Expectation<R>;
  /** Requests seen so far, optionally only those of one method and (decoded) path. */
  requests(filter?: { readonly method?: string; readonly path?: string | RegExp }): R[];
  /** Description violations, requests nothing was set up for, and requests to hosts without a harness. */
  problems(): string[];
  /** Throws when there are problems or expectations left unused. */
  assertDone(): void;
  /** Removes the interceptors (idempotent). */
  close(): void;
}

/** A request checked by the forge: its raw path below the API base, the endpoint it matched, what is wrong. */
export interface CheckedRequest {
  /** Still percent-encoded. */
  readonly rawPath: string;
  readonly endpoint?: string | undefined;
  readonly problems: readonly string[];
}

export interface ForgeHarnessOptions<R extends HarnessRequest> {
  /** `GitHub API harness` and `github-api harness` in messages. */
  readonly title: string;
  readonly slug: string;
  /** The base URL without trailing slashes; every request to its origin is intercepted. */
  readonly baseUrl: string;
  /** The forge's answers to JSON carry this content type unless a test says otherwise. */
  readonly jsonContentType: string;
  /** Maps the request to a path below the API base and checks it against the forge's description. */
  readonly check: (method: string, url: URL, body: unknown) => CheckedRequest;
  /** Problems of a reply status for the matched endpoint (a forge that declares its statuses). */
  readonly checkReplyStatus?: (endpoint: string, status: number) => readonly string[];
  /** The forge's recorded shape (a field or two beyond the common ones). */
  readonly record: (request: HarnessRequest, checked: CheckedRequest) => R;
}

interface ExpectationState<R> {
  readonly method: string;
  readonly path: string | RegExp;
  query?: QueryMatcher;
  body?: BodyMatcher;
  remaining: number;
  responder?: Responder<R>;
  readonly label: string;
}

type Outcome =
  | { readonly kind: 'reply'; readonly status: number; readonly body?: unknown; readonly headers: ReplySpec['headers'] }
  | { readonly kind: 'network-error'; readonly message: string };

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD'] as const;
const LOOPBACK_URL = /^https?:\/\/(127\.0\.0\.1|localhost|\[::1\])(:\d+)?(\/|$)/;

export function createHttpHarness<R extends HarnessRequest>(forge: ForgeHarnessOptions<R>): HttpHarness<R> {
  const base = new URL(forge.baseUrl);
  const recorded: R[] = [];
  const problems: string[] = [];
  const expectations: ExpectationState<R>[] = [];
  const scope = nock(base.origin);
  const interceptors = METHODS.map((method) => scope.intercept(() => true, method).query(true));
  for (const interceptor of interceptors) {
    interceptor.reply(function (uri, body, callback) {
      const method = (this.req as { method?: string }).method ?? 'GET';
      const outcome = handle(method, uri, body, this.req.headers);
      if (outcome.kind === 'network-error') callback(new Error(outcome.message), [500]);
      else {
        const headers = replyHeaders(forge.jsonContentType, outcome.body, outcome.headers);
        callback(null, [outcome.status, serialise(outcome.body), headers]);
      }
    });
  }
  scope.persist();

  // A request to a host with no harness must not reach the real network.
  const onNoMatch = (req: { method?: string; href?: string; path?: string; options?: { href?: string } }) => {
    const href = req.href ?? req.options?.href ?? req.path ?? '?';
    // Loopback passes through (the server under test, the embedded store); nock still reports it as unmatched.
    if (LOOPBACK_URL.test(href)) return;
    problems.push(`request without a harness: ${req.method ?? '?'} ${href}`);
  };
  nock.emitter.on('no match', onNoMatch);
  const releaseNetwork = holdNetwork();

  let closed = false;

  function handle(method: string, uri: string, rawBody: unknown, headers: Record<string, string>): Outcome {
    const url = new URL(uri, base.origin);
    const body = parseBody(rawBody);
    const checked = forge.check(method, url, body);
    problems.push(...checked.problems);
    const request = forge.record(
      {
        method,
        path: safeDecode(checked.rawPath),
        query: Object.fromEntries(url.searchParams),
        url: url.href,
        body,
        headers: { ...headers },
        ...(checked.endpoint === undefined ? {} : { endpoint: checked.endpoint }),
      },
      checked,
    );
    recorded.push(request);
    const expectation = expectations.find((e) => e.remaining > 0 && matches(e, request));
    if (expectation === undefined) {
      const message = `no interceptor for ${method} ${request.path}${url.search}`;
      problems.push(message);
      return { kind: 'reply', status: 501, body: { message: `${forge.slug} harness: ${message}` }, headers: {} };
    }
    expectation.remaining--;
    const responder = expectation.responder;
    if (responder === undefined) {
      problems.push(`${expectation.label}: set up without a reply()`);
      return { kind: 'reply', status: 501, body: { message: `${forge.slug} harness: no reply set up` }, headers: {} };
    }
    if (responder.kind === 'network-error') return { kind: 'network-error', message: responder.message };
    const reply = responder.reply(request);
    if (checked.endpoint !== undefined && forge.checkReplyStatus !== undefined) {
      problems.push(...forge.checkReplyStatus(checked.endpoint, reply.status));
    }
    return { kind: 'reply', status: reply.status, body: reply.body, headers: reply.headers ?? {} };
  }

  function expect(method: string, path: string | RegExp): Expectation<R> {
    const label = `${method} ${String(path)}`;
    const at = typeof path === 'string' ? path.indexOf('?') : -1;
    const state: ExpectationState<R> =
      typeof path === 'string' && at !== -1
        ? {
            method,
            path: path.slice(0, at),
            query: Object.fromEntries(new URLSearchParams(path.slice(at + 1))),
            remaining: 1,
            label,
          }
        : { method, path, remaining: 1, label };
    expectations.push(state);
    const expectation: Expectation<R> = {
      query(matcher) {
        state.query = matcher;
        return expectation;
      },
      body(matcher) {
        state.body = matcher;
        return expectation;
      },
      times(count) {
        state.remaining = count;
        return expectation;
      },
      reply(
        statusOrFn: number | ((request: R) => ReplySpec),
        body?: unknown,
        headers?: Readonly<Record<string, string>>,
      ) {
        state.responder =
          typeof statusOrFn === 'function'
            ? { kind: 'reply', reply: statusOrFn }
            : {
                kind: 'reply',
                reply: () => ({ status: statusOrFn, body, ...(headers === undefined ? {} : { headers }) }),
              };
        return api;
      },
      replyWithNetworkError(message = 'socket hang up') {
        state.responder = { kind: 'network-error', message };
        return api;
      },
    };
    return expectation;
  }

  const api: HttpHarness<R> = {
    baseUrl: forge.baseUrl,
    get: (path) => expect('GET', path),
    post: (path) => expect('POST', path),
    put: (path) => expect('PUT', path),
    patch: (path) => expect('PATCH', path),
    delete: (path) => expect('DELETE', path),
    requests(filter) {
      return recorded.filter(
        (r) =>
          (filter?.method === undefined || r.method === filter.method.toUpperCase()) &&
          (filter?.path === undefined || pathMatches(filter.path, r.path)),
      );
    },
    problems: () => [...problems],
    assertDone() {
      const unused = expectations.filter((e) => e.remaining > 0).map((e) => `set up but not called: ${e.label}`);
      const all = [...problems, ...unused];
      if (all.length > 0) throw new Error(`${forge.title}:\n  ${all.join('\n  ')}`);
    },
    close() {
      if (closed) return;
      closed = true;
      for (const interceptor of interceptors) nock.removeInterceptor(interceptor);
      nock.emitter.removeListener('no match', onNoMatch);
      // Another forge's harness may still be open: the network stays closed until the last one closes.
      releaseNetwork();
    },
  };
  return api;
}

/**
 * Vitest wiring: a fresh harness before each test; after it, the harness is closed and the test fails on any
 * problem or unused expectation.
 */
export function useHttpHarness<H extends { close(): void; assertDone(): void }>(
  name: string,
  create: () => H,
): () => H {
  let current: H | undefined;
  beforeEach(() => {
    current = create();
  });
  afterEach(() => {
    const api = current;
    current = undefined;
    if (api === undefined) return;
    api.close();
    api.assertDone();
  });
  return () => {
    if (current === undefined) throw new Error(`${name}: no harness outside a test`);
    return current;
  };
}

function matches<R extends HarnessRequest>(e: ExpectationState<R>, r: R): boolean {
  if (e.method !== r.method || !pathMatches(e.path, r.path)) return false;
  if (e.query !== undefined) {
    if (typeof e.query === 'function') {
      if (!e.query({ ...r.query })) return false;
    } else {
      const want = Object.entries(e.query).map(([k, v]) => [k, String(v)] as const);
      if (want.length !== Object.keys(r.query).length || want.some(([k, v]) => r.query[k] !== v)) return false;
    }
  }
  if (e.body !== undefined) {
    if (typeof e.body === 'function') return e.body(r.body);
    const body = r.body;
    if (typeof body !== 'object' || body === null) return false;
    return Object.entries(e.body).every(([k, v]) => deepEqual((body as Record<string, unknown>)[k], v));
  }
  return true;
}

function pathMatches(want: string | RegExp, path: string): boolean {
  return typeof want === 'string' ? want === path : want.test(path);
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return (
    ka.length === kb.length &&
    ka.every((k) => deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]))
  );
}

function parseBody(raw: unknown): unknown {
  if (raw === '' || raw === undefined || raw === null) return undefined;
  if (typeof raw !== 'string') return raw;
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    return raw;
  }
}

function replyHeaders(
  jsonContentType: string,
  body: unknown,
  headers: Readonly<Record<string, string>> = {},
): Record<string, string> {
  const json = body !== undefined && typeof body !== 'string' && !Buffer.isBuffer(body);
  const hasType = Object.keys(headers).some((k) => k.toLowerCase() === 'content-type');
  return json && !hasType ? { 'content-type': jsonContentType, ...headers } : { ...headers };
}

function serialise(body: unknown): string | Buffer {
  if (body === undefined) return '';
  if (typeof body === 'string' || Buffer.isBuffer(body)) return body;
  return JSON.stringify(body);
}
