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
 */
import { createHash } from 'node:crypto';
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { Logger } from 'pino';
import { DEFAULT_JANITOR_GRACE_MS } from '../../runners/janitor.ts';
import { spotSettingsOf } from '../../runners/route-settings.ts';
import type { Route } from '../../runners/runner.ts';
import { renderCapacityUserData } from '../../runners/user-data.ts';
import { mintBootstrapToken, redeemBootstrapToken } from '../server/bootstrap-tokens.ts';
import {
  capacityRoutes,
  decideCapacity,
  findServingRunner,
  isOrphan,
  judgeRunner,
  slotEndsWith,
  type CapacityJobEvent,
} from '../core/capacity.ts';
import type { ForgeKind, RepoRef } from '../core/types.ts';
import type { DocValue, Store } from '../store/store.ts';
import { ConfigError } from '../errors.ts';
import type { CapacityForge, RunnerRegistration } from '../forges/forge.ts';
import type { ForgeLookup } from '../intake/intents.ts';
import {
  isInstanceAlive,
  launchCapacityInstance,
  listCapacityInstances,
  terminateCapacityInstance,
} from '../../runners/capacity-launch.ts';
import { planCapacityRunners, readCapacityWorkflow } from './capacity-workflows.ts';

export const CAPACITY_RUNNER_KIND = 'capacity-runner';
export const CAPACITY_REPO_KIND = 'capacity-repo';
/** Bootstrap tokens of capacity runners carry this run id (src/server/bootstrap-tokens.ts stores run/order/attempt). */
export const CAPACITY_BOOTSTRAP_RUN = 'capacity';
export const DEFAULT_IDLE_MINUTES = 20;
const DEFAULT_CHECK_EVERY_MS = 5 * 60_000;
const DEFAULT_RECONCILE_EVERY_MS = 2 * 60_000;
/** A repository with no capacity event for this long is no longer reconciled. */
const DEFAULT_WATCH_MS = 7 * 86_400_000;
const DAY = 86_400_000;

export type CapacityOutcome =
  | { readonly kind: 'launched'; readonly runnerName: string; readonly instanceId: string; readonly route: string }
  | { readonly kind: 'duplicate'; readonly runnerName: string }
  | { readonly kind: 'ignored'; readonly reason: string }
  | { readonly kind: 'skipped'; readonly reason: string }
  | { readonly kind: 'failed'; readonly reason: string; readonly retryable: boolean }
  | { readonly kind: 'busy'; readonly runnerName: string }
  | { readonly kind: 'finished'; readonly runnerNames: readonly string[] };

/** The capacity variant of the bootstrap answer: the forge registration, handed over once. */
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

interface RunnerDoc {
  readonly forge: ForgeKind;
  readonly host: string;
  readonly owner: string;
  readonly name: string;
  readonly installationId?: number;
  readonly labels: readonly string[];
  readonly route: string;
  readonly state: 'launching' | 'idle' | 'busy';
  readonly launchedAt: number;
  readonly due: number;
  readonly idleMs: number;
  readonly expiresAt: number;
  readonly region?: string;
  readonly jobId?: number;
  readonly instanceId?: string;
  readonly runnerId?: number;
}

