/**
 * The S3 LogStore against an in-memory bucket behind aws-sdk-client-mock: the S3 semantics it relies on are
 * modelled (keys listed in binary order with sizes, 1,000 per page, StartAfter, ContinuationToken, inclusive byte
 * ranges, If-None-Match: * answered 412) so the store's own logic — seq numbers, stitching, caps, markers — runs
 * for real. Every command the store sends is counted.
 */
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { OrderRef } from '../../runners/runner.ts';
import { createS3LogStore } from '../../src/server/s3-log-store.ts';

const BUCKET = 'logs-bucket';
const PAGE = 1000;

function s3Error(name: string, status: number): S3ServiceException {
  return new S3ServiceException({ name, $fault: 'client', $metadata: { httpStatusCode: status }, message: name });
}

/** An in-memory bucket; `beforePut` lets a test slip a racing writer in. */
function memoryBucket(client: S3Client) {
  const objects = new Map<string, Buffer>();
  const mock = mockClient(client);
  const hooks: { beforePut?: ((key: string) => void) | undefined } = {};
  mock.on(PutObjectCommand).callsFake((input: { Bucket: string; Key: string; Body?: string; IfNoneMatch?: string }) => {
    expect(input.Bucket).toBe(BUCKET);
    hooks.beforePut?.(input.Key);
    if (input.IfNoneMatch === '*' && objects.has(input.Key)) throw s3Error('PreconditionFailed', 412);
    objects.set(input.Key, Buffer.from(input.Body ?? ''));
    return {};
  });
  mock.on(HeadObjectCommand).callsFake((input: { Key: string }) => {
    const found = objects.get(input.Key);
    if (!found) throw s3Error('NotFound', 404);
    return { ContentLength: found.length };
  });
  mock.on(GetObjectCommand).callsFake((input: { Key: string; Range?: string }) => {
    const found = objects.get(input.Key);
    if (!found) throw s3Error('NoSuchKey', 404);
    const range = input.Range === undefined ? undefined : /^bytes=(\d+)-(\d+)$/.exec(input.Range);
    // RFC 9110 §14.1.2: the last position is inclusive.
    const bytes = range ? found.subarray(Number(range[1]), Number(range[2]) + 1) : found;
    return { Body: { transformToByteArray: () => Promise.resolve(new Uint8Array(bytes)) } };
  });
  mock
    .on(ListObjectsV2Command)
    .callsFake((input: { Prefix?: string; StartAfter?: string; ContinuationToken?: string }) => {
      // ListObjectsV2 returns keys in UTF-8 binary order.
      const keys = [...objects.keys()].filter((k) => k.startsWith(input.Prefix ?? '')).sort();
      const after = input.ContinuationToken ?? input.StartAfter;
      const from = after === undefined ? keys : keys.filter((k) => k > after);
      const page = from.slice(0, PAGE);
      const truncated = from.length > PAGE;
      return {
        Contents: page.map((Key) => ({ Key, Size: objects.get(Key)!.length })),
        IsTruncated: truncated,
        ...(truncated ? { NextContinuationToken: page.at(-1) } : {}),
      };
    });
  return { objects, mock, hooks };
}

const REF: OrderRef = { runId: 'github:github.com/octo/app#7', orderId: 'test.2', attempt: 1 };
let client: S3Client;
let bucket: ReturnType<typeof memoryBucket>;

beforeEach(() => {
  client = new S3Client({ region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } });
  bucket = memoryBucket(client);
});
afterEach(() => {
  bucket.mock.restore();
  client.destroy();
});

