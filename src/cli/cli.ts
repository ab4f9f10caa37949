/**
 * `spotcheck <command>`: run, validate, plan, demo, serve, watchdog, janitor, secrets. Exit codes: 0 ok,
 * 1 the run failed, 2 invalid input or usage.
 */
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { planWorkflows } from '../core/plan-workflows.ts';
import {
  DEFAULT_WORKFLOW_FOLDERS,
  WORKFLOW_FOLDERS,
  workflowFolderOf,
  type WorkflowFolder,
} from '../core/workflow/workflow-files.ts';
import { formatDiagnostic, formatNotice, parseWorkflowFiles } from '../core/workflow/parse-workflow.ts';
import {
  EVENT_NAMES,
  PULL_REQUEST_TYPES,
  type EventName,
  type PullRequestType,
  type TriggerEvent,
} from '../core/types.ts';
import { loadConfig, type OperatorConfig } from '../config.ts';
import { ConfigError, WorkflowReadError } from '../errors.ts';
import { localCalleeReader, readWorkflowDir, readWorkflowFile } from './read-workflow-dir.ts';
import { readCallees } from '../intake/read-callees.ts';
import { normaliseRef } from '../core/github-context.ts';
import { SERVE_USAGE } from './serve-help.ts';
import { SECRETS_USAGE } from './secrets-help.ts';
import type { SecretInput } from './secrets-command.ts';
import { checkActions } from './check-actions.ts';
import { userActionsCacheDir } from './action-cache-dir.ts';
import { validateWorkflows } from './validate-workflows.ts';

export interface CliIo {
  /** stdin: only `secrets set` reads it (the value). */
  readonly in?: SecretInput;
  readonly out: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  readonly err: NodeJS.WritableStream;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
}

const USAGE = `usage: spotcheck <command> [options]

commands:
  run [dir] [--event push|pull_request|testme] [--ref REF] [--sha SHA] [--base-ref BRANCH] [--config FILE]
      [--workflows-dir DIR]... [--job JOB]... [-v|--verbose] [--keep-logs]
      run a local git repository's workflows on this machine (steps see your environment, as make would pass it):
      the working tree, uncommitted and untracked (not ignored) files included, unless --sha or --ref names a
      commit (--sha SHA, or HEAD as REF); --job runs those jobs and the jobs they need; -v (or --logs) streams
      step output with a [workflow/job] prefix; --keep-logs keeps a green run's logs (a failed run's are kept)
  validate [dir] [--config FILE] [--workflows-dir DIR]... [-v|--verbose]
      check the workflow files in dir's workflow folders (the files run reads); with --config, a runs-on
      label no route serves is an error, otherwise a warning; GitHub events spotcheck does not act on get a
      notice; actions' with: keys are checked against ./path and cached actions' inputs (warnings), Docker
      actions are errors unless the route declares docker: true; -v also lists the keys spotcheck accepts but ignores
  plan (--workflow FILE | --dir DIR) [--event push|pull_request|testme] [--action TYPE] [--ref REF]
       [--base-ref BRANCH] [--deleted] [--changed-file LIST] [--config FILE] [--workflows-dir DIR]... [--json]
      show which workflows an event runs and their orders, without running anything
  demo
      run the example repository's workflows (embedded store, local runner)
  serve
      the bot's webhook server for GitHub and/or Gitea (npm start), configured by the environment:
      \`spotcheck serve --help\` lists every variable
  watchdog [--once] [--interval SECONDS] [--config FILE]
      the watchdog without the server: times out, re-drives and checks cloud orders, then runs the janitor;
      --once ticks once and exits (for cron or EventBridge), otherwise every --interval seconds (default 60)
      until SIGINT; statuses reach GitHub when the app's variables are set
  janitor [--dry-run] [--config FILE]
      terminates instances and stops builds spotcheck started that no live order owns (or past their expiry),
      one line per id with the reason; --dry-run only lists them
  secrets set NAME (--repo OWNER/NAME | --org OWNER) [--env ENVIRONMENT] [--outsiders] [--config FILE] [--data-dir DIR]
  secrets list (--repo OWNER/NAME | --org OWNER) [--env ENVIRONMENT] [--config FILE] [--data-dir DIR]
  secrets rm NAME... (--repo OWNER/NAME | --org OWNER) [--env ENVIRONMENT] [--config FILE] [--data-dir DIR]
      the secrets of serve's store, for workflows' secrets context: set reads the value from stdin, list shows
      names and update times only; \`spotcheck secrets --help\` for --forge, --host and the rest

options:
  --workflows-dir DIR
               a folder of the repository to read workflow files from: .spotcheck/workflows, .github/workflows
               or .gitea/workflows (repeat it for several, read in that order); default: the folders of
               --config's workflows.folders, else .spotcheck/workflows
  --event      the event to plan or run (default push)
  --ref        the pushed ref: a full ref (refs/heads/NAME, refs/tags/NAME), or a bare NAME, which is a branch
               (a tag must be written refs/tags/NAME); default refs/heads/main for plan, the current branch for run
  --base-ref   a pull request's target branch, for pull_request and testme (default main)
  --action     a pull_request's activity type (GitHub's: opened, synchronize, closed, labeled, …; default
               synchronize), matched against on.pull_request.types
  --deleted    the pushed branch or tag was deleted (nothing runs)
  --changed-file LIST
               a file with one changed path per line; an empty file means no file changed; without it the
               changed files are unknown, which counts as "paths match"
  --json       print one JSON object: {"workflows":[{"file","matched","reason","orders":[...]}],"notices":[...]}
               (an order's "permissions" and "environment" appear when its job sets them)

exit codes: 0 ok, 1 a run failed, 2 invalid workflow, input or usage
`;

