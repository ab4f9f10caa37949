/**
 * `spotcheck secrets set|list|rm`, spawned for real with the value on stdin: against the embedded store of a data
 * folder (values wrapped by its 0600 key file), and against a DynamoDB table named by an operator config whose
 * `store.kmsKeyId` wraps them, with dynalite and a KMS stand-in on loopback (reached through the SDK's documented
 * `AWS_ENDPOINT_URL_KMS`). A value must never reach stdout, stderr or any raw file of the data folder.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { KMSClient } from '@aws-sdk/client-kms';
import { defaultConfig } from '../../src/config.ts';
import { openStore } from '../../src/store/open-store.ts';
import { kmsDataKeys } from '../../src/store/data-keys.ts';
import { ensureTable } from '../../src/store/ensure-table.ts';
import { startDynamoEndpoint, type DynamoEndpoint } from '../helpers/dynalite.ts';
import { createSecretStore } from '../../src/store/secret-store.ts';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(REPO_ROOT, 'bin', 'spotcheck.js');
const APP = { level: 'repo', repo: { forge: 'github', host: 'github.com', owner: 'octo', name: 'app' } } as const;

interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

let root: string;
const outputs: CliResult[] = [];

/** The CLI in `root`, `stdin` piped in (then closed), no SPOTCHECK_/AWS_ variables of the caller's. */
function cli(args: readonly string[], stdin = '', env: Record<string, string> = {}): Promise<CliResult> {
  const base = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !/^(SPOTCHECK_|AWS_|GHE_HOST|GITEA_URL)/.test(k)),
  );
  const child = spawn(process.execPath, [BIN, ...args], { cwd: root, env: { ...base, ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  child.stdin.end(stdin);
  return new Promise((resolve) => {
    child.on('close', (code) => {
      const result = { code: code ?? -1, stdout, stderr };
      outputs.push(result);
      resolve(result);
    });
  });
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

/** The files under `dir` whose raw bytes contain `needle`. */
async function filesHolding(dir: string, needle: string): Promise<string[]> {
  const found: string[] = [];
  for (const file of await filesUnder(dir)) if ((await readFile(file)).includes(needle)) found.push(file);
  return found;
}

// Each test spawns the CLI a few times (a Node start, then the store's): seconds each on a busy machine.
vi.setConfig({ testTimeout: 180_000 });

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'spotcheck-secrets-cli-'));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('spotcheck secrets on a data folder (embedded store)', () => {
  const value = `s3cr3t-${randomBytes(12).toString('hex')}`;
  const data = (): string => join(root, 'data');

  it('sets from stdin without printing the value, and list shows the name and update time only', async () => {
    // `echo` adds a newline: one is removed.
    const set = await cli(['secrets', 'set', 'deploy_key', '--repo', 'octo/app', '--data-dir', 'data'], `${value}\n`);
    expect(set).toMatchObject({ code: 0, stdout: 'set DEPLOY_KEY for repo octo/app on github.com\n' });
    const list = await cli(['secrets', 'list', '--repo', 'octo/app', '--data-dir', 'data']);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^DEPLOY_KEY {2}\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\n$/);

    const keyFile = await stat(join(data(), 'secrets.key'));
    expect(keyFile.mode & 0o777).toBe(0o600);
    // What the server will hand an order: the value exactly, the newline echo added gone.
    const opened = await openStore(defaultConfig({ dataDir: data() }), data());
    try {
      const listed = await opened.secrets.list(APP);
      expect(await opened.secrets.open(listed)).toEqual({ DEPLOY_KEY: value });
    } finally {
      await opened.close();
    }
  });

  it('keeps a multi-line value but for one trailing newline, and marks --outsiders secrets in list', async () => {
    const pem = `-----BEGIN KEY-----\n${randomBytes(24).toString('base64')}\n-----END KEY-----\n`;
    const set = await cli(
      ['secrets', 'set', 'SIGNING', '--org', 'octo', '--outsiders', '--data-dir', 'data'],
      `${pem}\r\n`,
    );
    expect(set).toMatchObject({ code: 0, stdout: 'set SIGNING for org octo on github.com (outsiders too)\n' });
    const list = await cli(['secrets', 'list', '--org', 'octo', '--data-dir', 'data']);
    expect(list.stdout).toMatch(/^SIGNING {2}\S+Z {2}outsiders\n$/);
    const opened = await openStore(defaultConfig({ dataDir: data() }), data());
    try {
      const org = { level: 'org', forge: 'github', host: 'github.com', owner: 'octo' } as const;
      expect(await opened.secrets.open(await opened.secrets.list(org))).toEqual({ SIGNING: pem });
    } finally {
      await opened.close();
    }
  });

  it('refuses bad names with GitHub’s rule, a value given as an argument, and an empty value', async () => {
    const cases: [string[], string, RegExp][] = [
      [['set', '1ST'], 'x', /1ST: a secret name must not start with a digit/],
      [['set', 'GITHUB_TOKEN'], 'x', /must not start with the reserved GITHUB_ prefix/],
      [['set', 'MY-KEY'], 'x', /MY-KEY: a secret name may contain only letters, digits and _/],
      [['rm', 'BAD NAME'], '', /may contain only letters, digits and _/],
      [['set', 'TOKEN', 'the-value'], '', /the value is read from stdin, never from an argument/],
      [['set', 'TOKEN'], '\n', /the secret value on stdin is empty/],
      [['set', 'TOKEN', '--env', 'prod', '--org', 'octo'], 'x', /--env needs --repo/],
      [['list'], '', /give one of --repo OWNER\/NAME or --org OWNER/],
    ];
    // Refused before the store opens, so they may run side by side.
    const results = await Promise.all(
      cases.map(([args, stdin]) => {
        const scoped = args.includes('--org') || args[0] === 'list' ? args : [...args, '--repo', 'octo/app'];
        return cli(['secrets', ...scoped, '--data-dir', 'data'], stdin);
      }),
    );
    results.forEach((result, i) => {
      const [args, , message] = cases[i]!;
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr).toMatch(message);
    });
    const list = await cli(['secrets', 'list', '--repo', 'octo/app', '--data-dir', 'data']);
    expect(list.stdout).not.toMatch(/TOKEN|1ST|MY-KEY/);
  });

  it('environment secrets are their own scope', async () => {
    const set = await cli(
      ['secrets', 'set', 'DEPLOY_KEY', '--repo', 'octo/app', '--env', 'prod', '--data-dir', 'data'],
      'p',
    );
    expect(set.stdout).toBe('set DEPLOY_KEY for environment prod of octo/app on github.com\n');
    const env = await cli(['secrets', 'list', '--repo', 'octo/app', '--env', 'prod', '--data-dir', 'data']);
    expect(env.stdout).toMatch(/^DEPLOY_KEY /);
    const rmEnv = await cli([
      'secrets',
      'rm',
      'deploy_key',
      '--repo',
      'octo/app',
      '--env',
      'prod',
      '--data-dir',
      'data',
    ]);
    expect(rmEnv).toMatchObject({
      code: 0,
      stdout: 'removed DEPLOY_KEY from environment prod of octo/app on github.com\n',
    });
    // The repository's secret of the same name is untouched.
    const repo = await cli(['secrets', 'list', '--repo', 'octo/app', '--data-dir', 'data']);
    expect(repo.stdout).toMatch(/^DEPLOY_KEY /);
  });

  it('rm removes; removing what is not there is exit 1', async () => {
    const removed = await cli(['secrets', 'rm', 'DEPLOY_KEY', 'NOPE', '--repo', 'octo/app', '--data-dir', 'data']);
    expect(removed.code).toBe(1);
    expect(removed.stdout).toBe('removed DEPLOY_KEY from repo octo/app on github.com\n');
    expect(removed.stderr).toContain('no secret NOPE for repo octo/app on github.com');
    const list = await cli(['secrets', 'list', '--repo', 'octo/app', '--data-dir', 'data']);
    expect(list).toMatchObject({ code: 0, stdout: '' });
    expect(list.stderr).toContain('no secrets for repo octo/app on github.com');
  });

  it('the value never appears in any output or raw file of the data folder', async () => {
    const encodings = [value, Buffer.from(value).toString('base64'), Buffer.from(value).toString('hex')];
    for (const output of outputs)
      for (const encoded of encodings) expect(`${output.stdout}${output.stderr}`).not.toContain(encoded);
    // The scan reads what the store wrote (its log is not compressed): the secret's name is there, its value is not.
    expect(await filesHolding(data(), 'DEPLOY_KEY')).not.toEqual([]);
    for (const encoded of encodings) expect(await filesHolding(data(), encoded)).toEqual([]);
  });
});

