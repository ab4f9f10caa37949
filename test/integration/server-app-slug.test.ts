/**
 * Without APP_SLUG the server asks GitHub for the app's slug in the background: it listens and is healthy while
 * GitHub fails or has not answered yet, and retries with backoff until it answers. GitHub is a loopback stand-in
 * whose first `GET /app` fails and whose second is held until the test has checked the health.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { ProbotOctokit } from 'probot';
import { afterEach, describe, expect, it } from 'vitest';
import { startSpotcheckServer, type SpotcheckServer } from '../../src/app/start-server.ts';
import { defaultConfig } from '../../src/config.ts';
import { testPrivateKey } from '../helpers/github-api.ts';

let dir: string | undefined;
let server: SpotcheckServer | undefined;
let github: Server | undefined;

afterEach(async () => {
  await server?.close();
  server = undefined;
  github?.closeAllConnections();
  await new Promise((resolve) => (github ? github.close(resolve) : resolve(undefined)));
  github = undefined;
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

async function until(done: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 2000 && !done(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  if (!done()) throw new Error(`gave up waiting for ${what}`);
}

describe('the app slug, without APP_SLUG', () => {
  it('is read in the background and retried after a failure; the server is healthy meanwhile', async () => {
    const asked: string[] = [];
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    github = createServer((req, res) => {
      asked.push(`${req.method} ${req.url}`);
      const answer = (status: number, body: unknown): void => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      if (req.url !== '/app') return answer(404, { message: 'Not Found' });
      if (asked.length === 1) return answer(503, { message: 'Service Unavailable' });
      void held.then(() => answer(200, { id: 1, slug: 'late-ci', name: 'late ci', owner: { login: 'acme' } }));
    });
    await new Promise<void>((resolve) => github?.listen(0, '127.0.0.1', resolve));
    const { port } = github.address() as AddressInfo;

    const lines: { msg: string; appSlug?: string }[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString('utf8').split('\n').filter(Boolean))
          lines.push(JSON.parse(line) as { msg: string; appSlug?: string });
        done();
      },
    });
    dir = await mkdtemp(join(tmpdir(), 'spotcheck-slug-'));
    server = await startSpotcheckServer({
      settings: {
        port: 0,
        host: '127.0.0.1',
        agentSecret: 'x'.repeat(40),
        github: {
          appId: '1',
          privateKey: testPrivateKey(),
          webhookSecret: 'slug-secret',
          baseUrl: `http://127.0.0.1:${port}`,
          host: 'github.com',
          protocol: 'https',
        },
      },
      config: defaultConfig({ dataDir: dir }),
      logger: pino({ level: 'info' }, sink),
      tickMs: 0,
      Octokit: ProbotOctokit.defaults({ retry: { enabled: false }, throttle: { enabled: false } }),
      appSlugRetry: { firstMs: 1, maxMs: 4 },
    });

    await until(() => asked.length === 2, 'the second GET /app');
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    expect(lines.filter((l) => l.msg === 'cannot read the app slug yet; retrying (set APP_SLUG)')).toHaveLength(1);
    expect(lines.some((l) => l.msg === 'read the app slug from GitHub')).toBe(false);

    release();
    await until(() => lines.some((l) => l.msg === 'read the app slug from GitHub'), 'the slug');
    expect(lines.find((l) => l.msg === 'read the app slug from GitHub')?.appSlug).toBe('late-ci');
    expect(asked).toEqual(['GET /app', 'GET /app']);
  });
});
