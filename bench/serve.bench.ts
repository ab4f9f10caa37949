/**
 * The webhook server under load (issue 4, item 10): deliveries/s and answer latency of `spotcheck serve`, started
 * as users start it (`node bin/spotcheck.js serve`, a child process configured by its environment), for signed push
 * deliveries that match no workflow and that match one, against a bare Probot app with an empty handler (Probot's
 * own `Server`, also a child process), on the same machine in the same run, with the same payload and signature.
 * autocannon drives both from this process; every delivery carries a unique `X-GitHub-Delivery`, so spotcheck's
 * de-duplication never short-circuits one. spotcheck's background work (token, listing, file, compare, planning,
 * statuses) is real: it talks to a GitHub API stand-in on loopback (bench/github-stand-in.ts).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { runIdFor } from '../src/intake/intake.ts';
import { startEmbeddedStore } from '../src/store/embedded.ts';
import { githubExample, signGitHubBody } from '../test/helpers/webhook-examples.ts';
import { formatMiB, formatNumber, renderTable, type BenchSection } from './bench-report.ts';
import type { BenchContext, Benchmark } from './benchmark.ts';
import {
  STAND_IN_ENDPOINTS,
  startGitHubStandIn,
  type GitHubStandIn,
  type StandInEndpoint,
  type StandInWorkflow,
} from './github-stand-in.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** A fixed load, so the bench bounds itself: 2 s of warm-up (JIT, connection set-up), then 10 s measured. */
export const SERVE_LOAD = { warmupSeconds: 2, seconds: 10, connections: 10 } as const;
/** A server that is not answering /healthz (/ping) by then failed to start. */
const READY_TIMEOUT_MS = 20_000;
/** How long (b) may take to finish planning what it accepted once the load stops. */
const DRAIN_TIMEOUT_MS = 40_000;
/** How long after planning the bench waits for (b)'s runs to end (they queue behind the cap; informational). */
const FINISH_WAIT_MS = 10_000;
/** Processing counts that stay put this long after reaching what was accepted are final. */
const DRAIN_QUIET_MS = 1_000;
/** SIGTERM, then SIGKILL after this long: spotcheck's graceful close waits for queued status writes. */
const STOP_GRACE_MS = 3_000;
/**
 * GitHub's delivery timeout ("Handling webhook deliveries": respond with a 2XX within 10 seconds), the one hard
 * limit on the answer: a p99 above it would be deliveries GitHub records as failed.
 */
const GITHUB_DELIVERY_TIMEOUT_MS = 10_000;

export const SECRET = 'spotcheck-bench-webhook-secret';
const INSTALLATION = 4242;
/** The installation the bench's payload names (its repository's html_url host is github.com). */
const BENCH_INSTALL = { forge: 'github', host: 'github.com', installationId: INSTALLATION } as const;
export const APP_SLUG = 'spotcheck-bench';
/** A label routed to `skip` (SPOTCHECK_CONFIG below): the order is planned, stored and reported, never executed. */
export const SKIP_LABEL = 'bench-skip';
export const BENCH_WORKFLOW: StandInWorkflow = {
  path: '.spotcheck/workflows/bench.yml',
  text: `name: bench
on:
  push:
    branches: [main]
jobs:
  build:
    runs-on: ${SKIP_LABEL}
    steps:
      - run: echo this step never runs, its label is routed to skip
`,
};
/** One label, routed to skip; every other setting is the default (what users run), `maxConcurrentOrders` 4 too. */
const SPOTCHECK_CONFIG = `# spotcheck serve under npm run bench: one label, routed to skip.
defaultRoutes: false
routes:
  ${SKIP_LABEL}: skip
`;
// ---------------------------------------------------------------------------------------------------------------
// autocannon 8 (CommonJS, no bundled types): the part of its API used here.
// ---------------------------------------------------------------------------------------------------------------

interface AutocannonRequest {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  setupRequest?: (request: AutocannonRequest, context: Record<string, unknown>) => AutocannonRequest;
  onResponse?: (status: number, body: string, context: Record<string, unknown>) => void;
}

interface AutocannonResult {
  readonly duration: number;
  readonly errors: number;
  readonly timeouts: number;
  readonly non2xx: number;
  readonly statusCodeStats: Readonly<Record<string, { readonly count: number }>>;
}

interface AutocannonInstance extends PromiseLike<AutocannonResult> {
  on(event: 'response', listener: (client: unknown, status: number, bytes: number, ms: number) => void): void;
  stop(): void;
}

type Autocannon = (options: {
  url: string;
  connections: number;
  duration: number;
  requests: AutocannonRequest[];
  timeout?: number;
}) => AutocannonInstance;

const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

