import { createHmac, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import pino from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Intent } from '../../src/intake/intents.ts';
import {
  createGiteaWebhookRoute,
  GITEA_WEBHOOK_PATH,
  MAX_GITEA_WEBHOOK_BYTES,
} from '../../src/server/gitea-webhook-route.ts';
import { giteaDeliveryClaimKey } from '../../src/server/webhook-verify.ts';
import { createHttpServer, listenHttp, type ListeningServer } from '../../src/server/node-http.ts';
import { createRouter } from '../../src/server/router.ts';
import { startEmbeddedStore, type EmbeddedStore } from '../../src/store/embedded.ts';

const SECRET = 'gitea-test-secret';
const HOST = 'gitea.example.org';
const logger = pino({ level: 'silent' });

/** Gitea's own captures (test/fixtures/gitea/captured/), sent byte for byte as Gitea sent them. */
function capture(name: string): string {
  return readFileSync(new URL(`../fixtures/gitea/captured/${name}`, import.meta.url), 'utf8');
}
function derived(name: string): string {
  return readFileSync(new URL(`../fixtures/gitea/${name}`, import.meta.url), 'utf8');
}

const pushBody = capture('push-multi-commit.json');

let embedded: EmbeddedStore;
let listening: ListeningServer;
/** Intents the inbox was handed, in order; `failures` makes the next N calls reject. */
const accepted: Intent[] = [];
let failures = 0;

beforeAll(async () => {
  embedded = await startEmbeddedStore({});
  const route = createGiteaWebhookRoute({
    secret: SECRET,
    store: embedded.store,
    host: HOST,
    botLogin: 'spotcheck-bot',
    now: Date.now,
    onIntent: (intent) => {
      accepted.push(intent);
      if (failures > 0) {
        failures--;
        return Promise.reject(new Error('the inbox write failed'));
      }
      return Promise.resolve();
    },
  });
  listening = await listenHttp(createHttpServer(createRouter([route]), { logger }), { port: 0, host: '127.0.0.1' });
});
afterAll(async () => {
  await listening.close();
  await embedded.close();
});
beforeEach(() => {
  accepted.length = 0;
  failures = 0;
});

/** Gitea's signature: the plain hex HMAC-SHA256 of the raw body (services/webhook/deliver.go). */
function sign(body: string | Buffer, secret = SECRET): string {
  return createHmac('sha256', secret).update(body).digest('hex');
}

/** The headers Gitea sends (a subset: it also sends X-Gogs-* and X-GitHub-* copies). */
function giteaHeaders(
  id: string,
  body: string | Buffer,
  event = 'push',
  eventType: string | undefined = event,
): Record<string, string | undefined> {
  return {
    'x-gitea-delivery': id,
    'x-gitea-event': event,
    'x-gitea-event-type': eventType,
    'x-gitea-signature': sign(body),
  };
}

