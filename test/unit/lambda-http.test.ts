import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { eventPath, handleHttpEvent } from '../../src/server/lambda-http.ts';
import { createRouter, json, type RouteDefinition, type RouterRequest } from '../../src/server/router.ts';
import { eventFrom, type EventSource } from '../fixtures/apigw/events.ts';

const logger = pino({ level: 'silent' });
const SOURCES: EventSource[] = ['http-api-v2', 'function-url'];

/** A route that says what it saw. */
function echoRoute(maxBodyBytes = 64): RouteDefinition {
  return {
    method: 'POST',
    pattern: '/echo/:name',
    maxBodyBytes,
    async handle(req: RouterRequest, params) {
      const body = await req.body();
      return json(200, {
        name: params.name,
        path: req.path,
        query: req.query.getAll('q'),
        cookie: req.headers.cookie ?? null,
        multi: req.headers['x-multi'] ?? null,
        body: body.toString('hex'),
      });
    },
  };
}

describe('lambda-http: a 2.0 event in, the router request', () => {
  it.each(SOURCES)('%s: method, path, query, headers, cookies and a plain body', async (source) => {
    const router = createRouter([echoRoute()]);
    const result = await handleHttpEvent(
      router,
      eventFrom(source, {
        method: 'POST',
        path: '/echo/a%20b',
        query: 'q=1&q=2',
        headers: { 'x-multi': 'one,two' },
        cookies: ['a=1', 'b=2'],
        body: 'hi',
      }),
      { logger },
    );
    expect(result.statusCode).toBe(200);
    expect(result.isBase64Encoded).toBe(false);
    expect(JSON.parse(result.body!)).toEqual({
      name: 'a b',
      path: '/echo/a%20b',
      query: ['1', '2'],
      // RFC 6265 §5.4: one Cookie header, pairs joined with "; ".
      cookie: 'a=1; b=2',
      multi: 'one,two',
      body: Buffer.from('hi').toString('hex'),
    });
  });

  it.each(SOURCES)('%s: a base64 body is decoded, bytes intact', async (source) => {
    const bytes = Buffer.from([0, 0xff, 0x80, 0x41]);
    const result = await handleHttpEvent(
      createRouter([echoRoute()]),
      eventFrom(source, { method: 'POST', path: '/echo/x', body: bytes, base64: true }),
      { logger },
    );
    expect((JSON.parse(result.body!) as { body: string }).body).toBe('00ff8041');
  });

  it.each([
    { name: 'plain, declared length over the cap', base64: false, declared: true, status: 413 },
    { name: 'plain, no declared length, over the cap', base64: false, declared: false, status: 413 },
    { name: 'base64, no declared length, over the cap', base64: true, declared: false, status: 413 },
    { name: 'base64 at the cap exactly', base64: true, declared: false, status: 200, size: 16 },
  ])('body cap: $name → $status', async ({ base64, declared, status, size }) => {
    const body = Buffer.alloc(size ?? 17, 7);
    const event = eventFrom('http-api-v2', { method: 'POST', path: '/echo/x', body, base64 });
    if (!declared) delete event.headers['content-length'];
    const result = await handleHttpEvent(createRouter([echoRoute(16)]), event, { logger });
    expect(result.statusCode).toBe(status);
  });

  it('strips a named stage from rawPath, and leaves $default and other paths alone', () => {
    expect(eventPath(eventFrom('http-api-v2', { stage: 'prod', path: '/healthz' }))).toBe('/healthz');
    expect(eventPath(eventFrom('http-api-v2', { stage: 'prod', path: '/' }))).toBe('/');
    expect(eventPath(eventFrom('http-api-v2', { path: '/prod/healthz' }))).toBe('/prod/healthz');
    expect(eventPath(eventFrom('function-url', { path: '/healthz' }))).toBe('/healthz');
  });

  it('404 and 405 come from the router unchanged', async () => {
    const router = createRouter([echoRoute()]);
    expect((await handleHttpEvent(router, eventFrom('function-url', { path: '/nope' }), { logger })).statusCode).toBe(
      404,
    );
    const wrong = await handleHttpEvent(router, eventFrom('function-url', { path: '/echo/x' }), { logger });
    expect(wrong.statusCode).toBe(405);
    expect(wrong.headers?.allow).toBe('POST');
  });
});

