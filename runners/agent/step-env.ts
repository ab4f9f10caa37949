/**
 * What a step's process starts with: GitHub's default variables, the file-command files (`GITHUB_OUTPUT`,
 * `GITHUB_ENV`, `GITHUB_PATH`, `GITHUB_STATE`, `GITHUB_STEP_SUMMARY`) and what the step wrote to them, and
 * `GITHUB_PATH` entries prepended to PATH.
 */
import { randomUUID } from 'node:crypto';
import { lstat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { OrderJob } from '../runner.ts';
import { parseEnvFile } from './parse-env-file.ts';
import { handOver, readStepFile, type RunAs } from './run-as.ts';

export type FileCommandName = 'GITHUB_OUTPUT' | 'GITHUB_ENV' | 'GITHUB_PATH' | 'GITHUB_STATE' | 'GITHUB_STEP_SUMMARY';
export type FileCommandFiles = Readonly<Record<FileCommandName, string>>;

/** Fresh, empty file-command files for one step, under `dir`. */
export async function createFileCommandFiles(dir: string, stepIndex: number, runAs?: RunAs): Promise<FileCommandFiles> {
  const files = {
    GITHUB_OUTPUT: path.join(dir, `set_output_${stepIndex}_${randomUUID()}`),
    GITHUB_ENV: path.join(dir, `set_env_${stepIndex}_${randomUUID()}`),
    GITHUB_PATH: path.join(dir, `add_path_${stepIndex}_${randomUUID()}`),
    // The runner gives every step a state file; only an action's pre/main state reaches anything (its post's STATE_*).
    GITHUB_STATE: path.join(dir, `save_state_${stepIndex}_${randomUUID()}`),
    GITHUB_STEP_SUMMARY: path.join(dir, `step_summary_${stepIndex}_${randomUUID()}`),
  };
  await Promise.all(Object.values(files).map((file) => writeFile(file, '')));
  await handOver(Object.values(files), runAs);
  return files;
}

export type FileCommands =
  | {
      ok: true;
      outputs: Record<string, string>;
      env: Record<string, string>;
      path: string[];
      state: Record<string, string>;
    }
  | { ok: false; error: string };

/** What the step wrote to its file-command files; a malformed output or env file is an error, as on the runner. */
export async function readFileCommands(files: FileCommandFiles, runAs?: RunAs): Promise<FileCommands> {
  const read = (file: string) => readStepFile(file, runAs);
  const [outputText, envText, pathText, stateText] = await Promise.all([
    read(files.GITHUB_OUTPUT),
    read(files.GITHUB_ENV),
    read(files.GITHUB_PATH),
    read(files.GITHUB_STATE),
  ]);
  const outputs = parseEnvFile(outputText);
  if (!outputs.ok) return { ok: false, error: `Unable to process file command 'output': ${outputs.error}` };
  const env = parseEnvFile(envText);
  if (!env.ok) return { ok: false, error: `Unable to process file command 'env': ${env.error}` };
  const state = parseEnvFile(stateText);
  if (!state.ok) return { ok: false, error: `Unable to process file command 'state': ${state.error}` };
  return {
    ok: true,
    outputs: Object.fromEntries(outputs.pairs),
    env: Object.fromEntries(env.pairs),
    path: pathText.split('\n').filter((line) => line !== ''),
    state: Object.fromEntries(state.pairs),
  };
}

/** GitHub's step summary limit (the runner's CreateStepSummaryCommand.AttachmentSizeLimit): 1 MiB. */
export const MAX_STEP_SUMMARY_BYTES = 1024 * 1024;

export type StepSummary =
  | { kind: 'ok'; text: string }
  | { kind: 'empty' }
  /** Over the limit: dropped, with the runner's error (Constants.Runner.UnsupportedSummarySize). */
  | { kind: 'too-large'; error: string };

/** What the step wrote to `$GITHUB_STEP_SUMMARY`, read after the step as the runner does. */
export async function readStepSummary(file: string, runAs?: RunAs): Promise<StepSummary> {
  // lstat: a step running as another user must not point its summary at a file of the server's (the key).
  const size = await lstat(file).then(
    (s) => (s.isFile() ? s.size : 0),
    () => 0,
  );
  if (size === 0) return { kind: 'empty' };
  if (size > MAX_STEP_SUMMARY_BYTES) {
    const error =
      `$GITHUB_STEP_SUMMARY upload aborted, supports content up to a size of ${MAX_STEP_SUMMARY_BYTES / 1024}k, ` +
      `got ${Math.floor(size / 1024)}k. For more information see: ` +
      'https://docs.github.com/actions/using-workflows/workflow-commands-for-github-actions#adding-a-markdown-summary';
    return { kind: 'too-large', error };
  }
  // Read as file commands are: without following a link, only a plain file of the step's user, one link.
  const text = await readStepFile(file, runAs);
  return text === '' ? { kind: 'empty' } : { kind: 'ok', text };
}

/** Adds `GITHUB_PATH` entries to the order's list: an entry added again moves to the end (most recent). */
export function addToPath(prependPath: string[], added: readonly string[]): void {
  for (const dir of added) {
    const at = prependPath.indexOf(dir);
    if (at >= 0) prependPath.splice(at, 1);
    prependPath.push(dir);
  }
}

/** PATH with the added entries in front, most recently added first, as the runner joins its PrependPath list. */
export function withPrependedPath(base: string | undefined, prependPath: readonly string[]): string | undefined {
  if (prependPath.length === 0) return base;
  return [...prependPath].reverse().join(path.delimiter) + (base ? path.delimiter + base : '');
}

export interface DefaultsInput {
  readonly job: OrderJob;
  readonly github: OrderJob['github'] & { readonly repository: string };
  readonly jobId: string;
  readonly workdir: string;
  readonly tempDir: string;
  readonly eventPath: string;
  readonly files: FileCommandFiles;
}

/**
 * GitHub's default variables (docs.github.com › variables › "Default environment variables"), and the same under
 * `SPOTCHECK_*`. Applied last: "you can't overwrite the value of the default environment variables named
 * `GITHUB_*` and `RUNNER_*`".
 */
export function defaultVariables(input: DefaultsInput): Record<string, string> {
  const { github } = input;
  const githubVars: Record<string, string> = {
    GITHUB_ACTIONS: 'true',
    GITHUB_SHA: input.job.sha,
    GITHUB_REF: github.ref,
    GITHUB_REF_NAME: github.ref_name,
    GITHUB_REF_TYPE: github.ref_type,
    GITHUB_REPOSITORY: github.repository,
    GITHUB_REPOSITORY_OWNER: github.repository_owner,
    GITHUB_EVENT_NAME: github.event_name,
    GITHUB_EVENT_PATH: input.eventPath,
    GITHUB_WORKSPACE: input.workdir,
    GITHUB_JOB: input.jobId,
    GITHUB_RUN_ID: github.run_id,
    GITHUB_RUN_ATTEMPT: String(input.job.ref.attempt),
    GITHUB_ACTOR: github.actor,
    GITHUB_WORKFLOW: github.workflow,
    // The forge the run came from, so actions/checkout and API-calling actions work against it unchanged.
    GITHUB_SERVER_URL: input.job.forgeUrls?.server ?? github.server_url,
    ...(input.job.forgeUrls === undefined
      ? {}
      : { GITHUB_API_URL: input.job.forgeUrls.api, GITHUB_GRAPHQL_URL: input.job.forgeUrls.graphql }),
    GITHUB_BASE_REF: github.base_ref,
    GITHUB_HEAD_REF: github.head_ref,
    ...input.files,
  };
  const spotcheckVars = Object.fromEntries(
    Object.entries(githubVars).map(([name, value]) => [name.replace(/^GITHUB_/, 'SPOTCHECK_'), value]),
  );
  const runner = runnerContext(input.tempDir);
  return {
    ...githubVars,
    ...spotcheckVars,
    RUNNER_OS: runner.os,
    RUNNER_ARCH: runner.arch,
    RUNNER_NAME: runner.name,
    RUNNER_TEMP: runner.temp,
    RUNNER_TOOL_CACHE: runner.tool_cache,
    RUNNER_ENVIRONMENT: runner.environment,
    // GitHub's runner sets these only for a job whose permissions grant `id-token: write` (actions/toolkit's
    // `core.getIDToken` reads them); so does spotcheck, which puts `idToken` only in such a job.
    ...(input.job.idToken === undefined
      ? {}
      : {
          ACTIONS_ID_TOKEN_REQUEST_URL: input.job.idToken.url,
          ACTIONS_ID_TOKEN_REQUEST_TOKEN: input.job.idToken.token,
        }),
  };
}

/** The `runner` context (docs.github.com › contexts › `runner`); the RUNNER_* variables carry the same values. */
export type RunnerContext = {
  readonly os: string;
  readonly arch: string;
  readonly name: string;
  readonly temp: string;
  readonly tool_cache: string;
  /** 'self-hosted': spotcheck's machines are the operator's, never GitHub-hosted runners. */
  readonly environment: 'self-hosted';
};

/**
 * The runner context of an order. The tool cache is per order, under its temp folder: spotcheck's runners are
 * ephemeral, so nothing would survive to the next job anyway.
 */
export function runnerContext(tempDir: string): RunnerContext {
  return {
    os: runnerOs(),
    arch: runnerArch(),
    name: 'spotcheck',
    temp: tempDir,
    tool_cache: path.join(tempDir, '_tool'),
    environment: 'self-hosted',
  };
}

export function runnerOs(): string {
  return process.platform === 'darwin' ? 'macOS' : process.platform === 'win32' ? 'Windows' : 'Linux';
}

export function runnerArch(): string {
  const arches: Record<string, string> = { x64: 'X64', arm64: 'ARM64', arm: 'ARM', ia32: 'X86' };
  return arches[process.arch] ?? process.arch.toUpperCase();
}
