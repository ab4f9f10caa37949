import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ImdsStub {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** From now on `spot/instance-action` answers with this notice (AWS's two-minute warning). */
  interrupt(notice?: { action: string; time: string }): void;
  /** Every request seen, as `METHOD path status`. */
  readonly requests: string[];
  /** Forgets every session token (a service restart): the next look gets 401 and must take a new token. */
  expireTokens(): void;
  close(): Promise<void>;
}

/**
 * An IMDSv2 stand-in on loopback, as the EC2 docs describe it: `PUT /latest/api/token` with
 * `X-aws-ec2-metadata-token-ttl-seconds` (1–21600) gives a session token; every GET without a valid
 * `X-aws-ec2-metadata-token` is 401; `spot/instance-action` is 404 until `interrupt()`.
 */
export async function startImdsStub(): Promise<ImdsStub> {
  const tokens = new Set<string>();
  const requests: string[] = [];
  let notice: { action: string; time: string } | undefined;
  let issued = 0;
  const server = http.createServer((req, res) => {
    const answer = (status: number, body = ''): void => {
      requests.push(`${req.method ?? ''} ${req.url ?? ''} ${String(status)}`);
      res.writeHead(status, { 'content-type': 'text/plain' }).end(body);
    };
    req.resume();
    if (req.method === 'PUT' && req.url === '/latest/api/token') {
      const ttl = Number(req.headers['x-aws-ec2-metadata-token-ttl-seconds']);
      if (!Number.isInteger(ttl) || ttl < 1 || ttl > 21_600) return answer(400);
      const token = `token-${String(++issued)}`;
      tokens.add(token);
      return answer(200, token);
    }
    if (req.method !== 'GET') return answer(405);
    const token = req.headers['x-aws-ec2-metadata-token'];
    if (typeof token !== 'string' || !tokens.has(token)) return answer(401);
    if (req.url === '/latest/meta-data/spot/instance-action') {
      return notice === undefined ? answer(404, 'Not Found') : answer(200, JSON.stringify(notice));
    }
    return answer(404, 'Not Found');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${String(port)}`,
    requests,
    interrupt(value = { action: 'terminate', time: new Date(Date.now() + 120_000).toISOString() }) {
      notice = value;
    },
    expireTokens() {
      tokens.clear();
    },
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
