/**
 * A nock harness for Gitea's REST API, the twin of github-api.ts. Every request is recorded and checked against
 * Gitea's published API description (`../shared/contracts/gitea-swagger-v1.json`, Swagger 2.0, basePath `/api/v1`):
 * the path matches a template, the method exists, required path/query parameters are present and declared ones only
 * are sent, integers are integers, a `{filepath}` is sent as Gitea's `{+path}` (slashes not percent-encoded), and
 * the JSON body validates against the `in: body` parameter's schema (`#/definitions/...` resolved). A reply status
 * in 2xx/3xx must be one the operation declares. A failed check, a request nothing was set up for, and an
 * expectation left unused all fail the test (STYLE.md: a mock that is set up but never called fails the test).
 *
 *   const api = useGiteaApi();                       // beforeEach: open; afterEach: close + assertDone
 *   api().get('/repos/o/r/pulls/1').reply(200, { ... });
 */
import { readFileSync } from 'node:fs';
import nock from 'nock';
import { afterEach, beforeEach } from 'vitest';
import { holdNetwork } from './nock-network.ts';

// ---------------------------------------------------------------------------------------------------------------
// The swagger description: loaded once per worker, path templates compiled once.
// ---------------------------------------------------------------------------------------------------------------

/** Beside the repository (/work/shared/contracts here; CI checks out shared/ beside the clone too). */
export const GITEA_SWAGGER_URL = new URL('../../../shared/contracts/gitea-swagger-v1.json', import.meta.url);
export const GITEA_API_BASE_PATH = '/api/v1';

interface Schema {
  readonly $ref?: string;
  readonly type?: string;
  readonly enum?: readonly unknown[];
  readonly required?: readonly string[];
  readonly properties?: Readonly<Record<string, Schema>>;
  readonly additionalProperties?: boolean | Schema;
  readonly items?: Schema;
  readonly allOf?: readonly Schema[];
  readonly 'x-nullable'?: boolean;
}

interface Parameter {
  readonly $ref?: string;
  readonly name: string;
  readonly in: 'path' | 'query' | 'header' | 'body' | 'formData';
  readonly required?: boolean;
  readonly type?: string;
  readonly enum?: readonly unknown[];
  readonly schema?: Schema;
}

interface Operation {
  readonly parameters?: readonly Parameter[];
  readonly responses?: Readonly<Record<string, unknown>>;
}

type PathItem = Readonly<Record<string, unknown>> & { readonly parameters?: readonly Parameter[] };

interface SwaggerSpec {
  readonly basePath: string;
  readonly paths: Readonly<Record<string, PathItem>>;
  readonly definitions: Readonly<Record<string, Schema>>;
  readonly parameters?: Readonly<Record<string, Parameter>>;
}

interface CompiledTemplate {
  readonly template: string;
  readonly regex: RegExp;
  readonly names: readonly string[];
  /** Literal characters: among templates that match, the most literal one is the most specific. */
  readonly literal: number;
  readonly item: PathItem;
}

interface LoadedSpec {
  readonly spec: SwaggerSpec;
  readonly templates: readonly CompiledTemplate[];
}

const HTTP_METHODS = ['get', 'post', 'put', 'patch', 'delete', 'head', 'options'] as const;
/**
 * Parameters Gitea routes as a wildcard (`/contents/*`, `/raw/*`, `/compare/*`): they may span segments. Swagger
 * 2.0 has no way to say so; Gitea's own clients send them as `{+path}`.
 */
const MULTI_SEGMENT = new Set(['filepath', 'basehead']);
let loaded: LoadedSpec | undefined;

function loadSpec(): LoadedSpec {
  if (loaded !== undefined) return loaded;
  const spec = JSON.parse(readFileSync(GITEA_SWAGGER_URL, 'utf8')) as SwaggerSpec;
  const templates = Object.entries(spec.paths).map(([template, item]) => compileTemplate(template, item));
  loaded = { spec, templates };
  return loaded;
}

