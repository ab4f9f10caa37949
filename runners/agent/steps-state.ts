/**
 * What the steps of one scope — the job, or one run of a composite action — have left for the next ones: results,
 * the `steps` context, the scope's status; and what every scope of the order shares: GITHUB_ENV and GITHUB_PATH
 * additions (a composite's steps change the env of the job's later steps, as on GitHub).
 */
import type { ExpressionContext } from '../../src/core/workflow/expressions.ts';
import { MAX_ANNOTATIONS_PER_STEP } from '../../src/core/step-results.ts';
import type { StepResult, StepSpec } from '../../src/core/types.ts';
import type { OrderJob } from '../runner.ts';
import { hashFiles } from './hash-files.ts';
import { addToPath } from './step-env.ts';

/** What every step of the order shares: the contexts, the job env, the files' places. */
export interface PreparedOrder {
  readonly ok: true;
  readonly baseCtx: Omit<ExpressionContext, 'env' | 'steps' | 'job'>;
  readonly github: OrderJob['github'] & { readonly repository: string };
  readonly jobId: string;
  readonly jobEnv: Readonly<Record<string, string>>;
  readonly filesDir: string;
  readonly eventPath: string;
  readonly workdir: string;
}

type Outcome = StepResult['outcome'];
/** What a step reports besides its outcome: annotations and step summary (both masked by the time they get here). */
export type Reported = Pick<StepResult, 'annotations' | 'summary'>;

/**
 * Several runs' annotations and summaries as one step's (a composite's steps, an action's pre, main and post): in
 * order, the annotations capped at what one step result may carry (the server's edge refuses more).
 */
export function joinReported(parts: readonly Reported[]): Reported {
  const annotations = parts.flatMap((part) => part.annotations ?? []).slice(0, MAX_ANNOTATIONS_PER_STEP);
  const summaries = parts.flatMap((part) => (part.summary === undefined ? [] : [part.summary]));
  return {
    ...(annotations.length === 0 ? {} : { annotations }),
    ...(summaries.length === 0 ? {} : { summary: summaries.join('\n') }),
  };
}

export type StepsContext = Record<string, { outcome: Outcome; conclusion: Outcome; outputs: Record<string, string> }>;

/** A composite action's scope: its inputs, its folder, where it came from, and the env of the step that used it. */
export interface ActionScope {
  readonly inputs: Readonly<Record<string, string>>;
  readonly actionPath: string;
  readonly env: Readonly<Record<string, string>>;
  /** `owner/repo` and the ref for a remote action; absent for a local one (GitHub leaves them empty then). */
  readonly repository?: string;
  readonly ref?: string;
}

interface SharedEnv {
  readonly addedEnv: Record<string, string>;
  readonly prependPath: string[];
}

export class StepsState {
  readonly results: StepResult[] = [];
  readonly steps: StepsContext = {};
  jobStatus: 'success' | 'failure' = 'success';
  firstFailure: string | undefined;
  readonly order: PreparedOrder;
  readonly scope: ActionScope | undefined;
  readonly #shared: SharedEnv;
  readonly #onStep: ((result: StepResult) => void) | undefined;
  readonly #mask: (text: string) => string;
  /** What an action's pre reported, by the index of the step that uses the action, until that step's result. */
  readonly #early = new Map<number, Reported>();

  constructor(
    order: PreparedOrder,
    opts: {
      onStep?: (result: StepResult) => void;
      /** The order's masker: step names may interpolate a secret. */
      mask?: (text: string) => string;
      shared?: SharedEnv;
      scope?: ActionScope;
    } = {},
  ) {
    this.order = order;
    this.#onStep = opts.onStep;
    this.#mask = opts.mask ?? ((text) => text);
    this.#shared = opts.shared ?? { addedEnv: {}, prependPath: [] };
    this.scope = opts.scope;
  }

