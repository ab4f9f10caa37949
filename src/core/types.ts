/**
 * spotcheck's own vocabulary. Every port (Forge, Runner, Store) speaks these types; adapters map vendor shapes
 * to them at the edge. Nothing here does I/O.
 */

/** Where a diagnostic points: 1-based line and column in a workflow file. */
export interface SourcePos {
  readonly line: number;
  readonly col: number;
}

/** A problem found in user input (a workflow file), reported where the user will see it. */
export interface Diagnostic extends SourcePos {
  readonly file: string;
  readonly message: string;
  /** Set on the note that closes a truncated list: how many problems it stands for (they are not listed). */
  readonly omitted?: number;
}

// ---------------------------------------------------------------------------------------------------------------
// Workflow model (the parsed `.spotcheck/workflows/*.yml`). String values may hold `${{ }}` expressions; they are
// evaluated at plan or dispatch time, never by the parser.
// ---------------------------------------------------------------------------------------------------------------

export const EVENT_NAMES = ['push', 'pull_request', 'testme'] as const;
export type EventName = (typeof EVENT_NAMES)[number];

/**
 * GitHub's activity types of the `pull_request` event ("Events that trigger workflows"): the webhook's `action`, and
 * what `on.pull_request.types` may name.
 */
export const PULL_REQUEST_TYPES = [
  'assigned',
  'unassigned',
  'labeled',
  'unlabeled',
  'opened',
  'edited',
  'closed',
  'reopened',
  'synchronize',
  'converted_to_draft',
  'ready_for_review',
  'locked',
  'unlocked',
  'review_requested',
  'review_request_removed',
  'auto_merge_enabled',
  'auto_merge_disabled',
  'enqueued',
  'dequeued',
  'milestoned',
  'demilestoned',
] as const;
export type PullRequestType = (typeof PULL_REQUEST_TYPES)[number];

/** GitHub: "By default, a workflow only runs when a pull_request event's activity type is opened, synchronize, or reopened." */
export const DEFAULT_PULL_REQUEST_TYPES = [
  'opened',
  'synchronize',
  'reopened',
] as const satisfies readonly PullRequestType[];

/** GitHub's documented filters for push / pull_request (testme takes the pull_request ones, except `types`). */
export interface TriggerFilter {
  /** `pull_request` only: the activity types that run it; absent means DEFAULT_PULL_REQUEST_TYPES. */
  readonly types?: readonly PullRequestType[];
  readonly branches?: readonly string[];
  readonly branchesIgnore?: readonly string[];
  readonly tags?: readonly string[];
  readonly tagsIgnore?: readonly string[];
  readonly paths?: readonly string[];
  readonly pathsIgnore?: readonly string[];
}

export type WorkflowTriggers = Partial<Record<EventName, TriggerFilter>>;

/** What every step has, whether it runs a script or an action. */
export interface StepBase {
  /** 0-based position in the job. */
  readonly index: number;
  readonly name?: string;
  readonly id?: string;
  readonly env: Readonly<Record<string, string>>;
  readonly if?: string;
  /** `true`/`false`, or an expression the agent evaluates before the step runs. */
  readonly continueOnError: boolean | string;
  /** Minutes, or an expression the agent evaluates before the step runs. */
  readonly timeoutMinutes?: number | string;
  readonly pos: SourcePos;
}

/** A `run:` step: a script and the shell that runs it. */
export interface RunStepSpec extends StepBase {
  readonly run: string;
  readonly workingDirectory?: string;
  /** `bash` (default, run as `bash --noprofile --norc -eo pipefail {0}`), `sh`, or a template with `{0}`. */
  readonly shell?: string;
}

/**
 * Where a `uses:` names its action (GitHub's workflow syntax, `jobs.<job_id>.steps[*].uses`):
 * - `local`: `./path` in the workspace (after a checkout), relative to `GITHUB_WORKSPACE`; `self` when written
 *   `$/path`, GitHub's self-repository reference (the workflow's own repository at the commit running, no checkout
 *   needed): in the run's own repository that is the commit the agent checks out as the workspace, and in a workflow
 *   read from another repository the planner makes it a `remote` action of that repository at its ref;
 * - `remote`: `owner/repo[/path]@ref` from the operator's actions source, or from `source` (`https://host`) when the
 *   step names one (`uses: https://host/owner/repo@ref`, as Gitea allows);
 * - `docker`: `docker://image[:tag|@digest]`, run only on a runner that declares Docker.
 */