export async function main(argv: readonly string[], io: CliIo = defaultIo()): Promise<number> {
  const [command, ...rest] = argv;
  // `spotcheck <command> --help` prints the usage rather than failing on an unknown option.
  if (command !== undefined && rest.some((a) => a === '--help' || a === '-h')) {
    io.out.write(command === 'serve' ? SERVE_USAGE : command === 'secrets' ? SECRETS_USAGE : USAGE);
    return 0;
  }
  try {
    switch (command) {
      case 'run':
        return await runCommand(rest, io);
      case 'validate':
        return await validateCommand(rest, io);
      case 'plan':
        return await planCommand(rest, io);
      case 'demo':
        return await (await import('./demo.ts')).runDemo({ ...io, logger: cliLogger(io) });
      case 'serve':
        return await (await import('../app/serve.ts')).serveCommand(io);
      case 'watchdog':
        return await watchdogCommand(rest, io);
      case 'janitor':
        return await janitorCommand(rest, io);
      case 'secrets':
        return await (await import('./secrets-command.ts')).secretsCommand(rest, { ...io, in: io.in ?? process.stdin });
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        io.out.write(USAGE);
        return command === undefined ? 2 : 0;
      default:
        io.err.write(`spotcheck: unknown command "${command}"\n\n${USAGE}`);
        return 2;
    }
  } catch (error) {
    if (error instanceof UsageError || error instanceof WorkflowReadError || error instanceof ConfigError) {
      io.err.write(`spotcheck: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
}

class UsageError extends Error {
  override name = 'UsageError';
}

function defaultIo(): CliIo {
  return { in: process.stdin, out: process.stdout, err: process.stderr, env: process.env, cwd: process.cwd() };
}

function cliLogger(io: CliIo): pino.Logger {
  return pino({ level: io.env.LOG_LEVEL ?? 'warn' }, pino.destination(2));
}

type ArgOptions = NonNullable<NonNullable<Parameters<typeof parseArgs>[0]>['options']>;

function args(argv: readonly string[], options: ArgOptions) {
  try {
    return parseArgs({ args: [...argv], options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

function eventName(value: unknown): EventName {
  if (value === undefined) return 'push';
  if (typeof value === 'string' && (EVENT_NAMES as readonly string[]).includes(value)) return value as EventName;
  throw new UsageError(`--event must be one of ${EVENT_NAMES.join(', ')}`);
}

/** `--action`: one of GitHub's pull_request activity types, for `--event pull_request` only. */
function pullRequestAction(value: unknown, event: EventName): PullRequestType | undefined {
  if (value === undefined) return undefined;
  if (event !== 'pull_request') throw new UsageError('--action applies to --event pull_request only');
  const action = PULL_REQUEST_TYPES.find((t) => t === value);
  if (action === undefined) throw new UsageError(`--action must be one of ${PULL_REQUEST_TYPES.join(', ')}`);
  return action;
}

async function runCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = args(argv, {
    event: { type: 'string' },
    ref: { type: 'string' },
    sha: { type: 'string' },
    'base-ref': { type: 'string' },
    config: { type: 'string' },
    'workflows-dir': { type: 'string', multiple: true },
    job: { type: 'string', multiple: true },
    verbose: { type: 'boolean', short: 'v' },
    logs: { type: 'boolean' },
    'keep-logs': { type: 'boolean' },
  });
  const controller = new AbortController();
  const onSignal = (): void => controller.abort();
  process.once('SIGINT', onSignal);
  try {
    const config = await loadConfig(str(values.config) ?? io.env.SPOTCHECK_CONFIG);
    // Loaded on demand: the store, orchestrator and runner stack would double the start-up time of plan/validate.
    const { runLocal } = await import('./local-run.ts');
    return await runLocal({
      dir: resolve(io.cwd, positionals[0] ?? '.'),
      event: eventName(values.event),
      config,
      folders: workflowFolders(values['workflows-dir'], config),
      out: io.out,
      err: io.err,
      env: io.env,
      logger: cliLogger(io),
      signal: controller.signal,
      ...opt('ref', str(values.ref)),
      ...opt('sha', str(values.sha)),
      ...opt('baseRef', str(values['base-ref'])),
      jobs: (values.job as string[] | undefined) ?? [],
      verbose: values.verbose === true || values.logs === true,
      keepLogs: values['keep-logs'] === true,
    });
  } finally {
    process.off('SIGINT', onSignal);
  }
}

async function watchdogCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = args(argv, {
    once: { type: 'boolean' },
    interval: { type: 'string' },
    config: { type: 'string' },
  });
  if (positionals.length > 0) throw new UsageError(`watchdog takes no arguments (got "${positionals[0]}")`);
  const interval = Number(str(values.interval) ?? '60');
  if (!Number.isInteger(interval) || interval < 1) throw new UsageError('--interval must be a whole number of seconds');
  const controller = new AbortController();
  const onSignal = (): void => controller.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const { watchdogCommand: watchdog } = await import('../app/operations.ts');
    return await watchdog(io, {
      once: values.once === true,
      intervalSeconds: interval,
      signal: controller.signal,
      ...opt('configPath', str(values.config)),
    });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

async function janitorCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = args(argv, { 'dry-run': { type: 'boolean' }, config: { type: 'string' } });
  if (positionals.length > 0) throw new UsageError(`janitor takes no arguments (got "${positionals[0]}")`);
  const { janitorCommand: janitor } = await import('../app/operations.ts');
  return janitor(io, { dryRun: values['dry-run'] === true, ...opt('configPath', str(values.config)) });
}

async function validateCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = args(argv, {
    config: { type: 'string' },
    'workflows-dir': { type: 'string', multiple: true },
    verbose: { type: 'boolean', short: 'v' },
  });
  const dir = resolve(io.cwd, positionals[0] ?? '.');
  // The operator config whose routes must serve every runs-on label: named, it is what the jobs will run under.
  const configPath = str(values.config) ?? io.env.SPOTCHECK_CONFIG;
  const config = await loadConfig(configPath);
  const folders = workflowFolders(values['workflows-dir'], config);
  const read = await readWorkflowDir(dir, folders);
  if (read.length === 0) {
    io.err.write(`spotcheck: no workflow files in ${folders.map((f) => join(dir, f)).join(', ')}\n`);
    return 2;
  }
  const { workflows, errors, warnings, notices } = await validateWorkflows(read, {
    root: dir,
    config,
    configNamed: configPath !== undefined,
    cacheDir: userActionsCacheDir(io.env),
  });
  for (const d of [...errors, ...warnings]) io.err.write(`${formatDiagnostic(d)}\n`);
  // The closing line counts the problems listed; a "… and N more" note stands for problems that are not.
  const listed = errors.filter((d) => d.omitted === undefined).length;
  const omitted = errors.reduce((sum, d) => sum + (d.omitted ?? 0), 0);
  if (errors.length > 0) {
    const more = omitted > 0 ? ` (and ${omitted} more not shown)` : '';
    const warned = warnings.length > 0 ? `, ${plural(warnings.length, 'warning')}` : '';
    io.err.write(`${plural(listed, 'error')}${warned}${more}\n`);
    return 2;
  }
  if (warnings.length > 0) io.err.write(`${plural(warnings.length, 'warning')}\n`);
  for (const n of notices) if (n.level === 'notice' || values.verbose === true) io.err.write(`${formatNotice(n)}\n`);
  for (const w of workflows) {
    // A file shared with GitHub Actions may list only events spotcheck does not act on: valid, and never run here.
    const never = Object.keys(w.on).length === 0 ? '; never run by spotcheck: no push, pull_request or testme' : '';
    io.out.write(`ok ${w.file} (${plural(w.jobs.length, 'job')}${never})\n`);
  }
  return 0;
}

/**
 * The folders a local command reads: `--workflows-dir` when given, else the operator config's default folders (the
 * repository is unknown locally, so its org and repository entries do not apply), else `.spotcheck/workflows`.
 */
function workflowFolders(flag: unknown, config: OperatorConfig | undefined): readonly WorkflowFolder[] {
  const written = (flag as string[] | undefined) ?? [];
  if (written.length === 0) return config?.workflows.folders ?? DEFAULT_WORKFLOW_FOLDERS;
  return written.map((w) => {
    const folder = workflowFolderOf(w);
    if (folder === undefined) throw new UsageError(`--workflows-dir must be one of ${WORKFLOW_FOLDERS.join(', ')}`);
    return folder;
  });
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

async function planCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const { values } = args(argv, {
    workflow: { type: 'string', multiple: true },
    dir: { type: 'string' },
    config: { type: 'string' },
    'workflows-dir': { type: 'string', multiple: true },
    event: { type: 'string' },
    ref: { type: 'string' },
    'base-ref': { type: 'string' },
    action: { type: 'string' },
    sha: { type: 'string' },
    deleted: { type: 'boolean' },
    'changed-file': { type: 'string' },
    json: { type: 'boolean' },
  });
  const files = (values.workflow as string[] | undefined) ?? [];
  const dir = str(values.dir);
  if (files.length === 0 && dir === undefined) throw new UsageError('plan needs --workflow FILE or --dir DIR');
  const configPath = str(values.config);
  const config = configPath === undefined ? undefined : await loadConfig(resolve(io.cwd, configPath));
  const folders = workflowFolders(values['workflows-dir'], config);
  const dirSources = dir === undefined ? [] : await readWorkflowDir(resolve(io.cwd, dir), folders);
  // An empty folder is almost always the wrong folder: say so rather than print an empty plan.
  if (dir !== undefined && dirSources.length === 0)
    throw new UsageError(`no workflow files in ${folders.map((f) => join(resolve(io.cwd, dir), f)).join(', ')}`);
  const sources = [...(await Promise.all(files.map((f) => readWorkflowFile(resolve(io.cwd, f), f)))), ...dirSources];
  const event = eventName(values.event);
  const action = pullRequestAction(values.action, event);
  const changedList = str(values['changed-file']);
  const changedFiles = changedList === undefined ? null : await readChangedList(resolve(io.cwd, changedList));
  const baseRef = str(values['base-ref']) ?? 'main';
  const ref = normaliseRef(str(values.ref) ?? (event === 'push' ? 'refs/heads/main' : `refs/heads/${baseRef}`));
  const trigger: TriggerEvent =
    event === 'push'
      ? { kind: 'push', ref, deleted: values.deleted === true, changedFiles }
      : {
          kind: event,
          baseRef: baseRef.replace(/^refs\/heads\//, ''),
          changedFiles,
          ...opt('action', action),
        };
  // Called workflows: `./path` from the working tree (the --dir, else the current folder); another repository's are
  // not fetched by a dry run, and the plan says so.
  const callees = await readCallees(sources, localCalleeReader(resolve(io.cwd, dir ?? '.')));
  const planned = planWorkflows(
    sources,
    trigger,
    {
      event,
      ref,
      sha: str(values.sha) ?? '0000000000000000000000000000000000000000',
      repository: 'local/repo',
      actor: io.env.USER ?? 'local',
      serverUrl: 'https://github.com',
      ...(event === 'push' ? {} : { baseRef, headRef: 'head' }),
    },
    undefined,
    callees,
  );
  const { decisions } = planned;
  // The actions the steps use, read as `validate` reads them (the working tree, the user's action cache).
  const actions = await checkActions(parseWorkflowFiles(sources).workflows, {
    root: resolve(io.cwd, dir ?? '.'),
    cacheDir: userActionsCacheDir(io.env),
    routes: (config ?? (await loadConfig(undefined))).routes,
    ...opt('actions', config?.actions),
  });
  const diagnostics = [...planned.diagnostics, ...actions.errors];
  const notices = [...planned.notices.filter((n) => n.level === 'notice'), ...actions.notices];
  if (diagnostics.length > 0) {
    for (const d of diagnostics) io.err.write(`${formatDiagnostic(d)}\n`);
    return 2;
  }
  for (const w of actions.warnings) io.err.write(`${formatDiagnostic(w)}\n`);
  const workflows = decisions.map((d) => ({
    file: d.file,
    matched: d.matched,
    reason: d.reason,
    // Only for calls, so the JSON of a workflow without them keeps its shape.
    ...opt('deferredCalls', d.plan?.deferredCalls),
    orders: (d.plan?.orders ?? []).map((o) => ({
      id: o.id,
      job: o.job,
      ...opt('name', o.scope === undefined ? undefined : o.name),
      needs: o.needs,
      runsOn: o.runsOn,
      matrix: o.matrix,
      ...opt('permissions', o.permissions),
      ...opt('environment', o.environment),
      ...(o.dynamicMatrix === undefined ? {} : { expandedAtRunTime: true }),
    })),
  }));
  if (values.json === true) {
    const noticeList = notices.map(({ file, line, col, message }) => ({ file, line, col, message }));
    io.out.write(JSON.stringify({ workflows, notices: noticeList }) + '\n');
    return 0;
  }
  for (const n of notices) io.err.write(`${formatNotice(n)}\n`);
  for (const w of workflows) {
    io.out.write(`${w.matched ? '▶' : '·'} ${w.file}: ${w.reason}\n`);
    for (const o of w.orders) {
      const needs = o.needs.length > 0 ? `  needs ${o.needs.join(', ')}` : '';
      const matrix = 'expandedAtRunTime' in o ? '  matrix expanded at run time' : '';
      const name = o.name === undefined ? '' : `  (${o.name})`;
      io.out.write(`    ${o.id.padEnd(24)} runs-on ${o.runsOn}${needs}${name}${matrix}\n`);
    }
    for (const c of w.deferredCalls ?? []) io.out.write(`    ${c.job.padEnd(24)} read at run time from ${c.uses}\n`);
  }
  return 0;
}

/** `--changed-file LIST`: one path per line; blank lines are ignored, so an empty file means "no file changed". */
async function readChangedList(path: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read --changed-file ${path}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  return text.split(/\r?\n/).filter((line) => line.trim() !== '');
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function opt<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}
