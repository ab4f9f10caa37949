import { DecryptCommand, GenerateDataKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { PutCommand, DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { SecretScope } from '../../src/core/secrets.ts';
import { SecretError } from '../../src/errors.ts';
import { kmsDataKeys, localDataKeys, openBytes, readLocalKeyFile, sealBytes } from '../../src/store/data-keys.ts';
import { createDynamoStore } from '../../src/store/dynamodb.ts';
import type { EmbeddedStore } from '../../src/store/embedded.ts';
import { createSecretStore, type SecretStore } from '../../src/store/secret-store.ts';
import { REPO, startTestStore } from '../helpers/dynalite.ts';

let embedded: EmbeddedStore;
let dir: string;
let tables = 0;
const T = 1_760_000_000_000;

const org: SecretScope = { level: 'org', forge: 'github', host: 'github.com', owner: 'octo' };
const repo: SecretScope = { level: 'repo', repo: REPO };
const prod: SecretScope = { level: 'environment', repo: REPO, environment: 'prod' };
const VALUES = ['s3cr3t-org-value-1', 'line one\nline two: repo value', 'pr0d-deploy-key-ÿ'];

async function newTable(): Promise<string> {
  const table = `secrets-${String(process.pid)}-${String(++tables)}`;
  await createDynamoStore({ client: embedded.client, table }).ensureTable();
  return table;
}

async function scanRaw(table: string): Promise<string> {
  const out = await embedded.client.send(new ScanCommand({ TableName: table, ConsistentRead: true }));
  return JSON.stringify(out.Items ?? []);
}

beforeAll(async () => {
  embedded = await startTestStore();
  dir = await mkdtemp(join(tmpdir(), 'spotcheck-secrets-'));
});

afterAll(async () => {
  await embedded.close();
  await rm(dir, { recursive: true, force: true });
});

describe('secrets on dynalite with the local key file', () => {
  let table: string;
  let secrets: SecretStore;

  beforeAll(async () => {
    table = await newTable();
    secrets = createSecretStore({
      client: embedded.client,
      table,
      keys: localDataKeys(join(dir, 'secrets.key')),
      now: () => T,
    });
  });

  it('round-trips at every level, lists names and times only, and keeps no plaintext in the table', async () => {
    await secrets.set(org, 'org_token', VALUES[0]!, { outsiders: false });
    await secrets.set(repo, 'Repo_Value', VALUES[1]!, { outsiders: true });
    await secrets.set(prod, 'DEPLOY_KEY', VALUES[2]!, { outsiders: false });

    expect(await secrets.list(org)).toEqual([{ name: 'ORG_TOKEN', scope: org, outsiders: false, updatedAt: T }]);
    expect(await secrets.list(repo)).toEqual([{ name: 'REPO_VALUE', scope: repo, outsiders: true, updatedAt: T }]);
    expect(await secrets.list(prod)).toEqual([{ name: 'DEPLOY_KEY', scope: prod, outsiders: false, updatedAt: T }]);
    expect(JSON.stringify(await secrets.list(repo))).not.toContain('repo value');

    const all = [...(await secrets.list(org)), ...(await secrets.list(repo)), ...(await secrets.list(prod))];
    expect(await secrets.open(all)).toEqual({ ORG_TOKEN: VALUES[0], REPO_VALUE: VALUES[1], DEPLOY_KEY: VALUES[2] });

    const raw = await scanRaw(table);
    expect(raw).toContain('"sealed"');
    expect(raw).toContain('"wrappedKey"');
    for (const value of VALUES) {
      expect(raw).not.toContain(value);
      expect(raw).not.toContain(Buffer.from(value).toString('base64'));
      for (const line of value.split('\n')) expect(raw).not.toContain(line);
    }
    // The key file's key is not in the table either.
    expect(raw).not.toContain((await readFile(join(dir, 'secrets.key'))).toString('base64'));
  });

  it('names are case-insensitive: a set under another case replaces, rm takes any case', async () => {
    await secrets.set(repo, 'case_test', 'one', { outsiders: false });
    await secrets.set(repo, 'CASE_TEST', 'two', { outsiders: false });
    expect((await secrets.list(repo)).filter((s) => s.name === 'CASE_TEST')).toHaveLength(1);
    expect(await secrets.open([{ name: 'Case_Test', scope: repo, outsiders: false, updatedAt: T }])).toEqual({
      CASE_TEST: 'two',
    });
    expect(await secrets.remove(repo, 'case_TEST')).toBe(true);
    expect(await secrets.remove(repo, 'case_TEST')).toBe(false);
    expect((await secrets.list(repo)).map((s) => s.name)).toEqual(['REPO_VALUE']);
  });

  it("lists a repository's environments that have secrets, once each, first spelling kept", async () => {
    const repoRef = { forge: 'github', host: 'github.com', owner: 'envs', name: 'app' } as const;
    expect(await secrets.environments(repoRef)).toEqual([]);
    await secrets.set({ level: 'environment', repo: repoRef, environment: 'Prod' }, 'A', 'a', { outsiders: false });
    await secrets.set({ level: 'environment', repo: repoRef, environment: 'prod' }, 'B', 'b', { outsiders: false });
    await secrets.set({ level: 'environment', repo: repoRef, environment: 'staging' }, 'C', 'c', { outsiders: false });
    await secrets.set({ level: 'repo', repo: repoRef }, 'D', 'd', { outsiders: false });
    expect(await secrets.environments(repoRef)).toEqual(['Prod', 'staging']);
    // The marker is not a secret of the repository.
    expect((await secrets.list({ level: 'repo', repo: repoRef })).map((s) => s.name)).toEqual(['D']);
  });

  it('refuses names GitHub refuses, and values over 48 KB', async () => {
    await expect(secrets.set(repo, 'GITHUB_X', 'v', { outsiders: false })).rejects.toThrow(SecretError);
    await expect(secrets.set(repo, '9LIVES', 'v', { outsiders: false })).rejects.toThrow(/digit/);
    await expect(secrets.set(repo, 'BIG', 'x'.repeat(48 * 1024 + 1), { outsiders: false })).rejects.toThrow(/48 KB/);
  });

  it('a sealed value moved to another scope or name does not open', async () => {
    const doc = DynamoDBDocumentClient.from(embedded.client);
    const source = await doc.send(
      new GetCommand({
        TableName: table,
        Key: { pk: 'SECRETS#environment#github#github.com#octo#app#prod', sk: 'SECRET#DEPLOY_KEY' },
      }),
    );
    expect(source.Item).toBeDefined();
    // The attacker's copy: the production key under the repository scope (which outsiders' runs can reach).
    await doc.send(
      new PutCommand({
        TableName: table,
        Item: { ...source.Item, pk: 'SECRETS#repo#github#github.com#octo#app', scope: repo, outsiders: true },
      }),
    );
    const moved = (await secrets.list(repo)).find((s) => s.name === 'DEPLOY_KEY')!;
    await expect(secrets.open([moved])).rejects.toThrow(/does not open/);
    // Under another name of the same scope too.
    await doc.send(new PutCommand({ TableName: table, Item: { ...source.Item, sk: 'SECRET#OTHER', name: 'OTHER' } }));
    await expect(secrets.open([{ name: 'OTHER', scope: prod, outsiders: false, updatedAt: T }])).rejects.toThrow(
      SecretError,
    );
  });

  it('another key file does not open them', async () => {
    const other = createSecretStore({
      client: embedded.client,
      table,
      keys: localDataKeys(join(dir, 'other.key')),
    });
    await expect(other.open(await secrets.list(org))).rejects.toThrow(/does not open/);
  });
});

describe('the local key file', () => {
  it('is created once with mode 0600 and read back the same', async () => {
    const path = join(dir, 'fresh.key');
    const first = await readLocalKeyFile(path);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(first).toHaveLength(32);
    expect((await readLocalKeyFile(path)).equals(first)).toBe(true);
  });

  it.each([0o640, 0o604, 0o644, 0o660])('is refused with mode %o', async (mode) => {
    const path = join(dir, `wide-${mode.toString(8)}.key`);
    await writeFile(path, randomBytes(32), { mode: 0o600 });
    await chmod(path, mode);
    await expect(readLocalKeyFile(path)).rejects.toThrow(/must be 600/);
  });

  it('is refused when it does not hold a 32-byte key', async () => {
    const path = join(dir, 'short.key');
    await writeFile(path, randomBytes(16), { mode: 0o600 });
    await expect(readLocalKeyFile(path)).rejects.toThrow(/32-byte/);
  });
});

describe('secrets with AWS KMS (envelope encryption)', () => {
  const kms = mockClient(KMSClient);
  afterEach(() => kms.reset());

  /** A stand-in for KMS: wraps data keys under its own key with the encryption context as AAD, as KMS binds it. */
  function fakeKms(): { calls: () => number } {
    const kmsKey = randomBytes(32);
    const aadOf = (ctx: Record<string, string> | undefined) => JSON.stringify(ctx ?? {});
    kms.on(GenerateDataKeyCommand).callsFake((input: { EncryptionContext?: Record<string, string> }) => {
      const plaintext = randomBytes(32);
      return {
        Plaintext: new Uint8Array(plaintext),
        CiphertextBlob: sealBytes(kmsKey, plaintext, aadOf(input.EncryptionContext)),
      };
    });
    kms
      .on(DecryptCommand)
      .callsFake((input: { CiphertextBlob: Uint8Array; EncryptionContext?: Record<string, string> }) => {
        try {
          return {
            Plaintext: openBytes(kmsKey, Buffer.from(input.CiphertextBlob), aadOf(input.EncryptionContext), 'blob'),
          };
        } catch {
          throw Object.assign(new Error('InvalidCiphertextException'), { name: 'InvalidCiphertextException' });
        }
      });
    return { calls: () => kms.calls().length };
  }

  it('generates a data key per secret under the key id and secret context, stores it wrapped, and decrypts with it', async () => {
    fakeKms();
    const table = await newTable();
    const client = new KMSClient({ region: 'eu-west-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } });
    const secrets = createSecretStore({ client: embedded.client, table, keys: kmsDataKeys(client, 'alias/spotcheck') });
    await secrets.set(repo, 'NPM_TOKEN', 'npm_abcdef123456', { outsiders: false });

    const generate = kms.commandCalls(GenerateDataKeyCommand);
    expect(generate).toHaveLength(1);
    expect(generate[0]!.args[0].input).toEqual({
      KeyId: 'alias/spotcheck',
      KeySpec: 'AES_256',
      EncryptionContext: { purpose: 'spotcheck-secret', secret: 'SECRETS#repo#github#github.com#octo#app\nNPM_TOKEN' },
    });
    const raw = await scanRaw(table);
    expect(raw).not.toContain('npm_abcdef123456');
    expect(raw).toContain('"keySource":{"S":"kms"}');

    expect(await secrets.open(await secrets.list(repo))).toEqual({ NPM_TOKEN: 'npm_abcdef123456' });
    const decrypt = kms.commandCalls(DecryptCommand);
    expect(decrypt).toHaveLength(1);
    expect(decrypt[0]!.args[0].input.KeyId).toBe('alias/spotcheck');
    expect(decrypt[0]!.args[0].input.EncryptionContext).toEqual(generate[0]!.args[0].input.EncryptionContext);
    client.destroy();
  });

  it('a KMS refusal is a SecretError naming the KMS error, never the value', async () => {
    kms.on(GenerateDataKeyCommand).rejects(Object.assign(new Error('denied'), { name: 'AccessDeniedException' }));
    const table = await newTable();
    const client = new KMSClient({ region: 'eu-west-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } });
    const secrets = createSecretStore({ client: embedded.client, table, keys: kmsDataKeys(client, 'k') });
    const error = await secrets.set(repo, 'X', 'the-value', { outsiders: false }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SecretError);
    expect((error as Error).message).toBe('KMS GenerateDataKey failed: AccessDeniedException');
    expect(await scanRaw(table)).toBe('[]');
    client.destroy();
  });

  it('a value sealed with the local key is refused by a KMS server before any KMS call', async () => {
    const { calls } = fakeKms();
    const table = await newTable();
    const local = createSecretStore({
      client: embedded.client,
      table,
      keys: localDataKeys(join(dir, 'secrets.key')),
    });
    await local.set(repo, 'X', 'v', { outsiders: false });
    const client = new KMSClient({ region: 'eu-west-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } });
    const deployed = createSecretStore({ client: embedded.client, table, keys: kmsDataKeys(client, 'k') });
    await expect(deployed.open(await deployed.list(repo))).rejects.toThrow(/sealed with the local key/);
    expect(calls()).toBe(0);
    client.destroy();
  });
});