export type ActionRef =
  | { readonly kind: 'local'; readonly path: string; readonly self?: true }
  | {
      readonly kind: 'remote';
      /** `https://host` (no trailing slash) when the `uses:` names its source; absent means the operator's default. */
      readonly source?: string;
      readonly owner: string;
      readonly repo: string;
      /** Folder inside the repository holding `action.yml`; absent means the repository root. */
      readonly path?: string;
      readonly ref: string;
    }
  | { readonly kind: 'docker'; readonly image: string };

/** A `uses:` step: an action and its inputs (`with:`, values may hold expressions). */
export interface UsesStepSpec extends StepBase {
  /** As written in the workflow file (shown in logs and default step names). */
  readonly uses: string;
  readonly action: ActionRef;
  readonly with: Readonly<Record<string, string>>;
}

export type StepSpec = RunStepSpec | UsesStepSpec;

/** Whether a step runs an action; narrow with this rather than testing fields. */
export function isUsesStep(step: StepSpec): step is UsesStepSpec {
  return 'uses' in step;
}

export type MatrixValue =
  string | number | boolean | null | readonly MatrixValue[] | { readonly [k: string]: MatrixValue };
export type MatrixCell = Readonly<Record<string, MatrixValue>>;

export interface MatrixSpec {
  /** Axis name → values. */
  readonly axes: Readonly<Record<string, readonly MatrixValue[]>>;
  readonly include: readonly MatrixCell[];
  readonly exclude: readonly MatrixCell[];
}

/** GitHub's `GITHUB_TOKEN` scopes (the `permissions:` keys GitHub accepts). */
export const PERMISSION_SCOPES = [
  'actions',
  'attestations',
  'checks',
  'contents',
  'deployments',
  'discussions',
  'id-token',
  'issues',
  'models',
  'packages',
  'pages',
  'pull-requests',
  'repository-projects',
  'security-events',
  'statuses',
] as const;
export type PermissionScope = (typeof PERMISSION_SCOPES)[number];
export const PERMISSION_LEVELS = ['read', 'write', 'none'] as const;
export type PermissionLevel = (typeof PERMISSION_LEVELS)[number];

/**
 * `permissions:` as written: `read-all`, `write-all`, or scope → level (`{}` is every scope `none`). Kept for the
 * token a later issue mints; a job's replaces the workflow's whole, as on GitHub.
 */
export type Permissions = 'read-all' | 'write-all' | Readonly<Partial<Record<PermissionScope, PermissionLevel>>>;

/** A job's deployment `environment`: a name (and the URL shown for it); either may hold expressions. */
export interface EnvironmentSpec {
  readonly name: string;
  readonly url?: string;
}

export interface JobSpec {
  readonly id: string;
  readonly name?: string;
  /** A route label (may be an expression such as `${{ matrix.os }}`). */
  readonly runsOn: string;
  readonly needs: readonly string[];
  readonly if?: string;
  /** Minutes, or an expression evaluated per matrix cell when the run is planned. */
  readonly timeoutMinutes: number | string;
  readonly env: Readonly<Record<string, string>>;
  readonly matrix?: MatrixSpec;
  /**
   * A matrix built from expressions (the whole of it, an axis, `include` or `exclude` given as `${{ }}`), as
   * written: GitHub expands it when the job becomes ready, with `needs`, `github`, `vars` and `inputs`.
   */
  readonly matrixTemplate?: MatrixValue;
  readonly failFast: boolean;
  readonly maxParallel?: number;
  /** `true`/`false`, or an expression evaluated per matrix cell. */
  readonly continueOnError: boolean | string;
  readonly outputs: Readonly<Record<string, string>>;
  readonly steps: readonly StepSpec[];
  /** The job's own `permissions`; the workflow's apply when absent. */
  readonly permissions?: Permissions;
  readonly environment?: EnvironmentSpec;
  /**
   * The job's own `concurrency` (src/core/job-concurrency.ts). On a calling job it governs the called workflow's jobs
   * as one unit.
   */
  readonly concurrency?: ConcurrencySpec;
  /** A calling job (`uses:` a reusable workflow): no `runs-on` nor `steps` (`runsOn` is '', `steps` empty). */
  readonly call?: WorkflowCall;
  readonly pos: SourcePos;
}

