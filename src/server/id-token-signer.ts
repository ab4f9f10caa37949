/**
 * The `IdTokenSigner` port: signs an order's ID token (RS256, the one algorithm the discovery document names) and
 * publishes the public keys it may be verified with. Two implementations: a local RSA key pair in the data folder
 * (embedded, this file) and an AWS KMS asymmetric key (deployed, ./kms-id-token-signer.ts).
 *
 * Local keys rotate: a new key every `rotateAfterMs`; a retired key stays in the JWKS for `retainMs` more (at least
 * the longest token lifetime), so a token signed just before a rotation still verifies until it expires. Each key's
 * `kid` is its RFC 7638 thumbprint.
 */
import { generateKeyPair as generateKeyPairCallback, randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { promisify } from 'node:util';
import { calculateJwkThumbprint, importJWK, SignJWT, type JWK } from 'jose';
import type { IdTokenClaims } from '../core/id-token-claims.ts';
import { MAX_ID_TOKEN_LIFETIME_SECONDS } from '../core/id-token-claims.ts';
import { IdTokenError } from '../errors.ts';

export interface JsonWebKeySet {
  readonly keys: readonly JWK[];
}

export interface IdTokenSigner {
  /** `claims` as a compact JWS: `alg` RS256, `typ` JWT, and the `kid` of a key `jwks()` publishes. */
  sign(claims: IdTokenClaims): Promise<string>;
  /** The public keys (`kty`, `n`, `e`, `kid`, `alg`, `use`): the signing key and those retired under `retainMs`. */
  jwks(): Promise<JsonWebKeySet>;
}

export const ID_TOKEN_ALG = 'RS256';
export const DEFAULT_ROTATE_AFTER_MS = 7 * 24 * 60 * 60_000;
/** The longest token lifetime, plus room for clock skew. */
export const DEFAULT_RETAIN_MS = (MAX_ID_TOKEN_LIFETIME_SECONDS + 5 * 60) * 1000;
/** RSA key size: what KMS's RSA_2048 gives and STS accepts. */
const MODULUS_BITS = 2048;

/** The public part of a JWK, as a JWKS publishes it. */
export function publicJwk(jwk: JWK, kid: string): JWK {
  if (jwk.kty !== 'RSA' || jwk.n === undefined || jwk.e === undefined)
    throw new IdTokenError('an ID token signing key is not an RSA key');
  return { kty: 'RSA', n: jwk.n, e: jwk.e, kid, alg: ID_TOKEN_ALG, use: 'sig' };
}

interface StoredKey {
  readonly kid: string;
  /** Epoch ms. */
  readonly createdAt: number;
  readonly privateJwk: JWK;
}

export interface LocalIdTokenSignerOptions {
  /** The key file (in the data folder), created with mode 0600. */
  readonly keyFile: string;
  readonly now: () => number;
  readonly rotateAfterMs?: number;
  readonly retainMs?: number;
}

const generateKeyPair = promisify(generateKeyPairCallback);

/**
 * Keys in a JSON file of the data folder, made on first use with mode 0600 and refused when the group or others may
 * read it (as ssh refuses such a private key). One server process owns the file: the embedded deployment.
 */
export function localIdTokenSigner(opts: LocalIdTokenSignerOptions): IdTokenSigner {
  const rotateAfterMs = opts.rotateAfterMs ?? DEFAULT_ROTATE_AFTER_MS;
  const retainMs = Math.max(opts.retainMs ?? DEFAULT_RETAIN_MS, 0);
  // Reads and rotations one at a time: two requests at a rotation must not both make a key.
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const next = queue.then(fn, fn);
    queue = next.catch(() => undefined);
    return next;
  };

  /** The keys, newest last, rotated when the newest is due; retired keys past `retainMs` are dropped. */
  const current = (): Promise<StoredKey[]> =>
    serial(async () => {
      const now = opts.now();
      let keys = await readKeys(opts.keyFile);
      const newest = keys.at(-1);
      if (newest === undefined || now - newest.createdAt >= rotateAfterMs) {
        keys = [...keys, await newKey(now)];
        keys = keys.filter((key, i) => i === keys.length - 1 || now - keys[i + 1]!.createdAt < retainMs);
        await writeKeys(opts.keyFile, keys);
      }
      return keys;
    });

  return {
    async sign(claims) {
      const key = (await current()).at(-1)!;
      return new SignJWT({ ...claims })
        .setProtectedHeader({ alg: ID_TOKEN_ALG, typ: 'JWT', kid: key.kid })
        .sign(await importJWK(key.privateJwk, ID_TOKEN_ALG));
    },
    async jwks() {
      const now = opts.now();
      const keys = await current();
      const published = keys.filter((_, i) => i === keys.length - 1 || now - keys[i + 1]!.createdAt < retainMs);
      return { keys: published.map((key) => publicJwk(key.privateJwk, key.kid)) };
    },
  };
}

async function newKey(now: number): Promise<StoredKey> {
  const { privateKey } = await generateKeyPair('rsa', { modulusLength: MODULUS_BITS });
  const privateJwk = privateKey.export({ format: 'jwk' }) as JWK;
  const kid = await calculateJwkThumbprint(publicJwk(privateJwk, ''), 'sha256');
  return { kid, createdAt: now, privateJwk };
}

async function readKeys(path: string): Promise<StoredKey[]> {
  let mode: number;
  try {
    mode = (await stat(path)).mode;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new IdTokenError(`the ID token key file ${path} cannot be read`, { cause: error, context: { path } });
  }
  if ((mode & 0o077) !== 0)
    throw new IdTokenError(
      `the ID token key file ${path} has mode ${(mode & 0o777).toString(8)}; it must be 600 (chmod 600 ${path})`,
      { context: { path } },
    );
  let value: unknown;
  try {
    value = JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    throw new IdTokenError(`the ID token key file ${path} is not a key file`, { cause: error, context: { path } });
  }
  const keys = (value as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys) || !keys.every(isStoredKey))
    throw new IdTokenError(`the ID token key file ${path} is not a key file`, { context: { path } });
  return [...keys].sort((a, b) => a.createdAt - b.createdAt);
}

function isStoredKey(value: unknown): value is StoredKey {
  if (typeof value !== 'object' || value === null) return false;
  const { kid, createdAt, privateJwk } = value as Record<string, unknown>;
  return (
    typeof kid === 'string' &&
    typeof createdAt === 'number' &&
    typeof privateJwk === 'object' &&
    privateJwk !== null &&
    (privateJwk as JWK).kty === 'RSA'
  );
}

/** A new file beside the old, made 0600 before a byte is written, then renamed over it: never a half-written key. */
async function writeKeys(path: string, keys: readonly StoredKey[]): Promise<void> {
  const temp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    const handle = await open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
    try {
      await handle.writeFile(JSON.stringify({ keys }));
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw new IdTokenError(`the ID token key file ${path} cannot be written`, { cause: error, context: { path } });
  }
}
