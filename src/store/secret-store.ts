/**
 * Secrets at rest: one item per secret in the store's table, its value sealed with AES-256-GCM under a data key of
 * its own, the data key wrapped by `DataKeys` (KMS or the local key file) and kept beside it (envelope encryption).
 * The AAD of both layers is the secret's partition and name, so a sealed value copied to another scope or name does
 * not open. Nothing here returns a value except `open`, which the server calls when it hands an order its secrets.
 */
import { DeleteCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { normalizeSecretName, secretNameError, secretValueError } from '../core/secrets.ts';
import type { SecretInfo, SecretScope } from '../core/secrets.ts';
import type { RepoRef } from '../core/types.ts';
import { SecretError } from '../errors.ts';
import { openBytes, sealBytes, type DataKeys } from './data-keys.ts';
import { Expr } from './expr.ts';
import {
  SECRET_ENVIRONMENT_SK_PREFIX,
  SECRET_SK_PREFIX,
  secretEnvironmentSk,
  secretSk,
  secretsPk,
} from './item-keys.ts';
import type { Item } from './item-mapping.ts';
import { StoreTable } from './store-table.ts';

export interface SecretStore {
  /** Creates or replaces a secret (the name is validated and upper-cased). Returns what `list` will show. */
  set(scope: SecretScope, name: string, value: string, options: { readonly outsiders: boolean }): Promise<SecretInfo>;
  /** Names, flags and update times of one scope, by name; never values. */
  list(scope: SecretScope): Promise<SecretInfo[]>;
  /** Whether a secret was there to remove. */
  remove(scope: SecretScope, name: string): Promise<boolean>;
  /**
   * The environments of a repository that were given secrets (as first named; an environment whose secrets were all
   * removed may still be listed), by name: what a page listing a repository's secrets needs to find them.
   */
  environments(repo: RepoRef): Promise<string[]>;
  /** The values of these secrets by name (for an order, at launch or at the bootstrap exchange). */
  open(secrets: readonly SecretInfo[]): Promise<Record<string, string>>;
}

export interface SecretStoreOptions {
  readonly client: DynamoDBClient;
  readonly table: string;
  readonly keys: DataKeys;
  /** Epoch ms; injectable for tests. */
  readonly now?: () => number;
}

/** What both encryption layers are bound to: the scope's partition and the secret's name. */
const contextOf = (pk: string, name: string): string => `${pk}\n${name}`;

export function createSecretStore(opts: SecretStoreOptions): SecretStore {
  const t = new StoreTable(opts.client, opts.table, opts.now ?? Date.now);
  const { keys } = opts;

  async function readItem(scope: SecretScope, name: string): Promise<Item | undefined> {
    return t.getItem({ pk: secretsPk(scope), sk: secretSk(name) });
  }

  return {
    async set(scope, rawName, value, options) {
      const problem = secretNameError(rawName);
      if (problem !== undefined) throw new SecretError(problem);
      const valueProblem = secretValueError(value);
      if (valueProblem !== undefined) throw new SecretError(valueProblem);
      const name = normalizeSecretName(rawName);
      const pk = secretsPk(scope);
      const context = contextOf(pk, name);
      const dataKey = await keys.generate(context);
      let sealed: Buffer;
      try {
        sealed = sealBytes(dataKey.plaintext, Buffer.from(value, 'utf8'), context);
      } finally {
        dataKey.plaintext.fill(0);
      }
      const info: SecretInfo = { name, scope, outsiders: options.outsiders, updatedAt: t.now() };
      await t.send('PutItem', () =>
        t.doc.send(
          new PutCommand({
            TableName: t.name,
            Item: {
              pk,
              sk: secretSk(name),
              kind: 'secret',
              ...info,
              keySource: keys.source,
              wrappedKey: dataKey.wrapped.toString('base64'),
              sealed: sealed.toString('base64'),
            },
          }),
        ),
      );
      if (scope.level === 'environment') {
        // Put only when missing: a second writer keeps the first spelling, and the common case writes nothing.
        const marker = {
          pk: secretsPk({ level: 'repo', repo: scope.repo }),
          sk: secretEnvironmentSk(scope.environment),
        };
        if ((await t.getItem(marker)) === undefined) {
          await t.send('PutItem', () =>
            t.doc.send(
              new PutCommand({
                TableName: t.name,
                Item: { ...marker, kind: 'secret-environment', environment: scope.environment },
              }),
            ),
          );
        }
      }
      return info;
    },

    async environments(repo) {
      const e = new Expr();
      const items = await t.query(
        {
          KeyConditionExpression: `${e.name('pk')} = ${e.value(secretsPk({ level: 'repo', repo }))} AND begins_with(${e.name('sk')}, ${e.value(SECRET_ENVIRONMENT_SK_PREFIX)})`,
          ConsistentRead: true,
          ...e.params(),
        },
        (item) => item['kind'] === 'secret-environment' && typeof item['environment'] === 'string',
      );
      return items.map((item) => item['environment'] as string).sort();
    },

    async list(scope) {
      const e = new Expr();
      const items = await t.query(
        {
          KeyConditionExpression: `${e.name('pk')} = ${e.value(secretsPk(scope))} AND begins_with(${e.name('sk')}, ${e.value(SECRET_SK_PREFIX)})`,
          ConsistentRead: true,
          ...e.params(),
        },
        (item) => item['kind'] === 'secret',
      );
      return items.map(toInfo).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    },

    async remove(scope, rawName) {
      const out = await t.send('DeleteItem', () =>
        deleteItem(t.doc, t.name, secretsPk(scope), secretSk(normalizeSecretName(rawName))),
      );
      return out.Attributes !== undefined;
    },

    async open(secrets) {
      const values: Record<string, string> = {};
      for (const secret of secrets) {
        const name = normalizeSecretName(secret.name);
        const item = await readItem(secret.scope, name);
        // Removed since it was listed: the order simply does not get it, as if it had been removed a moment earlier.
        if (item === undefined) continue;
        values[name] = await openItem(keys, item, contextOf(secretsPk(secret.scope), name));
      }
      return values;
    },
  };
}

function deleteItem(doc: DynamoDBDocumentClient, table: string, pk: string, sk: string) {
  return doc.send(new DeleteCommand({ TableName: table, Key: { pk, sk }, ReturnValues: 'ALL_OLD' }));
}

async function openItem(keys: DataKeys, item: Item, context: string): Promise<string> {
  const { wrappedKey, sealed, keySource } = item;
  if (typeof wrappedKey !== 'string' || typeof sealed !== 'string') throw new SecretError('a secret item is malformed');
  if (keySource !== keys.source) {
    throw new SecretError(
      `a secret was sealed with the ${String(keySource)} key, and this server has the ${keys.source} key`,
    );
  }
  const dataKey = await keys.unwrap(Buffer.from(wrappedKey, 'base64'), context);
  try {
    return openBytes(dataKey, Buffer.from(sealed, 'base64'), context, 'the secret').toString('utf8');
  } finally {
    dataKey.fill(0);
  }
}

function toInfo(item: Item): SecretInfo {
  return {
    name: item['name'] as string,
    scope: item['scope'] as SecretScope,
    outsiders: item['outsiders'] === true,
    updatedAt: item['updatedAt'] as number,
  };
}