/**
 * Where a calling job's `uses:` names its reusable workflow (GitHub's `jobs.<job_id>.uses`): `./path/file.yml` (or
 * GitHub's self-repository `$/path/file.yml`) in the caller's repository at the same commit, or
 * `owner/repo/path/file.yml@ref` in another repository of the same forge.
 */
export type WorkflowRef =
  | { readonly kind: 'local'; readonly path: string }
  | {
      readonly kind: 'remote';
      readonly owner: string;
      readonly repo: string;
      readonly path: string;
      readonly ref: string;
    };

/** `secrets:` of a calling job: `inherit` (all of the caller's), or callee secret name → value (may hold expressions). */
export type CallSecrets = 'inherit' | Readonly<Record<string, string>>;

/** A calling job's call: the reusable workflow, its `with:` inputs as written and its `secrets:`. */
export interface WorkflowCall {
  /** As written (`./.github/workflows/build.yml`, `acme/shared/.github/workflows/ci.yml@v1`). */
  readonly uses: string;
  readonly workflow: WorkflowRef;
  /**
   * Values as written; they may hold expressions, evaluated when the run is planned, or when the calling job is
   * ready for those that read `needs` (`CallGate.lateWith`).
   */
  readonly with: Readonly<Record<string, string | number | boolean>>;
  readonly secrets?: CallSecrets;
  /** Where `uses:` is, for diagnostics about the callee. */
  readonly pos: SourcePos;
}

/** A declared `on.workflow_call.inputs.<name>` (GitHub: `type` is required; `string`, `number` or `boolean`). */
export interface WorkflowCallInput {
  readonly type: 'string' | 'number' | 'boolean';
  readonly required: boolean;
  readonly default?: string | number | boolean;
  readonly description?: string;
}

/** What a reusable workflow declares under `on.workflow_call`. */
export interface WorkflowCallSpec {
  readonly inputs: Readonly<Record<string, WorkflowCallInput>>;
  /** Output name → its `value` (an expression over the `jobs` context, `${{ jobs.x.outputs.y }}`). */
  readonly outputs: Readonly<Record<string, string>>;
  /** Declared secret names → whether required. */
  readonly secrets: Readonly<Record<string, { readonly required: boolean }>>;
}

export interface ConcurrencySpec {
  /** May hold expressions: a workflow's over `github`, `inputs` and `vars`; a job's also over `needs`, `matrix`, `strategy`. */
  readonly group: string;
  /** true, false, or one `${{ }}` over the same contexts as the group, evaluated where the group is. */
  readonly cancelInProgress: boolean | string;
}

export interface Workflow {
  /** Path relative to the repository root, e.g. `.spotcheck/workflows/ci.yml`. */
  readonly file: string;
  readonly name: string;
  readonly on: WorkflowTriggers;
  readonly env: Readonly<Record<string, string>>;
  readonly concurrency?: ConcurrencySpec;
  readonly permissions?: Permissions;
  /** Present when the file can be called as a reusable workflow (`on: workflow_call`). */
  readonly call?: WorkflowCallSpec;
  /** In file order. */
  readonly jobs: readonly JobSpec[];
}

// ---------------------------------------------------------------------------------------------------------------
// Events that start runs, in spotcheck's words (handlers map forge payloads to these).
// ---------------------------------------------------------------------------------------------------------------

export type TriggerEvent =
  | {
      readonly kind: 'push';
      /** Full ref: `refs/heads/main` or `refs/tags/v1`. */
      readonly ref: string;
      readonly deleted: boolean;
      /** Changed paths, or `null` when the forge could not tell (counts as "paths match"). */
      readonly changedFiles: readonly string[] | null;
    }
  | {
      readonly kind: 'pull_request' | 'testme';
      /** The pull request's target branch, short name (`main`). */
      readonly baseRef: string;
      readonly changedFiles: readonly string[] | null;
      /** `pull_request` only: the activity type (the webhook's `action`); absent means a new head (`synchronize`). */
      readonly action?: PullRequestType;
    };

