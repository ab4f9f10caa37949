/**
 * Capacity mode's shell: one ephemeral forge runner per waiting Gitea Actions / GitHub Actions job, on a Spot
 * instance of the capacity route its labels name. Each runner is a store document (kind `capacity-runner`, keyed by
 * the runner's name, which is derived from the job slot, so a webhook and a reconcile for one job launch once);
 * watched repositories are documents too (kind `capacity-repo`) so the reconcile knows where to look for jobs whose
 * webhook was lost. Documents carry `due`: the sweep and the reconcile list what is due (Store.listDocs).
 *
 * Lifecycle: queued → launch (state `idle`) → the runner takes a job (`busy`) → the job completes → the instance is
 * confirmed gone (terminated if not) and the runner removed from the forge. A runner idle past its route's
 * `idleMinutes` (default 20) is ended the same way. Nothing is judged within `graceMs` of its launch (booting).
 *
 * The manager's steps are named functions over one context: a queued job's launch, marking a runner busy, the
 * teardown on completion, Gitea's push path, the reconcile, the sweep and the bootstrap exchange; the runner
 * primitives they share live in capacity-runners.ts, the pure decisions in src/core/capacity.ts.
 */
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { Logger } from 'pino';
import { DEFAULT_JANITOR_GRACE_MS } from '../../runners/janitor.ts';
import { spotSettingsOf } from '../../runners/route-settings.ts';
import type { Route } from '../../runners/runner.ts';
import { redeemBootstrapToken } from '../server/bootstrap-tokens.ts';
import {
  capacityRoutes,
  decideCapacity,
  findServingRunner,
  isOrphan,
  judgeRunner,
  slotEndsWith,
  type CapacityJobEvent,
} from '../core/capacity.ts';
import type { RepoRef } from '../core/types.ts';
import type { Store, StoredDoc } from '../store/store.ts';
import type { RunnerRegistration } from '../forges/forge.ts';
import type { ForgeLookup } from '../intake/intents.ts';
import { isInstanceAlive, listCapacityInstances, terminateCapacityInstance } from '../../runners/capacity-launch.ts';
import { planCapacityRunners, readCapacityWorkflow } from './capacity-workflows.ts';
import {
  asRunner,
  CAPACITY_BOOTSTRAP_RUN,
  CAPACITY_REPO_KIND,
  CAPACITY_RUNNER_KIND,
  capacityOf,
  DEFAULT_CHECK_EVERY_MS,
  DEFAULT_RECONCILE_EVERY_MS,
  DEFAULT_WATCH_MS,
  finishRunner,
  jobSlot,
  launchRunner,
  repoKey,
  repoOf,
  runnerNameFor,
  updateRunner,
  watchRepo,
  type CapacityOutcome,
  type ManagerContext,
  type RepoDoc,
  type RunnerDoc,
} from './capacity-runners.ts';

export {
  CAPACITY_BOOTSTRAP_RUN,
  CAPACITY_REPO_KIND,
  CAPACITY_RUNNER_KIND,
  DEFAULT_IDLE_MINUTES,
  runnerNameFor,
  type CapacityOutcome,
} from './capacity-runners.ts';

export type CapacityBootstrapAnswer =
  | { readonly forge: 'github'; readonly runnerName: string; readonly encodedJitConfig: string }
  | {
      readonly forge: 'gitea';
      readonly runnerName: string;
      readonly instanceUrl: string;
      readonly registrationToken: string;
      /** act_runner labels: `<label>:host` (the job runs on the instance itself, which is thrown away after). */
      readonly labels: readonly string[];
    };

export type ExchangeResult =
  | { readonly ok: true; readonly answer: CapacityBootstrapAnswer }
  | { readonly ok: false; readonly status: 401 | 409 | 503; readonly reason: string };

export interface CapacityManagerOptions {
  readonly store: Pick<Store, 'putDoc' | 'getDoc' | 'deleteDoc' | 'listDocs' | 'claim' | 'release'>;
  readonly routes: ReadonlyMap<string, Route>;
  /** The forge registry: each forge's capacity operations are its `capacity` capability. */
  readonly forges: ForgeLookup;
  readonly ec2: (region: string | undefined) => EC2Client;
  /** `<public URL>/api/capacity/bootstrap`. */
  readonly bootstrapUrl: string;
  /** Epoch ms. */
  readonly clock: () => number;
  readonly logger?: Logger;
  /** Nothing is judged this soon after its launch (the janitor's grace: a booting runner has no job yet). */
  readonly graceMs?: number;
  readonly checkEveryMs?: number;
  readonly reconcileEveryMs?: number;
}

export interface SweepSummary {
  readonly finished: string[];
  readonly orphansTerminated: string[];
}

