/** The actions-*.test.ts harness: a temp workspace, actions written into it, executeOrder run for real. */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { executeOrder, type ExecuteOptions, type OrderOutcome } from '../../runners/agent/execute-order.ts';
import type { ActionFetcher, RemoteActionRef } from '../../runners/agent/actions/action-fetcher.ts';
import { parseActionRef } from '../../src/core/workflow/action-ref.ts';
import type { StepResult, StepSpec } from '../../src/core/types.ts';
import type { OrderJob } from '../../runners/runner.ts';
import { makeGithubContext } from './records.ts';

export const SHA = '0123456789abcdef0123456789abcdef01234567';

export type StepInput =
  | { run: string; id?: string; name?: string; if?: string; env?: Record<string, string>; shell?: string }
  | {
      uses: string;
      id?: string;
      name?: string;
      if?: string;
      env?: Record<string, string>;
      with?: Record<string, string>;
      continueOnError?: boolean;
    };

export function makeJob(steps: readonly StepInput[], outputExprs: Record<string, string> = {}): OrderJob {
  const github = makeGithubContext({ sha: SHA, repository: 'acme/widgets', repository_owner: 'acme', run_id: 'run-1' });
  return {
    ref: { runId: 'run-1', orderId: 'build', attempt: 1 },
    repository: 'acme/widgets',
    cloneUrl: '/nowhere',
    sha: SHA,
    github,
    matrix: {},
    needs: {},
    env: {},
    outputExprs,
    timeoutMinutes: 5,
    steps: steps.map((s, index): StepSpec => {
      const base = { index, env: s.env ?? {}, continueOnError: false, pos: { line: 1, col: 1 } };
      const named = {
        ...(s.id ? { id: s.id } : {}),
        ...(s.name ? { name: s.name } : {}),
        ...(s.if ? { if: s.if } : {}),
      };
      if ('run' in s) return { ...base, ...named, run: s.run, ...(s.shell ? { shell: s.shell } : {}) };
      const ref = parseActionRef(s.uses);
      if (!ref.ok) throw new Error(ref.error);
      return {
        ...base,
        ...named,
        continueOnError: s.continueOnError ?? false,
        uses: s.uses,
        action: ref.ref,
        with: s.with ?? {},
      };
    }),
  };
}

export interface Sandbox {
  readonly root: string;
  readonly workdir: string;
  readonly tempDir: string;
  /** Writes files under `dir` (relative paths → contents). */
  write(dir: string, files: Record<string, string>): Promise<string>;
  run(
    job: OrderJob,
    extra?: Partial<ExecuteOptions>,
  ): Promise<OrderOutcome & { log: string; stepEvents: StepResult[] }>;
  dispose(): Promise<void>;
}

export async function makeSandbox(): Promise<Sandbox> {
  const root = await mkdtemp(path.join(tmpdir(), 'spotcheck-actions-'));
  const workdir = path.join(root, 'work');
  const tempDir = path.join(root, 'tmp');
  await mkdir(workdir);
  await mkdir(tempDir);
  return {
    root,
    workdir,
    tempDir,
    async write(dir, files) {
      const base = path.resolve(workdir, dir);
      for (const [name, text] of Object.entries(files)) {
        await mkdir(path.dirname(path.join(base, name)), { recursive: true });
        await writeFile(path.join(base, name), text);
      }
      return base;
    },
    async run(job, extra = {}) {
      let log = '';
      const stepEvents: StepResult[] = [];
      const outcome = await executeOrder({
        job,
        workdir,
        tempDir,
        baseEnv: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: tmpdir() },
        onLog: (chunk) => (log += chunk),
        onStep: (r) => stepEvents.push(r),
        killGraceMs: 500,
        ...extra,
      });
      return { ...outcome, log, stepEvents };
    },
    dispose: () => rm(root, { recursive: true, force: true }),
  };
}

/** A fake fetcher: `owner/repo@ref` → a folder the test made; records each fetch. */
export function fakeFetcher(dirs: Record<string, string>): ActionFetcher & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    fetch(ref: RemoteActionRef, log) {
      const key = `${ref.owner}/${ref.repo}@${ref.ref}`;
      calls.push(key);
      const dir = dirs[key];
      if (dir === undefined) return Promise.reject(new Error(`no such action ${key}`));
      log(`fake fetch ${key}`);
      return Promise.resolve({
        dir: ref.path === undefined ? dir : path.join(dir, ref.path),
        commit: 'c0ffee'.padEnd(40, '0'),
      });
    },
  };
}