// ---------------------------------------------------------------------------------------------------------------
// Load
// ---------------------------------------------------------------------------------------------------------------

export interface Delivery {
  readonly event: string;
  readonly body: string;
  /** `X-Hub-Signature-256` of the body: the same for every delivery (only the delivery id changes). */
  readonly signature: string;
}

export interface LoadSample {
  readonly seconds: number;
  /** Delivery ids sent, in order. */
  readonly sent: readonly string[];
  /** Delivery ids answered 2xx. */
  readonly answered2xx: readonly string[];
  /** Answers by HTTP status. */
  readonly statuses: Readonly<Record<string, number>>;
  /** Answer latency of every response, ms (hrtime resolution). */
  readonly latenciesMs: readonly number[];
  /** Connection errors and timeouts (requests with no answer at all). */
  readonly errors: number;
}

/**
 * POSTs signed deliveries to `<url>/api/github/webhooks` on `connections` keep-alive connections for `seconds`,
 * each with its own `X-GitHub-Delivery` (`<idPrefix>-<n>`, within spotcheck's `[A-Za-z0-9-]{1,100}`).
 */
export async function driveDeliveries(opts: {
  readonly url: string;
  readonly delivery: Delivery;
  readonly idPrefix: string;
  readonly seconds: number;
  readonly connections: number;
}): Promise<LoadSample> {
  const sent: string[] = [];
  const answered2xx: string[] = [];
  const latenciesMs: number[] = [];
  let next = 0;
  const instance = autocannon({
    url: opts.url,
    connections: opts.connections,
    duration: opts.seconds,
    // Well above any answer seen, well below the run: a stuck answer shows up as an error, not a hang.
    timeout: GITHUB_DELIVERY_TIMEOUT_MS / 1000,
    requests: [
      {
        method: 'POST',
        path: '/api/github/webhooks',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'GitHub-Hookshot/bench',
          'x-github-event': opts.delivery.event,
          'x-github-hook-id': '1',
          'x-hub-signature-256': opts.delivery.signature,
        },
        body: opts.delivery.body,
        // Called for every request autocannon builds: the context belongs to this request until its answer.
        setupRequest: (request, context) => {
          const id = `${opts.idPrefix}-${String(next++)}`;
          sent.push(id);
          context['deliveryId'] = id;
          return { ...request, headers: { ...request.headers, 'x-github-delivery': id } };
        },
        onResponse: (status, _body, context) => {
          if (status >= 200 && status < 300) answered2xx.push(String(context['deliveryId']));
        },
      },
    ],
  });
  instance.on('response', (_client, _status, _bytes, ms) => latenciesMs.push(ms));
  const result = await instance;
  const statuses = Object.fromEntries(Object.entries(result.statusCodeStats).map(([code, s]) => [code, s.count]));
  return { seconds: result.duration, sent, answered2xx, statuses, latenciesMs, errors: result.errors };
}

/** Nearest-rank percentile (p in 0–100); NaN for no values. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1]!;
}

export interface LoadSummary {
  readonly deliveries: number;
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly errors: number;
  readonly non2xx: number;
  readonly statuses: Readonly<Record<string, number>>;
}

export function summarizeLoad(sample: LoadSample): LoadSummary {
  const non2xx = Object.entries(sample.statuses)
    .filter(([code]) => !code.startsWith('2'))
    .reduce((sum, [, n]) => sum + n, 0);
  return {
    deliveries: sample.answered2xx.length,
    perSecond: sample.seconds > 0 ? sample.answered2xx.length / sample.seconds : Number.NaN,
    p50Ms: percentile(sample.latenciesMs, 50),
    p99Ms: percentile(sample.latenciesMs, 99),
    errors: sample.errors,
    non2xx,
    statuses: sample.statuses,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Child processes
// ---------------------------------------------------------------------------------------------------------------

export interface ChildServer {
  readonly url: string;
  readonly child: ChildProcess;
  readonly logPath: string;
}

/** A loopback port free right now (Probot's Server takes `port || 3000`, so 0 cannot be passed through). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

export async function startChild(
  args: readonly string[],
  env: Record<string, string>,
  logPath: string,
  readyPath: string,
  readyTimeoutMs: number = READY_TIMEOUT_MS,
): Promise<ChildServer> {
  const port = await freePort();
  const url = `http://127.0.0.1:${String(port)}`;
  // The child logs to a file (JSON lines, what pino writes to stdout): no pipe for this process to drain.
  const fd = openSync(logPath, 'a');
  let child: ChildProcess;
  try {
    child = spawn(process.execPath, [...args], {
      cwd: ROOT,
      env: { ...env, PORT: String(port), HOST: '127.0.0.1' },
      stdio: ['ignore', fd, fd],
    });
  } finally {
    closeSync(fd);
  }
  const server = { url, child, logPath };
  const deadline = performance.now() + readyTimeoutMs;
  try {
    while (performance.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null) break;
      const ok = await fetch(`${url}${readyPath}`, { signal: AbortSignal.timeout(1000) }).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) return server;
      await sleep(100);
    }
    const tail = (await readFile(logPath, 'utf8').catch(() => '')).split('\n').slice(-10).join('\n');
    throw new Error(`${args.join(' ')} did not answer ${readyPath} (exit ${String(child.exitCode)}):\n${tail}`);
  } catch (error) {
    await stopChild(server);
    throw error;
  }
}

/** SIGTERM, then SIGKILL after the grace period; resolves once the process is gone, with how it went. */
export async function stopChild(server: ChildServer): Promise<'exited' | 'killed' | 'gone'> {
  const { child } = server;
  if (child.exitCode !== null || child.signalCode !== null) return 'gone';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const graceful = await Promise.race([exited.then(() => true), sleep(STOP_GRACE_MS).then(() => false)]);
  if (graceful) return 'exited';
  child.kill('SIGKILL');
  await exited;
  return 'killed';
}