export interface CapacityManager {
  jobEvent(event: CapacityJobEvent): Promise<CapacityOutcome>;
  /** Gitea's push path: the workflows at the SHA, the triggers, one runner per matched job. */
  push(event: {
    readonly repo: RepoRef;
    readonly sha: string;
    readonly ref: string;
    readonly changedFiles: readonly string[] | null;
  }): Promise<CapacityOutcome[]>;
  /** Lists waiting jobs of watched repositories and launches for any not served (a lost webhook). */
  reconcile(): Promise<CapacityOutcome[]>;
  /** Idle limit, finished jobs whose webhook was lost, gone instances, orphan instances. */
  sweep(): Promise<SweepSummary>;
  /** The bootstrap exchange of a capacity runner's one-time token. */
  exchange(token: string): Promise<ExchangeResult>;
}

export function createCapacityManager(opts: CapacityManagerOptions): CapacityManager {
  const ctx: ManagerContext = {
    store: opts.store,
    routes: opts.routes,
    forges: opts.forges,
    ec2: opts.ec2,
    bootstrapUrl: opts.bootstrapUrl,
    clock: opts.clock,
    log: opts.logger,
    graceMs: opts.graceMs ?? DEFAULT_JANITOR_GRACE_MS,
    checkEvery: opts.checkEveryMs ?? DEFAULT_CHECK_EVERY_MS,
    reconcileEvery: opts.reconcileEveryMs ?? DEFAULT_RECONCILE_EVERY_MS,
  };
  return {
    jobEvent: (event) => handleJobEvent(ctx, event),
    push: (event) => launchForPush(ctx, event),
    reconcile: () => reconcileRepos(ctx),
    sweep: () => sweepRunners(ctx),
    exchange: (token) => exchangeBootstrapToken(ctx, token),
  };
}

/** A `workflow_job` delivery (or Gitea's equivalent): launch, mark busy, or tear down. */
async function handleJobEvent(ctx: ManagerContext, event: CapacityJobEvent): Promise<CapacityOutcome> {
  switch (event.action) {
    case 'queued':
      return launchForQueuedJob(ctx, event);
    case 'waiting':
      return { kind: 'ignored', reason: 'the job waits for an approval or a concurrency group' };
    case 'in_progress':
      return markBusy(ctx, event);
    case 'completed':
      return teardownOnCompletion(ctx, event);
  }
}

/** One runner for a queued job on the capacity route its labels name; the repository is watched from then on. */
async function launchForQueuedJob(ctx: ManagerContext, event: CapacityJobEvent): Promise<CapacityOutcome> {
  const decision = decideCapacity(event.labels, ctx.routes);
  if (decision.kind === 'ignore') return { kind: 'ignored', reason: decision.reason };
  if (decision.kind === 'skip') return { kind: 'skipped', reason: decision.reason };
  await watchRepo(ctx, event.repo, event.installationId);
  const slot = jobSlot(event.repo, event.jobId);
  return launchRunner(ctx, slot, event.repo, event.labels, event.installationId, event.jobId);
}

/** The job started on one of our runners: busy, looked at again by the sweep after `checkEvery`. */
async function markBusy(ctx: ManagerContext, event: CapacityJobEvent): Promise<CapacityOutcome> {
  const name = event.runnerName;
  const busy = () => ({ state: 'busy' as const, jobId: event.jobId, due: ctx.clock() + ctx.checkEvery });
  if (name === undefined || !(await updateRunner(ctx, name, busy)))
    return { kind: 'ignored', reason: 'the job runs on a runner spotcheck did not start' };
  return { kind: 'busy', runnerName: name };
}

/** The job completed: the runner that ran it ends, and so does the runner launched for it when that one is done. */
async function teardownOnCompletion(ctx: ManagerContext, event: CapacityJobEvent): Promise<CapacityOutcome> {
  const slotName = runnerNameFor(jobSlot(event.repo, event.jobId));
  const done: string[] = [];
  // The runner that ran it first: when it is the slot's runner too, the slot is gone after.
  if (event.runnerName !== undefined && (await finishRunner(ctx, event.runnerName, 'its job completed')))
    done.push(event.runnerName);
  const slot = await ctx.store.getDoc(CAPACITY_RUNNER_KIND, slotName);
  if (slotEndsWith(event.jobId, slot === undefined ? undefined : asRunner(slot.value)))
    if (await finishRunner(ctx, slotName, 'the job it was launched for completed')) done.push(slotName);
  return done.length > 0 ? { kind: 'finished', runnerNames: done } : { kind: 'ignored', reason: 'no runner of ours' };
}

