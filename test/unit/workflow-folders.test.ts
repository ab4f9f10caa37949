import { describe, expect, it } from 'vitest';
import {
  DEFAULT_WORKFLOW_FOLDER_SETTINGS,
  isWorkflowPath,
  resolveWorkflowFolders,
  workflowFolderOf,
  type WorkflowFolder,
  type WorkflowFolderSettings,
} from '../../src/core/workflow/workflow-files.ts';

const SETTINGS: WorkflowFolderSettings = {
  folders: ['.spotcheck/workflows'],
  repos: new Map<string, readonly WorkflowFolder[]>([
    ['acme/*', ['.github/workflows']],
    ['acme/api', ['.gitea/workflows', '.spotcheck/workflows']],
    ['other/web', ['.github/workflows', '.spotcheck/workflows']],
  ]),
};

describe('resolveWorkflowFolders: the most specific entry wins', () => {
  it.each([
    ['the repository entry over its org', 'acme', 'api', ['.gitea/workflows', '.spotcheck/workflows']],
    ['names in any case (the forges ignore it)', 'ACME', 'Api', ['.gitea/workflows', '.spotcheck/workflows']],
    ["the org's entry for its other repositories", 'acme', 'web', ['.github/workflows']],
    ['a repository entry without an org entry', 'other', 'web', ['.github/workflows', '.spotcheck/workflows']],
    ['the default for another repository of that owner', 'other', 'api', ['.spotcheck/workflows']],
    ['the default for an unknown owner', 'nobody', 'api', ['.spotcheck/workflows']],
    ['the default, not a prefix match (acme-labs is not acme)', 'acme-labs', 'api', ['.spotcheck/workflows']],
  ])('%s', (_label, owner, name, expected) => {
    expect(resolveWorkflowFolders(SETTINGS, { owner, name })).toEqual(expected);
  });

  it('answers .spotcheck/workflows with the default settings', () => {
    expect(resolveWorkflowFolders(DEFAULT_WORKFLOW_FOLDER_SETTINGS, { owner: 'a', name: 'b' })).toEqual([
      '.spotcheck/workflows',
    ]);
  });
});

describe('workflowFolderOf', () => {
  it.each([
    ['.github/workflows', '.github/workflows'],
    ['.github/workflows/', '.github/workflows'],
    ['./.gitea/workflows', '.gitea/workflows'],
    ['.spotcheck/workflows//', '.spotcheck/workflows'],
    ['.github', undefined],
    ['../.github/workflows', undefined],
    ['/.github/workflows', undefined],
    ['.github/workflows/../../etc', undefined],
    ['.GITHUB/workflows', undefined],
  ])('%s → %s', (written, expected) => {
    expect(workflowFolderOf(written)).toBe(expected);
  });
});

describe('isWorkflowPath', () => {
  it.each([
    ['.github/workflows/ci.yml', '.github/workflows', true],
    ['.github/workflows/ci.yaml', '.github/workflows', true],
    ['.github/workflows/sub/ci.yml', '.github/workflows', false],
    ['.github/workflows/README.md', '.github/workflows', false],
    ['.spotcheck/workflows/ci.yml', '.github/workflows', false],
    ['.github/workflows-old/ci.yml', '.github/workflows', false],
  ] as const)('%s in %s: %s', (path, folder, expected) => {
    expect(isWorkflowPath(path, folder)).toBe(expected);
  });
});
