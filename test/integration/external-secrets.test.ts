/**
 * Secrets read through from AWS Secrets Manager and SSM Parameter Store (issue 15) at the bootstrap exchange: the
 * real route, the real SecretStore on dynalite, the official SDK clients mocked with aws-sdk-client-mock. Only names
 * the job references and the store does not give are asked for, most specific path first, Secrets Manager before
 * SSM; an approved outsider's run asks nothing; a failing store fails the exchange; no value is logged.
 */
import {
  GetSecretValueCommand,
  SecretsManagerClient,
  type GetSecretValueCommandInput,
} from '@aws-sdk/client-secrets-manager';
import { GetParameterCommand, SSMClient, type GetParameterCommandInput } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { CallSecrets, RunTrust, StepSpec } from '../../src/core/types.ts';
import { mintBootstrapToken } from '../../src/server/bootstrap-tokens.ts';
import { AGENT_BOOTSTRAP_PATH, createBootstrapRoute, type BootstrapAnswer } from '../../src/server/bootstrap-route.ts';
import { awsExternalSecrets } from '../../src/server/external-secrets.ts';
import { orderSecretsReader } from '../../src/server/order-secrets.ts';
import { createRouter, type Router } from '../../src/server/router.ts';
import { localDataKeys } from '../../src/store/data-keys.ts';
import { createDynamoStore, type DynamoStore } from '../../src/store/dynamodb.ts';
import type { EmbeddedStore } from '../../src/store/embedded.ts';
import { createSecretStore } from '../../src/store/secret-store.ts';
import { buildOrderJob } from '../../runners/order-job.ts';
import { createIsolatedStore, makeOrder, makeRun, startTestStore } from '../helpers/dynalite.ts';
import { leaksIn } from '../helpers/leak-forms.ts';

/** What AWS holds (REPO is octo/app): Secrets Manager under `spotcheck/`, SSM under `/ci/spotcheck/`. */
const SECRETS_MANAGER: Record<string, string> = {
  'spotcheck/octo/app/SM_REPO': 'sm-repo-value-A1',
  'spotcheck/octo/SM_ORG': 'sm-org-value-B2',
  'spotcheck/octo/app/environments/prod/DEPLOY': 'sm-prod-value-C3',
  'spotcheck/octo/app/DEPLOY': 'sm-repo-deploy-D4',
  'spotcheck/octo/app/STORED': 'sm-shadowed-E5',
  'spotcheck/octo/app/UNREFERENCED': 'sm-never-asked-F6',
};
const SSM: Record<string, string> = {
  '/ci/spotcheck/octo/SSM_ORG': 'ssm-org-value-G7',
  // Secrets Manager's repository-level one wins over SSM's at the same level.
  '/ci/spotcheck/octo/app/SM_REPO': 'ssm-loses-H8',
};
const STORED_VALUE = 'stored-value-J9';
const ALL_VALUES = { ...SECRETS_MANAGER, ...SSM, STORED_VALUE };

const sm = mockClient(SecretsManagerClient);
const ssm = mockClient(SSMClient);
let embedded: EmbeddedStore;
let store: DynamoStore;
let dir: string;
let router: Router;
let logged = '';
/** What each store was asked, in order. */
let asked: string[] = [];

function notFound(name: string): Error {
  return Object.assign(new Error('not found'), { name });
}

beforeAll(async () => {
  embedded = await startTestStore();
  store = await createIsolatedStore(embedded.client);
  dir = await mkdtemp(join(tmpdir(), 'spotcheck-external-'));
  const table = `test-external-${String(process.pid)}`;
  await createDynamoStore({ client: embedded.client, table }).ensureTable();
  const secrets = createSecretStore({ client: embedded.client, table, keys: localDataKeys(join(dir, 'secrets.key')) });
  await secrets.set({ level: 'repo', repo: makeRun('x').repo }, 'STORED', STORED_VALUE, { outsiders: true });
  const external = awsExternalSecrets({
    secretsManager: { client: new SecretsManagerClient({ region: 'eu-west-1' }), prefix: 'spotcheck/' },
    ssm: { client: new SSMClient({ region: 'eu-west-1' }), prefix: '/ci/spotcheck/' },
  });
  router = createRouter([
    createBootstrapRoute({
      store,
      secret: 'x'.repeat(32),
      reportUrl: 'https://ci.example.com/api/agent/report',
      now: () => Date.now(),
      jobFor: (run, order) => Promise.resolve(buildOrderJob(run, order, {}, 'https://example.com/octo/app.git')),
      secretsFor: orderSecretsReader(secrets, external),
    }),
  ]);
});

