// dynalite ships no types; this covers the part spotcheck uses (see dynalite's index.js JSDoc).
declare module 'dynalite' {
  import type { Server } from 'node:http';

  interface DynaliteOptions {
    /** LevelDB folder; in-memory when omitted. */
    path?: string;
    createTableMs?: number;
    deleteTableMs?: number;
    updateTableMs?: number;
    maxItemSizeKb?: number;
    verbose?: boolean;
    debug?: boolean;
    /** Passed through to dynalite's `db.create` (store/dynalite-errors.ts). */
    levelFaults?: unknown;
  }

  function dynalite(options?: DynaliteOptions): Server;
  export default dynalite;
}

// dynalite's database module: `create` opens the LevelDB database behind a server (see store/dynalite-errors.ts).
declare module 'dynalite/db/index.js' {
  import type { Readable } from 'node:stream';

  /** The LevelDB instance after dynalite's callback wrappers. */
  interface DynaliteLevel {
    get(...args: unknown[]): unknown;
    put(...args: unknown[]): unknown;
    del(...args: unknown[]): unknown;
    batch(...args: unknown[]): unknown;
    createKeyStream(options?: Record<string, unknown>): Readable;
    createValueStream(options?: Record<string, unknown>): Readable;
  }

  interface DynaliteStore {
    readonly db: DynaliteLevel;
  }

  const db: { create(options: Record<string, unknown>): DynaliteStore };
  export default db;
  export type { DynaliteLevel, DynaliteStore };
}
