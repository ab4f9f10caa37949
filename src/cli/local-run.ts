/**
 * `spotcheck run` and `spotcheck demo`: the bot's main job on one machine — a local git repository's workflows,
 * the embedded store, the local runner, live progress, and the sticky comment the bot would post.
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { renderComment, type RunView } from '../core/render/comment.ts';
import { normaliseRef, shortRef } from '../core/github-context.ts';
import { planWorkflows } from '../core/plan-workflows.ts';
import { describeUnknownJobs, selectJobs } from '../core/select-jobs.ts';
import { DEFAULT_WORKFLOW_FOLDERS, type WorkflowFolder } from '../core/workflow/workflow-files.ts';
import { formatDiagnostic } from '../core/workflow/parse-workflow.ts';
import type { EventName, GithubContext, RunPlan, TriggerEvent, WorkflowSource } from '../core/types.ts';
import { defaultConfig, type OperatorConfig } from '../config.ts';
import { WorkflowReadError } from '../errors.ts';
import {
  readChangedFiles,
  readCurrentRef,
  readRepoRoot,
  readWorkflowsAt,
  resolveCommit,
  snapshotWorkingTree,
} from './local-repo.ts';
import { Orchestrator } from '../orchestrator.ts';
import { ProgressReporter } from './progress-reporter.ts';
import { userActionsCacheDir } from './action-cache-dir.ts';
import { localCalleeReader, readWorkflowDir } from './read-workflow-dir.ts';
import { readCallees } from '../intake/read-callees.ts';
import { startEmbeddedStore } from '../store/embedded.ts';
import { createLocalRunner, logPath } from '../../runners/local.ts';
import { createActionCache } from '../../runners/agent/actions/action-cache.ts';
import { actionsSourceFor } from '../../runners/actions-source.ts';
import { buildOrderJob } from '../../runners/order-job.ts';
import type { ReportSink } from '../../runners/runner.ts';

export interface LocalRunOptions {
  readonly dir: string;
  readonly event: EventName;
  /** The pushed ref (default: the current branch). With `sha`, it selects committed mode (see `runLocal`). */
  readonly ref?: string;
  readonly sha?: string;
  readonly baseRef?: string;
  /** `--job`: run only these jobs and the jobs they need (transitively). */
  readonly jobs?: readonly string[];
  /** Stream step output live, each line prefixed with `[workflow/order] `. */
  readonly verbose?: boolean;
  /** Keep the logs of a run that succeeded (a failed run's are always kept). */
  readonly keepLogs?: boolean;
  readonly config?: OperatorConfig;
  /** The folders the workflow files are read from (default `.spotcheck/workflows`). */
  readonly folders?: readonly WorkflowFolder[];
  readonly out: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  readonly err: NodeJS.WritableStream;
  /** Steps see this environment plus the GITHUB_* variables (the caller's own, as `make` would pass it). */
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly logger: Logger;
  readonly signal?: AbortSignal;
}

/**
 * Exit codes: 0 the run succeeded (or nothing matched), 1 it failed, 2 invalid input.
 *
 * Like `act`, it runs the working tree by default: uncommitted and untracked (not ignored) files included, as a
 * commit no ref points to (`snapshotWorkingTree`), with the workflow files read from disk exactly as `spotcheck
 * validate` reads them. `sha` or `ref` runs a commit instead (`sha`, or HEAD), with the workflows committed in it.
 */
export async function runLocal(options: LocalRunOptions): Promise<number> {
  const target = await resolveTarget(options);
  if (typeof target === 'number') return target;
  const sources = await readSources(options, target);
  if (typeof sources === 'number') return sources;
  const plans = await planLocal(options, target, sources);
  if (typeof plans === 'number') return plans;
  if (plans.length === 0) {
    options.out.write('nothing to run\n');
    return 0;
  }
  return executePlans(options, target, plans);
}

/** What is run: the repository root, the commit (a snapshot of the working tree by default) and the ref. */
interface LocalTarget {
  readonly root: string;
  readonly sha: string;
  readonly ref: string;
  /** `--sha`/`--ref`: a commit, with the workflows committed in it; otherwise the working tree. */
  readonly committed: boolean;
  readonly dirty: boolean;
  /** HEAD's parent, for the changed files of a working-tree push. */
  readonly since?: string;
}

type PlannedRun = { readonly plan: RunPlan; readonly github: GithubContext };

