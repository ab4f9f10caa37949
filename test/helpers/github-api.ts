/**
 * A nock harness for GitHub's REST API (api.github.com or a GHE `/api/v3` base URL). Every request is recorded and
 * checked against GitHub's OpenAPI description (@octokit/openapi): the path matches a template, the method exists,
 * required path and query parameters are present and declared, the JSON body validates against the request body
 * schema ($refs resolved). A request that fails a check, a request nothing was set up for, and an expectation left
 * unused all fail the test (STYLE.md: a mock that is set up but never called fails the test).
 *
 *   const api = useGitHubApi();                      // beforeEach: open; afterEach: close + assertDone
 *   api().get('/repos/o/r/pulls/1').reply(200, { ... });
 *   api().requests().length                          // count requests
 */
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import nock from 'nock';
import { Probot, ProbotOctokit } from 'probot';
import { afterEach, beforeEach } from 'vitest';
import { holdNetwork } from './nock-network.ts';

// ---------------------------------------------------------------------------------------------------------------
// OpenAPI description: loaded once per worker, path templates compiled once.
// ---------------------------------------------------------------------------------------------------------------

export type GitHubSpecName = 'api.github.com' | 'ghes-3.19';

interface Schema {
  readonly $ref?: string;
  readonly type?: string;
  readonly nullable?: boolean;
  readonly enum?: readonly unknown[];
  readonly required?: readonly string[];
  readonly properties?: Readonly<Record<string, Schema>>;
  readonly additionalProperties?: boolean | Schema;
  readonly items?: Schema;
  readonly oneOf?: readonly Schema[];
  readonly anyOf?: readonly Schema[];
  readonly allOf?: readonly Schema[];
}

interface Parameter {
  readonly $ref?: string;
  readonly name: string;
  readonly in: 'path' | 'query' | 'header' | 'cookie';
  readonly required?: boolean;
  readonly schema?: Schema;
  readonly 'x-multi-segment'?: boolean;
}

interface Operation {
  readonly parameters?: readonly Parameter[];
  readonly requestBody?: {
    readonly $ref?: string;
    readonly required?: boolean;
    readonly content?: Readonly<Record<string, { readonly schema?: Schema }>>;
  };
}

type PathItem = Readonly<Record<string, unknown>> & { readonly parameters?: readonly Parameter[] };

interface OpenApiSpec {
  readonly paths: Readonly<Record<string, PathItem>>;
  readonly components: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
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
  readonly spec: OpenApiSpec;
  readonly templates: readonly CompiledTemplate[];
}

const HTTP_METHODS = ['get', 'post', 'put', 'patch', 'delete', 'head', 'options'] as const;
const loadedSpecs = new Map<GitHubSpecName, LoadedSpec>();
const requireFromHere = createRequire(import.meta.url);

/** Path of a file in an installed package (the packages declare no `exports` for their generated JSON). */
export function packageFile(pkg: string, file: string): string {
  return join(dirname(requireFromHere.resolve(`${pkg}/package.json`)), file);
}

function loadSpec(name: GitHubSpecName): LoadedSpec {
  const cached = loadedSpecs.get(name);
  if (cached !== undefined) return cached;
  const spec = JSON.parse(
    readFileSync(packageFile('@octokit/openapi', `generated/${name}.json`), 'utf8'),
  ) as OpenApiSpec;
  const templates = Object.entries(spec.paths).map(([template, item]) => compileTemplate(spec, template, item));
  const loaded = { spec, templates };
  loadedSpecs.set(name, loaded);
  return loaded;
}

function compileTemplate(spec: OpenApiSpec, template: string, item: PathItem): CompiledTemplate {
  const multi = new Set<string>();
  for (const p of allParameters(spec, item)) if (p.in === 'path' && p['x-multi-segment'] === true) multi.add(p.name);
  const names: string[] = [];
  let literal = 0;
  const source = template.replace(/\{([^}]+)\}|[^{]+/g, (part, name: string | undefined) => {
    if (name === undefined) {
      literal += part.length;
      return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    }
    names.push(name);
    return multi.has(name) ? '(.+)' : '([^/]+)';
  });
  return { template, regex: new RegExp(`^${source}$`), names, literal, item };
}

function operationsOf(item: PathItem): [string, Operation][] {
  return HTTP_METHODS.filter((m) => typeof item[m] === 'object' && item[m] !== null).map((m) => [
    m,
    item[m] as Operation,
  ]);
}

