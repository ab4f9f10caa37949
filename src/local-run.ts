/**
 * `spotcheck run` and `spotcheck demo`: the bot's main job on one machine — a local git repository's workflows,
 * the embedded store, the local runner, live progress, and the sticky comment the bot would post.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { renderComment, type RunView } from './core/comment.ts';
import { normaliseRef, shortRef } from './core/github-context.ts';
import { planWorkflows } from './core/plan-workflows.ts';
import { renderProgressTable, renderTransitionLine } from './core/progress.ts';
import { formatDiagnostic } from './core/workflow-parser.ts';
import type { EventName, OrderRecord, RunRecord, TriggerEvent } from './core/types.ts';
import { defaultConfig, type OperatorConfig } from './config.ts';
import { readChangedFiles, readCurrentRef, readRepoRoot, readWorkflowsAt, resolveCommit } from './local-repo.ts';
import { Orchestrator, type Reporter } from './orchestrator.ts';
import { startEmbeddedStore } from './store/embedded.ts';
import { createLocalRunner, logPath } from '../runners/local.ts';
import { buildOrderJob } from '../runners/order-job.ts';

export interface LocalRunOptions {
  readonly dir: string;
  readonly event: EventName;
  readonly ref?: string;
  readonly sha?: string;
  readonly baseRef?: string;
  readonly config?: OperatorConfig;
  readonly out: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  readonly err: NodeJS.WritableStream;
  /** Steps see this environment plus the GITHUB_* variables (the caller's own, as `make` would pass it). */
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly logger: Logger;
  readonly signal?: AbortSignal;
}

/** Exit codes: 0 the run succeeded (or nothing matched), 1 it failed, 2 invalid input. */
export async function runLocal(options: LocalRunOptions): Promise<number> {
  const { out, err } = options;
  let root: string;
  let sha: string;
  try {
    root = await readRepoRoot(options.dir);
    sha = await resolveCommit(root, options.sha ?? 'HEAD');
  } catch {
    err.write(
      `spotcheck: ${options.dir} is not a git repository with a commit${options.sha ? ` ${options.sha}` : ''}\n`,
    );
    return 2;
  }
  const ref = normaliseRef(options.ref ?? (await readCurrentRef(root)) ?? 'refs/heads/main');
  const sources = await readWorkflowsAt(root, sha);
  if (sources.length === 0) {
    err.write(`spotcheck: no workflow files in .spotcheck/workflows/ at ${sha.slice(0, 7)}\n`);
    return 2;
  }
  const baseRef = options.baseRef ?? 'main';
  const changedFiles =
    options.event === 'push' ? await readChangedFiles(root, sha) : await readChangedFiles(root, sha, baseRef);
  const event: TriggerEvent =
    options.event === 'push'
      ? { kind: 'push', ref, deleted: false, changedFiles }
      : { kind: options.event, baseRef, changedFiles };
  const actor = options.env.USER ?? 'local';
  const config = options.config ?? defaultConfig();
  const { decisions, diagnostics } = planWorkflows(
    sources,
    event,
    {
      event: options.event,
      ref,
      sha,
      repository: `local/${root.split('/').pop() ?? 'repo'}`,
      actor,
      serverUrl: 'file://' + root,
      ...(options.event === 'push' ? {} : { baseRef, headRef: shortRef(ref) }),
    },
    config.limits,
  );
  if (diagnostics.length > 0) {
    for (const d of diagnostics) err.write(`${formatDiagnostic(d)}\n`);
    return 2;
  }
  for (const d of decisions) out.write(`${d.matched ? '▶' : '·'} ${d.file}: ${d.reason}\n`);
  const plans = decisions.flatMap((d) => (d.plan && d.github ? [{ plan: d.plan, github: d.github }] : []));
  if (plans.length === 0) {
    out.write('nothing to run\n');
    return 0;
  }

  const dataDir = await mkdtemp(join(tmpdir(), 'spotcheck-run-'));
  const embedded = await startEmbeddedStore({});
  const progress = new ProgressReporter(out, Boolean(out.isTTY), out.columns ?? 100);
  const sink = { report: (...args: Parameters<Orchestrator['report']>) => orchestrator.report(...args) };
  const runner = createLocalRunner({
    sink,
    dataDir,
    baseEnv: () =>
      Object.fromEntries(Object.entries(options.env).filter((e): e is [string, string] => e[1] !== undefined)),
    logger: options.logger,
  });
  const orchestrator: Orchestrator = new Orchestrator({
    store: embedded.store,
    runners: { local: runner },
    routes: config.routes,
    limits: config.limits,
    reporter: progress,
    logger: options.logger,
    jobFor: (run, order, needs) => Promise.resolve(buildOrderJob(run, order, needs, root)),
  });
  const watchdog = setInterval(() => void orchestrator.tick().catch(() => undefined), 1000);
  const onAbort = (): void => {
    for (const run of progress.runs()) void orchestrator.cancelRun(run.runId, 'cancelled by the user (interrupt)');
  };
  options.signal?.addEventListener('abort', onAbort);
  let keepLogs = options.env.SPOTCHECK_KEEP_LOGS !== undefined;
  try {
    const runIds: string[] = [];
    for (const { plan, github } of plans) {
      const runId = `${Date.now().toString(36)}-${randomUUID().slice(0, 8)}`;
      runIds.push(runId);
      progress.expect(runId);
      const { run } = await orchestrator.startRun({
        runId,
        repo: { forge: 'local', host: 'local', owner: 'local', name: root.split('/').pop() ?? 'repo' },
        plan,
        event: options.event,
        ref,
        sha,
        actor,
        github,
      });
      progress.seed(run, await embedded.store.listOrders(runId));
    }
    await progress.allFinished();
    await runner.idle();
    const views: RunView[] = [];
    for (const runId of runIds) {
      const run = await embedded.store.getRun(runId);
      if (run) views.push({ run, orders: await embedded.store.listOrders(runId) });
    }
    progress.stop();
    const succeeded = views.every((v) => v.run.status === 'succeeded');
    // A failed run's logs are what the developer needs next, so they stay; a green run's are removed unless asked.
    keepLogs ||= !succeeded;
    out.write(
      keepLogs ? `\nlogs: ${join(dataDir, 'logs')}\n` : '\nlogs removed (set SPOTCHECK_KEEP_LOGS=1 to keep them)\n',
    );
    // The comment comes last: it is the run's summary, as the bot would post it.
    out.write(
      '\n' +
        renderComment({
          runs: views,
          logUrl: (r, o) => `file://${logPath(dataDir, { runId: r, orderId: o, attempt: 1 })}`,
          now: Date.now(),
        }) +
        '\n',
    );
    return succeeded ? 0 : 1;
  } finally {
    clearInterval(watchdog);
    options.signal?.removeEventListener('abort', onAbort);
    await runner.idle();
    await embedded.close();
    if (!keepLogs) await rm(dataDir, { recursive: true, force: true }).catch(() => undefined);
  }
}

