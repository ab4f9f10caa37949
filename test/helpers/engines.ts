/**
 * The DynamoDB engines the store suites run on: dynalite (the embedded store's engine, in-process) and AWS's own
 * DynamoDB Local (a JVM started once per test run by test/helpers/dynamodb-local-setup.ts). A suite written with
 * `describeEachEngine` runs its describe blocks once per engine; its file must be listed in the `engines` project of
 * vitest.config.ts, whose global setup starts DynamoDB Local.
 */
import { DeleteTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { describe, inject } from 'vitest';
import { createDynamoStore } from '../../src/store/dynamodb.ts';
import {
  createEmbeddedClient,
  DEFAULT_TABLE,
  startEmbeddedStore,
  type EmbeddedStore,
} from '../../src/store/embedded.ts';

export const ENGINES = ['dynalite', 'dynamodb-local'] as const;
export type EngineName = (typeof ENGINES)[number];

/** A store on an engine, the name of its table, and a way to open a second client on it (another "orchestrator"). */
export interface TestEngine extends Pick<EmbeddedStore, 'store' | 'client' | 'close'> {
  readonly table: string;
  /** A new client on the same engine; the caller destroys it. */
  secondClient(): DynamoDBClient;
}

type DynamodbLocal = { readonly endpoint: string } | { readonly unavailable: string };

function dynamodbLocal(): DynamodbLocal {
  // undefined in a project without the global setup, whatever the declared type says.
  const provided = inject('dynamodbLocal') as DynamodbLocal | undefined;
  if (provided === undefined) {
    throw new Error('this file runs on every engine: list it in the engines project of vitest.config.ts');
  }
  return provided;
}

/**
 * Each engine's describe block. DynamoDB Local's is skipped where it cannot run (the global setup printed why), except
 * under CI, where its tests fail: CI must run them.
 */
export function describeEachEngine(body: (engine: EngineName) => void): void {
  const skipped = (engine: EngineName): boolean =>
    engine === 'dynamodb-local' && 'unavailable' in dynamodbLocal() && !process.env['CI'];
  for (const engine of ENGINES) describe.skipIf(skipped(engine))(`on ${engine}`, () => body(engine));
}

let tables = 0;

/**
 * A store on a fresh table of the engine: dynalite starts in-process per file (as `serve` runs it); DynamoDB Local is
 * shared by every file of the run, so each gets its own table, deleted on close.
 */
export async function startTestEngine(engine: EngineName): Promise<TestEngine> {
  if (engine === 'dynalite') {
    const embedded = await startEmbeddedStore({});
    return { ...embedded, table: DEFAULT_TABLE, secondClient: () => createEmbeddedClient(embedded.socketPath) };
  }
  const local = dynamodbLocal();
  if ('unavailable' in local) throw new Error(`DynamoDB Local cannot run here: ${local.unavailable}`);
  const { endpoint } = local;
  const client = endpointClient(endpoint);
  const table = `spotcheck-${String(process.pid)}-${String(++tables)}`;
  const store = createDynamoStore({ client, table });
  await store.ensureTable();
  const close = async (): Promise<void> => {
    try {
      await client.send(new DeleteTableCommand({ TableName: table }));
    } finally {
      client.destroy();
    }
  };
  return { store, client, table, close, secondClient: () => endpointClient(endpoint) };
}

/** A client of DynamoDB Local by URL (the embedded store's own clients reach dynalite on a Unix socket). */
function endpointClient(endpoint: string): DynamoDBClient {
  return new DynamoDBClient({
    endpoint,
    region: 'local',
    credentials: { accessKeyId: 'spotcheck', secretAccessKey: 'spotcheck' },
    maxAttempts: 3,
  });
}
