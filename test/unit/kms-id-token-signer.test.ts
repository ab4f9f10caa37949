import { GetPublicKeyCommand, KMSClient, SignCommand } from '@aws-sdk/client-kms';
import { mockClient } from 'aws-sdk-client-mock';
import { constants, createHash, generateKeyPairSync, privateEncrypt } from 'node:crypto';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { IdTokenError } from '../../src/errors.ts';
import { kmsIdTokenSigner } from '../../src/server/kms-id-token-signer.ts';

const kms = mockClient(KMSClient);
afterEach(() => kms.reset());

/** DER DigestInfo prefix of SHA-256 (RFC 8017 §9.2): what PKCS#1 v1.5 signs before the digest. */
const SHA256_DIGEST_INFO = Buffer.from('3031300d060960864801650304020105000420', 'hex');

/** A stand-in KMS key: GetPublicKey answers its SPKI, Sign signs a DIGEST the way KMS's RSASSA_PKCS1_V1_5_SHA_256 does. */
function fakeKey(keyId: string, usage: 'SIGN_VERIFY' | 'ENCRYPT_DECRYPT' = 'SIGN_VERIFY') {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  kms.on(GetPublicKeyCommand, { KeyId: keyId }).resolves({
    KeyId: keyId,
    KeySpec: 'RSA_2048',
    KeyUsage: usage,
    PublicKey: publicKey.export({ format: 'der', type: 'spki' }),
    ...(usage === 'SIGN_VERIFY'
      ? { SigningAlgorithms: ['RSASSA_PKCS1_V1_5_SHA_256', 'RSASSA_PSS_SHA_256'] }
      : { EncryptionAlgorithms: ['RSAES_OAEP_SHA_256'] }),
  });
  kms.on(SignCommand, { KeyId: keyId }).callsFake((input: { Message: Uint8Array }) => ({
    KeyId: keyId,
    SigningAlgorithm: 'RSASSA_PKCS1_V1_5_SHA_256',
    Signature: privateEncrypt(
      { key: privateKey, padding: constants.RSA_PKCS1_PADDING },
      Buffer.concat([SHA256_DIGEST_INFO, Buffer.from(input.Message)]),
    ),
  }));
}

const CLAIMS = { sub: 'repo:octo/app:ref:refs/heads/main', aud: 'sts.amazonaws.com', iss: 'https://ci.example.com' };

describe('the KMS ID token signer', () => {
  it('signs the digest of the signing input with RSASSA_PKCS1_V1_5_SHA_256; jose verifies it with the JWKS', async () => {
    fakeKey('alias/spotcheck-oidc');
    const signer = kmsIdTokenSigner({ kms: new KMSClient({ region: 'eu-west-1' }), keyId: 'alias/spotcheck-oidc' });
    const now = Math.floor(Date.now() / 1000);
    const jwt = await signer.sign({ ...CLAIMS, iat: now, exp: now + 300 });
    const jwks = await signer.jwks();
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig', kid: decodeProtectedHeader(jwt).kid });
    const { payload, protectedHeader } = await jwtVerify(jwt, createLocalJWKSet({ keys: [...jwks.keys] }), {
      issuer: CLAIMS.iss,
      audience: 'sts.amazonaws.com',
      algorithms: ['RS256'],
    });
    expect(protectedHeader).toMatchObject({ alg: 'RS256', typ: 'JWT' });
    expect(payload.sub).toBe(CLAIMS.sub);

    const signs = kms.commandCalls(SignCommand);
    expect(signs).toHaveLength(1);
    const input = signs[0]!.args[0].input;
    expect(input).toMatchObject({
      KeyId: 'alias/spotcheck-oidc',
      MessageType: 'DIGEST',
      SigningAlgorithm: 'RSASSA_PKCS1_V1_5_SHA_256',
    });
    const signingInput = jwt.slice(0, jwt.lastIndexOf('.'));
    expect(Buffer.from(input.Message!)).toEqual(createHash('sha256').update(signingInput).digest());
    // The public key is read once per process.
    expect(kms.commandCalls(GetPublicKeyCommand)).toHaveLength(1);
  });

  it('publishes the previous keys beside the signing key, and signs with the signing key only', async () => {
    fakeKey('key-new');
    fakeKey('key-old');
    const signer = kmsIdTokenSigner({ kms: new KMSClient({}), keyId: 'key-new', previousKeyIds: ['key-old'] });
    const jwt = await signer.sign(CLAIMS);
    const kids = (await signer.jwks()).keys.map((k) => k.kid);
    expect(kids).toHaveLength(2);
    expect(new Set(kids).size).toBe(2);
    expect(kids[0]).toBe(decodeProtectedHeader(jwt).kid);
    expect(kms.commandCalls(SignCommand).map((c) => c.args[0].input.KeyId)).toEqual(['key-new']);
  });

  it('refuses a key that is not for signing, and turns a KMS refusal into an IdTokenError', async () => {
    fakeKey('key-enc', 'ENCRYPT_DECRYPT');
    const wrong = kmsIdTokenSigner({ kms: new KMSClient({}), keyId: 'key-enc' });
    await expect(wrong.sign(CLAIMS)).rejects.toThrow(IdTokenError);
    expect(kms.commandCalls(SignCommand)).toHaveLength(0);

    fakeKey('key-denied');
    kms
      .on(SignCommand, { KeyId: 'key-denied' })
      .rejects(Object.assign(new Error('no'), { name: 'AccessDeniedException' }));
    const denied = kmsIdTokenSigner({ kms: new KMSClient({}), keyId: 'key-denied' });
    await expect(denied.sign(CLAIMS)).rejects.toThrow('KMS Sign failed: AccessDeniedException');
  });
});
