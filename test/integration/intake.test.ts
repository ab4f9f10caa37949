import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuthorizer } from '../../src/intake/authorize.ts';
import { DEFAULT_LIMITS } from '../../src/config.ts';
import type { RepoRef, RunRecord, WorkflowSource } from '../../src/core/types.ts';
import {
  DEFAULT_WORKFLOW_FOLDER_SETTINGS,
  type WorkflowFolder,
  type WorkflowFolderSettings,
} from '../../src/core/workflow/workflow-files.ts';
import { ForgeError } from '../../src/errors.ts';
import type { VarsSettings } from '../../src/core/vars.ts';
import { createInbox, INBOX_KIND, inboxKey, type InboxEntry } from '../../src/intake/inbox.ts';
import { createIntake, PR_HEAD_KIND, prKey, runIdFor } from '../../src/intake/intake.ts';
import { toPushIntent, type ForgeInstallation, type Intent, type OrderIntent } from '../../src/intake/intents.ts';
import { createDynamoStore, type DynamoStore } from '../../src/store/dynamodb.ts';
import type { EmbeddedStore } from '../../src/store/embedded.ts';
import type { Store } from '../../src/store/store.ts';
import { createIsolatedStore, secondClient, startTestStore } from '../helpers/dynalite.ts';
import { createOrchestratorHarness } from '../helpers/orchestrator-harness.ts';
import { FakeForge } from '../helpers/fake-forge.ts';
import { githubExample } from '../helpers/webhook-examples.ts';

// Near the real clock: the store filters expired records against its own (real) clock.
const T0 = Math.floor(Date.now() / 1000) * 1000;
const SHA_A = 'a'.repeat(40);
const SHA_B = 'b'.repeat(40);
const SHA_0 = 'c'.repeat(40);
const ZERO = '0'.repeat(40);
const REPO: RepoRef = { forge: 'github', host: 'github.com', owner: 'acme', name: 'app' };
const INSTALL: ForgeInstallation = { forge: 'github', host: 'github.com', installationId: 42 };
const PUBLIC_URL = 'https://ci.example.com';

const wf = (name: string, on: string, extra = ''): WorkflowSource => ({
  path: `.spotcheck/workflows/${name}.yml`,
  text: `name: ${name}\non: ${on}\n${extra}jobs:\n  build:\n    runs-on: local\n    steps:\n      - run: echo ${name}\n`,
});
const CI = wf('ci', '{ push: { branches: [main] }, pull_request: {}, testme: {} }');
const DOCS = wf('docs', "{ push: { paths: ['docs/**'] } }");
const RELEASE = wf('release', '{ push: { tags: [v*] } }');
const E2E = wf('e2e', '{ testme: {} }');
const PR_ONLY = wf('lint', '{ pull_request: { branches: [main] } }');
const BAD: WorkflowSource = {
  path: '.spotcheck/workflows/bad.yml',
  text: 'on: push\njobs:\n  build:\n    runs-on: local\n    steps:\n      - uses: actions/checkout\n',
};

const silent = pino({ level: 'silent' });

let embedded: EmbeddedStore;
beforeAll(async () => {
  embedded = await startTestStore();
});
afterAll(async () => {
  await embedded.close();
});

let deliveries = 0;
const nextDelivery = (): string => `delivery-${String(++deliveries)}`;

interface Setup {
  store: DynamoStore;
  forge: FakeForge;
  notices: { pr: number; line: string }[];
  intake: ReturnType<typeof createIntake>;
  runs: () => Promise<RunRecord[]>;
  clock: { now: number };
}

async function setup(
  opts: {
    hang?: boolean;
    store?: DynamoStore;
    workflows?: WorkflowFolderSettings;
    vars?: VarsSettings;
    logger?: pino.Logger;
  } = {},
): Promise<Setup> {
  const clock = { now: T0 + 3_600_000 };
  const store = opts.store ?? (await createIsolatedStore(embedded.client));
  const forge = new FakeForge();
  const { orchestrator } = createOrchestratorHarness({
    store,
    conclude: () => (opts.hang ? 'hang' : 'success'),
    logger: silent,
  });
  const forges = { forInstallation: () => Promise.resolve(forge) };
  const notices: { pr: number; line: string }[] = [];
  const intake = createIntake({
    forges,
    orchestrator,
    store,
    authorizer: createAuthorizer({ forges, now: () => clock.now }),
    config: {
      limits: DEFAULT_LIMITS,
      publicUrl: PUBLIC_URL,
      workflows: opts.workflows ?? DEFAULT_WORKFLOW_FOLDER_SETTINGS,
      ...(opts.vars === undefined ? {} : { vars: opts.vars }),
    },
    notices: (_install, _repo, pr, line) => {
      notices.push({ pr, line });
      return Promise.resolve();
    },
    logger: opts.logger ?? silent,
    now: () => clock.now,
  });
  return { store, forge, notices, intake, runs: () => store.listRuns({ repo: REPO, limit: 100 }), clock };
}

