/**
 * spotcheck as an OpenID Connect issuer, the way GitHub's token.actions.githubusercontent.com is one, so that
 * `aws-actions/configure-aws-credentials` with `role-to-assume` (and any other OIDC consumer) works unchanged:
 *
 * - `GET /.well-known/openid-configuration` and `GET /.well-known/jwks`: the discovery document (issuer = the public
 *   URL) and the signing keys, which AWS IAM and STS fetch;
 * - `GET /api/oidc/token?run=…&order=…[&audience=…]` with `Authorization: Bearer <request token>`: what
 *   `core.getIDToken(audience)` of actions/toolkit calls (ACTIONS_ID_TOKEN_REQUEST_URL, `&audience=` appended;
 *   ACTIONS_ID_TOKEN_REQUEST_TOKEN as the bearer) and GitHub's answer, `{"value": "<jwt>"}`. Refusals are JSON
 *   `{"message": …}`, which the toolkit's error text reads.
 *
 * The request token is an order token (./order-token.ts: run, order, attempt, SHA, expiry) under a key derived
 * from the agents' secret for this one purpose, so it is not a report token (a step holding it cannot report for
 * its order) and a report token is not a request token. It is good while its order attempt runs.
 */
import { bearerCredential } from './auth-header.ts';
import { createHmac, randomUUID } from 'node:crypto';
import {
  idTokenClaims,
  idTokenRefusal,
  MAX_AUDIENCE_LENGTH,
  SUPPORTED_CLAIMS,
  type IdTokenRefusal,
} from '../core/id-token-claims.ts';
import { isFinalOrderState, type OrderRecord, type RunRecord } from '../core/types.ts';
import { joinUrl, trimTrailingSlashes } from '../core/url.ts';
import type { Store } from '../store/store.ts';
import { DEFAULT_REPORT_TOKEN_MAX_MS, DEFAULT_REPORT_TOKEN_SLACK_MS } from './bootstrap-route.ts';
import { ID_TOKEN_ALG, type IdTokenSigner } from './id-token-signer.ts';
import { signOrderToken, verifyOrderToken } from './order-token.ts';
import { json, type RouteDefinition, type RouterResponse } from './router.ts';

export const OIDC_DISCOVERY_PATH = '/.well-known/openid-configuration';
export const OIDC_JWKS_PATH = '/.well-known/jwks';
export const ID_TOKEN_REQUEST_PATH = '/api/oidc/token';

/** What an order's job carries to ask for ID tokens: ACTIONS_ID_TOKEN_REQUEST_URL and _TOKEN. */
export interface IdTokenRequest {
  readonly url: string;
  readonly token: string;
}

/** The request tokens' own key: HMAC of a fixed label under the agents' secret (a one-step HKDF-style derivation). */
export function idTokenRequestKey(agentSecret: string | Uint8Array): Buffer {
  return createHmac('sha256', agentSecret).update('spotcheck-id-token-request.v1').digest();
}

/**
 * The URL and bearer token an order attempt asks for its ID tokens with. The token expires with the order: its
 * timeout plus the slack the report token has (bootstrap-route.ts), and the route refuses it once the order is
 * final or at another attempt.
 */
export function idTokenRequestFor(
  publicUrl: string,
  agentSecret: string | Uint8Array,
  run: RunRecord,
  order: OrderRecord,
  now: number,
): IdTokenRequest {
  const lifetimeMs =
    Number.isFinite(order.timeoutMinutes) && order.timeoutMinutes > 0
      ? Math.min(order.timeoutMinutes * 60_000 + DEFAULT_REPORT_TOKEN_SLACK_MS, DEFAULT_REPORT_TOKEN_MAX_MS)
      : DEFAULT_REPORT_TOKEN_MAX_MS;
  const token = signOrderToken(idTokenRequestKey(agentSecret), {
    runId: run.runId,
    orderId: order.id,
    attempt: order.attempt,
    sha: run.sha,
    expiresAt: now + lifetimeMs,
  });
  // The toolkit appends `&audience=…`, so the URL must already have a query.
  const query = new URLSearchParams({ run: run.runId, order: order.id });
  return { url: `${joinUrl(publicUrl, ID_TOKEN_REQUEST_PATH)}?${query.toString()}`, token };
}

