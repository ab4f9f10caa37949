/**
 * The poll of Gitea with its webhook beside it, on the embedded store: the poll reads a Gitea stand-in (the
 * swagger-checked nock harness: every request is checked against Gitea's published API description, must be one of
 * GITEA_POLL_ENDPOINTS, and every reply set up must be used), the webhook route takes signed deliveries on loopback,
 * and both hand their intents to one real inbox whose intake runs through the orchestrator (instant runner) with a
 * fake forge for workflow files and membership. Each event must run exactly once, whichever path saw it first.
 */
import { createHmac, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS } from '../../src/config.ts';
import type { RepoRef, RunRecord, WorkflowSource } from '../../src/core/types.ts';
import { DEFAULT_WORKFLOW_FOLDER_SETTINGS } from '../../src/core/workflow/workflow-files.ts';
import { createGiteaPollSource, GITEA_POLL_ENDPOINTS } from '../../src/forges/gitea-poll-source.ts';
import { createAuthorizer } from '../../src/intake/authorize.ts';
import { createGiteaPoller, type GiteaPoller } from '../../src/intake/gitea-poll.ts';
import { createInbox, type Inbox } from '../../src/intake/inbox.ts';
import { createIntake } from '../../src/intake/intake.ts';
import { isCapacityIntent, type Intent } from '../../src/intake/intents.ts';
import { createGiteaWebhookRoute, GITEA_WEBHOOK_PATH } from '../../src/server/gitea-webhook-route.ts';
import { createHttpServer, listenHttp, type ListeningServer } from '../../src/server/node-http.ts';
import { createRouter } from '../../src/server/router.ts';
import type { DynamoStore } from '../../src/store/dynamodb.ts';
import type { EmbeddedStore } from '../../src/store/embedded.ts';
import { createIsolatedStore, startTestStore } from '../helpers/dynalite.ts';
import { FakeForge } from '../helpers/fake-forge.ts';
import { createGiteaApi, type GiteaApi } from '../helpers/gitea-api.ts';
import { createOrchestratorHarness } from '../helpers/orchestrator-harness.ts';

const SECRET = 'gitea-poll-webhook-secret';
const HOST = 'gitea.example.org';
const BOT = 'spotcheck-bot';
/** The multi-commit push capture's repository, pusher and head. */
const OWNER = 'Test-CI';
const NAME = 'multi-line-secrets';
const REPO: RepoRef = { forge: 'gitea', host: HOST, owner: OWNER, name: NAME };
const REPO_PATH = `/repos/${OWNER}/${NAME}`;
const MEMBER = 'test-user';
const OUTSIDER = 'outside-contributor';
const BEFORE = '6efcf5b7c98f3e7a491675164b7a2e7acac27941';
const AFTER = '29be01c073851cf0db0c6a466e396b725a670453';
const PR_HEAD = 'd'.repeat(40);
const PR = 2;
const silent = pino({ level: 'silent' });

const CI: WorkflowSource = {
  path: '.spotcheck/workflows/ci.yml',
  text: 'name: ci\non: { push: { branches: [main] }, pull_request: {}, testme: {} }\njobs:\n  build:\n    runs-on: local\n    steps:\n      - run: make\n',
};

/** Runs when a pull request is closed: shows each close handled, and how often. */
const ON_CLOSE: WorkflowSource = {
  path: '.spotcheck/workflows/on-close.yml',
  text: 'name: on-close\non: { pull_request: { types: [closed] } }\njobs:\n  bye:\n    runs-on: local\n    steps:\n      - run: make\n',
};

const pushCapture = readFileSync(new URL('../fixtures/gitea/captured/push-multi-commit.json', import.meta.url), 'utf8');
const prClosed = JSON.parse(
  readFileSync(new URL('../fixtures/gitea/pull_request-closed.json', import.meta.url), 'utf8'),
) as Record<string, unknown>;
const prOpened = JSON.parse(
  readFileSync(new URL('../fixtures/gitea/pull_request-opened.json', import.meta.url), 'utf8'),
) as Record<string, unknown>;

let embedded: EmbeddedStore;
beforeAll(async () => {
  embedded = await startTestStore();
});
afterAll(async () => {
  await embedded.close();
});

