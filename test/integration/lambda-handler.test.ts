/**
 * The two Lambda handlers as AWS invokes them: recorded-shape API Gateway v2 and function URL events into the
 * HTTP handler, a scheduled event into the tick handler. DynamoDB is a real engine (dynalite) reached through the
 * endpoint variable, S3 an in-memory bucket behind aws-sdk-client-mock, GitHub the nock harness checked against
 * its OpenAPI description. Each handler composes its own app, as two functions' containers do.
 */
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import pino from 'pino';
import { ProbotOctokit } from 'probot';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createLambdaApp, perContainer, type LambdaApp } from '../../src/app/lambda-app.ts';
import { createHttpHandler } from '../../src/app/lambda.ts';
import { createScheduledHandler } from '../../src/app/scheduled.ts';
import { INBOX_KIND } from '../../src/intake/inbox.ts';
import { startDynamoEndpoint, type DynamoEndpoint } from '../helpers/dynalite.ts';
import { eventFrom, type EventSource } from '../fixtures/apigw/events.ts';
import { testPrivateKey, useGitHubApi } from '../helpers/github-api.ts';
import { githubExample, signGitHubBody } from '../helpers/webhook-examples.ts';

const SECRET = 'lambda-webhook-secret';
const INSTALLATION = 5151;
const BUCKET = 'spotcheck-logs';
const WORKFLOW = `name: ci
# No order token (permissions: {}): this test counts the push path's requests; order tokens have their own tests.
permissions: {}
on: push
jobs:
  build:
    runs-on: linux
    steps:
      - run: make
`;
const SHA_BEFORE = '1'.repeat(40);
const SHA_AFTER = '2'.repeat(40);
/** Commit statuses for the one order, skipped by its route: pending, then success with the reason. */
const STATUSES = 2;

const api = useGitHubApi();
let engine: DynamoEndpoint;
let table = 0;
// The store filters expired records by its own (real) clock, so the app's clock starts at the real time.
let clock = Date.now();
const apps: LambdaApp[] = [];
let s3: S3Client;
let objects: Map<string, Buffer>;
let emitted: string[];

beforeAll(async () => {
  engine = await startDynamoEndpoint();
  // The DynamoDB client the Lambda builds takes the SDK's default credential chain: dynalite wants any pair.
  vi.stubEnv('AWS_ACCESS_KEY_ID', 'test');
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'test');
});
afterAll(async () => {
  vi.unstubAllEnvs();
  await engine.close();
});

beforeEach(() => {
  table++;
  emitted = [];
  s3 = new S3Client({ region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } });
  objects = new Map();
  const mock = mockClient(s3);
  const notFound = () =>
    new S3ServiceException({ name: 'NotFound', $fault: 'client', $metadata: { httpStatusCode: 404 }, message: '' });
  mock.on(PutObjectCommand).callsFake((input: { Key: string; Body?: string; IfNoneMatch?: string }) => {
    if (input.IfNoneMatch === '*' && objects.has(input.Key))
      throw new S3ServiceException({
        name: 'PreconditionFailed',
        $fault: 'client',
        $metadata: { httpStatusCode: 412 },
        message: '',
      });
    objects.set(input.Key, Buffer.from(input.Body ?? ''));
    return {};
  });
  mock.on(HeadObjectCommand).callsFake((input: { Key: string }) => {
    if (!objects.has(input.Key)) throw notFound();
    return {};
  });
  mock.on(GetObjectCommand).callsFake((input: { Key: string; Range?: string }) => {
    const found = objects.get(input.Key);
    if (!found) throw notFound();
    const range = /^bytes=(\d+)-(\d+)$/.exec(input.Range ?? '');
    const bytes = range ? found.subarray(Number(range[1]), Number(range[2]) + 1) : found;
    return { Body: { transformToByteArray: () => Promise.resolve(new Uint8Array(bytes)) } };
  });
  mock.on(ListObjectsV2Command).callsFake((input: { Prefix: string; StartAfter?: string }) => ({
    Contents: [...objects.keys()]
      .filter((k) => k.startsWith(input.Prefix) && (input.StartAfter === undefined || k > input.StartAfter))
      .sort()
      .map((Key) => ({ Key, Size: objects.get(Key)!.length })),
    IsTruncated: false,
  }));
});