function push(overrides: Partial<Extract<Intent, { kind: 'push' }>> = {}): OrderIntent {
  return {
    kind: 'push',
    deliveryId: nextDelivery(),
    at: T0,
    install: INSTALL,
    repo: REPO,
    ref: 'refs/heads/main',
    before: SHA_0,
    after: SHA_A,
    pusher: 'alice',
    ownerIsOrg: true,
    ...overrides,
  };
}

function pullRequest(overrides: Partial<Extract<Intent, { kind: 'pull_request' }>> = {}): OrderIntent {
  return {
    kind: 'pull_request',
    deliveryId: nextDelivery(),
    at: T0,
    install: INSTALL,
    repo: REPO,
    action: 'opened',
    pr: 7,
    headSha: SHA_A,
    headRef: 'feature',
    baseRef: 'main',
    author: 'bob',
    headRepo: 'bob/app',
    ownerIsOrg: true,
    ...overrides,
  };
}

function testme(overrides: Partial<Extract<Intent, { kind: 'testme' }>> = {}): OrderIntent {
  return {
    kind: 'testme',
    deliveryId: nextDelivery(),
    at: T0 + 60_000,
    install: INSTALL,
    repo: REPO,
    pr: 7,
    commentId: 555,
    commenter: 'carol',
    commentCreatedAt: T0 + 60_000,
    ownerIsOrg: true,
    ...overrides,
  };
}

function openPull(forge: FakeForge, headSha = SHA_A): void {
  forge.pulls.set(7, {
    number: 7,
    state: 'open',
    merged: false,
    headSha,
    headRef: 'feature',
    baseRef: 'main',
    author: 'bob',
    headRepo: 'bob/app',
    updatedAt: T0,
  });
}

describe('push', () => {
  it('one run per matched workflow, deterministic run ids, and only readWorkflows + changedFiles', async () => {
    const s = await setup();
    s.forge.workflows.set(SHA_A, [CI, DOCS, RELEASE]);
    s.forge.compares.set(`${SHA_0}...${SHA_A}`, ['docs/index.md']);
    const intent = push();
    await s.intake.process(intent);

    const runs = await s.runs();
    expect(runs.map((r) => r.runId).sort()).toEqual(
      [
        runIdFor(intent.install, intent.deliveryId, CI.path),
        runIdFor(intent.install, intent.deliveryId, DOCS.path),
      ].sort(),
    );
    expect(runs.every((r) => r.event === 'push' && r.sha === SHA_A && r.actor === 'alice' && r.pr === undefined)).toBe(
      true,
    );
    expect(runs[0]?.installationId).toBe(42);
    expect(runs.every((r) => r.trust === 'member')).toBe(true);
    expect(s.forge.methods()).toEqual(['readWorkflows', 'changedFiles']);
    expect(runIdFor(intent.install, intent.deliveryId, CI.path)).toMatch(/^gh-[0-9a-f]{20}$/);

    // The same intent again (a retry, another replica): nothing new.
    await s.intake.process(intent);
    expect(await s.runs()).toHaveLength(2);
  });

  it('the vars context is the repository’s over its org’s: runs-on, a job name and the run record see it', async () => {
    const vars: VarsSettings = new Map([
      ['acme/*', { RUNNER: 'org-box', STAGE: 'org' }],
      ['acme/app', { STAGE: 'prod' }],
      ['other/*', { STAGE: 'never' }],
    ]);
    const s = await setup({ vars });
    s.forge.workflows.set(SHA_A, [
      {
        path: '.spotcheck/workflows/v.yml',
        text: "on: push\njobs:\n  build:\n    name: deploy ${{ vars.stage }}\n    runs-on: ${{ vars.RUNNER }}\n    if: vars.STAGE == 'prod'\n    steps:\n      - run: echo ${{ vars.STAGE }}\n",
      },
    ]);
    s.forge.compares.set(`${SHA_0}...${SHA_A}`, ['src/a.ts']);
    await s.intake.process(push());
    const [run] = await s.runs();
    expect(run?.vars).toEqual({ RUNNER: 'org-box', STAGE: 'prod' });
    const orders = await s.store.listOrders(run!.runId);
    expect(orders.map((o) => [o.name, o.runsOn])).toEqual([['deploy prod', 'org-box']]);
  });

  it('a new branch (before all zeros): changed files unknown, so path filters match, and no compare request', async () => {
    const s = await setup();
    s.forge.workflows.set(SHA_A, [CI, DOCS]);
    await s.intake.process(push({ before: ZERO }));
    expect((await s.runs()).map((r) => r.workflowName).sort()).toEqual(['ci', 'docs']);
    expect(s.forge.methods()).toEqual(['readWorkflows']);
  });

  it('path filters use the compare; unrelated paths skip', async () => {
    const s = await setup();
    s.forge.workflows.set(SHA_A, [CI, DOCS]);
    s.forge.compares.set(`${SHA_0}...${SHA_A}`, ['src/main.ts']);
    await s.intake.process(push());
    expect((await s.runs()).map((r) => r.workflowName)).toEqual(['ci']);
  });

  it('no workflow files: one request, nothing runs', async () => {
    const s = await setup();
    await s.intake.process(push());
    expect(s.forge.methods()).toEqual(['readWorkflows']);
    expect(await s.runs()).toEqual([]);
  });

  it('an invalid workflow file becomes a failed status with its first error; valid ones still run', async () => {
    const s = await setup();
    s.forge.workflows.set(SHA_A, [CI, BAD]);
    await s.intake.process(push({ before: ZERO }));
    expect((await s.runs()).map((r) => r.workflowName)).toEqual(['ci']);
    expect(s.forge.statuses).toHaveLength(1);
    const { sha, ...status } = s.forge.statuses[0]!;
    expect(sha).toBe(SHA_A);
    expect(status).toMatchObject({ context: 'spotcheck/bad.yml', state: 'failure', targetUrl: `${PUBLIC_URL}/runs` });
    expect(status.description).toMatch(/^6:\d+ .*uses/);
    expect(status.description.length).toBeLessThanOrEqual(140);
  });
});

