import { describe, expect, it } from 'vitest';
import {
  enterJobGroup,
  isOrderOf,
  jobGroupDoc,
  jobGroupKey,
  memberOf,
  readJobGroupDoc,
  settleJobGroup,
  type GroupMember,
  type JobGroupState,
} from '../../src/core/job-concurrency.ts';
import { planWorkflows } from '../../src/core/plan-workflows.ts';
import type { RepoRef, WorkflowRef } from '../../src/core/types.ts';
import { formatDiagnostic } from '../../src/core/workflow/parse-workflow.ts';
import { readCallees, type DEFERRED } from '../../src/intake/read-callees.ts';

const A: GroupMember = { runId: 'r1', unit: 'deploy', since: 1 };
const B: GroupMember = { runId: 'r2', unit: 'deploy', since: 2 };
const C: GroupMember = { runId: 'r3', unit: 'deploy', since: 3 };
const NOW = 100;

const state = (over: Partial<JobGroupState> = {}): JobGroupState => ({ group: 'Prod', ending: [], ...over });
const liveExcept =
  (...dead: GroupMember[]) =>
  (m: GroupMember): boolean =>
    !dead.some((d) => d.runId === m.runId && d.unit === m.unit);
const names = (members: readonly { member: GroupMember }[]): string[] => members.map((e) => e.member.runId);

describe('enterJobGroup', () => {
  const cases: {
    name: string;
    read: JobGroupState | undefined;
    candidate: GroupMember;
    cancelInProgress?: boolean;
    dead?: GroupMember[];
    verdict: 'run' | 'wait';
    running?: string;
    pending?: string;
    ending?: string[];
    changed?: boolean;
  }[] = [
    { name: 'a free group is taken', read: undefined, candidate: A, verdict: 'run', running: 'r1', changed: true },
    {
      name: 'the holder asking again runs, nothing written',
      read: state({ running: A }),
      candidate: A,
      verdict: 'run',
      running: 'r1',
      changed: false,
    },
    {
      name: 'a busy group makes the candidate wait',
      read: state({ running: A }),
      candidate: B,
      verdict: 'wait',
      running: 'r1',
      pending: 'r2',
      changed: true,
    },
    {
      name: 'a newer waiting member cancels the older waiting one',
      read: state({ running: A, pending: B }),
      candidate: C,
      verdict: 'wait',
      running: 'r1',
      pending: 'r3',
      ending: ['r2'],
    },
    {
      name: 'the pending member asking again still waits, nothing written',
      read: state({ running: A, pending: B }),
      candidate: B,
      verdict: 'wait',
      running: 'r1',
      pending: 'r2',
      changed: false,
    },
    {
      name: 'cancel-in-progress cancels the running and the pending member and runs',
      read: state({ running: A, pending: B }),
      candidate: C,
      cancelInProgress: true,
      verdict: 'run',
      running: 'r3',
      ending: ['r1', 'r2'],
    },
    {
      name: 'a holder whose orders all ended no longer counts',
      read: state({ running: A }),
      candidate: B,
      dead: [A],
      verdict: 'run',
      running: 'r2',
    },
    {
      name: 'a free group with a stale pending member: the newer candidate runs, the pending one is cancelled',
      read: state({ running: A, pending: B }),
      candidate: C,
      dead: [A],
      verdict: 'run',
      running: 'r3',
      ending: ['r2'],
    },
    {
      name: 'the pending member of a free group is promoted',
      read: state({ running: A, pending: B }),
      candidate: B,
      dead: [A],
      verdict: 'run',
      running: 'r2',
    },
    {
      name: 'a member the group already ended waits for its cancellation',
      read: state({ running: A, ending: [{ member: B, reason: 'x' }] }),
      candidate: B,
      verdict: 'wait',
      running: 'r1',
      ending: ['r2'],
      changed: false,
    },
    {
      name: 'endings already applied are dropped',
      read: state({ running: A, ending: [{ member: B, reason: 'x' }] }),
      candidate: A,
      dead: [B],
      verdict: 'run',
      running: 'r1',
      changed: true,
    },
  ];
  it.each(cases)('$name', (c) => {
    const entry = enterJobGroup(
      c.read,
      'prod',
      c.candidate,
      c.cancelInProgress ?? false,
      liveExcept(...(c.dead ?? [])),
    );
    expect(entry.verdict).toBe(c.verdict);
    expect(entry.next.running?.runId).toBe(c.running);
    expect(entry.next.pending?.runId).toBe(c.pending);
    expect(names(entry.ending)).toEqual(c.ending ?? []);
    expect(names(entry.next.ending)).toEqual(c.ending ?? []);
    if (c.changed !== undefined) expect(entry.changed).toBe(c.changed);
  });

  it('says why each member ends, naming the group as first written', () => {
    const waiting = enterJobGroup(state({ running: A, pending: B }), 'prod', C, false, liveExcept());
    expect(waiting.ending[0]?.reason).toBe('cancelled: a newer job in concurrency group "Prod" is waiting');
    const cancelling = enterJobGroup(state({ running: A, pending: B }), 'prod', C, true, liveExcept());
    expect(cancelling.ending.map((e) => e.reason)).toEqual([
      'cancelled: a newer job in concurrency group "Prod" started (cancel-in-progress)',
      'cancelled: a newer job in concurrency group "Prod" is waiting',
    ]);
  });
});