afterEach(async () => {
  for (const app of apps.splice(0)) await app.close();
  s3.destroy();
});

/** What the function's configuration holds: no secret among it; those come from the secret, read at cold start. */
function functionEnv(): Record<string, string> {
  return {
    APP_ID: '1',
    APP_SLUG: 'spotcheck',
    // Empty means unset: CloudFormation parameters cannot be absent.
    GHE_HOST: '',
    PUBLIC_URL: 'https://ci.example.com',
    AWS_REGION: 'us-east-1',
    SPOTCHECK_TABLE: `lambda-${String(table)}`,
    SPOTCHECK_LOG_BUCKET: BUCKET,
    SPOTCHECK_DYNAMODB_ENDPOINT: engine.endpoint,
    SPOTCHECK_SECRETS_ARN: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:spotcheck-AbCdEf',
    SPOTCHECK_CONFIG_JSON: JSON.stringify({ defaultRoutes: false, routes: { linux: { runner: 'skip' } } }),
    LOG_LEVEL: 'silent',
  };
}

const secrets = { PRIVATE_KEY: testPrivateKey(), WEBHOOK_SECRET: SECRET, GITEA_TOKEN: '' };
let secretReads = 0;

/** One container: its app built on first use, once. */
function container(): () => Promise<LambdaApp> {
  return perContainer(async () => {
    const app = await createLambdaApp({
      env: functionEnv(),
      readSecret: (arn) => {
        secretReads++;
        expect(arn).toMatch(/^arn:aws:secretsmanager:/);
        return Promise.resolve(JSON.stringify(secrets));
      },
      s3,
      logger: pino({ level: 'silent' }),
      now: () => clock,
      // Probot's retry stays on, with millisecond pauses.
      Octokit: ProbotOctokit.defaults((options: Record<string, unknown>) => ({
        ...options,
        retry: { retryAfterBaseValue: 1 },
        throttle: { enabled: false },
      })),
    });
    apps.push(app);
    return app;
  });
}

function pushPayload(): { body: string; repoPath: string } {
  const payload = githubExample('push', (p) => p['ref'] === 'refs/heads/master' && p['installation'] !== undefined);
  Object.assign(payload, { ref: 'refs/heads/main', before: SHA_BEFORE, after: SHA_AFTER, deleted: false });
  (payload['installation'] as { id: number }).id = INSTALLATION;
  const repository = payload['repository'] as { name: string; owner: { login: string } };
  return { body: JSON.stringify(payload), repoPath: `/repos/${repository.owner.login}/${repository.name}` };
}

function webhookEvent(source: EventSource, body: string, id: string, opts: { secret?: string; base64?: boolean } = {}) {
  return eventFrom(source, {
    method: 'POST',
    path: '/api/github/webhooks',
    headers: {
      'content-type': 'application/json',
      'x-github-event': 'push',
      'x-github-delivery': id,
      'x-hub-signature-256': signGitHubBody(opts.secret ?? SECRET, body),
    },
    body,
    base64: opts.base64 ?? false,
  });
}

function expectRead(repoPath: string, listing: 'ok' | 'fail'): void {
  api()
    .post(`/app/installations/${String(INSTALLATION)}/access_tokens`)
    .reply(201, { token: 'ghs_install', expires_at: '2099-01-01T00:00:00Z', permissions: {} });
  const list = api().get(`${repoPath}/contents/.spotcheck/workflows`).query({ ref: SHA_AFTER });
  if (listing === 'fail') {
    // Three retries after the first try: four 502s, and the intent's processing fails.
    list.times(4).reply(502, { message: 'Bad Gateway' });
    return;
  }
  list.reply(200, [
    { type: 'file', name: 'ci.yml', path: '.spotcheck/workflows/ci.yml', size: WORKFLOW.length, sha: 'b1' },
  ]);
  api().get(`${repoPath}/contents/.spotcheck/workflows/ci.yml`).query({ ref: SHA_AFTER }).reply(200, WORKFLOW);
  api()
    .get(`${repoPath}/compare/${SHA_BEFORE}...${SHA_AFTER}`)
    .query(() => true)
    .reply(200, { files: [{ filename: 'Makefile', status: 'modified' }] });
}

