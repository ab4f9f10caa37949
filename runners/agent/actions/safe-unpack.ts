/**
 * Unpacks an action's repository archive (a gzipped tarball as GitHub's `tarball` and Gitea's `archive` endpoints
 * serve it) into a folder, without the archive's top-level folder (GitHub's `owner-repo-sha/`, Gitea's `repo/`),
 * within bounds. The `tar` package reads the format; the bounds and what may be written are decided here, per entry
 * header, before anything of the entry is written: the first refused entry aborts the whole unpack.
 */
import { createReadStream } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Parser, Unpack, type ReadEntry } from 'tar';
import { ActionFetchError } from './action-fetcher.ts';

export interface ArchiveBounds {
  /** Bytes of the compressed download. */
  readonly maxDownloadBytes: number;
  /** Entries (files, folders, links) in the archive. */
  readonly maxEntries: number;
  /** Bytes of one file once unpacked. */
  readonly maxFileBytes: number;
  /** Bytes of all files once unpacked (a small download may be a large unpack). */
  readonly maxUnpackedBytes: number;
}

const MIB = 1024 * 1024;

/**
 * Generous for actions (actions/checkout's repository at a tag is about 1 MiB compressed, 2,000 files; the largest
 * popular ones, with their node_modules committed, stay under 40 MiB and 20,000 files), small enough for a disk.
 */
export const DEFAULT_ARCHIVE_BOUNDS: ArchiveBounds = {
  maxDownloadBytes: 100 * MIB,
  maxEntries: 50_000,
  maxFileBytes: 100 * MIB,
  maxUnpackedBytes: 500 * MIB,
};

/** Entry types written as they are; anything else (hard links, devices, FIFOs) refuses the archive. */
const FILE_TYPES: ReadonlySet<string> = new Set(['File', 'OldFile', 'ContiguousFile']);
const WRITTEN_TYPES: ReadonlySet<string> = new Set([...FILE_TYPES, 'Directory', 'SymbolicLink']);

/**
 * Unpacks `file` into `dest` (an empty folder). Throws `ActionFetchError` naming the first entry that breaks a rule
 * or bound, or saying the archive cannot be read. The archive is read twice: once to check every entry header
 * (stopping at the first refusal, nothing written), then to unpack it with the same checks on each entry, so a
 * refused archive writes nothing and no write is still under way when this returns. `label` names the archive in
 * messages (`owner/repo@sha`).
 */
export async function unpackArchive(file: string, dest: string, bounds: ArchiveBounds, label: string): Promise<void> {
  const inspection = createEntryCheck(bounds, label);
  const parser = new Parser({
    strict: true,
    onReadEntry: (entry: ReadEntry) => {
      const refusal = inspection.check(entry);
      if (refusal !== undefined) parser.abort(refusal);
      entry.resume();
    },
  });
  await readThrough(file, parser, inspection, label);
  if (inspection.entries() === 0) throw new ActionFetchError(`The archive of ${label} is empty.`);

  const extraction = createEntryCheck(bounds, label);
  const unpack = new Unpack({
    cwd: dest,
    strip: 1,
    // An agent may run as root: files belong to whoever runs the steps, never to uids written in the archive.
    preserveOwner: false,
    strict: true,
    // Skipping (not aborting) lets the writes already started finish before the pipeline settles.
    filter: (_path: string, entry: unknown) => extraction.check(entry as ReadEntry) === undefined,
  });
  await readThrough(file, unpack, extraction, label);
}

async function readThrough(file: string, parser: Parser, check: EntryCheck, label: string): Promise<void> {
  try {
    await pipeline(createReadStream(file), parser);
  } catch (error) {
    throw (
      check.refusal() ??
      new ActionFetchError(`The archive of ${label} cannot be read: ${messageOf(error)}.`, { cause: error })
    );
  }
  const refusal = check.refusal();
  if (refusal !== undefined) throw refusal;
}

interface EntryCheck {
  /** The refusal this entry causes (the first one sticks: every later entry is refused with it). */
  check(entry: ReadEntry): ActionFetchError | undefined;
  refusal(): ActionFetchError | undefined;
  entries(): number;
}

function createEntryCheck(bounds: ArchiveBounds, label: string): EntryCheck {
  let refusal: ActionFetchError | undefined;
  let top: string | undefined;
  let entries = 0;
  let unpackedBytes = 0;
  return {
    check(entry) {
      if (refusal !== undefined) return refusal;
      entries += 1;
      if (FILE_TYPES.has(entry.type)) unpackedBytes += entry.size;
      const problem =
        entries > bounds.maxEntries
          ? `has more than ${bounds.maxEntries} entries`
          : unpackedBytes > bounds.maxUnpackedBytes
            ? `unpacks to more than ${formatBytes(bounds.maxUnpackedBytes)}`
            : FILE_TYPES.has(entry.type) && entry.size > bounds.maxFileBytes
              ? `has a file over ${formatBytes(bounds.maxFileBytes)} (${entry.path})`
              : entryProblem(entry, (first) => (top ??= first) === first);
      if (problem !== undefined)
        refusal = new ActionFetchError(`The archive of ${label} ${problem}; nothing of it is used.`);
      return refusal;
    },
    refusal: () => refusal,
    entries: () => entries,
  };
}

/**
 * Why an entry may not be written, or undefined. `sameTop` says whether the entry's first segment is the archive's
 * one top-level folder (the first entry sets it).
 */
function entryProblem(entry: ReadEntry, sameTop: (first: string) => boolean): string | undefined {
  const name = entry.path;
  if (!WRITTEN_TYPES.has(entry.type)) return `has an entry of type ${entry.type} (${name}), which is not unpacked`;
  if (name.startsWith('/') || /^[A-Za-z]:/.test(name) || name.includes('\\'))
    return `has an absolute or non-POSIX path (${name})`;
  const segments = name.split('/').filter((s) => s !== '' && s !== '.');
  if (segments.includes('..')) return `has a path leaving its folder (${name})`;
  const [first, ...rest] = segments;
  if (first === undefined || !sameTop(first)) return `is not one top-level folder (${name})`;
  if (rest.length === 0 && entry.type !== 'Directory') return `has a file beside its top-level folder (${name})`;
  if (entry.type === 'SymbolicLink') {
    const target = entry.linkpath ?? '';
    // Resolved from the link's own folder inside the unpacked tree; it must stay in that tree.
    const resolved = path.posix.normalize(path.posix.join(...rest.slice(0, -1), target));
    if (target === '' || target.startsWith('/') || resolved === '..' || resolved.startsWith('../'))
      return `has a symbolic link pointing outside its folder (${name} -> ${target})`;
  }
  return undefined;
}

export function formatBytes(bytes: number): string {
  return bytes % MIB === 0 ? `${bytes / MIB} MiB` : `${bytes} bytes`;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
