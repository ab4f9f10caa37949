import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { OrderRecord, RepoRef, RunRecord } from '../../src/core/types.ts';
import { createDynamoStore, type DynamoStore } from '../../src/store/dynamodb.ts';
import { createEmbeddedClient, startEmbeddedStore, type EmbeddedStore } from '../../src/store/embedded.ts';

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
export function secondClient(endpoint: string): DynamoDBClient {
  return createEmbeddedClient(endpoint);
}

const HOUR = 3_600_000;
export const T0 = 1_760_000_000_000;

export const REPO: RepoRef = { forge: 'github', host: 'github.com', owner: 'octo', name: 'app' };

export function makeRun(runId: string, overrides: Partial<RunRecord> = {}): RunRecord {
  const repo = overrides.repo ?? REPO;
  return {
    runId,
    repo,
    file: '.spotcheck/workflows/ci.yml',
    workflowName: 'ci',
    event: 'push',
    ref: 'refs/heads/main',
    sha: 'a'.repeat(40),
    actor: 'octocat',
    github: {
      event_name: 'push',
      ref: 'refs/heads/main',
      ref_name: 'main',
      ref_type: 'branch',
      sha: 'a'.repeat(40),
      repository: `${repo.owner}/${repo.name}`,
      repository_owner: repo.owner,
      actor: 'octocat',
      // Empty strings are what GitHub gives for push events; the store must keep them.
      base_ref: '',
      head_ref: '',
      server_url: `https://${repo.host}`,
      run_id: runId,
      workflow: 'ci',
      event: { after: 'a'.repeat(40), commits: [{ id: 'a'.repeat(40), message: 'fix' }] },
    },
    status: 'running',
    orderCount: 0,
    createdAt: T0,
    // Far from any clock a test runs under, unless a test sets it.
    expiresAt: Date.now() + 24 * HOUR,
    ...overrides,
  };
}

export function makeOrder(runId: string, id: string, overrides: Partial<OrderRecord> = {}): OrderRecord {
  return {
    runId,
    id,
    seq: 0,
    wave: 0,
    job: id.split('.')[0] ?? id,
    name: id,
    needs: [],
    needsOrders: [],
    runsOn: 'local',
    matrix: {},
    timeoutMinutes: 10,
    continueOnError: false,
    failFast: true,
    env: { CI: 'true', EMPTY: '' },
    steps: [{ index: 0, run: 'make test', env: {}, continueOnError: false, pos: { line: 7, col: 9 } }],
    outputExprs: {},
    state: 'queued',
    attempt: 1,
    pendingNeeds: 0,
    dependents: [],
    outputs: {},
    createdAt: T0,
    ...overrides,
  };
}

/** A run of `n` orders with no needs (ids `o.1` … `o.n`). */
export function makeFlatRun(runId: string, n: number): { run: RunRecord; orders: OrderRecord[] } {
  const orders = Array.from({ length: n }, (_, i) => makeOrder(runId, `o.${String(i + 1)}`));
  return { run: makeRun(runId, { orderCount: n }), orders };
}
