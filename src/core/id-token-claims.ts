/**
 * The claims of an order's OpenID Connect ID token, following GitHub's ("About security hardening with OpenID
 * Connect" › "Understanding the OIDC token"), so trust policies written for token.actions.githubusercontent.com read
 * spotcheck's the same way: `sub` is `repo:<owner/name>:environment:<name>` for a job with an environment, else
 * `repo:<owner/name>:pull_request` for a pull request run (a `!testme` run is one), else
 * `repo:<owner/name>:ref:<ref>`; `aud` is what the step asked for, by default the repository owner's URL.
 *
 * Who may have one follows GitHub too: a job whose `permissions` grant `id-token: write` (the job's, else the
 * workflow's; `write-all` grants it; no `permissions:` at all does not, since GitHub's restricted default leaves
 * `id-token` at none). A run of an outsider's pull request never gets one, as GitHub gives fork pull requests at most
 * `id-token: read`: the `!testme` approver approved code, not a cloud identity.
 */
import type { OrderRecord, Permissions, RunRecord } from './types.ts';

/** GitHub's tokens live minutes: the default lifetime, and the longest an operator may set. */
export const DEFAULT_ID_TOKEN_LIFETIME_SECONDS = 5 * 60;
export const MAX_ID_TOKEN_LIFETIME_SECONDS = 60 * 60;
/** `nbf` is set this far before `iat`, for clocks that run behind the issuer's (GitHub's sample tokens do the same). */
export const NOT_BEFORE_SKEW_SECONDS = 60;
/** A bound on `aud` before it reaches a signature (STS's own limit on an audience is far lower). */
export const MAX_AUDIENCE_LENGTH = 1024;

/** The claims GitHub publishes in its discovery document, in its order. */
export const SUPPORTED_CLAIMS = [
  'sub',
  'aud',
  'exp',
  'iat',
  'iss',
  'jti',
  'nbf',
  'ref',
  'sha',
  'repository',
  'repository_owner',
  'run_id',
  'run_attempt',
  'actor',
  'workflow',
  'workflow_ref',
  'workflow_sha',
  'head_ref',
  'base_ref',
  'event_name',
  'ref_type',
  'environment',
  'job_workflow_ref',
  'job_workflow_sha',
  'runner_environment',
] as const;

export type IdTokenClaims = Readonly<Record<string, string | number>>;

/** Whether `permissions` (the job's, else the workflow's, as the order keeps them) grant `id-token: write`. */
export function grantsIdToken(permissions: Permissions | undefined): boolean {
  if (permissions === undefined || permissions === 'read-all') return false;
  if (permissions === 'write-all') return true;
  return permissions['id-token'] === 'write';
}

export type IdTokenRefusal = 'not-permitted' | 'outsider' | 'environment-unresolved';

/** Why an order may not have an ID token; undefined when it may. */
export function idTokenRefusal(run: RunRecord, order: OrderRecord): IdTokenRefusal | undefined {
  if (!grantsIdToken(order.permissions)) return 'not-permitted';
  // Absent trust (runs recorded before it was) is the narrower one, as for secrets.
  if (run.trust !== 'member') return 'outsider';
  // An environment the planner could not evaluate would put an expression's text in `sub`.
  if (order.environment !== undefined && order.environment.name.includes('${{')) return 'environment-unresolved';
  return undefined;
}

export interface IdTokenClaimsInput {
  /** The issuer: spotcheck's public URL. */
  readonly issuer: string;
  /** The requested audience; absent or empty: the repository owner's URL, as on GitHub. */
  readonly audience?: string | undefined;
  /** Seconds since the epoch. */
  readonly now: number;
  readonly lifetimeSeconds: number;
  /** A unique id for `jti` (the caller draws it). */
  readonly jti: string;
}

/** The claims an order's ID token carries (the caller checks `idTokenRefusal` first). */
export function idTokenClaims(run: RunRecord, order: OrderRecord, input: IdTokenClaimsInput): IdTokenClaims {
  const { github } = run;
  const repository = github.repository;
  const environment = order.environment?.name;
  const audience =
    input.audience === undefined || input.audience === ''
      ? `${github.server_url}/${github.repository_owner}`
      : input.audience;
  const workflowRef = `${repository}/${run.file}@${github.ref}`;
  const jobWorkflow = jobWorkflowOf(run, order, workflowRef);
  return {
    jti: input.jti,
    sub: subjectFor(run, environment),
    aud: audience,
    ref: github.ref,
    sha: run.sha,
    repository,
    repository_owner: github.repository_owner,
    run_id: github.run_id,
    run_attempt: String(order.attempt),
    actor: github.actor,
    workflow: github.workflow,
    workflow_ref: workflowRef,
    workflow_sha: run.sha,
    head_ref: github.head_ref,
    base_ref: github.base_ref,
    event_name: github.event_name,
    ref_type: github.ref_type,
    ...(environment === undefined ? {} : { environment }),
    job_workflow_ref: jobWorkflow.ref,
    ...(jobWorkflow.sha === undefined ? {} : { job_workflow_sha: jobWorkflow.sha }),
    runner_environment: 'self-hosted',
    iss: input.issuer,
    nbf: input.now - NOT_BEFORE_SKEW_SECONDS,
    iat: input.now,
    exp: input.now + input.lifetimeSeconds,
  };
}

/**
 * `job_workflow_ref`/`_sha`: the workflow file the job is written in (GitHub: "the ref path to the reusable workflow
 * used by this job"), while `workflow_ref` stays the run's top-level file. A `./` callee is in the run's repository
 * at its commit; another repository's is named at the ref its `uses:` wrote (GitHub writes a branch or tag as its
 * full `refs/…` name, which spotcheck does not look up), with a `_sha` only when that ref is a commit SHA.
 */
function jobWorkflowOf(
  run: RunRecord,
  order: OrderRecord,
  workflowRef: string,
): { readonly ref: string; readonly sha?: string } {
  const called = order.calledWorkflow;
  if (called === undefined) return { ref: workflowRef, sha: run.sha };
  if (called.kind === 'local')
    return { ref: `${run.github.repository}/${called.path}@${run.github.ref}`, sha: run.sha };
  const ref = `${called.owner}/${called.repo}/${called.path}@${called.ref}`;
  return /^[0-9a-f]{40}$/.test(called.ref) ? { ref, sha: called.ref } : { ref };
}

/** GitHub's default `sub` (no repository-level customisation). */
export function subjectFor(run: RunRecord, environment: string | undefined): string {
  const repo = `repo:${run.github.repository}`;
  if (environment !== undefined) return `${repo}:environment:${environment}`;
  if (run.github.event_name === 'pull_request' || run.github.event_name === 'testme') return `${repo}:pull_request`;
  return `${repo}:ref:${run.github.ref}`;
}
