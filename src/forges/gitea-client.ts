/**
 * The HTTP client of Gitea's REST API (`/api/v1`), shared by the Gitea Forge adapter (gitea.ts) and its capacity
 * operations (gitea-capacity.ts): requests built from `METHOD /path/template` endpoints of Gitea's swagger
 * description, the bot token in the `Authorization` header, a little retrying on 5xx, 429 and network failures, JSON
 * and status checks, and every failure converted to `ForgeError` in one place (`toForgeError`).
 */
import { joinUrl, trimTrailingSlashes } from '../core/url.ts';
import { ForgeError } from '../errors.ts';

/** `METHOD /path/template` as Gitea's swagger description spells it; each adapter module lists the ones it calls. */
export type GiteaEndpointTemplate = `${'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'} /${string}`;

export interface GiteaRetryOptions {
  /** Attempts per request, the first included (default 3). */
  readonly attempts?: number;
  /** First backoff delay; doubled on each retry (default 500 ms). */
  readonly baseDelayMs?: number;
  /** Longest wait between attempts; a `Retry-After` above it ends the retries at once (default 10 s). */
  readonly maxDelayMs?: number;
  /** How to wait (tests pass a recorder). */
  readonly sleep?: (ms: number) => Promise<void>;
}

export interface GiteaClientOptions {
  /** GITEA_URL: the web root, e.g. `https://gitea.example.org` (a sub-path such as `/git` is kept). */
  readonly baseUrl: string;
  /** GITEA_TOKEN: the bot user's access token. Never logged. */
  readonly token: string;
  readonly fetch?: typeof fetch;
  readonly retry?: GiteaRetryOptions;
  /** Per-attempt timeout (default 30 s). */
  readonly timeoutMs?: number;
  /** Clock for `Retry-After` dates (default `Date.now`). */
  readonly now?: () => number;
}

export type RetryPolicy =
  /** Safe to send twice: reads, edits, a status (the same context is overwritten), a reaction (Gitea dedupes). */
  | 'idempotent'
  /** Creates something: only a 429 (refused before any work) is retried, so a comment is never posted twice. */
  | 'rate-limit-only';

export interface SendOptions {
  readonly query?: Readonly<Record<string, string | number>>;
  readonly body?: unknown;
  readonly redirect?: 'follow' | 'manual';
  readonly policy?: RetryPolicy;
}

export type PathParams = Readonly<Record<string, string | number>>;

export interface GiteaClient {
  /** The web root without a trailing slash (act_runner registers against it; clone URLs start with it). */
  readonly webRoot: string;
  /** Host name (with port) in lower case. */
  readonly host: string;
  /**
   * One request, retried on a network failure, 5xx or 429 (per `policy`) with exponential backoff or the server's
   * `Retry-After`. Answers the last response whatever its status; throws only when no response came at all.
   */
  send(action: string, endpoint: GiteaEndpointTemplate, params: PathParams, options?: SendOptions): Promise<Response>;
  /** Reads a JSON body of an expected status (undefined when empty), or throws the failure as a ForgeError. */
  expectJson(action: string, response: Response, ok: readonly number[]): Promise<unknown>;
  /** Throws a ForgeError unless the status is one of `ok` (the body is released then). */
  expectStatus(action: string, response: Response, ok: readonly number[]): Promise<void>;
}