function compileTemplate(template: string, item: PathItem): CompiledTemplate {
  const names: string[] = [];
  let literal = 0;
  const source = template.replace(/\{([^}]+)\}|[^{]+/g, (part, name: string | undefined) => {
    if (name === undefined) {
      literal += part.length;
      return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    }
    names.push(name);
    return MULTI_SEGMENT.has(name) ? '(.+)' : '([^/]+)';
  });
  return { template, regex: new RegExp(`^${source}$`), names, literal, item };
}

function operationsOf(item: PathItem): [string, Operation][] {
  return HTTP_METHODS.filter((m) => typeof item[m] === 'object' && item[m] !== null).map((m) => [
    m,
    item[m] as Operation,
  ]);
}

function resolveRef<T extends { readonly $ref?: string }>(spec: SwaggerSpec, value: T): T {
  let current: T = value;
  for (let hops = 0; current.$ref !== undefined; hops++) {
    if (hops > 32) throw new Error(`$ref loop at ${current.$ref}`);
    const ref = current.$ref;
    if (!ref.startsWith('#/')) throw new Error(`unsupported $ref ${ref}`);
    let node: unknown = spec;
    for (const key of ref.slice(2).split('/')) {
      node = (node as Record<string, unknown> | undefined)?.[key.replace(/~1/g, '/').replace(/~0/g, '~')];
    }
    if (node === undefined) throw new Error(`unresolved $ref ${ref}`);
    current = node as T;
  }
  return current;
}

/** A method + path template that Gitea's description declares (for `GITEA_ENDPOINTS` checks). */
export function hasGiteaEndpoint(method: string, template: string): boolean {
  const item = loadSpec().spec.paths[template];
  return item !== undefined && typeof item[method.toLowerCase()] === 'object';
}

export interface GiteaRequestCheck {
  /** The matched `METHOD /template`, when the path and method exist. */
  readonly endpoint?: string;
  readonly problems: readonly string[];
}

/** Problems of one request against Gitea's description; `[]` when it conforms. `url` may omit `/api/v1`. */
export function checkGiteaRequest(method: string, url: string, body: unknown): string[] {
  return [...describeGiteaRequest(method, url, body).problems];
}