async function launchForPush(
  ctx: ManagerContext,
  event: Parameters<CapacityManager['push']>[0],
): Promise<CapacityOutcome[]> {
  const { routes } = ctx;
  if (capacityRoutes(routes).size === 0) return [];
  const forge = await capacityOf(ctx, event.repo, undefined);
  if (forge?.readActionsWorkflows === undefined) return [];
  const files = await forge.readActionsWorkflows(event.repo, event.sha);
  const workflows = files.flatMap((f) => readCapacityWorkflow(f.path, f.text) ?? []);
  const planned = planCapacityRunners(workflows, {
    kind: 'push',
    ref: event.ref,
    deleted: false,
    changedFiles: event.changedFiles,
  });
  const seen = new Map<string, number>();
  const outcomes: CapacityOutcome[] = [];
  const launched: string[] = [];
  for (const p of planned) {
    const base = `${repoKey(event.repo)}:push:${event.sha}:${p.file}:${p.jobId}`;
    const index = seen.get(base) ?? 0;
    seen.set(base, index + 1);
    const outcome = await launchRunner(ctx, `${base}:${index}`, event.repo, p.labels, undefined, undefined);
    if (outcome.kind === 'launched') launched.push(outcome.runnerName);
    outcomes.push(outcome);
  }
  if (outcomes.some((o) => o.kind !== 'ignored')) await watchRepo(ctx, event.repo, undefined, launched);
  return outcomes;
}

/** Lists waiting jobs of the watched repositories that are due and launches for any not served (a lost webhook). */
async function reconcileRepos(ctx: ManagerContext): Promise<CapacityOutcome[]> {
  const outcomes: CapacityOutcome[] = [];
  for (const entry of await ctx.store.listDocs(CAPACITY_REPO_KIND, { dueBefore: ctx.clock(), limit: 50 })) {
    const repoDoc = entry.value as unknown as RepoDoc;
    try {
      outcomes.push(...(await reconcileRepo(ctx, entry, repoDoc)));
    } catch (error) {
      ctx.log?.warn({ err: error, repo: repoKey(repoOf(repoDoc)) }, 'capacity reconcile failed for a repository');
    }
  }
  return outcomes;
}

/** One watched repository: each queued job is bound to an unbound push-path runner, or launched for. */
async function reconcileRepo(
  ctx: ManagerContext,
  entry: StoredDoc & { readonly key: string },
  repoDoc: RepoDoc,
): Promise<CapacityOutcome[]> {
  const { store } = ctx;
  const repo = repoOf(repoDoc);
  const forge = await capacityOf(ctx, repo, repoDoc.installationId);
  if (forge === undefined) return [];
  const jobs = await forge.listQueuedJobs(repo);
  const unbound = await readUnboundRunners(ctx, repoDoc.unbound);
  const outcomes: CapacityOutcome[] = [];
  for (const job of jobs) {
    if (decideCapacity(job.labels, ctx.routes).kind !== 'launch') continue;
    const slot = jobSlot(repo, job.jobId);
    if ((await store.getDoc(CAPACITY_RUNNER_KIND, runnerNameFor(slot))) !== undefined) continue;
    const at = findServingRunner(job.labels, unbound);
    if (at !== -1) {
      const [runner] = unbound.splice(at, 1);
      if (runner !== undefined && (await updateRunner(ctx, runner.name, () => ({ jobId: job.jobId })))) continue;
    }
    outcomes.push(await launchRunner(ctx, slot, repo, job.labels, repoDoc.installationId, job.jobId));
  }
  const now = ctx.clock();
  await store.putDoc(
    CAPACITY_REPO_KIND,
    entry.key,
    { ...entry.value, due: now + ctx.reconcileEvery, unbound: unbound.map((u) => u.name) },
    { expiresAt: repoDoc.seenAt + DEFAULT_WATCH_MS, ifVersion: entry.version },
  );
  return outcomes;
}

/** Push-path runners still waiting for their first job: each may serve one queued job (bound, not relaunched). */
async function readUnboundRunners(
  ctx: ManagerContext,
  names: readonly string[],
): Promise<{ readonly name: string; readonly labels: readonly string[] }[]> {
  const unbound: { readonly name: string; readonly labels: readonly string[] }[] = [];
  for (const name of names) {
    const doc = await ctx.store.getDoc(CAPACITY_RUNNER_KIND, name);
    const runner = doc === undefined ? undefined : asRunner(doc.value);
    if (runner !== undefined && runner.state !== 'busy' && runner.jobId === undefined)
      unbound.push({ name, labels: runner.labels });
  }
  return unbound;
}