/** The target, announced in the first line of output, or exit code 2 when `dir` is not a git repository. */
async function resolveTarget(options: LocalRunOptions): Promise<LocalTarget | number> {
  const committed = options.sha !== undefined || options.ref !== undefined;
  let target: Omit<LocalTarget, 'ref'>;
  try {
    const root = await readRepoRoot(options.dir);
    if (committed) target = { root, committed, dirty: false, sha: await resolveCommit(root, options.sha ?? 'HEAD') };
    else {
      const since = `${await resolveCommit(root, 'HEAD')}^`;
      target = { root, committed, since, ...(await snapshotWorkingTree(root)) };
    }
  } catch {
    options.err.write(
      `spotcheck: ${options.dir} is not a git repository with a commit${options.sha ? ` ${options.sha}` : ''}\n`,
    );
    return 2;
  }
  const { root, sha, dirty } = target;
  const ref = normaliseRef(options.ref ?? (await readCurrentRef(root)) ?? 'refs/heads/main');
  options.out.write(
    committed
      ? `spotcheck: running commit ${sha.slice(0, 7)} of ${root} as ${shortRef(ref)}@${sha.slice(0, 7)}\n`
      : `spotcheck: running the working tree of ${root} (${dirty ? 'uncommitted changes included' : 'no uncommitted changes'}) as ${shortRef(ref)}@${sha.slice(0, 7)}\n`,
  );
  return { ...target, ref };
}

/** The workflow files of the target (committed ones for a commit, the files on disk for the working tree). */
async function readSources(options: LocalRunOptions, target: LocalTarget): Promise<readonly WorkflowSource[] | number> {
  const { root, sha, committed } = target;
  const folders = options.folders ?? DEFAULT_WORKFLOW_FOLDERS;
  let sources: readonly WorkflowSource[];
  try {
    sources = committed ? await readWorkflowsAt(root, sha, folders) : await readWorkflowDir(root, folders);
  } catch (error) {
    if (!(error instanceof WorkflowReadError)) throw error;
    options.err.write(`spotcheck: ${error.message}\n`);
    return 2;
  }
  if (sources.length > 0) return sources;
  options.err.write(
    committed
      ? `spotcheck: no workflow files in ${folders.map((f) => `${f}/`).join(', ')} at ${sha.slice(0, 7)}\n`
      : `spotcheck: no workflow files in ${folders.map((f) => join(root, f)).join(', ')}\n`,
  );
  return 2;
}

/** The runs the event starts (with `--job`'s selection), each workflow's decision printed; 2 on invalid input. */
async function planLocal(
  options: LocalRunOptions,
  target: LocalTarget,
  sources: readonly WorkflowSource[],
): Promise<PlannedRun[] | number> {
  const { out, err } = options;
  const { root, sha, ref, dirty, since } = target;
  const baseRef = options.baseRef ?? 'main';
  // A push of the working tree changes what HEAD's commit changed plus what is uncommitted.
  const changedFiles =
    options.event === 'push'
      ? await readChangedFiles(root, sha, undefined, dirty ? since : undefined)
      : await readChangedFiles(root, sha, baseRef);
  const event: TriggerEvent =
    options.event === 'push'
      ? { kind: 'push', ref, deleted: false, changedFiles }
      : { kind: options.event, baseRef, changedFiles };
  const config = options.config ?? defaultConfig();
  // Called workflows from the working tree; a run on this machine has no forge to read another repository from.
  const read = await readCallees(sources, localCalleeReader(root));
  const callees = new Map(
    [...read].map(([key, file]) => [
      key,
      file.kind === 'deferred'
        ? ({ kind: 'unreadable', reason: 'spotcheck run reads no other repository (a run on the forge does)' } as const)
        : file,
    ]),
  );
  const { decisions, diagnostics } = planWorkflows(
    sources,
    event,
    {
      event: options.event,
      ref,
      sha,
      repository: `local/${root.split('/').pop() ?? 'repo'}`,
      actor: actorOf(options),
      serverUrl: 'file://' + root,
      ...(options.event === 'push' ? {} : { baseRef, headRef: shortRef(ref) }),
    },
    config.limits,
    callees,
  );
  if (diagnostics.length > 0) {
    for (const d of diagnostics) err.write(`${formatDiagnostic(d)}\n`);
    return 2;
  }
  let plans = decisions.flatMap((d) => (d.plan && d.github ? [{ plan: d.plan, github: d.github }] : []));
  if (options.jobs !== undefined && options.jobs.length > 0) {
    const selected = selectJobs(
      plans.map((p) => p.plan),
      options.jobs,
    );
    if (!selected.ok) {
      err.write(`spotcheck: ${describeUnknownJobs(selected)}\n`);
      return 2;
    }
    plans = plans.map((p, i) => ({ ...p, plan: selected.plans[i] ?? p.plan }));
  }
  const selectedFiles = new Set(plans.filter((p) => p.plan.orders.length > 0).map((p) => p.plan.file));
  for (const d of decisions) {
    const left = d.matched && d.plan !== undefined && !selectedFiles.has(d.file);
    out.write(`${d.matched && !left ? '▶' : '·'} ${d.file}: ${d.reason}${left ? ' (no job selected by --job)' : ''}\n`);
  }
  return plans.filter((p) => p.plan.orders.length > 0);
}