export function describeGiteaRequest(method: string, url: string, body: unknown): GiteaRequestCheck {
  const { spec, templates } = loadSpec();
  const parsed = new URL(url, 'https://gitea.invalid');
  const apiAt = parsed.pathname.indexOf(`${spec.basePath}/`);
  // The raw (still percent-encoded) path below the API base: `{+path}` is checked on what was sent.
  const rawPath = apiAt === -1 ? parsed.pathname : parsed.pathname.slice(apiAt + spec.basePath.length);
  const verb = method.toLowerCase();
  const label = `${method.toUpperCase()} ${rawPath}`;
  const matches = templates.filter((t) => t.regex.test(rawPath)).sort((a, b) => b.literal - a.literal);
  if (matches.length === 0) return { problems: [`${label}: no path in Gitea's API description matches`] };
  const match = matches.find((t) => typeof t.item[verb] === 'object');
  if (match === undefined) {
    const known = operationsOf(matches[0]!.item).map(([m]) => m.toUpperCase());
    return {
      problems: [`${label}: ${matches[0]!.template} has no ${method.toUpperCase()} (it has ${known.join(', ')})`],
    };
  }
  const endpoint = `${method.toUpperCase()} ${match.template}`;
  const problems: string[] = [];
  const operation = match.item[verb] as Operation;
  const params = [...(match.item.parameters ?? []), ...(operation.parameters ?? [])].map((p) =>
    resolveRef<Parameter>(spec, p),
  );

  const values = match.regex.exec(rawPath)!.slice(1);
  match.names.forEach((name, i) => {
    const raw = values[i] ?? '';
    const value = safeDecode(raw);
    const param = params.find((p) => p.in === 'path' && p.name === name);
    if (param === undefined) problems.push(`${endpoint}: path parameter ${name} is not declared`);
    if (value === '' || value === 'undefined' || value === 'null' || value === 'NaN') {
      problems.push(`${endpoint}: path parameter ${name} is "${value}"`);
    } else if (param?.type === 'integer' && !/^\d+$/.test(value)) {
      problems.push(`${endpoint}: path parameter ${name} must be an integer, got "${value}"`);
    }
    if (MULTI_SEGMENT.has(name) && /%2f/i.test(raw)) {
      problems.push(`${endpoint}: path parameter ${name} has a percent-encoded slash (Gitea takes it as {+path})`);
    }
  });

  const query = parsed.searchParams;
  for (const p of params) {
    if (p.in === 'query' && p.required === true && !query.has(p.name)) {
      problems.push(`${endpoint}: required query parameter ${p.name} is missing`);
    }
  }
  for (const [name, value] of query) {
    const param = params.find((p) => p.in === 'query' && p.name === name);
    if (param === undefined) {
      problems.push(`${endpoint}: query parameter ${name} is not declared`);
      continue;
    }
    if (param.type === 'integer' && !/^-?\d+$/.test(value)) {
      problems.push(`${endpoint}: query parameter ${name} must be an integer, got "${value}"`);
    }
    if (param.enum !== undefined && !param.enum.includes(value)) {
      problems.push(`${endpoint}: query parameter ${name} must be one of ${param.enum.join(', ')}, got "${value}"`);
    }
  }

  const hasBody = body !== undefined && body !== '' && body !== null;
  const bodyParam = params.find((p) => p.in === 'body');
  if (bodyParam === undefined) {
    if (hasBody) problems.push(`${endpoint}: takes no request body, got one`);
  } else if (!hasBody) {
    if (bodyParam.required === true) problems.push(`${endpoint}: the JSON request body is required`);
  } else if (typeof body === 'string') {
    problems.push(`${endpoint}: the request body is not JSON`);
  } else if (bodyParam.schema !== undefined) {
    const found: string[] = [];
    validate(spec, bodyParam.schema, body, 'body', found, 0);
    problems.push(...found.map((p) => `${endpoint}: ${p}`));
  }
  return { endpoint, problems };
}