beforeEach(() => {
  asked = [];
  sm.reset();
  ssm.reset();
  sm.on(GetSecretValueCommand).callsFake((input: GetSecretValueCommandInput) => {
    const id = input.SecretId ?? '';
    asked.push(`sm ${id}`);
    if (SECRETS_MANAGER[id] === undefined) throw notFound('ResourceNotFoundException');
    return { Name: id, SecretString: SECRETS_MANAGER[id] };
  });
  ssm.on(GetParameterCommand).callsFake((input: GetParameterCommandInput) => {
    const name = input.Name ?? '';
    asked.push(`ssm ${name}${input.WithDecryption === true ? ' (decrypted)' : ''}`);
    if (SSM[name] === undefined) throw notFound('ParameterNotFound');
    return { Parameter: { Name: name, Type: 'SecureString', Value: SSM[name] } };
  });
});

afterEach(() => {
  expect(leaksIn('server log', logged, ALL_VALUES)).toEqual([]);
  logged = '';
});

afterAll(async () => {
  sm.restore();
  ssm.restore();
  await embedded.close();
  await rm(dir, { recursive: true, force: true });
});

const step = (index: number, run: string): StepSpec => ({
  index,
  run,
  env: {},
  continueOnError: false,
  pos: { line: 1, col: 1 },
});

let runs = 0;
async function exchange(
  trust: RunTrust,
  steps: readonly StepSpec[],
  extra: { environment?: string; secretsPassed?: readonly CallSecrets[]; env?: Record<string, string> } = {},
): Promise<{ status: number; answer?: BootstrapAnswer }> {
  const runId = `run-${String(++runs)}`;
  const run = makeRun(runId, { orderCount: 1, trust });
  await store.createRun(run, [
    makeOrder(runId, 'deploy', {
      state: 'dispatching',
      steps,
      env: extra.env ?? {},
      ...(extra.environment ? { environment: { name: extra.environment } } : {}),
      ...(extra.secretsPassed ? { secretsPassed: extra.secretsPassed } : {}),
    }),
  ]);
  const token = await mintBootstrapToken(store, 'order', { runId, orderId: 'deploy', attempt: 1 }, 60_000);
  const log = pino({ level: 'debug' }, { write: (line: string) => void (logged += line) });
  const res = await router.handle({
    method: 'POST',
    path: AGENT_BOOTSTRAP_PATH,
    query: new URLSearchParams(),
    headers: { authorization: `Bearer ${token}` },
    signal: new AbortController().signal,
    log,
    readBody: () => Promise.resolve(Buffer.alloc(0)),
  });
  if (res.status !== 200) return { status: res.status };
  return { status: 200, answer: JSON.parse(typeof res.body === 'string' ? res.body : '{}') as BootstrapAnswer };
}