export interface TriggerMatch {
  readonly matched: boolean;
  /** Human sentence: why it matched or not. */
  readonly reason: string;
}

// ---------------------------------------------------------------------------------------------------------------
// Plan: a workflow + an event → orders (matrix cells) and their graph.
// ---------------------------------------------------------------------------------------------------------------

/** The `github` expression context, the subset spotcheck fills. */
export interface GithubContext {
  readonly event_name: EventName;
  readonly ref: string;
  readonly ref_name: string;
  readonly ref_type: 'branch' | 'tag';
  readonly sha: string;
  readonly repository: string;
  readonly repository_owner: string;
  readonly actor: string;
  readonly base_ref: string;
  readonly head_ref: string;
  readonly server_url: string;
  readonly run_id: string;
  readonly workflow: string;
  readonly event: Readonly<Record<string, unknown>>;
}

/** Values of the `inputs` context (a reusable workflow's `with:`, a `workflow_dispatch`'s inputs). */
export type InputValues = Readonly<Record<string, string | number | boolean>>;

/**
 * What the cells of a job with a dynamic matrix are planned from when it becomes ready: the job as parsed and the
 * workflow-level settings its cells inherit.
 */
export interface DynamicMatrix {
  readonly job: JobSpec;
  readonly workflowEnv: Readonly<Record<string, string>>;
  readonly workflowPermissions?: Permissions;
  /** Inside a called workflow: the `caller / ` display-name prefix of its cells, outermost first. */
  readonly namePrefix?: string;
  /** Inside a called workflow: the calling job's token permissions, which the cells' can only narrow. */
  readonly callerPermissions?: Permissions;
}

/** GitHub's `strategy` context: `job-index` is 0-based in the matrix's expansion order, `job-total` counts the cells. */
export type StrategyContext = {
  readonly 'fail-fast': boolean;
  readonly 'job-index': number;
  readonly 'job-total': number;
  readonly 'max-parallel': number;
};

export interface OrderSpec {
  /**
   * Stable within a run: the job id, or `<job>.<n>` (n from 1) for the n-th matrix cell in expansion order. A called
   * workflow's job is `<calling order id>.<job>` (`build.compile`, `build.2.compile`, `build.compile.3`): job ids
   * start with a letter or `_`, so a numeric segment is always a matrix cell and the id reads back unambiguously.
   */
  readonly id: string;
  /** The job id; for a called workflow's job, `<calling order id>.<job>` (its order id without its own cell). */
  readonly job: string;
  /** Display name: the job's name (or id), plus ` (v1, v2)` of the matrix values for matrix cells. */
  readonly name: string;
  /** Job ids this order's job needs (as written in the workflow). */
  readonly needs: readonly string[];
  /** Order ids this order waits for: every order of every needed job. */
  readonly needsOrders: readonly string[];
  /** Route label, expressions already evaluated. */
  readonly runsOn: string;
  /** `{}` when the job has no matrix. */
  readonly matrix: MatrixCell;
  /** The job's `if`, evaluated by the engine when the order becomes ready (it may read `needs`). */
  readonly if?: string;
  readonly timeoutMinutes: number;
  readonly continueOnError: boolean;
  readonly failFast: boolean;
  readonly maxParallel?: number;
  /** The `strategy` context of this order (absent on orders stored before it was recorded). */
  readonly strategy?: StrategyContext;
  /** Workflow env, then job env (values may still hold expressions over steps/runner contexts). */
  readonly env: Readonly<Record<string, string>>;
  readonly steps: readonly StepSpec[];
  /** The job's `outputs:` definitions (expressions over `steps`), evaluated by whoever runs the order. */
  readonly outputExprs: Readonly<Record<string, string>>;
  /** The token permissions the order's job asks for (the job's, else the workflow's); absent: none set. */
  readonly permissions?: Permissions;
  /** The job's environment, evaluated when it reads only plan-time contexts (else kept as written). */
  readonly environment?: EnvironmentSpec;
  /**
   * The job's `concurrency` (or its calling job's, see `concurrencyUnit`), its group evaluated when it reads only
   * plan-time contexts, else when the order becomes ready (then stored as evaluated). Enforced when the order is
   * ready to dispatch: src/core/job-concurrency.ts.
   */
  readonly concurrency?: ConcurrencySpec;
  /**
   * Set when `concurrency` is a calling job's: that calling order's id. The group then holds every order of the called
   * workflow as one member (GitHub: the calling job's concurrency governs the called workflow as a unit); the callee
   * job's own `concurrency` gives way to it.
   */
  readonly concurrencyUnit?: string;
  /** The `inputs` context of the order's job (a called workflow's: the call's `with:`, defaults applied); absent: empty. */
  readonly inputs?: InputValues;
  /**
   * Set on the one order that stands for a job whose matrix is built from expressions ("expanded at run time").
   * When its needs are final the engine evaluates the matrix and the orchestrator writes the cells (`<id>.<n>`);
   * this order then waits for them and ends with the job's result and the cells' combined outputs, so the job's
   * dependents (which need this order) wait for every cell.
   */
  readonly dynamicMatrix?: DynamicMatrix;
  /**
   * Orders of a called workflow's jobs: the calling order's id. The order's `job` is `<scope>.<callee job id>` and
   * its `needs` name jobs of the callee, whose keys are `<scope>.<need>`.
   */
  readonly scope?: string;
  /** Needs that are reusable-workflow calls (need name → the call's jobs and outputs). */
  readonly calls?: Readonly<Record<string, CallNeed>>;
  /** The calling jobs of a called workflow's order, outermost first; each must let it run. */
  readonly gates?: readonly CallGate[];
  /** The `secrets:` each enclosing call passes, outermost first: kept for the secrets work to honour. */
  readonly secretsPassed?: readonly CallSecrets[];
  /**
   * On a called workflow's order: the reusable workflow its job is in (a `./` one in the run's repository at its
   * commit, or another repository's at a ref), which names it in the ID token's `job_workflow_ref`.
   */
  readonly calledWorkflow?: WorkflowRef;
}

