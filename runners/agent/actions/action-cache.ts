/**
 * Action repositories on disk, one folder per commit: `<dir>/<host>/<owner>/<repo>/<sha>/`. A folder is complete or
 * absent: it is unpacked into a temporary folder beside it and renamed into place, so a crash, a refused archive or
 * a second process fetching the same commit never leaves (or sees) half of one. Within one process, concurrent
 * requests for one commit share one download.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { ActionsSource } from '../../runner.ts';
import { ActionFetchError } from './action-fetcher.ts';
import { createActionSourceClient, type ActionSourceClient, type RepoAtRef } from './action-source-client.ts';
import { DEFAULT_ARCHIVE_BOUNDS, unpackArchive, type ArchiveBounds } from './safe-unpack.ts';

export interface ActionCacheOptions {
  /** The cache folder (created on first use). */
  readonly dir: string;
  readonly fetch?: typeof fetch;
  readonly bounds?: Partial<ArchiveBounds>;
}

export interface CachedCommit {
  readonly dir: string;
  /** False when the folder was already there (or another fetch in this process was downloading it). */
  readonly downloaded: boolean;
}

export interface ActionCache {
  readonly client: ActionSourceClient;
  /** The repository's files at `sha`, downloaded and unpacked unless already cached. */
  commitFolder(source: ActionsSource, at: RepoAtRef, sha: string): Promise<CachedCommit>;
}

/** Owner and repository names as GitHub and Gitea allow them; anything else never becomes a path. */
const NAME = /^[A-Za-z0-9_.-]+$/;

export function createActionCache(options: ActionCacheOptions): ActionCache {
  const root = path.resolve(options.dir);
  const bounds: ArchiveBounds = { ...DEFAULT_ARCHIVE_BOUNDS, ...options.bounds };
  const client = createActionSourceClient(options.fetch);
  const inFlight = new Map<string, Promise<string>>();

  const populate = async (folder: string, source: ActionsSource, at: RepoAtRef, sha: string): Promise<string> => {
    const staging = path.join(root, '.staging', randomUUID());
    const archive = `${staging}.tar.gz`;
    const files = path.join(staging, 'files');
    try {
      await mkdir(files, { recursive: true });
      await client.downloadTarball(source, at, sha, archive, bounds.maxDownloadBytes);
      await unpackArchive(archive, files, bounds, `${at.owner}/${at.repo}@${sha}`);
      await mkdir(path.dirname(folder), { recursive: true });
      try {
        await rename(files, folder);
      } catch (error) {
        // Another process put the same commit in place first: theirs is as good as ours.
        const code = (error as NodeJS.ErrnoException).code;
        if ((code !== 'ENOTEMPTY' && code !== 'EEXIST') || !(await isFolder(folder))) throw error;
      }
      return folder;
    } finally {
      await rm(staging, { recursive: true, force: true });
      await rm(archive, { force: true });
    }
  };

  return {
    client,
    async commitFolder(source, at, sha) {
      const named = (n: string): boolean => NAME.test(n) && n !== '.' && n !== '..';
      if (!named(at.owner) || !named(at.repo))
        throw new ActionFetchError(`${at.owner}/${at.repo} is not an owner/repository name.`);
      // Names are case-insensitive on both forges: one folder for `Actions/Checkout` and `actions/checkout`.
      const folder = path.join(root, hostOf(source), at.owner.toLowerCase(), at.repo.toLowerCase(), sha);
      const pending = inFlight.get(folder);
      if (pending !== undefined) return { dir: await pending, downloaded: false };
      let downloaded = false;
      // Registered before the first await, so a second request for this commit always finds it.
      const work = (async () => {
        if (await isFolder(folder)) return folder;
        downloaded = true;
        return populate(folder, source, at, sha);
      })().finally(() => inFlight.delete(folder));
      inFlight.set(folder, work);
      return { dir: await work, downloaded };
    },
  };
}

/** `github.com`, `gitea.example:3000` → `gitea.example_3000` (a folder name on every file system). */
function hostOf(source: ActionsSource): string {
  return new URL(source.url).host.toLowerCase().replace(/:/g, '_');
}

async function isFolder(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isDirectory();
  } catch {
    return false;
  }
}
