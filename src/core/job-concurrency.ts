/**
 * Job-level concurrency groups (GitHub's `jobs.<job_id>.concurrency`, "Using concurrency"): in one repository, at
 * most one job of a group runs and at most one waits. A job that becomes ready while another of its group runs waits
 * (without `cancel-in-progress`), and "any previously pending job or workflow in the concurrency group will be
 * canceled"; with `cancel-in-progress: true` the running one is cancelled and the new one starts. Group names are
 * case-insensitive.
 *
 * The group's state is one small document per repository and group (`JobGroupState`), written with a version
 * condition by the orchestrator, so two replicas agree on who holds it. It is a claim, checked against the orders
 * themselves: a member whose orders are all final no longer counts (`live`), whatever the document says, so a crash
 * between the document's write and the orders' writes is repaired by settling the group again (the watchdog does).
 * Pure: the orchestrator reads the document and the members' orders, asks, writes.
 */
import type { OrderRecord, RepoRef } from './types.ts';

/** A stored document's value, in the store's shape (src/store/store.ts `DocValue`). */
export type JobGroupDoc = Readonly<Record<string, unknown>>;

/** The document kind job groups are kept under. */
export const JOB_GROUP_DOC = 'job-group';

/**
 * Who holds or waits for a group: an order, or (`whole`) every order of a called workflow whose calling job declared
 * the concurrency (GitHub: the calling job's concurrency governs the called workflow as a unit), named by the calling
 * order's id.
 */
export interface GroupMember {
  readonly runId: string;
  readonly unit: string;
  readonly whole?: true;
  /** Epoch ms when it took its place (running or pending). */
  readonly since: number;
}

/** A member that must end, and the reason its orders are cancelled with. */
export interface GroupEnding {
  readonly member: GroupMember;
  readonly reason: string;
}

export interface JobGroupState {
  /** The group as first written (shown in reasons); the document's key is the lowercased name. */
  readonly group: string;
  readonly running?: GroupMember;
  readonly pending?: GroupMember;
  /** Members cancelled by the group whose cancellation may not have been applied yet (kept while live). */
  readonly ending: readonly GroupEnding[];
}

/** Whether a member still has an order that is not final (the orchestrator answers from the orders it loaded). */
export type Liveness = (member: GroupMember) => boolean;

/** The document key of a group: the repository (case-insensitive, as the forges treat it) and the lowercased group. */
export function jobGroupKey(repo: RepoRef, group: string): string {
  return [repo.forge, repo.host, repo.owner, repo.name, group].map((p) => p.toLowerCase()).join('/');
}

/** The member an order stands for in its group. */
export function memberOf(order: Pick<OrderRecord, 'runId' | 'id' | 'concurrencyUnit'>, since: number): GroupMember {
  return order.concurrencyUnit === undefined
    ? { runId: order.runId, unit: order.id, since }
    : { runId: order.runId, unit: order.concurrencyUnit, whole: true, since };
}

export function sameMember(a: GroupMember | undefined, b: GroupMember | undefined): boolean {
  return a !== undefined && b !== undefined && a.runId === b.runId && a.unit === b.unit;
}

/** Whether an order belongs to a member (the member's one order, or an order of its called workflow). */
export function isOrderOf(member: GroupMember, order: Pick<OrderRecord, 'runId' | 'id' | 'concurrencyUnit'>): boolean {
  if (order.runId !== member.runId) return false;
  return member.whole === true ? order.concurrencyUnit === member.unit : order.id === member.unit;
}

/** A cancelled waiting member's reason (GitHub cancels the older pending job when a newer one arrives). */
export const supersededReason = (group: string): string =>
  `cancelled: a newer job in concurrency group "${group}" is waiting`;
/** A cancelled running member's reason (`cancel-in-progress: true`). */
export const cancelledInProgressReason = (group: string): string =>
  `cancelled: a newer job in concurrency group "${group}" started (cancel-in-progress)`;
/** What a waiting order shows. */
export const waitingReason = (group: string): string => `waiting for concurrency group "${group}"`;

export interface GroupEntry {
  /** `run`: dispatch the candidate; `wait`: it stays queued as the group's pending member. */
  readonly verdict: 'run' | 'wait';
  readonly next: JobGroupState;
  /** Whether `next` differs from the state read (else nothing to write). */
  readonly changed: boolean;
  /** Members to cancel once `next` is written (the earlier endings still live included). */
  readonly ending: readonly GroupEnding[];
}

/**
 * A candidate whose job is ready to run asks its group. Already holding it: run. With cancel-in-progress: take it,
 * ending the running and the pending member. Group free (nothing live runs): take it, ending a pending member that is
 * not the candidate (it is newer). Otherwise wait as the one pending member, ending the one it replaces.
 */
