/**
 * `spotcheck watchdog` and `spotcheck janitor`, spawned for real against an embedded store on disk and an EC2 stand-in
 * on loopback: a small HTTP server speaking EC2's Query protocol (DescribeInstances, TerminateInstances), reached
 * through the SDK's documented `AWS_ENDPOINT_URL_EC2` variable. No GitHub credentials: reporting is off.
 */
import { execFile, spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server, type ServerResponse } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedStore } from '../../src/store/embedded.ts';
import type { OrderRecord, RunRecord } from '../../src/core/types.ts';
import { makeOrder, makeRun } from '../helpers/dynalite.ts';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(REPO, 'bin', 'spotcheck.js');
const MINUTE = 60_000;

interface FakeInstance {
  readonly id: string;
  state: 'pending' | 'running' | 'shutting-down' | 'terminated';
  stateReason?: string;
  readonly launchTime: number;
  readonly tags: Record<string, string>;
}

/** Just enough of EC2's Query API (EC2 API reference: DescribeInstances, TerminateInstances) for the janitor. */
function startFakeEc2(instances: Map<string, FakeInstance>) {
  const actions: string[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    req.on('end', () => {
      const form = new URLSearchParams(body);
      const action = form.get('Action') ?? '';
      actions.push(action);
      const ids = [...form.entries()].filter(([k]) => /^InstanceId\.\d+$/.test(k)).map(([, v]) => v);
      const unknown = ids.filter((id) => !instances.has(id));
      if (unknown.length > 0) return reply(res, 400, error('InvalidInstanceID.NotFound', unknown.join(', ')));
      if (action === 'DescribeInstances') {
        const filters = readFilters(form);
        const found = (ids.length > 0 ? ids.map((id) => instances.get(id)!) : [...instances.values()]).filter((i) =>
          filters.every(([name, values]) => matches(i, name, values)),
        );
        return reply(
          res,
          200,
          `<DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r</requestId>` +
            `<reservationSet>${found.map((i) => `<item><reservationId>r-${i.id}</reservationId><instancesSet>${describeXml(i)}</instancesSet></item>`).join('')}</reservationSet>` +
            `</DescribeInstancesResponse>`,
        );
      }
      if (action === 'TerminateInstances') {
        const items = ids.map((id) => {
          const instance = instances.get(id)!;
          const previous = instance.state;
          instance.state = 'terminated';
          instance.stateReason ??= 'Client.UserInitiatedShutdown';
          return `<item><instanceId>${id}</instanceId><previousState><code>16</code><name>${previous}</name></previousState><currentState><code>48</code><name>terminated</name></currentState></item>`;
        });
        return reply(
          res,
          200,
          `<TerminateInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r</requestId>` +
            `<instancesSet>${items.join('')}</instancesSet></TerminateInstancesResponse>`,
        );
      }
      return reply(res, 400, error('InvalidAction', `the fake EC2 has no ${action}`));
    });
  });
  return { server, actions };
}

function readFilters(form: URLSearchParams): [string, string[]][] {
  const filters: [string, string[]][] = [];
  for (let n = 1; form.has(`Filter.${n}.Name`); n++) {
    const values: string[] = [];
    for (let v = 1; form.has(`Filter.${n}.Value.${v}`); v++) values.push(form.get(`Filter.${n}.Value.${v}`)!);
    filters.push([form.get(`Filter.${n}.Name`)!, values]);
  }
  return filters;
}

function matches(instance: FakeInstance, name: string, values: readonly string[]): boolean {
  if (name === 'instance-state-name') return values.includes(instance.state);
  if (name === 'tag-key') return values.some((k) => k in instance.tags);
  if (name.startsWith('tag:')) return values.includes(instance.tags[name.slice(4)] ?? '\u0000');
  throw new Error(`the fake EC2 does not know the filter ${name}`);
}

function describeXml(i: FakeInstance): string {
  const code = { pending: 0, running: 16, 'shutting-down': 32, terminated: 48 }[i.state];
  const reason =
    i.stateReason === undefined
      ? ''
      : `<stateReason><code>${i.stateReason}</code><message>${i.stateReason}</message></stateReason>`;
  const tags = Object.entries(i.tags)
    .map(([k, v]) => `<item><key>${k}</key><value>${v}</value></item>`)
    .join('');
  return (
    `<item><instanceId>${i.id}</instanceId><instanceState><code>${code}</code><name>${i.state}</name></instanceState>` +
    `${reason}<launchTime>${new Date(i.launchTime).toISOString()}</launchTime><tagSet>${tags}</tagSet></item>`
  );
}

