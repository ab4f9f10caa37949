import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { OrderRecord, RunRecord } from '../../src/core/types.ts';
import { RunnerError } from '../../src/errors.ts';
import {
  createMetrics,
  deliveryOutcome,
  instrumentReporter,
  instrumentRouter,
  instrumentRunners,
} from '../../src/server/metrics.ts';
import { createMetricsRoute } from '../../src/server/metrics-route.ts';
import { createRouter, json, text, type IncomingRequest, type RouterResponse } from '../../src/server/router.ts';
import type { Runner } from '../../runners/runner.ts';

const METRICS_TOKEN = 'metrics-token-0123456789';
const scrape = (token = METRICS_TOKEN): IncomingRequest =>
  request('GET', '/metrics', { authorization: `Bearer ${token}` });

const log = pino({ level: 'silent' });

function request(method: string, path: string, headers: Record<string, string> = {}): IncomingRequest {
  return {
    method,
    path,
    query: new URLSearchParams(),
    headers,
    signal: new AbortController().signal,
    log,
    readBody: () => Promise.resolve(Buffer.alloc(0)),
  };
}

describe('deliveryOutcome', () => {
  it.each<[RouterResponse, string]>([
    [json(202, { status: 'accepted' }), 'accepted'],
    [json(200, { status: 'duplicate' }), 'duplicate'],
    [json(200, { ignored: 'not a push we run' }), 'ignored'],
    [text(401, 'signature mismatch'), 'bad-signature'],
    [text(400, 'empty body'), 'bad-request'],
    [text(415, 'expected application/json'), 'bad-request'],
    [text(413, 'too large'), 'too-large'],
    [text(500, 'the delivery could not be processed'), 'failed'],
  ])('%o → %s', (response, outcome) => {
    expect(deliveryOutcome(response)).toBe(outcome);
  });
});

