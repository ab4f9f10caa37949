import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { startEmbeddedStore } from '../../src/store/embedded.ts';
import { createHealthRoute, type HealthRouteOptions } from '../../src/server/health-route.ts';
import { createHttpServer, listenHttp, type ListeningServer } from '../../src/server/node-http.ts';
import { createRouter } from '../../src/server/router.ts';

const logger = pino({ level: 'silent' });
const servers: ListeningServer[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await server.close();
});

async function healthz(opts: HealthRouteOptions): Promise<[number, unknown]> {
  const server = await listenHttp(createHttpServer(createRouter([createHealthRoute(opts)]), { logger }), {
    port: 0,
    host: '127.0.0.1',
  });
  servers.push(server);
  const res = await fetch(`${server.url}/healthz`);
  return [res.status, await res.json()];
}

describe('GET /healthz', () => {
  it('is 200 while the store answers and 503 once it is gone', async () => {
    const embedded = await startEmbeddedStore({});
    expect(await healthz({ store: embedded.store })).toEqual([200, { status: 'ok' }]);
    await embedded.close();
    expect(await healthz({ store: embedded.store })).toEqual([
      503,
      { status: 'unavailable', cause: expect.stringMatching(/^the store failed: /) as unknown },
    ]);
  });

  it('is 503 when the store does not answer in time', async () => {
    const hanging = { getCounter: () => new Promise<number>(() => undefined) };
    expect(await healthz({ store: hanging, timeoutMs: 50 })).toEqual([
      503,
      { status: 'unavailable', cause: 'the store did not answer in time' },
    ]);
  });
});