function error(code: string, message: string): string {
  return `<Response><Errors><Error><Code>${code}</Code><Message>${message}</Message></Error></Errors><RequestID>r</RequestID></Response>`;
}

function reply(res: ServerResponse, status: number, xml: string): void {
  res.writeHead(status, { 'content-type': 'text/xml;charset=UTF-8' });
  res.end(xml);
}

interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

let root: string;
let endpoint: string;
let fake: ReturnType<typeof startFakeEc2>;
const instances = new Map<string, FakeInstance>();
const RUN = 'run-ops-1';

/** The CLI with AWS pointed at the stand-in and no GitHub App variables. */
function cli(args: readonly string[], env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd: root, env: cliEnv(env) }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

function cliEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const base = Object.fromEntries(
    Object.entries(process.env).filter(
      ([k]) => !/^(APP_ID|PRIVATE_KEY|PRIVATE_KEY_PATH|WEBHOOK_SECRET|PUBLIC_URL|SPOTCHECK_|AWS_)/.test(k),
    ),
  );
  return {
    ...base,
    SPOTCHECK_CONFIG: join(root, 'spotcheck.yml'),
    AWS_ENDPOINT_URL_EC2: endpoint,
    AWS_REGION: 'eu-west-1',
    AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
    AWS_SECRET_ACCESS_KEY: 'example-secret',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_MAX_ATTEMPTS: '1',
    ...env,
  };
}

async function withStore<T>(fn: (store: Awaited<ReturnType<typeof startEmbeddedStore>>['store']) => Promise<T>) {
  const embedded = await startEmbeddedStore({ dir: join(root, 'data', 'db') });
  try {
    return await fn(embedded.store);
  } finally {
    await embedded.close();
  }
}

function instance(id: string, order: string, launchedMinutesAgo: number, extra: Partial<FakeInstance> = {}): void {
  instances.set(id, {
    id,
    state: 'running',
    launchTime: Date.now() - launchedMinutesAgo * MINUTE,
    tags: {
      'spotcheck:run': RUN,
      'spotcheck:order': order,
      'spotcheck:attempt': '1',
      'spotcheck:expires': new Date(Date.now() + 5 * 60 * MINUTE).toISOString(),
    },
    ...extra,
  });
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'spotcheck-ops-'));
  fake = startFakeEc2(instances);
  fake.server.listen(0, '127.0.0.1');
  await once(fake.server, 'listening');
  endpoint = `http://127.0.0.1:${(fake.server.address() as AddressInfo).port}`;
  await writeFile(
    join(root, 'spotcheck.yml'),
    [
      'routes:',
      '  big:',
      '    runner: spot',
      '    instanceTypes: [c7i.large]',
      '    subnets: [subnet-0a0a0a0a]',
      '    ami: ami-0d0d0d0d',
      '    onDemandFallback: false',
      '    region: eu-west-1',
      'store:',
      `  dir: ${JSON.stringify(join(root, 'data'))}`,
      'publicUrl: https://ci.example.com',
      '',
    ].join('\n'),
  );
  // A run two hours old (so the watchdog recounts it): one order past its deadline, one whose instance powered off
  // without a report, one finished whose instance is still up, one cancelled whose instance just started.
  const now = Date.now();
  const at = { createdAt: now - 2 * 60 * MINUTE };
  const spot = (id: string, o: Partial<OrderRecord>): OrderRecord =>
    makeOrder(RUN, id, { runsOn: 'big', runner: 'spot', ...at, ...o });
  const run: RunRecord = makeRun(RUN, { orderCount: 4, ...at });
  await withStore((store) =>
    store.createRun(run, [
      spot('slow', {
        state: 'running',
        handle: 'i-0000000000000a001',
        deadline: now - MINUTE,
        startedAt: now - 30 * MINUTE,
      }),
      spot('lost', {
        state: 'running',
        handle: 'i-0000000000000b002',
        deadline: now + 60 * MINUTE,
        startedAt: now - 5 * MINUTE,
      }),
      spot('done', {
        state: 'succeeded',
        result: 'success',
        handle: 'i-0000000000000c003',
        finishedAt: now - 20 * MINUTE,
      }),
      spot('young', { state: 'cancelled', result: 'cancelled', finishedAt: now - MINUTE }),
    ]),
  );
  instance('i-0000000000000a001', 'slow', 31);
  instance('i-0000000000000b002', 'lost', 6, { state: 'terminated', stateReason: 'Client.InstanceInitiatedShutdown' });
  instance('i-0000000000000c003', 'done', 40);
  instance('i-0000000000000d004', 'young', 1);
}, 60_000);