describe('spotcheck secrets on a DynamoDB table with a KMS key (the deployed store)', () => {
  let engine: DynamoEndpoint;
  let kms: Server;
  const kmsCalls: { target: string; context: unknown }[] = [];
  const KEY_ID = 'arn:aws:kms:eu-west-1:123456789012:key/secrets';
  const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'example-secret' };

  /** KMS's JSON protocol, GenerateDataKey and Decrypt only; a blob opens only under the context it was made with. */
  function startFakeKms(): Promise<Server> {
    const issued = new Map<string, { plaintext: string; context: string }>();
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      req.on('end', () => {
        const target = String(req.headers['x-amz-target']).replace('TrentService.', '');
        const input = JSON.parse(body) as { KeyId?: string; CiphertextBlob?: string; EncryptionContext?: unknown };
        kmsCalls.push({ target, context: input.EncryptionContext });
        const context = JSON.stringify(input.EncryptionContext);
        res.setHeader('content-type', 'application/x-amz-json-1.1');
        if (target === 'GenerateDataKey' && input.KeyId === KEY_ID) {
          const blob = randomBytes(40).toString('base64');
          const plaintext = randomBytes(32).toString('base64');
          issued.set(blob, { plaintext, context });
          res.end(JSON.stringify({ KeyId: KEY_ID, Plaintext: plaintext, CiphertextBlob: blob }));
          return;
        }
        const held = issued.get(input.CiphertextBlob ?? '');
        if (target === 'Decrypt' && held?.context === context) {
          res.end(JSON.stringify({ KeyId: KEY_ID, Plaintext: held.plaintext }));
          return;
        }
        res.statusCode = 400;
        res.end(JSON.stringify({ __type: 'InvalidCiphertextException', message: 'no' }));
      });
    });
    return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
  }

  beforeAll(async () => {
    // A DynamoDB reached by URL (the deployed store's shape), with the table the stack would have made.
    engine = await startDynamoEndpoint();
    await ensureTable(engine.client, 'deployed');
    kms = await startFakeKms();
    const config = {
      store: { kind: 'dynamodb', table: 'deployed', region: 'eu-west-1', endpoint: engine.endpoint, kmsKeyId: KEY_ID },
    };
    await writeFile(join(root, 'deployed.yml'), JSON.stringify(config));
  });

  afterAll(async () => {
    await engine.close();
    await new Promise((resolve) => kms.close(resolve));
  });

  const env = (): Record<string, string> => ({
    SPOTCHECK_CONFIG: join(root, 'deployed.yml'),
    AWS_ENDPOINT_URL_KMS: `http://127.0.0.1:${String((kms.address() as AddressInfo).port)}`,
    AWS_REGION: 'eu-west-1',
    AWS_ACCESS_KEY_ID: credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
  });

  it('seals under a KMS data key bound to the secret, lists and removes; no value in the table', async () => {
    const value = `kms-${randomBytes(12).toString('hex')}`;
    const set = await cli(
      ['secrets', 'set', 'NPM_TOKEN', '--forge', 'gitea', '--host', 'Gitea.Example.org:3000', '--org', 'octo'],
      value,
      env(),
    );
    expect(set).toMatchObject({ code: 0, stdout: 'set NPM_TOKEN for org octo on gitea.example.org:3000\n' });
    expect(kmsCalls).toEqual([
      {
        target: 'GenerateDataKey',
        context: { purpose: 'spotcheck-secret', secret: 'SECRETS#org#gitea#gitea.example.org%3A3000#octo\nNPM_TOKEN' },
      },
    ]);
    const list = await cli(
      ['secrets', 'list', '--org', 'octo', '--forge', 'gitea', '--host', 'gitea.example.org:3000'],
      '',
      env(),
    );
    expect(list.stdout).toMatch(/^NPM_TOKEN {2}\S+Z\n$/);
    // Decrypt works through the same key and context (what the server does for an order).
    const client = new KMSClient({ endpoint: env().AWS_ENDPOINT_URL_KMS!, region: 'eu-west-1', credentials });
    try {
      const secrets = createSecretStore({
        client: engine.client,
        table: 'deployed',
        keys: kmsDataKeys(client, KEY_ID),
      });
      const org = { level: 'org', forge: 'gitea', host: 'gitea.example.org:3000', owner: 'octo' } as const;
      expect(await secrets.open(await secrets.list(org))).toEqual({ NPM_TOKEN: value });
      expect(kmsCalls.map((c) => c.target)).toEqual(['GenerateDataKey', 'Decrypt']);
    } finally {
      client.destroy();
    }
    const items = await engine.client.send(new ScanCommand({ TableName: 'deployed' }));
    const raw = JSON.stringify(items.Items);
    expect(raw).toContain('NPM_TOKEN');
    expect(raw).not.toContain(value);
    expect(raw).not.toContain(Buffer.from(value).toString('base64'));
    const removed = await cli(
      ['secrets', 'rm', 'NPM_TOKEN', '--org', 'octo', '--forge', 'gitea', '--host', 'gitea.example.org:3000'],
      '',
      env(),
    );
    expect(removed.code).toBe(0);
    expect((await engine.client.send(new ScanCommand({ TableName: 'deployed' }))).Items ?? []).toEqual(
      (items.Items ?? []).filter((i) => i['kind']?.S !== 'secret'),
    );
  });
});

describe('spotcheck secrets --help', () => {
  it('prints its usage, and the README shows the same synopses', async () => {
    const help = await cli(['secrets', '--help']);
    expect(help.code).toBe(0);
    const synopses = help.stdout.split('\n').filter((line) => line.startsWith('  spotcheck secrets '));
    expect(synopses).toHaveLength(3);
    const readme = await readFile(join(REPO_ROOT, 'README.md'), 'utf8');
    for (const line of synopses) expect(readme).toContain(line.trim());
  });
});
