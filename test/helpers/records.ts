/**
 * Record builders for tests: a run, an order, an order spec and the `github` context, each whole and valid, with
 * overrides for what a test cares about. Tests that want other defaults (a local repository, a clock of their own)
 * wrap these and pass their defaults as overrides.
 */
import type { GithubContext, OrderRecord, OrderSpec, RunRecord } from '../../src/core/types.ts';

export const T0 = 1_760_000_000_000;
export const DAY = 86_400_000;
export const SHA = 'a'.repeat(40);

/**
 * GitHub's `github` context for a push to main of octo/app. Empty `base_ref`/`head_ref` are what GitHub gives for
 * push events (https://docs.github.com/en/actions/learn-github-actions/contexts#github-context).
 */
export function makeGithubContext(overrides: Partial<GithubContext> = {}): GithubContext {
  return {
    event_name: 'push',
    ref: 'refs/heads/main',
    ref_name: 'main',
    ref_type: 'branch',
    sha: SHA,
    repository: 'octo/app',
    repository_owner: 'octo',
    actor: 'octocat',
    base_ref: '',
    head_ref: '',
    server_url: 'https://github.com',
    run_id: 'r1',
    workflow: 'ci',
    event: {},
    ...overrides,
  };
}

/** `github` may be given in part: it is laid over the context that follows the run's own fields. */
export type RunOverrides = Partial<Omit<RunRecord, 'github'>> & { readonly github?: Partial<GithubContext> };

/**
 * A running push run of octo/app. Its `github` context follows the run (event, ref, sha, repository, actor, run id,
 * workflow): `ref_name` is the short branch or tag name, `<pr>/merge` for a pull request ref, as GitHub fills it.
 */
export function makeRun(overrides: RunOverrides = {}): RunRecord {
  const { github, ...fields } = overrides;
  const run: Omit<RunRecord, 'github'> = {
    runId: 'r1',
    repo: { forge: 'github', host: 'github.com', owner: 'octo', name: 'app' },
    file: '.spotcheck/workflows/ci.yml',
    workflowName: 'ci',
    event: 'push',
    ref: 'refs/heads/main',
    sha: SHA,
    actor: 'octocat',
    status: 'running',
    orderCount: 0,
    createdAt: T0,
    expiresAt: T0 + DAY,
    ...fields,
  };
  return {
    ...run,
    github: makeGithubContext({
      event_name: run.event,
      ref: run.ref,
      ref_name: refName(run.ref),
      ref_type: run.ref.startsWith('refs/tags/') ? 'tag' : 'branch',
      sha: run.sha,
      repository: `${run.repo.owner}/${run.repo.name}`,
      repository_owner: run.repo.owner,
      actor: run.actor,
      run_id: run.runId,
      workflow: run.workflowName,
      ...github,
    }),
  };
}

function refName(ref: string): string {
  const pr = /^refs\/pull\/(\d+)\//.exec(ref);
  if (pr !== null) return `${pr[1]!}/merge`;
  return ref.replace(/^refs\/(heads|tags)\//, '');
}

/** One order of a plan: the job named by the id's first part (`test.2` → `test`), on `local`, no steps. */
export function makeSpec(id: string, overrides: Partial<OrderSpec> = {}): OrderSpec {
  return {
    id,
    job: id.split('.')[0] ?? id,
    name: id,
    needs: [],
    needsOrders: [],
    runsOn: 'local',
    matrix: {},
    timeoutMinutes: 10,
    continueOnError: false,
    failFast: true,
    env: {},
    steps: [],
    outputExprs: {},
    ...overrides,
  };
}

/** A queued order of run `r1`, created at T0. */
export function makeOrder(id: string, overrides: Partial<OrderRecord> = {}): OrderRecord {
  return {
    ...makeSpec(id),
    runId: 'r1',
    seq: 0,
    wave: 0,
    state: 'queued',
    attempt: 1,
    pendingNeeds: 0,
    dependents: [],
    outputs: {},
    createdAt: T0,
    ...overrides,
  };
}
