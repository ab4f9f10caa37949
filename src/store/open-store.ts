import { chmod, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { OperatorConfig } from '../config.ts';
import { createDynamoStore } from './dynamodb.ts';
import { startEmbeddedStore } from './embedded.ts';
import { KMSClient } from '@aws-sdk/client-kms';
import type { DataKeys } from './data-keys.ts';
import { kmsDataKeys, localDataKeys, missingDataKeys } from './data-keys.ts';
import { createSecretStore, type SecretStore } from './secret-store.ts';
import type { Store } from './store.ts';

/** The local key file that wraps an embedded store's secrets: in the data folder, beside `db`. */
import { deleteExpiredItems, type ExpiredItems } from './expiry-sweep.ts';

export const SECRETS_KEY_FILE = 'secrets.key';

export interface OpenedStore {
  readonly store: Store;
  readonly secrets: SecretStore;
  /** For health checks: why the store is not the one it started as, when it can tell (store/store-identity.ts). */
  readonly identityProblem: () => Promise<string | undefined>;
  /**
   * Deletes expired items (`expiresAt` before `now`, epoch ms): the embedded store only, whose engine has no TTL;
   * a DynamoDB table deletes them itself (TTL on `ttl`).
   */
  readonly deleteExpired?: (now: number) => Promise<ExpiredItems>;
  close(): Promise<void>;
}

/**
 * The store the operator config names: a DynamoDB table (shared by replicas), or the embedded engine on a folder
 * (`<dir>/db`). The embedded store is one process's: LevelDB locks its folder.
 */
export async function openStore(config: OperatorConfig, dataDir: string): Promise<OpenedStore> {
  const table = config.store.table;
  if (config.store.kind === 'dynamodb') {
    const { region, endpoint, kmsKeyId } = config.store;
    const client = new DynamoDBClient({ ...(region ? { region } : {}), ...(endpoint ? { endpoint } : {}) });
    const kms = kmsKeyId === undefined ? undefined : new KMSClient(region ? { region } : {});
    const keys: DataKeys =
      kms === undefined || kmsKeyId === undefined
        ? missingDataKeys('secrets need a KMS key: set store.kmsKeyId in the operator config')
        : kmsDataKeys(kms, kmsKeyId);
    const store = createDynamoStore({ client, table });
    await store.ensureTable();
    return {
      store,
      secrets: createSecretStore({ client, table, keys }),
      // A DynamoDB table has no folder to lose: its health is whether it answers.
      identityProblem: () => Promise.resolve(undefined),
      close: () => {
        client.destroy();
        kms?.destroy();
        return Promise.resolve();
      },
    };
  }
  // The data folder is the server's alone (0700): the store, logs and the secrets key are in it, and the local
  // runner's steps, which run as another user, must not read them.
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  await chmod(dataDir, 0o700);
  const embedded = await startEmbeddedStore({ dir: join(dataDir, 'db'), table });
  const keys = localDataKeys(join(dataDir, SECRETS_KEY_FILE));
  return {
    store: embedded.store,
    secrets: createSecretStore({ client: embedded.client, table, keys }),
    identityProblem: () => embedded.identityProblem(),
    deleteExpired: (now) => deleteExpiredItems({ client: embedded.client, table }, now),
    close: () => embedded.close(),
  };
}
