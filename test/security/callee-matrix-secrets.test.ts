/**
 * Red-team finding (issue 13 review): the cells of a dynamic matrix inside a called workflow were planned as
 * top-level jobs. They lost the `secrets:` each call passes, so `orderSecretsReader` handed them every org and
 * repository secret of the run instead of only what the calls pass; they also lost the calling job's permissions,
 * which a callee's jobs can only narrow. The cells now keep their calling jobs' secrets and permissions.
 */
import { describe, expect, it } from 'vitest';
import { expandDynamicMatrix } from '../../src/core/dynamic-matrix.ts';
import { buildGithubContext } from '../../src/core/github-context.ts';
import { planRun } from '../../src/core/plan.ts';
import type { SecretInfo } from '../../src/core/secrets.ts';
import type { OrderRecord, RepoRef } from '../../src/core/types.ts';
import { parseWorkflow } from '../../src/core/workflow/parse-workflow.ts';
import { orderSecretsReader } from '../../src/server/order-secrets.ts';
import type { SecretStore } from '../../src/store/secret-store.ts';
import { makeGithubContext } from '../helpers/records.ts';

const REPO: RepoRef = { forge: 'github', host: 'github.com', owner: 'acme', name: 'app' };

const CALLER = [
  'on: push',
  'permissions: {contents: read}',
  'jobs:',
  '  build:',
  '    uses: ./m.yml',
  '    secrets: {token: plain}',
].join('\n');

const CALLEE = [
  'on:',
  '  workflow_call:',
  '    secrets: {token: {required: false}}',
  'permissions: write-all',
  'jobs:',
  '  test:',
  '    strategy: {matrix: "${{ fromJSON(github.event.matrix) }}"}',
  '    runs-on: local',
  '    steps: [{run: x}]',
].join('\n');

/** The cells of `build.test`, expanded as the engine expands them when the job is ready. */
function cells() {
  const caller = parseWorkflow('.spotcheck/workflows/ci.yml', CALLER).workflow!;
  const callee = parseWorkflow('m.yml', CALLEE).workflow!;
  const github = buildGithubContext({
    event: 'push',
    ref: 'refs/heads/main',
    sha: 'a'.repeat(40),
    repository: 'acme/app',
    actor: 'mona',
    serverUrl: 'https://github.com',
    workflow: 'ci',
  });
  const planned = planRun({ workflow: caller, github, callees: () => ({ kind: 'workflow', workflow: callee }) });
  if (!planned.ok) throw new Error(JSON.stringify(planned.diagnostics));
  const placeholder = planned.plan.orders.find((o) => o.id === 'build.test')!;
  const expansion = expandDynamicMatrix(placeholder, {
    github: { ...github, event: { matrix: '{"n": [1, 2]}' } },
    needs: {},
    vars: {},
    inputs: {},
  });
  if (!expansion.ok) throw new Error(expansion.error);
  return expansion.cells;
}

/** A secret store holding one repository secret, DEPLOY_KEY, which no call passes. */
const store: SecretStore = {
  set: () => Promise.reject(new Error('not in this test')),
  remove: () => Promise.reject(new Error('not in this test')),
  list: (scope) =>
    Promise.resolve(
      scope.level === 'repo'
        ? [{ name: 'DEPLOY_KEY', scope, outsiders: false, updatedAt: 0 } satisfies SecretInfo]
        : [],
    ),
  open: (secrets) => Promise.resolve(Object.fromEntries(secrets.map((s) => [s.name, `value-of-${s.name}`]))),
  environments: () => Promise.resolve([]),
};

describe("a dynamic matrix's cells inside a called workflow", () => {
  it('get only the secrets the call passes, not every repository secret', async () => {
    const [cell] = cells();
    expect(cell?.secretsPassed).toEqual([{ token: 'plain' }]);
    const run = {
      runId: 'r',
      repo: REPO,
      trust: 'member',
      github: makeGithubContext(),
    } as unknown as Parameters<ReturnType<typeof orderSecretsReader>>[0];
    const secrets = await orderSecretsReader(store)(run, cell as unknown as OrderRecord);
    expect(secrets).toEqual({ TOKEN: 'plain' });
  });

  it("have the calling job's permissions as their ceiling", () => {
    expect(cells().map((c) => c.permissions)).toEqual([{ contents: 'read' }, { contents: 'read' }]);
  });
});