describe('metrics', () => {
  it('a registry per instance: two apps never share a number', async () => {
    const a = createMetrics();
    const b = createMetrics();
    a.delivery('github', 'push', 'accepted');
    expect(await a.render()).toContain(
      'spotcheck_webhook_deliveries_total{forge="github",event="push",outcome="accepted"} 1',
    );
    expect(await b.render()).not.toContain('outcome="accepted"');
  });

  it('the router middleware counts webhook deliveries by forge, event and outcome, and times them', async () => {
    let clock = 1_000;
    const metrics = createMetrics();
    const inner = createRouter([
      {
        method: 'POST',
        pattern: '/api/github/webhooks',
        handle: (req) => {
          clock += 40;
          return Promise.resolve(
            req.headers['x-hub-signature-256'] === 'good' ? json(202, { status: 'accepted' }) : text(401, 'no'),
          );
        },
      },
      { method: 'GET', pattern: '/healthz', handle: () => Promise.resolve(json(200, { status: 'ok' })) },
    ]);
    const router = instrumentRouter(inner, metrics, {
      now: () => clock,
      webhookPaths: { '/api/github/webhooks': 'github' },
    });
    await router.handle(
      request('POST', '/api/github/webhooks', { 'x-github-event': 'push', 'x-hub-signature-256': 'good' }),
    );
    await router.handle(
      request('POST', '/api/github/webhooks', { 'x-github-event': 'push', 'x-hub-signature-256': 'bad' }),
    );
    await router.handle(
      request('POST', '/api/github/webhooks', { 'x-github-event': 'Evil"Name', 'x-hub-signature-256': 'good' }),
    );
    await router.handle(request('GET', '/healthz'));
    const exposition = await metrics.render();
    expect(exposition).toContain(
      'spotcheck_webhook_deliveries_total{forge="github",event="push",outcome="accepted"} 1',
    );
    expect(exposition).toContain(
      'spotcheck_webhook_deliveries_total{forge="github",event="unverified",outcome="bad-signature"} 1',
    );
    // A header a caller controls never becomes a label value.
    expect(exposition).toContain(
      'spotcheck_webhook_deliveries_total{forge="github",event="other",outcome="accepted"} 1',
    );
    expect(exposition).toContain('spotcheck_webhook_answer_seconds_count{forge="github"} 3');
    expect(exposition).toContain('spotcheck_webhook_answer_seconds_bucket{le="0.05",forge="github"} 3');
    expect(exposition).toContain('spotcheck_webhook_answer_seconds_bucket{le="0.025",forge="github"} 0');
  });

  it('the wrapped reporter counts transitions and still reports', async () => {
    const metrics = createMetrics();
    const seen: string[] = [];
    const reporter = instrumentReporter(
      {
        orderChanged: (_run, order) => Promise.resolve(void seen.push(order.state)),
        runChanged: () => Promise.resolve(void seen.push('run')),
      },
      metrics,
    );
    const run = {} as RunRecord;
    await reporter.orderChanged(run, { state: 'running' } as OrderRecord);
    await reporter.orderChanged(run, { state: 'succeeded' } as OrderRecord);
    await reporter.orderChanged(run, { state: 'succeeded' } as OrderRecord);
    await reporter.runChanged(run);
    expect(seen).toEqual(['running', 'succeeded', 'succeeded', 'run']);
    const exposition = await metrics.render();
    expect(exposition).toContain('spotcheck_order_transitions_total{state="running"} 1');
    expect(exposition).toContain('spotcheck_order_transitions_total{state="succeeded"} 2');
  });

  it('wrapped runners count launch errors by runner and code, rethrow them, and keep their other members', async () => {
    const metrics = createMetrics();
    let launches = 0;
    const spot: Runner & { extra(): string } = {
      kind: 'spot',
      launch: () => {
        launches++;
        return Promise.reject(
          launches === 1
            ? new RunnerError('no capacity', { retryable: true, code: 'InsufficientInstanceCapacity' })
            : new Error('boom'),
        );
      },
      terminate: () => Promise.resolve(),
      isAlive: () => Promise.resolve(true),
      extra() {
        return this.kind;
      },
    };
    const wrapped = instrumentRunners({ spot }, metrics).spot as typeof spot;
    const input = {} as Parameters<Runner['launch']>[0];
    await expect(wrapped.launch(input)).rejects.toThrow('no capacity');
    await expect(wrapped.launch(input)).rejects.toThrow('boom');
    expect(await wrapped.isAlive('i-1')).toBe(true);
    expect(wrapped.extra()).toBe('spot');
    const exposition = await metrics.render();
    expect(exposition).toContain('spotcheck_launch_errors_total{runner="spot",code="InsufficientInstanceCapacity"} 1');
    expect(exposition).toContain('spotcheck_launch_errors_total{runner="spot",code="unknown"} 1');
  });

  it('GET /metrics reads the gauges from the store, and answers 503 when the store fails', async () => {
    let fail = false;
    const metrics = createMetrics({
      orderCounts: () =>
        fail
          ? Promise.reject(new Error('down'))
          : Promise.resolve({ waiting: 7, live: { running: 3, dispatching: 1 } }),
    });
    const router = createRouter([createMetricsRoute({ metrics, token: METRICS_TOKEN })]);
    const ok = await router.handle(scrape());
    expect(ok.status).toBe(200);
    expect(ok.headers?.['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(ok.body).toContain('spotcheck_queue_depth 7');
    expect(ok.body).toContain('spotcheck_orders{state="running"} 3');
    expect(ok.body).toContain('spotcheck_orders{state="interrupted"} 0');
    fail = true;
    expect((await router.handle(scrape())).status).toBe(503);
  });

  it('GET /metrics wants the bearer token, and serves nobody when none is configured', async () => {
    const metrics = createMetrics({ orderCounts: () => Promise.resolve({ waiting: 0, live: {} }) });
    const guarded = createRouter([createMetricsRoute({ metrics, token: METRICS_TOKEN })]);
    const anonymous = await guarded.handle(request('GET', '/metrics'));
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers?.['www-authenticate']).toBe('Bearer realm="metrics"');
    expect((await guarded.handle(scrape(`${METRICS_TOKEN}x`))).status).toBe(401);
    expect((await guarded.handle(scrape('metrics-token-012345678X'))).status).toBe(401);
    expect((await guarded.handle(scrape())).status).toBe(200);
    const off = createRouter([createMetricsRoute({ metrics, token: undefined })]);
    expect((await off.handle(scrape())).status).toBe(403);
  });

  it('flushEmf: one EMF line per metric and dimension set, deltas since the last flush only', () => {
    const metrics = createMetrics();
    metrics.delivery('github', 'push', 'accepted');
    metrics.delivery('github', 'push', 'accepted');
    metrics.delivery('gitea', 'push', 'duplicate');
    metrics.webhookAnswered('github', 0.1);
    metrics.webhookAnswered('github', 0.3);
    metrics.setOrderCounts({ waiting: 2, live: { running: 1 } });
    const lines = metrics.flushEmf(1_700_000_000_000).map((l) => JSON.parse(l) as Record<string, unknown>);
    const find = (name: string, dims: Record<string, string>) =>
      lines.filter((l) => name in l && Object.entries(dims).every(([k, v]) => l[k] === v));
    expect(find('WebhookDeliveries', { forge: 'github', outcome: 'accepted' })).toHaveLength(1);
    expect(find('WebhookDeliveries', { forge: 'github', outcome: 'accepted' })[0]).toMatchObject({
      WebhookDeliveries: 2,
      event: 'push',
      _aws: {
        Timestamp: 1_700_000_000_000,
        CloudWatchMetrics: [
          {
            Namespace: 'spotcheck',
            Dimensions: [['forge', 'event', 'outcome']],
            Metrics: [{ Name: 'WebhookDeliveries', Unit: 'Count' }],
          },
        ],
      },
    });
    expect(find('WebhookDeliveries', { forge: 'gitea' })[0]).toMatchObject({ WebhookDeliveries: 1 });
    expect(find('WebhookAnswerTime', { forge: 'github' })[0]).toMatchObject({ WebhookAnswerTime: [0.1, 0.3] });
    expect(find('QueueDepth', {})[0]).toMatchObject({ QueueDepth: 2 });
    expect(find('Orders', { state: 'running' })[0]).toMatchObject({ Orders: 1 });
    expect(find('Orders', { state: 'interrupted' })[0]).toMatchObject({ Orders: 0 });
    expect(lines).toHaveLength(2 + 1 + 1 + 3);
    // Nothing new: nothing to say.
    expect(metrics.flushEmf(1_700_000_001_000)).toEqual([]);
  });

  it('flushEmf keeps at most 100 observations per line (the EMF array limit)', () => {
    const metrics = createMetrics();
    for (let i = 0; i < 150; i++) metrics.webhookAnswered('github', i / 1000);
    const [line] = metrics.flushEmf(0).map((l) => JSON.parse(l) as { WebhookAnswerTime: number[] });
    expect(line?.WebhookAnswerTime).toHaveLength(100);
  });
});