export function createGiteaClient(opts: GiteaClientOptions): GiteaClient {
  const base = new URL(opts.baseUrl);
  if (base.protocol !== 'https:' && base.protocol !== 'http:') {
    throw new ForgeError('Gitea: GITEA_URL must be an http(s) URL', {
      retryable: false,
      context: { forge: 'gitea' },
    });
  }
  const webRoot = trimTrailingSlashes(`${base.origin}${base.pathname}`);
  const apiRoot = `${webRoot}/api/v1`;
  const fetchImpl = opts.fetch ?? fetch;
  const now = opts.now ?? Date.now;
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const attempts = Math.max(1, opts.retry?.attempts ?? 3);
  const baseDelayMs = opts.retry?.baseDelayMs ?? 500;
  const maxDelayMs = opts.retry?.maxDelayMs ?? 10_000;
  const sleep = opts.retry?.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));

  async function send(
    action: string,
    endpoint: GiteaEndpointTemplate,
    params: PathParams,
    options: SendOptions = {},
  ): Promise<Response> {
    const [method, template] = endpoint.split(' ') as [string, string];
    const url = new URL(`${apiRoot}${expandTemplate(template, params)}`);
    for (const [k, v] of Object.entries(options.query ?? {})) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = { authorization: `token ${opts.token}`, accept: 'application/json' };
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    const policy = options.policy ?? 'idempotent';
    for (let attempt = 1; ; attempt++) {
      let response: Response | undefined;
      let failure: unknown;
      try {
        response = await fetchImpl(url, {
          method,
          headers,
          ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
          redirect: options.redirect ?? 'follow',
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (error) {
        failure = error;
      }
      const retryable =
        response === undefined
          ? policy === 'idempotent'
          : response.status === 429 || (policy === 'idempotent' && response.status >= 500);
      let delay = baseDelayMs * 2 ** (attempt - 1);
      if (response !== undefined) delay = retryAfterMs(response.headers.get('retry-after'), now()) ?? delay;
      if (!retryable || attempt >= attempts || delay > maxDelayMs) {
        if (response !== undefined) return response;
        throw toForgeError(new GiteaNetworkFailure(failure), action);
      }
      // Release the connection before waiting.
      await discard(response);
      await sleep(delay);
    }
  }

  async function expectJson(action: string, response: Response, ok: readonly number[]): Promise<unknown> {
    await expectStatus(action, response, ok);
    const text = await response.text();
    if (text === '') return undefined;
    try {
      return JSON.parse(text) as unknown;
    } catch (error) {
      throw new ForgeError(`Gitea: ${action} failed: the response is not JSON`, {
        cause: error,
        retryable: false,
        status: response.status,
        context: { forge: 'gitea', action, status: response.status },
      });
    }
  }

  async function expectStatus(action: string, response: Response, ok: readonly number[]): Promise<void> {
    if (ok.includes(response.status)) return;
    await discard(response);
    throw toForgeError(new GiteaHttpFailure(response.status, response.headers), action);
  }

  return { webRoot, host: base.host.toLowerCase(), send, expectJson, expectStatus };
}

/** Releases a response's connection without reading it. */
export async function discard(response: Response | undefined): Promise<void> {
  await response?.body?.cancel().catch(() => undefined);
}

/** Fills a `{name}` template. `filepath` is Gitea's `{+path}`: segments encoded, slashes kept as they are. */
function expandTemplate(template: string, params: PathParams): string {
  return template.replace(/\{([^{}]+)\}/g, (_, name: string) => {
    const value = params[name];
    if (value === undefined) throw new Error(`gitea: no value for {${name}} in ${template}`);
    const text = String(value);
    return name === 'filepath' ? text.split('/').map(encodeURIComponent).join('/') : encodeURIComponent(text);
  });
}

/** A response arrived with a status the caller did not expect. */
class GiteaHttpFailure extends Error {
  override readonly name = 'GiteaHttpFailure';
  constructor(
    readonly status: number,
    readonly headers: Headers,
  ) {
    super(`HTTP ${status}`);
  }
}

/** No response arrived (DNS, refused, reset, timeout). */
class GiteaNetworkFailure extends Error {
  override readonly name = 'GiteaNetworkFailure';
  constructor(cause: unknown) {
    super('network error', { cause });
  }
}

/**
 * The one place Gitea failures are classified. Retryable: 5xx, 429 and network failures (the client's own retries
 * already ran out, a later attempt may succeed). The message names the action and the HTTP status, never the URL or
 * headers (the token is in the `Authorization` header; a clone URL carries one too).
 */
export function toForgeError(error: unknown, action: string): ForgeError {
  if (error instanceof ForgeError) return error;
  const status = error instanceof GiteaHttpFailure ? error.status : undefined;
  const network = error instanceof GiteaNetworkFailure;
  const retryable = network || (status !== undefined && (status >= 500 || status === 429));
  return new ForgeError(`Gitea: ${action} failed: ${describeFailure(error)}`, {
    cause: error,
    retryable,
    ...(status === undefined ? {} : { status }),
    context: { forge: 'gitea', action, ...(status === undefined ? {} : { status }) },
  });
}

/** One line for users and logs: the HTTP status, or that the network failed. Never the request itself. */
export function describeFailure(error: unknown): string {
  if (error instanceof GiteaHttpFailure) return `HTTP ${error.status}`;
  if (error instanceof GiteaNetworkFailure) return 'network error';
  if (error instanceof ForgeError && error.status !== undefined) return `HTTP ${error.status}`;
  if (error instanceof ForgeError && error.retryable) return 'network error';
  return error instanceof Error ? error.name : 'unknown error';
}

/** `Retry-After` (RFC 9110 §10.2.3): delay-seconds or an HTTP date. */
function retryAfterMs(value: string | null, nowMs: number): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

/**
 * Endpoints the server calls outside the adapter: `GET /user` reads the bot user's login at start-up (its comments
 * are never a request) unless GITEA_BOT_LOGIN is set.
 */
export const GITEA_SERVER_ENDPOINTS = ['GET /user'] as const;

/** The login of the token's user (`GET /api/v1/user`); a ForgeError when Gitea refuses the token. */
export async function readGiteaLogin(opts: {
  readonly baseUrl: string;
  readonly token: string;
  readonly fetch?: typeof fetch;
}): Promise<string> {
  let response: Response;
  try {
    response = await (opts.fetch ?? fetch)(joinUrl(opts.baseUrl, '/api/v1/user'), {
      headers: { authorization: `token ${opts.token}`, accept: 'application/json' },
      redirect: 'manual',
    });
  } catch (error) {
    throw toForgeError(new GiteaNetworkFailure(error), 'read the bot user');
  }
  if (!response.ok) throw toForgeError(new GiteaHttpFailure(response.status, response.headers), 'read the bot user');
  const body = (await response.json()) as { login?: unknown };
  if (typeof body.login !== 'string' || body.login === '') {
    throw new ForgeError('Gitea: read the bot user failed: no login in the answer', { retryable: false });
  }
  return body.login;
}