interface World {
  readonly store: DynamoStore;
  readonly forge: FakeForge;
  readonly inbox: Inbox;
  /** Waits for the intake and the instant runner's reports. */
  readonly idle: () => Promise<void>;
  readonly poller: GiteaPoller;
  readonly listening: ListeningServer;
  readonly runs: () => Promise<RunRecord[]>;
  readonly notices: string[];
}

let api: GiteaApi;
let worlds: World[] = [];

beforeEach(() => {
  api = createGiteaApi({ baseUrl: `https://${HOST}` });
});
afterEach(async () => {
  for (const w of worlds) {
    await w.idle();
    await w.listening.close();
  }
  worlds = [];
  api.close();
  const declared: readonly string[] = GITEA_POLL_ENDPOINTS;
  expect(api.requests().filter((r) => r.endpoint === undefined || !declared.includes(r.endpoint))).toEqual([]);
  api.assertDone();
});

async function world(store?: DynamoStore): Promise<World> {
  const shared = store ?? (await createIsolatedStore(embedded.client));
  const forge = new FakeForge({ kind: 'gitea', host: HOST, botLogin: BOT });
  forge.workflows.set(AFTER, [CI]);
  forge.workflows.set(PR_HEAD, [CI, ON_CLOSE]);
  forge.organizations.add(OWNER.toLowerCase());
  forge.addMember(OWNER, MEMBER);
  const { orchestrator, instant } = createOrchestratorHarness({ store: shared, logger: silent });
  const forges = { forInstallation: () => Promise.resolve(forge) };
  const notices: string[] = [];
  const intake = createIntake({
    forges,
    orchestrator,
    store: shared,
    authorizer: createAuthorizer({ forges, now: Date.now }),
    config: {
      limits: DEFAULT_LIMITS,
      publicUrl: 'https://ci.example.com',
      workflows: DEFAULT_WORKFLOW_FOLDER_SETTINGS,
    },
    notices: (_install, _repo, _pr, line) => {
      notices.push(line);
      return Promise.resolve();
    },
    logger: silent,
  });
  const inbox = createInbox<Intent>({
    store: shared,
    process: (intent) => (isCapacityIntent(intent) ? Promise.resolve() : intake.process(intent)),
    logger: silent,
  });
  const route = createGiteaWebhookRoute({
    secret: SECRET,
    store: shared,
    host: HOST,
    botLogin: BOT,
    now: Date.now,
    onIntent: (intent) => inbox.accept(intent),
  });
  const listening = await listenHttp(createHttpServer(createRouter([route]), { logger: silent }), {
    port: 0,
    host: '127.0.0.1',
  });
  const poller = createGiteaPoller({
    source: createGiteaPollSource({
      baseUrl: api.baseUrl,
      token: 'gitea-token',
      retry: { sleep: () => Promise.resolve() },
    }),
    store: shared,
    accept: (intent) => inbox.accept(intent),
    host: HOST,
    botLogin: BOT,
    settings: { repos: [`${OWNER}/${NAME}`], maxReposPerInterval: 10, maxRequestsPerInterval: 100 },
    intervalMs: 60_000,
    logger: silent,
    now: Date.now,
  });
  const w: World = {
    store: shared,
    forge,
    inbox,
    idle: async () => {
      await inbox.idle();
      await instant.idle();
    },
    poller,
    listening,
    runs: () => shared.listRuns({ repo: REPO, limit: 100 }),
    notices,
  };
  worlds.push(w);
  return w;
}