describe('secrets read through from AWS', () => {
  it('a member’s job gets the names it references, most specific first, Secrets Manager before SSM; the store wins', async () => {
    const { answer } = await exchange(
      'member',
      [
        step(0, 'deploy "${{ secrets.SM_REPO }}" "${{ secrets.sm_org }}"'),
        step(1, "echo ${{ secrets['SSM_ORG'] }} ${{ secrets.STORED }} ${{ secrets.NOWHERE }}"),
      ],
      { env: { TOKEN: '${{ secrets.DEPLOY }}' } },
    );
    expect(answer?.job.secrets).toEqual({
      SM_REPO: SECRETS_MANAGER['spotcheck/octo/app/SM_REPO'],
      SM_ORG: SECRETS_MANAGER['spotcheck/octo/SM_ORG'],
      SSM_ORG: SSM['/ci/spotcheck/octo/SSM_ORG'],
      DEPLOY: SECRETS_MANAGER['spotcheck/octo/app/DEPLOY'],
      STORED: STORED_VALUE,
    });
    // STORED and UNREFERENCED are never asked for; a job without an environment asks no environment path. Per
    // name, in this order (names are looked up side by side, so only each name's own order is fixed).
    const perName = (name: string) => asked.filter((a) => a.endsWith(`/${name}`) || a.endsWith(`/${name} (decrypted)`));
    expect(perName('NOWHERE')).toEqual([
      'sm spotcheck/octo/app/NOWHERE',
      'ssm /ci/spotcheck/octo/app/NOWHERE (decrypted)',
      'sm spotcheck/octo/NOWHERE',
      'ssm /ci/spotcheck/octo/NOWHERE (decrypted)',
    ]);
    expect(perName('SM_ORG')).toEqual([
      'sm spotcheck/octo/app/SM_ORG',
      'ssm /ci/spotcheck/octo/app/SM_ORG (decrypted)',
      'sm spotcheck/octo/SM_ORG',
    ]);
    expect([...asked].sort()).toEqual(
      [
        'sm spotcheck/octo/app/DEPLOY',
        'sm spotcheck/octo/app/NOWHERE',
        'ssm /ci/spotcheck/octo/app/NOWHERE (decrypted)',
        'sm spotcheck/octo/NOWHERE',
        'ssm /ci/spotcheck/octo/NOWHERE (decrypted)',
        'sm spotcheck/octo/app/SM_ORG',
        'ssm /ci/spotcheck/octo/app/SM_ORG (decrypted)',
        'sm spotcheck/octo/SM_ORG',
        'sm spotcheck/octo/app/SM_REPO',
        'sm spotcheck/octo/app/SSM_ORG',
        'ssm /ci/spotcheck/octo/app/SSM_ORG (decrypted)',
        'sm spotcheck/octo/SSM_ORG',
        'ssm /ci/spotcheck/octo/SSM_ORG (decrypted)',
      ].sort(),
    );
  });

  it('a job naming an environment gets its environment’s value first', async () => {
    const { answer } = await exchange('member', [step(0, 'echo ${{ secrets.DEPLOY }}')], { environment: 'Prod' });
    expect(answer?.job.secrets).toEqual({
      DEPLOY: SECRETS_MANAGER['spotcheck/octo/app/environments/prod/DEPLOY'],
      STORED: STORED_VALUE,
    });
    expect(asked).toEqual(['sm spotcheck/octo/app/environments/prod/DEPLOY']);
  });

  it('an approved outsider’s run asks AWS nothing: only the store’s secrets marked for outsiders', async () => {
    const { answer } = await exchange('approved-outsider', [
      step(0, 'echo ${{ secrets.SM_REPO }} ${{ secrets.STORED }}'),
    ]);
    expect(answer?.job.secrets).toEqual({ STORED: STORED_VALUE });
    expect(asked).toEqual([]);
  });

  it('a called workflow’s job: what its call passes, read through in the caller’s names', async () => {
    const { answer } = await exchange('member', [step(0, 'echo ${{ secrets.TOKEN }}')], {
      secretsPassed: [{ token: '${{ secrets.SM_ORG }}' }],
    });
    expect(answer?.job.secrets).toEqual({ TOKEN: SECRETS_MANAGER['spotcheck/octo/SM_ORG'] });
  });

  it('a store that fails (throttled, denied) fails the exchange for now (503, the agent retries), never hands fewer', async () => {
    sm.on(GetSecretValueCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));
    const { status, answer } = await exchange('member', [step(0, 'echo ${{ secrets.SM_REPO }}')]);
    expect(status).toBe(503);
    expect(answer).toBeUndefined();
    expect(logged).toContain('ThrottlingException');
  });
});
