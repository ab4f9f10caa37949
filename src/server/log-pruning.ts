/**
 * The total cap on the log folder (`limits.logsTotalMb`): each attempt's log is capped on its own (log-store.ts,
 * execute-order.ts), but nothing bounded their sum, so a busy server filled its disk. Over the cap, whole logs are
 * removed oldest first (by last write), with their `.done`/`.full` markers, until the folder is back under it.
 */
import { readdir, rm, rmdir, stat } from 'node:fs/promises';
import path from 'node:path';

interface LogEntry {
  readonly files: string[];
  bytes: number;
  mtimeMs: number;
}

const MARKERS = ['.done', '.full'];

/** Removes the oldest logs under `<dataDir>/logs/` until their total is at most `maxBytes`; returns what went. */
export async function pruneLogs(dataDir: string, maxBytes: number): Promise<{ removed: number; bytes: number }> {
  const root = path.join(dataDir, 'logs');
  const entries = new Map<string, LogEntry>();
  let total = 0;
  for (const runDir of await listDir(root)) {
    const folder = path.join(root, runDir);
    for (const name of await listDir(folder)) {
      const file = path.join(folder, name);
      const info = await stat(file).catch(() => undefined);
      if (info === undefined || !info.isFile()) continue;
      const marker = MARKERS.find((suffix) => name.endsWith(suffix));
      const key = marker === undefined ? file : file.slice(0, -marker.length);
      const entry = entries.get(key) ?? { files: [], bytes: 0, mtimeMs: 0 };
      entry.files.push(file);
      entry.bytes += info.size;
      entry.mtimeMs = Math.max(entry.mtimeMs, info.mtimeMs);
      entries.set(key, entry);
      total += info.size;
    }
  }
  let removed = 0;
  let freed = 0;
  for (const entry of [...entries.values()].sort((a, b) => a.mtimeMs - b.mtimeMs)) {
    if (total <= maxBytes) break;
    for (const file of entry.files) await rm(file, { force: true });
    // A run folder left empty goes too (rmdir refuses a folder that is not).
    await rmdir(path.dirname(entry.files[0] ?? root)).catch(() => undefined);
    total -= entry.bytes;
    freed += entry.bytes;
    removed++;
  }
  return { removed, bytes: freed };
}

async function listDir(dir: string): Promise<string[]> {
  return readdir(dir).catch(() => []);
}