function deliver(w: World, event: string, eventType: string, body: string): Promise<Response> {
  return fetch(`${w.listening.url}${GITEA_WEBHOOK_PATH}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-gitea-delivery': randomUUID(),
      'x-gitea-event': event,
      'x-gitea-event-type': eventType,
      'x-gitea-signature': createHmac('sha256', SECRET).update(body).digest('hex'),
    },
    body,
  });
}

const repository = {
  id: 6,
  owner: { id: 2, login: OWNER, username: OWNER },
  name: NAME,
  full_name: `${OWNER}/${NAME}`,
  private: false,
};
const iso = (ms: number): string => new Date(ms).toISOString();

/** Gitea's answers for one poll: the repository (first poll of a poller only), branches, open PRs, comments. */
function gitea(opts: {
  readonly head: string;
  readonly pulls?: readonly Record<string, unknown>[];
  /** Undefined: a first poll, which lists no comments. */
  readonly comments?: readonly Record<string, unknown>[];
  readonly enrol?: boolean;
}): void {
  if (opts.enrol ?? false) api.get(REPO_PATH).reply(200, repository);
  api.get(`${REPO_PATH}/branches?page=1&limit=50`).reply(200, [
    {
      name: 'main',
      commit: { id: opts.head, message: 'x', committer: { name: 'Test User', email: 'a@b.c', username: MEMBER } },
      protected: false,
    },
  ]);
  api.get(`${REPO_PATH}/pulls?state=open&sort=recentupdate&page=1&limit=50`).reply(200, opts.pulls ?? []);
  if (opts.comments !== undefined)
    api
      .get(`${REPO_PATH}/issues/comments`)
      .query((q) => q['page'] === '1' && q['limit'] === '50' && Number.isFinite(Date.parse(q['since'] ?? '')))
      .reply(200, opts.comments);
}

function pull(author: string, createdAt: number): Record<string, unknown> {
  return {
    id: 20,
    number: PR,
    state: 'open',
    user: { id: 9, login: author },
    head: { label: 'add-text', ref: 'add-text', sha: PR_HEAD, repo_id: 6, repo: repository },
    base: { label: 'main', ref: 'main', sha: BEFORE, repo_id: 6, repo: repository },
    created_at: iso(createdAt),
    updated_at: iso(createdAt),
  };
}

function testmeComment(id: number, login: string, userId: number): Record<string, unknown> {
  const now = Date.now();
  return {
    id,
    html_url: `https://${HOST}/${OWNER}/${NAME}/pulls/${String(PR)}#issuecomment-${String(id)}`,
    pull_request_url: `https://${HOST}/${OWNER}/${NAME}/pulls/${String(PR)}`,
    issue_url: '',
    user: { id: userId, login, username: login },
    body: '!testme',
    created_at: iso(now),
    updated_at: iso(now),
  };
}

async function settle(w: World): Promise<void> {
  await w.idle();
}