describe('workflow folders', () => {
  /** acme/app reads .github/workflows first; the rest of acme reads .gitea/workflows. */
  const FOLDERS: WorkflowFolderSettings = {
    folders: ['.spotcheck/workflows'],
    repos: new Map<string, readonly WorkflowFolder[]>([
      ['acme/*', ['.gitea/workflows']],
      ['acme/app', ['.github/workflows', '.spotcheck/workflows']],
    ]),
  };
  const ACTIONS: WorkflowSource = {
    ...wf('actions', '{ push: {}, pull_request: {} }'),
    path: '.github/workflows/actions.yml',
  };
  const GITEA: WorkflowSource = {
    ...wf('gitea', '{ push: {}, pull_request: {} }'),
    path: '.gitea/workflows/gitea.yml',
  };

  it("a push reads the repository's own folders, in order, and runs the workflows found there", async () => {
    const s = await setup({ workflows: FOLDERS });
    s.forge.workflows.set(SHA_A, [CI, ACTIONS, GITEA]);
    s.forge.compares.set(`${SHA_0}...${SHA_A}`, ['src/a.ts']);
    await s.intake.process(push());
    expect(s.forge.calls.find((c) => c.method === 'readWorkflows')?.args).toEqual([
      REPO,
      SHA_A,
      ['.github/workflows', '.spotcheck/workflows'],
    ]);
    expect((await s.runs()).map((r) => r.workflowName).sort()).toEqual(['actions', 'ci']);
  });

  it('a pull request reads the same folders at its head', async () => {
    const s = await setup({ workflows: FOLDERS });
    s.forge.addMember('acme', 'bob');
    s.forge.workflows.set(SHA_A, [ACTIONS, GITEA]);
    s.forge.prFiles.set(7, ['src/a.ts']);
    await s.intake.process(pullRequest());
    expect(s.forge.calls.find((c) => c.method === 'readWorkflows')?.args).toEqual([
      REPO,
      SHA_A,
      ['.github/workflows', '.spotcheck/workflows'],
    ]);
    expect((await s.runs()).map((r) => r.workflowName)).toEqual(['actions']);
  });
});

