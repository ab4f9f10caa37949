/**
 * Data keys for secrets (envelope encryption): each secret is sealed with its own AES-256 data key, and the data key
 * is kept beside the ciphertext wrapped by a key that never enters the table: AWS KMS deployed (`GenerateDataKey`,
 * `Decrypt`), a local key file embedded. Both wrap under the secret's context (its scope and name), so a wrapped key
 * moved to another secret does not unwrap.
 */
import { DecryptCommand, GenerateDataKeyCommand, type KMSClient } from '@aws-sdk/client-kms';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { open, readFile, stat } from 'node:fs/promises';
import { SecretError } from '../errors.ts';

export interface DataKeys {
  /** Recorded with each sealed value, so an operator can tell which key opens it. */
  readonly source: 'local' | 'kms';
  /** A fresh 256-bit data key, in the clear (to seal with, then zeroed) and wrapped (to store). */
  generate(context: string): Promise<{ readonly plaintext: Buffer; readonly wrapped: Buffer }>;
  /** The data key a `generate` under the same context wrapped; a SecretError for any other context or key. */
  unwrap(wrapped: Buffer, context: string): Promise<Buffer>;
}

const KEY_BYTES = 32;
/** NIST SP 800-38D: a 96-bit IV is the recommended GCM nonce; random per encryption under a key. */
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** AES-256-GCM with `aad`: `iv | tag | ciphertext`. */
export function sealBytes(key: Buffer, plaintext: Buffer, aad: string): Buffer {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]);
}

/** Opens what `sealBytes` sealed; a SecretError when the key, the AAD or a byte differs. */
export function openBytes(key: Buffer, sealed: Buffer, aad: string, what: string): Buffer {
  if (sealed.length < IV_BYTES + TAG_BYTES) throw new SecretError(`${what} is truncated`);
  const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, IV_BYTES));
  decipher.setAAD(Buffer.from(aad, 'utf8'));
  decipher.setAuthTag(sealed.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
  try {
    return Buffer.concat([decipher.update(sealed.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]);
  } catch (error) {
    throw new SecretError(`${what} does not open: wrong key, or sealed for another secret`, { cause: error });
  }
}

/**
 * Embedded: a 256-bit key in a file of the data folder, created on first use with mode 0600 and refused when its
 * mode lets the group or others read or write it (the way ssh refuses a private key others can read).
 */
export async function readLocalKeyFile(path: string): Promise<Buffer> {
  await createKeyFileOnce(path);
  const info = await stat(path);
  if ((info.mode & 0o077) !== 0) {
    throw new SecretError(
      `the secrets key file ${path} has mode ${(info.mode & 0o777).toString(8)}; it must be 600 (chmod 600 ${path})`,
      { context: { path } },
    );
  }
  const key = await readFile(path);
  if (key.length !== KEY_BYTES) {
    throw new SecretError(`the secrets key file ${path} does not hold a ${String(KEY_BYTES)}-byte key`, {
      context: { path },
    });
  }
  return key;
}

async function createKeyFileOnce(path: string): Promise<void> {
  let handle;
  try {
    // O_EXCL: two processes starting at once cannot both write a key; the loser reads the winner's.
    handle = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return;
    throw new SecretError(`the secrets key file ${path} cannot be created`, { cause: error, context: { path } });
  }
  try {
    await handle.writeFile(randomBytes(KEY_BYTES));
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Data keys wrapped (AES-256-GCM, the context as AAD) by the local key file's key. The file is read (and created)
 * on first use, so a server whose orders get no secrets never makes one.
 */
export function localDataKeys(keyFile: string): DataKeys {
  let master: Promise<Buffer> | undefined;
  const key = (): Promise<Buffer> => {
    master ??= readLocalKeyFile(keyFile);
    // A refused file is refused again on the next use (after a chmod it may pass), not remembered.
    master.catch(() => (master = undefined));
    return master;
  };
  return {
    source: 'local',
    async generate(context) {
      const plaintext = randomBytes(KEY_BYTES);
      return { plaintext, wrapped: sealBytes(await key(), plaintext, context) };
    },
    async unwrap(wrapped, context) {
      return openBytes(await key(), wrapped, context, 'the data key');
    },
  };
}

/** Where no key is configured (a DynamoDB store without `store.kmsKeyId`): every use is refused, with the fix. */
export function missingDataKeys(why: string): DataKeys {
  const refuse = (): Promise<never> => Promise.reject(new SecretError(why));
  return { source: 'kms', generate: refuse, unwrap: refuse };
}

/**
 * Deployed: KMS generates and unwraps data keys under `keyId`; the secret's context travels as KMS's encryption
 * context, so KMS itself refuses to unwrap a data key for another secret (and CloudTrail logs which one was opened).
 */
export function kmsDataKeys(client: KMSClient, keyId: string): DataKeys {
  const encryptionContext = (context: string) => ({ purpose: 'spotcheck-secret', secret: context });
  return {
    source: 'kms',
    async generate(context) {
      const out = await kmsCall('GenerateDataKey', () =>
        client.send(
          new GenerateDataKeyCommand({
            KeyId: keyId,
            KeySpec: 'AES_256',
            EncryptionContext: encryptionContext(context),
          }),
        ),
      );
      if (out.Plaintext?.length !== KEY_BYTES || out.CiphertextBlob === undefined) {
        throw new SecretError('KMS GenerateDataKey answered without a 256-bit key');
      }
      return { plaintext: Buffer.from(out.Plaintext), wrapped: Buffer.from(out.CiphertextBlob) };
    },
    async unwrap(wrapped, context) {
      const out = await kmsCall('Decrypt', () =>
        client.send(
          new DecryptCommand({ KeyId: keyId, CiphertextBlob: wrapped, EncryptionContext: encryptionContext(context) }),
        ),
      );
      if (out.Plaintext?.length !== KEY_BYTES) throw new SecretError('KMS Decrypt answered without a 256-bit key');
      return Buffer.from(out.Plaintext);
    },
  };
}

async function kmsCall<T>(operation: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    const code = (error as { name?: unknown }).name;
    throw new SecretError(`KMS ${operation} failed${typeof code === 'string' ? `: ${code}` : ''}`, {
      cause: error,
      context: { operation },
    });
  }
}
