import { chmod, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeProtectedHeader } from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { OrderRecord, RunRecord } from '../../src/core/types.ts';
import { signOrderToken } from '../../src/server/order-token.ts';
import { idTokenRequestFor, OIDC_DISCOVERY_PATH } from '../../src/server/oidc-routes.ts';
import { makeOrder, makeRun, SHA } from '../helpers/records.ts';
import {
  AGENT_SECRET,
  requestIdToken,
  startOidcIssuer,
  verifyLikeSts,
  type OidcIssuer,
} from '../helpers/oidc-issuer.ts';

const DAY = 86_400_000;
let issuer: OidcIssuer;

beforeEach(async () => {
  issuer = await startOidcIssuer();
});
afterEach(async () => {
  await issuer.close();
});

function deployOrder(runId: string, over: Partial<OrderRecord> = {}): OrderRecord {
  return makeOrder('deploy', {
    runId,
    state: 'running',
    timeoutMinutes: 30,
    permissions: { 'id-token': 'write', contents: 'read' },
    ...over,
  });
}

function memberRun(runId: string, over: Parameters<typeof makeRun>[0] = {}): RunRecord {
  return makeRun({ runId, trust: 'member', ...over });
}

/** Records the run and order, and returns the order's request URL and token as its job would carry them. */
function requestFor(run: RunRecord, order: OrderRecord): { url: string; token: string } {
  issuer.put(run, order);
  return idTokenRequestFor(issuer.url, AGENT_SECRET, run, order, issuer.clock.now);
}