interface RepoDoc {
  readonly forge: ForgeKind;
  readonly host: string;
  readonly owner: string;
  readonly name: string;
  readonly installationId?: number;
  readonly due: number;
  readonly seenAt: number;
  /** Runners the push path launched that no job id is bound to yet (Gitea without `workflow_job`). */
  readonly unbound: readonly string[];
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

export function runnerNameFor(slot: string): string {
  return `spotcheck-${createHash('sha256').update(slot).digest('hex').slice(0, 20)}`;
}

function repoKey(repo: RepoRef): string {
  return `${repo.forge}:${repo.host.toLowerCase()}:${repo.owner}/${repo.name}`;
}

function repoOf(doc: Pick<RunnerDoc, 'forge' | 'host' | 'owner' | 'name'>): RepoRef {
  return { forge: doc.forge, host: doc.host, owner: doc.owner, name: doc.name };
}

function asRunner(value: DocValue): RunnerDoc {
  return value as unknown as RunnerDoc;
}

export function createCapacityManager(opts: CapacityManagerOptions): CapacityManager {
  const { store, clock } = opts;
  const log = opts.logger;
  const graceMs = opts.graceMs ?? DEFAULT_JANITOR_GRACE_MS;
  const checkEvery = opts.checkEveryMs ?? DEFAULT_CHECK_EVERY_MS;
  const reconcileEvery = opts.reconcileEveryMs ?? DEFAULT_RECONCILE_EVERY_MS;
  const routes = opts.routes;

  /** The capacity operations of the repository's forge, or undefined when no forge serves it or it has none. */
  const capacityOf = async (repo: RepoRef, installationId: number | undefined): Promise<CapacityForge | undefined> => {
    if (repo.forge === 'local') return undefined;
    try {
      const install = {
        forge: repo.forge,
        host: repo.host,
        ...(installationId === undefined ? {} : { installationId }),
      };
      return (await opts.forges.forInstallation(install)).capacity;
    } catch (error) {
      // No forge of this kind or host is configured on this server.
      if (error instanceof ConfigError) return undefined;
      throw error;
    }
  };

  /** Records that a repository uses capacity mode (and, for the push path, its unbound runners). */
  const watch = async (repo: RepoRef, installationId: number | undefined, addUnbound: readonly string[] = []) => {
    for (let tries = 0; tries < 3; tries++) {
      const now = clock();
      const current = await store.getDoc(CAPACITY_REPO_KIND, repoKey(repo));
      const before = current?.value as unknown as RepoDoc | undefined;
      const value: RepoDoc = {
        forge: repo.forge as ForgeKind,
        host: repo.host,
        owner: repo.owner,
        name: repo.name,
        ...(installationId === undefined ? {} : { installationId }),
        due: Math.min(before?.due ?? now + reconcileEvery, now + reconcileEvery),
        seenAt: now,
        unbound: [...(before?.unbound ?? []), ...addUnbound],
      };
      const written = await store.putDoc(CAPACITY_REPO_KIND, repoKey(repo), value as unknown as DocValue, {
        expiresAt: now + DEFAULT_WATCH_MS,
        ...(current === undefined ? {} : { ifVersion: current.version }),
      });
      if (written !== undefined) return;
    }
  };

  const launch = async (
    slot: string,
    repo: RepoRef,
    labels: readonly string[],
    installationId: number | undefined,
    jobId: number | undefined,
  ): Promise<CapacityOutcome> => {
    const decision = decideCapacity(labels, routes);
    if (decision.kind === 'ignore') return { kind: 'ignored', reason: decision.reason };
    if (decision.kind === 'skip') return { kind: 'skipped', reason: decision.reason };
    const forge = await capacityOf(repo, installationId);
    if (forge === undefined) return { kind: 'ignored', reason: `no ${repo.forge} forge for ${repo.host}` };
    const settings = spotSettingsOf(decision.route);
    const name = runnerNameFor(slot);
    const now = clock();
    const idleMs = (settings.idleMinutes ?? DEFAULT_IDLE_MINUTES) * 60_000;
    const lifetimeMs = settings.maxLifetimeMinutes * 60_000;
    const expiresAt = now + lifetimeMs + DAY;
    const doc: RunnerDoc = {
      forge: repo.forge as ForgeKind,
      host: repo.host,
      owner: repo.owner,
      name: repo.name,
      ...(installationId === undefined ? {} : { installationId }),
      labels: [...labels],
      route: decision.label,
      state: 'launching',
      launchedAt: now,
      due: now + graceMs,
      idleMs,
      expiresAt,
      ...(settings.region === undefined ? {} : { region: settings.region }),
      ...(jobId === undefined ? {} : { jobId }),
    };
    // The claim: a second delivery, or the reconcile, for the same slot finds the document and launches nothing.
    const created = await store.putDoc(CAPACITY_RUNNER_KIND, name, doc as unknown as DocValue, { expiresAt });
    if (created === undefined) return { kind: 'duplicate', runnerName: name };
    let userData: string;
    try {
      const token = await mintBootstrapToken(
        store,
        { runId: CAPACITY_BOOTSTRAP_RUN, orderId: name, attempt: 1 },
        idleMs + graceMs,
        now,
      );
      userData = renderCapacityUserData({
        bootstrapUrl: opts.bootstrapUrl,
        bootstrapToken: token,
        maxLifetimeMinutes: settings.maxLifetimeMinutes,
        forge: doc.forge,
      }).base64;
    } catch (error) {
      await store.deleteDoc(CAPACITY_RUNNER_KIND, name);
      return { kind: 'failed', reason: `cannot prepare the runner: ${(error as Error).message}`, retryable: true };
    }
    const outcome = await launchCapacityInstance(opts.ec2(settings.region), settings, {
      name,
      userData,
      expires: new Date(now + lifetimeMs).toISOString(),
      label: decision.label,
    }).catch((error: unknown) => ({ ok: false as const, retryable: true, reason: (error as Error).message }));
    if (!outcome.ok) {
      // Forgotten, so the reconcile tries again while the job still waits.
      await store.deleteDoc(CAPACITY_RUNNER_KIND, name);
      log?.warn({ runner: name, reason: outcome.reason }, 'capacity launch failed');
      return { kind: 'failed', reason: outcome.reason, retryable: outcome.retryable };
    }
    await store.putDoc(
      CAPACITY_RUNNER_KIND,
      name,
      { ...doc, state: 'idle', instanceId: outcome.instanceId, due: now + Math.max(idleMs, graceMs) },
      { expiresAt, ifVersion: created },
    );
    log?.info(
      { runner: name, instanceId: outcome.instanceId, route: decision.label, jobId },
      'capacity runner launched',
    );
    return { kind: 'launched', runnerName: name, instanceId: outcome.instanceId, route: decision.label };
  };

  /** Instance gone (terminated if not), runner removed from the forge, document deleted. */
  const finish = async (name: string, reason: string): Promise<boolean> => {
    const current = await store.getDoc(CAPACITY_RUNNER_KIND, name);
    if (current === undefined) return false;
    const doc = asRunner(current.value);
    try {
      if (doc.instanceId !== undefined) {
        const ec2 = opts.ec2(doc.region);
        if (await isInstanceAlive(ec2, doc.instanceId)) await terminateCapacityInstance(ec2, doc.instanceId);
      }
      const forge = await capacityOf(repoOf(doc), doc.installationId);
      await forge?.deregister(repoOf(doc), { name, ...(doc.runnerId === undefined ? {} : { id: doc.runnerId }) });
    } catch (error) {
      // Tried again by the sweep soon: the document stays until both are done.
      log?.warn({ err: error, runner: name }, 'capacity runner cleanup failed; will retry');
      await store.putDoc(
        CAPACITY_RUNNER_KIND,
        name,
        { ...current.value, due: clock() + 60_000 },
        {
          expiresAt: doc.expiresAt,
          ifVersion: current.version,
        },
      );
      return false;
    }
    await store.deleteDoc(CAPACITY_RUNNER_KIND, name);
    log?.info({ runner: name, instanceId: doc.instanceId, reason }, 'capacity runner finished');
    return true;
  };

  const update = async (name: string, change: (doc: RunnerDoc) => Partial<RunnerDoc>): Promise<boolean> => {
    const current = await store.getDoc(CAPACITY_RUNNER_KIND, name);
    if (current === undefined) return false;
    const doc = asRunner(current.value);
    const written = await store.putDoc(
      CAPACITY_RUNNER_KIND,
      name,
      { ...current.value, ...change(doc) },
      {
        expiresAt: doc.expiresAt,
        ifVersion: current.version,
      },
    );
    return written !== undefined;
  };

  async function jobEvent(event: CapacityJobEvent): Promise<CapacityOutcome> {
    const slotName = runnerNameFor(`${repoKey(event.repo)}:job:${event.jobId}`);
    switch (event.action) {
      case 'queued': {
        const decision = decideCapacity(event.labels, routes);
        if (decision.kind === 'ignore') return { kind: 'ignored', reason: decision.reason };
        if (decision.kind === 'skip') return { kind: 'skipped', reason: decision.reason };
        await watch(event.repo, event.installationId);
        return launch(
          `${repoKey(event.repo)}:job:${event.jobId}`,
          event.repo,
          event.labels,
          event.installationId,
          event.jobId,
        );
      }
      case 'waiting':
        return { kind: 'ignored', reason: 'the job waits for an approval or a concurrency group' };
      case 'in_progress': {
        const name = event.runnerName;
        if (
          name === undefined ||
          !(await update(name, () => ({ state: 'busy', jobId: event.jobId, due: clock() + checkEvery })))
        )
          return { kind: 'ignored', reason: 'the job runs on a runner spotcheck did not start' };
        return { kind: 'busy', runnerName: name };
      }
      case 'completed': {
        const done: string[] = [];
        // The runner that ran it first: when it is the slot's runner too, the slot is gone after.
        if (event.runnerName !== undefined && (await finish(event.runnerName, 'its job completed')))
          done.push(event.runnerName);
        const slot = await store.getDoc(CAPACITY_RUNNER_KIND, slotName);
        if (slotEndsWith(event.jobId, slot === undefined ? undefined : asRunner(slot.value)))
          if (await finish(slotName, 'the job it was launched for completed')) done.push(slotName);
        return done.length > 0
          ? { kind: 'finished', runnerNames: done }
          : { kind: 'ignored', reason: 'no runner of ours' };
      }
    }
  }

  async function push(event: Parameters<CapacityManager['push']>[0]): Promise<CapacityOutcome[]> {
    if (capacityRoutes(routes).size === 0) return [];
    const forge = await capacityOf(event.repo, undefined);
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
      const outcome = await launch(`${base}:${index}`, event.repo, p.labels, undefined, undefined);
      if (outcome.kind === 'launched') launched.push(outcome.runnerName);
      outcomes.push(outcome);
    }
    if (outcomes.some((o) => o.kind !== 'ignored')) await watch(event.repo, undefined, launched);
    return outcomes;
  }

