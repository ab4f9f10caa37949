import { trimTrailingSlashes } from '../url.ts';

/** Where a repository keeps its spotcheck workflows unless the operator chooses otherwise. */
export const WORKFLOWS_DIR = '.spotcheck/workflows';

/**
 * The folders an operator may point spotcheck at: its own, and the two the forges' Actions read, so a team moving
 * from Gitea Actions (or trying spotcheck beside GitHub Actions) keeps one set of files. Nothing else: a folder is a
 * path inside the repository, and a fixed list keeps `..` and absolute paths out by construction.
 */
export const WORKFLOW_FOLDERS = [WORKFLOWS_DIR, '.github/workflows', '.gitea/workflows'] as const;

export type WorkflowFolder = (typeof WORKFLOW_FOLDERS)[number];

export const DEFAULT_WORKFLOW_FOLDERS: readonly WorkflowFolder[] = [WORKFLOWS_DIR];

/**
 * Which folders spotcheck reads, for every repository (`folders`) and per org (`owner/*`) or repository
 * (`owner/name`). Patterns are kept as written (lower-cased: GitHub and Gitea names are case-insensitive).
 */
export interface WorkflowFolderSettings {
  readonly folders: readonly WorkflowFolder[];
  readonly repos: ReadonlyMap<string, readonly WorkflowFolder[]>;
}

export const DEFAULT_WORKFLOW_FOLDER_SETTINGS: WorkflowFolderSettings = {
  folders: DEFAULT_WORKFLOW_FOLDERS,
  repos: new Map(),
};

/** The folders to read for one repository: its own entry, else its owner's `owner/*`, else the default. */
export function resolveWorkflowFolders(
  settings: WorkflowFolderSettings,
  repo: { readonly owner: string; readonly name: string },
): readonly WorkflowFolder[] {
  const owner = repo.owner.toLowerCase();
  return (
    settings.repos.get(`${owner}/${repo.name.toLowerCase()}`) ?? settings.repos.get(`${owner}/*`) ?? settings.folders
  );
}

/** A folder as written (`.github/workflows/` or `./.github/workflows`), or undefined when it is not one we read. */
export function workflowFolderOf(written: string): WorkflowFolder | undefined {
  const normal = trimTrailingSlashes(written.replace(/^(?:\.\/)+/, ''));
  return WORKFLOW_FOLDERS.find((f) => f === normal);
}

/** Whether a repository path is a workflow file directly in `folder` (`*.yml` or `*.yaml`, not in a subfolder). */
export function isWorkflowPath(path: string, folder: WorkflowFolder): boolean {
  return path.startsWith(`${folder}/`) && !path.slice(folder.length + 1).includes('/') && /\.ya?ml$/.test(path);
}