describe('settleJobGroup', () => {
  it.each([
    {
      name: 'a live holder keeps the group',
      read: state({ running: A, pending: B }),
      dead: [],
      promote: undefined,
      running: 'r1',
    },
    {
      name: 'an ended holder passes it to the pending member',
      read: state({ running: A, pending: B }),
      dead: [A],
      promote: 'r2',
      running: 'r2',
    },
    {
      name: 'an ended holder with nobody waiting frees it',
      read: state({ running: A }),
      dead: [A],
      promote: undefined,
      running: undefined,
    },
    {
      name: 'a lone pending member takes a free group',
      read: state({ pending: B }),
      dead: [],
      promote: 'r2',
      running: 'r2',
    },
  ])('$name', ({ read, dead, promote, running }) => {
    const settled = settleJobGroup(read, liveExcept(...dead), NOW);
    expect(settled.next.running?.runId).toBe(running);
    expect(settled.promote?.runId).toBe(promote);
    if (promote !== undefined) expect(settled.next.running).toEqual({ ...settled.promote, since: NOW });
    expect(settled.next.pending).toBe(promote === undefined ? read.pending : undefined);
  });

  it('writes nothing when nothing ended', () => {
    expect(settleJobGroup(state({ running: A, pending: B }), liveExcept(), NOW).changed).toBe(false);
    expect(settleJobGroup(state({ running: A }), liveExcept(A), NOW).changed).toBe(true);
  });
});

describe('group keys, members and documents', () => {
  const repo: RepoRef = { forge: 'github', host: 'GitHub.com', owner: 'Octo', name: 'App' };

  it('a group is one per repository, whatever the case of its name (GitHub: case-insensitive)', () => {
    expect(jobGroupKey(repo, 'Deploy-Prod')).toBe(jobGroupKey({ ...repo, owner: 'octo' }, 'deploy-prod'));
    expect(jobGroupKey(repo, 'deploy')).not.toBe(jobGroupKey({ ...repo, name: 'other' }, 'deploy'));
  });

  it('a called workflow is one member, named by its calling order', () => {
    const unit = memberOf({ runId: 'r1', id: 'call.build', concurrencyUnit: 'call' }, 5);
    expect(unit).toEqual({ runId: 'r1', unit: 'call', whole: true, since: 5 });
    expect(isOrderOf(unit, { runId: 'r1', id: 'call.test', concurrencyUnit: 'call' })).toBe(true);
    expect(isOrderOf(unit, { runId: 'r1', id: 'call' })).toBe(false);
    const own = memberOf({ runId: 'r1', id: 'deploy' }, 5);
    expect(isOrderOf(own, { runId: 'r1', id: 'deploy' })).toBe(true);
    expect(isOrderOf(own, { runId: 'r2', id: 'deploy' })).toBe(false);
  });

  it('a document reads back as the state it was written from, listed (due) only while the group has members', () => {
    const busy = state({ running: A, pending: { ...B, whole: true }, ending: [{ member: C, reason: 'why' }] });
    const doc = jobGroupDoc(busy, NOW);
    expect(doc['due']).toBe(NOW);
    expect(readJobGroupDoc(JSON.parse(JSON.stringify(doc)) as Record<string, unknown>)).toEqual(busy);
    expect(jobGroupDoc(state(), NOW)['due']).toBeUndefined();
    expect(readJobGroupDoc({ group: 1 })).toBeUndefined();
  });
});

describe("planning a calling job's concurrency", () => {
  const CALLEE = [
    'on: {workflow_call: {}}',
    'jobs:',
    '  build: {runs-on: linux, steps: [{run: make}]}',
    '  test:',
    '    needs: build',
    '    runs-on: linux',
    '    concurrency: own-${{ github.ref }}',
    '    steps: [{run: make test}]',
  ].join('\n');

  async function planCaller(caller: string) {
    const sources = [{ path: '.spotcheck/workflows/ci.yml', text: caller }];
    const read = (ref: WorkflowRef): Promise<string | undefined | typeof DEFERRED> =>
      Promise.resolve(ref.kind === 'local' && ref.path === '.github/workflows/build.yml' ? CALLEE : undefined);
    const result = planWorkflows(
      sources,
      { kind: 'push', ref: 'refs/heads/main', deleted: false, changedFiles: null },
      {
        event: 'push',
        ref: 'refs/heads/main',
        sha: 'a'.repeat(40),
        repository: 'acme/app',
        actor: 'mona',
        serverUrl: 'https://github.com',
      },
      undefined,
      await readCallees(sources, read),
    );
    expect(result.diagnostics.map(formatDiagnostic)).toEqual([]);
    return result.decisions[0]?.plan?.orders ?? [];
  }

  it("puts every order of the callee in the caller's group, as one member named by the calling order", async () => {
    const orders = await planCaller(
      [
        'on: push',
        'jobs:',
        '  deploy:',
        '    strategy: {matrix: {env: [staging, prod]}}',
        '    concurrency: {group: "deploy-${{ matrix.env }}", cancel-in-progress: true}',
        '    uses: ./.github/workflows/build.yml',
      ].join('\n'),
    );
    expect(orders.map((o) => [o.id, o.concurrency?.group, o.concurrencyUnit])).toEqual([
      ['deploy.1.build', 'deploy-staging', 'deploy.1'],
      ['deploy.1.test', 'deploy-staging', 'deploy.1'],
      ['deploy.2.build', 'deploy-prod', 'deploy.2'],
      ['deploy.2.test', 'deploy-prod', 'deploy.2'],
    ]);
    expect(orders.every((o) => o.concurrency?.cancelInProgress === true)).toBe(true);
  });

  it("leaves a callee job's own concurrency alone when the calling job declares none", async () => {
    const orders = await planCaller(
      ['on: push', 'jobs:', '  ci:', '    uses: ./.github/workflows/build.yml'].join('\n'),
    );
    expect(orders.map((o) => [o.id, o.concurrency?.group, o.concurrencyUnit])).toEqual([
      ['ci.build', undefined, undefined],
      ['ci.test', 'own-refs/heads/main', undefined],
    ]);
  });
});
