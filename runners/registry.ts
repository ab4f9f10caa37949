/**
 * The registry of runners: one of each kind that some route uses, built from the operator's routes and the
 * server's dependencies. A kind no route names is never built (a server with only local routes needs no AWS
 * credentials or SDK clients).
 */
import { CodeBuildClient } from '@aws-sdk/client-codebuild';
import { EC2Client } from '@aws-sdk/client-ec2';
import type { Logger } from 'pino';
import { ConfigError } from '../src/errors.ts';
import { createCodeBuildRunner } from './codebuild.ts';
import { createLocalRunner, type LocalRunnerOptions } from './local.ts';
import { parseRouteSettings } from './route-settings.ts';
import type { Route, Runner } from './runner.ts';
import { createSpotRunner, type BootstrapMinter } from './spot.ts';

export type RunnerKind = Runner['kind'];

export interface RunnerDeps {
  /** Needed when a route uses the local runner. */
  readonly local?: LocalRunnerOptions;
  /** Needed when a route uses spot or codebuild. */
  readonly bootstrap?: BootstrapMinter;
  readonly clock?: () => number;
  readonly logger?: Logger;
  /** Client factories, given the region the routes name (undefined: the SDK's default chain). */
  readonly ec2?: (region: string | undefined) => EC2Client;
  readonly codebuild?: (region: string | undefined) => CodeBuildClient;
  readonly agentCommand?: readonly string[];
  readonly tagPrefix?: string;
}

/**
 * Builds the runners the routes need. Throws one ConfigError listing every problem (invalid route settings, a
 * missing dependency, routes of one kind in several regions — one client per kind, as handles carry no region).
 */
export function createRunners(
  routes: Iterable<Route> | ReadonlyMap<string, Route>,
  deps: RunnerDeps,
): Partial<Record<RunnerKind, Runner>> {
  const list =
    routes instanceof Map ? [...(routes as ReadonlyMap<string, Route>).values()] : [...(routes as Iterable<Route>)];
  const errors: string[] = [];
  const used = new Set<RunnerKind>();
  const regions: Record<'spot' | 'codebuild', Set<string | undefined>> = { spot: new Set(), codebuild: new Set() };
  for (const route of list) {
    if (route.runner === 'skip') continue;
    used.add(route.runner);
    const parsed = parseRouteSettings(route);
    if (!parsed.ok) {
      errors.push(...parsed.errors);
      continue;
    }
    if (parsed.settings.runner === 'spot') regions.spot.add(parsed.settings.spot.region);
    if (parsed.settings.runner === 'codebuild') regions.codebuild.add(parsed.settings.codebuild.region);
  }
  for (const kind of ['spot', 'codebuild'] as const) {
    if (regions[kind].size > 1)
      errors.push(`${kind} routes name ${regions[kind].size} different regions; all ${kind} routes must share one`);
    if (used.has(kind) && deps.bootstrap === undefined)
      errors.push(`${kind} routes need the server's bootstrap endpoint (publicUrl) to launch agents`);
  }
  if (used.has('local') && deps.local === undefined) errors.push('local routes need the local runner options');
  if (errors.length > 0)
    throw new ConfigError(
      `runners: ${errors.length} problem${errors.length === 1 ? '' : 's'}:\n  - ${errors.join('\n  - ')}`,
      {
        source: 'routes',
      },
    );

  const clock = deps.clock ?? Date.now;
  const runners: Partial<Record<RunnerKind, Runner>> = {};
  if (used.has('local') && deps.local !== undefined) runners.local = createLocalRunner(deps.local);
  if (used.has('spot') && deps.bootstrap !== undefined) {
    const region = [...regions.spot][0];
    runners.spot = createSpotRunner({
      ec2: (deps.ec2 ?? defaultEc2)(region),
      bootstrap: deps.bootstrap,
      clock,
      ...(deps.logger === undefined ? {} : { logger: deps.logger.child({ runner: 'spot' }) }),
      ...(deps.tagPrefix === undefined ? {} : { tagPrefix: deps.tagPrefix }),
      ...(deps.agentCommand === undefined ? {} : { agentCommand: deps.agentCommand }),
    });
  }
  if (used.has('codebuild') && deps.bootstrap !== undefined) {
    const region = [...regions.codebuild][0];
    runners.codebuild = createCodeBuildRunner({
      codebuild: (deps.codebuild ?? defaultCodeBuild)(region),
      bootstrap: deps.bootstrap,
      clock,
      ...(deps.logger === undefined ? {} : { logger: deps.logger.child({ runner: 'codebuild' }) }),
      ...(deps.agentCommand === undefined ? {} : { agentCommand: deps.agentCommand }),
    });
  }
  return runners;
}

/** The CodeBuild projects the routes use: what the janitor sweeps. */
export function codeBuildProjects(routes: Iterable<Route>): string[] {
  const projects = new Set<string>();
  for (const route of routes) {
    const parsed = parseRouteSettings(route);
    if (parsed.ok && parsed.settings.runner === 'codebuild') projects.add(parsed.settings.codebuild.project);
  }
  return [...projects];
}

function defaultEc2(region: string | undefined): EC2Client {
  return new EC2Client(region === undefined ? {} : { region });
}

function defaultCodeBuild(region: string | undefined): CodeBuildClient {
  return new CodeBuildClient(region === undefined ? {} : { region });
}
