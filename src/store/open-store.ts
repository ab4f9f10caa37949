import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { OperatorConfig } from '../config.ts';
import { createDynamoStore } from './dynamodb.ts';
import { startEmbeddedStore } from './embedded.ts';
import type { Store } from './store.ts';

/**
 * The store the operator config names: a DynamoDB table (shared by replicas), or the embedded engine on a folder
 * (`<dir>/db`). The embedded store is one process's: LevelDB locks its folder.
 */
export async function openStore(
  config: OperatorConfig,
  dataDir: string,
): Promise<{ store: Store; close(): Promise<void> }> {
  if (config.store.kind === 'dynamodb') {
    const client = new DynamoDBClient({
      ...(config.store.region ? { region: config.store.region } : {}),
      ...(config.store.endpoint ? { endpoint: config.store.endpoint } : {}),
    });
    const store = createDynamoStore({ client, table: config.store.table });
    await store.ensureTable();
    return { store, close: () => Promise.resolve(client.destroy()) };
  }
  const embedded = await startEmbeddedStore({ dir: join(dataDir, 'db'), table: config.store.table });
  return { store: embedded.store, close: () => embedded.close() };
}
