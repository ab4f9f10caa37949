import { createHmac, generateKeyPairSync, randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import pino from 'pino';
import { Probot } from 'probot';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startEmbeddedStore, type EmbeddedStore } from '../../src/store/embedded.ts';
import {
  createGithubWebhookRoute,
  GITHUB_WEBHOOK_PATH,
  MAX_GITHUB_WEBHOOK_BYTES,
} from '../../src/server/github-webhook-route.ts';
import { createHttpServer, listenHttp, type ListeningServer } from '../../src/server/node-http.ts';
import { createRouter } from '../../src/server/router.ts';

const SECRET = 'test-secret';
const logger = pino({ level: 'silent' });
const examples = createRequire(import.meta.url)('@octokit/webhooks-examples') as {
  name: string;
  examples: Record<string, unknown>[];
}[];
const pushPayload = examples.find((e) => e.name === 'push')!.examples[0]!;
const pushBody = JSON.stringify(pushPayload);

let embedded: EmbeddedStore;
let listening: ListeningServer;
/** Delivery ids the app's push handler saw, in order; `failures` makes the next N calls throw. */
const handled: string[] = [];
let failures = 0;

beforeAll(async () => {
  embedded = await startEmbeddedStore({});
  const { privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  const probot = new Probot({ appId: 1, privateKey, secret: SECRET, log: logger });
  await probot.load((app) => {
    app.on('push', (context) => {
      handled.push(context.id);
      if (failures > 0) {
        failures--;
        return Promise.reject(new Error('the inbox write failed'));
      }
      return Promise.resolve();
    });
  });
  const route = createGithubWebhookRoute({
    probot,
    secret: SECRET,
    store: embedded.store,
    host: 'github.com',
    now: Date.now,
  });
  listening = await listenHttp(createHttpServer(createRouter([route]), { logger }), { port: 0, host: '127.0.0.1' });
});
afterAll(async () => {
  await listening.close();
  await embedded.close();
});
beforeEach(() => {
  handled.length = 0;
  failures = 0;
});

function sign(body: string, secret = SECRET): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

function deliver(headers: Record<string, string | undefined>, body: string | Buffer = pushBody): Promise<Response> {
  const clean = Object.fromEntries(Object.entries(headers).filter((e): e is [string, string] => e[1] !== undefined));
  return fetch(`${listening.url}${GITHUB_WEBHOOK_PATH}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...clean },
    body,
  });
}

function pushHeaders(id: string, body: string = pushBody): Record<string, string> {
  return { 'x-github-event': 'push', 'x-github-delivery': id, 'x-hub-signature-256': sign(body) };
}

describe('POST /api/github/webhooks', () => {
  it('accepts a correctly signed delivery (202) and runs the handler once', async () => {
    const id = randomUUID();
    const res = await deliver(pushHeaders(id));
    expect([res.status, await res.json()]).toEqual([202, { status: 'accepted' }]);
    expect(handled).toEqual([id]);
  });

  it('answers a duplicate delivery id with 200 "duplicate" and does not run the handler again', async () => {
    const id = randomUUID();
    expect((await deliver(pushHeaders(id))).status).toBe(202);
    const again = await deliver(pushHeaders(id));
    expect([again.status, await again.json()]).toEqual([200, { status: 'duplicate' }]);
    expect(handled).toEqual([id]);
  });

  it('runs the handler once for the same delivery arriving several times at once', async () => {
    const id = randomUUID();
    const statuses = await Promise.all(Array.from({ length: 5 }, () => deliver(pushHeaders(id)).then((r) => r.status)));
    expect(statuses.sort()).toEqual([200, 200, 200, 200, 202]);
    expect(handled).toEqual([id]);
  });

  it.each([
    ['another secret', sign(pushBody, 'not-the-secret')],
    ['a signature of another body', sign(`${pushBody} `)],
    ['the sha1 header format', `sha1=${createHmac('sha1', SECRET).update(pushBody).digest('hex')}`],
    ['garbage', 'sha256=zz'],
  ])('refuses a bad signature (%s) with 401, runs nothing and claims nothing', async (_name, signature) => {
    const id = randomUUID();
    const res = await deliver({ ...pushHeaders(id), 'x-hub-signature-256': signature });
    expect(res.status).toBe(401);
    expect(handled).toEqual([]);
    // The id was not claimed: the real delivery still goes through.
    expect((await deliver(pushHeaders(id))).status).toBe(202);
    expect(handled).toEqual([id]);
  });

  it.each(['x-github-event', 'x-github-delivery', 'x-hub-signature-256'])(
    'answers 400 when %s is missing',
    async (header) => {
      const res = await deliver({ ...pushHeaders(randomUUID()), [header]: undefined });
      expect(res.status).toBe(400);
      expect(handled).toEqual([]);
    },
  );

  it('answers 400 for a malformed delivery id and 415 for a form-encoded body', async () => {
    expect((await deliver({ ...pushHeaders('../../etc') })).status).toBe(400);
    expect(
      (await deliver({ ...pushHeaders(randomUUID()), 'content-type': 'application/x-www-form-urlencoded' })).status,
    ).toBe(415);
    expect(handled).toEqual([]);
  });

  it('answers 400 for a signed body that is not a JSON object', async () => {
    const body = '[1,2,3]';
    expect((await deliver(pushHeaders(randomUUID(), body), body)).status).toBe(400);
    expect(handled).toEqual([]);
  });

  it("answers 500 when the handler fails, and processes GitHub's redelivery of the same id", async () => {
    const id = randomUUID();
    failures = 1;
    const failed = await deliver(pushHeaders(id));
    expect(failed.status).toBe(500);
    expect(await failed.text()).not.toContain('inbox');
    const redelivered = await deliver(pushHeaders(id));
    expect(redelivered.status).toBe(202);
    expect(handled).toEqual([id, id]);
    // …and once processed, it is a duplicate like any other.
    expect((await deliver(pushHeaders(id))).status).toBe(200);
    expect(handled).toEqual([id, id]);
  });

  it(`refuses a body over ${String(MAX_GITHUB_WEBHOOK_BYTES)} bytes with 413 before verifying`, async () => {
    const body = Buffer.alloc(MAX_GITHUB_WEBHOOK_BYTES + 1, 0x20);
    const res = await deliver(pushHeaders(randomUUID(), body.toString()), body);
    expect(res.status).toBe(413);
    expect(handled).toEqual([]);
  });
});
