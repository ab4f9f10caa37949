import type {
  GithubContext,
  InputValues,
  MatrixCell,
  OrderRecord,
  RunRecord,
  StepResult,
  StepSpec,
  StrategyContext,
} from '../src/core/types.ts';

/** Identifies one attempt of one order; every report carries it so stale attempts can be refused. */
export interface OrderRef {
  readonly runId: string;
  readonly orderId: string;
  readonly attempt: number;
}

/** Everything an agent needs to execute an order, and nothing more (no bot secrets). */
export interface OrderJob {
  readonly ref: OrderRef;
  readonly repository: string;
  /**
   * A URL git can clone: a local path or the forge's URL for the local runner; a tokenised https URL in the job a
   * cloud agent gets from the bootstrap exchange. Empty in the job a cloud runner's launch gets (never read there).
   */
  readonly cloneUrl: string;
  readonly sha: string;
  readonly github: GithubContext;
  readonly matrix: MatrixCell;
  /** Results and outputs of the orders' needed jobs, for `needs.*` in expressions. */
  readonly needs: Readonly<
    Record<string, { readonly result: string; readonly outputs: Readonly<Record<string, string>> }>
  >;
  /** Workflow env then job env, unevaluated (expressions may read matrix, needs, github, steps). */
  readonly env: Readonly<Record<string, string>>;
  readonly steps: readonly StepSpec[];
  readonly outputExprs: Readonly<Record<string, string>>;
  readonly timeoutMinutes: number;
  /** The `strategy` context; absent means a job without a matrix (one job of one). */
  readonly strategy?: StrategyContext;
  /** The `vars` context: the operator's variables for the repository; absent: none (`vars.X` is ''). */
  readonly vars?: Readonly<Record<string, string>>;
  /** The `inputs` context of the order's job; absent: empty (push, pull_request). */
  readonly inputs?: InputValues;
  /**
   * Where `owner/repo[/path]@ref` actions come from (the operator's `actions:` source; on Gitea the instance itself).
   * Absent: remote actions fail with a clear line. The token is present only in the job an agent holds (local, or
   * from the bootstrap exchange), never in a launch's user data.
   */
  readonly actionsSource?: ActionsSource;
  /** The forge the run came from, for GITHUB_SERVER_URL, GITHUB_API_URL and GITHUB_GRAPHQL_URL. */
  readonly forgeUrls?: ForgeUrls;
  /**
   * `spotcheck run`: the workspace is the local working tree, which no forge serves, so a step checking the run's
   * own repository out with actions/checkout is skipped (`local-checkout.ts`, as act skips it).
   */
  readonly localRepository?: true;
  /**
   * `github.token` / `secrets.GITHUB_TOKEN` for the order's steps: on GitHub an installation token narrowed to the
   * repository and the job's `permissions`, revoked when the order ends; on Gitea the configured token. Absent:
   * no token (`permissions: {}`, or none configured). Present only where `actionsSource.token` may be.
   */
  readonly token?: string;
  /**
   * The `secrets` context: the org, repository and environment secrets this order may read (src/core/secrets.ts),
   * opened by the server. Present only in the job an agent holds — in-process for the local runner, or in the
   * one-time bootstrap exchange answer — never in a launch's user data or a CodeBuild environment. Every value is
   * for the agent's masker to register.
   */
  readonly secrets?: Readonly<Record<string, string>>;
  /**
   * Where the order's steps ask for OpenID Connect ID tokens (ACTIONS_ID_TOKEN_REQUEST_URL) and the bearer token
   * they ask with (ACTIONS_ID_TOKEN_REQUEST_TOKEN, scoped to this order attempt and expiring with it; for the masker
   * to register). Present only when the job's permissions grant `id-token: write`, and only where `token` may be.
   */
  readonly idToken?: { readonly url: string; readonly token: string };
}

/** An actions source: a forge whose REST API serves repository archives (GitHub, GitHub Enterprise, Gitea). */
export interface ActionsSource {
  readonly kind: 'github' | 'gitea';
  /** The web URL (`https://github.com`): what `uses: https://host/owner/repo@ref` is matched against. */
  readonly url: string;
  /** The REST API base (`https://api.github.com`, `https://gitea.example/api/v1`). */
  readonly apiUrl: string;
  readonly token?: string;
}

export interface ForgeUrls {
  readonly server: string;
  readonly api: string;
  readonly graphql: string;
}

/** What an agent tells the orchestrator; the same shapes travel in-process (local) and over HTTP (cloud). */
export type AgentReport =
  | { readonly type: 'running' }
  | { readonly type: 'log'; readonly chunk: string }
  | { readonly type: 'step'; readonly result: StepResult }
  | {
      readonly type: 'finished';
      readonly conclusion: 'success' | 'failure' | 'cancelled' | 'timed_out';
      readonly outputs: Readonly<Record<string, string>>;
      readonly stepResults: readonly StepResult[];
      readonly reason?: string;
    }
  | { readonly type: 'interrupted'; readonly reason: string };

/** The completion path: the orchestrator implements it; the callback route forwards HTTP reports to it. */
export interface ReportSink {
  report(ref: OrderRef, report: AgentReport): Promise<void>;
}

/** Operator config for a `runs-on` label. */
export interface Route {
  readonly label: string;
  readonly runner: 'local' | 'spot' | 'codebuild' | 'skip';
  readonly settings: Readonly<Record<string, unknown>>;
}

export interface LaunchRequest {
  readonly run: RunRecord;
  readonly order: OrderRecord;
  readonly route: Route;
  readonly job: OrderJob;
}

export interface LaunchResult {
  /** Runner-specific handle (pid, instance id, build id) kept on the order for terminate and the watchdog. */
  readonly handle: string;
}

/**
 * Where an order executes. Contract:
 * - `launch` is idempotent per run/order/attempt: calling it twice for the same attempt starts one execution.
 * - The execution reports through the `ReportSink` given at construction, ending with `finished` or `interrupted`.
 * - `terminate` stops an execution and everything it started; terminating a gone handle is not an error.
 */
export interface Runner {
  readonly kind: 'local' | 'spot' | 'codebuild';
  launch(request: LaunchRequest): Promise<LaunchResult>;
  terminate(handle: string, reason: string): Promise<void>;
  /** Whether the execution behind a handle still exists (the watchdog asks). */
  isAlive(handle: string): Promise<boolean>;
  /**
   * Optional, for cloud runners: what the provider says about a handle, so the watchdog can tell a reclaimed Spot
   * instance (`interrupted`: retry the order) from an execution that died (failed).
   */
  inspect?(handle: string): Promise<ExecutionStatus>;
}

/** What the provider reports about an execution. `reason` is a human sentence (the provider's own code in it). */
export interface ExecutionStatus {
  readonly alive: boolean;
  /** Gone because the provider took it back (Spot interruption), not because it failed. */
  readonly interrupted: boolean;
  readonly reason: string;
  /**
   * When the provider itself knows how the execution ended (a CodeBuild build's status), the watchdog takes it as
   * the order's result if the agent's own report was lost.
   */
  readonly conclusion?: 'success' | 'failure' | 'timed_out' | 'cancelled';
}
