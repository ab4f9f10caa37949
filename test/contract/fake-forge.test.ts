/**
 * The tests' fake forge (test/helpers/fake-forge.ts) held to the same Forge contract as the GitHub and Gitea
 * adapters, so that tests written against the fake mean what they would mean against a real forge. The stub programs
 * the fake's in-memory state instead of an HTTP stand-in; like the HTTP stubs, it fails the test on a call nothing was
 * programmed for and on a programmed answer never asked for.
 */
import { expect } from 'vitest';
import type { RepoRef } from '../../src/core/types.ts';
import { FakeForge, type ForgeMethod } from '../helpers/fake-forge.ts';
import { type CapacityStub, defineForgeContract, type ForgeStub, type ReceivedWrite } from './forge-contract.ts';

/** Calls the adapters answer without a request to the forge; the fake answers them without programming. */
const UNPROGRAMMED: readonly ForgeMethod[] = ['cloneCredentials', 'mintOrderToken', 'revokeOrderToken'];

function createFakeStub(forge: FakeForge): { stub: ForgeStub; expected: ForgeMethod[] } {
  const expected: ForgeMethod[] = [];
  const stub: ForgeStub = {
    workflows(_repo, sha, folders) {
      expected.push('readWorkflows');
      const files = Object.values(folders).flatMap((f) => Object.entries(f ?? {}));
      forge.workflows.set(
        sha,
        files.map(([path, text]) => ({ path, text, size: Buffer.byteLength(text) })),
      );
    },
    file(repo, ref, path, text) {
      expected.push('readFile');
      if (text !== undefined) forge.files.set(`${repo.owner}/${repo.name}@${ref}:${path}`.toLowerCase(), text);
    },
    compare(_repo, base, head, files) {
      expected.push('changedFiles');
      forge.compares.set(`${base}...${head}`, [...files]);
    },
    unknownBase(_repo, base, head) {
      expected.push('changedFiles');
      forge.compares.set(`${base}...${head}`, null);
    },
    pullRequestFiles(_repo, pr, files) {
      expected.push('pullRequestFiles');
      forge.prFiles.set(pr, [...files]);
    },
    pullRequest(_repo, pr, facts) {
      expected.push('pullRequest');
      if (facts !== undefined) forge.pulls.set(pr, facts);
    },
    account(owner, kind) {
      expected.push('isOrganization');
      if (kind === 'organization') forge.organizations.add(owner.toLowerCase());
    },
    membership(org, user, answer) {
      expected.push('isOrgMember');
      if (answer === 'member') forge.addMember(org, user);
      if (answer === 'error') forge.membershipErrors.add(`${org}/${user}`.toLowerCase());
    },
    acceptStatus() {
      expected.push('setStatus');
    },
    comments(repo, pr, comments) {
      expected.push('findStickyComment');
      for (const c of comments) forge.seedComment(repo, pr, c.body, c.mine ? forge.botLogin : 'mallory', c.id);
    },
    acceptNewComment(_repo, _pr, id) {
      expected.push('createComment');
      forge.nextCommentId = id;
    },
    acceptCommentEdit() {
      expected.push('updateComment');
    },
    acceptReaction() {
      expected.push('reactToComment');
    },
    orderToken(_repo, granted) {
      forge.grantedPermissions = granted;
      if (forge.kind === 'gitea') return forge.giteaActionsToken ?? '';
      // The fake numbers its tokens; the next one is the one handed out.
      return `ghs_order${forge.mintedTokens.length + 1}`;
    },
    acceptRevoke() {},
    statuses: () =>
      forge.statuses.map(({ sha, context, state, description, targetUrl }) => ({
        sha,
        context,
        state,
        description,
        ...(targetUrl === undefined ? {} : { targetUrl }),
      })),
    writes: () => {
      // What the fake was asked to write, in order.
      const writes: ReceivedWrite[] = [];
      for (const call of forge.calls) {
        const [, target, value] = call.args as [RepoRef, number, string];
        if (call.method === 'createComment') writes.push({ kind: 'create', pr: target, body: value });
        if (call.method === 'updateComment') writes.push({ kind: 'edit', id: target, body: value });
        if (call.method === 'reactToComment') writes.push({ kind: 'reaction', id: target, content: value });
      }
      return writes;
    },
  };
  return { stub, expected };
}

/** The capacity stub: programs the fake's Actions jobs, runners and workflow files. */
function createFakeCapacityStub(forge: FakeForge, expected: ForgeMethod[]): CapacityStub {
  const key = (repo: RepoRef) => `${repo.host}/${repo.owner}/${repo.name}`;
  return {
    queuedJobs(repo, jobs) {
      expected.push('capacity.listQueuedJobs');
      forge.actionsJobs.set(key(repo), [...forge.jobsOf(repo), ...jobs]);
    },
    job(repo, _jobId, job) {
      expected.push('capacity.getJob');
      if (job !== undefined) forge.actionsJobs.set(key(repo), [...forge.jobsOf(repo), job]);
    },
    acceptRegistration(_repo, runner) {
      expected.push('capacity.register');
      return forge.kind === 'github'
        ? { kind: 'github', runnerId: forge.nextRunnerId, encodedJitConfig: `jit-config-of-${runner.name}` }
        : { kind: 'gitea', instanceUrl: `https://${forge.host}`, token: 'registration-token' };
    },
    acceptRunnerRemoval(_repo, runner, gone) {
      expected.push('capacity.deregister');
      if (!gone) forge.runners.set(runner.name, { id: runner.id, labels: [] });
    },
    ...(forge.kind === 'gitea'
      ? {
          actionsWorkflows(_repo: RepoRef, sha: string, files: Readonly<Record<string, string>>) {
            expected.push('capacity.readActionsWorkflows');
            forge.actionsWorkflows.set(
              sha,
              Object.entries(files).map(([path, text]) => ({ path, text })),
            );
          },
        }
      : {}),
  };
}

for (const kind of ['github', 'gitea'] as const) {
  defineForgeContract(`the tests' fake forge (${kind})`, () => {
    const forge = new FakeForge({ kind });
    const { stub, expected } = createFakeStub(forge);
    return {
      forge,
      stub,
      capacity: createFakeCapacityStub(forge, expected),
      repo: { forge: kind, host: forge.host, owner: 'acme', name: 'widgets' },
      teardown() {
        // A call of an all-zero base is answered without the forge, as the adapters do.
        const asked = forge.calls
          .filter((c) => !UNPROGRAMMED.includes(c.method))
          .filter((c) => !(c.method === 'changedFiles' && /^0+$/.test(c.args[1] as string)))
          .map((c) => c.method);
        expect(asked.sort(), 'calls made vs answers programmed').toEqual([...expected].sort());
      },
    };
  });
}
