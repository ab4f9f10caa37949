/**
 * Where order logs live. The local runner writes its own log files (runners/local.ts `logPath`); remote agents send
 * `log` reports that the callback route appends here; the log page reads from here. The file implementation uses
 * the same paths as the local runner, so one page serves both.
 */
import { appendFile, mkdir, open, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { logPath } from '../../runners/local.ts';
import type { OrderRef } from '../../runners/runner.ts';

export interface LogChunk {
  /** Whole UTF-8 characters from `offset` on (a character cut by the read is left for the next read). */
  readonly text: string;
  /** The log's size in bytes at the time of the read. */
  readonly size: number;
  /** The byte offset to read from next. */
  readonly next: number;
}

export type AppendResult = { readonly ok: true } | { readonly ok: false; readonly reason: 'log-full' };

export interface LogStore {
  /** Appends a chunk to one attempt's log; refused once the log reached the store's cap. */
  append(ref: OrderRef, chunk: string): Promise<AppendResult>;
  /** Reads from a byte offset, at most `maxBytes` (a store default when unset). A missing log reads as empty. */
  read(ref: OrderRef, opts: { readonly offset: number; readonly maxBytes?: number }): Promise<LogChunk>;
  /** Marks an attempt's log as complete (its agent reported the end). */
  complete(ref: OrderRef): Promise<void>;
  /** Whether `complete` was called for the attempt. */
  isComplete(ref: OrderRef): Promise<boolean>;
}

export interface FileLogStoreOptions {
  /** Per attempt; the local runner caps its logs at 16 MiB (execute-order.ts), agents get the same room and a bit. */
  readonly maxLogBytes?: number;
  readonly readChunkBytes?: number;
}

export const DEFAULT_MAX_LOG_BYTES = 32 * 1024 * 1024;
const DEFAULT_READ_BYTES = 64 * 1024;
const FULL_NOTICE = '\n##[warning] the log reached its size limit; later output was dropped\n';

export function createFileLogStore(dataDir: string, opts: FileLogStoreOptions = {}): LogStore {
  const maxLogBytes = opts.maxLogBytes ?? DEFAULT_MAX_LOG_BYTES;
  const readChunkBytes = opts.readChunkBytes ?? DEFAULT_READ_BYTES;
  const doneMarker = (ref: OrderRef): string => `${logPath(dataDir, ref)}.done`;

  return {
    async append(ref, chunk) {
      const file = logPath(dataDir, ref);
      await mkdir(path.dirname(file), { recursive: true });
      if (await exists(`${file}.full`)) return { ok: false, reason: 'log-full' };
      if ((await fileSize(file)) + Buffer.byteLength(chunk) > maxLogBytes) {
        // Said once in the log itself, so a reader knows the end is missing; the marker stops later appends.
        await appendFile(file, FULL_NOTICE);
        await writeFile(`${file}.full`, '');
        return { ok: false, reason: 'log-full' };
      }
      // O_APPEND: concurrent appends land whole, one after the other.
      await appendFile(file, chunk);
      return { ok: true };
    },

    async read(ref, { offset, maxBytes }) {
      const file = logPath(dataDir, ref);
      let handle;
      try {
        handle = await open(file, 'r');
      } catch (error) {
        if (isNotFound(error)) return { text: '', size: 0, next: offset };
        throw error;
      }
      try {
        const { size } = await handle.stat();
        const want = Math.max(0, Math.min(size - offset, maxBytes ?? readChunkBytes));
        if (want === 0) return { text: '', size, next: offset };
        const buffer = Buffer.alloc(want);
        const { bytesRead } = await handle.read(buffer, 0, want, offset);
        const whole = completeUtf8Length(buffer.subarray(0, bytesRead));
        return { text: buffer.toString('utf8', 0, whole), size, next: offset + whole };
      } finally {
        await handle.close();
      }
    },

    async complete(ref) {
      const file = doneMarker(ref);
      await mkdir(path.dirname(file), { recursive: true });
      await writeFile(file, '');
    },

    async isComplete(ref) {
      return exists(doneMarker(ref));
    },
  };
}

async function fileSize(file: string): Promise<number> {
  try {
    return (await stat(file)).size;
  } catch (error) {
    if (isNotFound(error)) return 0;
    throw error;
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch (error) {
    if (isNotFound(error)) return false;
    throw error;
  }
}

function isNotFound(error: unknown): boolean {
  return typeof error === 'object' && error !== null && 'code' in error && error.code === 'ENOENT';
}

/**
 * The length of `buffer` without a UTF-8 sequence cut at its end (the writer may be mid-character). Looks back at
 * most 3 bytes for the lead byte of the last sequence (RFC 3629 §3: sequences are 1 to 4 bytes).
 */
export function completeUtf8Length(buffer: Uint8Array): number {
  const end = buffer.length;
  for (let back = 1; back <= Math.min(3, end); back++) {
    const byte = buffer[end - back]!;
    if ((byte & 0b1100_0000) === 0b1000_0000) continue; // a continuation byte: keep looking for the lead
    const expected = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    return expected > back ? end - back : end;
  }
  return end;
}
