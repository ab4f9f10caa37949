import { MAX_WORKFLOW_FILE_BYTES, MAX_WORKFLOW_FILES } from '../core/limits.ts';
import { isWorkflowPath, type WorkflowFolder } from '../core/workflow/workflow-files.ts';
import type { WorkflowSource } from '../core/types.ts';

/** Workflow files downloaded at once. */
const DOWNLOAD_CONCURRENCY = 8;

/** An entry of a folder listing: GitHub's and Gitea's contents APIs both answer `type`, `path` and `size`. */
interface DirectoryEntry {
  readonly type: string;
  readonly path: string;
  readonly size: number;
}

/** One workflow folder's listing as the forge answered it (`undefined`: no such folder at that commit). */
export interface FolderListing {
  readonly folder: WorkflowFolder;
  readonly listing: unknown;
}

/**
 * The workflow files of the folders' listings, folder by folder in the order given and in path order within each,
 * each read with `read`; a path seen twice is read once. A listing that is not an array (the forges answer one
 * object for a file at that path) holds no workflows. Regular files only: a symlink's target is not a workflow file
 * in this folder. The limits hold across all folders together: a file above MAX_WORKFLOW_FILE_BYTES (by its listed
 * size) and files past MAX_WORKFLOW_FILES are not downloaded: they come back with `text: ''` and their listed `size`,
 * for the caller to report.
 */
export async function readListedWorkflows(
  listings: readonly FolderListing[],
  read: (path: string) => Promise<string>,
): Promise<WorkflowSource[]> {
  const seen = new Set<string>();
  const entries = listings.flatMap(({ folder, listing }) =>
    (Array.isArray(listing) ? listing : [])
      .filter(isDirectoryEntry)
      .filter((e) => e.type === 'file' && isWorkflowPath(e.path, folder) && !seen.has(e.path) && seen.add(e.path))
      .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)),
  );
  const sources = new Array<WorkflowSource>(entries.length);
  const wanted: number[] = [];
  entries.forEach((e, i) => {
    if (i < MAX_WORKFLOW_FILES && e.size <= MAX_WORKFLOW_FILE_BYTES) wanted.push(i);
    else sources[i] = { path: e.path, text: '', size: e.size };
  });
  for (let start = 0; start < wanted.length; start += DOWNLOAD_CONCURRENCY) {
    await Promise.all(
      wanted.slice(start, start + DOWNLOAD_CONCURRENCY).map(async (i) => {
        const e = entries[i];
        if (e === undefined) return;
        sources[i] = { path: e.path, text: await read(e.path), size: e.size };
      }),
    );
  }
  return sources;
}

function isDirectoryEntry(value: unknown): value is DirectoryEntry {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.type === 'string' && typeof v.path === 'string' && typeof v.size === 'number';
}