  async function reconcile(): Promise<CapacityOutcome[]> {
    const outcomes: CapacityOutcome[] = [];
    const due = await store.listDocs(CAPACITY_REPO_KIND, { dueBefore: clock(), limit: 50 });
    for (const entry of due) {
      const repoDoc = entry.value as unknown as RepoDoc;
      const repo = repoOf(repoDoc);
      try {
        const forge = await capacityOf(repo, repoDoc.installationId);
        if (forge === undefined) continue;
        const jobs = await forge.listQueuedJobs(repo);
        // Push-path runners still waiting for their first job: each may serve one queued job (bound, not relaunched).
        const unbound: { readonly name: string; readonly labels: readonly string[] }[] = [];
        for (const name of repoDoc.unbound) {
          const doc = await store.getDoc(CAPACITY_RUNNER_KIND, name);
          const runner = doc === undefined ? undefined : asRunner(doc.value);
          if (runner !== undefined && runner.state !== 'busy' && runner.jobId === undefined)
            unbound.push({ name, labels: runner.labels });
        }
        for (const job of jobs) {
          if (decideCapacity(job.labels, routes).kind !== 'launch') continue;
          const slot = `${repoKey(repo)}:job:${job.jobId}`;
          if ((await store.getDoc(CAPACITY_RUNNER_KIND, runnerNameFor(slot))) !== undefined) continue;
          const at = findServingRunner(job.labels, unbound);
          if (at !== -1) {
            const [runner] = unbound.splice(at, 1);
            if (runner !== undefined && (await update(runner.name, () => ({ jobId: job.jobId })))) continue;
          }
          outcomes.push(await launch(slot, repo, job.labels, repoDoc.installationId, job.jobId));
        }
        const now = clock();
        await store.putDoc(
          CAPACITY_REPO_KIND,
          entry.key,
          { ...entry.value, due: now + reconcileEvery, unbound: unbound.map((u) => u.name) },
          { expiresAt: repoDoc.seenAt + DEFAULT_WATCH_MS, ifVersion: entry.version },
        );
      } catch (error) {
        log?.warn({ err: error, repo: repoKey(repo) }, 'capacity reconcile failed for a repository');
      }
    }
    return outcomes;
  }

