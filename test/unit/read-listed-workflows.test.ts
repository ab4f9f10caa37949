import { describe, expect, it } from 'vitest';
import { MAX_WORKFLOW_FILE_BYTES, MAX_WORKFLOW_FILES } from '../../src/core/limits.ts';
import { readListedWorkflows } from '../../src/forges/read-listed-workflows.ts';

const entry = (path: string, size = 10, type = 'file') => ({ type, path, size });

/** Reads that answer the path as text, counted. */
function reader(): { read: (path: string) => Promise<string>; reads: string[] } {
  const reads: string[] = [];
  return { reads, read: (path) => (reads.push(path), Promise.resolve(`# ${path}\n`)) };
}

describe('readListedWorkflows over several folders', () => {
  it('keeps the folder order, path order within each, and reads a path listed twice once', async () => {
    const { read, reads } = reader();
    const files = await readListedWorkflows(
      [
        { folder: '.github/workflows', listing: [entry('.github/workflows/z.yml'), entry('.github/workflows/a.yml')] },
        { folder: '.spotcheck/workflows', listing: [entry('.spotcheck/workflows/b.yml')] },
        { folder: '.github/workflows', listing: [entry('.github/workflows/a.yml')] },
      ],
      read,
    );
    expect(files.map((f) => f.path)).toEqual([
      '.github/workflows/a.yml',
      '.github/workflows/z.yml',
      '.spotcheck/workflows/b.yml',
    ]);
    expect(reads.sort()).toEqual(['.github/workflows/a.yml', '.github/workflows/z.yml', '.spotcheck/workflows/b.yml']);
  });

  it("skips a file listing (not a folder) and entries outside the listing's folder", async () => {
    const { read, reads } = reader();
    const files = await readListedWorkflows(
      [
        { folder: '.gitea/workflows', listing: entry('.gitea/workflows') },
        {
          folder: '.github/workflows',
          listing: [entry('.spotcheck/workflows/x.yml'), entry('.github/workflows/ok.yaml')],
        },
      ],
      read,
    );
    expect(files.map((f) => f.path)).toEqual(['.github/workflows/ok.yaml']);
    expect(reads).toEqual(['.github/workflows/ok.yaml']);
  });

  it('holds the file count and size limits across all folders: what is over them is listed, not read', async () => {
    const { read, reads } = reader();
    const half = Math.ceil(MAX_WORKFLOW_FILES / 2) + 1;
    const names = (folder: string) =>
      Array.from({ length: half }, (_, i) => entry(`${folder}/w${String(i).padStart(3, '0')}.yml`));
    const files = await readListedWorkflows(
      [
        {
          folder: '.github/workflows',
          listing: [...names('.github/workflows'), entry('.github/workflows/aa.yml', MAX_WORKFLOW_FILE_BYTES + 1)],
        },
        { folder: '.spotcheck/workflows', listing: names('.spotcheck/workflows') },
      ],
      read,
    );
    expect(files).toHaveLength(2 * half + 1);
    // The oversized file sorts first and is not read; then the first MAX_WORKFLOW_FILES - 1 others are read.
    expect(files[0]).toEqual({ path: '.github/workflows/aa.yml', text: '', size: MAX_WORKFLOW_FILE_BYTES + 1 });
    expect(reads).toHaveLength(MAX_WORKFLOW_FILES - 1);
    expect(files.slice(MAX_WORKFLOW_FILES).every((f) => f.text === '')).toBe(true);
    expect(files.slice(1, MAX_WORKFLOW_FILES).every((f) => f.text !== '')).toBe(true);
  });
});
