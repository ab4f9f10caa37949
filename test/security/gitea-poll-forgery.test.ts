/**
 * The poll of Gitea adds a second way in: it must not be a way around the webhook's guards, and the event claims
 * it shares with the webhook must not let an outsider suppress a real event.
 *
 * - A `!testme` the poll finds goes through the same intake: a non-member's runs nothing, and a membership check
 *   that fails denies (docs/architecture.md "Security model").
 * - Only a signed delivery claims an event: an unsigned (or wrongly signed) POST of a push payload is refused before
 *   it can claim the push's key, so the poll still runs the real push afterwards.
 * - The poll's delivery ids (`poll-…`) cannot be sent as a webhook's (they are not UUIDs), so a delivery cannot
 *   take the inbox key of an event the poll stored.
 */
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS } from '../../src/config.ts';
import type { RepoRef, WorkflowSource } from '../../src/core/types.ts';
import { DEFAULT_WORKFLOW_FOLDER_SETTINGS } from '../../src/core/workflow/workflow-files.ts';
import { createAuthorizer } from '../../src/intake/authorize.ts';
import { claimGiteaEvent } from '../../src/intake/gitea-event-keys.ts';
import { diffGiteaRepo, type GiteaPollState } from '../../src/intake/gitea-poll-diff.ts';
import { createIntake } from '../../src/intake/intake.ts';
import type { Intent, OrderIntent } from '../../src/intake/intents.ts';
import { createGiteaWebhookRoute, GITEA_WEBHOOK_PATH } from '../../src/server/gitea-webhook-route.ts';
import { createHttpServer, listenHttp } from '../../src/server/node-http.ts';
import { createRouter } from '../../src/server/router.ts';
import type { EmbeddedStore } from '../../src/store/embedded.ts';
import { createIsolatedStore, startTestStore } from '../helpers/dynalite.ts';
import { FakeForge } from '../helpers/fake-forge.ts';
import { createOrchestratorHarness } from '../helpers/orchestrator-harness.ts';

const HOST = 'gitea.example.org';
const OWNER = 'Test-CI';
const NAME = 'multi-line-secrets';
const REPO: RepoRef = { forge: 'gitea', host: HOST, owner: OWNER, name: NAME };
const HEAD = 'd'.repeat(40);
const AFTER = '29be01c073851cf0db0c6a466e396b725a670453';
const BEFORE = '6efcf5b7c98f3e7a491675164b7a2e7acac27941';
const SECRET = 'gitea-poll-forgery-secret';
const CI: WorkflowSource = {
  path: '.spotcheck/workflows/ci.yml',
  text: 'name: ci\non: { testme: {}, pull_request: {} }\njobs:\n  build:\n    runs-on: local\n    steps:\n      - run: make\n',
};
const silent = pino({ level: 'silent' });
const pushCapture = readFileSync(new URL('../fixtures/gitea/captured/push-multi-commit.json', import.meta.url), 'utf8');

let embedded: EmbeddedStore;
beforeAll(async () => {
  embedded = await startTestStore();
});
afterAll(async () => {
  await embedded.close();
});

/** A `!testme` by `login` found by the poll on an open pull request whose head was recorded before. */
function polledTestme(login: string): OrderIntent {
  const now = Date.now();
  const state: GiteaPollState = {
    branches: {},
    pulls: { '2': HEAD },
    commentsFrom: now - 60_000,
    polledAt: now - 60_000,
  };
  const diff = diffGiteaRepo(
    state,
    {
      repo: { owner: OWNER, name: NAME, private: false },
      branches: { items: [], complete: true },
      pulls: {
        items: [
          {
            number: 2,
            headSha: HEAD,
            headRef: 'topic',
            baseRef: 'main',
            author: 'outsider',
            headRepo: `${OWNER}/${NAME}`,
            createdAt: now - 120_000,
            updatedAt: now - 120_000,
          },
        ],
        complete: true,
      },
      comments: {
        items: [{ id: 77, pr: 2, author: { login, id: 5 }, body: '!testme', createdAt: now - 1_000 }],
        complete: true,
      },
      at: now,
    },
    { host: HOST, botLogin: 'spotcheck-bot', now },
  );
  expect(diff.events).toHaveLength(1);
  return diff.events[0]!.intent;
}

