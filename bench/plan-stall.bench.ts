/**
 * The server while a hostile workflow file is parsed (issue 16, item 3: "webhooks are answered within 1 s while a
 * 512 KiB hostile file is being parsed"). `spotcheck serve` is started as users start it (serve.bench.ts), its
 * GitHub is the loopback stand-in, and its one workflow file is the costliest 512 KiB file found for the parser
 * (test/helpers/costly-workflow.ts). One push makes the server read and plan that file; as soon as the stand-in has
 * served the file, the bench sends a webhook and a health check every PROBE_INTERVAL_MS and times each answer. Twice:
 * planning in a plan worker (the default; src/intake/plan-worker-pool.ts) and in the server's own thread
 * (`limits.planWorkers: 0`, what every delivery met before the pool), side by side.
 *
 * The probe webhooks are pushes of a deleted branch: signed, verified, claimed and answered like any delivery, but
 * with nothing to plan, so they measure the answer and add no parsing of their own.
 *
 * Shapes tried for the costly file, each 512 KiB and within every parser bound, parsed and planned in one process
 * (CPU time on the 2-core VM under other load, one run each): a 4,096-combination matrix cut to 256 orders by
 * `exclude` entries that follow 241 fillers aliasing ~170 KB strings, the file used: the planner upper-cases each
 * filler once per combination (15 s of CPU at 64 KiB, linear in the size, about 2 minutes at 512 KiB); one block map
 * of ~57,000 keys 2.9 s (32 s before the reader found duplicate keys itself instead of yaml's quadratic check;
 * test/security/yaml-many-keys.test.ts); before that fix, a flow map of ~35,000 keys 13.5 s, 22,000 steps 1.7 s,
 * 7,000 jobs 2.4 s, 512 KiB of blank lines 1.9 s, nesting 60 deep 0.5 s, one 512 KiB line 0.4 s, one long expression
 * 0.04 s (wall time).
 */
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { signGitHubBody } from '../test/helpers/webhook-examples.ts';
import { COSTLY_WORKFLOW_PATH, costlyWorkflow } from '../test/helpers/costly-workflow.ts';
import { formatNumber, renderTable } from './bench-report.ts';
import type { BenchContext, Benchmark } from './benchmark.ts';
import { startGitHubStandIn, type GitHubStandIn } from './github-stand-in.ts';
import {
  APP_SLUG,
  baseEnv,
  benchDelivery,
  LogCounter,
  percentile,
  SECRET,
  SKIP_LABEL,
  startChild,
  stopChild,
  type ChildServer,
  type Delivery,
} from './serve.bench.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Webhooks and health checks sent while the file is parsed: one of each per interval. */
export const STALL_PROBES = { count: 20, intervalMs: 100 } as const;
/** The issue's criterion for a webhook's answer while a hostile file is parsed. */
const ANSWER_CRITERION_MS = 1000;
/** A probe with no answer by then counts as unanswered (well past any stall the in-process case shows). */
const PROBE_TIMEOUT_MS = 600_000;
/** How long the bench waits for the server to fetch the file, and then for planning to end. */
const FETCH_TIMEOUT_MS = 60_000;
const PLAN_TIMEOUT_MS = 600_000;
/** Longer than serve.bench.ts's: this bench runs its three servers one after another on a machine that may be busy. */
const READY_TIMEOUT_MS = 60_000;

export interface StallCase {
  readonly id: string;
  readonly label: string;
  /** The `limits:` lines of the server's config. */
  readonly limits: string;
  /** Whether the costly push is sent first; without it, the probes measure an idle server (the baseline). */
  readonly costly: boolean;
}

export const STALL_CASES: readonly StallCase[] = [
  { id: 'idle', label: 'nothing parsed (baseline)', limits: 'planWorkers: 1', costly: false },
  { id: 'worker', label: 'in a plan worker (the default: planSeconds 10)', limits: 'planWorkers: 1', costly: true },
  { id: 'in-process', label: "in the server's thread (planWorkers: 0)", limits: 'planWorkers: 0', costly: true },
];

