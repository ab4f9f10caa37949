/**
 * Reads workflow files from disk: what `spotcheck validate` checks and what `spotcheck run` plans from the working
 * tree, through the same code, so the two never disagree about which files there are.
 */
import { open, readFile, readdir, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { MAX_WORKFLOW_FILE_BYTES } from '../core/limits.ts';
import { DEFAULT_WORKFLOW_FOLDERS, type WorkflowFolder } from '../core/workflow/workflow-files.ts';
import { WorkflowReadError } from '../errors.ts';
import { DEFERRED, type CalleeReader } from '../intake/read-callees.ts';

export interface ReadSource {
  readonly path: string;
  readonly text: string;
  /** The file's size on disk; above MAX_WORKFLOW_FILE_BYTES the parser reports it and `text` is ''. */
  readonly size: number;
}

/**
 * `dir/<folder>/*.y{a,}ml` for each folder in the order given (the server's order: src/forges/forge.ts), name order
 * within each, paths relative to `dir`; a missing folder holds none, a folder named twice is read once.
 */
export async function readWorkflowDir(
  dir: string,
  folders: readonly WorkflowFolder[] = DEFAULT_WORKFLOW_FOLDERS,
): Promise<ReadSource[]> {
  const sources: ReadSource[] = [];
  for (const folder of new Set(folders)) {
    const path = join(dir, folder);
    let names: string[];
    try {
      names = (await readdir(path)).filter((n) => /\.ya?ml$/.test(n)).sort();
    } catch {
      continue;
    }
    sources.push(
      ...(await Promise.all(names.map((n) => readWorkflowFile(join(path, n), relative(dir, join(path, n)))))),
    );
  }
  return sources;
}

/**
 * Reads a workflow file. One over the cap is not read at all (its size is enough for the parser to report it), and
 * no read goes more than one byte past the cap, even for a file that grows meanwhile. Only regular files are
 * opened, so a symlink to a device or a FIFO cannot make the command block or read forever.
 */
export async function readWorkflowFile(path: string, display: string): Promise<ReadSource> {
  const info = await stat(path).catch(() => undefined);
  if (info === undefined) throw new WorkflowReadError(`cannot read ${display}: no such file`, { path: display });
  if (!info.isFile()) throw new WorkflowReadError(`cannot read ${display}: not a regular file`, { path: display });
  if (info.size > MAX_WORKFLOW_FILE_BYTES) return { path: display, text: '', size: info.size };
  const handle = await open(path, 'r');
  try {
    // Read at most one byte past the cap even if the file grew since stat: the parser then rejects it as too large.
    const buffer = Buffer.allocUnsafe(MAX_WORKFLOW_FILE_BYTES + 1);
    let length = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
      if (bytesRead === 0 || (length += bytesRead) === buffer.length) break;
    }
    const text = buffer.subarray(0, length).toString('utf8');
    return { path: display, text, size: length > MAX_WORKFLOW_FILE_BYTES ? length : info.size };
  } finally {
    await handle.close();
  }
}

/**
 * Called workflows for `spotcheck plan`/`validate`: a `./path` one from the working tree under `root`; another
 * repository's is `deferred` (a dry run fetches nothing; the run reads it through the forge).
 */
export function localCalleeReader(root: string): CalleeReader {
  return async (ref) => {
    if (ref.kind === 'remote') return DEFERRED;
    try {
      return await readFile(join(root, ref.path), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  };
}