  /** A composite action's scope inside this one: its own steps and status, the order's env additions. */
  child(scope: ActionScope): StepsState {
    return new StepsState(this.order, { mask: this.#mask, shared: this.#shared, scope });
  }

  get addedEnv(): Record<string, string> {
    return this.#shared.addedEnv;
  }

  get prependPath(): string[] {
    return this.#shared.prependPath;
  }

  /** The env the next step starts from: job env, GITHUB_ENV additions, then (in a composite) the using step's env. */
  envCtx(): Record<string, string> {
    return { ...this.order.jobEnv, ...this.#shared.addedEnv, ...this.scope?.env };
  }

  /** The contexts of a step's fields, with the runner's step-time function hashFiles() over the workspace. */
  ctx(env: Record<string, string>): ExpressionContext {
    const workdir = this.order.workdir;
    const scope = this.scope;
    return {
      ...this.order.baseCtx,
      ...(scope === undefined
        ? {}
        : {
            github: {
              ...this.order.github,
              action_path: scope.actionPath,
              action_repository: scope.repository ?? '',
              action_ref: scope.ref ?? '',
            },
            inputs: scope.inputs,
          }),
      env,
      steps: this.steps,
      job: { status: this.jobStatus },
      functions: { hashFiles: (patterns) => hashFiles(patterns, workdir) },
    };
  }

  /** What the runner sets for the steps of a composite action (actions/runner CompositeActionHandler). */
  runnerEnv(): Record<string, string> {
    if (this.scope === undefined) return {};
    return {
      GITHUB_ACTION_PATH: this.scope.actionPath,
      GITHUB_ACTION_REPOSITORY: this.scope.repository ?? '',
      GITHUB_ACTION_REF: this.scope.ref ?? '',
    };
  }

  /** Takes in what a step wrote to GITHUB_ENV and GITHUB_PATH (an entry added again moves to the end). */
  apply(commands: { readonly env: Readonly<Record<string, string>>; readonly path: readonly string[] }): void {
    Object.assign(this.#shared.addedEnv, commands.env);
    addToPath(this.#shared.prependPath, commands.path);
  }

  /**
   * An action's pre or post stage reported annotations or a summary: the step that used the action reports them
   * (GitHub lists a pre's and a post's annotations with the job's, as the main step's). A pre's wait for the step's
   * result; a post's amend the result recorded already, which is sent again (the server keeps the last one sent).
   */
  attach(step: StepSpec, reported: Reported): void {
    if (reported.annotations === undefined && reported.summary === undefined) return;
    const at = this.results.findLastIndex((result) => result.index === step.index);
    if (at === -1) {
      this.#early.set(step.index, joinReported([this.#early.get(step.index) ?? {}, reported]));
      return;
    }
    const { annotations: _a, summary: _s, ...result } = this.results[at]!;
    const amended: StepResult = { ...result, ...joinReported([this.results[at]!, reported]) };
    this.results[at] = amended;
    this.#onStep?.(amended);
  }

  /** Marks the scope failed by something that is not one of its steps (an action's pre or post). */
  fail(name: string): void {
    this.jobStatus = 'failure';
    this.firstFailure ??= name;
  }

  /**
   * Records a step's end; `continue-on-error` (as evaluated) turns a failure's conclusion into success. The name is
   * masked here (it may interpolate a secret); annotations and summary come masked from the step's run.
   */
  record(
    step: StepSpec,
    name: string,
    end: {
      outcome: Outcome;
      exitCode: number | undefined;
      continueOnError: boolean;
      annotations?: StepResult['annotations'];
      summary?: string;
    },
    startedAt: number,
  ): StepResult {
    const { outcome, exitCode } = end;
    const early = this.#early.get(step.index);
    this.#early.delete(step.index);
    const own: Reported = {
      ...(end.annotations === undefined ? {} : { annotations: end.annotations }),
      ...(end.summary === undefined ? {} : { summary: end.summary }),
    };
    const { annotations, summary } = early === undefined ? own : joinReported([early, own]);
    const conclusion: Outcome = outcome === 'failure' && end.continueOnError ? 'success' : outcome;
    const result: StepResult = {
      index: step.index,
      name: this.#mask(name),
      outcome,
      conclusion,
      ...(exitCode === undefined ? {} : { exitCode }),
      durationMs: Date.now() - startedAt,
      ...(annotations === undefined ? {} : { annotations }),
      ...(summary === undefined ? {} : { summary }),
    };
    this.results.push(result);
    this.#onStep?.(result);
    if (conclusion === 'failure') this.fail(name);
    return result;
  }
}
