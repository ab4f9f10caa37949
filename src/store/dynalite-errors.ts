/**
 * dynalite answers an engine error it does not recognise by throwing it in a callback (its index.js: `if (err) throw
 * err`), which ends the process: a full disk (LevelDB's "IO error: … No space left on device"), an I/O error, a
 * closed or corrupt database. Errors that carry a `statusCode` and a DynamoDB error body it answers as a response
 * instead, so here every error of the LevelDB database dynalite opens gets one: a 500 `InternalServerError`, which
 * the SDK reports as a server fault (store/aws-error.ts classifies it retryable) and the store turns into a
 * StoreError on the request that met it. The process lives on; the request fails.
 *
 * dynalite has no hook for its database, but it creates it through its `db` module's `create`, looked up on each
 * call, and passes its own options through: `installDynaliteErrorGuard` wraps that function once, and a server
 * started with `levelFaults` (tests) gets those failures injected in front of the real database.
 */
import { Readable } from 'node:stream';
import dynaliteDb, { type DynaliteLevel, type DynaliteStore } from 'dynalite/db/index.js';

/** The database operations a fault can be injected into; `iterate` is a key or value stream (Query, Scan). */
export type LevelOperation = 'get' | 'put' | 'del' | 'batch' | 'iterate';

/**
 * Decides whether one database operation fails, and how: return an Error (e.g. one with `code: 'ENOSPC'`) to fail
 * it, undefined to let it through. `key` is dynalite's internal key (`item-<table>~…`, `index-global~<table>~…`,
 * the item's key encoded); `value` is what a put writes (the item in DynamoDB's attribute-value form).
 */
export type LevelFaults = (operation: LevelOperation, key: string, value?: unknown) => Error | undefined;

/** The DynamoDB error type dynalite's answer carries: the SDK names the error after it. */
const INTERNAL_ERROR_TYPE = 'com.amazonaws.dynamodb.v20120810#InternalServerError';

interface RequestError extends Error {
  statusCode: number;
  body: { __type: string; message: string };
}

/** A LevelDB error as a DynamoDB 500: dynalite answers it rather than throwing it. Not-found stays as it is. */
export function toRequestError(error: unknown): unknown {
  if (!(error instanceof Error)) return error;
  if (error.name === 'NotFoundError' || 'statusCode' in error) return error;
  const code = (error as { code?: unknown }).code;
  const detail = typeof code === 'string' ? `${code}: ${error.message}` : error.message;
  return Object.assign(error, {
    statusCode: 500,
    body: { __type: INTERNAL_ERROR_TYPE, message: `the embedded store's database failed (${detail})` },
  }) satisfies RequestError;
}

type Callback = (err: unknown, ...rest: unknown[]) => void;

function guardCallbacks(db: DynaliteLevel, operation: 'get' | 'put' | 'del' | 'batch', faults?: LevelFaults): void {
  const original = db[operation].bind(db);
  db[operation] = (...args: unknown[]): unknown => {
    const last = args[args.length - 1];
    if (typeof last !== 'function') return original(...args);
    const callback = last as Callback;
    const key = operation === 'batch' ? batchKey(args[0]) : String(args[0]);
    const injected = faults?.(operation, key, operation === 'put' ? args[1] : undefined);
    if (injected !== undefined) {
      setImmediate(callback, toRequestError(injected));
      return undefined;
    }
    const guarded: Callback = (err, ...rest) => {
      callback(err ? toRequestError(err) : err, ...rest);
    };
    try {
      return original(...args.slice(0, -1), guarded);
    } catch (error) {
      setImmediate(callback, toRequestError(error));
      return undefined;
    }
  };
}

function batchKey(operations: unknown): string {
  const first = Array.isArray(operations) ? (operations[0] as { key?: unknown } | undefined) : undefined;
  return typeof first?.key === 'string' ? first.key : '';
}

function guardStreams(db: DynaliteLevel, faults?: LevelFaults): void {
  for (const name of ['createKeyStream', 'createValueStream'] as const) {
    const original = db[name].bind(db);
    db[name] = (options?: Record<string, unknown>) => {
      let stream: ReturnType<typeof original>;
      try {
        stream = original(options);
      } catch (error) {
        // A closed database throws at once ("Database is not open"), inside a dynalite callback: answered instead.
        return failedStream(toRequestError(error));
      }
      const emit = stream.emit.bind(stream);
      stream.emit = (event: string | symbol, ...args: unknown[]): boolean =>
        event === 'error' ? emit('error', toRequestError(args[0])) : emit(event, ...args);
      const from = options?.['gte'] ?? options?.['gt'] ?? '';
      const injected = faults?.('iterate', typeof from === 'string' ? from : '');
      if (injected !== undefined) setImmediate(() => stream.destroy(injected));
      return stream;
    };
  }
}

/** A stream that fails with `error` as soon as it is read, as dynalite's own streams fail. */
function failedStream(error: unknown): Readable {
  const stream = new Readable({ objectMode: true, read() {} });
  setImmediate(() => stream.destroy(error instanceof Error ? error : new Error(String(error))));
  return stream;
}

const GUARDED = Symbol.for('spotcheck.dynaliteErrorGuard');

/**
 * Wraps dynalite's database creation (once per process) so that the database of every dynalite server started
 * afterwards answers its errors as 500s. Options with `levelFaults` inject failures (tests).
 */
export function installDynaliteErrorGuard(): void {
  const module = dynaliteDb as typeof dynaliteDb & { [GUARDED]?: true };
  if (module[GUARDED]) return;
  const create = module.create.bind(module);
  module.create = (options: Record<string, unknown>): DynaliteStore => {
    const store = create(options);
    const faults = options['levelFaults'] as LevelFaults | undefined;
    for (const operation of ['get', 'put', 'del', 'batch'] as const) guardCallbacks(store.db, operation, faults);
    guardStreams(store.db, faults);
    return store;
  };
  module[GUARDED] = true;
}