/** Asks EC2 and the forge what `judgeRunner` needs, applies its decision; true when the runner was finished. */
async function sweepRunner(ctx: ManagerContext, name: string, doc: RunnerDoc, now: number): Promise<boolean> {
  const { store, graceMs, checkEvery } = ctx;
  const view = { ...doc, hasInstance: doc.instanceId !== undefined };
  const limits = { now, graceMs, checkEveryMs: checkEvery };
  let decision = judgeRunner(view, { name }, limits);
  if (decision.kind !== 'forget' && decision.kind !== 'wait' && doc.instanceId !== undefined) {
    const alive = await isInstanceAlive(ctx.ec2(doc.region), doc.instanceId);
    const job =
      !alive || doc.jobId === undefined
        ? undefined
        : await (await capacityOf(ctx, repoOf(doc), doc.installationId))?.getJob(repoOf(doc), doc.jobId);
    decision = judgeRunner(view, { name, alive, ...(job === undefined ? {} : { job }) }, limits);
  }
  switch (decision.kind) {
    case 'forget':
      await store.deleteDoc(CAPACITY_RUNNER_KIND, name);
      return false;
    case 'wait':
      return false;
    case 'finish':
      return finishRunner(ctx, name, decision.reason);
    case 'busy':
      await updateRunner(ctx, name, () => ({ state: 'busy', due: decision.due }));
      return false;
    case 'reschedule':
      await updateRunner(ctx, name, () => ({ due: decision.due }));
      return false;
  }
}

/** Idle limit, finished jobs whose webhook was lost, gone instances; then orphan instances. */
async function sweepRunners(ctx: ManagerContext): Promise<SweepSummary> {
  const finished: string[] = [];
  const now = ctx.clock();
  for (const entry of await ctx.store.listDocs(CAPACITY_RUNNER_KIND, { dueBefore: now, limit: 100 })) {
    const name = entry.key;
    try {
      if (await sweepRunner(ctx, name, asRunner(entry.value), now)) finished.push(name);
    } catch (error) {
      ctx.log?.warn({ err: error, runner: name }, 'capacity sweep failed for a runner');
    }
  }
  return { finished, orphansTerminated: await terminateOrphans(ctx, now) };
}

/** Capacity instances past their grace that no runner document records, in every capacity route's region. */
async function terminateOrphans(ctx: ManagerContext, now: number): Promise<string[]> {
  const { store, graceMs } = ctx;
  const orphansTerminated: string[] = [];
  const regions = new Set([...capacityRoutes(ctx.routes).values()].map((r) => spotSettingsOf(r).region));
  for (const region of regions) {
    const ec2 = ctx.ec2(region);
    for (const instance of await listCapacityInstances(ec2)) {
      // A booting instance is not judged: no store read for it.
      if (!isOrphan(instance, undefined, { now, graceMs })) continue;
      const doc =
        instance.runnerName === undefined ? undefined : await store.getDoc(CAPACITY_RUNNER_KIND, instance.runnerName);
      const recorded = doc === undefined ? undefined : asRunner(doc.value).instanceId;
      if (!isOrphan(instance, recorded, { now, graceMs })) continue;
      await terminateCapacityInstance(ec2, instance.instanceId);
      orphansTerminated.push(instance.instanceId);
      ctx.log?.info({ instanceId: instance.instanceId, runner: instance.runnerName }, 'capacity orphan terminated');
    }
  }
  return orphansTerminated;
}

async function exchangeBootstrapToken(ctx: ManagerContext, token: string): Promise<ExchangeResult> {
  const { store, clock, log } = ctx;
  const redeemed = await redeemBootstrapToken(store, 'capacity', token, clock());
  if (!redeemed.ok) return { ok: false, status: 401, reason: 'invalid bootstrap token' };
  if (redeemed.ref.runId !== CAPACITY_BOOTSTRAP_RUN) return { ok: false, status: 409, reason: 'not a capacity runner' };
  const name = redeemed.ref.orderId;
  const current = await store.getDoc(CAPACITY_RUNNER_KIND, name);
  if (current === undefined) return { ok: false, status: 409, reason: 'the runner is not known (ended)' };
  const doc = asRunner(current.value);
  let registration: RunnerRegistration;
  try {
    const forge = await capacityOf(ctx, repoOf(doc), doc.installationId);
    if (forge === undefined) throw new Error(`no ${doc.forge} forge`);
    registration = await forge.register(repoOf(doc), { name, labels: doc.labels });
  } catch (error) {
    // Not the instance's fault: the token is given back so its retry can work.
    log?.warn({ err: error, runner: name }, 'capacity bootstrap: no registration from the forge');
    await store.release(redeemed.claimKey);
    return { ok: false, status: 503, reason: 'the forge gave no registration; retry' };
  }
  if (registration.kind === 'github') {
    await updateRunner(ctx, name, () => ({ runnerId: registration.runnerId }));
    return {
      ok: true,
      answer: { forge: 'github', runnerName: name, encodedJitConfig: registration.encodedJitConfig },
    };
  }
  return {
    ok: true,
    answer: {
      forge: 'gitea',
      runnerName: name,
      instanceUrl: registration.instanceUrl,
      registrationToken: registration.token,
      labels: doc.labels.map((l) => `${l}:host`),
    },
  };
}
