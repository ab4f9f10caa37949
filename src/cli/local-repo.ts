/**
 * Reads what `spotcheck run` needs from a local git repository: workflow files at a commit, the commit's changed
 * files, the current branch, and a commit of the working tree. Only git plumbing: the user's index, branches and
 * working tree are never written.
 */
import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { MAX_WORKFLOW_FILE_BYTES } from '../core/limits.ts';
import type { WorkflowSource } from '../core/types.ts';
import { DEFAULT_WORKFLOW_FOLDERS, type WorkflowFolder } from '../core/workflow/workflow-files.ts';

const exec = promisify(execFile);

async function git(
  dir: string,
  args: readonly string[],
  env?: Readonly<Record<string, string | undefined>>,
): Promise<string> {
  const { stdout } = await exec('git', ['-C', dir, ...args], {
    maxBuffer: 64 * 1024 * 1024,
    encoding: 'utf8',
    ...(env === undefined ? {} : { env: { ...process.env, ...env } }),
  });
  return stdout;
}

export interface WorkingTreeSnapshot {
  /** A commit whose tree is the working tree (HEAD's own id when nothing differs). */
  readonly sha: string;
  /** True when the working tree differs from HEAD (modified, staged, deleted or untracked-but-not-ignored files). */
  readonly dirty: boolean;
}

/**
 * Commits the working tree as `git add -A` would see it — tracked changes, staged or not, and untracked files that
 * .gitignore does not exclude — without touching the user's index, branches or stash: `git add` writes to a copy of
 * the index (GIT_INDEX_FILE), `commit-tree` makes a commit no ref points to (its parent is HEAD, so
 * `${sha}^` diffs are the uncommitted changes). Ignored files stay out, as they would from a push. The commit's
 * objects live in the repository's object store, so a local clone of the repository can check it out.
 */
export async function snapshotWorkingTree(root: string): Promise<WorkingTreeSnapshot> {
  const head = await resolveCommit(root, 'HEAD');
  const scratch = await mkdtemp(join(tmpdir(), 'spotcheck-index-'));
  try {
    const index = join(scratch, 'index');
    // Starting from a copy of the real index keeps its stat cache (unchanged files are not re-read) and its staged
    // changes; a repository without an index yet starts from HEAD's tree.
    const realIndex = resolve(root, (await git(root, ['rev-parse', '--git-path', 'index'])).trim());
    const env = { GIT_INDEX_FILE: index };
    await copyFile(realIndex, index).catch(() => git(root, ['read-tree', head], env));
    await git(root, ['add', '-A', '--', '.'], env);
    const tree = (await git(root, ['write-tree'], env)).trim();
    const headTree = (await git(root, ['rev-parse', `${head}^{tree}`])).trim();
    if (tree === headTree) return { sha: head, dirty: false };
    const sha = (
      await git(root, ['commit-tree', tree, '-p', head, '-m', 'spotcheck run: uncommitted changes'], {
        // commit-tree needs an identity; the user may have none configured, and this commit is never shared.
        GIT_AUTHOR_NAME: 'spotcheck',
        GIT_AUTHOR_EMAIL: 'spotcheck@localhost',
        GIT_COMMITTER_NAME: 'spotcheck',
        GIT_COMMITTER_EMAIL: 'spotcheck@localhost',
      })
    ).trim();
    return { sha, dirty: true };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
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
 * Workflow files as committed at `sha` (not the working tree: a run is for one commit), folder by folder in the
 * order given, path order within each. Sizes come from the tree listing, so a huge blob is never read; only regular
 * files are workflow files (not symlinks or submodules).
 */
export async function readWorkflowsAt(
  dir: string,
  sha: string,
  folders: readonly WorkflowFolder[] = DEFAULT_WORKFLOW_FOLDERS,
): Promise<WorkflowSource[]> {
  const entries: { path: string; size: number }[] = [];
  for (const folder of new Set(folders)) {
    const listing = await git(dir, ['ls-tree', '-z', '-l', `${sha}:${folder}`]).catch(() => '');
    entries.push(
      ...listing
        .split('\0')
        // Regular files only (mode 100644/100755): a symlink is a blob too, but its text is a path, not a workflow.
        .map((line) => /^100(?:644|755) blob [0-9a-f]+ +(\d+)\t(.+)$/.exec(line))
        .filter((m): m is RegExpExecArray => m !== null && /\.ya?ml$/.test(m[2] ?? ''))
        .map((m) => ({ path: `${folder}/${m[2] ?? ''}`, size: Number(m[1]) }))
        .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)),
    );
  }
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
 * a pull request shows); `since` replaces the first parent (a working-tree snapshot diffs from HEAD's parent, so it
 * counts HEAD's changes and the uncommitted ones). `null` when git cannot tell (root commit, unknown base): "paths match".
 */
export async function readChangedFiles(
  dir: string,
  sha: string,
  baseRef?: string,
  since = `${sha}^`,
): Promise<string[] | null> {
  try {
    const range = baseRef === undefined ? [since, sha] : [`${baseRef}...${sha}`];
    const out = await git(dir, ['diff', '--name-only', '-z', ...range]);
    return out.split('\0').filter((p) => p !== '');
  } catch {
    return null;
  }
}
