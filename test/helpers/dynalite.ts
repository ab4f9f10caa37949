import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
import type { AddressInfo } from 'node:net';
import type { OrderRecord, RepoRef, RunRecord } from '../../src/core/types.ts';
import { createDynamoStore, type DynamoStore } from '../../src/store/dynamodb.ts';
import { createEmbeddedClient, startEmbeddedStore, type EmbeddedStore } from '../../src/store/embedded.ts';
import * as records from './records.ts';

/** An in-memory dynalite and the store on it; call `close()` in afterAll. */
export function startTestStore(): Promise<EmbeddedStore> {
  return startEmbeddedStore({});
}

let tables = 0;

/**
 * Another table on the same engine: isolation for tests of global listings (listRuns without a repo, the order
 * indexes), without starting a second engine.
 */
export async function createIsolatedStore(
  client: DynamoDBClient,
  opts: { readonly now?: () => number } = {},
): Promise<DynamoStore> {
  const store = createDynamoStore({ client, table: `test-${String(process.pid)}-${String(++tables)}`, ...opts });
  await store.ensureTable();
  return store;
}

/** A second DynamoDB client on the same endpoint: a second "orchestrator" (caller destroys it). */
export function secondClient(socketPath: string): DynamoDBClient {
  return createEmbeddedClient(socketPath);
}

const HOUR = 3_600_000;
export { T0 } from './records.ts';

export const REPO: RepoRef = { forge: 'github', host: 'github.com', owner: 'octo', name: 'app' };

/**
 * A push run of REPO as the store keeps it: a push payload, the server URL of the run's host, and the empty
 * `base_ref`/`head_ref` GitHub gives for pushes, which the store must keep.
 */
export function makeRun(runId: string, overrides: records.RunOverrides = {}): RunRecord {
  const repo = overrides.repo ?? REPO;
  return records.makeRun({
    runId,
    repo,
    // Far from any clock a test runs under, unless a test sets it.
    expiresAt: Date.now() + 24 * HOUR,
    ...overrides,
    github: {
      server_url: `https://${repo.host}`,
      event: { after: records.SHA, commits: [{ id: records.SHA, message: 'fix' }] },
      ...overrides.github,
    },
  });
}

/** An order with an environment (one empty value, which the store must keep) and a step. */
export function makeOrder(runId: string, id: string, overrides: Partial<OrderRecord> = {}): OrderRecord {
  return records.makeOrder(id, {
    runId,
    env: { CI: 'true', EMPTY: '' },
    steps: [{ index: 0, run: 'make test', env: {}, continueOnError: false, pos: { line: 7, col: 9 } }],
    ...overrides,
  });
}

/** A run of `n` orders with no needs (ids `o.1` … `o.n`). */
export function makeFlatRun(runId: string, n: number): { run: RunRecord; orders: OrderRecord[] } {
  const orders = Array.from({ length: n }, (_, i) => makeOrder(runId, `o.${String(i + 1)}`));
  return { run: makeRun(runId, { orderCount: n }), orders };
}

/** A DynamoDB stand-in on a loopback port (as a real table's endpoint is reached), its client, and `close`. */
export interface DynamoEndpoint {
  readonly endpoint: string;
  readonly client: DynamoDBClient;
  close(): Promise<void>;
}

/**
 * dynalite on `127.0.0.1` and an ephemeral port, for tests of `store.kind: dynamodb` and the Lambda, which reach
 * DynamoDB by URL. The embedded store listens on a Unix socket instead (src/store/embedded.ts).
 */
export async function startDynamoEndpoint(): Promise<DynamoEndpoint> {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${String((server.address() as AddressInfo).port)}`;
  const client = new DynamoDBClient({
    endpoint,
    region: 'local',
    credentials: { accessKeyId: 'spotcheck', secretAccessKey: 'spotcheck' },
  });
  return {
    endpoint,
    client,
    close: async () => {
      client.destroy();
      await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
    },
  };
}