describe('a !testme found by polling Gitea', () => {
  it.each([
    ['by a non-member runs nothing', 'outsider', false, 0],
    ['when the membership check fails runs nothing', 'member', true, 0],
    // The control: the same comment by a member whose membership Gitea confirms runs.
    ['by a member runs', 'member', false, 1],
  ])('%s', async (_name, login, failing, runs) => {
    const store = await createIsolatedStore(embedded.client);
    const forge = new FakeForge({ kind: 'gitea', host: HOST, botLogin: 'spotcheck-bot' });
    forge.workflows.set(HEAD, [CI]);
    forge.organizations.add(OWNER.toLowerCase());
    forge.addMember(OWNER, 'member');
    if (failing) forge.membershipErrors.add(`${OWNER}/member`.toLowerCase());
    forge.pulls.set(2, {
      number: 2,
      state: 'open',
      merged: false,
      headSha: HEAD,
      headRef: 'topic',
      baseRef: 'main',
      author: 'outsider',
      headRepo: `${OWNER}/${NAME}`,
      updatedAt: Date.now() - 120_000,
    });
    const { orchestrator, instant } = createOrchestratorHarness({ store, logger: silent });
    const forges = { forInstallation: () => Promise.resolve(forge) };
    const intake = createIntake({
      forges,
      orchestrator,
      store,
      authorizer: createAuthorizer({ forges, now: Date.now }),
      config: {
        limits: DEFAULT_LIMITS,
        publicUrl: 'https://ci.example.com',
        workflows: DEFAULT_WORKFLOW_FOLDER_SETTINGS,
      },
      notices: () => Promise.resolve(),
      logger: silent,
    });
    // The outsider's pull request event recorded its head first (so only authorization can refuse).
    await intake.process({
      kind: 'pull_request',
      deliveryId: 'opened',
      at: Date.now() - 120_000,
      install: { forge: 'gitea', host: HOST },
      repo: REPO,
      action: 'opened',
      pr: 2,
      headSha: HEAD,
      headRef: 'topic',
      baseRef: 'main',
      author: 'outsider',
      headRepo: `${OWNER}/${NAME}`,
      ownerIsOrg: false,
    });
    await intake.process(polledTestme(login));
    await instant.idle();
    expect(await store.listRuns({ repo: REPO, limit: 10 })).toHaveLength(runs);
  });
});

describe('event claims shared with the webhook', () => {
  async function route(): Promise<{
    url: string;
    accepted: Intent[];
    close: () => Promise<void>;
    store: Awaited<ReturnType<typeof createIsolatedStore>>;
  }> {
    const store = await createIsolatedStore(embedded.client);
    const accepted: Intent[] = [];
    const r = createGiteaWebhookRoute({
      secret: SECRET,
      store,
      host: HOST,
      botLogin: 'spotcheck-bot',
      now: Date.now,
      onIntent: (intent) => {
        accepted.push(intent);
        return Promise.resolve();
      },
    });
    const listening = await listenHttp(createHttpServer(createRouter([r]), { logger: silent }), {
      port: 0,
      host: '127.0.0.1',
    });
    return { url: `${listening.url}${GITEA_WEBHOOK_PATH}`, accepted, close: () => listening.close(), store };
  }

  it('an unsigned push cannot claim the event and so cannot stop the poll running the real one', async () => {
    const { url, accepted, close, store } = await route();
    try {
      for (const signature of [
        '0'.repeat(64),
        createHmac('sha256', 'not-the-secret').update(pushCapture).digest('hex'),
      ]) {
        const res = await fetch(url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'x-gitea-delivery': '3f1e2d4c-5b6a-4978-8d9e-0a1b2c3d4e5f',
            'x-gitea-event': 'push',
            'x-gitea-signature': signature,
          },
          body: pushCapture,
        });
        expect(res.status).toBe(401);
      }
      expect(accepted).toEqual([]);
      // The poll finds the same push (main moved BEFORE → AFTER) and claims it: nobody held its key.
      const diff = diffGiteaRepo(
        { branches: { main: BEFORE }, pulls: {}, commentsFrom: 0, polledAt: 0 },
        {
          repo: { owner: OWNER, name: NAME, private: false },
          branches: { items: [{ name: 'main', sha: AFTER, committer: 'test-user' }], complete: true },
          pulls: { items: [], complete: true },
          comments: { items: [], complete: true },
          at: Date.now(),
        },
        { host: HOST, botLogin: 'spotcheck-bot', now: Date.now() },
      );
      const event = diff.events[0]!;
      expect(
        await claimGiteaEvent(store, event.key, { by: 'poll', deliveryId: event.intent.deliveryId, now: Date.now() }),
      ).toBe('claimed');
    } finally {
      await close();
    }
  });

  it("refuses a delivery id shaped like the poll's", async () => {
    const { url, accepted, close } = await route();
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-gitea-delivery': 'poll-push-0123456789abcdef0123456789abcdef',
          'x-gitea-event': 'push',
          'x-gitea-signature': createHmac('sha256', SECRET).update(pushCapture).digest('hex'),
        },
        body: pushCapture,
      });
      expect(res.status).toBe(400);
      expect(accepted).toEqual([]);
    } finally {
      await close();
    }
  });
});
