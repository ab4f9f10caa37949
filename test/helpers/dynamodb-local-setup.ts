/**
 * The vitest global setup of the `engines` project (vitest.config.ts): starts AWS's DynamoDB Local once per test run,
 * in memory on a free port, and provides its endpoint to the store suites (test/helpers/engines.ts), which run on it
 * as well as on dynalite. It runs only when one of that project's files is selected, so other tests never wait for a
 * JVM.
 *
 * DynamoDB Local is a Java program: without Java 17+ (or when its package cannot be installed) the suites skip it with
 * one printed line. Under CI (`CI` set) its suites fail instead: `.ci/run` installs Java, so CI always runs them.
 */
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** DynamoDB Local's endpoint, or why it cannot run here. */
    dynamodbLocal: { readonly endpoint: string } | { readonly unavailable: string };
  }
}

const ROOT = join(import.meta.dirname, '..', '..');
const EMULATOR_DIR = join(ROOT, 'test', 'dynamodb-local', 'node_modules', 'amplify-dynamodb-simulator', 'emulator');
const MIN_JAVA = 17;
/** A JVM on a busy two-core machine can take a while to answer its first request. */
const READY_WITHIN_MS = 120_000;

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const unavailable = whyUnavailable();
  if (unavailable !== undefined) {
    console.warn(
      process.env['CI']
        ? `spotcheck: store suites on DynamoDB Local fail under CI: ${unavailable}`
        : `spotcheck: store suites on DynamoDB Local skipped: ${unavailable}`,
    );
    project.provide('dynamodbLocal', { unavailable });
    return () => Promise.resolve();
  }
  const server = await startDynamodbLocal();
  project.provide('dynamodbLocal', { endpoint: server.endpoint });
  return server.stop;
}

/** Why DynamoDB Local cannot run here (no Java 17+, or its package failed to install), or undefined when it can. */
function whyUnavailable(): string | undefined {
  const major = javaMajorVersion();
  if (major === undefined) return `no java on PATH (install a Java ${String(MIN_JAVA)}+ runtime to run them)`;
  if (major < MIN_JAVA) return `java ${String(major)} is older than ${String(MIN_JAVA)}`;
  const install = spawnSync(process.execPath, [join(ROOT, 'scripts', 'install-dynamodb-local.mjs')], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (install.status !== 0) return 'its package did not install (npm ci in test/dynamodb-local/ failed)';
  return undefined;
}

/** The major version `java -version` reports ("1.8.0_…" is 8, "17.0.15" is 17), or undefined without java. */
function javaMajorVersion(): number | undefined {
  const result = spawnSync('java', ['-version'], { encoding: 'utf8' });
  if (result.error !== undefined || result.status !== 0) return undefined;
  const match = /version "(\d+)(?:\.(\d+))?/.exec(result.stderr);
  if (match === null) return undefined;
  const first = Number(match[1]);
  return first === 1 ? Number(match[2]) : first;
}

interface RunningServer {
  readonly endpoint: string;
  readonly stop: () => Promise<void>;
}

/**
 * DynamoDB Local listens on every interface and has no option to bind loopback only (its -help lists none); the
 * tests reach it on 127.0.0.1. A port picked free can be taken before the JVM binds it, so a start that exits early
 * is tried again on another port.
 */
async function startDynamodbLocal(): Promise<RunningServer> {
  let lastError: unknown;
  for (let attempt = 1; attempt <= 3; attempt++) {
    const port = await freePort();
    const child = spawn(
      'java',
      [
        `-Djava.library.path=${join(EMULATOR_DIR, 'DynamoDBLocal_lib')}`,
        '-jar',
        join(EMULATOR_DIR, 'DynamoDBLocal.jar'),
        '-inMemory',
        // One database for every client, whatever its credentials and region.
        '-sharedDb',
        // Version 1.24 added telemetry sent to AWS; tests reach no network.
        '-disableTelemetry',
        '-port',
        String(port),
      ],
      { cwd: EMULATOR_DIR, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const output = collectOutput(child);
    const stop = stopper(child);
    const endpoint = `http://127.0.0.1:${String(port)}`;
    try {
      await waitUntilReady(endpoint, child);
      return { endpoint, stop };
    } catch (error) {
      await stop();
      lastError = new Error(`DynamoDB Local did not start: ${String(error)}\n${output()}`, { cause: error });
    }
  }
  throw lastError;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/** The last few KB of the JVM's output, for the error when it does not start. */
function collectOutput(child: ChildProcess): () => string {
  let text = '';
  const keep = (chunk: Buffer): void => {
    text = (text + chunk.toString('utf8')).slice(-8192);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return () => text;
}

/** Stops the JVM (SIGTERM, then SIGKILL); it is also killed if this process exits first. */
function stopper(child: ChildProcess): () => Promise<void> {
  const killOnExit = (): void => void child.kill('SIGKILL');
  process.once('exit', killOnExit);
  return async () => {
    process.off('exit', killOnExit);
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };
}

async function waitUntilReady(endpoint: string, child: ChildProcess): Promise<void> {
  const client = new DynamoDBClient({
    endpoint,
    region: 'local',
    credentials: { accessKeyId: 'spotcheck', secretAccessKey: 'spotcheck' },
    maxAttempts: 1,
  });
  try {
    const deadline = Date.now() + READY_WITHIN_MS;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error('java exited');
      try {
        await client.send(new ListTablesCommand({}));
        return;
      } catch (error) {
        if (Date.now() > deadline) throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  } finally {
    client.destroy();
  }
}
