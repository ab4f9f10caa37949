/**
 * Feature-audit finding: a `!testme` with no recorded pull request head ran whatever head was current when it was
 * processed, so an outsider's push between a member's comment and its processing ran unapproved code. Replayed
 * through intake: the comment is refused (with a notice asking to comment again), nothing runs, and the head found is
 * recorded so that a later comment can approve it.
 */
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS } from '../../src/config.ts';
import type { RepoRef, WorkflowSource } from '../../src/core/types.ts';
import { DEFAULT_WORKFLOW_FOLDER_SETTINGS } from '../../src/core/workflow/workflow-files.ts';
import { createAuthorizer } from '../../src/intake/authorize.ts';
import { createIntake, PR_HEAD_KIND, prKey } from '../../src/intake/intake.ts';
import type { ForgeInstallation, OrderIntent } from '../../src/intake/intents.ts';
import type { EmbeddedStore } from '../../src/store/embedded.ts';
import { createIsolatedStore, startTestStore } from '../helpers/dynalite.ts';
import { FakeForge } from '../helpers/fake-forge.ts';
import { createOrchestratorHarness } from '../helpers/orchestrator-harness.ts';

const T0 = Math.floor(Date.now() / 1000) * 1000;
const PUSHED = 'e'.repeat(40);
const REPO: RepoRef = { forge: 'github', host: 'github.com', owner: 'acme', name: 'app' };
const INSTALL: ForgeInstallation = { forge: 'github', host: 'github.com', installationId: 42 };
const E2E: WorkflowSource = {
  path: '.spotcheck/workflows/e2e.yml',
  text: 'name: e2e\non: { testme: {} }\njobs:\n  build:\n    runs-on: local\n    steps:\n      - run: echo e2e\n',
};
const silent = pino({ level: 'silent' });

let embedded: EmbeddedStore;
beforeAll(async () => {
  embedded = await startTestStore();
});
afterAll(async () => {
  await embedded.close();
});

describe('!testme with no recorded head', () => {
  it('an outsider push processed before any pull request event is not run; a later comment runs it', async () => {
    const store = await createIsolatedStore(embedded.client);
    const forge = new FakeForge();
    const { orchestrator } = createOrchestratorHarness({ store, conclude: () => 'hang', logger: silent });
    const forges = { forInstallation: () => Promise.resolve(forge) };
    const notices: string[] = [];
    const intake = createIntake({
      forges,
      orchestrator,
      store,
      authorizer: createAuthorizer({ forges, now: () => T0 }),
      config: {
        limits: DEFAULT_LIMITS,
        publicUrl: 'https://ci.example.com',
        workflows: DEFAULT_WORKFLOW_FOLDER_SETTINGS,
      },
      notices: (_install, _repo, _pr, line) => {
        notices.push(line);
        return Promise.resolve();
      },
      logger: silent,
      now: () => T0,
    });
    forge.addMember('acme', 'carol');
    forge.workflows.set(PUSHED, [E2E]);
    // The outsider pushed 30 s after carol's comment; no pull request event was processed before it.
    forge.pulls.set(7, {
      number: 7,
      state: 'open',
      merged: false,
      headSha: PUSHED,
      headRef: 'feature',
      baseRef: 'main',
      author: 'mallory',
      headRepo: 'mallory/app',
      updatedAt: T0 + 30_000,
    });
    const comment = (id: number, at: number): OrderIntent => ({
      kind: 'testme',
      deliveryId: `d-${String(id)}`,
      at,
      install: INSTALL,
      repo: REPO,
      pr: 7,
      commentId: id,
      commenter: 'carol',
      commentCreatedAt: at,
      ownerIsOrg: true,
    });
    const runs = () => store.listRuns({ repo: REPO, limit: 10 });

    await intake.process(comment(1, T0));
    expect(await runs()).toEqual([]);
    expect(forge.count('readWorkflows')).toBe(0);
    expect(notices).toEqual([
      '`!testme` by @carol was not run: no head of this pull request was seen before the comment; the head is now eeeeeee, comment again to run it.',
    ]);
    expect((await store.getDoc(PR_HEAD_KIND, prKey(REPO, 7)))?.value).toEqual({ sha: PUSHED, at: T0 + 30_000 });

    // carol has now seen the pushed head and approves it.
    await intake.process(comment(2, T0 + 60_000));
    expect((await runs()).map((r) => r.sha)).toEqual([PUSHED]);
  });
});