const invocation = { getRemainingTimeInMillis: () => 29_000 };

describe('the HTTP Lambda', () => {
  it('healthz and a 404, on both event sources; the app is composed once per container, the secret read once', async () => {
    const reads = secretReads;
    const handler = createHttpHandler({ app: container(), emit: (l) => emitted.push(l) });
    for (const source of ['http-api-v2', 'function-url'] as const) {
      const health = await handler(eventFrom(source, { path: '/healthz' }), invocation);
      expect(health).toMatchObject({ statusCode: 200, isBase64Encoded: false });
      expect(JSON.parse(health.body!)).toEqual({ status: 'ok' });
      expect((await handler(eventFrom(source, { path: '/nope' }), invocation)).statusCode).toBe(404);
    }
    expect(apps).toHaveLength(1);
    expect(secretReads - reads).toBe(1);
  });

  it('a signed push (plain, then base64 on a function URL) is accepted and processed within the invocation; a bad signature is 401', async () => {
    const handler = createHttpHandler({ app: container(), emit: (l) => emitted.push(l) });
    const { body, repoPath } = pushPayload();
    expectRead(repoPath, 'ok');
    api()
      .post(new RegExp(`^${repoPath}/statuses/${SHA_AFTER}$`))
      .times(STATUSES)
      .reply(201, { id: 1 });

    const accepted = await handler(webhookEvent('http-api-v2', body, 'd-1'), invocation);
    expect(accepted.statusCode).toBe(202);
    // Processed before the handler returned: the run exists now, nothing left dangling for a frozen container.
    const app = apps[0]!;
    const runs = await app.store.listRuns({});
    expect(runs).toHaveLength(1);
    expect((await app.store.getDoc(INBOX_KIND, 'github:github.com:d-1'))?.value).toMatchObject({ status: 'done' });

    // The forge reporting too: both statuses went out before the handler returned.
    expect(
      api()
        .requests({ method: 'POST', path: /statuses/ })
        .map((r) => (r.body as { state: string }).state),
    ).toEqual(['pending', 'success']);
    const duplicate = await handler(webhookEvent('function-url', body, 'd-1', { base64: true }), invocation);
    expect(duplicate.statusCode).toBe(200);
    expect(JSON.parse(duplicate.body!)).toEqual({ status: 'duplicate' });

    const forged = await handler(
      webhookEvent('function-url', body, 'd-2', { secret: 'wrong', base64: true }),
      invocation,
    );
    expect(forged.statusCode).toBe(401);
    expect(await app.store.listRuns({})).toHaveLength(1);

    // EMF lines at the end of each invocation, counting what happened.
    const deliveries = emitted
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => 'WebhookDeliveries' in l)
      .map((l) => `${String(l.outcome)}:${String(l.WebhookDeliveries)}`);
    expect(deliveries).toEqual(['accepted:1', 'duplicate:1', 'bad-signature:1']);
  });

  it('serves an order log page from S3', async () => {
    const handler = createHttpHandler({ app: container(), emit: (l) => emitted.push(l) });
    const { body, repoPath } = pushPayload();
    expectRead(repoPath, 'ok');
    api()
      .post(new RegExp(`^${repoPath}/statuses/${SHA_AFTER}$`))
      .times(STATUSES)
      .reply(201, { id: 1 });
    expect((await handler(webhookEvent('http-api-v2', body, 'd-log'), invocation)).statusCode).toBe(202);
    const app = apps[0]!;
    const [run] = await app.store.listRuns({});
    const [order] = await app.store.listOrders(run!.runId);
    await app.logs.append({ runId: run!.runId, orderId: order!.id, attempt: order!.attempt }, 'hello from S3\n');
    expect([...objects.keys()].some((k) => k.startsWith('logs/'))).toBe(true);
    const page = await handler(
      eventFrom('function-url', {
        path: `/runs/${encodeURIComponent(run!.runId)}/orders/${encodeURIComponent(order!.id)}/log`,
      }),
      invocation,
    );
    expect(page.statusCode).toBe(200);
    expect(page.headers?.['content-type']).toBe('text/plain; charset=utf-8');
    expect(page.body).toContain('hello from S3');
  });

  it('a route to the local runner is a configuration error on Lambda', async () => {
    await expect(
      createLambdaApp({
        env: { ...functionEnv(), SPOTCHECK_CONFIG_JSON: JSON.stringify({ routes: { linux: { runner: 'local' } } }) },
        readSecret: () => Promise.resolve(JSON.stringify(secrets)),
        s3,
        logger: pino({ level: 'silent' }),
      }),
    ).rejects.toThrow(/local runner, which cannot run on Lambda/);
  });
});

