/**
 * The Node transport for the router: `http.IncomingMessage` in, `RouterResponse` out. It enforces the body cap while
 * reading (a declared Content-Length over the cap is refused before reading; a streamed body that grows past it
 * stops being read and the connection is closed after the 413), streams AsyncIterable bodies with backpressure,
 * and gives each request a pino child logger with a request id.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { Logger } from 'pino';
import {
  BodyAbortedError,
  BodyTooLargeError,
  type IncomingRequest,
  type Router,
  type RouterResponse,
} from './router.ts';

export interface HttpServerOptions {
  readonly logger: Logger;
  /**
   * Time to receive a whole request (headers and body), so a client that trickles bytes cannot hold a socket
   * open for long. Node's default is 300 s; a webhook body arrives in well under that.
   */
  readonly requestTimeoutMs?: number;
}

const DEFAULT_REQUEST_TIMEOUT_MS = 60_000;

export function createHttpServer(router: Router, opts: HttpServerOptions): http.Server {
  const server = http.createServer({ requestTimeout: opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS });
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    void serve(router, req, res, opts.logger);
  });
  return server;
}

async function serve(
  router: Router,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  logger: Logger,
): Promise<void> {
  const started = Date.now();
  const log = logger.child({ reqId: randomUUID() });
  const raw = req.url ?? '/';
  const q = raw.indexOf('?');
  const path = q < 0 ? raw : raw.slice(0, q);
  const method = req.method ?? 'GET';
  const controller = new AbortController();
  res.once('close', () => {
    if (!res.writableFinished) controller.abort(new Error('the client went away'));
    // Never the query or headers: they may carry tokens.
    log.info({ method, path, status: res.statusCode, ms: Date.now() - started }, 'request');
  });

  const incoming: IncomingRequest = {
    method,
    path,
    query: new URLSearchParams(q < 0 ? '' : raw.slice(q + 1)),
    headers: flattenHeaders(req.headers),
    signal: controller.signal,
    log,
    readBody: (limit) => readBody(req, limit),
    ...(req.socket.remoteAddress === undefined ? {} : { client: req.socket.remoteAddress }),
  };
  let response: RouterResponse;
  try {
    response = await router.handle(incoming);
  } catch (error) {
    log.error({ err: error }, 'router failed');
    response = { status: 500, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: 'internal error\n' };
  }
  await send(res, response, method === 'HEAD', controller.signal, log);
}

function flattenHeaders(headers: http.IncomingHttpHeaders): Record<string, string | undefined> {
  const flat: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(headers)) flat[name] = Array.isArray(value) ? value.join(', ') : value;
  return flat;
}

/**
 * Reads the body under `limit`. Over the cap, it stops reading (`pause`: Node then stops reading the socket once
 * its small buffer fills) and the 413 goes out with `Connection: close`, so the rest is never read.
 */
function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) > limit) {
      reject(new BodyTooLargeError(limit));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        req.pause();
        reject(new BodyTooLargeError(limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(Buffer.concat(chunks, size));
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(new BodyAbortedError('the request body could not be read', { cause: err }));
    };
    const onClose = (): void => {
      cleanup();
      reject(new BodyAbortedError('the client closed the connection before the body ended'));
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

async function send(
  res: http.ServerResponse,
  response: RouterResponse,
  head: boolean,
  signal: AbortSignal,
  log: Logger,
): Promise<void> {
  if (res.destroyed) return;
  res.statusCode = response.status;
  for (const [name, value] of Object.entries(response.headers ?? {})) res.setHeader(name, value);
  const { body } = response;
  if (body === undefined || typeof body === 'string' || Buffer.isBuffer(body)) {
    const bytes = body === undefined ? undefined : typeof body === 'string' ? Buffer.from(body) : body;
    res.setHeader('content-length', bytes?.length ?? 0);
    res.end(head ? undefined : bytes);
    return;
  }
  if (head) {
    res.end();
    return;
  }
  // Headers go out at once: a tailed log may have nothing to say for a while.
  res.flushHeaders();
  const iterator = body[Symbol.asyncIterator]();
  let finished = false;
  try {
    while (!signal.aborted && !res.destroyed) {
      const next = await iterator.next();
      if (next.done === true) {
        finished = true;
        break;
      }
      if (!res.write(next.value)) await drained(res);
    }
  } catch (error) {
    log.error({ err: error }, 'response stream failed');
    res.destroy();
    return;
  } finally {
    // Lets the producer clean up (close files, stop timers) when the client left before the end.
    if (!finished) await iterator.return?.().catch(() => undefined);
  }
  if (!res.destroyed) res.end();
}

/** Resolves when the socket takes more data, or is gone (backpressure without hanging on a dead client). */
function drained(res: http.ServerResponse): Promise<void> {
  if (res.destroyed || res.closed) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

export interface ListeningServer {
  /** `http://<host>:<port>`. */
  readonly url: string;
  /** Stops accepting, closes idle keep-alive connections, and resolves when every connection is gone. */
  close(): Promise<void>;
}

/** Starts listening (port 0: an ephemeral port) and reports where. */
export async function listenHttp(
  server: http.Server,
  opts: { readonly port: number; readonly host: string },
): Promise<ListeningServer> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : opts.port;
  const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  return {
    url: `http://${host}:${String(port)}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeIdleConnections();
      }),
  };
}
