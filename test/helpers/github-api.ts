/**
 * A nock harness for GitHub's REST API (api.github.com or a GHE `/api/v3` base URL). Every request is recorded and
 * checked against GitHub's OpenAPI description (@octokit/openapi): the path matches a template, the method exists,
 * required path and query parameters are present and declared, the JSON body validates against the request body
 * schema ($refs resolved). A request that fails a check, a request nothing was set up for, and an expectation left
 * unused all fail the test (docs/conventions.md: a mock that is set up but never called fails the test).
 *
 *   const api = useGitHubApi();                      // beforeEach: open; afterEach: close + assertDone
 *   api().get('/repos/o/r/pulls/1').reply(200, { ... });
 *   api().requests().length                          // count requests
 */
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Probot, ProbotOctokit } from 'probot';
import {
  type CompiledTemplate,
  type PathItem as SharedPathItem,
  compileTemplate,
  hasType,
  operationsOf,
  resolveRef,
  safeDecode,
} from './api-description.ts';
import {
  type Expectation as HarnessExpectation,
  type HarnessRequest,
  type HttpHarness,
  type ReplySpec,
  createHttpHarness,
  useHttpHarness,
} from './http-harness.ts';

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

type PathItem = SharedPathItem<Parameter>;

interface OpenApiSpec {
  readonly paths: Readonly<Record<string, PathItem>>;
  readonly components: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
}

interface LoadedSpec {
  readonly spec: OpenApiSpec;
  readonly templates: readonly CompiledTemplate<Parameter>[];
}

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
  const templates = Object.entries(spec.paths).map(([template, item]) => compileSpecTemplate(spec, template, item));
  const loaded = { spec, templates };
  loadedSpecs.set(name, loaded);
  return loaded;
}

function compileSpecTemplate(spec: OpenApiSpec, template: string, item: PathItem): CompiledTemplate<Parameter> {
  const multi = new Set<string>();
  for (const p of allParameters(spec, item)) if (p.in === 'path' && p['x-multi-segment'] === true) multi.add(p.name);
  return compileTemplate(template, item, (name) => multi.has(name));
}

function allParameters(spec: OpenApiSpec, item: PathItem): Parameter[] {
  const params = [...(item.parameters ?? [])];
  for (const [, op] of operationsOf<Operation>(item)) params.push(...(op.parameters ?? []));
  return params.map((p) => resolveRef<Parameter>(spec, p));
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

// ---------------------------------------------------------------------------------------------------------------
// The nock harness (http-harness.ts), checking against the OpenAPI description.
// ---------------------------------------------------------------------------------------------------------------

export type RecordedRequest = HarnessRequest;
export type { ReplySpec };
export type Expectation = HarnessExpectation<RecordedRequest>;
export type GitHubApi = HttpHarness<RecordedRequest>;

export interface GitHubApiOptions {
  /** `https://api.github.com` (default) or a GHE base such as `https://ghe.example.com/api/v3`. */
  readonly baseUrl?: string;
  readonly spec?: GitHubSpecName;
}

export function createGitHubApi(options: GitHubApiOptions = {}): GitHubApi {
  const baseUrl = (options.baseUrl ?? 'https://api.github.com').replace(/\/+$/, '');
  const base = new URL(baseUrl);
  const basePath = base.pathname === '/' ? '' : base.pathname;
  const spec = options.spec ?? 'api.github.com';
  loadSpec(spec);
  return createHttpHarness({
    title: 'GitHub API harness',
    slug: 'github-api',
    baseUrl,
    // GitHub answers JSON with `application/json; charset=utf-8`.
    jsonContentType: 'application/json; charset=utf-8',
    check(method, url, body) {
      let rawPath = url.pathname;
      if (basePath !== '' && rawPath.startsWith(`${basePath}/`)) rawPath = rawPath.slice(basePath.length);
      return { rawPath, ...describeGitHubRequest(method, `${rawPath}${url.search}`, body, { spec }) };
    },
    record: (request) => request,
  });
}

/**
 * Vitest wiring: a fresh harness before each test; after it, the harness is closed and the test fails on any
 * problem or unused expectation.
 */
export function useGitHubApi(options: GitHubApiOptions = {}): () => GitHubApi {
  return useHttpHarness('useGitHubApi', () => createGitHubApi(options));
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