describe('pull_request', () => {
  it('a member author: runs pull_request workflows at the head, records the head', async () => {
    const s = await setup();
    s.forge.addMember('acme', 'bob');
    s.forge.workflows.set(SHA_A, [CI, DOCS, PR_ONLY, E2E]);
    s.forge.prFiles.set(7, ['src/a.ts']);
    const intent = pullRequest();
    await s.intake.process(intent);
    const runs = await s.runs();
    expect(runs.map((r) => r.workflowName).sort()).toEqual(['ci', 'lint']);
    expect(runs.every((r) => r.pr === 7 && r.actor === 'bob' && r.event === 'pull_request' && r.sha === SHA_A)).toBe(
      true,
    );
    expect(runs[0]?.github).toMatchObject({ base_ref: 'main', head_ref: 'feature', event_name: 'pull_request' });
    expect(runs.every((r) => r.trust === 'member')).toBe(true);
    expect(s.forge.methods()).toEqual(['isOrgMember', 'readWorkflows', 'pullRequestFiles']);
    expect((await s.store.getDoc(PR_HEAD_KIND, prKey(REPO, 7)))?.value).toEqual({ sha: SHA_A, at: T0 });
    expect(s.notices).toEqual([]);
  });

  it('a non-member author: nothing runs, one notice per PR', async () => {
    const s = await setup();
    s.forge.workflows.set(SHA_A, [CI]);
    await s.intake.process(pullRequest());
    await s.intake.process(pullRequest({ action: 'synchronize', headSha: SHA_B, at: T0 + 1000 }));
    expect(await s.runs()).toEqual([]);
    expect(s.notices).toEqual([
      {
        pr: 7,
        line: 'This pull request is from @bob, who is not a member of acme: a member can comment `!testme` to run its workflows.',
      },
    ]);
    expect(s.forge.count('readWorkflows')).toBe(0);
  });

  it('a user-owned repository: the notice names the owner', async () => {
    const s = await setup();
    await s.intake.process(pullRequest({ ownerIsOrg: false }));
    expect(s.notices[0]?.line).toBe(
      'This pull request is from @bob, who does not own acme/app: @acme can comment `!testme` to run its workflows.',
    );
  });

  it('synchronize cancels the runs at older SHAs; closed cancels the rest', async () => {
    const s = await setup({ hang: true });
    s.forge.addMember('acme', 'bob');
    s.forge.workflows.set(SHA_A, [CI]);
    s.forge.workflows.set(SHA_B, [CI]);
    await s.intake.process(pullRequest());
    await s.intake.process(push()); // a branch run of the same repository: not the PR's
    await s.intake.process(pullRequest({ action: 'synchronize', headSha: SHA_B, at: T0 + 1000 }));
    const byStatus = (runs: RunRecord[]) =>
      runs.map((r) => `${r.event}:${r.sha.slice(0, 1)}:${r.status}`).sort((a, b) => a.localeCompare(b));
    expect(byStatus(await s.runs())).toEqual(['pull_request:a:cancelled', 'pull_request:b:running', 'push:a:running']);
    await s.intake.process(pullRequest({ action: 'closed', headSha: SHA_B, at: T0 + 2000 }));
    expect(byStatus(await s.runs())).toEqual([
      'pull_request:a:cancelled',
      'pull_request:b:cancelled',
      'push:a:running',
    ]);
  });

  it('a stale event processed after a newer head neither runs nor cancels', async () => {
    const s = await setup({ hang: true });
    s.forge.addMember('acme', 'bob');
    s.forge.workflows.set(SHA_A, [CI]);
    s.forge.workflows.set(SHA_B, [CI]);
    await s.intake.process(pullRequest({ action: 'synchronize', headSha: SHA_B, at: T0 + 1000 }));
    await s.intake.process(pullRequest({ action: 'opened', headSha: SHA_A, at: T0 }));
    const runs = await s.runs();
    expect(runs.map((r) => [r.sha, r.status])).toEqual([[SHA_B, 'running']]);
    expect((await s.store.getDoc(PR_HEAD_KIND, prKey(REPO, 7)))?.value).toEqual({ sha: SHA_B, at: T0 + 1000 });
  });
});

describe('pull_request activity types', () => {
  const ON_CLOSE = wf('on-close', '{ pull_request: { types: [closed] } }');
  const ON_LABEL = wf('on-label', '{ pull_request: { types: [labeled] } }');

  it('labeled runs only the workflows whose types list it, and keeps the runs at the same head', async () => {
    const s = await setup({ hang: true });
    s.forge.addMember('acme', 'bob');
    s.forge.workflows.set(SHA_A, [CI, ON_CLOSE, ON_LABEL]);
    await s.intake.process(pullRequest());
    await s.intake.process(pullRequest({ action: 'labeled', at: T0 + 1000 }));
    const runs = await s.runs();
    expect(runs.map((r) => `${r.workflowName}:${r.status}`).sort()).toEqual(['ci:running', 'on-label:running']);
    expect(runs.find((r) => r.workflowName === 'on-label')?.github).toMatchObject({
      event_name: 'pull_request',
      event: { action: 'labeled' },
    });
  });

  it('closed cancels the PR runs, then runs the workflows that ask for closed', async () => {
    const s = await setup({ hang: true });
    s.forge.addMember('acme', 'bob');
    s.forge.workflows.set(SHA_A, [CI, ON_CLOSE, ON_LABEL]);
    await s.intake.process(pullRequest());
    await s.intake.process(pullRequest({ action: 'closed', at: T0 + 1000 }));
    const runs = await s.runs();
    expect(runs.map((r) => `${r.workflowName}:${r.status}`).sort()).toEqual(['ci:cancelled', 'on-close:running']);
  });

  it('closed unmerged runs at the head, as spotcheck runs pull requests', async () => {
    const s = await setup({ hang: true });
    s.forge.addMember('acme', 'bob');
    s.forge.workflows.set(SHA_A, [ON_CLOSE]);
    await s.intake.process(pullRequest({ action: 'closed', at: T0 + 1000 }));
    const [run] = await s.runs();
    expect([run?.sha, run?.ref, run?.github.ref]).toEqual([SHA_A, 'refs/pull/7/head', 'refs/pull/7/head']);
  });

  it("closed merged runs at the merge commit on the base branch, the merge commit's workflows, as GitHub does", async () => {
    const s = await setup({ hang: true });
    s.forge.addMember('acme', 'bob');
    const MERGE = 'd'.repeat(40);
    s.forge.workflows.set(SHA_A, [CI, ON_CLOSE]);
    s.forge.workflows.set(MERGE, [ON_CLOSE]);
    await s.intake.process(pullRequest());
    const closed = pullRequest({ action: 'closed', at: T0 + 1000, mergeSha: MERGE });
    await s.intake.process(closed);
    // The delivery again (a retry after a crash): the run it started is kept, and nothing new starts.
    await s.intake.process(closed);
    const runs = await s.runs();
    expect(runs.map((r) => `${r.workflowName}:${r.sha.slice(0, 1)}:${r.status}`).sort()).toEqual([
      'ci:a:cancelled',
      'on-close:d:running',
    ]);
    const merged = runs.find((r) => r.workflowName === 'on-close');
    expect(merged?.ref).toBe('refs/heads/main');
    expect(merged?.pr).toBe(7);
    expect(merged?.github).toMatchObject({
      sha: MERGE,
      ref: 'refs/heads/main',
      ref_name: 'main',
      base_ref: 'main',
      head_ref: 'feature',
      event: { action: 'closed' },
    });
    expect(s.forge.calls.filter((c) => c.method === 'readWorkflows').map((c) => c.args[1])).toEqual([
      SHA_A,
      MERGE,
      MERGE,
    ]);
  });

  it("an outsider's labeled pull request: nothing runs, no notice", async () => {
    const s = await setup();
    s.forge.workflows.set(SHA_A, [ON_LABEL]);
    await s.intake.process(pullRequest({ action: 'labeled' }));
    expect(await s.runs()).toEqual([]);
    expect(s.notices).toEqual([]);
    expect(s.forge.count('readWorkflows')).toBe(0);
  });
});

