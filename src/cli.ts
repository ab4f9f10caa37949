/**
 * `spotcheck <command>`: run, validate, plan, demo (and serve / watchdog from the server issue). Exit codes: 0 ok,
 * 1 the run failed, 2 invalid input or usage.
 */
import { open, readdir, readFile, stat } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { planWorkflows } from './core/plan-workflows.ts';
import { WORKFLOWS_DIR } from './core/workflow-files.ts';
import { formatDiagnostic, parseWorkflowFiles } from './core/workflow-parser.ts';
import { EVENT_NAMES, type EventName, type TriggerEvent } from './core/types.ts';
import { MAX_WORKFLOW_FILE_BYTES } from './core/limits.ts';
import { loadConfig } from './config.ts';
import { normaliseRef, runLocal } from './local-run.ts';
import { runDemo } from './demo.ts';

export interface CliIo {
  readonly out: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  readonly err: NodeJS.WritableStream;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
}

const USAGE = `usage: spotcheck <command> [options]

commands:
  run [dir] [--event push|pull_request|testme] [--ref REF] [--sha SHA] [--base-ref BRANCH]
      run a local git repository's workflows on this machine
  validate [dir]
      check the workflow files in dir/.spotcheck/workflows
  plan (--workflow FILE | --dir DIR) --event push|pull_request|testme [--ref REF] [--base-ref BRANCH]
       [--deleted] [--changed-file LIST] [--json]
      show which workflows an event runs and their orders, without running anything
  demo
      run the example repository's workflows (embedded store, local runner)
`;

export async function main(argv: readonly string[], io: CliIo = defaultIo()): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'run':
        return await runCommand(rest, io);
      case 'validate':
        return await validateCommand(rest, io);
      case 'plan':
        return await planCommand(rest, io);
      case 'demo':
        return await runDemo({ ...io, logger: cliLogger(io) });
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
    if (error instanceof UsageError) {
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
  return { out: process.stdout, err: process.stderr, env: process.env, cwd: process.cwd() };
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

async function runCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = args(argv, {
    event: { type: 'string' },
    ref: { type: 'string' },
    sha: { type: 'string' },
    'base-ref': { type: 'string' },
    config: { type: 'string' },
  });
  const controller = new AbortController();
  const onSignal = (): void => controller.abort();
  process.once('SIGINT', onSignal);
  try {
    const config = await loadConfig(str(values.config) ?? io.env.SPOTCHECK_CONFIG);
    return await runLocal({
      dir: resolve(io.cwd, positionals[0] ?? '.'),
      event: eventName(values.event),
      config,
      out: io.out,
      err: io.err,
      env: io.env,
      logger: cliLogger(io),
      signal: controller.signal,
      ...opt('ref', str(values.ref)),
      ...opt('sha', str(values.sha)),
      ...opt('baseRef', str(values['base-ref'])),
    });
  } finally {
    process.off('SIGINT', onSignal);
  }
}

async function validateCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const { positionals } = args(argv, {});
  const dir = resolve(io.cwd, positionals[0] ?? '.');
  const sources = await readWorkflowDir(dir);
  if (sources.length === 0) {
    io.err.write(`spotcheck: no workflow files in ${join(dir, WORKFLOWS_DIR)}\n`);
    return 2;
  }
  const { workflows, diagnostics } = parseWorkflowFiles(sources);
  for (const d of diagnostics) io.err.write(`${formatDiagnostic(d)}\n`);
  if (diagnostics.length > 0) {
    io.err.write(`${diagnostics.length} error${diagnostics.length === 1 ? '' : 's'}\n`);
    return 2;
  }
  for (const w of workflows) io.out.write(`ok ${w.file} (${w.jobs.length} job${w.jobs.length === 1 ? '' : 's'})\n`);
  return 0;
}

