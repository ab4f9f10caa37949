/**
 * Reads what `spotcheck run` needs from a local git repository: workflow files at a commit, the commit's changed
 * files, the current branch. Only git plumbing, no working-tree writes.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { MAX_WORKFLOW_FILE_BYTES } from './core/limits.ts';
import type { WorkflowSource } from './core/types.ts';
import { WORKFLOWS_DIR } from './core/workflow-files.ts';

const exec = promisify(execFile);

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

/**
 * Workflow files as committed at `sha` (not the working tree: a run is for one commit). Sizes come from the tree
 * listing, so a huge blob is never read; only regular files are workflow files (not symlinks or submodules).
 */
export async function readWorkflowsAt(dir: string, sha: string): Promise<WorkflowSource[]> {
  const listing = await git(dir, ['ls-tree', '-z', '-l', `${sha}:${WORKFLOWS_DIR}`]).catch(() => '');
  const entries = listing
    .split('\0')
    // Regular files only (mode 100644/100755): a symlink is a blob too, but its text is a path, not a workflow.
    .map((line) => /^100(?:644|755) blob [0-9a-f]+ +(\d+)\t(.+)$/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null && /\.ya?ml$/.test(m[2] ?? ''))
    .map((m) => ({ path: `${WORKFLOWS_DIR}/${m[2] ?? ''}`, size: Number(m[1]) }))
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return Promise.all(
    entries.map(async ({ path, size }) => ({
      path,
      size,
      text: size > MAX_WORKFLOW_FILE_BYTES ? '' : await git(dir, ['show', `${sha}:${path}`]),
    })),
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