let clockTicks: Promise<number> | undefined;
/** USER_HZ for /proc/<pid>/stat (100 on Linux unless `getconf CLK_TCK` says otherwise). */
function readClockTicks(): Promise<number> {
  clockTicks ??= promisify(execFile)('getconf', ['CLK_TCK']).then(
    ({ stdout }) => Number(stdout.trim()) || 100,
    () => 100,
  );
  return clockTicks;
}

/** CPU time (user + system) of a process so far, ms, from /proc (Linux); undefined elsewhere. */
async function readProcessCpuMs(pid: number | undefined): Promise<number | undefined> {
  if (pid === undefined) return undefined;
  try {
    const stat = await readFile(`/proc/${String(pid)}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces), from field 3 (state): utime is 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / (await readClockTicks());
  } catch {
    return undefined;
  }
}

/** Peak resident set size of a process so far (VmHWM), bytes; undefined where /proc has no such line. */
async function readPeakRss(pid: number | undefined): Promise<number | undefined> {
  if (pid === undefined) return undefined;
  try {
    const status = await readFile(`/proc/${String(pid)}/status`, 'utf8');
    const kb = /^VmHWM:\s+(\d+) kB$/m.exec(status)?.[1];
    return kb === undefined ? undefined : Number(kb) * 1024;
  } catch {
    return undefined;
  }
}

/**
 * Reads a pino log file (JSON lines) as it grows, only what is new on each call: warn and error lines, and the
 * intake's `push planned` line (src/intake/intake.ts: written once a push's runs are in the store, with the delivery id,
 * the runs it created and the invalid workflow files).
 */
export class LogCounter {
  #offset = 0;
  #partial = '';
  readonly #path: string;
  readonly counts = { warn: 0, error: 0, invalid: 0, finished: 0 };
  /** Runs created per delivery id, summed over its `push planned` lines. */
  readonly planned = new Map<string, number>();

  constructor(path: string) {
    this.#path = path;
  }

  async update(): Promise<void> {
    const file = await open(this.#path, 'r');
    try {
      for (;;) {
        const buffer = Buffer.alloc(1 << 20);
        const { bytesRead } = await file.read(buffer, 0, buffer.length, this.#offset);
        if (bytesRead === 0) break;
        this.#offset += bytesRead;
        const lines = (this.#partial + buffer.subarray(0, bytesRead).toString('utf8')).split('\n');
        this.#partial = lines.pop() ?? '';
        for (const line of lines) this.#count(line);
      }
    } finally {
      await file.close();
    }
  }

  #count(line: string): void {
    if (!line.startsWith('{')) return;
    let entry: Record<string, unknown>;
    try {
      entry = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    // pino's numeric levels: 40 warn, 50 error, 60 fatal.
    if (typeof entry['level'] === 'number' && entry['level'] >= 50) this.counts.error++;
    else if (entry['level'] === 40) this.counts.warn++;
    // src/orchestrator.ts, once per run that reaches its end.
    if (entry['msg'] === 'run finished') this.counts.finished++;
    if (entry['msg'] === 'push planned' && typeof entry['deliveryId'] === 'string') {
      const id = entry['deliveryId'];
      this.planned.set(id, (this.planned.get(id) ?? 0) + (typeof entry['runs'] === 'number' ? entry['runs'] : 0));
      if (typeof entry['invalid'] === 'number') this.counts.invalid += entry['invalid'];
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Cases
// ---------------------------------------------------------------------------------------------------------------

export const SERVE_CASES = {
  bare: { id: 'bare', server: 'bare Probot (empty handler)', label: 'any push', workflows: [] },
  none: { id: 'none', server: 'spotcheck serve', label: '(a) matches no workflow', workflows: [] },
  one: { id: 'one', server: 'spotcheck serve', label: '(b) matches one workflow', workflows: [BENCH_WORKFLOW] },
} as const satisfies Record<string, ServeCase>;

export interface ServeCase {
  readonly id: string;
  readonly server: string;
  readonly label: string;
  readonly workflows: readonly StandInWorkflow[];
}

/** What a spotcheck case left behind once its child was stopped. */
export interface Processing {
  /** Deliveries answered 2xx in warm-up and measured phases together (every one of them must be planned). */
  readonly accepted: number;
  /** Deliveries sent whose answer the end of a load phase cut off (they may or may not have been processed). */
  readonly cutOff: number;
  /** Runs in the store after the child stopped. */
  readonly runs: number;
  readonly runsByStatus: Readonly<Record<string, number>>;
  /** Runs the intake says it created (the sum of `push planned` lines' `runs`). */
  readonly runsPlanned: number;
  /** Accepted deliveries that did not create exactly one run. */
  readonly acceptedNotPlannedOnce: number;
  /** Planned deliveries whose id the bench never sent. */
  readonly foreignPlanned: number;
  /** Workflow files the intake found invalid (the bench's workflow must be valid). */
  readonly invalidFiles: number;
  /** Time from the end of the load until every accepted delivery was processed, ms; undefined: not in time. */
  readonly drainMs: number | undefined;
  /** Time from the end of the load until every run created had finished, ms; undefined: not in time. */
  readonly finishMs: number | undefined;
  readonly requests: Readonly<Record<StandInEndpoint, number>>;
  readonly stopped: 'exited' | 'killed' | 'gone';
}

export interface CaseResult {
  readonly case: ServeCase;
  readonly load: LoadSummary;
  /** Server CPU time (user + system) over the measured phase per delivery answered, ms. */
  readonly cpuMsPerDelivery: number | undefined;
  readonly peakRss: number | undefined;
  readonly log: { readonly warn: number; readonly error: number };
  readonly processing?: Processing;
}

/** The push delivery every case sends: GitHub's own example, on `main`, with a `before` to compare. */
export function benchDelivery(): Delivery {
  const payload = githubExample('push', (p) => p['ref'] === 'refs/heads/master' && p['installation'] !== undefined);
  Object.assign(payload, {
    ref: 'refs/heads/main',
    before: '1'.repeat(40),
    after: '2'.repeat(40),
    deleted: false,
    created: false,
  });
  (payload['installation'] as { id: number }).id = INSTALLATION;
  const body = JSON.stringify(payload);
  return { event: 'push', body, signature: signGitHubBody(SECRET, body) };
}

/** The environment each child gets: nothing of this process's own (no credentials, no AWS settings). */
export function baseEnv(privateKey: string): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    HOME: tmpdir(),
    NODE_ENV: 'production',
    LOG_LEVEL: 'info',
    APP_ID: '1',
    PRIVATE_KEY: privateKey,
    WEBHOOK_SECRET: SECRET,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
}

/**
 * The bare app: Probot's own `Server` (what `probot run` starts: webhook middleware, ping, request logging with
 * pino-http) loading an app function that registers nothing, logging JSON at info like spotcheck.
 */
const BARE_PROBOT = `
import pino from 'pino';
import { Probot, Server } from 'probot';
const server = new Server({
  Probot: Probot.defaults({
    appId: process.env.APP_ID,
    privateKey: process.env.PRIVATE_KEY,
    secret: process.env.WEBHOOK_SECRET,
  }),
  port: Number(process.env.PORT),
  host: process.env.HOST,
  log: pino({ level: process.env.LOG_LEVEL, name: 'probot' }),
});
await server.load(() => {});
await server.start();
const stop = () => server.stop().finally(() => process.exit(0));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
`;

async function measureCase(
  serveCase: ServeCase,
  context: BenchContext,
  shared: { readonly privateKey: string; readonly delivery: Delivery; readonly runTag: string },
): Promise<CaseResult> {
  const dir = await mkdtemp(join(tmpdir(), `spotcheck-bench-serve-${serveCase.id}-`));
  let standIn: GitHubStandIn | undefined;
  let server: ChildServer | undefined;
  try {
    const env = baseEnv(shared.privateKey);
    const logPath = join(dir, 'server.log');
    if (serveCase.id === 'bare') {
      server = await startChild(['--input-type=module', '--eval', BARE_PROBOT], env, logPath, '/ping');
    } else {
      standIn = await startGitHubStandIn({ workflows: serveCase.workflows, appSlug: APP_SLUG });
      await writeFile(join(dir, 'spotcheck.yml'), SPOTCHECK_CONFIG);
      server = await startChild(
        [join(ROOT, 'bin/spotcheck.js'), 'serve'],
        {
          ...env,
          GHE_HOST: standIn.host,
          GHE_PROTOCOL: 'http',
          APP_SLUG,
          SPOTCHECK_CONFIG: join(dir, 'spotcheck.yml'),
          SPOTCHECK_DATA_DIR: join(dir, 'data'),
          PUBLIC_URL: 'http://127.0.0.1:1',
        },
        logPath,
        '/healthz',
      );
    }
    const pid = server.child.pid;
    const drive = (phase: string, seconds: number) =>
      driveDeliveries({
        url: server!.url,
        delivery: shared.delivery,
        idPrefix: `${shared.runTag}-${serveCase.id}-${phase}`,
        seconds,
        connections: SERVE_LOAD.connections,
      });
    context.log(`serve: ${serveCase.server}, ${serveCase.label}: warm-up ${String(SERVE_LOAD.warmupSeconds)} s`);
    const cpu0 = await readProcessCpuMs(pid);
    const warmup = await drive('w', SERVE_LOAD.warmupSeconds);
    const measured = await drive('m', SERVE_LOAD.seconds);
    let cpu1 = await readProcessCpuMs(pid);
    const load = summarizeLoad(measured);
    context.log(
      `serve: ${serveCase.server}, ${serveCase.label}: ${formatNumber(load.perSecond)} deliveries/s, ` +
        `p50 ${formatNumber(load.p50Ms, 2)} ms, p99 ${formatNumber(load.p99Ms, 2)} ms, ` +
        `${String(load.errors)} errors, ${String(load.non2xx)} non-2xx`,
    );
    const logs = new LogCounter(logPath);
    let processing: Processing | undefined;
    let peakRss: number | undefined;
    if (standIn !== undefined) {
      const accepted = [...warmup.answered2xx, ...measured.answered2xx];
      const sent = [...warmup.sent, ...measured.sent];
      const counter = standIn;
      const drainStart = performance.now();
      const deadline = drainStart + DRAIN_TIMEOUT_MS;
      // Planned when every accepted delivery got that far: (b) logs "push planned" once its run is stored; (a)
      // stops after the listing, so the listing count says the same. Cut-off deliveries may still arrive: quiet.
      const plannedAt = await waitUntil(
        async () => {
          await logs.update();
          const count = serveCase.workflows.length > 0 ? logs.planned.size : counter.counts().listing;
          return { count, target: accepted.length };
        },
        DRAIN_QUIET_MS,
        deadline,
      );
      // Then every run created reaches its end (the orchestrator logs "run finished"): the launch of a skipped
      // order is not awaited by the intake, so a planned run may still be running.
      const finishedAt =
        plannedAt === undefined || serveCase.workflows.length === 0
          ? undefined
          : await waitUntil(
              async () => {
                await logs.update();
                return { count: logs.counts.finished, target: sum(logs.planned.values()) };
              },
              0,
              Math.min(deadline, plannedAt + FINISH_WAIT_MS),
            );
      const drainMs = plannedAt === undefined ? undefined : plannedAt - drainStart;
      const finishMs = finishedAt === undefined ? undefined : finishedAt - drainStart;
      cpu1 = await readProcessCpuMs(pid);
      context.log(
        `serve: ${serveCase.label}: ` +
          (drainMs === undefined ? 'processing did not finish' : `planned ${formatNumber(drainMs)} ms after the load`) +
          (finishMs === undefined ? '' : `, runs finished ${formatNumber(finishMs)} ms after`),
      );
      peakRss = await readPeakRss(pid);
      const stopped = await stopChild(server);
      const requests = standIn.counts();
      await logs.update();
      const sentIds = new Set(sent);
      const { runIds, ...stored } = await readStoredRuns(join(dir, 'data', 'db'));
      // Run ids are deterministic (forge, host, delivery id, workflow file): the store itself says whether every
      // accepted delivery made its run and nothing else was made; log lines can be lost when the server is killed.
      const expected = new Map(
        sent.flatMap((id) => serveCase.workflows.map((w) => [runIdFor(BENCH_INSTALL, id, w.path), id] as const)),
      );
      processing = {
        accepted: accepted.length,
        cutOff: sent.length - answered(warmup) - answered(measured),
        ...stored,
        runsPlanned: sum(logs.planned.values()),
        acceptedNotPlannedOnce: accepted.filter(
          (id) => !serveCase.workflows.every((w) => runIds.has(runIdFor(BENCH_INSTALL, id, w.path))),
        ).length,
        foreignPlanned: [...runIds].filter((runId) => !expected.has(runId) || !sentIds.has(expected.get(runId)!))
          .length,
        invalidFiles: logs.counts.invalid,
        drainMs,
        finishMs,
        requests,
        stopped,
      };
    } else {
      peakRss = await readPeakRss(pid);
      await stopChild(server);
    }
    await logs.update();
    const deliveries = warmup.answered2xx.length + measured.answered2xx.length;
    const cpuMsPerDelivery =
      cpu0 !== undefined && cpu1 !== undefined && deliveries > 0 ? (cpu1 - cpu0) / deliveries : undefined;
    return {
      case: serveCase,
      load,
      cpuMsPerDelivery,
      peakRss,
      log: { warn: logs.counts.warn, error: logs.counts.error },
      ...(processing === undefined ? {} : { processing }),
    };
  } finally {
    if (server !== undefined) await stopChild(server);
    await standIn?.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Deliveries that got an answer, whatever its status. */
function answered(sample: LoadSample): number {
  return Object.values(sample.statuses).reduce((sum, n) => sum + n, 0);
}

function sum(values: Iterable<number>): number {
  let total = 0;
  for (const v of values) total += v;
  return total;
}

/**
 * Polls until `count` reaches `target` and has then not moved for `quietMs`; the time (performance.now()) the
 * count last moved, or undefined when `deadline` passes first.
 */
async function waitUntil(
  poll: () => Promise<{ readonly count: number; readonly target: number }>,
  quietMs: number,
  deadline: number,
): Promise<number | undefined> {
  let last = -1;
  let since = performance.now();
  while (performance.now() < deadline) {
    const now = performance.now();
    const { count, target } = await poll();
    if (count !== last) {
      last = count;
      since = now;
    }
    if (count >= target && now - since >= quietMs) return since;
    await sleep(100);
  }
  return undefined;
}

/** Opens the stopped server's embedded store and counts its runs by status. */
async function readStoredRuns(
  dbDir: string,
): Promise<Pick<Processing, 'runs' | 'runsByStatus'> & { readonly runIds: ReadonlySet<string> }> {
  const embedded = await startEmbeddedStore({ dir: dbDir });
  try {
    const runs = await embedded.store.listRuns({ limit: 10_000_000 });
    const runsByStatus: Record<string, number> = {};
    for (const run of runs) runsByStatus[run.status] = (runsByStatus[run.status] ?? 0) + 1;
    return { runs: runs.length, runsByStatus, runIds: new Set(runs.map((r) => r.runId)) };
  } finally {
    await embedded.close();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Criteria and rendering (pure)
// ---------------------------------------------------------------------------------------------------------------

/** Every criterion that failed, one line each; empty when all held. */
export function judgeServe(results: readonly CaseResult[]): string[] {
  const failures: string[] = [];
  for (const r of results) {
    const name = `${r.case.server}, ${r.case.label}`;
    if (r.load.deliveries === 0) failures.push(`${name}: no delivery was answered 2xx`);
    if (r.load.errors > 0 || r.load.non2xx > 0)
      failures.push(`${name}: ${String(r.load.errors)} errors, ${String(r.load.non2xx)} non-2xx answers`);
    if (!(r.load.p99Ms < GITHUB_DELIVERY_TIMEOUT_MS))
      failures.push(`${name}: p99 ${formatNumber(r.load.p99Ms)} ms is not under GitHub's 10 s delivery timeout`);
    const p = r.processing;
    if (p === undefined) continue;
    // spotcheck answers 202 to a new delivery and 200 only to a duplicate: a 200 here means de-duplication hit.
    const duplicates = r.load.statuses['200'] ?? 0;
    if (duplicates > 0) failures.push(`${name}: ${String(duplicates)} deliveries answered as duplicates`);
    if (p.drainMs === undefined)
      failures.push(`${name}: processing of accepted deliveries did not finish within ${String(DRAIN_TIMEOUT_MS)} ms`);
    if (p.requests.unexpected > 0)
      failures.push(`${name}: ${String(p.requests.unexpected)} requests to endpoints the stand-in does not serve`);
    if (p.invalidFiles > 0) failures.push(`${name}: the intake found the bench's workflow invalid`);
    const expectRuns = r.case.workflows.length > 0;
    if (expectRuns && p.acceptedNotPlannedOnce > 0)
      failures.push(
        `${name}: ${String(p.acceptedNotPlannedOnce)} of ${String(p.accepted)} accepted deliveries did not ` +
          'create exactly one run',
      );
    if (expectRuns && p.foreignPlanned > 0)
      failures.push(`${name}: the store holds ${String(p.foreignPlanned)} runs of no delivery the bench sent`);
    if (!expectRuns && p.runs > 0) failures.push(`${name}: ${String(p.runs)} runs stored for pushes that match none`);
  }
  return failures;
}

export function renderServeSection(results: readonly CaseResult[], failures: readonly string[]): string {
  const bare = results.find((r) => r.case.id === 'bare');
  const ratio = (value: number, base: number | undefined): string =>
    base === undefined || !(base > 0) ? 'n/a' : `${formatNumber(value / base, 2)}×`;
  const main = renderTable(
    [
      { header: 'server' },
      { header: 'case' },
      { header: 'deliveries/s', align: 'right' },
      { header: 'p50 ms', align: 'right' },
      { header: 'p99 ms', align: 'right' },
      { header: 'errors / non-2xx', align: 'right' },
      { header: 'deliveries/s vs bare', align: 'right' },
      { header: 'p99 vs bare', align: 'right' },
      { header: 'server CPU ms/delivery', align: 'right' },
      { header: 'peak RSS', align: 'right' },
      { header: 'log warn / error', align: 'right' },
    ],
    results.map((r) => [
      r.case.server,
      r.case.label,
      formatNumber(r.load.perSecond),
      formatNumber(r.load.p50Ms, 2),
      formatNumber(r.load.p99Ms, 2),
      `${String(r.load.errors)} / ${String(r.load.non2xx)}`,
      r === bare ? '1.00×' : ratio(r.load.perSecond, bare?.load.perSecond),
      r === bare ? '1.00×' : ratio(r.load.p99Ms, bare?.load.p99Ms),
      r.cpuMsPerDelivery === undefined ? 'n/a' : formatNumber(r.cpuMsPerDelivery, 3),
      r.peakRss === undefined ? 'n/a' : formatMiB(r.peakRss),
      `${String(r.log.warn)} / ${String(r.log.error)}`,
    ]),
  );
  const withProcessing = results.filter((r): r is CaseResult & { processing: Processing } => !!r.processing);
  const processing = renderTable(
    [
      { header: 'spotcheck case' },
      { header: 'accepted (202)', align: 'right' },
      { header: 'runs in store', align: 'right' },
      { header: 'runs created', align: 'right' },
      { header: 'accepted, not exactly one run', align: 'right' },
      { header: 'answer cut off', align: 'right' },
      { header: 'all processed', align: 'right' },
      { header: 'all runs finished', align: 'right' },
      ...STAND_IN_ENDPOINTS.map((e) => ({ header: `API ${e}`, align: 'right' as const })),
    ],
    withProcessing.map((r) => {
      const p = r.processing;
      const byStatus = Object.entries(p.runsByStatus)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([s, n]) => `${formatNumber(n)} ${s}`)
        .join(', ');
      const runs = r.case.workflows.length > 0;
      const after = (ms: number | undefined): string =>
        ms === undefined ? 'not in time' : `+${formatNumber(ms / 1000, 1)} s`;
      return [
        r.case.label,
        formatNumber(p.accepted),
        `${formatNumber(p.runs)}${byStatus ? ` (${byStatus})` : ''}`,
        runs ? formatNumber(p.runsPlanned) : '—',
        runs ? formatNumber(p.acceptedNotPlannedOnce) : '—',
        formatNumber(p.cutOff),
        after(p.drainMs),
        runs ? after(p.finishMs) : '—',
        ...STAND_IN_ENDPOINTS.map((e) => formatNumber(p.requests[e])),
      ];
    }),
  );
  const ratios = results
    .filter((r) => r !== bare && bare !== undefined)
    .map(
      (r) =>
        `- **${r.case.label}**: spotcheck answers ${formatNumber(r.load.perSecond)} deliveries/s, ` +
        `${ratio(r.load.perSecond, bare?.load.perSecond)} of the bare app's ${formatNumber(bare?.load.perSecond ?? Number.NaN)}; ` +
        `p50 ${ratio(r.load.p50Ms, bare?.load.p50Ms)} and p99 ${ratio(r.load.p99Ms, bare?.load.p99Ms)} the bare app's.`,
    );
  const criteria =
    failures.length === 0
      ? [
          "- ✅ every delivery answered 2xx (no errors, no timeouts), p99 under GitHub's 10 s delivery timeout",
          '- ✅ spotcheck answered every delivery 202 (no delivery taken for a duplicate)',
          '- ✅ (b): every accepted delivery created exactly one run, and the store holds exactly the runs created',
          `- ✅ every accepted delivery was processed within ${String(DRAIN_TIMEOUT_MS / 1000)} s of the end of the load`,
          '- ✅ (a): no run stored; the GitHub stand-in saw no request it does not serve',
        ]
      : failures.map((f) => `- ❌ ${f}`);
  return [
    "Signed `push` deliveries (GitHub's example payload from `@octokit/webhooks-examples`, " +
      'on `main`, the same body and `X-Hub-Signature-256` for ' +
      'every delivery, a unique `X-GitHub-Delivery` each) POSTed by autocannon 8 from the bench process over ' +
      `${String(SERVE_LOAD.connections)} keep-alive connections for ${String(SERVE_LOAD.seconds)} s after a ` +
      `${String(SERVE_LOAD.warmupSeconds)} s warm-up, one server at a time. Each server is a child process started ` +
      'as users start it, logging JSON at `info` to a file: `node bin/spotcheck.js serve` (embedded store on a ' +
      "temporary folder, GHE_HOST/GHE_PROTOCOL=http pointing at the GitHub API stand-in), and Probot's own `Server` " +
      'with an app that registers no handler (`probot run`), which verifies the same signature and answers 200.',
    '',
    '**What the latency is.** The answer: spotcheck verifies the signature, claims the delivery id in its store, ' +
      'persists the intent and answers 202; planning runs after the answer (GitHub wants a 2xx within 10 s). So ' +
      'the GitHub stand-in (installation token, workflow listing, workflow file, compare, statuses) is not part of ' +
      'the answer latency, but the background work competes for the same two cores while the load runs, which is ' +
      'why (b) answers slower than (a). Latency is per answer, with hrtime resolution; deliveries/s counts 2xx ' +
      'answers over the measured phase.',
    '',
    `**Why \`skip\`.** (b)'s workflow has one job with \`runs-on: ${SKIP_LABEL}\`, a label routed to \`skip\` in ` +
      'the SPOTCHECK_CONFIG written for the bench: the run is planned, stored, started and reported like any ' +
      'other and its order ends skipped, without a shell step. The bench measures the bot; a local step would ' +
      'measure process spawning. A skipped order still takes a `maxConcurrentOrders` slot when ' +
      'dispatched (the default cap, 4, is kept), so at this rate many runs wait in the queue behind the cap after ' +
      'they are planned: the table below says how many had ended when the server was stopped.',
    '',
    main,
    '',
    "Server CPU ms/delivery is the child's CPU time (user + system, from /proc) from the start of the warm-up to " +
      'the end of the load (bare Probot) or to the end of processing (spotcheck), divided by the deliveries it ' +
      'answered 2xx: everything a delivery costs the server, less sensitive than deliveries/s to what else the ' +
      "machine runs. For spotcheck it includes the embedded store (dynalite and LevelDB, in the server's process, " +
      'reached through the AWS SDK over loopback HTTP), the inbox, and for (b) planning and the run. Peak RSS is ' +
      "the child's high-water mark (VmHWM).",
    '',
    ...ratios,
    '',
    '### Processing (spotcheck)',
    '',
    'After the load, the bench waits until every accepted delivery is processed ((b): its "push planned" log line, ' +
      'written once its run is stored, with its delivery id and the runs it created; (a): its workflow listing) ' +
      'and, for (b), until every run created has logged "run finished" (times are from the end of the load), then ' +
      'stops the server and counts the runs in its store. "Runs created" sums the intake\'s log lines; "accepted, ' +
      'not exactly one run" counts accepted delivery ids whose lines do not add up to one run. Accepted counts warm-up and measured ' +
      'phases; "answer cut off" are deliveries in flight when a phase\'s time ran out (sent, no answer received), ' +
      'which the server may still have processed. API columns are requests to the stand-in: commit statuses are few ' +
      "because Octokit's throttling paces writes to one a second (GitHub's secondary rate limits), so status " +
      'writes were still queued when the server was stopped.',
    '',
    processing,
    '',
    '### Criteria',
    '',
    ...criteria,
  ].join('\n');
}

export const serveBenchmark: Benchmark = {
  name: 'serve',
  async run(context: BenchContext): Promise<BenchSection> {
    const started = performance.now();
    const { privateKey } = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
      publicKeyEncoding: { type: 'spki', format: 'pem' },
    });
    const shared = { privateKey, delivery: benchDelivery(), runTag: randomUUID().slice(0, 8) };
    const results: CaseResult[] = [];
    for (const serveCase of [SERVE_CASES.bare, SERVE_CASES.none, SERVE_CASES.one]) {
      results.push(await measureCase(serveCase, context, shared));
    }
    const failures = judgeServe(results);
    context.log(`serve: done in ${formatNumber((performance.now() - started) / 1000, 1)} s`);
    return { title: 'Webhook server under load', markdown: renderServeSection(results, failures), failures };
  },
};