/**
 * A need that is a reusable-workflow call, as a dependent sees it: the callee's jobs (each its orders, or a nested
 * call) and the callee's `on.workflow_call.outputs`, whose values read the `jobs` context of those jobs.
 */
export interface CallNeed {
  readonly jobs: Readonly<Record<string, { readonly orders: readonly string[]; readonly call?: CallNeed }>>;
  readonly outputs: Readonly<Record<string, string>>;
}

/**
 * A calling job as seen by the orders of its callee's jobs: its `needs` (its own scope's job names), `if` and
 * matrix cell. The orders wait for the calling job's needs too, and the gate decides for all of them: a callee job
 * runs only when its caller would have (GitHub: the caller's `if` and needs decide whether the callee runs at all).
 */
export interface CallGate {
  /** The calling order's id (`call`, `call.2`, `outer.inner`). */
  readonly caller: string;
  readonly needs: readonly string[];
  /** Prefix of the job keys its needs name (absent for the top-level workflow). */
  readonly scope?: string;
  readonly calls?: Readonly<Record<string, CallNeed>>;
  readonly if?: string;
  readonly matrix: MatrixCell;
  /** The calling job's own `inputs` context (of the workflow it is in), as known when the run is planned; absent: empty. */
  readonly inputs?: InputValues;
  /**
   * The call's `with:` values that read `needs` (GitHub evaluates `with:` when the calling job is ready): the engine
   * evaluates them when a callee order becomes ready, checks them against the callee's input types and adds them to
   * the order's `inputs`. Absent: every value was known when the run was planned.
   */
  readonly lateWith?: LateWith;
  /** Set when the calling job has a matrix: its `fail-fast` and `max-parallel` apply to its calls as to cells. */
  readonly strategy?: CallStrategy;
}

/** `with:` values of a call that are evaluated when the calling job is ready, as written, with the input's type. */
export interface LateWith {
  /** The call's `uses:`, for messages. */
  readonly uses: string;
  /** The calling job's `strategy` context (its matrix is the gate's). */
  readonly strategy: StrategyContext;
  readonly values: Readonly<Record<string, { readonly value: string; readonly type: WorkflowCallInput['type'] }>>;
}

/** The strategy of a matrix of calls, as each cell's callee orders see it. */
export interface CallStrategy {
  /** The calling job's key (`build`, `build.2.inner`): the cells of one matrix of calls share it. */
  readonly job: string;
  readonly failFast: boolean;
  readonly maxParallel?: number;
  /** How many orders the cell's call planned (nested calls' included, a dynamic matrix's cells not). */
  readonly orders: number;
}

