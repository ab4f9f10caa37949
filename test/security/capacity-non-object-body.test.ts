/**
 * Red-team finding: a signed `null` body to the capacity webhook answered 500. Replayed through the router with the
 * real Gitea capacity route: a signed body that is JSON but not an object (or an object whose fields are not the
 * shapes Gitea sends) is answered 4xx or ignored, never 5xx, and nothing is claimed or handed to the inbox.
 */
import { createHmac, randomUUID } from 'node:crypto';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { Route } from '../../runners/runner.ts';
import { createGiteaCapacityWebhookRoute, GITEA_CAPACITY_WEBHOOK_PATH } from '../../src/server/capacity-routes.ts';
import { createRouter } from '../../src/server/router.ts';

const SECRET = 'capacity-secret';
const routes = new Map<string, Route>([
  ['gpu', { label: 'gpu', runner: 'spot', settings: { instanceTypes: ['m7i.large'], capacity: true } }],
]);

describe('the capacity webhook under signed bodies of the wrong shape', () => {
  const bodies = [
    ['null', 400],
    ['[]', 400],
    ['1', 400],
    ['"queued"', 400],
    ['true', 400],
    ['{"action":"queued","workflow_job":null,"repository":null}', 200],
    ['{"action":"queued","workflow_job":{"labels":null,"id":"x"},"repository":{"full_name":null}}', 200],
  ] as const;
  it.each(bodies)('%s is answered %i, nothing claimed', async (body, status) => {
    let claims = 0;
    let intents = 0;
    const router = createRouter([
      createGiteaCapacityWebhookRoute({
        secret: SECRET,
        host: 'gitea.example.org',
        store: {
          claim: () => {
            claims++;
            return Promise.resolve(true);
          },
          release: () => Promise.resolve(),
        },
        routes,
        onIntent: () => {
          intents++;
          return Promise.resolve();
        },
        now: () => 0,
      }),
    ]);
    const response = await router.handle({
      method: 'POST',
      path: GITEA_CAPACITY_WEBHOOK_PATH,
      query: new URLSearchParams(),
      headers: {
        'content-type': 'application/json',
        'x-gitea-delivery': randomUUID(),
        'x-gitea-event': 'workflow_job',
        'x-gitea-signature': createHmac('sha256', SECRET).update(body).digest('hex'),
      },
      signal: new AbortController().signal,
      log: pino({ level: 'silent' }),
      readBody: () => Promise.resolve(Buffer.from(body)),
    });
    expect(response.status).toBe(status);
    expect([claims, intents]).toEqual([0, 0]);
  });
});