describe('the OpenID Connect issuer', () => {
  it('publishes a discovery document like token.actions.githubusercontent.com and a JWKS of RS256 keys', async () => {
    const res = await fetch(`${issuer.url}${OIDC_DISCOVERY_PATH}`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as Record<string, unknown>;
    expect(doc).toMatchObject({
      issuer: issuer.url,
      jwks_uri: `${issuer.url}/.well-known/jwks`,
      response_types_supported: ['id_token'],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: ['RS256'],
    });
    expect(doc.claims_supported).toEqual(expect.arrayContaining(['sub', 'aud', 'repository', 'job_workflow_ref']));
    const jwks = (await (await fetch(doc.jwks_uri as string)).json()) as { keys: Record<string, string>[] };
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig', e: 'AQAB' });
    expect(Object.keys(jwks.keys[0]!).sort()).toEqual(['alg', 'e', 'kid', 'kty', 'n', 'use']);
  });

  it('issues a push run a token STS would accept, with GitHub-shaped claims', async () => {
    const run = memberRun('run-push');
    const { url, token } = requestFor(run, deployOrder('run-push'));
    const res = await requestIdToken(url, token, 'sts.amazonaws.com');
    expect(res.status).toBe(200);
    expect(Object.keys(res.body)).toEqual(['value']);
    const claims = await verifyLikeSts(res.body.value!, issuer.url, 'sts.amazonaws.com', new Date(issuer.clock.now));
    const iat = Math.floor(issuer.clock.now / 1000);
    expect(claims).toMatchObject({
      sub: 'repo:octo/app:ref:refs/heads/main',
      aud: 'sts.amazonaws.com',
      iss: issuer.url,
      iat,
      exp: iat + 300,
      repository: 'octo/app',
      repository_owner: 'octo',
      ref: 'refs/heads/main',
      ref_type: 'branch',
      sha: SHA,
      workflow: 'ci',
      job_workflow_ref: 'octo/app/.spotcheck/workflows/ci.yml@refs/heads/main',
      run_id: 'run-push',
      run_attempt: '1',
      actor: 'octocat',
      event_name: 'push',
      runner_environment: 'self-hosted',
    });
    expect(claims.nbf).toBeLessThanOrEqual(iat);
    expect(claims.jti).toMatch(/^[0-9a-f-]{36}$/);
    expect(claims).not.toHaveProperty('environment');
    // Each token its own jti.
    const again = await requestIdToken(url, token, 'sts.amazonaws.com');
    const second = await verifyLikeSts(again.body.value!, issuer.url, 'sts.amazonaws.com', new Date(issuer.clock.now));
    expect(second.jti).not.toBe(claims.jti);
  });

  it("defaults the audience to the repository owner's URL, as GitHub does", async () => {
    const { url, token } = requestFor(memberRun('run-aud'), deployOrder('run-aud'));
    const res = await requestIdToken(url, token);
    const claims = await verifyLikeSts(
      res.body.value!,
      issuer.url,
      'https://github.com/octo',
      new Date(issuer.clock.now),
    );
    expect(claims.aud).toBe('https://github.com/octo');
  });

  it.each([
    ['a pull request run', 'repo:octo/app:pull_request', { event: 'pull_request', ref: 'refs/pull/7/merge' }, {}],
    ['a !testme run', 'repo:octo/app:pull_request', { event: 'testme', ref: 'refs/pull/7/merge' }, {}],
    ['a tag push', 'repo:octo/app:ref:refs/tags/v1.2.0', { ref: 'refs/tags/v1.2.0' }, {}],
    ['a job with an environment', 'repo:octo/app:environment:prod', {}, { environment: { name: 'prod' } }],
    [
      'a pull request job with an environment',
      'repo:octo/app:environment:prod',
      { event: 'pull_request', ref: 'refs/pull/7/merge' },
      { environment: { name: 'prod' } },
    ],
  ] as const)('sub for %s is %s', async (name, sub, runOver, orderOver) => {
    const id = `run-${name.replaceAll(' ', '-')}`;
    const { url, token } = requestFor(memberRun(id, runOver), deployOrder(id, orderOver));
    const res = await requestIdToken(url, token, 'sts.amazonaws.com');
    const claims = await verifyLikeSts(res.body.value!, issuer.url, 'sts.amazonaws.com', new Date(issuer.clock.now));
    expect(claims.sub).toBe(sub);
    if ('environment' in orderOver) expect(claims.environment).toBe('prod');
  });

  it('write-all grants id-token; read-all, no permissions and id-token: read do not (403)', async () => {
    const cases: [OrderRecord['permissions'], number][] = [
      ['write-all', 200],
      ['read-all', 403],
      [undefined, 403],
      [{ 'id-token': 'read' }, 403],
      [{ contents: 'write' }, 403],
    ];
    for (const [i, [permissions, status]] of cases.entries()) {
      const id = `run-perm-${String(i)}`;
      const order = makeOrder('deploy', { runId: id, state: 'running', timeoutMinutes: 30 });
      const { url, token } = requestFor(memberRun(id), permissions === undefined ? order : { ...order, permissions });
      const res = await requestIdToken(url, token, 'sts.amazonaws.com');
      expect([permissions, res.status]).toEqual([permissions, status]);
      if (status === 403) expect(res.body.message).toBe("the job's permissions do not grant id-token: write");
    }
  });

  it("refuses an outsider's run even with id-token: write (403), and a run with no trust recorded", async () => {
    for (const trust of ['approved-outsider', undefined] as const) {
      const id = `run-out-${trust ?? 'none'}`;
      const run = makeRun({ runId: id, event: 'testme', ...(trust === undefined ? {} : { trust }) });
      const { url, token } = requestFor(run, deployOrder(id));
      const res = await requestIdToken(url, token, 'sts.amazonaws.com');
      expect(res.status).toBe(403);
      expect(res.body.value).toBeUndefined();
    }
  });

  it('refuses a missing, forged, expired or report bearer token, and another order’s token (401)', async () => {
    const run = memberRun('run-auth');
    const mine = requestFor(run, deployOrder('run-auth'));
    const other = requestFor(run, deployOrder('run-auth', { id: 'other' }));
    expect((await fetch(mine.url)).status).toBe(401);
    expect((await requestIdToken(mine.url, `${mine.token.slice(0, -2)}AA`)).status).toBe(401);
    expect((await requestIdToken(mine.url, other.token)).status).toBe(401);
    // The agent's report token is signed with the agents' secret itself: not a request token.
    const report = signOrderToken(AGENT_SECRET, {
      runId: 'run-auth',
      orderId: 'deploy',
      attempt: 1,
      sha: SHA,
      expiresAt: issuer.clock.now + DAY,
    });
    expect((await requestIdToken(mine.url, report)).status).toBe(401);
    expect((await requestIdToken(mine.url, mine.token)).status).toBe(200);
    // The request token lives as long as the order may (30 minutes, plus the report token's 30 minutes of slack).
    issuer.clock.now += 61 * 60_000;
    const expired = await requestIdToken(mine.url, mine.token);
    expect(expired).toEqual({ status: 401, body: { message: 'token expired' } });
  });

  it('refuses the token once its order is finished or at another attempt (401)', async () => {
    const run = memberRun('run-done');
    const order = deployOrder('run-done');
    const { url, token } = requestFor(run, order);
    issuer.put(run, { ...order, attempt: 2 });
    expect((await requestIdToken(url, token)).status).toBe(401);
    issuer.put(run, { ...order, state: 'succeeded' });
    expect((await requestIdToken(url, token)).status).toBe(401);
  });

  it('rotates the signing key and keeps the old one in the JWKS until its tokens expired', async () => {
    const run = memberRun('run-rot');
    const order = deployOrder('run-rot');
    const early = requestFor(run, order);
    const first = (await requestIdToken(early.url, early.token, 'sts.amazonaws.com')).body.value!;
    const firstAt = new Date(issuer.clock.now);
    // A week on (the default rotation), another attempt's job asks.
    issuer.clock.now += 8 * DAY;
    const late = requestFor(run, order);
    const second = (await requestIdToken(late.url, late.token, 'sts.amazonaws.com')).body.value!;
    expect(decodeProtectedHeader(second).kid).not.toBe(decodeProtectedHeader(first).kid);
    const kids = async (): Promise<string[]> =>
      ((await (await fetch(`${issuer.url}/.well-known/jwks`)).json()) as { keys: { kid: string }[] }).keys.map(
        (k) => k.kid,
      );
    expect(await kids()).toEqual([decodeProtectedHeader(first).kid, decodeProtectedHeader(second).kid]);
    // The old key still verifies what it signed.
    await verifyLikeSts(first, issuer.url, 'sts.amazonaws.com', firstAt);
    await verifyLikeSts(second, issuer.url, 'sts.amazonaws.com', new Date(issuer.clock.now));
    // Past the longest token lifetime after the rotation, only the new key is left.
    issuer.clock.now += 2 * 60 * 60_000;
    expect(await kids()).toEqual([decodeProtectedHeader(second).kid]);
  });

  it('keeps the key file at mode 0600 and refuses one others can read', async () => {
    const { url, token } = requestFor(memberRun('run-mode'), deployOrder('run-mode'));
    expect((await requestIdToken(url, token, 'sts.amazonaws.com')).status).toBe(200);
    const keyFile = join(issuer.dir, 'oidc-signing-keys.json');
    expect((await stat(keyFile)).mode & 0o777).toBe(0o600);
    await chmod(keyFile, 0o644);
    const res = await requestIdToken(url, token, 'sts.amazonaws.com');
    expect(res.status).toBe(500);
    expect(res.body.value).toBeUndefined();
  });
});
