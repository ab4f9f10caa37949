/**
 * A nock harness for Gitea's REST API, the twin of github-api.ts. Every request is recorded and checked against
 * Gitea's published API description (`test/fixtures/gitea/swagger-v1.json`, Swagger 2.0, basePath `/api/v1`):
 * the path matches a template, the method exists, required path/query parameters are present and declared ones only
 * are sent, integers are integers, a `{filepath}` is sent as Gitea's `{+path}` (slashes not percent-encoded), and
 * the JSON body validates against the `in: body` parameter's schema (`#/definitions/...` resolved). A reply status
 * in 2xx/3xx must be one the operation declares. A failed check, a request nothing was set up for, and an
 * expectation left unused all fail the test (docs/conventions.md: a mock that is set up but never called fails the
 * test).
 *
 *   const api = useGiteaApi();                       // beforeEach: open; afterEach: close + assertDone
 *   api().get('/repos/o/r/pulls/1').reply(200, { ... });
 */
import { readFileSync } from 'node:fs';
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
// The swagger description: loaded once per worker, path templates compiled once.
// ---------------------------------------------------------------------------------------------------------------

/** A copy kept in the repository (test/fixtures/gitea/README.md names the Gitea commit it was taken from). */
export const GITEA_SWAGGER_URL = new URL('../fixtures/gitea/swagger-v1.json', import.meta.url);
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

type PathItem = SharedPathItem<Parameter>;

interface SwaggerSpec {
  readonly basePath: string;
  readonly paths: Readonly<Record<string, PathItem>>;
  readonly definitions: Readonly<Record<string, Schema>>;
  readonly parameters?: Readonly<Record<string, Parameter>>;
}

interface LoadedSpec {
  readonly spec: SwaggerSpec;
  readonly templates: readonly CompiledTemplate<Parameter>[];
}

/**
 * Parameters Gitea routes as a wildcard (`/contents/*`, `/raw/*`, `/compare/*`): they may span segments. Swagger
 * 2.0 has no way to say so; Gitea's own clients send them as `{+path}`.
 */
const MULTI_SEGMENT = new Set(['filepath', 'basehead']);
let loaded: LoadedSpec | undefined;

function loadSpec(): LoadedSpec {
  if (loaded !== undefined) return loaded;
  const spec = JSON.parse(readFileSync(GITEA_SWAGGER_URL, 'utf8')) as SwaggerSpec;
  const templates = Object.entries(spec.paths).map(([template, item]) =>
    compileTemplate(template, item, (name) => MULTI_SEGMENT.has(name)),
  );
  loaded = { spec, templates };
  return loaded;
}

/** Whether every path parameter of `template` that the description limits to an enum has one of its values. */
function enumsMatch(spec: SwaggerSpec, template: CompiledTemplate<Parameter>, rawPath: string): boolean {
  const values = template.regex.exec(rawPath)?.slice(1) ?? [];
  const params = [
    template.item.parameters ?? [],
    ...operationsOf<Operation>(template.item).map(([, op]) => op.parameters ?? []),
  ]
    .flat()
    .map((p) => resolveRef<Parameter>(spec, p));
  return template.names.every((name, i) => {
    const allowed = params.find((p) => p.in === 'path' && p.name === name)?.enum;
    return allowed === undefined || allowed.includes(safeDecode(values[i] ?? ''));
  });
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
  // A path parameter with an enum matches only its values, as Gitea's router constrains it
  // (`/git/commits/{sha}.{diffType:diff|patch}`: `git/commits/v4.2.2` is a commit, not a diff).
  const matches = templates
    .filter((t) => t.regex.test(rawPath) && enumsMatch(spec, t, rawPath))
    .sort((a, b) => b.literal - a.literal);
  if (matches.length === 0) return { problems: [`${label}: no path in Gitea's API description matches`] };
  const match = matches.find((t) => typeof t.item[verb] === 'object');
  if (match === undefined) {
    const known = operationsOf<Operation>(matches[0]!.item).map(([m]) => m.toUpperCase());
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

// ---------------------------------------------------------------------------------------------------------------
// The nock harness (http-harness.ts), checking against the swagger description.
// ---------------------------------------------------------------------------------------------------------------

export interface RecordedRequest extends HarnessRequest {
  /** The path below `/api/v1` as sent, percent-encoding kept (`path` is decoded). */
  readonly rawPath: string;
}

export type { ReplySpec };
export type Expectation = HarnessExpectation<RecordedRequest>;
/** `baseUrl` is the web root given to the adapter (`https://gitea.example.org`); the API is below `/api/v1`. */
export type GiteaApi = HttpHarness<RecordedRequest>;

export interface GiteaApiOptions {
  /** The Gitea web root (default `https://gitea.example.org`); a sub-path such as `/git` is kept. */
  readonly baseUrl?: string;
}

export function createGiteaApi(options: GiteaApiOptions = {}): GiteaApi {
  const baseUrl = (options.baseUrl ?? 'https://gitea.example.org').replace(/\/+$/, '');
  const base = new URL(baseUrl);
  const apiPath = `${base.pathname === '/' ? '' : base.pathname}${GITEA_API_BASE_PATH}`;
  loadSpec();
  return createHttpHarness({
    title: 'Gitea API harness',
    slug: 'gitea-api',
    baseUrl,
    // Gitea answers JSON with `application/json;charset=utf-8`.
    jsonContentType: 'application/json;charset=utf-8',
    check(method, url, body) {
      if (!url.pathname.startsWith(`${apiPath}/`)) {
        return { rawPath: url.pathname, problems: [`${method} ${url.pathname}: not below ${apiPath}`] };
      }
      const rawPath = url.pathname.slice(apiPath.length);
      return { rawPath, ...describeGiteaRequest(method, `${rawPath}${url.search}`, body) };
    },
    checkReplyStatus: checkGiteaReplyStatus,
    record: (request, checked) => ({ ...request, rawPath: checked.rawPath }),
  });
}

/**
 * Vitest wiring: a fresh harness before each test; after it, the harness is closed and the test fails on any
 * problem or unused expectation.
 */
export function useGiteaApi(options: GiteaApiOptions = {}): () => GiteaApi {
  return useHttpHarness('useGiteaApi', () => createGiteaApi(options));
}
