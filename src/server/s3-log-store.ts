/**
 * The `LogStore` over S3, for deployments where no replica has a disk the others see (Lambda, several containers).
 *
 * S3 has no append, so an attempt's log is a sequence of immutable chunk objects:
 *   `<prefix>logs/<run>/<order>/<attempt>/<seq>` (seq zero-padded, so key order is chunk order),
 * plus two markers beside them, `…/done` (the agent reported the end) and `…/full` (the cap was reached). A
 * chunk is created with `If-None-Match: *`, so two writers racing for one seq cannot overwrite each other: the
 * loser (412 Precondition Failed, or 409 ConditionalRequestConflict while the other write is in flight — S3 user
 * guide, "How to prevent object overwrites with conditional writes") takes the next seq.
 *
 * Reads list the chunks (ListObjectsV2 returns keys in UTF-8 binary order with their sizes) and stitch the byte
 * range asked for with ranged GETs. Chunks never change once written, so the listing is cached per attempt and
 * extended with `StartAfter` the last known key: a live tail costs one small LIST per poll, not the whole prefix.
 */
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { OrderRef } from '../../runners/runner.ts';
import { completeUtf8Length, DEFAULT_MAX_LOG_BYTES, type LogChunk, type LogStore } from './log-store.ts';

export interface S3LogStoreOptions {
  readonly client: S3Client;
  readonly bucket: string;
  /** Key prefix inside the bucket (e.g. `spotcheck/`); empty by default. */
  readonly prefix?: string;
  /** Per attempt, as the file store. */
  readonly maxLogBytes?: number;
  readonly readChunkBytes?: number;
  /** Attempts whose chunk listing is kept in memory (a tailed log re-lists only what is new). */
  readonly cachedAttempts?: number;
}

const DEFAULT_READ_BYTES = 64 * 1024;
const SEQ_DIGITS = 10;
const FULL_NOTICE = '\n##[warning] the log reached its size limit; later output was dropped\n';
/** Writers racing for one attempt's next seq: each loss moves on by one; a bound keeps a bug from looping. */
const MAX_SEQ_RACES = 16;

interface Chunk {
  readonly key: string;
  readonly seq: number;
  readonly size: number;
}

