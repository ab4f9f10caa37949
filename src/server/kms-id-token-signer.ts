/**
 * Deployed ID token signing: an AWS KMS asymmetric key (KeySpec RSA_2048, KeyUsage SIGN_VERIFY). The private key
 * never leaves KMS: the token's signing input is hashed here and KMS signs the digest (`Sign`, MessageType DIGEST,
 * RSASSA_PKCS1_V1_5_SHA_256 — RS256, RFC 7518 §3.3); the JWKS is built from `GetPublicKey`. The `kid` is the public
 * key's RFC 7638 thumbprint.
 *
 * KMS does not rotate asymmetric keys by itself: the operator rotates by creating a new key, making it `keyId`, and
 * keeping the old one in `previousKeyIds` (published in the JWKS, never signing) until its last token expired.
 */
import { GetPublicKeyCommand, SignCommand, type KMSClient } from '@aws-sdk/client-kms';
import { createHash, createPublicKey } from 'node:crypto';
import { calculateJwkThumbprint, type JWK } from 'jose';
import { IdTokenError } from '../errors.ts';
import { ID_TOKEN_ALG, publicJwk, type IdTokenSigner } from './id-token-signer.ts';

export interface KmsIdTokenSignerOptions {
  readonly kms: Pick<KMSClient, 'send'>;
  /** The signing key: id, ARN or alias. */
  readonly keyId: string;
  /** Retired keys still published in the JWKS. */
  readonly previousKeyIds?: readonly string[];
}

const SIGNING_ALGORITHM = 'RSASSA_PKCS1_V1_5_SHA_256';

export function kmsIdTokenSigner(opts: KmsIdTokenSignerOptions): IdTokenSigner {
  // A key's public half never changes: read once per process; a failure is not remembered.
  const publicKeys = new Map<string, Promise<JWK>>();
  const publicKeyOf = (keyId: string): Promise<JWK> => {
    let found = publicKeys.get(keyId);
    if (found === undefined) {
      found = readPublicJwk(opts.kms, keyId);
      publicKeys.set(keyId, found);
      found.catch(() => publicKeys.delete(keyId));
    }
    return found;
  };

  return {
    async sign(claims) {
      const { kid } = await publicKeyOf(opts.keyId);
      const header = { alg: ID_TOKEN_ALG, typ: 'JWT', kid };
      const input = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`;
      const digest = createHash('sha256').update(input).digest();
      const out = await kmsCall('Sign', () =>
        opts.kms.send(
          new SignCommand({
            KeyId: opts.keyId,
            Message: digest,
            MessageType: 'DIGEST',
            SigningAlgorithm: SIGNING_ALGORITHM,
          }),
        ),
      );
      if (out.Signature === undefined || out.Signature.length === 0)
        throw new IdTokenError('KMS Sign answered without a signature');
      return `${input}.${Buffer.from(out.Signature).toString('base64url')}`;
    },
    async jwks() {
      const ids = [opts.keyId, ...(opts.previousKeyIds ?? [])];
      return { keys: await Promise.all(ids.map(publicKeyOf)) };
    },
  };
}

async function readPublicJwk(kms: Pick<KMSClient, 'send'>, keyId: string): Promise<JWK> {
  const out = await kmsCall('GetPublicKey', () => kms.send(new GetPublicKeyCommand({ KeyId: keyId })));
  if (out.KeyUsage !== 'SIGN_VERIFY' || !out.SigningAlgorithms?.includes(SIGNING_ALGORITHM) || !out.PublicKey)
    throw new IdTokenError('the ID token KMS key is not an RSA signing key (KeySpec RSA_2048, KeyUsage SIGN_VERIFY)', {
      context: { keySpec: out.KeySpec, keyUsage: out.KeyUsage },
    });
  const jwk = createPublicKey({ key: Buffer.from(out.PublicKey), format: 'der', type: 'spki' }).export({
    format: 'jwk',
  }) as JWK;
  return publicJwk(jwk, await calculateJwkThumbprint(publicJwk(jwk, ''), 'sha256'));
}

async function kmsCall<T>(operation: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    const code = (error as { name?: unknown }).name;
    throw new IdTokenError(`KMS ${operation} failed${typeof code === 'string' ? `: ${code}` : ''}`, {
      cause: error,
      context: { operation },
    });
  }
}

function base64url(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64url');
}
