/**
 * The rules executeOrder's named parts carry, each alone: the capped log (runners/agent/capped-log.ts), the order's
 * stop and timer conversion (order-stop.ts), and a step's environment and file commands (step-env.ts).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createCappedLog } from '../../runners/agent/capped-log.ts';
import { minutesToMs, OrderStop } from '../../runners/agent/order-stop.ts';
import {
  addToPath,
  createFileCommandFiles,
  defaultVariables,
  readFileCommands,
  withPrependedPath,
} from '../../runners/agent/step-env.ts';
import type { OrderJob } from '../../runners/runner.ts';
import { makeGithubContext } from '../helpers/records.ts';

describe('createCappedLog', () => {
  it('keeps step output up to the cap, cuts at a character boundary, warns once, and always writes meta lines', () => {
    const chunks: string[] = [];
    const log = createCappedLog((c) => chunks.push(c), 10);
    log.meta('##[step] a');
    log.output('123456');
    log.output('789é0'); // 4 bytes of room: '789' and half of the two-byte é → cut before the é
    log.output('dropped');
    log.meta('##[end] success');
    expect(chunks.join('')).toBe(
      '##[step] a\n123456789\n##[warning] log truncated at 10 bytes; further step output dropped\n##[end] success\n',
    );
  });

  it('starts a meta line on a line of its own after output without a newline', () => {
    const chunks: string[] = [];
    const log = createCappedLog((c) => chunks.push(c), 1000);
    log.output('no newline');
    log.meta('##[end] success');
    log.output('done\n');
    log.meta('##[step] b');
    expect(chunks.join('')).toBe('no newline\n##[end] success\ndone\n##[step] b\n');
  });
});

describe('OrderStop and minutesToMs', () => {
  it('keeps the first reason and aborts its signal once', () => {
    const external = new AbortController();
    const stop = new OrderStop(external.signal, undefined);
    let aborts = 0;
    stop.signal.addEventListener('abort', () => aborts++);
    expect(stop.kind).toBeUndefined();
    stop.request('timed_out');
    external.abort();
    stop.request('cancelled');
    expect([stop.kind, stop.words, aborts]).toEqual(['timed_out', 'timed out', 1]);
    stop.dispose();
  });

  it('is cancelled from the start when the caller’s signal already was', () => {
    const stop = new OrderStop(AbortSignal.abort(), 60_000);
    expect([stop.kind, stop.signal.aborted]).toEqual(['cancelled', true]);
    stop.dispose();
  });

  it.each([
    [undefined, undefined],
    [0, undefined],
    [-1, undefined],
    [Number.NaN, undefined],
    [0.5, 30_000],
    [60 * 24 * 365, 2 ** 31 - 1],
  ])('minutesToMs(%s) = %s', (minutes, ms) => {
    expect(minutesToMs(minutes)).toBe(ms);
  });
});

describe('step environment', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'spotcheck-step-env-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('GITHUB_PATH entries go first, most recent first; a repeated entry moves to the front', () => {
    const added: string[] = [];
    addToPath(added, ['/a', '/b']);
    addToPath(added, ['/a']);
    expect(withPrependedPath('/usr/bin', added)).toBe(['/a', '/b', '/usr/bin'].join(path.delimiter));
    expect(withPrependedPath(undefined, added)).toBe(['/a', '/b'].join(path.delimiter));
    expect(withPrependedPath('/usr/bin', [])).toBe('/usr/bin');
  });

  it('reads outputs, env, path and state from the files, and a malformed output file is an error', async () => {
    const files = await createFileCommandFiles(dir, 3);
    await writeFile(files.GITHUB_OUTPUT, 'a=1\nmulti<<EOF\nx\ny\nEOF\n');
    await writeFile(files.GITHUB_ENV, 'FOO=bar\n');
    await writeFile(files.GITHUB_PATH, '/opt/tool/bin\n\n');
    await writeFile(files.GITHUB_STATE, 'pid=42\n');
    expect(await readFileCommands(files)).toEqual({
      ok: true,
      outputs: { a: '1', multi: 'x\ny' },
      env: { FOO: 'bar' },
      path: ['/opt/tool/bin'],
      state: { pid: '42' },
    });
    await writeFile(files.GITHUB_OUTPUT, 'x<<EOF\nnever closed\n');
    const bad = await readFileCommands(files);
    expect(bad.ok).toBe(false);
    expect(!bad.ok && bad.error).toMatch(/^Unable to process file command 'output': /);
  });

  it('sets the default variables under GITHUB_ and SPOTCHECK_, with the file-command paths', async () => {
    const files = await createFileCommandFiles(dir, 0);
    const github = { ...makeGithubContext({ repository: 'acme/widgets' }), repository: 'acme/widgets' };
    const job = { sha: 'f'.repeat(40), ref: { runId: 'r', orderId: 'build.2', attempt: 2 } } as unknown as OrderJob;
    const vars = defaultVariables({
      job,
      github,
      jobId: 'build',
      workdir: '/w',
      tempDir: '/t',
      eventPath: '/e',
      files,
    });
    expect(vars).toMatchObject({
      GITHUB_ACTIONS: 'true',
      GITHUB_SHA: 'f'.repeat(40),
      GITHUB_JOB: 'build',
      GITHUB_RUN_ATTEMPT: '2',
      GITHUB_WORKSPACE: '/w',
      GITHUB_EVENT_PATH: '/e',
      GITHUB_OUTPUT: files.GITHUB_OUTPUT,
      SPOTCHECK_REPOSITORY: 'acme/widgets',
      SPOTCHECK_OUTPUT: files.GITHUB_OUTPUT,
      RUNNER_TEMP: '/t',
    });
  });
});
