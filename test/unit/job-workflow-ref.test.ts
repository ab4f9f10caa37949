/**
 * `job_workflow_ref` of a called workflow's jobs names the callee's file, `workflow_ref` the caller's (GitHub, "OpenID
 * Connect reference": job_workflow_ref is "the ref path to the reusable workflow used by this job"; "Using OpenID
 * Connect with reusable workflows"). Planned as the server plans (readCallees, planWorkflows), claimed as the
 * issuer claims (idTokenClaims).
 */
import { describe, expect, it } from 'vitest';
import { idTokenClaims } from '../../src/core/id-token-claims.ts';
import { planWorkflows } from '../../src/core/plan-workflows.ts';
import type { OrderRecord, OrderSpec, WorkflowRef } from '../../src/core/types.ts';
import { formatDiagnostic } from '../../src/core/workflow/parse-workflow.ts';
import { readCallees, type DEFERRED } from '../../src/intake/read-callees.ts';
import { makeOrder, makeRun, SHA } from '../helpers/records.ts';

const CALLER_FILE = '.spotcheck/workflows/ci.yml';
const PINNED = '0123456789abcdef0123456789abcdef01234567';

async function planOrders(caller: string, files: Record<string, string>, remote: Record<string, string>) {
  const sources = [{ path: CALLER_FILE, text: caller }];
  const read = (ref: WorkflowRef): Promise<string | undefined | typeof DEFERRED> =>
    Promise.resolve(ref.kind === 'local' ? files[ref.path] : remote[`${ref.owner}/${ref.repo}/${ref.path}@${ref.ref}`]);
  const result = planWorkflows(
    sources,
    { kind: 'push', ref: 'refs/heads/main', deleted: false, changedFiles: null },
    {
      event: 'push',
      ref: 'refs/heads/main',
      sha: SHA,
      repository: 'octo/app',
      actor: 'mona',
      serverUrl: 'https://github.com',
    },
    undefined,
    await readCallees(sources, read),
  );
  expect(result.diagnostics.map(formatDiagnostic)).toEqual([]);
  return result.decisions[0]?.plan?.orders ?? [];
}

function claimsOf(spec: OrderSpec) {
  const order: OrderRecord = { ...makeOrder(spec.id), ...spec };
  return idTokenClaims(makeRun({ trust: 'member' }), order, {
    issuer: 'https://ci.example.com',
    now: 1_700_000_000,
    lifetimeSeconds: 300,
    jti: 'j',
  });
}

const job = (name: string) =>
  `  ${name}:\n    runs-on: linux\n    permissions: {id-token: write}\n    steps: [{run: x}]`;
const callee = (extra = '') => `on: workflow_call\njobs:\n${job('deploy')}${extra}`;

describe('job_workflow_ref', () => {
  it("names the caller's file for its own jobs, the callee's for a called job; workflow_ref is the caller's", async () => {
    const caller = [
      'on: push',
      'jobs:',
      job('top'),
      '  local:',
      '    uses: ./.github/workflows/deploy.yml',
      '  shared:',
      '    uses: acme/ci/.github/workflows/deploy.yml@v2',
      '  pinned:',
      `    uses: acme/ci/.github/workflows/deploy.yml@${PINNED}`,
    ].join('\n');
    // The shared workflow calls a `./` workflow of its own repository: that is read there, at the same ref.
    const orders = await planOrders(
      caller,
      { '.github/workflows/deploy.yml': callee() },
      {
        'acme/ci/.github/workflows/deploy.yml@v2': callee('\n  nested:\n    uses: ./.github/workflows/inner.yml'),
        'acme/ci/.github/workflows/inner.yml@v2': callee(),
        [`acme/ci/.github/workflows/deploy.yml@${PINNED}`]: callee(),
      },
    );
    const byId = new Map(orders.map((o) => [o.id, claimsOf(o)]));
    const picked = (id: string) => {
      const claims = byId.get(id);
      return { ref: claims?.job_workflow_ref, sha: claims?.job_workflow_sha, workflow: claims?.workflow_ref };
    };
    const top = `octo/app/${CALLER_FILE}@refs/heads/main`;
    expect([...byId.keys()].sort()).toEqual([
      'local.deploy',
      'pinned.deploy',
      'shared.deploy',
      'shared.nested.deploy',
      'top',
    ]);
    expect(picked('top')).toEqual({ ref: top, sha: SHA, workflow: top });
    expect(picked('local.deploy')).toEqual({
      ref: 'octo/app/.github/workflows/deploy.yml@refs/heads/main',
      sha: SHA,
      workflow: top,
    });
    // A branch or tag as the `uses:` wrote it (GitHub would write refs/tags/v2), and no commit to claim.
    expect(picked('shared.deploy')).toEqual({
      ref: 'acme/ci/.github/workflows/deploy.yml@v2',
      sha: undefined,
      workflow: top,
    });
    expect(picked('shared.nested.deploy')).toEqual({
      ref: 'acme/ci/.github/workflows/inner.yml@v2',
      sha: undefined,
      workflow: top,
    });
    expect(picked('pinned.deploy')).toEqual({
      ref: `acme/ci/.github/workflows/deploy.yml@${PINNED}`,
      sha: PINNED,
      workflow: top,
    });
  });
});