export interface RunPlan {
  readonly file: string;
  readonly workflowName: string;
  readonly orders: readonly OrderSpec[];
  /** Calls whose workflow `spotcheck plan` could not read (another repository): read when the run starts. */
  readonly deferredCalls?: readonly { readonly job: string; readonly uses: string }[];
  /** Evaluated concurrency group, if the workflow declares one. */
  readonly concurrency?: { readonly group: string; readonly cancelInProgress: boolean };
  /** The operator's variables for the repository (the `vars` context); absent: none. */
  readonly vars?: Readonly<Record<string, string>>;
}

// ---------------------------------------------------------------------------------------------------------------
// Run and order state (what the store holds; what the engine transitions).
// ---------------------------------------------------------------------------------------------------------------

export const ORDER_STATES = [
  'queued',
  'dispatching',
  'running',
  'interrupted',
  'succeeded',
  'failed',
  'timed_out',
  'cancelled',
  'skipped',
] as const;
export type OrderState = (typeof ORDER_STATES)[number];

export const FINAL_ORDER_STATES = ['succeeded', 'failed', 'timed_out', 'cancelled', 'skipped'] as const;
export type FinalOrderState = (typeof FINAL_ORDER_STATES)[number];

export function isFinalOrderState(state: OrderState): state is FinalOrderState {
  return (FINAL_ORDER_STATES as readonly string[]).includes(state);
}

/** GitHub's vocabulary for `needs.<job>.result` and the job result. */
export type JobResult = 'success' | 'failure' | 'cancelled' | 'skipped';

/**
 * `pending`: waiting for a running run of its concurrency group to finish (GitHub's rule when cancel-in-progress is
 * false: at most one running and one pending run per group).
 */
