/**
 * The serve benchmark's moving parts on loopback: the GitHub API stand-in answers and counts, the load driver sends
 * every delivery with its own id and signed body, and the log reader follows a growing pino file.
 */
import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startGitHubStandIn, type GitHubStandIn } from '../../bench/github-stand-in.ts';
import { BENCH_WORKFLOW, LogCounter, benchDelivery, driveDeliveries } from '../../bench/serve.bench.ts';
import { signGitHubBody } from '../helpers/webhook-examples.ts';

let standIn: GitHubStandIn | undefined;
let server: Server | undefined;
let dir: string | undefined;

afterEach(async () => {
  await standIn?.close();
  standIn = undefined;
  if (server) await new Promise((resolve) => server!.close(resolve));
  server = undefined;
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('the GitHub API stand-in', () => {
  it('answers what spotcheck asks while it processes a push, and counts it by endpoint', async () => {
    standIn = await startGitHubStandIn({ workflows: [BENCH_WORKFLOW], appSlug: 'bench-app' });
    const api = `${standIn.url}/api/v3`;
    const sha = '2'.repeat(40);
    const token = await fetch(`${api}/app/installations/1/access_tokens`, { method: 'POST', body: '{}' });
    expect(token.status).toBe(201);
    expect(Date.parse(((await token.json()) as { expires_at: string }).expires_at)).toBeGreaterThan(Date.now());
    const listing = (await (await fetch(`${api}/repos/o/r/contents/.spotcheck/workflows?ref=${sha}`)).json()) as {
      path: string;
      size: number;
      type: string;
    }[];
    expect(listing).toEqual([
      expect.objectContaining({ type: 'file', path: BENCH_WORKFLOW.path, size: BENCH_WORKFLOW.text.length }),
    ]);
    expect(await (await fetch(`${api}/repos/o/r/contents/${BENCH_WORKFLOW.path}?ref=${sha}`)).text()).toBe(
      BENCH_WORKFLOW.text,
    );
    const compare = (await (await fetch(`${api}/repos/o/r/compare/${'1'.repeat(40)}...${sha}`)).json()) as {
      files: { filename: string }[];
    };
    expect(compare.files.map((f) => f.filename)).toEqual(['README.md']);
    const status = await fetch(`${api}/repos/o/r/statuses/${sha}`, { method: 'POST', body: '{"state":"pending"}' });
    expect(status.status).toBe(201);
    expect(((await (await fetch(`${api}/app`)).json()) as { slug: string }).slug).toBe('bench-app');
    expect(await (await fetch(`${api}/app/hook/deliveries?per_page=100`)).json()).toEqual([]);
    expect((await fetch(`${api}/repos/o/r/pulls/1`)).status).toBe(404);

    expect(standIn.counts()).toEqual({
      app: 1,
      token: 1,
      listing: 1,
      file: 1,
      compare: 1,
      status: 1,
      deliveries: 1,
      unexpected: 1,
    });
  });

  it('lists an empty folder when there is no workflow', async () => {
    standIn = await startGitHubStandIn({ workflows: [] });
    const listing = await fetch(`${standIn.url}/api/v3/repos/o/r/contents/.spotcheck/workflows`);
    expect(await listing.json()).toEqual([]);
  });
});

describe('driveDeliveries', () => {
  it('sends the same signed body with a unique, valid X-GitHub-Delivery each time and records the answers', async () => {
    const received: { id: string; signature: string; body: string }[] = [];
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const id = String(req.headers['x-github-delivery']);
        received.push({
          id,
          signature: String(req.headers['x-hub-signature-256']),
          body: Buffer.concat(chunks).toString(),
        });
        // Every third delivery is refused, so non-2xx answers are told apart.
        res.writeHead(received.length % 3 === 0 ? 401 : 202).end();
      });
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const delivery = benchDelivery();

    const sample = await driveDeliveries({
      url: `http://127.0.0.1:${String(port)}`,
      delivery,
      idPrefix: 'test-run',
      seconds: 1,
      connections: 2,
    });

    expect(received.length).toBeGreaterThan(10);
    const ids = received.map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(/^test-run-\d+$/);
    expect(received.every((r) => r.body === delivery.body && r.signature === delivery.signature)).toBe(true);
    expect(signGitHubBody('spotcheck-bench-webhook-secret', delivery.body)).toBe(delivery.signature);
    // Every answered id was sent; an answer counts 2xx only for 2xx statuses.
    const sent = new Set(sample.sent);
    expect(sample.answered2xx.every((id) => sent.has(id))).toBe(true);
    const answered = (sample.statuses['202'] ?? 0) + (sample.statuses['401'] ?? 0);
    expect(sample.answered2xx).toHaveLength(sample.statuses['202'] ?? 0);
    expect(sample.latenciesMs).toHaveLength(answered);
    expect(sample.statuses['401']).toBeGreaterThan(0);
    expect(answered).toBeLessThanOrEqual(received.length);
  });
});

describe('LogCounter', () => {
  it('follows a growing pino file, a line split across writes included', async () => {
    dir = await mkdtemp(join(tmpdir(), 'spotcheck-logcounter-'));
    const path = join(dir, 'server.log');
    const line = (o: Record<string, unknown>) => `${JSON.stringify(o)}\n`;
    await writeFile(
      path,
      line({ level: 30, msg: 'push planned', deliveryId: 'd-1', runs: 1, invalid: 0 }) +
        line({ level: 40, msg: 'something' }) +
        'not json\n',
    );
    const counter = new LogCounter(path);
    await counter.update();
    const split = line({ level: 30, msg: 'push planned', deliveryId: 'd-1', runs: 0, invalid: 1 });
    await appendFile(path, split.slice(0, 20));
    await counter.update();
    expect(counter.planned.get('d-1')).toBe(1);
    await appendFile(
      path,
      split.slice(20) + line({ level: 50, msg: 'boom' }) + line({ level: 30, msg: 'run finished', status: 'x' }),
    );
    await counter.update();
    expect(Object.fromEntries(counter.planned)).toEqual({ 'd-1': 1 });
    expect(counter.counts).toEqual({ warn: 1, error: 1, invalid: 1, finished: 1 });
  });
});