  /** Asks EC2 and the forge what `judgeRunner` needs, applies its decision; true when the runner was finished. */
  async function sweepRunner(name: string, doc: RunnerDoc, now: number): Promise<boolean> {
    const view = { ...doc, hasInstance: doc.instanceId !== undefined };
    const limits = { now, graceMs, checkEveryMs: checkEvery };
    let decision = judgeRunner(view, { name }, limits);
    if (decision.kind !== 'forget' && decision.kind !== 'wait' && doc.instanceId !== undefined) {
      const alive = await isInstanceAlive(opts.ec2(doc.region), doc.instanceId);
      const job =
        !alive || doc.jobId === undefined
          ? undefined
          : await (await capacityOf(repoOf(doc), doc.installationId))?.getJob(repoOf(doc), doc.jobId);
      decision = judgeRunner(view, { name, alive, ...(job === undefined ? {} : { job }) }, limits);
    }
    switch (decision.kind) {
      case 'forget':
        await store.deleteDoc(CAPACITY_RUNNER_KIND, name);
        return false;
      case 'wait':
        return false;
      case 'finish':
        return finish(name, decision.reason);
      case 'busy':
        await update(name, () => ({ state: 'busy', due: decision.due }));
        return false;
      case 'reschedule':
        await update(name, () => ({ due: decision.due }));
        return false;
    }
  }

