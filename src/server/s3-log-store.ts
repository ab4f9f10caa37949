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
 *
 * Here in named steps: appendChunk (the seq race), readLog (which chunk ranges a read needs: chunkRanges, pure),
 * the cached listing (listChunks), and the conditional create.
 */
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { OrderRef } from '../../runners/runner.ts';
import {
  completeUtf8Length,
  DEFAULT_MAX_LOG_BYTES,
  type AppendResult,
  type LogChunk,
  type LogStore,
} from './log-store.ts';

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

/** One S3 log store: its options with defaults and the cached chunk listings (attempt prefix → chunks). */
interface S3LogContext {
  readonly client: S3Client;
  readonly bucket: string;
  readonly prefix: string;
  readonly maxLogBytes: number;
  readonly readChunkBytes: number;
  readonly cachedAttempts: number;
  readonly listings: Map<string, Chunk[]>;
}

export function createS3LogStore(opts: S3LogStoreOptions): LogStore {
  const ctx: S3LogContext = {
    client: opts.client,
    bucket: opts.bucket,
    prefix: opts.prefix ?? '',
    maxLogBytes: opts.maxLogBytes ?? DEFAULT_MAX_LOG_BYTES,
    readChunkBytes: opts.readChunkBytes ?? DEFAULT_READ_BYTES,
    cachedAttempts: opts.cachedAttempts ?? 256,
    listings: new Map(),
  };
  return {
    append: (ref, chunk) => appendChunk(ctx, ref, chunk),
    read: (ref, range) => readLog(ctx, ref, range),
    complete: async (ref) => {
      await ctx.client.send(
        new PutObjectCommand({ Bucket: ctx.bucket, Key: `${attemptPrefix(ctx, ref)}done`, Body: '' }),
      );
    },
    isComplete: (ref) => exists(ctx, `${attemptPrefix(ctx, ref)}done`),
  };
}

function attemptPrefix(ctx: S3LogContext, ref: OrderRef): string {
  return `${ctx.prefix}logs/${encodeURIComponent(ref.runId)}/${encodeURIComponent(ref.orderId)}/${String(ref.attempt)}/`;
}

function chunkKey(ctx: S3LogContext, ref: OrderRef, seq: number): string {
  return `${attemptPrefix(ctx, ref)}${String(seq).padStart(SEQ_DIGITS, '0')}`;
}

/**
 * Appends one chunk at the next seq; a writer that loses the race for a seq takes the next. Past the cap, the
 * chunk is a notice instead and the `full` marker refuses every later append.
 */
async function appendChunk(ctx: S3LogContext, ref: OrderRef, chunk: string): Promise<AppendResult> {
  const base = attemptPrefix(ctx, ref);
  if (await exists(ctx, `${base}full`)) return { ok: false, reason: 'log-full' };
  for (let race = 0; race < MAX_SEQ_RACES; race++) {
    const chunks = await listChunks(ctx, ref);
    const size = chunks.reduce((sum, c) => sum + c.size, 0);
    const seq = (chunks.at(-1)?.seq ?? -1) + 1;
    const full = size + Buffer.byteLength(chunk) > ctx.maxLogBytes;
    // Said once in the log itself, so a reader knows the end is missing; the marker stops later appends.
    if (!(await create(ctx, chunkKey(ctx, ref, seq), full ? FULL_NOTICE : chunk))) continue;
    if (!full) return { ok: true };
    await ctx.client.send(new PutObjectCommand({ Bucket: ctx.bucket, Key: `${base}full`, Body: '' }));
    return { ok: false, reason: 'log-full' };
  }
  throw new Error(`could not take a chunk number for ${base} after ${String(MAX_SEQ_RACES)} tries`);
}

/** Reads from `offset`, stitching the chunks' byte ranges; a character cut at the end is left for the next read. */
async function readLog(
  ctx: S3LogContext,
  ref: OrderRef,
  { offset, maxBytes }: { readonly offset: number; readonly maxBytes?: number },
): Promise<LogChunk> {
  const chunks = await listChunks(ctx, ref);
  const size = chunks.reduce((sum, c) => sum + c.size, 0);
  const want = Math.max(0, Math.min(size - offset, maxBytes ?? ctx.readChunkBytes));
  if (want === 0) return { text: '', size, next: offset };
  const parts: Buffer[] = [];
  for (const range of chunkRanges(chunks, offset, want)) parts.push(await readRange(ctx, range));
  const buffer = Buffer.concat(parts);
  const whole = completeUtf8Length(buffer);
  return { text: buffer.toString('utf8', 0, whole), size, next: offset + whole };
}

/** A byte range [from, to) of one chunk object. */
export interface ChunkRange {
  readonly key: string;
  readonly from: number;
  readonly to: number;
  /** The chunk's whole size: a range that covers it all is fetched without a Range header. */
  readonly size: number;
}

/** The chunk ranges that hold the log's bytes [offset, offset + want), in order. Pure. */
export function chunkRanges(
  chunks: readonly { readonly key: string; readonly size: number }[],
  offset: number,
  want: number,
): ChunkRange[] {
  const ranges: ChunkRange[] = [];
  let start = 0;
  for (const chunk of chunks) {
    const end = start + chunk.size;
    const from = Math.max(offset, start);
    const to = Math.min(offset + want, end);
    if (from < to) ranges.push({ key: chunk.key, from: from - start, to: to - start, size: chunk.size });
    start = end;
    if (start >= offset + want) break;
  }
  return ranges;
}

/** Every chunk of an attempt, in order: the cached ones, then what S3 lists after the last of them. */
async function listChunks(ctx: S3LogContext, ref: OrderRef): Promise<Chunk[]> {
  const base = attemptPrefix(ctx, ref);
  const known = ctx.listings.get(base) ?? [];
  const found = [...known];
  let token: string | undefined;
  const last = known.at(-1)?.key;
  do {
    const page = await ctx.client.send(
      new ListObjectsV2Command({
        Bucket: ctx.bucket,
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
  remember(ctx, base, found);
  return found;
}

function remember(ctx: S3LogContext, base: string, chunks: Chunk[]): void {
  ctx.listings.delete(base);
  ctx.listings.set(base, chunks);
  // Oldest first in a Map's order: drop what was not used for longest.
  while (ctx.listings.size > ctx.cachedAttempts) ctx.listings.delete(ctx.listings.keys().next().value!);
}

async function exists(ctx: S3LogContext, key: string): Promise<boolean> {
  try {
    await ctx.client.send(new HeadObjectCommand({ Bucket: ctx.bucket, Key: key }));
    return true;
  } catch (error) {
    if (isNotFound(error)) return false;
    throw error;
  }
}

/** Creates `key` unless it exists; false when another writer has it. */
async function create(ctx: S3LogContext, key: string, body: string): Promise<boolean> {
  try {
    await ctx.client.send(
      new PutObjectCommand({
        Bucket: ctx.bucket,
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

/** Bytes [from, to) of one chunk; the whole object when that is all of it. */
async function readRange(ctx: S3LogContext, { key, from, to, size }: ChunkRange): Promise<Buffer> {
  const whole = from === 0 && to === size;
  const answer = await ctx.client.send(
    // RFC 9110 §14.1.2: a byte range's last position is inclusive.
    new GetObjectCommand({
      Bucket: ctx.bucket,
      Key: key,
      ...(whole ? {} : { Range: `bytes=${String(from)}-${String(to - 1)}` }),
    }),
  );
  const bytes = answer.Body === undefined ? new Uint8Array() : await answer.Body.transformToByteArray();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
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
