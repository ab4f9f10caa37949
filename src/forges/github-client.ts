/**
 * The client side of the GitHub adapters (github.ts, github-capacity.ts): Probot's octokit is the HTTP client (retries
 * and throttling are Probot's); this module is the one place its errors are read and converted to `ForgeError`.
 */
import { ForgeError } from '../errors.ts';

/** Runs one Octokit call; any failure comes out as a ForgeError naming `action`. */
export async function callGitHub<T>(action: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw toForgeError(error, action);
  }
}

/**
 * The one place GitHub errors are classified. Retryable: 5xx, 429, a network failure (Octokit reports it as a
 * status-500 error without a response), and a 403 that is a rate limit (`x-ratelimit-remaining: 0` or
 * `retry-after`, GitHub's primary and secondary limits). The message names the action and the status, never the
 * request's headers (Octokit already redacts the token in the error it keeps as `cause`).
 */
export function toForgeError(error: unknown, action: string): ForgeError {
  if (error instanceof ForgeError) return error;
  const status = statusOf(error);
  const headers = responseHeadersOf(error);
  const rateLimited =
    status === 403 && headers !== undefined && (headers['x-ratelimit-remaining'] === '0' || 'retry-after' in headers);
  const retryable =
    status === undefined ? false : status >= 500 || status === 429 || rateLimited || isNetworkError(error);
  const message = `GitHub: ${action} failed: ${describeFailure(error)}`;
  return new ForgeError(message, {
    cause: error,
    retryable,
    ...(status === undefined ? {} : { status }),
    context: { forge: 'github', action, ...(status === undefined ? {} : { status }) },
  });
}

export function statusOf(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null || !('status' in error)) return undefined;
  const status = error.status;
  return typeof status === 'number' ? status : undefined;
}

function responseHeadersOf(error: unknown): Readonly<Record<string, string | undefined>> | undefined {
  if (typeof error !== 'object' || error === null || !('response' in error)) return undefined;
  const response = (error as { response?: { headers?: Record<string, string | undefined> } }).response;
  return response?.headers;
}

/** Octokit turns a failed fetch (DNS, reset, refused) into a status-500 error that has no response. */
function isNetworkError(error: unknown): boolean {
  return statusOf(error) !== undefined && responseHeadersOf(error) === undefined;
}

/** One line for users and logs: the HTTP status, or that the network failed. Never the request itself. */
export function describeFailure(error: unknown): string {
  const status = statusOf(error);
  if (status === undefined) return error instanceof Error ? error.name : 'unknown error';
  if (isNetworkError(error)) return 'network error';
  return `HTTP ${status}`;
}