/** The pull request event for SHA_A came before the comment: its head is recorded. Forgets its calls and notices. */
async function headSeen(s: Setup): Promise<void> {
  await s.intake.process(pullRequest({ at: T0 }));
  s.forge.calls.length = 0;
  s.notices.length = 0;
}

describe('!testme', () => {
  it('a member: 👀 first, then runs testme and pull_request workflows at the head (a workflow with both runs once)', async () => {
    const s = await setup();
    s.forge.addMember('acme', 'carol');
    openPull(s.forge);
    s.forge.workflows.set(SHA_A, [CI, E2E, PR_ONLY, DOCS]);
    await headSeen(s);
    const intent = testme();
    await s.intake.process(intent);
    // The author's (bob's) membership decides the runs' secrets, not whether they run; it is cached from his pull
    // request event, so the one check here is the commenter's.
    expect(s.forge.methods()).toEqual([
      'reactToComment',
      'isOrgMember',
      'pullRequest',
      'readWorkflows',
      'pullRequestFiles',
    ]);
    expect(s.forge.reactions).toEqual([{ commentId: 555, reaction: 'eyes' }]);
    const runs = await s.runs();
    expect(runs.map((r) => `${r.workflowName}:${r.event}`).sort()).toEqual([
      'ci:testme',
      'e2e:testme',
      'lint:pull_request',
    ]);
    expect(runs.every((r) => r.actor === 'carol' && r.pr === 7 && r.sha === SHA_A)).toBe(true);
    // bob, the author, is not a member: his code gets only the secrets marked for approved outsiders.
    expect(runs.every((r) => r.trust === 'approved-outsider')).toBe(true);
    expect(runs.find((r) => r.workflowName === 'ci')?.runId).toBe(runIdFor(intent.install, intent.deliveryId, CI.path));
    expect(s.notices).toEqual([]);
  });

  it("a member's pull request run by !testme is a member run", async () => {
    const s = await setup();
    s.forge.addMember('acme', 'carol');
    s.forge.addMember('acme', 'bob');
    openPull(s.forge);
    s.forge.workflows.set(SHA_A, [E2E]);
    await headSeen(s);
    await s.intake.process(testme());
    const runs = await s.runs();
    expect(runs).toHaveLength(1);
    expect(runs[0]?.trust).toBe('member');
  });

  it('accepted when the recorded head is the current one, from before the comment', async () => {
    const s = await setup();
    s.forge.addMember('acme', 'carol');
    openPull(s.forge);
    s.forge.workflows.set(SHA_A, [E2E]);
    await s.intake.process(pullRequest({ at: T0 })); // bob is not a member: records the head, runs nothing
    await s.intake.process(testme({ commentCreatedAt: T0 + 5_000 }));
    expect((await s.runs()).map((r) => r.workflowName)).toEqual(['e2e']);
  });

  const refusals: [string, (s: Setup) => Promise<void>, string][] = [
    [
      'a non-member commenter',
      (s) => {
        openPull(s.forge);
        return Promise.resolve();
      },
      '`!testme` by @carol was not run: carol is not a member of acme.',
    ],
    [
      'a closed pull request',
      (s) => {
        s.forge.addMember('acme', 'carol');
        openPull(s.forge);
        s.forge.pulls.set(7, { ...s.forge.pulls.get(7)!, state: 'closed' });
        return Promise.resolve();
      },
      '`!testme` by @carol was not run: the pull request is not open.',
    ],
    [
      'the head moved after the comment (recorded after it)',
      async (s) => {
        s.forge.addMember('acme', 'carol');
        openPull(s.forge, SHA_B);
        await s.intake.process(pullRequest({ action: 'synchronize', headSha: SHA_B, at: T0 + 120_000 }));
      },
      '`!testme` by @carol was not run: the head moved to bbbbbbb after the `!testme` comment; comment again to run it.',
    ],
    [
      'the head moved and the push is not recorded yet',
      async (s) => {
        s.forge.addMember('acme', 'carol');
        openPull(s.forge, SHA_B);
        await s.intake.process(pullRequest({ headSha: SHA_A, at: T0 }));
      },
      '`!testme` by @carol was not run: the head moved to bbbbbbb after the `!testme` comment; comment again to run it.',
    ],
    [
      'a push in the same second as the comment',
      async (s) => {
        s.forge.addMember('acme', 'carol');
        openPull(s.forge, SHA_B);
        await s.intake.process(pullRequest({ action: 'synchronize', headSha: SHA_B, at: T0 + 60_000 }));
      },
      '`!testme` by @carol was not run: the head moved to bbbbbbb after the `!testme` comment; comment again to run it.',
    ],
    [
      'no head recorded before the comment',
      (s) => {
        s.forge.addMember('acme', 'carol');
        openPull(s.forge);
        return Promise.resolve();
      },
      '`!testme` by @carol was not run: no head of this pull request was seen before the comment; the head is now aaaaaaa, comment again to run it.',
    ],
  ];
  it.each(refusals)('refuses %s in one line, after the 👀', async (_name, arrange, line) => {
    const s = await setup();
    s.forge.workflows.set(SHA_A, [CI, E2E]);
    s.forge.workflows.set(SHA_B, [CI, E2E]);
    await arrange(s);
    const before = (await s.runs()).length;
    s.forge.calls.length = 0;
    await s.intake.process(testme());
    expect(s.forge.calls[0]).toEqual({ method: 'reactToComment', args: [REPO, 555, 'eyes'] });
    expect(s.notices.at(-1)).toEqual({ pr: 7, line });
    expect(s.notices.at(-1)?.line).not.toContain('\n');
    expect((await s.runs()).length).toBe(before);
    expect(s.forge.count('readWorkflows')).toBe(0);
  });

  it('fails closed with no recorded head: records the head it refused at, so a later comment runs that head', async () => {
    const s = await setup();
    s.forge.addMember('acme', 'carol');
    openPull(s.forge);
    s.forge.pulls.set(7, { ...s.forge.pulls.get(7)!, updatedAt: T0 + 70_000 });
    s.forge.workflows.set(SHA_A, [E2E]);
    await s.intake.process(testme({ commentCreatedAt: T0 + 60_000 }));
    expect(await s.runs()).toEqual([]);
    expect((await s.store.getDoc(PR_HEAD_KIND, prKey(REPO, 7)))?.value).toEqual({ sha: SHA_A, at: T0 + 70_000 });
    // A comment in the same second as the recorded time could predate the head: refused again.
    await s.intake.process(testme({ commentCreatedAt: T0 + 70_000 }));
    expect(await s.runs()).toEqual([]);
    await s.intake.process(testme({ commentCreatedAt: T0 + 71_000 }));
    expect((await s.runs()).map((r) => `${r.workflowName}:${r.sha}`)).toEqual([`e2e:${SHA_A}`]);
    expect(s.notices).toHaveLength(2);
  });
});

