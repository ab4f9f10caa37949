/**
 * spotcheck's ID token signing key (src/server/kms-id-token-signer.ts): a KMS asymmetric key, RSA_2048 for
 * SIGN_VERIFY, whose private half never leaves KMS. The Lambdas may `Sign` with it and read its public key for the
 * JWKS, nothing else (stack-policy.ts). KMS does not rotate asymmetric keys: to rotate, add a new key, make it the
 * config's `oidc.kmsKeyId` and list the old one in `oidc.previousKmsKeyIds` until its last token expired.
 */
import { RemovalPolicy, type Stack } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';

export function defineIdTokenKey(stack: Stack): kms.Key {
  return new kms.Key(stack, 'IdTokenKey', {
    description: 'spotcheck: signs the OpenID Connect ID tokens of orders granted id-token: write',
    keySpec: kms.KeySpec.RSA_2048,
    keyUsage: kms.KeyUsage.SIGN_VERIFY,
    // Tokens signed with it verify only while the JWKS publishes it: never deleted with the stack.
    removalPolicy: RemovalPolicy.RETAIN,
  });
}
