/**
 * The runner lifecycle of capacity mode, shared by the manager's steps (capacity-manager.ts): a runner document per
 * runner (kind `capacity-runner`, keyed by the runner's name, derived from its job slot), a document per watched
 * repository (kind `capacity-repo`), and the primitives on them: find the forge's capacity operations, watch a
 * repository, launch a runner (claim its document, mint its bootstrap token, start its Spot instance), update one,
 * and finish one (instance gone, runner removed from the forge, document deleted).
 */
import { createHash } from 'node:crypto';
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { Logger } from 'pino';
import { spotSettingsOf } from '../../runners/route-settings.ts';
import type { Route } from '../../runners/runner.ts';
import { renderCapacityUserData } from '../../runners/user-data.ts';
import { mintBootstrapToken } from '../server/bootstrap-tokens.ts';
import { decideCapacity } from '../core/capacity.ts';
import type { ForgeKind, RepoRef } from '../core/types.ts';
import type { DocValue, Store } from '../store/store.ts';
import { ConfigError } from '../errors.ts';
import type { CapacityForge } from '../forges/forge.ts';
import type { ForgeLookup } from '../intake/intents.ts';
import { isInstanceAlive, launchCapacityInstance, terminateCapacityInstance } from '../../runners/capacity-launch.ts';

export const CAPACITY_RUNNER_KIND = 'capacity-runner';
export const CAPACITY_REPO_KIND = 'capacity-repo';
/** Bootstrap tokens of capacity runners carry this run id (src/server/bootstrap-tokens.ts stores run/order/attempt). */
export const CAPACITY_BOOTSTRAP_RUN = 'capacity';
export const DEFAULT_IDLE_MINUTES = 20;
export const DEFAULT_CHECK_EVERY_MS = 5 * 60_000;
export const DEFAULT_RECONCILE_EVERY_MS = 2 * 60_000;
/** A repository with no capacity event for this long is no longer reconciled. */
export const DEFAULT_WATCH_MS = 7 * 86_400_000;
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
export interface RunnerDoc {
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

export interface RepoDoc {
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

export function runnerNameFor(slot: string): string {
  return `spotcheck-${createHash('sha256').update(slot).digest('hex').slice(0, 20)}`;
}

export function repoKey(repo: RepoRef): string {
  return `${repo.forge}:${repo.host.toLowerCase()}:${repo.owner}/${repo.name}`;
}

export function repoOf(doc: Pick<RunnerDoc, 'forge' | 'host' | 'owner' | 'name'>): RepoRef {
  return { forge: doc.forge, host: doc.host, owner: doc.owner, name: doc.name };
}

/** The slot of a job: one runner per job, whichever of the webhook and the reconcile sees it first. */
export function jobSlot(repo: RepoRef, jobId: number): string {
  return `${repoKey(repo)}:job:${jobId}`;
}

export function asRunner(value: DocValue): RunnerDoc {
  return value as unknown as RunnerDoc;
}

/** What every step of the manager works with: the options, defaults applied. */
export interface ManagerContext {
  readonly store: Pick<Store, 'putDoc' | 'getDoc' | 'deleteDoc' | 'listDocs' | 'claim' | 'release'>;
  readonly routes: ReadonlyMap<string, Route>;
  readonly forges: ForgeLookup;
  readonly ec2: (region: string | undefined) => EC2Client;
  readonly bootstrapUrl: string;
  readonly clock: () => number;
  readonly log: Logger | undefined;
  readonly graceMs: number;
  readonly checkEvery: number;
  readonly reconcileEvery: number;
}

/** The capacity operations of the repository's forge, or undefined when no forge serves it or it has none. */
export async function capacityOf(
  ctx: ManagerContext,
  repo: RepoRef,
  installationId: number | undefined,
): Promise<CapacityForge | undefined> {
  if (repo.forge === 'local') return undefined;
  try {
    const install = {
      forge: repo.forge,
      host: repo.host,
      ...(installationId === undefined ? {} : { installationId }),
    };
    return (await ctx.forges.forInstallation(install)).capacity;
  } catch (error) {
    // No forge of this kind or host is configured on this server.
    if (error instanceof ConfigError) return undefined;
    throw error;
  }
}

/** Records that a repository uses capacity mode (and, for the push path, its unbound runners). */
export async function watchRepo(
  ctx: ManagerContext,
  repo: RepoRef,
  installationId: number | undefined,
  addUnbound: readonly string[] = [],
) {
  const { store, clock, reconcileEvery } = ctx;
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
}

export async function launchRunner(
  ctx: ManagerContext,
  slot: string,
  repo: RepoRef,
  labels: readonly string[],
  installationId: number | undefined,
  jobId: number | undefined,
): Promise<CapacityOutcome> {
  const { store, clock, log, graceMs, routes } = ctx;
  const decision = decideCapacity(labels, routes);
  if (decision.kind === 'ignore') return { kind: 'ignored', reason: decision.reason };
  if (decision.kind === 'skip') return { kind: 'skipped', reason: decision.reason };
  const forge = await capacityOf(ctx, repo, installationId);
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
      'capacity',
      { runId: CAPACITY_BOOTSTRAP_RUN, orderId: name, attempt: 1 },
      idleMs + graceMs,
      now,
    );
    userData = renderCapacityUserData({
      bootstrapUrl: ctx.bootstrapUrl,
      bootstrapToken: token,
      maxLifetimeMinutes: settings.maxLifetimeMinutes,
      forge: doc.forge,
    }).base64;
  } catch (error) {
    await store.deleteDoc(CAPACITY_RUNNER_KIND, name);
    return { kind: 'failed', reason: `cannot prepare the runner: ${(error as Error).message}`, retryable: true };
  }
  const outcome = await launchCapacityInstance(ctx.ec2(settings.region), settings, {
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
  log?.info({ runner: name, instanceId: outcome.instanceId, route: decision.label, jobId }, 'capacity runner launched');
  return { kind: 'launched', runnerName: name, instanceId: outcome.instanceId, route: decision.label };
}

/** Instance gone (terminated if not), runner removed from the forge, document deleted. */
export async function finishRunner(ctx: ManagerContext, name: string, reason: string): Promise<boolean> {
  const { store, clock, log } = ctx;
  const current = await store.getDoc(CAPACITY_RUNNER_KIND, name);
  if (current === undefined) return false;
  const doc = asRunner(current.value);
  try {
    if (doc.instanceId !== undefined) {
      const ec2 = ctx.ec2(doc.region);
      if (await isInstanceAlive(ec2, doc.instanceId)) await terminateCapacityInstance(ec2, doc.instanceId);
    }
    const forge = await capacityOf(ctx, repoOf(doc), doc.installationId);
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
}

export async function updateRunner(
  ctx: ManagerContext,
  name: string,
  change: (doc: RunnerDoc) => Partial<RunnerDoc>,
): Promise<boolean> {
  const { store } = ctx;
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
}