  async function sweep(): Promise<SweepSummary> {
    const finished: string[] = [];
    const now = clock();
    for (const entry of await store.listDocs(CAPACITY_RUNNER_KIND, { dueBefore: now, limit: 100 })) {
      const doc = asRunner(entry.value);
      const name = entry.key;
      try {
        const outcome = await sweepRunner(name, doc, now);
        if (outcome) finished.push(name);
      } catch (error) {
        log?.warn({ err: error, runner: name }, 'capacity sweep failed for a runner');
      }
    }
    const orphansTerminated: string[] = [];
    const regions = new Set([...capacityRoutes(routes).values()].map((r) => spotSettingsOf(r).region));
    for (const region of regions) {
      const ec2 = opts.ec2(region);
      for (const instance of await listCapacityInstances(ec2)) {
        // A booting instance is not judged: no store read for it.
        if (!isOrphan(instance, undefined, { now, graceMs })) continue;
        const doc =
          instance.runnerName === undefined ? undefined : await store.getDoc(CAPACITY_RUNNER_KIND, instance.runnerName);
        const recorded = doc === undefined ? undefined : asRunner(doc.value).instanceId;
        if (!isOrphan(instance, recorded, { now, graceMs })) continue;
        await terminateCapacityInstance(ec2, instance.instanceId);
        orphansTerminated.push(instance.instanceId);
        log?.info({ instanceId: instance.instanceId, runner: instance.runnerName }, 'capacity orphan terminated');
      }
    }
    return { finished, orphansTerminated };
  }

  async function exchange(token: string): Promise<ExchangeResult> {
    const redeemed = await redeemBootstrapToken(store, token, clock());
    if (!redeemed.ok) return { ok: false, status: 401, reason: 'invalid bootstrap token' };
    if (redeemed.ref.runId !== CAPACITY_BOOTSTRAP_RUN)
      return { ok: false, status: 409, reason: 'not a capacity runner' };
    const name = redeemed.ref.orderId;
    const current = await store.getDoc(CAPACITY_RUNNER_KIND, name);
    if (current === undefined) return { ok: false, status: 409, reason: 'the runner is not known (ended)' };
    const doc = asRunner(current.value);
    let registration: RunnerRegistration;
    try {
      const forge = await capacityOf(repoOf(doc), doc.installationId);
      if (forge === undefined) throw new Error(`no ${doc.forge} forge`);
      registration = await forge.register(repoOf(doc), { name, labels: doc.labels });
    } catch (error) {
      // Not the instance's fault: the token is given back so its retry can work.
      log?.warn({ err: error, runner: name }, 'capacity bootstrap: no registration from the forge');
      await store.release(redeemed.claimKey);
      return { ok: false, status: 503, reason: 'the forge gave no registration; retry' };
    }
    if (registration.kind === 'github') {
      await update(name, () => ({ runnerId: registration.runnerId }));
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

  return { jobEvent, push, reconcile, sweep, exchange };
}
