/**
 * The orchestrator as the integration tests and the engine bench wire it: the instant runner on the `local` route
 * reporting back to the orchestrator, the default limits with a concurrency cap that holds nothing back, a silent
 * logger, and jobs built as the server builds them (buildOrderJob). Reporters stay with the tests: what "finished"
 * means differs between them on purpose.
 */
import pino, { type Logger } from 'pino';
import { DEFAULT_LIMITS, type Limits } from '../../src/config.ts';
import { buildGithubContext } from '../../src/core/github-context.ts';
import type { RepoRef, RunPlan } from '../../src/core/types.ts';
import { Orchestrator, type OrchestratorOptions, type Reporter, type StartRunInput } from '../../src/orchestrator.ts';
import type { Store } from '../../src/store/store.ts';
import { buildOrderJob } from '../../runners/order-job.ts';
import type { ReportSink, Route, Runner } from '../../runners/runner.ts';
import { createInstantRunner, type InstantRunnerOptions } from './instant-runner.ts';

export const LOCAL_ROUTES: ReadonlyMap<string, Route> = new Map([
  ['local', { label: 'local', runner: 'local', settings: {} }],
]);

/** Tells no one. */
export const NULL_REPORTER: Reporter = { orderChanged: () => Promise.resolve(), runChanged: () => Promise.resolve() };

export interface OrchestratorHarnessOptions {
  readonly store: Store;
  readonly reporter?: Reporter;
  /** Over the defaults, whose concurrency cap here is 1000. */
  readonly limits?: Partial<Limits>;
  readonly routes?: ReadonlyMap<string, Route>;
  readonly conclude?: InstantRunnerOptions['conclude'];
  readonly outputs?: InstantRunnerOptions['outputs'];
  /** Runs the `local` route in place of the instant runner (which is made all the same). */
  readonly runner?: Runner;
  readonly now?: () => number;
  readonly logger?: Logger;
  /** Builds the jobs in place of buildOrderJob alone (the server's adds the order's token and secrets). */
  readonly jobFor?: OrchestratorOptions['jobFor'];
}

export interface OrchestratorHarness {
  readonly orchestrator: Orchestrator;
  readonly instant: ReturnType<typeof createInstantRunner>;
  /** Where the instant runner reports: the orchestrator, and whatever a test adds. */
  readonly sinks: ReportSink[];
}

export function createOrchestratorHarness(options: OrchestratorHarnessOptions): OrchestratorHarness {
  const sinks: ReportSink[] = [];
  const instant = createInstantRunner({
    sinks: () => sinks,
    ...(options.conclude === undefined ? {} : { conclude: options.conclude }),
    ...(options.outputs === undefined ? {} : { outputs: options.outputs }),
  });
  const orchestrator = new Orchestrator({
    store: options.store,
    runners: { local: options.runner ?? instant },
    routes: options.routes ?? LOCAL_ROUTES,
    limits: { ...DEFAULT_LIMITS, maxConcurrentOrders: 1000, ...options.limits },
    reporter: options.reporter ?? NULL_REPORTER,
    logger: options.logger ?? pino({ level: 'silent' }),
    ...(options.now === undefined ? {} : { now: options.now }),
    jobFor: options.jobFor ?? ((run, order, needs) => Promise.resolve(buildOrderJob(run, order, needs, '/dev/null'))),
  });
  sinks.push(orchestrator);
  return { orchestrator, instant, sinks };
}

export interface TestRunInput {
  readonly runId: string;
  readonly repo: RepoRef;
  readonly plan: RunPlan;
  readonly sha: string;
  readonly actor: string;
  /** A pull request's run (at `refs/pull/<pr>/head`); a push to main otherwise. */
  readonly pr?: number;
}

/** What the intake hands the orchestrator for a push to main or a pull request's head, github context and all. */
export function testRunInput(input: TestRunInput): StartRunInput {
  const event = input.pr === undefined ? 'push' : 'pull_request';
  const ref = input.pr === undefined ? 'refs/heads/main' : `refs/pull/${String(input.pr)}/head`;
  return {
    runId: input.runId,
    repo: input.repo,
    plan: input.plan,
    event,
    ref,
    sha: input.sha,
    actor: input.actor,
    github: buildGithubContext({
      event,
      ref,
      sha: input.sha,
      repository: `${input.repo.owner}/${input.repo.name}`,
      actor: input.actor,
      serverUrl: `https://${input.repo.host}`,
      workflow: input.plan.workflowName,
    }),
    ...(input.pr === undefined ? {} : { pr: input.pr }),
  };
}