export function enterJobGroup(
  read: JobGroupState | undefined,
  group: string,
  candidate: GroupMember,
  cancelInProgress: boolean,
  live: Liveness,
): GroupEntry {
  const state = pruned(read, group, live);
  const endingBefore = state.ending;
  const decide = (
    verdict: GroupEntry['verdict'],
    next: Omit<JobGroupState, 'group' | 'ending'>,
    ends: GroupEnding[],
  ): GroupEntry => {
    const ending = [...endingBefore, ...ends];
    const full: JobGroupState = { group: state.group, ...next, ending };
    return { verdict, next: full, changed: !sameState(read, full), ending };
  };
  const keep = {
    ...(state.running ? { running: state.running } : {}),
    ...(state.pending ? { pending: state.pending } : {}),
  };
  // A candidate the group has already cancelled waits for that cancellation, which the caller applies.
  if (endingBefore.some((e) => sameMember(e.member, candidate))) return decide('wait', keep, []);
  if (sameMember(state.running, candidate)) return decide('run', keep, []);
  const others = [state.running, state.pending].filter(
    (m): m is GroupMember => m !== undefined && !sameMember(m, candidate),
  );
  if (cancelInProgress) {
    return decide(
      'run',
      { running: candidate },
      others.map((member) => ({
        member,
        reason: sameMember(member, state.running)
          ? cancelledInProgressReason(state.group)
          : supersededReason(state.group),
      })),
    );
  }
  const supersede = (member: GroupMember | undefined): GroupEnding[] =>
    member === undefined || sameMember(member, candidate) ? [] : [{ member, reason: supersededReason(state.group) }];
  if (state.running === undefined) {
    const since = sameMember(state.pending, candidate) ? (state.pending?.since ?? candidate.since) : candidate.since;
    return decide('run', { running: { ...candidate, since } }, supersede(state.pending));
  }
  if (sameMember(state.pending, candidate)) return decide('wait', keep, []);
  return decide('wait', { running: state.running, pending: candidate }, supersede(state.pending));
}

export interface GroupSettlement {
  readonly next: JobGroupState;
  readonly changed: boolean;
  /** The pending member that now holds the group: its ready orders are dispatched. */
  readonly promote?: GroupMember;
  readonly ending: readonly GroupEnding[];
}

/**
 * A member may have ended (an order became final, or the watchdog looks): drop members that are no longer live and
 * promote the pending member when the group is free.
 */
export function settleJobGroup(read: JobGroupState, live: Liveness, now: number): GroupSettlement {
  const state = pruned(read, read.group, live);
  if (state.running === undefined && state.pending !== undefined) {
    const promote = { ...state.pending, since: now };
    const next: JobGroupState = { group: state.group, running: promote, ending: state.ending };
    return { next, changed: true, promote, ending: state.ending };
  }
  return { next: state, changed: !sameState(read, state), ending: state.ending };
}

/** The state without members that are no longer live. */
function pruned(read: JobGroupState | undefined, group: string, live: Liveness): JobGroupState {
  if (read === undefined) return { group, ending: [] };
  return {
    group: read.group,
    ...(read.running !== undefined && live(read.running) ? { running: read.running } : {}),
    ...(read.pending !== undefined && live(read.pending) ? { pending: read.pending } : {}),
    ending: read.ending.filter((e) => live(e.member)),
  };
}

function sameState(a: JobGroupState | undefined, b: JobGroupState): boolean {
  if (a === undefined) return false;
  const same = (x: GroupMember | undefined, y: GroupMember | undefined): boolean =>
    x === undefined ? y === undefined : sameMember(x, y) && x.since === y?.since;
  return (
    same(a.running, b.running) &&
    same(a.pending, b.pending) &&
    a.ending.length === b.ending.length &&
    a.ending.every((e, i) => sameMember(e.member, b.ending[i]?.member))
  );
}

/** Every member the state names (what the orchestrator loads to answer `live`). */
export function membersOf(state: JobGroupState | undefined): GroupMember[] {
  if (state === undefined) return [];
  return [
    ...(state.running ? [state.running] : []),
    ...(state.pending ? [state.pending] : []),
    ...state.ending.map((e) => e.member),
  ];
}

/**
 * The document a state is stored as. A numeric `due` (the write time) lists a group with members for the watchdog;
 * an empty group is not listed.
 */
export function jobGroupDoc(state: JobGroupState, now: number): JobGroupDoc {
  const busy = state.running !== undefined || state.pending !== undefined || state.ending.length > 0;
  return { ...state, ...(busy ? { due: now } : {}) };
}

/** A stored document back to a state; undefined for anything that is not one (then the group counts as free). */
export function readJobGroupDoc(value: JobGroupDoc): JobGroupState | undefined {
  const group = value['group'];
  const ending = value['ending'];
  if (typeof group !== 'string' || !Array.isArray(ending)) return undefined;
  const running = readMember(value['running']);
  const pending = readMember(value['pending']);
  const endings = (ending as unknown[]).flatMap((e) => {
    if (typeof e !== 'object' || e === null) return [];
    const member = readMember((e as Record<string, unknown>)['member']);
    const reason = (e as Record<string, unknown>)['reason'];
    return member !== undefined && typeof reason === 'string' ? [{ member, reason }] : [];
  });
  return {
    group,
    ...(running ? { running } : {}),
    ...(pending ? { pending } : {}),
    ending: endings,
  };
}

function readMember(value: unknown): GroupMember | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  const { runId, unit, since, whole } = v;
  if (typeof runId !== 'string' || typeof unit !== 'string' || typeof since !== 'number') return undefined;
  return { runId, unit, since, ...(whole === true ? { whole: true as const } : {}) };
}