describe('the scheduled Lambda', () => {
  it('picks up an intent an HTTP invocation accepted but could not process', async () => {
    const http = createHttpHandler({ app: container(), emit: (l) => emitted.push(l) });
    const { body, repoPath } = pushPayload();
    expectRead(repoPath, 'fail');
    // Answered 202: the intent is persisted before the answer; its processing failed after it.
    expect((await http(webhookEvent('http-api-v2', body, 'd-late'), invocation)).statusCode).toBe(202);
    const httpApp = apps[0]!;
    expect(await httpApp.store.listRuns({})).toHaveLength(0);
    const [pending] = await httpApp.store.listDocs(INBOX_KIND, { limit: 10 });
    expect(pending?.value).toMatchObject({ status: 'pending', attempts: 1 });

    // Another function, another container; a minute later (past the intent's backoff).
    clock += 60_000;
    expectRead(repoPath, 'ok');
    api()
      .post(new RegExp(`^${repoPath}/statuses/${SHA_AFTER}$`))
      .times(STATUSES)
      .reply(201, { id: 1 });
    // The tick also asks, as the App, for failed deliveries: one lost push, redelivered once.
    const lostAt = new Date(clock - 3_600_000).toISOString();
    api()
      .get('/app/hook/deliveries')
      .query({ per_page: '100' })
      .reply(200, [
        hookDelivery({ id: 12, guid: 'lost-push', delivered_at: lostAt, status_code: 0 }),
        hookDelivery({ id: 11, guid: 'd-late', delivered_at: lostAt, status_code: 202 }),
      ]);
    api().post('/app/hook/deliveries/12/attempts').reply(202, {});
    const tick = createScheduledHandler({ app: container(), emit: (l) => emitted.push(l), now: () => clock });
    const summary = await tick(
      { id: 'evt-1', time: '2025-10-09T12:00:00Z' },
      { getRemainingTimeInMillis: () => 55_000 },
    );
    expect(apps).toHaveLength(2);
    expect(summary).toEqual({ reconciled: 1, redelivered: 1, orders: { waiting: 0, live: {} } });
    expect(await httpApp.store.listRuns({})).toHaveLength(1);
    expect((await httpApp.store.getDoc(INBOX_KIND, pending!.key))?.value).toMatchObject({ status: 'done' });
    const lines = emitted.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.find((l) => 'IntentsReconciled' in l)).toMatchObject({ IntentsReconciled: 1, Redelivered: 1 });
    expect(lines.find((l) => 'QueueDepth' in l)).toMatchObject({ QueueDepth: 0 });

    // Nothing left: the next tick takes nothing, and does not ask GitHub again within the interval.
    expect(await tick({ id: 'evt-2', time: '2025-10-09T12:01:00Z' })).toMatchObject({ reconciled: 0 });
  });
});

/** One attempt of "List deliveries for an app webhook", as GitHub answers it. */
function hookDelivery(
  d: Pick<Record<string, unknown>, 'id' | 'guid' | 'delivered_at' | 'status_code'>,
): Record<string, unknown> {
  const ok = typeof d['status_code'] === 'number' && d['status_code'] >= 200 && d['status_code'] < 400;
  return {
    redelivery: false,
    duration: 0.5,
    status: ok ? 'OK' : 'Timed out',
    event: 'push',
    action: null,
    installation_id: 1,
    repository_id: 1,
    ...d,
  };
}
