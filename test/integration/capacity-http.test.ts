/**
 * Capacity mode's two HTTP routes through the real router and node-http transport: the Gitea capacity webhook
 * (`POST /api/gitea/capacity`, X-Gitea-Signature) and the capacity bootstrap exchange (`POST /api/capacity/bootstrap`),
 * on the embedded store (dynalite) with the real capacity manager, EC2 through aws-sdk-client-mock's fake, and the
 * forges behind their API harnesses (every request checked against GitHub's OpenAPI description and Gitea's swagger).
 * A capacity delivery is verified, persisted as an intent and answered; the inbox's processing launches (as in the
 * app): the tests wait for it (`inbox.idle()`) and read each delivery's outcomes as processing returned them.
 */
import { createHmac, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import pino from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Route } from '../../runners/runner.ts';
import {
  CAPACITY_BOOTSTRAP_PATH,
  createCapacityBootstrapRoute,
  createGiteaCapacityWebhookRoute,
  GITEA_CAPACITY_WEBHOOK_PATH,
} from '../../src/server/capacity-routes.ts';
import { processCapacityIntent } from '../../src/capacity/capacity-intake.ts';
import {
  CAPACITY_RUNNER_KIND,
  createCapacityManager,
  type CapacityManager,
  type CapacityOutcome,
} from '../../src/capacity/capacity-manager.ts';
import type { CapacityJobEvent } from '../../src/core/capacity.ts';
import { createInbox, type Inbox } from '../../src/intake/inbox.ts';
import type { CapacityIntent } from '../../src/intake/intents.ts';
import { createHttpServer, listenHttp, type ListeningServer } from '../../src/server/node-http.ts';
import { createRouter } from '../../src/server/router.ts';
import type { EmbeddedStore } from '../../src/store/embedded.ts';
import type { Store } from '../../src/store/store.ts';
import { createFakeEc2 } from '../contract/fake-aws.ts';
import { createIsolatedStore, startTestStore, T0 } from '../helpers/dynalite.ts';
import { useGiteaApi } from '../helpers/gitea-api.ts';
import { createCapacityTestForges } from '../helpers/capacity-forges.ts';
import { createTestOctokit, useGitHubApi } from '../helpers/github-api.ts';

const SECRET = 'gitea-capacity-secret';
const HOST = 'gitea.example.org';
const SPOT = { instanceTypes: ['m7i.large'], subnets: ['subnet-0123456789abcdef0'], ami: 'ami-0123456789abcdef0' };
const routes = new Map<string, Route>([
  ['gpu', { label: 'gpu', runner: 'spot', settings: { ...SPOT, capacity: true } }],
  ['host', { label: 'host', runner: 'skip', settings: {} }],
]);
const MIN = 60_000;
const GH = { forge: 'github', host: 'github.com', owner: 'acme', name: 'app' } as const;

let embedded: EmbeddedStore;
let store: Store;
let clock = T0;
let ec2: ReturnType<typeof createFakeEc2>;
let manager: CapacityManager;
/** Makes the next N manager calls from the inbox's processing throw (a store or forge outage mid-delivery). */
let managerFailures = 0;
let inbox: Inbox<CapacityIntent>;
/** Each delivery's outcomes, as the inbox's processing returned them (by delivery id). */
let outcomesOf: Map<string, readonly CapacityOutcome[]>;
let listening: ListeningServer;
const github = useGitHubApi();
const gitea = useGiteaApi();

