/**
 * Reads what `spotcheck run` needs from a local git repository: workflow files at a commit, the commit's changed
 * files, the current branch. Only git plumbing, no working-tree writes.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { WORKFLOWS_DIR } from './core/workflow-files.ts';

const exec = promisify(execFile);

export interface WorkflowSource {
  readonly path: string;
  readonly text: string;
}

async function git(dir: string, args: readonly string[]): Promise<string> {
  const { stdout } = await exec('git', ['-C', dir, ...args], { maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' });
  return stdout;
}

export async function readRepoRoot(dir: string): Promise<string> {
  return (await git(dir, ['rev-parse', '--show-toplevel'])).trim();
}

export async function resolveCommit(dir: string, rev: string): Promise<string> {
  return (await git(dir, ['rev-parse', '--verify', `${rev}^{commit}`])).trim();
}

/** The checked-out branch as a full ref, or undefined on a detached HEAD. */
export async function readCurrentRef(dir: string): Promise<string | undefined> {
  try {
    return (await git(dir, ['symbolic-ref', '-q', 'HEAD'])).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Workflow files as committed at `sha` (not the working tree: a run is for one commit). */
export async function readWorkflowsAt(dir: string, sha: string): Promise<WorkflowSource[]> {
  const listing = await git(dir, ['ls-tree', '-z', '--name-only', `${sha}:${WORKFLOWS_DIR}`]).catch(() => '');
  const names = listing.split('\0').filter((n) => /\.ya?ml$/.test(n));
  return Promise.all(
    names.sort().map(async (name) => {
      const path = `${WORKFLOWS_DIR}/${name}`;
      return { path, text: await git(dir, ['show', `${sha}:${path}`]) };
    }),
  );
}

/**
 * Files changed by a commit (against its first parent) or between a base branch and a commit (merge-base diff, as
 * a pull request shows). `null` when git cannot tell (root commit, unknown base): "paths match".
 */
export async function readChangedFiles(dir: string, sha: string, baseRef?: string): Promise<string[] | null> {
  try {
    const range = baseRef === undefined ? [`${sha}^`, sha] : [`${baseRef}...${sha}`];
    const out = await git(dir, ['diff', '--name-only', '-z', ...range]);
    return out.split('\0').filter((p) => p !== '');
  } catch {
    return null;
  }
}
