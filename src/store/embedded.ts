import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
import { mkdir } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { installDynaliteErrorGuard, type LevelFaults } from './dynalite-errors.ts';
import { createDynamoStore } from './dynamodb.ts';
import { establishStoreIdentity, storeIdentityProblem } from './store-identity.ts';
import type { Store } from './store.ts';

export interface EmbeddedStoreOptions {
  /** On-disk folder (LevelDB); it persists across restarts. Omit for an in-memory store. */
  readonly dir?: string;
  readonly table?: string;
  /** Failures to inject in front of the engine's database (tests: a full disk, an I/O error). */
  readonly levelFaults?: LevelFaults;
}

export interface EmbeddedStore {
  readonly store: Store;
  readonly client: DynamoDBClient;
  /** `http://127.0.0.1:<port>`, for a second client (another "orchestrator") or the CLI. */
  readonly endpoint: string;
  /**
   * Why the store is not the one it started as (its folder deleted or its database swapped), or undefined when it
   * is; always undefined in memory. Store and file errors are thrown.
   */
  identityProblem(): Promise<string | undefined>;
  close(): Promise<void>;
}

export const DEFAULT_TABLE = 'spotcheck';

/**
 * Starts dynalite in-process on loopback and an ephemeral port and returns the DynamoDB store on it: one code path,
 * the embedded store *is* the DynamoDB store, talking HTTP to a real DynamoDB engine.
 */
export async function startEmbeddedStore(opts: EmbeddedStoreOptions = {}): Promise<EmbeddedStore> {
  if (opts.dir !== undefined) await mkdir(opts.dir, { recursive: true });
  // A database error (a full disk, an I/O error) is then a failed request, never a crashed process.
  installDynaliteErrorGuard();
  // Table life-cycle delays exist in dynalite to imitate DynamoDB; locally they only slow start-up.
  const server = dynalite({
    ...(opts.dir !== undefined ? { path: opts.dir } : {}),
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
    ...(opts.levelFaults !== undefined ? { levelFaults: opts.levelFaults } : {}),
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const endpoint = `http://127.0.0.1:${String(port)}`;
  const client = createEmbeddedClient(endpoint);
  const close = async (): Promise<void> => {
    client.destroy();
    // dynalite's close also waits for pending LevelDB operations and closes the database, so the folder is
    // complete on disk when this resolves.
    await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
  };
  try {
    const store = createDynamoStore({ client, table: opts.table ?? DEFAULT_TABLE });
    await store.ensureTable();
    const { dir } = opts;
    if (dir === undefined) return { store, client, endpoint, identityProblem: () => Promise.resolve(undefined), close };
    const id = await establishStoreIdentity(store, dir);
    return { store, client, endpoint, identityProblem: () => storeIdentityProblem(store, dir, id), close };
  } catch (error) {
    await close();
    throw error;
  }
}

/** A DynamoDB client for a local engine: dummy static credentials (dynalite checks none), region `local`. */
export function createEmbeddedClient(endpoint: string): DynamoDBClient {
  return new DynamoDBClient({
    endpoint,
    region: 'local',
    credentials: { accessKeyId: 'spotcheck', secretAccessKey: 'spotcheck' },
    // Loopback to an in-process engine: a failure is not transient, so retry little.
    maxAttempts: 3,
  });
}