export interface OidcRoutesOptions {
  /** The public URL: the issuer (`iss`), and where the JWKS is published. */
  readonly publicUrl: string;
  readonly signer: IdTokenSigner;
  readonly store: Pick<Store, 'getRun' | 'getOrder'>;
  /** The agents' secret; the request tokens' key is derived from it. */
  readonly agentSecret: string | Uint8Array;
  /** Seconds an ID token is valid. */
  readonly lifetimeSeconds: number;
  readonly now: () => number;
}

/** The discovery document, the JWKS and the token request route. */
export function createOidcRoutes(opts: OidcRoutesOptions): RouteDefinition[] {
  const issuer = trimTrailingSlashes(opts.publicUrl);
  const requestKey = idTokenRequestKey(opts.agentSecret);
  const discovery = {
    issuer,
    jwks_uri: joinUrl(issuer, OIDC_JWKS_PATH),
    subject_types_supported: ['public'],
    response_types_supported: ['id_token'],
    claims_supported: SUPPORTED_CLAIMS,
    id_token_signing_alg_values_supported: [ID_TOKEN_ALG],
    scopes_supported: ['openid'],
  };
  return [
    {
      method: 'GET',
      pattern: OIDC_DISCOVERY_PATH,
      handle: () => Promise.resolve(json(200, discovery, { 'cache-control': 'public, max-age=3600' })),
    },
    {
      method: 'GET',
      pattern: OIDC_JWKS_PATH,
      // Short: a rotated key must reach verifiers well before the tokens it signs do.
      handle: async () => json(200, await opts.signer.jwks(), { 'cache-control': 'public, max-age=300' }),
    },
    {
      method: 'GET',
      pattern: ID_TOKEN_REQUEST_PATH,
      async handle(req) {
        const credential = bearerCredential(req.headers.authorization);
        const now = opts.now();
        const verdict = credential === undefined ? undefined : verifyOrderToken(requestKey, credential, now);
        if (!verdict?.ok) {
          req.log.info({ reason: verdict?.reason ?? 'missing' }, 'id token refused: request token');
          return unauthorized(verdict?.reason === 'expired' ? 'token expired' : 'invalid token');
        }
        const { claims } = verdict;
        // The URL names the order too; a token of another order does not ask for this one.
        if (req.query.get('run') !== claims.runId || req.query.get('order') !== claims.orderId)
          return unauthorized('invalid token');
        const log = req.log.child({ runId: claims.runId, orderId: claims.orderId, attempt: claims.attempt });
        const audience = req.query.get('audience') ?? undefined;
        if (audience !== undefined && audience.length > MAX_AUDIENCE_LENGTH)
          return message(400, `the audience is longer than ${String(MAX_AUDIENCE_LENGTH)} characters`);
        const [run, order] = await Promise.all([
          opts.store.getRun(claims.runId),
          opts.store.getOrder(claims.runId, claims.orderId),
        ]);
        // The token lives with its order attempt: a finished or superseded attempt's token is spent.
        if (!run || !order || run.sha !== claims.sha || order.attempt !== claims.attempt) {
          log.info('id token refused: the order is not known');
          return unauthorized('invalid token');
        }
        if (isFinalOrderState(order.state)) {
          log.info('id token refused: the order is finished');
          return unauthorized('token expired');
        }
        const refusal = idTokenRefusal(run, order);
        if (refusal !== undefined) {
          log.info({ refusal }, 'id token refused');
          return message(403, REFUSALS[refusal]);
        }
        const tokenClaims = idTokenClaims(run, order, {
          issuer,
          audience,
          now: Math.floor(now / 1000),
          lifetimeSeconds: opts.lifetimeSeconds,
          jti: randomUUID(),
        });
        const value = await opts.signer.sign(tokenClaims);
        log.info({ sub: tokenClaims.sub, aud: tokenClaims.aud, jti: tokenClaims.jti }, 'id token issued');
        return json(200, { value }, { 'cache-control': 'no-store' });
      },
    },
  ];
}

const REFUSALS: Readonly<Record<IdTokenRefusal, string>> = {
  'not-permitted': "the job's permissions do not grant id-token: write",
  outsider: 'a run of an outsider pull request gets no ID token',
  'environment-unresolved': "the job's environment name could not be evaluated",
};

function message(status: number, text: string, headers: Record<string, string> = {}): RouterResponse {
  return json(status, { message: text }, headers);
}

function unauthorized(text: string): RouterResponse {
  return message(401, text, { 'www-authenticate': 'Bearer' });
}