/** Live progress: a redrawn table on a TTY, one line per transition otherwise. */
class ProgressReporter implements Reporter {
  readonly #out: NodeJS.WritableStream;
  readonly #tty: boolean;
  readonly #width: number;
  readonly #views = new Map<string, { run: RunRecord; orders: Map<string, OrderRecord> }>();
  readonly #pending = new Set<string>();
  #drawn = 0;
  #timer: NodeJS.Timeout | undefined;
  #resolve: (() => void) | undefined;

  constructor(out: NodeJS.WritableStream, tty: boolean, width: number) {
    this.#out = out;
    this.#tty = tty;
    this.#width = width;
  }

  expect(runId: string): void {
    this.#pending.add(runId);
  }

  seed(run: RunRecord, orders: readonly OrderRecord[]): void {
    const view = this.#view(run);
    for (const order of orders) if (!view.orders.has(order.id)) view.orders.set(order.id, order);
    this.#draw();
  }

  runs(): RunRecord[] {
    return [...this.#views.values()].map((v) => v.run);
  }

  orderChanged(run: RunRecord, order: OrderRecord): Promise<void> {
    this.#view(run).orders.set(order.id, order);
    if (this.#tty) this.#draw();
    else this.#out.write(renderTransitionLine(run, order, Date.now()) + '\n');
    return Promise.resolve();
  }

  runChanged(run: RunRecord): Promise<void> {
    this.#view(run).run = run;
    if (run.status !== 'running') {
      this.#pending.delete(run.runId);
      if (this.#pending.size === 0) this.#resolve?.();
    }
    return Promise.resolve();
  }

  allFinished(): Promise<void> {
    if (this.#tty) this.#timer = setInterval(() => this.#draw(), 500);
    return this.#pending.size === 0 ? Promise.resolve() : new Promise((resolve) => (this.#resolve = resolve));
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    if (this.#tty) this.#draw();
  }

  #view(run: RunRecord): { run: RunRecord; orders: Map<string, OrderRecord> } {
    let view = this.#views.get(run.runId);
    if (!view) this.#views.set(run.runId, (view = { run, orders: new Map() }));
    if (run.status !== 'running' || view.run.status === 'running') view.run = run;
    return view;
  }

  #draw(): void {
    if (!this.#tty) return;
    const views = [...this.#views.values()].map((v) => ({ run: v.run, orders: [...v.orders.values()] }));
    const text = renderProgressTable(views, Date.now(), { width: this.#width, color: true });
    // Move up over the previous frame and clear it, then print the new one.
    const up = this.#drawn > 0 ? `\x1b[${this.#drawn}F\x1b[0J` : '';
    this.#out.write(up + text + '\n');
    this.#drawn = text.split('\n').length;
  }
}