function deliver(headers: Record<string, string | undefined>, body: string | Buffer = pushBody): Promise<Response> {
  const clean = Object.fromEntries(Object.entries(headers).filter((e): e is [string, string] => e[1] !== undefined));
  return fetch(`${listening.url}${GITEA_WEBHOOK_PATH}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...clean },
    body,
  });
}

describe('POST /api/gitea/webhooks', () => {
  it('accepts a correctly signed push capture (202) and hands the inbox one push intent', async () => {
    const id = randomUUID();
    const res = await deliver(giteaHeaders(id, pushBody));
    expect([res.status, await res.json()]).toEqual([202, { status: 'accepted' }]);
    expect(accepted).toHaveLength(1);
    expect(accepted[0]).toMatchObject({
      kind: 'push',
      deliveryId: id,
      install: { forge: 'gitea', host: HOST },
      repo: { forge: 'gitea', host: HOST, owner: 'Test-CI', name: 'multi-line-secrets' },
      ref: 'refs/heads/main',
      after: '29be01c073851cf0db0c6a466e396b725a670453',
      pusher: 'test-user',
    });
  });

  it.each([
    ['the new-branch push capture', capture('push-new-branch.json'), 'push', 'push', 'push'],
    [
      'a !testme comment (derived)',
      derived('issue_comment-testme.json'),
      'issue_comment',
      'pull_request_comment',
      'testme',
    ],
    [
      'a PR sync (derived)',
      derived('pull_request-synchronized.json'),
      'pull_request',
      'pull_request_sync',
      'pull_request',
    ],
    [
      'a PR opened without X-Gitea-Event-Type',
      derived('pull_request-opened.json'),
      'pull_request',
      undefined,
      'pull_request',
    ],
  ])('accepts %s (202)', async (_name, body, event, eventType, kind) => {
    const id = randomUUID();
    const res = await deliver(giteaHeaders(id, body, event, eventType), body);
    expect(res.status).toBe(202);
    expect(accepted.map((i) => [i.kind, i.deliveryId])).toEqual([[kind, id]]);
  });

  it.each([
    [
      'the comment capture (not !testme)',
      capture('issue_comment-on-pr.json'),
      'issue_comment',
      'pull_request_comment',
      'not exactly !testme',
    ],
    [
      'an edited comment',
      derived('issue_comment-edited.json'),
      'issue_comment',
      'pull_request_comment',
      'action edited',
    ],
    [
      "the bot's own comment",
      derived('issue_comment-by-bot.json'),
      'issue_comment',
      'pull_request_comment',
      'from this bot',
    ],
    ['a deleted branch', derived('delete-branch.json'), 'delete', 'delete', 'fdsafdsa was deleted'],
  ])(
    'answers %s with 200 and the reason, hands nothing to the inbox',
    async (_name, body, event, eventType, reason) => {
      const id = randomUUID();
      const res = await deliver(giteaHeaders(id, body, event, eventType), body);
      expect(res.status).toBe(200);
      expect(((await res.json()) as { ignored: string }).ignored).toContain(reason);
      expect(accepted).toEqual([]);
    },
  );

  it('answers a duplicate delivery id with 200 "duplicate" and hands the intent over once', async () => {
    const id = randomUUID();
    expect((await deliver(giteaHeaders(id, pushBody))).status).toBe(202);
    const again = await deliver(giteaHeaders(id, pushBody));
    expect([again.status, await again.json()]).toEqual([200, { status: 'duplicate' }]);
    expect(accepted.map((i) => i.deliveryId)).toEqual([id]);
  });

  it('hands the intent over once for the same delivery arriving several times at once', async () => {
    const id = randomUUID();
    const statuses = await Promise.all(
      Array.from({ length: 5 }, () => deliver(giteaHeaders(id, pushBody)).then((r) => r.status)),
    );
    expect(statuses.sort()).toEqual([200, 200, 200, 200, 202]);
    expect(accepted).toHaveLength(1);
  });

  it('claims per host: the key names the forge and host', () => {
    expect(giteaDeliveryClaimKey('Gitea.Example.org', 'ABC')).toBe('delivery:gitea:gitea.example.org:abc');
  });

  it.each([
    ['another secret', sign(pushBody, 'not-the-secret')],
    ['a signature of another body', sign(`${pushBody} `)],
    ["GitHub's sha256= form", `sha256=${sign(pushBody)}`],
    ['a SHA-1 HMAC', createHmac('sha1', SECRET).update(pushBody).digest('hex')],
    ['garbage', 'zz'],
  ])('refuses a bad signature (%s) with 401, hands nothing over and claims nothing', async (_name, signature) => {
    const id = randomUUID();
    const res = await deliver({ ...giteaHeaders(id, pushBody), 'x-gitea-signature': signature });
    expect(res.status).toBe(401);
    expect(accepted).toEqual([]);
    // The id was not claimed: the real delivery still goes through.
    expect((await deliver(giteaHeaders(id, pushBody))).status).toBe(202);
    expect(accepted).toHaveLength(1);
  });

  it.each(['x-gitea-delivery', 'x-gitea-signature'])('answers 400 when %s is missing', async (header) => {
    const res = await deliver({ ...giteaHeaders(randomUUID(), pushBody), [header]: undefined });
    expect(res.status).toBe(400);
    expect(accepted).toEqual([]);
  });

  it('answers 400 when both event headers are missing', async () => {
    const headers = giteaHeaders(randomUUID(), pushBody);
    const res = await deliver({ ...headers, 'x-gitea-event': undefined, 'x-gitea-event-type': undefined });
    expect(res.status).toBe(400);
    expect(accepted).toEqual([]);
  });

  it('answers 400 naming the setup mistake when the webhook has no secret (empty signature)', async () => {
    const res = await deliver({ ...giteaHeaders(randomUUID(), pushBody), 'x-gitea-signature': '' });
    expect([res.status, await res.text()]).toEqual([400, "X-Gitea-Signature is empty: set the webhook's secret\n"]);
    expect(accepted).toEqual([]);
  });

  it('answers 400 for a malformed delivery id and 415 for a form-encoded body', async () => {
    expect((await deliver(giteaHeaders('../../etc', pushBody))).status).toBe(400);
    const form = `payload=${encodeURIComponent(pushBody)}`;
    const res = await deliver(
      { ...giteaHeaders(randomUUID(), form), 'content-type': 'application/x-www-form-urlencoded' },
      form,
    );
    expect(res.status).toBe(415);
    expect(accepted).toEqual([]);
  });

  it.each([
    ['not JSON', '{"ref":'],
    ['a JSON list', '[1,2,3]'],
  ])('answers 400 for a signed body that is %s', async (_name, body) => {
    expect((await deliver(giteaHeaders(randomUUID(), body), body)).status).toBe(400);
    expect(accepted).toEqual([]);
  });

  it('answers 500 when the inbox fails, and processes the same delivery when it arrives again', async () => {
    const id = randomUUID();
    failures = 1;
    const failed = await deliver(giteaHeaders(id, pushBody));
    expect(failed.status).toBe(500);
    expect(await failed.text()).not.toContain('inbox');
    const again = await deliver(giteaHeaders(id, pushBody));
    expect(again.status).toBe(202);
    expect(accepted.map((i) => i.deliveryId)).toEqual([id, id]);
    // …and once processed, it is a duplicate like any other.
    expect((await deliver(giteaHeaders(id, pushBody))).status).toBe(200);
    expect(accepted).toHaveLength(2);
  });

  it(`refuses a body over ${String(MAX_GITEA_WEBHOOK_BYTES)} bytes with 413 before verifying`, async () => {
    const body = Buffer.alloc(MAX_GITEA_WEBHOOK_BYTES + 1, 0x20);
    const res = await deliver(giteaHeaders(randomUUID(), body), body);
    expect(res.status).toBe(413);
    expect(accepted).toEqual([]);
  });

  it('refuses to be created without a secret', () => {
    expect(() =>
      createGiteaWebhookRoute({
        secret: '',
        store: embedded.store,
        host: HOST,
        botLogin: 'bot',
        now: Date.now,
        onIntent: () => Promise.resolve(),
      }),
    ).toThrow(/secret/);
  });
});