beforeAll(async () => {
  embedded = await startTestStore();
});
afterAll(async () => {
  await embedded.close();
});
beforeEach(async () => {
  clock = T0;
  managerFailures = 0;
  store = await createIsolatedStore(embedded.client, { now: () => clock });
  ec2 = createFakeEc2({ clock: () => clock });
  const octokit = createTestOctokit();
  manager = createCapacityManager({
    store,
    routes,
    forges: createCapacityTestForges({ octokit, giteaBaseUrl: gitea().baseUrl }),
    ec2: () => ec2.client,
    bootstrapUrl: 'https://ci.example.org/api/capacity/bootstrap',
    clock: () => clock,
  });
  const failing =
    <A extends unknown[], R>(fn: (...args: A) => Promise<R>) =>
    (...args: A): Promise<R> => {
      if (managerFailures > 0) {
        managerFailures--;
        return Promise.reject(new Error('the store is unavailable'));
      }
      return fn(...args);
    };
  const processing: Pick<CapacityManager, 'jobEvent' | 'push'> = {
    jobEvent: failing((e: CapacityJobEvent) => manager.jobEvent(e)),
    push: failing((e: Parameters<CapacityManager['push']>[0]) => manager.push(e)),
  };
  outcomesOf = new Map();
  inbox = createInbox<CapacityIntent>({
    store,
    process: async (intent) => {
      outcomesOf.set(intent.deliveryId, await processCapacityIntent(processing, intent));
    },
    logger: pino({ level: 'silent' }),
    now: () => clock,
  });
  const router = createRouter([
    createCapacityBootstrapRoute(manager),
    createGiteaCapacityWebhookRoute({
      secret: SECRET,
      host: HOST,
      store,
      routes,
      onIntent: (intent) => inbox.accept(intent),
      now: () => clock,
    }),
  ]);
  listening = await listenHttp(createHttpServer(router, { logger: pino({ level: 'silent' }) }), {
    port: 0,
    host: '127.0.0.1',
  });
  return () => listening.close();
});

/** Gitea's signature: the plain hex HMAC-SHA256 of the raw body (services/webhook/deliver.go). */
function sign(body: string, secret = SECRET): string {
  return createHmac('sha256', secret).update(body).digest('hex');
}

/** One delivery, answered; then the inbox's processing of what it accepted has run. */
async function deliver(
  event: string,
  body: string,
  opts: { readonly id?: string; readonly signature?: string | null } = {},
): Promise<Response> {
  const response = await send(event, body, opts);
  await inbox.idle();
  return response;
}

/** The outcomes processing returned for the last delivery with this id. */
function processed(id: string): readonly CapacityOutcome[] | undefined {
  return outcomesOf.get(id);
}

/** The name of the runner the n-th launch started (its instance's capacity tag). */
function runnerOf(index: number): string {
  const name = ec2.live()[index]?.tags['spotcheck:capacity'];
  if (name === undefined) throw new Error(`no live capacity instance ${String(index)}`);
  return name;
}

function send(
  event: string,
  body: string,
  opts: { readonly id?: string; readonly signature?: string | null },
): Promise<Response> {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'x-gitea-delivery': opts.id ?? randomUUID(),
    'x-gitea-event': event,
    'x-gitea-event-type': event,
  };
  if (opts.signature !== null) headers['x-gitea-signature'] = opts.signature ?? sign(body);
  return fetch(`${listening.url}${GITEA_CAPACITY_WEBHOOK_PATH}`, { method: 'POST', headers, body });
}

function exchange(authorization: string | undefined): Promise<Response> {
  return fetch(`${listening.url}${CAPACITY_BOOTSTRAP_PATH}`, {
    method: 'POST',
    headers: authorization === undefined ? {} : { authorization },
  });
}

/** Gitea's `workflow_job` payload (modules/structs/hook.go WorkflowJobPayload), as the capacity webhook receives it. */
function giteaJob(action: string, jobId: number, labels: string[], runnerName = ''): string {
  return JSON.stringify({
    action,
    workflow_job: {
      id: jobId,
      run_id: 3,
      labels,
      status: action === 'completed' ? 'completed' : 'queued',
      runner_id: 0,
      runner_name: runnerName,
    },
    repository: { id: 1, name: 'app', full_name: 'acme/app', owner: { id: 2, login: 'acme', username: 'acme' } },
    sender: { id: 3, login: 'dev', username: 'dev' },
  });
}

function userData(index: number): string {
  return Buffer.from(ec2.runInputs()[index]?.UserData ?? '', 'base64').toString('utf8');
}

function tokenOf(index: number): string {
  const token = /SPOTCHECK_BOOTSTRAP_TOKEN='([A-Za-z0-9_-]+)'/.exec(userData(index))?.[1];
  if (token === undefined) throw new Error(`no bootstrap token in the user data of launch ${String(index)}`);
  return token;
}

