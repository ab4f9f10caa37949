/**
 * spotcheck's typed errors. Vendor errors (AWS SDK, Octokit, fetch) are converted to these at the adapter that
 * met them, so callers branch on our classes and fields, never on a vendor's error names. Expected outcomes (a lost
 * race, a refused claim) are results, not errors: these classes are for what the caller cannot simply carry on from.
 */

/** Context fields are for logs and reports: never put a secret in them. */
export type ErrorContext = Readonly<Record<string, string | number | boolean | undefined>>;

export interface SpotcheckErrorOptions {
  readonly cause?: unknown;
  readonly context?: ErrorContext;
}

export class SpotcheckError extends Error {
  override readonly name: string = 'SpotcheckError';
  readonly context: ErrorContext;

  constructor(message: string, options: SpotcheckErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.context = options.context ?? {};
  }
}

/**
 * A store request failed for a reason other than a lost condition. `retryable` says whether the same request may
 * succeed later (throttling, a 5xx, a network error, after the SDK's own retries ran out) or never will (a
 * validation error, a missing table, an item over the size limit).
 */
export class StoreError extends SpotcheckError {
  override readonly name: string = 'StoreError';
  readonly retryable: boolean;

  constructor(message: string, options: SpotcheckErrorOptions & { readonly retryable: boolean }) {
    super(message, options);
    this.retryable = options.retryable;
  }
}

/**
 * A secret could not be sealed or opened: the data key is unusable (a key file readable by others, a KMS refusal) or
 * a sealed value does not open under its own name and scope (a wrong key, or a value moved to another scope). Never
 * carries a value.
 */
export class SecretError extends SpotcheckError {
  override readonly name: string = 'SecretError';
}

/** The operator configuration is invalid: the message lists every problem at once, with no secret in it. */
export class ConfigError extends SpotcheckError {
  override readonly name: string = 'ConfigError';

  constructor(message: string, options: SpotcheckErrorOptions & { readonly source: string }) {
    super(message, { ...options, context: { source: options.source } });
  }
}

/**
 * A forge request failed after the client's own retries (network, 5xx, rate limit exhausted, unexpected 4xx).
 * `status` is the HTTP status when there was one; `retryable` whether the same request may succeed later.
 */
export class ForgeError extends SpotcheckError {
  override readonly name: string = 'ForgeError';
  readonly status: number | undefined;
  readonly retryable: boolean;

  constructor(
    message: string,
    options: SpotcheckErrorOptions & { readonly status?: number; readonly retryable: boolean },
  ) {
    super(message, options);
    this.status = options.status;
    this.retryable = options.retryable;
  }
}

/**
 * A runner could not start (or reach) an execution. `retryable`: the same launch may succeed later (capacity,
 * throttling, a 5xx) — the orchestrator then leaves the order in `dispatching` for the watchdog to re-drive with the
 * same token; otherwise the order fails with this message. `code` is the vendor's error code, for logs.
 */
export class RunnerError extends SpotcheckError {
  override readonly name: string = 'RunnerError';
  readonly retryable: boolean;
  readonly code: string | undefined;

  constructor(
    message: string,
    options: SpotcheckErrorOptions & { readonly retryable: boolean; readonly code?: string },
  ) {
    super(message, options);
    this.retryable = options.retryable;
    this.code = options.code;
  }
}

/**
 * Whether the same request may succeed later, as the error itself says: StoreError, ForgeError and RunnerError
 * carry `retryable`, set where the vendor error was classified (store/aws-error.ts, the forge adapters, the
 * runners). The one reading of that flag; retryable vs permanent is decided at the adapters, not here.
 *
 * An error that does not say (a plain Error, a bug, a vendor error that reached us unconverted) is permanent by
 * default: retrying what nobody classified cannot be known to help, and for a launch (orchestrator.ts) it would keep
 * an order in `dispatching` until the watchdog gives up instead of failing it at once with its message. A caller
 * whose retries are bounded and cheap may choose otherwise: the inbox (inbox.ts) passes `unknown: true`, because it
 * retries an intent at most `maxAttempts` times with backoff, and the forge calls it makes can fail transiently
 * with errors no adapter converted.
 */
export function isRetryable(error: unknown, options: { readonly unknown?: boolean } = {}): boolean {
  const flag = typeof error === 'object' && error !== null ? (error as { retryable?: unknown }).retryable : undefined;
  return typeof flag === 'boolean' ? flag : (options.unknown ?? false);
}

/** A workflow file named on the command line or listed in the workflows folder cannot be read (missing, a FIFO). */
export class WorkflowReadError extends SpotcheckError {
  override readonly name: string = 'WorkflowReadError';

  constructor(message: string, options: SpotcheckErrorOptions & { readonly path: string }) {
    super(message, { ...options, context: { path: options.path } });
  }
}

/**
 * An ID token could not be signed or its keys published: the local key file is unusable (readable by others,
 * unreadable), or KMS refused (`Sign`, `GetPublicKey`) or holds a key of the wrong kind. Never carries key material.
 */
export class IdTokenError extends SpotcheckError {
  override readonly name: string = 'IdTokenError';
}