function allParameters(spec: OpenApiSpec, item: PathItem): Parameter[] {
  const params = [...(item.parameters ?? [])];
  for (const [, op] of operationsOf(item)) params.push(...(op.parameters ?? []));
  return params.map((p) => resolveRef<Parameter>(spec, p));
}

function resolveRef<T extends { readonly $ref?: string }>(spec: OpenApiSpec, value: T): T {
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

/** A method + path template that GitHub's OpenAPI description declares (for `GITHUB_ENDPOINTS` checks). */
export function hasGitHubEndpoint(method: string, template: string, spec: GitHubSpecName = 'api.github.com'): boolean {
  const item = loadSpec(spec).spec.paths[template];
  return item !== undefined && typeof item[method.toLowerCase()] === 'object';
}

/**
 * Whether two `METHOD /template` strings name the same requests: parameter names aside, and `{base}...{head}`
 * equal to `{basehead}` (GitHub's description has both spellings of "Compare two commits").
 */
export function sameEndpoint(a: string, b: string): boolean {
  const norm = (e: string) => e.replace(/\{[^}]+\}\.\.\.\{[^}]+\}/g, '{}').replace(/\{[^}]+\}/g, '{}');
  return norm(a) === norm(b);
}

export interface CheckOptions {
  readonly spec?: GitHubSpecName;
}

export interface GitHubRequestCheck {
  /** The matched `METHOD /template`, when the path and method exist. */
  readonly endpoint?: string;
  readonly problems: readonly string[];
}

/** Problems of one request against GitHub's OpenAPI description; `[]` when it conforms. */
export function checkGitHubRequest(method: string, url: string, body: unknown, options: CheckOptions = {}): string[] {
  return [...describeGitHubRequest(method, url, body, options).problems];
}

export function describeGitHubRequest(
  method: string,
  url: string,
  body: unknown,
  options: CheckOptions = {},
): GitHubRequestCheck {
  const { spec, templates } = loadSpec(options.spec ?? 'api.github.com');
  const parsed = new URL(url, 'https://api.github.com');
  // GitHub Enterprise Server serves the same REST API under /api/v3.
  const rawPath = parsed.pathname.startsWith('/api/v3/') ? parsed.pathname.slice('/api/v3'.length) : parsed.pathname;
  const verb = method.toLowerCase();
  const label = `${method.toUpperCase()} ${rawPath}`;
  const matches = templates.filter((t) => t.regex.test(rawPath)).sort((a, b) => b.literal - a.literal);
  if (matches.length === 0) return { problems: [`${label}: no path in GitHub's OpenAPI description matches`] };
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
    const value = safeDecode(values[i] ?? '');
    const param = params.find((p) => p.in === 'path' && p.name === name);
    if (value === '' || value === 'undefined' || value === 'null' || value === 'NaN') {
      problems.push(`${endpoint}: path parameter ${name} is "${value}"`);
    } else if (param?.schema !== undefined) {
      const schema = resolveRef(spec, param.schema);
      if (schema.type === 'integer' && !/^\d+$/.test(value)) {
        problems.push(`${endpoint}: path parameter ${name} must be an integer, got "${value}"`);
      }
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
    const schema = param.schema === undefined ? undefined : resolveRef(spec, param.schema);
    if (schema?.type === 'integer' && !/^-?\d+$/.test(value)) {
      problems.push(`${endpoint}: query parameter ${name} must be an integer, got "${value}"`);
    }
    if (schema?.enum !== undefined && !schema.enum.includes(value)) {
      problems.push(`${endpoint}: query parameter ${name} must be one of ${schema.enum.join(', ')}, got "${value}"`);
    }
  }

  const hasBody = body !== undefined && body !== '' && body !== null;
  const requestBody = operation.requestBody === undefined ? undefined : resolveRef(spec, operation.requestBody);
  const schema = requestBody?.content?.['application/json']?.schema;
  if (requestBody === undefined) {
    if (hasBody) problems.push(`${endpoint}: takes no request body, got one`);
  } else if (!hasBody) {
    if (requestBody.required === true) problems.push(`${endpoint}: the JSON request body is required`);
  } else if (typeof body === 'string') {
    problems.push(`${endpoint}: the request body is not JSON`);
  } else if (schema !== undefined) {
    validate(spec, schema, body, 'body', problems, 0);
    problems.forEach((p, i) => {
      if (p.startsWith('body')) problems[i] = `${endpoint}: ${p}`;
    });
  }
  return { endpoint, problems };
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** A small JSON Schema (OpenAPI 3.0) check: types, nullable, enum, required, properties, items, *Of. */
function validate(spec: OpenApiSpec, raw: Schema, value: unknown, at: string, problems: string[], depth: number): void {
  if (depth > 24) return;
  const schema = resolveRef(spec, raw);
  if (value === null) {
    if (schema.nullable !== true && schema.type !== 'null' && !isComposite(schema)) problems.push(`${at} is null`);
    if (!isComposite(schema)) return;
  }
  for (const part of schema.allOf ?? []) validate(spec, part, value, at, problems, depth + 1);
  for (const alternatives of [schema.oneOf, schema.anyOf]) {
    if (alternatives === undefined) continue;
    const tries = alternatives.map((alt) => {
      const found: string[] = [];
      validate(spec, alt, value, at, found, depth + 1);
      return found;
    });
    if (!tries.some((t) => t.length === 0)) {
      problems.push(`${at} matches none of ${alternatives.length} alternatives (${tries[0]?.[0] ?? 'no detail'})`);
    }
  }
  if (value === null) return;
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
    }
  }
}