export const RUN_STATUSES = ['pending', 'running', 'succeeded', 'failed', 'cancelled'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

/** The forges spotcheck speaks to: the one name for GitHub (and GitHub Enterprise) or Gitea. */
export type ForgeKind = 'github' | 'gitea';

export interface RepoRef {
  /** `local`: a repository on disk (`spotcheck run`), with no forge behind it. */
  readonly forge: ForgeKind | 'local';
  /** Forge host (`github.com`, `gitea.example.org`, `local`), so two hosts of one forge never share keys. */
  readonly host: string;
  readonly owner: string;
  readonly name: string;
}

/** A workflow file as read from a forge or a local repository at one commit, before parsing. */
export interface WorkflowSource {
  /** Repository-relative path, e.g. `.spotcheck/workflows/ci.yml`. */
  readonly path: string;
  readonly text: string;
  /**
   * Size in bytes as the source listed it, when it did. A file above MAX_WORKFLOW_FILE_BYTES is not downloaded: its
   * `text` is '' and the parser reports it as too large by this size.
   */
  readonly size?: number;
}

export interface StepResult {
  readonly index: number;
  readonly name: string;
  readonly outcome: 'success' | 'failure' | 'cancelled' | 'skipped';
  /** Outcome after continue-on-error. */
  readonly conclusion: 'success' | 'failure' | 'cancelled' | 'skipped';
  readonly exitCode?: number;
  readonly durationMs: number;
  /** `::error|warning|notice::` lines the step printed (masked by the agent; at most MAX_ANNOTATIONS_PER_STEP per level, as the runner keeps them). */
  readonly annotations?: readonly Annotation[];
  /** What the step wrote to `$GITHUB_STEP_SUMMARY` (Markdown as written, masked, capped; sanitized when shown). */
  readonly summary?: string;
  /**
   * Set by the server, never sent by an agent: the step wrote a summary, kept apart from the order record (a step
   * summary may be 1 MiB, a DynamoDB item only 400 KB; see src/core/step-results.ts). `summary` is then absent.
   */
  readonly hasSummary?: boolean;
}

/**
 * An annotation a step made with the runner's command protocol (`::error file=a.ts,line=3,title=T::message`, as
 * actions/toolkit's `core.error` writes it). Positions are 1-based, as written by the step.
 */
export interface Annotation {
  readonly level: 'error' | 'warning' | 'notice';
  readonly message: string;
  readonly title?: string;
  readonly file?: string;
  readonly line?: number;
  readonly endLine?: number;
  readonly col?: number;
  readonly endColumn?: number;
}

/**
 * Whose code a run executes, as intake found it (Prow's trust model): `member` for pushes and for pull requests
 * whose author is a member of the authorizing org; `approved-outsider` for a non-member's pull request run because
 * a member commented `!testme` — the approver approved code, not exfiltration (src/core/secrets.ts).
 */
export type RunTrust = 'member' | 'approved-outsider';

export interface RunRecord {
  readonly runId: string;
  readonly repo: RepoRef;
  readonly file: string;
  readonly workflowName: string;
  readonly event: EventName;
  readonly ref: string;
  readonly sha: string;
  readonly pr?: number;
  /** The GitHub App installation that reported the event (the forge adapter needs it to act on the repo). */
  readonly installationId?: number;
  /** Who caused the run (pusher, PR author, `!testme` commenter). */
  readonly actor: string;
  /**
   * Whose code the run executes, as intake found it: what decides its secrets (src/core/secrets.ts). Absent on runs
   * recorded before it was (and on local runs): treated as the narrower `approved-outsider`.
   */
  readonly trust?: RunTrust;
  /**
   * Whether the repository was private (or internal) when the event came, per the webhook's `repository.private`.
   * Absent on runs recorded before it was: read as private (the dashboard fails closed).
   */
  readonly repoPrivate?: boolean;
  readonly github: GithubContext;
  /** The `vars` context the run was planned with; the engine and the agent evaluate with it too. */
  readonly vars?: Readonly<Record<string, string>>;
  readonly status: RunStatus;
  readonly orderCount: number;
  readonly concurrencyGroup?: string;
  readonly createdAt: number;
  readonly finishedAt?: number;
  /** Why the run was cancelled, when it was. */
  readonly reason?: string;
  /** Epoch ms after which the record may be deleted (set, then filtered on read: no TTL reliance). */
  readonly expiresAt: number;
}

export interface OrderRecord extends OrderSpec {
  readonly runId: string;
  /** Position in the plan (0-based): the order people read orders in. */
  readonly seq: number;
  /** Depth in the needs graph: 0 for orders that need nothing, else 1 + the deepest need. */
  readonly wave: number;
  readonly state: OrderState;
  /** 1 for the first try; incremented on retry after an interruption. */
  readonly attempt: number;
  /** Needs not yet final. The order is ready when this is 0. */
  readonly pendingNeeds: number;
  /** Order ids that need this one. */
  readonly dependents: readonly string[];
  readonly result?: JobResult;
  /** Job output values, once the order finished. */
  readonly outputs: Readonly<Record<string, string>>;
  /**
   * Set when the order became ready: the first ancestor (a need, or a need's ancestor) that failed or was cancelled.
   * GitHub's `success()`/`failure()` of a job look at every ancestor, not only at `needs`; each order carries what
   * its needs saw, so a dependent decides from its needs alone. Absent: every ancestor succeeded or was skipped.
   */
  readonly upstream?: { readonly job: string; readonly result: 'failure' | 'cancelled' };
  readonly stepResults?: readonly StepResult[];
  /** The runner kind the route chose (`local`, `spot`, `codebuild`). */
  readonly runner?: string;
  /** Runner-specific handle (instance id, build id, pid), for terminate and the watchdog. */
  readonly handle?: string;
  /** Human sentence: why skipped / failed / cancelled / waiting. */
  readonly reason?: string;
  readonly createdAt: number;
  /** Set while the order is ready but held back (capacity cap, max-parallel); cleared when it dispatches. */
  readonly waitingSince?: number;
  readonly dispatchedAt?: number;
  readonly startedAt?: number;
  readonly finishedAt?: number;
  /** Epoch ms when the order times out (set when it starts running). */
  readonly deadline?: number;
  /** On a dynamic-matrix order once expanded: how many cells (`<id>.1` … `<id>.<n>`) it waits for. */
  readonly cells?: number;
  /** On a dynamic-matrix order: set once every cell is written and started (until then the watchdog repairs). */
  readonly cellsWritten?: boolean;
  /** On a cell of a dynamic matrix: the order that stands for its job (the cell's only dependent). */
  readonly cellOf?: string;
}