describe('S3 LogStore', () => {
  it('appends as numbered chunk objects and reads them back stitched, from any offset', async () => {
    const logs = createS3LogStore({ client, bucket: BUCKET, prefix: 'spotcheck/' });
    for (const line of ['one\n', 'two\n', 'three\n']) expect(await logs.append(REF, line)).toEqual({ ok: true });
    expect([...bucket.objects.keys()]).toEqual([
      'spotcheck/logs/github%3Agithub.com%2Focto%2Fapp%237/test.2/1/0000000000',
      'spotcheck/logs/github%3Agithub.com%2Focto%2Fapp%237/test.2/1/0000000001',
      'spotcheck/logs/github%3Agithub.com%2Focto%2Fapp%237/test.2/1/0000000002',
    ]);
    expect(await logs.read(REF, { offset: 0 })).toEqual({ text: 'one\ntwo\nthree\n', size: 14, next: 14 });
    expect(await logs.read(REF, { offset: 2, maxBytes: 5 })).toEqual({ text: 'e\ntwo', size: 14, next: 7 });
    expect(await logs.read(REF, { offset: 14 })).toEqual({ text: '', size: 14, next: 14 });
    // Another attempt, another log.
    expect(await logs.read({ ...REF, attempt: 2 }, { offset: 0 })).toEqual({ text: '', size: 0, next: 0 });
  });

  it('a character cut by the read is left for the next read', async () => {
    const logs = createS3LogStore({ client, bucket: BUCKET });
    await logs.append(REF, 'a€'); // € is 3 bytes
    await logs.append(REF, 'b');
    const first = await logs.read(REF, { offset: 0, maxBytes: 3 });
    expect(first).toEqual({ text: 'a', size: 5, next: 1 });
    expect(await logs.read(REF, { offset: first.next })).toEqual({ text: '€b', size: 5, next: 5 });
  });

  it('a tailing reader lists only what is new (StartAfter the last known chunk) and fetches ranges only', async () => {
    const logs = createS3LogStore({ client, bucket: BUCKET });
    await logs.append(REF, 'x'.repeat(10));
    const reader = createS3LogStore({ client, bucket: BUCKET });
    expect((await reader.read(REF, { offset: 0 })).next).toBe(10);
    await logs.append(REF, 'y'.repeat(10));
    bucket.mock.resetHistory();
    expect(await reader.read(REF, { offset: 10 })).toEqual({ text: 'y'.repeat(10), size: 20, next: 20 });
    const lists = bucket.mock.commandCalls(ListObjectsV2Command);
    expect(lists).toHaveLength(1);
    expect(lists[0]!.args[0].input.StartAfter).toMatch(/\/0000000000$/);
    // Only the new chunk is fetched.
    expect(bucket.mock.commandCalls(GetObjectCommand).map((c) => c.args[0].input.Key)).toEqual([
      expect.stringMatching(/\/0000000001$/),
    ]);
  });

  it('two writers racing for one seq: the loser takes the next one, nothing is overwritten', async () => {
    const a = createS3LogStore({ client, bucket: BUCKET });
    const b = createS3LogStore({ client, bucket: BUCKET });
    await a.append(REF, 'a0');
    let raced = false;
    bucket.hooks.beforePut = (key) => {
      // Just before `a` writes seq 1, `b` (which already listed) writes it first.
      if (!raced && key.endsWith('/0000000001')) {
        raced = true;
        bucket.objects.set(key, Buffer.from('b1'));
      }
    };
    expect(await a.append(REF, 'a1')).toEqual({ ok: true });
    bucket.hooks.beforePut = undefined;
    expect(await b.append(REF, 'b2')).toEqual({ ok: true });
    expect((await a.read(REF, { offset: 0 })).text).toBe('a0b1a1b2');
  });

  it('past the cap: one notice in the log, a marker, and every later append refused', async () => {
    const logs = createS3LogStore({ client, bucket: BUCKET, maxLogBytes: 10 });
    expect(await logs.append(REF, '12345678')).toEqual({ ok: true });
    expect(await logs.append(REF, 'abc')).toEqual({ ok: false, reason: 'log-full' });
    expect(await logs.append(REF, 'd')).toEqual({ ok: false, reason: 'log-full' });
    const { text } = await logs.read(REF, { offset: 0, maxBytes: 1000 });
    expect(text).toMatch(/^12345678\n##\[warning\] the log reached its size limit/);
    expect([...bucket.objects.keys()].filter((k) => k.endsWith('/full'))).toHaveLength(1);
  });

  it('complete writes a marker; isComplete reads it; markers are not log text', async () => {
    const logs = createS3LogStore({ client, bucket: BUCKET });
    await logs.append(REF, 'out\n');
    expect(await logs.isComplete(REF)).toBe(false);
    await logs.complete(REF);
    expect(await logs.isComplete(REF)).toBe(true);
    expect(await logs.isComplete({ ...REF, attempt: 2 })).toBe(false);
    expect(await logs.read(REF, { offset: 0 })).toEqual({ text: 'out\n', size: 4, next: 4 });
  });

  it('a log of more than one listing page is read across pages', async () => {
    const logs = createS3LogStore({ client, bucket: BUCKET, readChunkBytes: 1 << 20 });
    const prefix = 'logs/github%3Agithub.com%2Focto%2Fapp%237/test.2/1/';
    for (let seq = 0; seq < PAGE + 5; seq++)
      bucket.objects.set(`${prefix}${String(seq).padStart(10, '0')}`, Buffer.from(`${String(seq)}\n`));
    const read = await logs.read(REF, { offset: 0 });
    expect(read.text.split('\n').at(-2)).toBe(String(PAGE + 4));
    expect(bucket.mock.commandCalls(ListObjectsV2Command)).toHaveLength(2);
    expect(await logs.append(REF, 'next\n')).toEqual({ ok: true });
    expect(bucket.objects.has(`${prefix}${String(PAGE + 5).padStart(10, '0')}`)).toBe(true);
  });
});