/** Problems of a reply status: a success or redirect the operation does not declare is not Gitea's behaviour. */
export function checkGiteaReplyStatus(endpoint: string, status: number): string[] {
  if (status < 200 || status >= 400) return [];
  const [method, template] = endpoint.split(' ') as [string, string];
  const operation = loadSpec().spec.paths[template]?.[method.toLowerCase()] as Operation | undefined;
  const declared = Object.keys(operation?.responses ?? {});
  return declared.includes(String(status))
    ? []
    : [`${endpoint}: replies ${status}, which Gitea does not declare (it declares ${declared.join(', ')})`];
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** A small JSON Schema (Swagger 2.0) check: types, x-nullable, enum, required, properties, items, allOf. */
function validate(spec: SwaggerSpec, raw: Schema, value: unknown, at: string, problems: string[], depth: number): void {
  if (depth > 24) return;
  const schema = resolveRef(spec, raw);
  if (value === null) {
    if (schema['x-nullable'] !== true) problems.push(`${at} is null`);
    return;
  }
  for (const part of schema.allOf ?? []) validate(spec, part, value, at, problems, depth + 1);
  if (schema.type !== undefined && !hasType(schema.type, value)) {
    problems.push(`${at} must be ${schema.type}, got ${JSON.stringify(value)}`);
    return;
  }
  if (schema.enum !== undefined && !schema.enum.includes(value)) {
    problems.push(
      `${at} must be one of ${schema.enum.map((e) => JSON.stringify(e)).join(', ')}, got ${JSON.stringify(value)}`,
    );
  }
  if (Array.isArray(value)) {
    if (schema.items !== undefined) {
      value.forEach((v, i) => validate(spec, schema.items!, v, `${at}[${i}]`, problems, depth + 1));
    }
    return;
  }
  if (typeof value !== 'object' || (schema.type !== 'object' && schema.properties === undefined)) return;
  const object = value as Record<string, unknown>;
  for (const key of schema.required ?? []) {
    if (object[key] === undefined) problems.push(`${at}.${key} is required`);
  }
  for (const [key, v] of Object.entries(object)) {
    if (v === undefined) continue;
    const property = schema.properties?.[key];
    if (property !== undefined) validate(spec, property, v, `${at}.${key}`, problems, depth + 1);
    else if (schema.additionalProperties === false) problems.push(`${at}.${key} is not a known property`);
    else if (typeof schema.additionalProperties === 'object') {
      validate(spec, schema.additionalProperties, v, `${at}.${key}`, problems, depth + 1);
    } else if (schema.properties !== undefined && schema.additionalProperties === undefined) {
      // Gitea binds JSON into Go structs: an unknown field is silently dropped, which hides a misspelt option.
      problems.push(`${at}.${key} is not a known property`);
    }
  }
}

function hasType(type: string, value: unknown): boolean {
  switch (type) {
    case 'string':
      return typeof value === 'string';
    case 'integer':
      return Number.isInteger(value);
    case 'number':
      return typeof value === 'number';
    case 'boolean':
      return typeof value === 'boolean';
    case 'array':
      return Array.isArray(value);
    case 'object':
      return typeof value === 'object' && value !== null && !Array.isArray(value);
    default:
      return true;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The nock harness.
// ---------------------------------------------------------------------------------------------------------------

export interface RecordedRequest {
  readonly method: string;
  /** Decoded path below `/api/v1` (`/repos/o/r/contents/.spotcheck/workflows`), without the query. */
  readonly path: string;
  /** The same path as sent, percent-encoding kept. */
  readonly rawPath: string;
  readonly query: Readonly<Record<string, string>>;
  /** Full URL as sent. */
  readonly url: string;
  /** Parsed JSON body, or undefined. */
  readonly body: unknown;
  readonly headers: Readonly<Record<string, string>>;
  /** `METHOD /template` of Gitea's description, when the request matched one. */
  readonly endpoint?: string;
}

export interface ReplySpec {
  readonly status: number;
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}

type QueryMatcher = Readonly<Record<string, string | number | boolean>> | ((query: Record<string, string>) => boolean);
type BodyMatcher = Readonly<Record<string, unknown>> | ((body: unknown) => boolean);
type Responder =
  | { readonly kind: 'reply'; readonly reply: (request: RecordedRequest) => ReplySpec }
  | { readonly kind: 'network-error'; readonly message: string };

export interface Expectation {
  /** Exact query (every listed parameter, and no other), or a predicate. */
  query(matcher: QueryMatcher): Expectation;
  /** The JSON body contains these fields (deep-equal), or a predicate. */
  body(matcher: BodyMatcher): Expectation;
  /** How many requests this answers (1 by default). */
  times(count: number): Expectation;
  reply(status: number, body?: unknown, headers?: Readonly<Record<string, string>>): GiteaApi;
  reply(fn: (request: RecordedRequest) => ReplySpec): GiteaApi;
  /** The connection fails (DNS, reset): fetch rejects. */
  replyWithNetworkError(message?: string): GiteaApi;
}

export interface GiteaApi {
  /** The web root given to the adapter (`https://gitea.example.org`); the API is below `/api/v1`. */
  readonly baseUrl: string;
  /** Paths are below `/api/v1`, as in Gitea's description; a `?query` in the path is matched exactly. */
  get(path: string | RegExp): Expectation;
  post(path: string | RegExp): Expectation;
  put(path: string | RegExp): Expectation;
  patch(path: string | RegExp): Expectation;
  delete(path: string | RegExp): Expectation;
  /** Requests seen so far, optionally only those of one method and (decoded) path. */
  requests(filter?: { readonly method?: string; readonly path?: string | RegExp }): RecordedRequest[];
  /** Description violations, requests nothing was set up for, and requests to hosts without a harness. */
  problems(): string[];
  /** Throws when there are problems or expectations left unused. */
  assertDone(): void;
  /** Removes the interceptors (idempotent). */
  close(): void;
}

export interface GiteaApiOptions {
  /** The Gitea web root (default `https://gitea.example.org`); a sub-path such as `/git` is kept. */
  readonly baseUrl?: string;
}

interface ExpectationState {
  readonly method: string;
  readonly path: string | RegExp;
  query?: QueryMatcher;
  body?: BodyMatcher;
  remaining: number;
  responder?: Responder;
  readonly label: string;
}

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD'] as const;
const LOOPBACK_URL = /^https?:\/\/(127\.0\.0\.1|localhost|\[::1\])(:\d+)?(\/|$)/;

export function createGiteaApi(options: GiteaApiOptions = {}): GiteaApi {
  const baseUrl = (options.baseUrl ?? 'https://gitea.example.org').replace(/\/+$/, '');
  const base = new URL(baseUrl);
  const apiPath = `${base.pathname === '/' ? '' : base.pathname}${GITEA_API_BASE_PATH}`;
  loadSpec();
  const recorded: RecordedRequest[] = [];
  const problems: string[] = [];
  const expectations: ExpectationState[] = [];
  const scope = nock(base.origin);
  const interceptors = METHODS.map((method) => scope.intercept(() => true, method).query(true));
  for (const interceptor of interceptors) {
    interceptor.reply(function (uri, body, callback) {
      const method = (this.req as { method?: string }).method ?? 'GET';
      const outcome = handle(method, uri, body, this.req.headers);
      if (outcome.kind === 'network-error') callback(new Error(outcome.message), [500]);
      else callback(null, [outcome.status, serialise(outcome.body), replyHeaders(outcome.body, outcome.headers)]);
    });
  }
  scope.persist();

  // A request to a host with no harness must not reach the real network.
  const onNoMatch = (req: { method?: string; href?: string; path?: string; options?: { href?: string } }) => {
    const href = req.href ?? req.options?.href ?? req.path ?? '?';
    if (LOOPBACK_URL.test(href)) return;
    problems.push(`request without a harness: ${req.method ?? '?'} ${href}`);
  };
  nock.emitter.on('no match', onNoMatch);
  const releaseNetwork = holdNetwork();

  let closed = false;

  function handle(
    method: string,
    uri: string,
    rawBody: unknown,
    headers: Record<string, string>,
  ):
    | { kind: 'reply'; status: number; body?: unknown; headers?: Readonly<Record<string, string>> }
    | { kind: 'network-error'; message: string } {
    const url = new URL(uri, base.origin);
    const body = parseBody(rawBody);
    let rawPath = url.pathname;
    let endpoint: string | undefined;
    if (rawPath.startsWith(`${apiPath}/`)) {
      rawPath = rawPath.slice(apiPath.length);
      const check = describeGiteaRequest(method, `${rawPath}${url.search}`, body);
      problems.push(...check.problems);
      endpoint = check.endpoint;
    } else {
      problems.push(`${method} ${url.pathname}: not below ${apiPath}`);
    }
    const request: RecordedRequest = {
      method,
      path: safeDecode(rawPath),
      rawPath,
      query: Object.fromEntries(url.searchParams),
      url: url.href,
      body,
      headers: { ...headers },
      ...(endpoint === undefined ? {} : { endpoint }),
    };
    recorded.push(request);
    const expectation = expectations.find((e) => e.remaining > 0 && matches(e, request));
    if (expectation === undefined) {
      const message = `no interceptor for ${method} ${request.path}${url.search}`;
      problems.push(message);
      return { kind: 'reply', status: 501, body: { message: `gitea-api harness: ${message}` } };
    }
    expectation.remaining--;
    const responder = expectation.responder;
    if (responder === undefined) {
      problems.push(`${expectation.label}: set up without a reply()`);
      return { kind: 'reply', status: 501, body: { message: 'gitea-api harness: no reply set up' } };
    }
    if (responder.kind === 'network-error') return { kind: 'network-error', message: responder.message };
    const reply = responder.reply(request);
    if (endpoint !== undefined) problems.push(...checkGiteaReplyStatus(endpoint, reply.status));
    return { kind: 'reply', status: reply.status, body: reply.body, headers: reply.headers ?? {} };
  }

  function expect(method: string, path: string | RegExp): Expectation {
    const label = `${method} ${String(path)}`;
    const at = typeof path === 'string' ? path.indexOf('?') : -1;
    const current: ExpectationState =
      typeof path === 'string' && at !== -1
        ? {
            method,
            path: path.slice(0, at),
            query: Object.fromEntries(new URLSearchParams(path.slice(at + 1))),
            remaining: 1,
            label,
          }
        : { method, path, remaining: 1, label };
    expectations.push(current);
    const expectation: Expectation = {
      query(matcher) {
        current.query = matcher;
        return expectation;
      },
      body(matcher) {
        current.body = matcher;
        return expectation;
      },
      times(count) {
        current.remaining = count;
        return expectation;
      },
      reply(
        statusOrFn: number | ((request: RecordedRequest) => ReplySpec),
        body?: unknown,
        headers?: Readonly<Record<string, string>>,
      ) {
        current.responder =
          typeof statusOrFn === 'function'
            ? { kind: 'reply', reply: statusOrFn }
            : {
                kind: 'reply',
                reply: () => ({ status: statusOrFn, body, ...(headers === undefined ? {} : { headers }) }),
              };
        return api;
      },
      replyWithNetworkError(message = 'socket hang up') {
        current.responder = { kind: 'network-error', message };
        return api;
      },
    };
    return expectation;
  }

  const api: GiteaApi = {
    baseUrl,
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
      if (all.length > 0) throw new Error(`Gitea API harness:\n  ${all.join('\n  ')}`);
    },
    close() {
      if (closed) return;
      closed = true;
      for (const interceptor of interceptors) nock.removeInterceptor(interceptor);
      nock.emitter.removeListener('no match', onNoMatch);
      // Another harness (github-api.ts) may still be open: the network stays closed until the last one closes.
      releaseNetwork();
    },
  };
  return api;
}

/**
 * Vitest wiring: a fresh harness before each test; after it, the harness is closed and the test fails on any
 * problem or unused expectation.
 */
export function useGiteaApi(options: GiteaApiOptions = {}): () => GiteaApi {
  let current: GiteaApi | undefined;
  beforeEach(() => {
    current = createGiteaApi(options);
  });
  afterEach(() => {
    const api = current;
    current = undefined;
    if (api === undefined) return;
    api.close();
    api.assertDone();
  });
  return () => {
    if (current === undefined) throw new Error('useGiteaApi: no harness outside a test');
    return current;
  };
}

function matches(e: ExpectationState, r: RecordedRequest): boolean {
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

/** Gitea answers JSON with `application/json;charset=utf-8` unless a test says otherwise. */
function replyHeaders(body: unknown, headers: Readonly<Record<string, string>> = {}): Record<string, string> {
  const json = body !== undefined && typeof body !== 'string' && !Buffer.isBuffer(body);
  const hasType = Object.keys(headers).some((k) => k.toLowerCase() === 'content-type');
  return json && !hasType ? { 'content-type': 'application/json;charset=utf-8', ...headers } : { ...headers };
}

function serialise(body: unknown): string | Buffer {
  if (body === undefined) return '';
  if (typeof body === 'string' || Buffer.isBuffer(body)) return body;
  return JSON.stringify(body);
}