async function planCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const { values } = args(argv, {
    workflow: { type: 'string', multiple: true },
    dir: { type: 'string' },
    event: { type: 'string' },
    ref: { type: 'string' },
    'base-ref': { type: 'string' },
    sha: { type: 'string' },
    deleted: { type: 'boolean' },
    'changed-file': { type: 'string' },
    json: { type: 'boolean' },
  });
  const files = (values.workflow as string[] | undefined) ?? [];
  const dir = str(values.dir);
  if (files.length === 0 && dir === undefined) throw new UsageError('plan needs --workflow FILE or --dir DIR');
  const sources = [
    ...(await Promise.all(files.map((f) => readSource(resolve(io.cwd, f), f)))),
    ...(dir === undefined ? [] : await readWorkflowDir(resolve(io.cwd, dir))),
  ];
  const event = eventName(values.event);
  const changedList = str(values['changed-file']);
  const changedFiles =
    changedList === undefined
      ? null
      : (await readFile(resolve(io.cwd, changedList), 'utf8')).split(/\r?\n/).filter((line) => line.trim() !== '');
  const baseRef = str(values['base-ref']) ?? 'main';
  const ref = normaliseRef(str(values.ref) ?? (event === 'push' ? 'refs/heads/main' : `refs/heads/${baseRef}`));
  const trigger: TriggerEvent =
    event === 'push'
      ? { kind: 'push', ref, deleted: values.deleted === true, changedFiles }
      : { kind: event, baseRef: baseRef.replace(/^refs\/heads\//, ''), changedFiles };
  const { decisions, diagnostics } = planWorkflows(sources, trigger, {
    event,
    ref,
    sha: str(values.sha) ?? '0000000000000000000000000000000000000000',
    repository: 'local/repo',
    actor: io.env.USER ?? 'local',
    serverUrl: 'https://github.com',
    ...(event === 'push' ? {} : { baseRef, headRef: 'head' }),
  });
  if (diagnostics.length > 0) {
    for (const d of diagnostics) io.err.write(`${formatDiagnostic(d)}\n`);
    return 2;
  }
  const workflows = decisions.map((d) => ({
    file: d.file,
    matched: d.matched,
    reason: d.reason,
    orders: (d.plan?.orders ?? []).map((o) => ({
      id: o.id,
      job: o.job,
      needs: o.needs,
      runsOn: o.runsOn,
      matrix: o.matrix,
    })),
  }));
  if (values.json === true) {
    io.out.write(JSON.stringify({ workflows }) + '\n');
    return 0;
  }
  for (const w of workflows) {
    io.out.write(`${w.matched ? '▶' : '·'} ${w.file}: ${w.reason}\n`);
    for (const o of w.orders) {
      const needs = o.needs.length > 0 ? `  needs ${o.needs.join(', ')}` : '';
      io.out.write(`    ${o.id.padEnd(24)} runs-on ${o.runsOn}${needs}\n`);
    }
  }
  return 0;
}

async function readWorkflowDir(dir: string): Promise<{ path: string; text: string }[]> {
  const folder = join(dir, WORKFLOWS_DIR);
  let names: string[];
  try {
    names = (await readdir(folder)).filter((n) => /\.ya?ml$/.test(n)).sort();
  } catch {
    return [];
  }
  return Promise.all(names.map((n) => readSource(join(folder, n), relative(dir, join(folder, n)))));
}

/**
 * Reads a workflow file. A huge one is not buffered: its first bytes past the cap are enough for the parser to
 * reject it with its usual message.
 */
async function readSource(path: string, display: string): Promise<{ path: string; text: string }> {
  let size: number;
  try {
    size = (await stat(path)).size;
  } catch {
    throw new UsageError(`cannot read ${display}`);
  }
  if (size <= MAX_WORKFLOW_FILE_BYTES) return { path: display, text: await readFile(path, 'utf8') };
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(MAX_WORKFLOW_FILE_BYTES + 1);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    return { path: display, text: buffer.subarray(0, bytesRead).toString('utf8') };
  } finally {
    await handle.close();
  }
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function opt<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}
