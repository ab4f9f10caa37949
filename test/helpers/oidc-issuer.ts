/**
 * spotcheck's OIDC routes on loopback over a records map, with a movable clock, and the checks AWS STS applies to a
 * web identity token (AssumeRoleWithWebIdentity): RS256, a `kid` the issuer's JWKS publishes, `iss` the provider's
 * URL (https in AWS; loopback http here), `aud` one of the provider's client ids, `exp` in the future and no more
 * than an hour after `iat`, `sub` present.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify, type JWTPayload } from 'jose';
import pino from 'pino';
import { expect } from 'vitest';
import type { OrderRecord, RunRecord } from '../../src/core/types.ts';
import { localIdTokenSigner, type IdTokenSigner } from '../../src/server/id-token-signer.ts';
import { createHttpServer, listenHttp, type ListeningServer } from '../../src/server/node-http.ts';
import { createOidcRoutes, OIDC_DISCOVERY_PATH } from '../../src/server/oidc-routes.ts';
import { createRouter } from '../../src/server/router.ts';

export const AGENT_SECRET = 's'.repeat(40);

export interface OidcIssuer {
  readonly url: string;
  readonly dir: string;
  readonly records: Map<string, RunRecord | OrderRecord>;
  readonly clock: { now: number };
  readonly signer: IdTokenSigner;
  put(run: RunRecord, ...orders: OrderRecord[]): void;
  close(): Promise<void>;
}

export async function startOidcIssuer(signer?: (dir: string, now: () => number) => IdTokenSigner): Promise<OidcIssuer> {
  const dir = await mkdtemp(join(tmpdir(), 'spotcheck-oidc-'));
  const clock = { now: Date.now() };
  const now = (): number => clock.now;
  const records = new Map<string, RunRecord | OrderRecord>();
  const idSigner = signer?.(dir, now) ?? localIdTokenSigner({ keyFile: join(dir, 'oidc-signing-keys.json'), now });
  let publicUrl = '';
  // The issuer URL is known once the server listens: routes are built on first request.
  let routes: ReturnType<typeof createRouter> | undefined;
  const server = createHttpServer(
    {
      handle: (req) => {
        routes ??= createRouter(
          createOidcRoutes({
            publicUrl,
            signer: idSigner,
            store: {
              getRun: (runId) => Promise.resolve(records.get(runId) as RunRecord | undefined),
              getOrder: (runId, orderId) =>
                Promise.resolve(records.get(`${runId}/${orderId}`) as OrderRecord | undefined),
            },
            agentSecret: AGENT_SECRET,
            lifetimeSeconds: 300,
            now,
          }),
        );
        return routes.handle(req);
      },
    },
    { logger: pino({ level: 'silent' }) },
  );
  const listening: ListeningServer = await listenHttp(server, { port: 0, host: '127.0.0.1' });
  publicUrl = listening.url;
  return {
    url: publicUrl,
    dir,
    records,
    clock,
    signer: idSigner,
    put(run, ...orders) {
      records.set(run.runId, run);
      for (const order of orders) records.set(`${run.runId}/${order.id}`, order);
    },
    async close() {
      await listening.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** What `core.getIDToken(audience)` does: GET the URL with `&audience=` appended, the request token as bearer. */
export async function requestIdToken(
  url: string,
  token: string,
  audience?: string,
): Promise<{ status: number; body: { value?: string; message?: string } }> {
  const res = await fetch(audience === undefined ? url : `${url}&audience=${encodeURIComponent(audience)}`, {
    headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
  });
  const text = await res.text();
  const json = res.headers.get('content-type')?.startsWith('application/json') === true;
  return { status: res.status, body: json ? (JSON.parse(text) as { value?: string }) : { message: text.trim() } };
}

/**
 * Verifies `jwt` as STS would for a provider at `issuer` with client id `audience`: against the JWKS the discovery
 * document names, fetched from the issuer; returns the claims.
 */
export async function verifyLikeSts(
  jwt: string,
  issuer: string,
  audience: string,
  currentDate = new Date(),
): Promise<JWTPayload> {
  const discovery = (await (await fetch(`${issuer}${OIDC_DISCOVERY_PATH}`)).json()) as {
    issuer: string;
    jwks_uri: string;
  };
  expect(discovery.issuer).toBe(issuer);
  const jwksRes = await fetch(discovery.jwks_uri);
  const jwks = (await jwksRes.json()) as { keys: { kid?: string }[] };
  const header = decodeProtectedHeader(jwt);
  expect(header.alg).toBe('RS256');
  expect(header.kid).toBeTruthy();
  expect(jwks.keys.map((k) => k.kid)).toContain(header.kid);
  const { payload } = await jwtVerify(jwt, createRemoteJWKSet(new URL(discovery.jwks_uri)), {
    issuer,
    audience,
    algorithms: ['RS256'],
    currentDate,
    requiredClaims: ['sub', 'iat', 'exp', 'iss', 'aud'],
  });
  expect(payload.exp! * 1000).toBeGreaterThan(currentDate.getTime());
  expect(payload.exp! - payload.iat!).toBeLessThanOrEqual(3600);
  expect(typeof payload.sub).toBe('string');
  return payload;
}