function actorOf(options: LocalRunOptions): string {
  return options.env.USER ?? 'local';
}

/** Runs the plans on the embedded store and the local runner, with live progress; prints logs and the comment. */
async function executePlans(
  options: LocalRunOptions,
  target: LocalTarget,
  plans: readonly PlannedRun[],
): Promise<number> {
  const { out } = options;
  const { root, sha, ref } = target;
  const config = options.config ?? defaultConfig();
  const dataDir = await mkdtemp(join(tmpdir(), 'spotcheck-run-'));
  const embedded = await startEmbeddedStore({});
  const verbose = options.verbose === true;
  // Streamed lines and a table redrawn in place would overwrite each other: streaming prints transitions as lines.
  const progress = new ProgressReporter(out, { tty: Boolean(out.isTTY) && !verbose, width: out.columns ?? 100 });
  const sink: ReportSink = {
    report: (ref, report) => {
      if (verbose && report.type === 'log') progress.log(ref.runId, ref.orderId, report.chunk);
      if (verbose && (report.type === 'finished' || report.type === 'interrupted'))
        progress.endLog(ref.runId, ref.orderId);
      return orchestrator.report(ref, report);
    },
  };
  const runner = createLocalRunner({
    sink,
    dataDir,
    baseEnv: () =>
      Object.fromEntries(Object.entries(options.env).filter((e): e is [string, string] => e[1] !== undefined)),
    logger: options.logger,
    // Kept between runs, as a developer runs the same workflow again and again.
    actionCache: createActionCache({ dir: userActionsCacheDir(options.env) }),
  });
  const orchestrator: Orchestrator = new Orchestrator({
    store: embedded.store,
    runners: { local: runner },
    routes: config.routes,
    limits: config.limits,
    reporter: progress,
    logger: options.logger,
    jobFor: (run, order, needs) =>
      Promise.resolve({
        ...buildOrderJob(run, order, needs, root, actionsSourceFor(config.actions ?? {}, undefined, true)),
        localRepository: true,
      }),
  });
  const watchdog = setInterval(() => void orchestrator.tick().catch(() => undefined), 1000);
  const onAbort = (): void => {
    for (const run of progress.runs()) void orchestrator.cancelRun(run.runId, 'cancelled by the user (interrupt)');
  };
  options.signal?.addEventListener('abort', onAbort);
  let keepLogs = options.keepLogs === true || options.env.SPOTCHECK_KEEP_LOGS !== undefined;
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
        actor: actorOf(options),
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
      '\n' +
        (keepLogs
          ? `logs: ${join(dataDir, 'logs')}\n`
          : `logs: ${join(dataDir, 'logs')} (removed when spotcheck exits; --keep-logs keeps them)\n`) +
        (await listLogs(views, dataDir, (runId, orderId) => progress.label(runId, orderId))),
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

/** `  workflow/order  path` for every attempt of every order that wrote a log, in the order people read orders in. */
async function listLogs(
  views: readonly RunView[],
  dataDir: string,
  label: (runId: string, orderId: string) => string,
): Promise<string> {
  const rows: [string, string][] = [];
  for (const { run, orders } of views) {
    for (const order of [...orders].sort((a, b) => a.seq - b.seq)) {
      for (let attempt = 1; attempt <= order.attempt; attempt++) {
        const path = logPath(dataDir, { runId: run.runId, orderId: order.id, attempt });
        if (!(await stat(path).catch(() => undefined))?.isFile()) continue;
        const name = label(run.runId, order.id) + (order.attempt > 1 ? ` (attempt ${attempt})` : '');
        rows.push([name, path]);
      }
    }
  }
  const width = Math.max(0, ...rows.map(([name]) => name.length));
  return rows.map(([name, path]) => `  ${name.padEnd(width)}  ${path}\n`).join('');
}
