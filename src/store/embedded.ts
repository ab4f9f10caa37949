import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import dynalite from 'dynalite';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { Agent, type AgentOptions } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
  /** The engine's Unix socket, for a second client (another "orchestrator") or the CLI: `createEmbeddedClient`. */
  readonly socketPath: string;
  /**
   * Why the store is not the one it started as (its folder deleted or its database swapped), or undefined when it
   * is; always undefined in memory. Store and file errors are thrown.
   */
  identityProblem(): Promise<string | undefined>;
  close(): Promise<void>;
}

export const DEFAULT_TABLE = 'spotcheck';

/**
 * Starts dynalite in-process and returns the DynamoDB store on it: one code path, the embedded store *is* the
 * DynamoDB store, talking HTTP to a real DynamoDB engine. dynalite checks no credentials, so it listens on a Unix
 * socket in a fresh 0700 folder, never on a TCP port: only this process's user can connect, so steps of the local
 * runner, which run as another user under `serve`, cannot read or write the store (a loopback port answers anyone
 * on the host).
 */
export async function startEmbeddedStore(opts: EmbeddedStoreOptions = {}): Promise<EmbeddedStore> {
  if (opts.dir !== undefined) await mkdir(opts.dir, { recursive: true, mode: 0o700 });
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
  // In the system's temporary folder, not the data folder: a socket path is limited to 107 bytes. mkdtemp makes
  // the folder 0700.
  const socketDir = await mkdtemp(join(tmpdir(), 'spotcheck-store-'));
  const socketPath = join(socketDir, 'dynalite.sock');
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    await rm(socketDir, { recursive: true, force: true });
    throw error;
  }
  const client = createEmbeddedClient(socketPath);
  const close = async (): Promise<void> => {
    client.destroy();
    // dynalite's close also waits for pending LevelDB operations and closes the database, so the folder is
    // complete on disk when this resolves.
    await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
    await rm(socketDir, { recursive: true, force: true });
  };
  try {
    const store = createDynamoStore({ client, table: opts.table ?? DEFAULT_TABLE });
    await store.ensureTable();
    const { dir } = opts;
    if (dir === undefined)
      return { store, client, socketPath, identityProblem: () => Promise.resolve(undefined), close };
    const id = await establishStoreIdentity(store, dir);
    return { store, client, socketPath, identityProblem: () => storeIdentityProblem(store, dir, id), close };
  } catch (error) {
    await close();
    throw error;
  }
}

/** An HTTP agent whose connections go to one Unix socket, whatever host the request names. */
class UnixSocketAgent extends Agent {
  readonly #socketPath: string;
  constructor(socketPath: string, options: AgentOptions) {
    super(options);
    this.#socketPath = socketPath;
  }
  override createConnection(): Socket {
    return connect(this.#socketPath);
  }
}

/**
 * A DynamoDB client for the embedded engine's Unix socket: dummy static credentials (dynalite checks none), region
 * `local`. The endpoint's host is a placeholder; the agent connects every request to the socket.
 */
export function createEmbeddedClient(socketPath: string): DynamoDBClient {
  return new DynamoDBClient({
    endpoint: 'http://localhost',
    region: 'local',
    credentials: { accessKeyId: 'spotcheck', secretAccessKey: 'spotcheck' },
    requestHandler: new NodeHttpHandler({ httpAgent: new UnixSocketAgent(socketPath, { keepAlive: true }) }),
    // In-process engine: a failure is not transient, so retry little.
    maxAttempts: 3,
  });
}