function isComposite(schema: Schema): boolean {
  return schema.oneOf !== undefined || schema.anyOf !== undefined || schema.allOf !== undefined;
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
  /** Decoded path below the API base (`/repos/o/r/contents/.spotcheck/workflows`), without the query. */
  readonly path: string;
  readonly query: Readonly<Record<string, string>>;
  /** Full URL as sent. */
  readonly url: string;
  /** Parsed JSON body, or undefined. */
  readonly body: unknown;
  readonly headers: Readonly<Record<string, string>>;
  /** `METHOD /template` of the OpenAPI description, when the request matched one. */
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
  | {
      readonly kind: 'network-error';
      readonly message: string;
    };

export interface Expectation {
  /** Exact query (every listed parameter, and no other), or a predicate. */
  query(matcher: QueryMatcher): Expectation;
  /** The JSON body contains these fields (deep-equal), or a predicate. */
  body(matcher: BodyMatcher): Expectation;
  /** How many requests this answers (1 by default). */
  times(count: number): Expectation;
  reply(status: number, body?: unknown, headers?: Readonly<Record<string, string>>): GitHubApi;
  reply(fn: (request: RecordedRequest) => ReplySpec): GitHubApi;
  /** The connection fails (DNS, reset): Octokit reports a status-500 error without a response. */
  replyWithNetworkError(message?: string): GitHubApi;
}

export interface GitHubApi {
  /** `https://api.github.com`, or the GHE base URL ending in `/api/v3`. */
  readonly baseUrl: string;
  get(path: string | RegExp): Expectation;
  post(path: string | RegExp): Expectation;
  put(path: string | RegExp): Expectation;
  patch(path: string | RegExp): Expectation;
  delete(path: string | RegExp): Expectation;
  /** Requests seen so far, optionally only those of one method and path. */
  requests(filter?: { readonly method?: string; readonly path?: string | RegExp }): RecordedRequest[];
  /** OpenAPI violations, requests nothing was set up for, and requests to hosts without a harness. */
  problems(): string[];
  /** Throws when there are problems or expectations left unused. */
  assertDone(): void;
  /** Removes the interceptors (idempotent). */
  close(): void;
}

export interface GitHubApiOptions {
  /** `https://api.github.com` (default) or a GHE base such as `https://ghe.example.com/api/v3`. */
  readonly baseUrl?: string;
  readonly spec?: GitHubSpecName;
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

export function createGitHubApi(options: GitHubApiOptions = {}): GitHubApi {
  const baseUrl = (options.baseUrl ?? 'https://api.github.com').replace(/\/+$/, '');
  const base = new URL(baseUrl);
  const basePath = base.pathname === '/' ? '' : base.pathname;
  const spec = options.spec ?? 'api.github.com';
  loadSpec(spec);
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
    // Loopback passes through (the server under test, the embedded store); nock still reports it as unmatched.
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
    | {
        kind: 'network-error';
        message: string;
      } {
    const url = new URL(uri, base.origin);
    let path = url.pathname;
    if (basePath !== '' && path.startsWith(`${basePath}/`)) path = path.slice(basePath.length);
    const body = parseBody(rawBody);
    const check = describeGitHubRequest(method, `${path}${url.search}`, body, { spec });
    problems.push(...check.problems);
    const request: RecordedRequest = {
      method,
      path: safeDecode(path),
      query: Object.fromEntries(url.searchParams),
      url: url.href,
      body,
      headers: { ...headers },
      ...(check.endpoint === undefined ? {} : { endpoint: check.endpoint }),
    };
    recorded.push(request);
    const expectation = expectations.find((e) => e.remaining > 0 && matches(e, request));
    if (expectation === undefined) {
      const message = `no interceptor for ${method} ${request.path}${url.search}`;
      problems.push(message);
      return { kind: 'reply', status: 501, body: { message: `github-api harness: ${message}` } };
    }
    expectation.remaining--;
    const responder = expectation.responder;
    if (responder === undefined) {
      problems.push(`${expectation.label}: set up without a reply()`);
      return { kind: 'reply', status: 501, body: { message: 'github-api harness: no reply set up' } };
    }
    if (responder.kind === 'network-error') return { kind: 'network-error', message: responder.message };
    const reply = responder.reply(request);
    return { kind: 'reply', status: reply.status, body: reply.body, headers: reply.headers ?? {} };
  }

  function expect(method: string, path: string | RegExp): Expectation {
    let queryFromPath: Record<string, string> | undefined;
    let plainPath = path;
    if (typeof path === 'string' && path.includes('?')) {
      const at = path.indexOf('?');
      plainPath = path.slice(0, at);
      queryFromPath = Object.fromEntries(new URLSearchParams(path.slice(at + 1)));
    }
    const state: ExpectationState = { method, path: plainPath, remaining: 1, label: `${method} ${String(path)}` };
    if (queryFromPath !== undefined) state.query = queryFromPath;
    expectations.push(state);
    const expectation: Expectation = {
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
        statusOrFn: number | ((request: RecordedRequest) => ReplySpec),
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

  const api: GitHubApi = {
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
      if (all.length > 0) throw new Error(`GitHub API harness:\n  ${all.join('\n  ')}`);
    },
    close() {
      if (closed) return;
      closed = true;
      for (const interceptor of interceptors) nock.removeInterceptor(interceptor);
      nock.emitter.removeListener('no match', onNoMatch);
      releaseNetwork();
    },
  };
  return api;
}

/**
 * Vitest wiring: a fresh harness before each test; after it, the harness is closed and the test fails on any
 * problem or unused expectation.
 */
export function useGitHubApi(options: GitHubApiOptions = {}): () => GitHubApi {
  let current: GitHubApi | undefined;
  beforeEach(() => {
    current = createGitHubApi(options);
  });
  afterEach(() => {
    const api = current;
    current = undefined;
    if (api === undefined) return;
    api.close();
    api.assertDone();
  });
  return () => {
    if (current === undefined) throw new Error('useGitHubApi: no harness outside a test');
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

/** GitHub answers JSON with `application/json; charset=utf-8` unless a test says otherwise. */
function replyHeaders(body: unknown, headers: Readonly<Record<string, string>> = {}): Record<string, string> {
  const json = body !== undefined && typeof body !== 'string' && !Buffer.isBuffer(body);
  const hasType = Object.keys(headers).some((k) => k.toLowerCase() === 'content-type');
  return json && !hasType ? { 'content-type': 'application/json; charset=utf-8', ...headers } : { ...headers };
}

function serialise(body: unknown): string | Buffer | Record<string, unknown> {
  if (body === undefined) return '';
  if (typeof body === 'string' || Buffer.isBuffer(body)) return body;
  return JSON.stringify(body);
}

// ---------------------------------------------------------------------------------------------------------------
// Clients for tests.
// ---------------------------------------------------------------------------------------------------------------

/** Probot's octokit with a fixed token, retries and throttling off (a test counts each request once). */
export function createTestOctokit(baseUrl = 'https://api.github.com'): ProbotOctokit {
  return new ProbotOctokit({
    auth: { token: 'test-installation-token' },
    baseUrl,
    retry: { enabled: false },
    throttle: { enabled: false },
  });
}

let privateKey: string | undefined;

/** An RSA key for a test GitHub App (generated once per worker). */
export function testPrivateKey(): string {
  privateKey ??= generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  }).privateKey;
  return privateKey;
}

/** A real Probot for app id 1 with a generated key, retries and throttling off. */
export function createTestProbot(options: { readonly baseUrl?: string; readonly secret?: string } = {}): Probot {
  return new Probot({
    appId: 1,
    privateKey: testPrivateKey(),
    secret: options.secret ?? 'test-secret',
    logLevel: 'fatal',
    Octokit: ProbotOctokit.defaults({ retry: { enabled: false }, throttle: { enabled: false } }),
    ...(options.baseUrl === undefined ? {} : { baseUrl: options.baseUrl }),
  });
}
