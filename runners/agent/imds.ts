/**
 * The Spot interruption notice through IMDSv2 (docs.aws.amazon.com › AWSEC2 › "Spot Instance interruption
 * notices"): a session token from `PUT /latest/api/token` (header `X-aws-ec2-metadata-token-ttl-seconds`), then
 * `GET /latest/meta-data/spot/instance-action` with `X-aws-ec2-metadata-token`. 404 means no interruption; a JSON
 * `{ "action": "terminate" | "stop" | "hibernate", "time": "<UTC>" }` is the two-minute warning. AWS advises
 * checking every 5 seconds.
 */
import { trimTrailingSlashes } from '../../src/core/url.ts';

export const DEFAULT_IMDS_URL = 'http://169.254.169.254';
export const DEFAULT_IMDS_POLL_MS = 5_000;
/** IMDSv2 allows a session token of up to 6 hours (21,600 s). */
const TOKEN_TTL_SECONDS = 21_600;
/** Renew the session token well before AWS expires it. */
const TOKEN_RENEW_MS = (TOKEN_TTL_SECONDS - 60) * 1000;
/** The metadata service answers in milliseconds; a request that takes longer is a missing service. */
const REQUEST_TIMEOUT_MS = 2_000;

export interface SpotNotice {
  readonly action: string;
  /** When the instance will be interrupted (UTC, ISO 8601), as AWS gives it. */
  readonly time: string;
}

export type InstanceActionResult =
  { readonly ok: true; readonly notice: SpotNotice | undefined } | { readonly ok: false; readonly error: string };

export interface ImdsClient {
  /** One look at `spot/instance-action`. Never throws: an unreachable service is an `ok: false` result. */
  instanceAction(): Promise<InstanceActionResult>;
}

export interface ImdsClientOptions {
  readonly baseUrl?: string;
  readonly fetch?: typeof fetch;
  readonly now?: () => number;
}

export function createImdsClient(opts: ImdsClientOptions = {}): ImdsClient {
  const base = trimTrailingSlashes(opts.baseUrl ?? DEFAULT_IMDS_URL);
  const doFetch = opts.fetch ?? fetch;
  const now = opts.now ?? Date.now;
  let session: { token: string; renewAt: number } | undefined;

  const request = (path: string, init: RequestInit): Promise<Response> =>
    doFetch(`${base}${path}`, { ...init, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });

  const token = async (): Promise<string> => {
    if (session !== undefined && now() < session.renewAt) return session.token;
    const res = await request('/latest/api/token', {
      method: 'PUT',
      headers: { 'X-aws-ec2-metadata-token-ttl-seconds': String(TOKEN_TTL_SECONDS) },
    });
    if (!res.ok) throw new Error(`IMDS token request answered ${String(res.status)}`);
    const value = (await res.text()).trim();
    if (value === '') throw new Error('IMDS gave an empty token');
    session = { token: value, renewAt: now() + TOKEN_RENEW_MS };
    return value;
  };

  const look = async (): Promise<Response> =>
    request('/latest/meta-data/spot/instance-action', {
      method: 'GET',
      headers: { 'X-aws-ec2-metadata-token': await token() },
    });

  return {
    async instanceAction() {
      try {
        let res = await look();
        if (res.status === 401) {
          // The session token expired or the service restarted: one fresh token, one more look.
          await res.body?.cancel();
          session = undefined;
          res = await look();
        }
        if (res.status === 404) {
          await res.body?.cancel();
          return { ok: true, notice: undefined };
        }
        if (!res.ok) {
          await res.body?.cancel();
          return { ok: false, error: `IMDS answered ${String(res.status)}` };
        }
        return { ok: true, notice: parseNotice(await res.text()) };
      } catch (error) {
        return { ok: false, error: error instanceof Error ? error.message : String(error) };
      }
    },
  };
}

/** A body that is not the documented JSON is still a notice: the service only answers 200 when there is one. */
function parseNotice(body: string): SpotNotice {
  try {
    const value: unknown = JSON.parse(body);
    if (typeof value === 'object' && value !== null) {
      const { action, time } = value as Record<string, unknown>;
      return { action: typeof action === 'string' ? action : 'unknown', time: typeof time === 'string' ? time : '' };
    }
  } catch {
    // fall through
  }
  return { action: 'unknown', time: '' };
}

export interface SpotWatch {
  stop(): void;
}

/**
 * Looks every `intervalMs` and calls `onNotice` once, at the first notice. A failed look (no metadata service:
 * CodeBuild, a developer's machine) is reported to `onError` and the watch goes on.
 */
export function watchSpotInterruption(opts: {
  readonly imds: ImdsClient;
  readonly intervalMs?: number;
  readonly onNotice: (notice: SpotNotice) => void;
  readonly onError?: (error: string) => void;
}): SpotWatch {
  const intervalMs = opts.intervalMs ?? DEFAULT_IMDS_POLL_MS;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const tick = async (): Promise<void> => {
    const result = await opts.imds.instanceAction();
    if (stopped) return;
    if (!result.ok) opts.onError?.(result.error);
    else if (result.notice !== undefined) {
      stopped = true;
      opts.onNotice(result.notice);
      return;
    }
    timer = setTimeout(() => void tick(), intervalMs);
  };
  void tick();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
