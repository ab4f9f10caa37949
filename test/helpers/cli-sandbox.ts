/**
 * A temporary folder holding a committed git repository (`repo/`) and a private TMPDIR, where the spotcheck CLI
 * runs as a user would run it: a child process, git unable to climb out of the folder.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface ExecResult {
  readonly code: number;
  readonly stdout: string;
}

export interface CliSandbox {
  readonly root: string;
  readonly repo: string;
  /** Runs `file` in `cwd` with the sandbox's TMPDIR; never rejects (a failure is its exit code). */
  exec(file: string, args: readonly string[], cwd: string): Promise<ExecResult>;
  /** git in the repository as a fixed author; throws when git fails. Resolves to its trimmed output. */
  git(...args: string[]): Promise<string>;
  remove(): Promise<void>;
}

/** Writes `files` (paths relative to the repository) and commits them on `main` with `message`. */
export async function makeCliSandbox(
  prefix: string,
  files: Readonly<Record<string, string>>,
  message: string,
): Promise<CliSandbox> {
  const root = await mkdtemp(join(tmpdir(), prefix));
  const repo = join(root, 'repo');
  await mkdir(join(root, 'tmp'));
  await mkdir(repo);
  for (const [file, text] of Object.entries(files)) {
    await mkdir(join(repo, file, '..'), { recursive: true });
    await writeFile(join(repo, file), text);
  }
  const exec = (file: string, args: readonly string[], cwd: string): Promise<ExecResult> =>
    new Promise((resolve) => {
      execFile(
        file,
        args,
        {
          cwd,
          env: { ...process.env, TMPDIR: join(root, 'tmp'), GIT_CEILING_DIRECTORIES: root },
          maxBuffer: 16 * 1024 * 1024,
        },
        (error, stdout) => {
          resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout });
        },
      );
    });
  const git = async (...args: string[]): Promise<string> => {
    const result = await exec('git', ['-c', 'user.name=t', '-c', 'user.email=t@spotcheck.invalid', ...args], repo);
    if (result.code !== 0) throw new Error(`git ${args.join(' ')} failed`);
    return result.stdout.trim();
  };
  await git('init', '-q', '-b', 'main');
  await git('add', '-A');
  await git('commit', '-q', '-m', message);
  return { root, repo, exec, git, remove: () => rm(root, { recursive: true, force: true }) };
}