export interface ProbeSummary {
  readonly sent: number;
  /** Answered 2xx. */
  readonly answered: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

export interface StallResult {
  readonly case: StallCase;
  readonly webhooks: ProbeSummary;
  readonly health: ProbeSummary;
  /** From the file served to the push's planning ending, ms; undefined: not within PLAN_TIMEOUT_MS. */
  readonly planMs: number | undefined;
  /** Workflow files the server reported invalid for the push (the costly file stopped at the budget: 1). */
  readonly invalid: number;
  /** Runs the push started (the costly file planned: 1). */
  readonly runs: number;
}

interface Answer {
  readonly ok: boolean;
  readonly ms: number;
}

function summarize(answers: readonly Answer[]): ProbeSummary {
  const ms = answers.filter((a) => a.ok).map((a) => a.ms);
  return {
    sent: answers.length,
    answered: ms.length,
    p50Ms: percentile(ms, 50),
    p99Ms: percentile(ms, 99),
    maxMs: ms.length === answers.length ? Math.max(...ms) : Number.POSITIVE_INFINITY,
  };
}

async function timed(request: () => Promise<Response>): Promise<Answer> {
  const started = performance.now();
  try {
    const res = await request();
    await res.arrayBuffer();
    return { ok: res.ok, ms: performance.now() - started };
  } catch {
    return { ok: false, ms: performance.now() - started };
  }
}

function postDelivery(url: string, delivery: Delivery, id: string): Promise<Response> {
  return fetch(`${url}/api/github/webhooks`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'user-agent': 'GitHub-Hookshot/bench',
      'x-github-event': delivery.event,
      'x-github-delivery': id,
      'x-github-hook-id': '1',
      'x-hub-signature-256': delivery.signature,
    },
    body: delivery.body,
    signal: AbortSignal.timeout(PROBE_TIMEOUT_MS),
  });
}

/** The bench's push, of a deleted branch: answered like any delivery, nothing planned. */
function deletedBranchDelivery(): Delivery {
  const payload = JSON.parse(benchDelivery().body) as Record<string, unknown>;
  Object.assign(payload, { deleted: true, after: '0'.repeat(40) });
  const body = JSON.stringify(payload);
  return { event: 'push', body, signature: signGitHubBody(SECRET, body) };
}

async function waitFor(condition: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (await condition()) return true;
    await sleep(50);
  }
  return false;
}

/** Sends the push that makes the server read the costly file; resolves when the server has fetched it. */
async function pushCostly(url: string, pushId: string, standIn: GitHubStandIn): Promise<number> {
  const accepted = await postDelivery(url, benchDelivery(), pushId);
  if (accepted.status !== 202) throw new Error(`the costly push was answered ${String(accepted.status)}`);
  if (!(await waitFor(() => Promise.resolve(standIn.counts().file > 0), FETCH_TIMEOUT_MS)))
    throw new Error('the server did not fetch the workflow file');
  return performance.now();
}