async function launchGitHub(jobId: number): Promise<{ runnerName: string; token: string }> {
  const event: CapacityJobEvent = { action: 'queued', repo: GH, installationId: 9, jobId, runId: 1, labels: ['gpu'] };
  const outcome = await manager.jobEvent(event);
  if (outcome.kind !== 'launched') throw new Error(`not launched: ${outcome.kind}`);
  return { runnerName: outcome.runnerName, token: tokenOf(ec2.runInputs().length - 1) };
}

describe('POST /api/gitea/capacity', () => {
  it('a signed queued workflow_job is accepted, then launches one runner on the route its labels name; the redelivery is a duplicate', async () => {
    const body = giteaJob('queued', 7, ['gpu']);
    const id = randomUUID();
    const first = await deliver('workflow_job', body, { id });
    expect([first.status, await first.json()]).toEqual([202, { status: 'accepted' }]);
    expect(processed(id)).toEqual([expect.objectContaining({ kind: 'launched', route: 'gpu' })]);
    expect(ec2.runInputs()).toHaveLength(1);
    expect(userData(0)).toContain('SPOTCHECK_FORGE=gitea');

    const again = await deliver('workflow_job', body, { id });
    expect([again.status, await again.json()]).toEqual([200, { status: 'duplicate' }]);
    // Another delivery id for the same job (Gitea retrying with a new id) finds the runner, launches nothing.
    const retriedId = randomUUID();
    const retried = await deliver('workflow_job', body, { id: retriedId });
    expect(retried.status).toBe(202);
    expect(processed(retriedId)).toEqual([expect.objectContaining({ kind: 'duplicate' })]);
    expect(ec2.runInputs()).toHaveLength(1);
  });

  it.each([
    ['a signature made with another secret', sign('x', 'other'), 401],
    ['the signature of another body', sign('{}'), 401],
    ['a signature that is not hex', 'z'.repeat(64), 401],
    ['a truncated signature', sign('x').slice(0, 40), 401],
    // The order webhook's checks (webhook-verify.ts): a missing header is a malformed request.
    ['no signature', null, 400],
  ])('%s is refused, launches nothing and does not use up the delivery id', async (_name, signature, status) => {
    const body = giteaJob('queued', 8, ['gpu']);
    const id = randomUUID();
    const res = await deliver('workflow_job', body, { id, signature });
    expect(res.status).toBe(status);
    expect(ec2.runInputs()).toHaveLength(0);
    // The genuine delivery with that id is still accepted.
    const genuine = await deliver('workflow_job', body, { id });
    expect(genuine.status).toBe(202);
    expect(ec2.runInputs()).toHaveLength(1);
  });

  it('labels no route claims, skip routes and other actions launch nothing (answered at once, never persisted)', async () => {
    const other = await deliver('workflow_job', giteaJob('queued', 9, ['windows']));
    expect([other.status, await other.json()]).toEqual([200, { ignored: 'no capacity route claims "windows"' }]);
    const skipped = await deliver('workflow_job', giteaJob('queued', 10, ['gpu', 'host']));
    expect([skipped.status, await skipped.json()]).toEqual([
      200,
      { ignored: 'label "host" is a skip route (a standing runner serves it)' },
    ]);
    const waiting = await deliver('workflow_job', giteaJob('waiting', 11, ['gpu']));
    expect([waiting.status, await waiting.json()]).toEqual([
      200,
      { ignored: 'the job waits for an approval or a concurrency group' },
    ]);
    const odd = await deliver('workflow_job', JSON.stringify({ action: 'deleted' }));
    expect([odd.status, await odd.json()]).toEqual([200, { ignored: 'workflow_job action deleted' }]);
    const issues = await deliver('issues', JSON.stringify({ action: 'opened' }));
    expect([issues.status, await issues.json()]).toEqual([200, { ignored: 'event issues' }]);
    expect(outcomesOf.size).toBe(0);
    expect(ec2.runInputs()).toHaveLength(0);
  });

  it('a body that is not JSON is 400; missing delivery headers are 400', async () => {
    expect((await deliver('workflow_job', 'not json')).status).toBe(400);
    const res = await fetch(`${listening.url}${GITEA_CAPACITY_WEBHOOK_PATH}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-gitea-signature': sign('{}') },
      body: '{}',
    });
    expect(res.status).toBe(400);
  });

  it('a delivery whose processing fails is retried by the inbox and launches once; its redelivery is a duplicate', async () => {
    const body = giteaJob('queued', 12, ['gpu']);
    const id = randomUUID();
    managerFailures = 1;
    expect((await deliver('workflow_job', body, { id })).status).toBe(202);
    expect(ec2.runInputs()).toHaveLength(0);
    const redelivered = await deliver('workflow_job', body, { id });
    expect([redelivered.status, await redelivered.json()]).toEqual([200, { status: 'duplicate' }]);
    expect(ec2.runInputs()).toHaveLength(0);
    // The inbox's backoff (5 s after the first attempt), then its reconcile takes the intent again.
    clock += 5_000;
    expect(await inbox.reconcile()).toBe(1);
    expect(processed(id)).toEqual([expect.objectContaining({ kind: 'launched' })]);
    expect(ec2.runInputs()).toHaveLength(1);
    expect(await inbox.reconcile()).toBe(0);
  });

  it('completed ends the runner: instance terminated, runner removed from Gitea', async () => {
    await deliver('workflow_job', giteaJob('queued', 13, ['gpu']));
    expect(ec2.live()).toHaveLength(1);
    const launched = { runnerName: runnerOf(0) };
    gitea()
      .get('/repos/acme/app/actions/runners')
      .reply(200, { total_count: 1, runners: [{ id: 4, name: launched.runnerName }] });
    gitea().delete('/repos/acme/app/actions/runners/4').reply(204);
    const doneId = randomUUID();
    const done = await deliver('workflow_job', giteaJob('completed', 13, ['gpu'], launched.runnerName), { id: doneId });
    expect(done.status).toBe(202);
    expect(processed(doneId)).toEqual([{ kind: 'finished', runnerNames: [launched.runnerName] }]);
    expect(ec2.live()).toHaveLength(0);
  });

  it('a push (Gitea without workflow_job): the workflows at the pushed SHA, one runner per matched job', async () => {
    const body = readFileSync(new URL('../fixtures/gitea/captured/push-multi-commit.json', import.meta.url), 'utf8');
    const payload = JSON.parse(body) as { after: string; repository: { name: string; owner: { login: string } } };
    const repo = `/repos/${payload.repository.owner.login}/${payload.repository.name}`;
    gitea()
      .get(`${repo}/contents/.gitea/workflows`)
      .query({ ref: payload.after })
      .reply(200, [{ type: 'file', path: '.gitea/workflows/ci.yml', size: 120, name: 'ci.yml' }]);
    gitea()
      .get(`${repo}/raw/.gitea/workflows/ci.yml`)
      .query({ ref: payload.after })
      .reply(200, 'on: push\njobs:\n  a: { runs-on: gpu, steps: [] }\n  b: { runs-on: host, steps: [] }\n');
    const id = randomUUID();
    const res = await deliver('push', body, { id });
    expect(res.status).toBe(202);
    expect(processed(id)?.map((o) => o.kind)).toEqual(['launched', 'skipped']);
    expect(ec2.runInputs()).toHaveLength(1);
    // A branch deletion (after = zeros) reads nothing.
    const deleted = await deliver('push', JSON.stringify({ ...payload, after: '0'.repeat(40) }));
    expect([deleted.status, await deleted.json()]).toEqual([200, { ignored: 'not a branch or tag push' }]);
  });
});

describe('POST /api/capacity/bootstrap', () => {
  it('GitHub: the one-time token is exchanged once for the JIT config; the second exchange is 401', async () => {
    const { runnerName, token } = await launchGitHub(21);
    github()
      .post('/repos/acme/app/actions/runners/generate-jitconfig')
      .body({ name: runnerName, labels: ['gpu'], runner_group_id: 1 })
      .reply(201, { runner: { id: 77, name: runnerName }, encoded_jit_config: 'SECRET-JIT' });
    const first = await exchange(`Bearer ${token}`);
    expect(first.status).toBe(200);
    expect(first.headers.get('cache-control')).toBe('no-store');
    expect(await first.json()).toEqual({ forge: 'github', runnerName, encodedJitConfig: 'SECRET-JIT' });
    expect(userData(0)).not.toContain('SECRET-JIT');

    const second = await exchange(`Bearer ${token}`);
    expect(second.status).toBe(401);
    expect(second.headers.get('www-authenticate')).toBe('Bearer');
    expect(await second.text()).not.toContain('SECRET-JIT');
  });

  it('Gitea: queued webhook → user data token → registration token and host labels, once', async () => {
    await deliver('workflow_job', giteaJob('queued', 22, ['gpu']));
    const launched = { runnerName: runnerOf(0) };
    const token = tokenOf(0);
    expect(userData(0)).not.toMatch(/registration/i);
    gitea().post('/repos/acme/app/actions/runners/registration-token').reply(200, { token: 'REG-TOKEN' });
    const res = await exchange(`Bearer ${token}`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      forge: 'gitea',
      runnerName: launched.runnerName,
      instanceUrl: gitea().baseUrl,
      registrationToken: 'REG-TOKEN',
      labels: ['gpu:host'],
    });
    expect((await exchange(`Bearer ${token}`)).status).toBe(401);
  });

  it('an expired token is 401 and asks the forge nothing', async () => {
    const { token } = await launchGitHub(23);
    // Valid for the idle limit plus the janitor's grace (20 + 10 minutes): past that, the runner is ended anyway.
    clock += 31 * MIN;
    const res = await exchange(`Bearer ${token}`);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer');
  });

  it.each([
    ['no Authorization header', undefined],
    ['another scheme', 'Basic dXNlcjpwYXNz'],
    ['an unknown token', `Bearer ${'A'.repeat(43)}`],
    ['a malformed token', 'Bearer not/a+token'],
    ['two tokens', 'Bearer a b'],
  ])('%s is 401', async (_name, authorization) => {
    const res = await exchange(authorization);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer');
  });

  it('the auth scheme is case-insensitive (RFC 9110 §11.1)', async () => {
    const { runnerName, token } = await launchGitHub(24);
    github()
      .post('/repos/acme/app/actions/runners/generate-jitconfig')
      .reply(201, { runner: { id: 78, name: runnerName }, encoded_jit_config: 'JIT' });
    expect((await exchange(`bearer ${token}`)).status).toBe(200);
  });

  it('the forge failing is 503 with Retry-After and gives the token back: the retry succeeds once', async () => {
    const { runnerName, token } = await launchGitHub(25);
    github().post('/repos/acme/app/actions/runners/generate-jitconfig').reply(500, { message: 'boom' });
    const failed = await exchange(`Bearer ${token}`);
    expect(failed.status).toBe(503);
    expect(failed.headers.get('retry-after')).toBe('5');
    github()
      .post('/repos/acme/app/actions/runners/generate-jitconfig')
      .reply(201, { runner: { id: 79, name: runnerName }, encoded_jit_config: 'JIT-2' });
    const retried = await exchange(`Bearer ${token}`);
    expect([retried.status, await retried.json()]).toEqual([
      200,
      { forge: 'github', runnerName, encodedJitConfig: 'JIT-2' },
    ]);
    expect((await exchange(`Bearer ${token}`)).status).toBe(401);
  });

  it('a runner ended before its instance asked is 409, and its token is spent', async () => {
    const { runnerName, token } = await launchGitHub(26);
    await store.deleteDoc(CAPACITY_RUNNER_KIND, runnerName);
    const res = await exchange(`Bearer ${token}`);
    expect([res.status, (await res.text()).trim()]).toEqual([409, 'the runner is not known (ended)']);
    expect((await exchange(`Bearer ${token}`)).status).toBe(401);
  });

  it('a body over 1 KiB is 413; GET is 405', async () => {
    const big = await fetch(`${listening.url}${CAPACITY_BOOTSTRAP_PATH}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${'A'.repeat(43)}` },
      body: 'x'.repeat(4096),
    });
    // fetch declares the length: the router refuses it before the token is even looked at.
    expect(big.status).toBe(413);
    expect((await fetch(`${listening.url}${CAPACITY_BOOTSTRAP_PATH}`)).status).toBe(405);
  });
});