describe('inbox with intake', () => {
  const quietLogger = () => {
    const errors: string[] = [];
    const logger = pino({ level: 'error' }, { write: (line: string) => errors.push(line) });
    return { logger, errors };
  };

  it('a transient ForgeError is retried by reconcile after the backoff, then the runs start once', async () => {
    const s = await setup();
    s.forge.workflows.set(SHA_A, [CI]);
    s.forge.failNext('readWorkflows', new ForgeError('GitHub answered 502', { status: 502, retryable: true }));
    const inbox = createInbox<OrderIntent>({
      store: s.store,
      process: (i) => s.intake.process(i),
      logger: silent,
      now: () => s.clock.now,
      backoff: (attempt) => attempt * 10_000,
    });
    const intent = push({ before: ZERO });
    await inbox.accept(intent);
    await inbox.idle();
    let entry = (await s.store.getDoc(INBOX_KIND, inboxKey(intent)))?.value as unknown as InboxEntry;
    expect(entry).toMatchObject({ status: 'pending', attempts: 1, due: s.clock.now + 10_000 });
    expect(entry.error).toContain('502');
    expect(await s.runs()).toEqual([]);

    expect(await inbox.reconcile()).toBe(0); // not due yet
    s.clock.now += 10_000;
    expect(await inbox.reconcile()).toBe(1);
    entry = (await s.store.getDoc(INBOX_KIND, inboxKey(intent)))?.value as unknown as InboxEntry;
    expect(entry).toMatchObject({ status: 'done', attempts: 2 });
    expect(entry).not.toHaveProperty('due');
    expect((await s.runs()).map((r) => r.runId)).toEqual([runIdFor(intent.install, intent.deliveryId, CI.path)]);

    // A duplicate accept of a done intent does nothing.
    await inbox.accept(intent);
    await inbox.idle();
    s.clock.now += 3_600_000;
    expect(await inbox.reconcile()).toBe(0);
    expect(s.forge.count('readWorkflows')).toBe(2);
  });

  it('gives up after maxAttempts with an error log, and a redelivery tries again', async () => {
    const s = await setup();
    s.forge.failNext('readWorkflows', new ForgeError('GitHub answered 502', { status: 502, retryable: true }), 3);
    const { logger, errors } = quietLogger();
    const givenUp: string[] = [];
    const inbox = createInbox<OrderIntent>({
      store: s.store,
      process: (i) => s.intake.process(i),
      logger,
      now: () => s.clock.now,
      maxAttempts: 3,
      backoff: () => 1,
      onGiveUp: (i) => {
        givenUp.push(i.deliveryId);
        return Promise.resolve();
      },
    });
    const intent = push();
    await inbox.accept(intent);
    await inbox.idle();
    for (let i = 0; i < 5; i++) {
      s.clock.now += 10;
      await inbox.reconcile();
    }
    const entry = (await s.store.getDoc(INBOX_KIND, inboxKey(intent)))?.value as unknown as InboxEntry;
    expect(entry).toMatchObject({ status: 'failed', attempts: 3 });
    expect(s.forge.count('readWorkflows')).toBe(3);
    expect(givenUp).toEqual([intent.deliveryId]);
    expect(errors).toHaveLength(1);
    expect(JSON.parse(errors[0]!)).toMatchObject({ msg: 'intent failed; giving up', deliveryId: intent.deliveryId });

    await inbox.accept(intent); // GitHub's "redeliver"
    await inbox.idle();
    expect((await s.store.getDoc(INBOX_KIND, inboxKey(intent)))?.value).toMatchObject({ status: 'done' });
  });

  it('a permanent error is not retried', async () => {
    const s = await setup();
    s.forge.failNext('readWorkflows', new ForgeError('GitHub answered 422', { status: 422, retryable: false }));
    const inbox = createInbox<OrderIntent>({
      store: s.store,
      process: (i) => s.intake.process(i),
      logger: silent,
      now: () => s.clock.now,
    });
    const intent = push();
    await inbox.accept(intent);
    await inbox.idle();
    expect((await s.store.getDoc(INBOX_KIND, inboxKey(intent)))?.value).toMatchObject({
      status: 'failed',
      attempts: 1,
    });
  });

  it('two inboxes (replicas) on one table never process one intent at once; a dead lease is taken over', async () => {
    const table = `intake-lease-${String(process.pid)}`;
    const client2 = secondClient(embedded.socketPath);
    try {
      const storeA = createDynamoStore({ client: embedded.client, table });
      await storeA.ensureTable();
      const storeB: Store = createDynamoStore({ client: client2, table });
      let clock = T0;
      let active = 0;
      let maxActive = 0;
      const processed: string[] = [];
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const process = async (who: string, intent: Intent): Promise<void> => {
        active++;
        maxActive = Math.max(maxActive, active);
        processed.push(`${who}:${intent.deliveryId}`);
        await gate;
        active--;
      };
      const make = (store: Store, who: string) =>
        createInbox({ store, process: (i) => process(who, i), logger: silent, now: () => clock, leaseMs: 60_000 });
      const a = make(storeA, 'a');
      const b = make(storeB, 'b');

      const intents = [push(), push(), push()];
      for (const intent of intents) await a.accept(intent); // a starts each in the background
      // b reconciles at once and again: every intent is leased by a (due = lease expiry), so it takes none.
      const [takenB1, takenB2] = await Promise.all([b.reconcile(), b.reconcile()]);
      expect(takenB1 + takenB2).toBe(0);
      release();
      await a.idle();
      expect(maxActive).toBeLessThanOrEqual(3);
      expect(processed.sort()).toEqual(intents.map((i) => `a:${i.deliveryId}`).sort());

      // A replica that dies holding a lease: the intent is due again when the lease expires, and one other takes it.
      const orphan = push();
      const doc = await storeA.putDoc(
        INBOX_KIND,
        orphan.deliveryId,
        {
          intent: orphan,
          status: 'pending',
          attempts: 1,
          expiresAt: clock + 86_400_000,
          leaseUntil: clock + 60_000,
          due: clock + 60_000,
        },
        { expiresAt: clock + 86_400_000 },
      );
      expect(doc).toBe(1);
      expect(await Promise.all([a.reconcile(), b.reconcile()])).toEqual([0, 0]);
      clock += 60_000;
      const taken = await Promise.all([a.reconcile(), b.reconcile()]);
      expect(taken[0] + taken[1]).toBe(1);
      expect(processed.filter((p) => p.endsWith(`:${orphan.deliveryId}`))).toHaveLength(1);
    } finally {
      client2.destroy();
    }
  });

  it('one intent accepted on two replicas at once is processed once', async () => {
    const table = `intake-race-${String(process.pid)}`;
    const client2 = secondClient(embedded.socketPath);
    try {
      const storeA = createDynamoStore({ client: embedded.client, table });
      await storeA.ensureTable();
      const storeB = createDynamoStore({ client: client2, table });
      const seen: string[] = [];
      const make = (store: Store, who: string) =>
        createInbox({
          store,
          process: (i) => {
            seen.push(`${who}:${i.deliveryId}`);
            return new Promise((resolve) => setImmediate(resolve));
          },
          logger: silent,
          now: () => T0,
        });
      const a = make(storeA, 'a');
      const b = make(storeB, 'b');
      const intent = push();
      await Promise.all([a.accept(intent), b.accept(intent)]);
      await Promise.all([a.idle(), b.idle()]);
      await Promise.all([a.reconcile(), b.reconcile()]);
      expect(seen).toHaveLength(1);
    } finally {
      client2.destroy();
    }
  });
});

