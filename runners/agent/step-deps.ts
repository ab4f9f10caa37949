/**
 * The shapes the order's step machinery shares, types only: execute-order, run-one-step and the actions modules
 * run each other's steps (a composite action's steps are steps), so they meet here instead of importing each other,
 * and the step runner travels as a function in `StepDeps`.
 */
import type { Annotation, StepResult, StepSpec } from '../../src/core/types.ts';
import type { OrderJob } from '../runner.ts';
import type { RunAs } from './run-as.ts';
import type { ActionFetcher } from './actions/action-fetcher.ts';
import type { ActionSession, PostStep } from './actions/action-session.ts';
import type { CappedLog } from './capped-log.ts';
import type { OrderStop, ProcessGroups } from './order-stop.ts';
import type { StepsState } from './steps-state.ts';
import type { WorkflowCommands } from './workflow-commands.ts';

export interface ExecuteOptions {
  readonly job: OrderJob;
  /** The checkout (GITHUB_WORKSPACE). */
  readonly workdir: string;
  /** For GITHUB_OUTPUT / GITHUB_ENV / step scripts (RUNNER_TEMP). The caller creates and removes it. */
  readonly tempDir: string;
  /** PATH, HOME … The caller decides what to pass; never the bot's secrets. Nothing else is inherited. */
  readonly baseEnv: Readonly<Record<string, string>>;
  /** Merged stdout+stderr with step headers, streamed as it comes (masked). */
  readonly onLog: (chunk: string) => void;
  readonly onStep?: (result: StepResult) => void;
  /** Cancel: kills the current step's whole process group and marks the remaining steps cancelled. */
  readonly signal?: AbortSignal;
  readonly killGraceMs?: number;
  readonly maxLogBytes?: number;
  /** Gets remote actions' files (`owner/repo@ref`); absent: a remote `uses:` fails with a line that says so. */
  readonly actionFetcher?: ActionFetcher;
  /** The user step processes run as (absent: the server's own); the caller gives it the folders above. */
  readonly runAs?: RunAs;
  /** How long post steps may run once the order was stopped (cancelled or timed out); default 60 s. */
  readonly postGraceMs?: number;
  /** Values masked from the start, beside the job's token, secrets and actions-source token and `::add-mask::`. */
  readonly masks?: readonly string[];
}

/** Runs one step of a scope (run-one-step.ts's `runOneStep`). */
export type StepRunner = (step: StepSpec, state: StepsState, deps: StepDeps) => Promise<void>;

export interface StepDeps {
  readonly opts: ExecuteOptions;
  readonly log: CappedLog;
  readonly stop: OrderStop;
  readonly groups: ProcessGroups;
  readonly actions: ActionSession;
  /** The order's workflow-command processor (masks and `::stop-commands::` carry from step to step). */
  readonly commands: WorkflowCommands;
  /** The order's masker, for what leaves the agent other than the log. */
  readonly mask: (text: string) => string;
  /** 0 for the job's steps, one more inside each composite action (GitHub's limit is counted on this). */
  readonly depth: number;
  /** Where actions run here register their `post`: the job's list, or the composite's (run when it ends). */
  readonly posts: PostStep[];
  /** The step runner, handed down so composite actions run their steps the same way (and no import cycle). */
  readonly runOneStep: StepRunner;
}

/** A `uses:` step's run, whatever the action is. */
export interface UsesRun {
  readonly outcome: StepResult['outcome'];
  readonly exitCode?: number;
  readonly outputs: Record<string, string>;
  /** The action's annotations (a composite's: its steps'), masked. */
  readonly annotations?: readonly Annotation[];
  /** The action's step summary (a composite's: its steps', joined), masked. */
  readonly summary?: string;
}