export function createS3LogStore(opts: S3LogStoreOptions): LogStore {
  const { client, bucket } = opts;
  const prefix = opts.prefix ?? '';
  const maxLogBytes = opts.maxLogBytes ?? DEFAULT_MAX_LOG_BYTES;
  const readChunkBytes = opts.readChunkBytes ?? DEFAULT_READ_BYTES;
  const cachedAttempts = opts.cachedAttempts ?? 256;
  const listings = new Map<string, Chunk[]>();

  const attemptPrefix = (ref: OrderRef): string =>
    `${prefix}logs/${encodeURIComponent(ref.runId)}/${encodeURIComponent(ref.orderId)}/${String(ref.attempt)}/`;

  /** Every chunk of an attempt, in order: the cached ones, then what S3 lists after the last of them. */
  async function chunksOf(ref: OrderRef): Promise<Chunk[]> {
    const base = attemptPrefix(ref);
    const known = listings.get(base) ?? [];
    const found = [...known];
    let token: string | undefined;
    const last = known.at(-1)?.key;
    do {
      const page = await client.send(
        new ListObjectsV2Command({
          Bucket: bucket,
          Prefix: base,
          ...(token === undefined ? (last === undefined ? {} : { StartAfter: last }) : { ContinuationToken: token }),
        }),
      );
      for (const object of page.Contents ?? []) {
        const name = object.Key?.slice(base.length) ?? '';
        // The markers (`done`, `full`) sort after every digit, and are not chunks.
        if (!/^\d+$/.test(name)) continue;
        found.push({ key: object.Key!, seq: Number(name), size: object.Size ?? 0 });
      }
      token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    remember(base, found);
    return found;
  }

  function remember(base: string, chunks: Chunk[]): void {
    listings.delete(base);
    listings.set(base, chunks);
    // Oldest first in a Map's order: drop what was not used for longest.
    while (listings.size > cachedAttempts) listings.delete(listings.keys().next().value!);
  }

  async function exists(key: string): Promise<boolean> {
    try {
      await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      return true;
    } catch (error) {
      if (isNotFound(error)) return false;
      throw error;
    }
  }

  /** Creates `key` unless it exists; false when another writer has it. */
  async function create(key: string, body: string): Promise<boolean> {
    try {
      await client.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: body,
          ContentType: 'text/plain; charset=utf-8',
          IfNoneMatch: '*',
        }),
      );
      return true;
    } catch (error) {
      if (isConditionLost(error)) return false;
      throw error;
    }
  }

  const chunkKey = (ref: OrderRef, seq: number): string =>
    `${attemptPrefix(ref)}${String(seq).padStart(SEQ_DIGITS, '0')}`;

  return {
    async append(ref, chunk) {
      const base = attemptPrefix(ref);
      if (await exists(`${base}full`)) return { ok: false, reason: 'log-full' };
      for (let race = 0; race < MAX_SEQ_RACES; race++) {
        const chunks = await chunksOf(ref);
        const size = chunks.reduce((sum, c) => sum + c.size, 0);
        const seq = (chunks.at(-1)?.seq ?? -1) + 1;
        const full = size + Buffer.byteLength(chunk) > maxLogBytes;
        // Said once in the log itself, so a reader knows the end is missing; the marker stops later appends.
        if (!(await create(chunkKey(ref, seq), full ? FULL_NOTICE : chunk))) continue;
        if (!full) return { ok: true };
        await client.send(new PutObjectCommand({ Bucket: bucket, Key: `${base}full`, Body: '' }));
        return { ok: false, reason: 'log-full' };
      }
      throw new Error(`could not take a chunk number for ${base} after ${String(MAX_SEQ_RACES)} tries`);
    },

    async read(ref, { offset, maxBytes }): Promise<LogChunk> {
      const chunks = await chunksOf(ref);
      const size = chunks.reduce((sum, c) => sum + c.size, 0);
      const want = Math.max(0, Math.min(size - offset, maxBytes ?? readChunkBytes));
      if (want === 0) return { text: '', size, next: offset };
      const parts: Buffer[] = [];
      let start = 0;
      for (const chunk of chunks) {
        const end = start + chunk.size;
        const from = Math.max(offset, start);
        const to = Math.min(offset + want, end);
        if (from < to) parts.push(await readRange(chunk.key, from - start, to - start, chunk.size));
        start = end;
        if (start >= offset + want) break;
      }
      const buffer = Buffer.concat(parts);
      const whole = completeUtf8Length(buffer);
      return { text: buffer.toString('utf8', 0, whole), size, next: offset + whole };
    },

    async complete(ref) {
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: `${attemptPrefix(ref)}done`, Body: '' }));
    },

    async isComplete(ref) {
      return exists(`${attemptPrefix(ref)}done`);
    },
  };

  /** Bytes [from, to) of one chunk; the whole object when that is all of it. */
  async function readRange(key: string, from: number, to: number, size: number): Promise<Buffer> {
    const whole = from === 0 && to === size;
    const answer = await client.send(
      // RFC 9110 §14.1.2: a byte range's last position is inclusive.
      new GetObjectCommand({
        Bucket: bucket,
        Key: key,
        ...(whole ? {} : { Range: `bytes=${String(from)}-${String(to - 1)}` }),
      }),
    );
    const bytes = answer.Body === undefined ? new Uint8Array() : await answer.Body.transformToByteArray();
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
}

function errorStatus(error: unknown): { name?: unknown; status?: unknown } {
  if (typeof error !== 'object' || error === null) return {};
  const e = error as { name?: unknown; $metadata?: { httpStatusCode?: unknown } };
  return { name: e.name, status: e.$metadata?.httpStatusCode };
}

function isNotFound(error: unknown): boolean {
  const { name, status } = errorStatus(error);
  return name === 'NotFound' || name === 'NoSuchKey' || status === 404;
}

function isConditionLost(error: unknown): boolean {
  const { name, status } = errorStatus(error);
  return name === 'PreconditionFailed' || name === 'ConditionalRequestConflict' || status === 412 || status === 409;
}