describe('github.event', () => {
  it("is a push's webhook payload, and a cut one is logged as a warning", async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void lines.push(line) });
    const s = await setup({ logger, hang: true });
    s.forge.workflows.set(SHA_A, [CI]);
    const event = {
      ref: 'refs/heads/main',
      after: SHA_A,
      head_commit: { id: SHA_A, message: 'fix' },
      pusher: { name: 'a' },
    };
    await s.intake.process(push({ event, eventCutFrom: 3_000_000 }));
    const [run] = await s.runs();
    expect(run?.github.event).toEqual(event);
    expect(lines.map((l) => JSON.parse(l) as Record<string, unknown>)).toEqual([
      expect.objectContaining({
        msg: 'webhook payload too large for github.event: its essential fields are kept',
        bytes: 3_000_000,
        kept: 65_536,
      }),
    ]);
  });

  it("is a pull request's webhook payload, its action in GitHub's word", async () => {
    const s = await setup({ hang: true });
    s.forge.addMember('acme', 'bob');
    s.forge.workflows.set(SHA_A, [CI]);
    const event = {
      action: 'synchronized',
      number: 7,
      pull_request: { number: 7, title: 'Fix', head: { sha: SHA_A } },
    };
    await s.intake.process(pullRequest({ action: 'synchronize', event }));
    const [run] = await s.runs();
    expect(run?.github.event).toEqual({ ...event, action: 'synchronize' });
  });

  it('is pull_request-shaped for !testme: the pull request as fetched, the comment, its sender; no action', async () => {
    const s = await setup({ hang: true });
    s.forge.addMember('acme', 'carol');
    openPull(s.forge);
    const fetched = {
      number: 7,
      title: 'Fix',
      head: { sha: SHA_A, ref: 'feature' },
      base: { ref: 'main', sha: SHA_0 },
    };
    s.forge.pulls.set(7, { ...s.forge.pulls.get(7)!, payload: fetched });
    s.forge.workflows.set(SHA_A, [E2E, PR_ONLY]);
    await headSeen(s);
    const comment = {
      action: 'created',
      issue: { number: 7, pull_request: { url: 'u' } },
      comment: { id: 555, body: '!testme', user: { login: 'carol' } },
      repository: { full_name: 'acme/app' },
      sender: { login: 'carol' },
      installation: { id: 42 },
    };
    await s.intake.process(testme({ event: comment }));
    const runs = await s.runs();
    expect(runs.map((r) => r.event).sort()).toEqual(['pull_request', 'testme']);
    for (const run of runs)
      expect(run.github.event).toEqual({
        repository: { full_name: 'acme/app' },
        installation: { id: 42 },
        sender: { login: 'carol' },
        comment: { id: 555, body: '!testme', user: { login: 'carol' } },
        number: 7,
        pull_request: fetched,
      });
  });

  it('survives the inbox: a real GitHub push payload, stored and read back, is the run’s github.event', async () => {
    const s = await setup({ hang: true });
    s.forge.workflows.set(SHA_A, [CI]);
    const payload = githubExample('push', (p) => p['ref'] === 'refs/heads/master' && p['installation'] !== undefined);
    Object.assign(payload, { ref: 'refs/heads/main', before: ZERO, after: SHA_A });
    const intent = toPushIntent({ id: nextDelivery(), name: 'push', payload } as never, { now: T0, appSlug: 'x' });
    if ('ignore' in intent) throw new Error(intent.ignore);
    const inbox = createInbox<OrderIntent>({ store: s.store, process: (i) => s.intake.process(i), logger: silent });
    await inbox.accept({ ...intent, repo: REPO, install: INSTALL });
    await inbox.idle();
    const stored = (await s.store.getDoc(INBOX_KIND, inboxKey({ ...intent, install: INSTALL })))
      ?.value as unknown as InboxEntry;
    expect(stored.status).toBe('done');
    expect(stored.intent).toMatchObject({ event: payload });
    const [run] = await s.runs();
    expect(run?.github.event).toEqual(payload);
  });

  it('is built from what the intent knew when it kept no payload (an intent stored before it did)', async () => {
    const s = await setup({ hang: true });
    s.forge.workflows.set(SHA_A, [CI]);
    await s.intake.process(push());
    const [run] = await s.runs();
    expect(run?.github.event).toEqual({ ref: 'refs/heads/main', before: SHA_0, after: SHA_A });
  });
});
