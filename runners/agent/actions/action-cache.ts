/**
 * Action repositories on disk, one folder per commit: `<dir>/<host>/<owner>/<repo>/<sha>/`. A folder is complete or
 * absent: it is unpacked into a temporary folder beside it and renamed into place, so a crash, a refused archive or
 * a second process fetching the same commit never leaves (or sees) half of one. Within one process, concurrent
 * requests for one commit share one download.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ActionsSource } from '../../runner.ts';
import { ActionFetchError } from './action-fetcher.ts';
import {
  COMMIT_ID,
  createActionSourceClient,
  type ActionSourceClient,
  type RepoAtRef,
} from './action-source-client.ts';
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
  /**
   * Notes which commit `at.ref` resolved to, so `spotcheck validate` can find a tag's or branch's cached copy
   * without asking the source (`cachedActionFolder`). Best effort: a failure to write it is ignored.
   */
  rememberRef(source: ActionsSource, at: RepoAtRef, sha: string): Promise<void>;
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
      const folder = path.join(repoFolder(root, source.url, at), sha);
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
    async rememberRef(source, at, sha) {
      const file = refFile(root, source.url, at);
      if (file === undefined) return;
      const staging = `${file}.${randomUUID()}`;
      try {
        await mkdir(path.dirname(file), { recursive: true });
        await writeFile(staging, sha);
        await rename(staging, file);
      } catch {
        await rm(staging, { force: true });
      }
    },
  };
}

/**
 * The cached folder of `owner/repo@ref` from the source at `sourceUrl`, or undefined when it is not in the cache
 * under `dir`: a commit id names its folder, a tag or branch the commit it last resolved to. Asks no source.
 */
export async function cachedActionFolder(dir: string, sourceUrl: string, at: RepoAtRef): Promise<string | undefined> {
  const root = path.resolve(dir);
  if (!NAME.test(at.owner) || !NAME.test(at.repo) || at.owner === '..' || at.repo === '..') return undefined;
  const full = at.ref.toLowerCase();
  let sha: string | undefined = COMMIT_ID.test(full) ? full : undefined;
  if (sha === undefined) {
    const file = refFile(root, sourceUrl, at);
    sha = file === undefined ? undefined : (await readFile(file, 'utf8').catch(() => '')).trim();
  }
  if (sha === undefined || !COMMIT_ID.test(sha)) return undefined;
  const folder = path.join(repoFolder(root, sourceUrl, at), sha);
  return (await isFolder(folder)) ? folder : undefined;
}

function repoFolder(root: string, sourceUrl: string, at: RepoAtRef): string {
  return path.join(root, hostOf(sourceUrl), at.owner.toLowerCase(), at.repo.toLowerCase());
}

/** `<repo folder>/.refs/<ref>`, the ref percent-encoded into one file name (a ref may hold `/`). */
function refFile(root: string, sourceUrl: string, at: RepoAtRef): string | undefined {
  if (!NAME.test(at.owner) || !NAME.test(at.repo)) return undefined;
  return path.join(repoFolder(root, sourceUrl, at), '.refs', encodeURIComponent(at.ref));
}

/** `github.com`, `gitea.example:3000` → `gitea.example_3000` (a folder name on every file system). */
function hostOf(sourceUrl: string): string {
  return new URL(sourceUrl).host.toLowerCase().replace(/:/g, '_');
}

async function isFolder(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isDirectory();
  } catch {
    return false;
  }
}
