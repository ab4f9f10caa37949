/**
 * The reconcile of lost GitHub deliveries, as the App (a JWT through a real Probot), against the nock harness that
 * checks every request with GitHub's OpenAPI description, and a real store (dynalite) for claims and attempts.
 */
import pino from 'pino';
import type { Probot } from 'probot';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createGitHubRedelivery, type GitHubRedeliveryOptions } from '../../src/server/github-redelivery.ts';
import { githubDeliveryClaimKey } from '../../src/server/webhook-verify.ts';
import type { EmbeddedStore } from '../../src/store/embedded.ts';
import type { Store } from '../../src/store/store.ts';
import { createIsolatedStore, startTestStore } from '../helpers/dynalite.ts';
import { createTestProbot, useGitHubApi } from '../helpers/github-api.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const T = Date.parse('2026-03-10T12:00:00Z');

const api = useGitHubApi();
let engine: EmbeddedStore;
let store: Store;
let probot: Probot;
let clock: number;

beforeAll(async () => {
  engine = await startTestStore();
});
afterAll(async () => {
  await engine.close();
});
beforeEach(async () => {
  clock = T;
  store = await createIsolatedStore(engine.client, { now: () => clock });
  probot = createTestProbot();
});

function reconciler(overrides: Partial<GitHubRedeliveryOptions> = {}) {
  return createGitHubRedelivery({
    app: () => probot.auth(),
    store,
    host: 'github.com',
    logger: pino({ level: 'silent' }),
    now: () => clock,
    ...overrides,
  });
}

/** One attempt as "List deliveries for an app webhook" answers it; `ago` is how long before T it was made. */
function attempt(id: number, guid: string, statusCode: number, ago: number): Record<string, unknown> {
  return {
    id,
    guid,
    delivered_at: new Date(T - ago).toISOString(),
    redelivery: false,
    duration: 0.2,
    status: statusCode === 0 ? 'Timed out' : String(statusCode),
    status_code: statusCode,
    event: 'pull_request',
    action: 'synchronize',
    installation_id: 7,
    repository_id: 9,
    throttled_at: null,
  };
}

/** GitHub pages the listing with an opaque `cursor` in the Link header's next URL. */
function nextPage(cursor: string): Record<string, string> {
  return { link: `<https://api.github.com/app/hook/deliveries?per_page=100&cursor=${cursor}>; rel="next"` };
}

const posts = (): string[] =>
  api()
    .requests()
    .filter((r) => r.method === 'POST')
    .map((r) => r.path);

describe('GitHub redelivery', () => {
  it('redelivers, oldest first, the events none of whose attempts succeeded; pages with the cursor; stops at the window', async () => {
    api()
      .get('/app/hook/deliveries')
      .query({ per_page: '100' })
      .reply(
        200,
        [
          attempt(60, 'later-ok', 202, HOUR), // a redelivery that succeeded...
          attempt(50, 'fresh-lost', 503, 2 * HOUR),
          attempt(40, 'stored', 0, 3 * HOUR), // timed out for GitHub, but our claim is held: it was stored
        ],
        nextPage('v1_40'),
      );
    api()
      .get('/app/hook/deliveries')
      .query({ per_page: '100', cursor: 'v1_40' })
      .reply(
        200,
        [
          attempt(30, 'later-ok', 0, 5 * HOUR), // ...of an attempt that timed out
          attempt(20, 'old-lost', 0, 2 * DAY),
          attempt(10, 'too-old', 500, 3 * DAY + HOUR), // beyond GitHub's 3 days: the listing stops here
        ],
        nextPage('v1_10'),
      );
    api().post('/app/hook/deliveries/20/attempts').reply(202, {});
    api().post('/app/hook/deliveries/50/attempts').reply(202, {});
    await store.claim(githubDeliveryClaimKey('github.com', 'stored'), T + DAY);

    expect(await reconciler().reconcile()).toEqual({ listed: 5, lost: 2, redelivered: 2 });
    expect(posts()).toEqual(['/app/hook/deliveries/20/attempts', '/app/hook/deliveries/50/attempts']);
    // As the App: a JWT, not an installation token.
    for (const r of api().requests()) expect(r.headers['authorization']).toMatch(/^bearer ey/i);
  });

  it('asks once per event within the window, also from another replica', async () => {
    api()
      .get('/app/hook/deliveries')
      .query({ per_page: '100' })
      .times(2)
      .reply(200, [attempt(5, 'lost', 502, HOUR)]);
    api().post('/app/hook/deliveries/5/attempts').reply(202, {});

    expect((await reconciler().reconcile()).redelivered).toBe(1);
    clock += 10 * 60_000;
    // GitHub's redelivery failed again (still no success listed): it is not asked for a second time.
    expect(await reconciler().reconcile()).toEqual({ listed: 1, lost: 1, redelivered: 0 });
    expect(posts()).toHaveLength(1);
  });

  it('asks for at most maxRedeliveries per reconcile; the rest next time', async () => {
    api()
      .get('/app/hook/deliveries')
      .query({ per_page: '100' })
      .times(2)
      .reply(200, [attempt(3, 'c', 0, HOUR), attempt(2, 'b', 0, 2 * HOUR), attempt(1, 'a', 0, 3 * HOUR)]);
    api().post('/app/hook/deliveries/1/attempts').reply(202, {});
    api().post('/app/hook/deliveries/2/attempts').reply(202, {});
    api().post('/app/hook/deliveries/3/attempts').reply(202, {});

    const reconcile = reconciler({ maxRedeliveries: 2 });
    expect((await reconcile.reconcile()).redelivered).toBe(2);
    expect(posts()).toEqual(['/app/hook/deliveries/1/attempts', '/app/hook/deliveries/2/attempts']);
    expect((await reconcile.reconcile()).redelivered).toBe(1);
    expect(posts()).toHaveLength(3);
  });

  it('reads at most maxPages pages', async () => {
    api()
      .get('/app/hook/deliveries')
      .query({ per_page: '100' })
      .reply(200, [attempt(2, 'b', 200, HOUR)], nextPage('v1_2'));
    api()
      .get('/app/hook/deliveries')
      .query({ per_page: '100', cursor: 'v1_2' })
      .reply(200, [attempt(1, 'a', 200, 2 * HOUR)], nextPage('v1_1'));

    expect(await reconciler({ maxPages: 2 }).reconcile()).toEqual({ listed: 2, lost: 0, redelivered: 0 });
  });

  it('tries again after GitHub failed to take the redelivery (5xx), not after it refused it (4xx)', async () => {
    api()
      .get('/app/hook/deliveries')
      .query({ per_page: '100' })
      .times(2)
      .reply(200, [attempt(8, 'refused', 0, 2 * HOUR), attempt(9, 'flaky', 0, HOUR)]);
    api().post('/app/hook/deliveries/8/attempts').reply(422, { message: 'Validation Failed' });
    api().post('/app/hook/deliveries/9/attempts').reply(500, { message: 'Server Error' });
    api().post('/app/hook/deliveries/9/attempts').reply(202, {});

    expect((await reconciler().reconcile()).redelivered).toBe(0);
    expect((await reconciler().reconcile()).redelivered).toBe(1);
    expect(posts()).toEqual([
      '/app/hook/deliveries/8/attempts',
      '/app/hook/deliveries/9/attempts',
      '/app/hook/deliveries/9/attempts',
    ]);
  });
});