describe('lambda-http: the router response out', () => {
  const answer = (response: Awaited<ReturnType<RouteDefinition['handle']>>): RouteDefinition => ({
    method: 'GET',
    pattern: '/r',
    handle: () => Promise.resolve(response),
  });

  it.each([
    { name: 'text stays text', type: 'text/plain; charset=utf-8', body: 'héllo', base64: false, out: 'héllo' },
    { name: 'JSON stays text', type: 'application/json', body: '{"a":1}', base64: false, out: '{"a":1}' },
    { name: 'SVG stays text', type: 'image/svg+xml', body: '<svg/>', base64: false, out: '<svg/>' },
    {
      name: 'binary goes base64',
      type: 'application/octet-stream',
      body: Buffer.from([1, 2, 255]),
      base64: true,
      out: Buffer.from([1, 2, 255]).toString('base64'),
    },
  ])('$name', async ({ type, body, base64, out }) => {
    const result = await handleHttpEvent(
      createRouter([answer({ status: 200, headers: { 'content-type': type }, body })]),
      eventFrom('http-api-v2', { path: '/r' }),
      { logger },
    );
    expect(result).toMatchObject({ statusCode: 200, isBase64Encoded: base64, body: out });
  });

  it('Set-Cookie goes to `cookies`; Content-Length and Connection are dropped', async () => {
    const result = await handleHttpEvent(
      createRouter([
        answer({
          status: 200,
          headers: { 'Set-Cookie': 's=1; HttpOnly', 'content-length': '3', connection: 'close', 'x-a': 'b' },
          body: 'abc',
        }),
      ]),
      eventFrom('function-url', { path: '/r' }),
      { logger },
    );
    expect(result.cookies).toEqual(['s=1; HttpOnly']);
    expect(result.headers).toEqual({ 'x-a': 'b' });
  });

  it('HEAD: the headers without the body, and a streamed body is not read', async () => {
    let pulled = 0;
    const stream: AsyncIterable<string> = {
      [Symbol.asyncIterator]: () => ({
        next: () => {
          pulled++;
          return Promise.resolve({ done: false, value: 'never' });
        },
      }),
    };
    const result = await handleHttpEvent(
      createRouter([answer({ status: 200, headers: { 'content-type': 'text/plain' }, body: stream })]),
      eventFrom('http-api-v2', { method: 'HEAD', path: '/r' }),
      { logger },
    );
    expect(result).toMatchObject({ statusCode: 200, body: '' });
    expect(pulled).toBe(0);
  });

  it('a streamed body is collected whole when it ends', async () => {
    async function* body(): AsyncGenerator<string | Buffer> {
      await Promise.resolve();
      yield 'one ';
      yield Buffer.from('two ');
      yield 'three';
    }
    const result = await handleHttpEvent(
      createRouter([answer({ status: 200, headers: { 'content-type': 'text/plain' }, body: body() })]),
      eventFrom('http-api-v2', { path: '/r' }),
      { logger },
    );
    expect(result.body).toBe('one two three');
    expect(result.headers?.['x-spotcheck-cut']).toBeUndefined();
  });

  it('a stream that would go on (a live log) is cut at the deadline; the route sees its signal abort', async () => {
    let aborted = false;
    const route: RouteDefinition = {
      method: 'GET',
      pattern: '/r',
      handle: (req) => {
        async function* body(): AsyncGenerator<string> {
          yield 'first\n';
          // Waits for more output until the client goes away, as the log route's tail does.
          await new Promise<void>((resolve) => req.signal.addEventListener('abort', () => resolve(), { once: true }));
          aborted = true;
          yield 'last\n';
        }
        return Promise.resolve({ status: 200, headers: { 'content-type': 'text/plain' }, body: body() });
      },
    };
    const result = await handleHttpEvent(createRouter([route]), eventFrom('http-api-v2', { path: '/r' }), {
      logger,
      streamDeadlineMs: 20,
    });
    expect(aborted).toBe(true);
    expect(result.body).toBe('first\nlast\n');
    expect(result.headers?.['x-spotcheck-cut']).toBe('deadline');
  });

  it('a stream over the size cap is cut before the chunk that would pass it', async () => {
    async function* body(): AsyncGenerator<string> {
      for (let i = 0; i < 10; i++) yield await Promise.resolve('x'.repeat(10));
    }
    const result = await handleHttpEvent(
      createRouter([answer({ status: 200, headers: { 'content-type': 'text/plain' }, body: body() })]),
      eventFrom('http-api-v2', { path: '/r' }),
      { logger, maxStreamBytes: 35 },
    );
    expect(result.body).toBe('x'.repeat(30));
    expect(result.headers?.['x-spotcheck-cut']).toBe('size');
  });

  it('a route that throws is a 500 saying nothing more', async () => {
    const route: RouteDefinition = { method: 'GET', pattern: '/r', handle: () => Promise.reject(new Error('secret')) };
    const result = await handleHttpEvent(createRouter([route]), eventFrom('http-api-v2', { path: '/r' }), { logger });
    expect(result.statusCode).toBe(500);
    expect(result.body).not.toContain('secret');
  });
});