async function measureStall(stallCase: StallCase, context: BenchContext, privateKey: string): Promise<StallResult> {
  const dir = await mkdtemp(join(tmpdir(), `spotcheck-bench-stall-${stallCase.id}-`));
  const tag = randomUUID().slice(0, 8);
  let standIn: GitHubStandIn | undefined;
  let server: ChildServer | undefined;
  try {
    standIn = await startGitHubStandIn({
      workflows: [{ path: COSTLY_WORKFLOW_PATH, text: costlyWorkflow(undefined, SKIP_LABEL) }],
      appSlug: APP_SLUG,
    });
    const config = `defaultRoutes: false\nroutes:\n  ${SKIP_LABEL}: skip\nlimits:\n  ${stallCase.limits}\n`;
    await writeFile(join(dir, 'spotcheck.yml'), config);
    const logPath = join(dir, 'server.log');
    server = await startChild(
      [join(ROOT, 'bin/spotcheck.js'), 'serve'],
      {
        ...baseEnv(privateKey),
        GHE_HOST: standIn.host,
        GHE_PROTOCOL: 'http',
        APP_SLUG,
        SPOTCHECK_CONFIG: join(dir, 'spotcheck.yml'),
        SPOTCHECK_DATA_DIR: join(dir, 'data'),
        PUBLIC_URL: 'http://127.0.0.1:1',
      },
      logPath,
      '/healthz',
      READY_TIMEOUT_MS,
    );
    const { url } = server;
    const pushId = `${tag}-costly`;
    const fetched = stallCase.costly ? await pushCostly(url, pushId, standIn) : performance.now();
    context.log(`plan-stall: ${stallCase.label}: probing`);

    const probe = deletedBranchDelivery();
    const webhooks: Promise<Answer>[] = [];
    const health: Promise<Answer>[] = [];
    for (let i = 0; i < STALL_PROBES.count; i++) {
      webhooks.push(timed(() => postDelivery(url, probe, `${tag}-probe-${String(i)}`)));
      health.push(timed(() => fetch(`${url}/healthz`, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) })));
      await sleep(STALL_PROBES.intervalMs);
    }
    const result = { webhooks: summarize(await Promise.all(webhooks)), health: summarize(await Promise.all(health)) };

    const logs = new LogCounter(logPath);
    let plannedAt: number | undefined;
    if (
      stallCase.costly &&
      (await waitFor(async () => {
        await logs.update();
        return logs.planned.has(pushId);
      }, PLAN_TIMEOUT_MS))
    )
      plannedAt = performance.now();
    context.log(
      `plan-stall: ${stallCase.label}: webhooks p99 ${formatNumber(result.webhooks.p99Ms)} ms, max ` +
        `${formatNumber(result.webhooks.maxMs)} ms; health max ${formatNumber(result.health.maxMs)} ms`,
    );
    return {
      case: stallCase,
      ...result,
      planMs: plannedAt === undefined ? undefined : plannedAt - fetched,
      invalid: logs.counts.invalid,
      runs: logs.planned.get(pushId) ?? 0,
    };
  } finally {
    if (server) await stopChild(server);
    await standIn?.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * The criteria, on the plan worker case: every webhook answered 2xx, the slowest within 1 s (the issue's); every
 * health check answered 2xx (their time is reported; on a loaded machine the baseline's are near 1 s too).
 */
export function judgeStall(results: readonly StallResult[]): string[] {
  const failures: string[] = [];
  const worker = results.find((r) => r.case.id === 'worker');
  if (worker === undefined) return ['no plan worker case was measured'];
  for (const [name, probe] of [
    ['webhooks', worker.webhooks],
    ['health checks', worker.health],
  ] as const) {
    if (probe.answered < probe.sent)
      failures.push(`${String(probe.sent - probe.answered)} of ${String(probe.sent)} ${name} were not answered 2xx`);
  }
  if (worker.webhooks.answered === worker.webhooks.sent && worker.webhooks.maxMs > ANSWER_CRITERION_MS)
    failures.push(`the slowest webhook took ${formatNumber(worker.webhooks.maxMs)} ms (criterion: 1 s)`);
  return failures;
}

export function renderStallSection(results: readonly StallResult[], failures: readonly string[]): string {
  const ms = (value: number): string => (Number.isFinite(value) ? `${formatNumber(value)} ms` : 'n/a');
  const rows = results.flatMap((r) =>
    (
      [
        ['webhooks', r.webhooks],
        ['health checks', r.health],
      ] as const
    ).map(([name, p]) => [
      r.case.label,
      name,
      `${String(p.answered)}/${String(p.sent)}`,
      ms(p.p50Ms),
      ms(p.p99Ms),
      ms(p.maxMs),
      p.answered === p.sent && p.maxMs <= ANSWER_CRITERION_MS ? 'yes' : 'no',
    ]),
  );
  const outcomes = results
    .filter((r) => r.case.costly)
    .map(
      (r) =>
        `- ${r.case.label}: the push's planning ended ${r.planMs === undefined ? 'not within the wait' : `${formatNumber(r.planMs / 1000, 1)} s after the file was fetched`}` +
        ` (${r.invalid > 0 ? 'the file stopped at the time budget, its status failed' : `${String(r.runs)} run started`}).`,
    );
  return [
    `One push whose workflow file is the costliest 512 KiB file found for the parser and planner (a 4,096-combination matrix whose exclude entries alias ~100 KB strings); while ` +
      `it is parsed, ${String(STALL_PROBES.count)} webhooks (pushes of a deleted branch) and ${String(STALL_PROBES.count)} ` +
      `health checks, one of each every ${String(STALL_PROBES.intervalMs)} ms, each timed to its answer. ` +
      `\`spotcheck serve\` as a child process, its GitHub a stand-in on loopback. The baseline sends the same probes ` +
      `to a server that parses nothing: on a loaded machine, the part of an answer time that is not the parse's.`,
    '',
    renderTable(
      [
        { header: 'planning' },
        { header: 'probe' },
        { header: 'answered', align: 'right' },
        { header: 'p50', align: 'right' },
        { header: 'p99', align: 'right' },
        { header: 'max', align: 'right' },
        { header: 'all within 1 s' },
      ],
      rows,
    ),
    '',
    ...outcomes,
    '',
    '### Criteria',
    '',
    failures.length === 0
      ? '- With plan workers, every webhook was answered within 1 s and every health check answered while the file ' +
        'was parsed: held.'
      : failures.map((f) => `- FAILED: ${f}`).join('\n'),
  ].join('\n');
}

export const planStallBenchmark: Benchmark = {
  name: 'plan-stall',
  async run(context) {
    const { privateKey } = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
      publicKeyEncoding: { type: 'spki', format: 'pem' },
    });
    const results: StallResult[] = [];
    for (const stallCase of STALL_CASES) results.push(await measureStall(stallCase, context, privateKey));
    const failures = judgeStall(results);
    return {
      title: 'Answers while a hostile workflow file is parsed',
      markdown: renderStallSection(results, failures),
      failures,
    };
  },
};