afterAll(async () => {
  fake.server.close();
  await rm(root, { recursive: true, force: true });
});

describe('spotcheck janitor and watchdog', () => {
  it('janitor --dry-run lists what it would end, with the reason, and ends nothing', async () => {
    const r = await cli(['janitor', '--dry-run']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      [
        'would terminate i-0000000000000c003: its order is succeeded',
        'janitor (dry run): 1 would be terminated, 2 kept',
        '',
      ].join('\n'),
    );
    expect(fake.actions.filter((a) => a === 'TerminateInstances')).toEqual([]);
    expect(instances.get('i-0000000000000c003')?.state).toBe('running');
  }, 60_000);

  it('watchdog --once times out, fails the order whose instance vanished, sweeps, and exits 0', async () => {
    fake.actions.length = 0;
    const r = await cli(['watchdog', '--once']);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('reporting is off');
    expect(r.stdout).toBe(
      [
        'watchdog: tick done, 0 orders active; janitor terminated 1, kept 1',
        'terminated i-0000000000000c003: its order is succeeded',
        '',
      ].join('\n'),
    );
    // The timed-out order's instance (by the orchestrator) and the leftover (by the janitor): two terminates.
    expect(fake.actions.filter((a) => a === 'TerminateInstances')).toHaveLength(2);
    expect(instances.get('i-0000000000000a001')?.state).toBe('terminated');
    expect(instances.get('i-0000000000000d004')?.state).toBe('running'); // within the grace period
    const [orders, run] = await withStore(async (store) => [await store.listOrders(RUN), await store.getRun(RUN)]);
    const byId = Object.fromEntries(orders.map((o) => [o.id, o]));
    expect(byId.slow).toMatchObject({ state: 'timed_out' });
    expect(byId.lost?.state).toBe('failed');
    expect(byId.lost?.reason).toMatch(
      /i-0000000000000b002 is terminated \(Client\.InstanceInitiatedShutdown\).*before the agent reported/,
    );
    expect(run?.status).toBe('failed');
  }, 60_000);

  it('janitor ends nothing more when everything left is owned or young', async () => {
    const r = await cli(['janitor']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('janitor: 0 terminated, 1 kept\n');
  }, 60_000);

  it('watchdog without --once ticks until SIGINT, then exits 0', async () => {
    const child = spawn(process.execPath, [BIN, 'watchdog', '--interval', '1'], { cwd: root, env: cliEnv({}) });
    let stdout = '';
    const ticked = new Promise<void>((resolve) =>
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString('utf8');
        if ((stdout.match(/watchdog: tick done/g) ?? []).length >= 2) resolve();
      }),
    );
    await ticked;
    child.kill('SIGINT');
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code).toBe(0);
    expect((stdout.match(/watchdog: tick done/g) ?? []).length).toBeGreaterThanOrEqual(2);
  }, 60_000);

  it('reports when the GitHub App variables are set, and refuses half of them', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const app = { APP_ID: '12345', PRIVATE_KEY: pem, WEBHOOK_SECRET: 'a webhook secret', APP_SLUG: 'spotcheck-test' };
    const on = await cli(['watchdog', '--once'], app);
    expect(on.code).toBe(0);
    expect(on.stderr).not.toContain('reporting is off');
    const half = await cli(['watchdog', '--once'], { APP_ID: '12345' });
    expect(half.code).toBe(2);
    expect(half.stderr).toMatch(/PRIVATE_KEY or PRIVATE_KEY_PATH is required/);
    expect(half.stderr).not.toContain('12345');
  }, 60_000);

  it.each([
    [['watchdog', '--interval', '0'], /--interval must be a whole number of seconds/],
    [['watchdog', '--every', '5'], /Unknown option '--every'/],
    [['janitor', 'now'], /janitor takes no arguments \(got "now"\)/],
  ])(
    'usage error %j exits 2',
    async (args, message) => {
      const r = await cli(args);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(message);
    },
    60_000,
  );

  it('an invalid route exits 2 naming the problem; a config without cloud routes has nothing to sweep', async () => {
    await writeFile(join(root, 'bad.yml'), 'routes:\n  big: { runner: spot, instanceTypes: [c7i.large] }\n');
    const bad = await cli(['janitor', '--config', join(root, 'bad.yml')]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/routes\.big/);
    await writeFile(join(root, 'local.yml'), `store: { dir: ${JSON.stringify(join(root, 'local-data'))} }\n`);
    const local = await cli(['janitor', '--config', join(root, 'local.yml')]);
    expect(local).toMatchObject({ code: 0, stdout: 'janitor: no spot or codebuild routes, nothing to sweep\n' });
  }, 60_000);
});