describe('polling Gitea', () => {
  it('runs nothing on the first poll, however much is there', async () => {
    const w = await world();
    gitea({ head: AFTER, pulls: [pull(MEMBER, Date.now() - 1000)], enrol: true });
    expect(await w.poller.poll()).toEqual({ repos: 1, accepted: 0, failed: 0 });
    await settle(w);
    expect(await w.runs()).toEqual([]);
  });

  it('runs a push whose webhook was lost, once, at the next poll', async () => {
    const w = await world();
    gitea({ head: BEFORE, enrol: true });
    await w.poller.poll();
    gitea({ head: AFTER, comments: [] });
    expect((await w.poller.poll()).accepted).toBe(1);
    await settle(w);
    const runs = await w.runs();
    expect(runs.map((r) => [r.event, r.sha, r.ref])).toEqual([['push', AFTER, 'refs/heads/main']]);
    // The same head again: nothing new.
    gitea({ head: AFTER, comments: [] });
    expect((await w.poller.poll()).accepted).toBe(0);
    await settle(w);
    expect(await w.runs()).toHaveLength(1);
  });

  it('runs a push once when the webhook came first and the poll saw the head after', async () => {
    const w = await world();
    gitea({ head: BEFORE, enrol: true });
    await w.poller.poll();
    expect((await deliver(w, 'push', 'push', pushCapture)).status).toBe(202);
    await settle(w);
    gitea({ head: AFTER, comments: [] });
    expect((await w.poller.poll()).accepted).toBe(0);
    await settle(w);
    expect((await w.runs()).map((r) => r.sha)).toEqual([AFTER]);
  });

  it('runs a push once when the poll came first and the webhook arrived late', async () => {
    const w = await world();
    gitea({ head: BEFORE, enrol: true });
    await w.poller.poll();
    gitea({ head: AFTER, comments: [] });
    expect((await w.poller.poll()).accepted).toBe(1);
    await settle(w);
    const late = await deliver(w, 'push', 'push', pushCapture);
    expect(late.status).toBe(202);
    await settle(w);
    expect((await w.runs()).map((r) => r.sha)).toEqual([AFTER]);
  });

  it("still processes a Gitea Replay of the webhook's own delivery (a new delivery id)", async () => {
    const w = await world();
    expect((await deliver(w, 'push', 'push', pushCapture)).status).toBe(202);
    await settle(w);
    expect((await deliver(w, 'push', 'push', pushCapture)).status).toBe(202);
    await settle(w);
    expect(await w.runs()).toHaveLength(2);
  });

  it("runs a new pull request's head once, found by the poll and then delivered", async () => {
    const w = await world();
    gitea({ head: AFTER, enrol: true });
    await w.poller.poll();
    const opened = Date.now();
    gitea({ head: AFTER, pulls: [pull(MEMBER, opened)], comments: [] });
    expect((await w.poller.poll()).accepted).toBe(1);
    await settle(w);
    const body = JSON.stringify({
      ...prOpened,
      pull_request: {
        ...(prOpened['pull_request'] as object),
        head: { ref: 'add-text', sha: PR_HEAD, repo: repository },
        updated_at: iso(opened),
      },
    });
    expect((await deliver(w, 'pull_request', 'pull_request', body)).status).toBe(202);
    await settle(w);
    expect((await w.runs()).map((r) => [r.event, r.sha])).toEqual([['pull_request', PR_HEAD]]);
  });

  describe('a closed pull request', () => {
    const CLOSED_AT = Date.parse('2026-01-02T03:04:05Z');

    /** A member's pull request open at the first poll. */
    async function openPull(): Promise<World> {
      const w = await world();
      gitea({ head: AFTER, pulls: [pull(MEMBER, Date.now() - 60_000)], enrol: true });
      await w.poller.poll();
      return w;
    }

    function readPull(state: 'open' | 'closed'): void {
      api.get(`${REPO_PATH}/pulls/${String(PR)}`).reply(200, {
        ...pull(MEMBER, Date.now() - 60_000),
        state,
        merged: false,
        closed_at: state === 'closed' ? iso(CLOSED_AT) : null,
      });
    }

    const onClose = async (w: World) => (await w.runs()).filter((r) => r.workflowName === 'on-close');

    it('no webhook told of is handled at the next poll, and its reopen runs the pull request again', async () => {
      const w = await openPull();
      gitea({ head: AFTER, pulls: [], comments: [] });
      readPull('closed');
      expect((await w.poller.poll()).accepted).toBe(1);
      await settle(w);
      expect(await onClose(w)).toHaveLength(1);
      // Reopened: listed open again.
      gitea({ head: AFTER, pulls: [pull(MEMBER, Date.now() - 60_000)], comments: [] });
      expect((await w.poller.poll()).accepted).toBe(1);
      await settle(w);
      expect((await w.runs()).filter((r) => r.workflowName === 'ci').map((r) => [r.event, r.sha])).toEqual([
        ['pull_request', PR_HEAD],
      ]);
      // The same close read again (the same closed_at, after the reopen was dropped): claimed already.
      gitea({ head: AFTER, pulls: [], comments: [] });
      readPull('closed');
      expect((await w.poller.poll()).accepted).toBe(0);
    });

    it('delivered by webhook and then seen by the poll is handled once', async () => {
      const w = await openPull();
      const body = JSON.stringify({
        ...prClosed,
        number: PR,
        pull_request: {
          ...(prClosed['pull_request'] as object),
          number: PR,
          user: { id: 9, login: MEMBER },
          head: { ref: 'add-text', sha: PR_HEAD, repo: repository },
          closed_at: iso(CLOSED_AT),
        },
        repository,
      });
      expect((await deliver(w, 'pull_request', 'pull_request', body)).status).toBe(202);
      await settle(w);
      expect(await onClose(w)).toHaveLength(1);
      gitea({ head: AFTER, pulls: [], comments: [] });
      readPull('closed');
      expect((await w.poller.poll()).accepted).toBe(0);
      await settle(w);
      expect(await onClose(w)).toHaveLength(1);
    });

    it('a pull request missing from the listing but read open does nothing', async () => {
      const w = await openPull();
      gitea({ head: AFTER, pulls: [], comments: [] });
      readPull('open');
      expect((await w.poller.poll()).accepted).toBe(0);
      await settle(w);
      expect(await w.runs()).toEqual([]);
      // Still watched: listed again, nothing new either.
      gitea({ head: AFTER, pulls: [pull(MEMBER, Date.now() - 60_000)], comments: [] });
      expect((await w.poller.poll()).accepted).toBe(0);
    });
  });

  describe('a !testme comment found by the poll', () => {
    /** An outsider's pull request whose `opened` webhook arrived (its head recorded, nothing run). */
    async function outsidersPull(): Promise<World> {
      const w = await world();
      w.forge.pulls.set(PR, {
        number: PR,
        state: 'open',
        merged: false,
        headSha: PR_HEAD,
        headRef: 'add-text',
        baseRef: 'main',
        author: OUTSIDER,
        headRepo: `${OWNER}/${NAME}`,
        updatedAt: Date.now() - 60_000,
      });
      const body = JSON.stringify({
        ...prOpened,
        pull_request: {
          ...(prOpened['pull_request'] as object),
          user: { id: 9, login: OUTSIDER },
          head: { ref: 'add-text', sha: PR_HEAD, repo: repository },
          updated_at: iso(Date.now() - 60_000),
        },
      });
      expect((await deliver(w, 'pull_request', 'pull_request', body)).status).toBe(202);
      await settle(w);
      expect(await w.runs()).toEqual([]);
      gitea({ head: AFTER, pulls: [pull(OUTSIDER, Date.now() - 60_000)], enrol: true });
      await w.poller.poll();
      return w;
    }

    it('by a member runs the pull request at its head, once', async () => {
      const w = await outsidersPull();
      const c = testmeComment(501, MEMBER, 1);
      gitea({ head: AFTER, pulls: [pull(OUTSIDER, Date.now() - 60_000)], comments: [c] });
      expect((await w.poller.poll()).accepted).toBe(1);
      await settle(w);
      expect((await w.runs()).map((r) => [r.event, r.sha, r.actor])).toEqual([['testme', PR_HEAD, MEMBER]]);
      // Listed again in the next window: not run twice.
      gitea({ head: AFTER, pulls: [pull(OUTSIDER, Date.now() - 60_000)], comments: [c] });
      expect((await w.poller.poll()).accepted).toBe(0);
      await settle(w);
      expect(await w.runs()).toHaveLength(1);
    });

    it('by a non-member runs nothing and says why', async () => {
      const w = await outsidersPull();
      gitea({ head: AFTER, pulls: [pull(OUTSIDER, Date.now() - 60_000)], comments: [testmeComment(502, OUTSIDER, 9)] });
      expect((await w.poller.poll()).accepted).toBe(1);
      await settle(w);
      expect(await w.runs()).toEqual([]);
      expect(w.notices.some((line) => line.includes(OUTSIDER) && line.includes('not a member'))).toBe(true);
    });
  });

  it('polls once per interval across two replicas sharing a store', async () => {
    const store = await createIsolatedStore(embedded.client);
    const [a, b] = [await world(store), await world(store)];
    // Set up once: a second poll would find no reply and fail the test.
    gitea({ head: AFTER, enrol: true });
    const results = await Promise.all([a.poller.pollIfDue(), b.poller.pollIfDue()]);
    expect(results.filter((r) => r !== undefined)).toEqual([{ repos: 1, accepted: 0, failed: 0 }]);
    expect(api.requests({ method: 'GET', path: `${REPO_PATH}/branches` })).toHaveLength(1);
  });

  it('logs a repository Gitea fails for and reads it again next interval', async () => {
    const w = await world();
    gitea({ head: BEFORE, enrol: true });
    await w.poller.poll();
    api.get(`${REPO_PATH}/branches?page=1&limit=50`).times(3).reply(502, { message: 'bad gateway' });
    expect(await w.poller.poll()).toEqual({ repos: 1, accepted: 0, failed: 1 });
    gitea({ head: AFTER, comments: [] });
    expect((await w.poller.poll()).accepted).toBe(1);
    await settle(w);
    expect((await w.runs()).map((r) => r.sha)).toEqual([AFTER]);
  });
});
