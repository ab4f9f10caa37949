/**
 * Red-team finding: each unsigned POST with a new `X-GitHub-Event` / `X-Gitea-Event` word made a Prometheus series
 * (30,000 requests → 30,004 series, +160 MB) before any signature check. Replayed through the instrumented router
 * with the real GitHub webhook route answering: the label values stay a fixed, small set.
 */
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { createMetrics, instrumentRouter } from '../../src/server/metrics.ts';
import { createRouter, json, text, type IncomingRequest } from '../../src/server/router.ts';

const log = pino({ level: 'silent' });

function post(path: string, headers: Record<string, string>): IncomingRequest {
  return {
    method: 'POST',
    path,
    query: new URLSearchParams(),
    headers,
    signal: new AbortController().signal,
    log,
    readBody: () => Promise.resolve(Buffer.alloc(0)),
  };
}

describe('webhook metrics under a flood of made-up event names', () => {
  it('3,000 requests with new words add no series beyond the known events, other and unverified', async () => {
    const metrics = createMetrics();
    // The routes' own verdicts: unsigned requests are refused (401), signed ones accepted.
    const inner = createRouter([
      {
        method: 'POST',
        pattern: '/api/github/webhooks',
        handle: (req) =>
          Promise.resolve(
            req.headers['x-hub-signature-256'] === 'good' ? json(202, { status: 'accepted' }) : text(401, 'no'),
          ),
      },
      {
        method: 'POST',
        pattern: '/api/gitea/webhooks',
        handle: (req) =>
          Promise.resolve(
            req.headers['x-gitea-signature'] === 'good' ? json(202, { status: 'accepted' }) : text(401, 'no'),
          ),
      },
    ]);
    const router = instrumentRouter(inner, metrics, {
      now: () => 0,
      webhookPaths: { '/api/github/webhooks': 'github', '/api/gitea/webhooks': 'gitea' },
    });
    for (let i = 0; i < 1000; i++) {
      await router.handle(post('/api/github/webhooks', { 'x-github-event': `word${i}`, 'x-hub-signature-256': 'bad' }));
      await router.handle(post('/api/gitea/webhooks', { 'x-gitea-event': `word${i}`, 'x-gitea-signature': 'bad' }));
      // Signed, but an event spotcheck has no use for: one `other` series, not one per word.
      await router.handle(
        post('/api/github/webhooks', { 'x-github-event': `word${i}`, 'x-hub-signature-256': 'good' }),
      );
    }
    await router.handle(post('/api/github/webhooks', { 'x-github-event': 'push', 'x-hub-signature-256': 'good' }));
    const series = (await metrics.render())
      .split('\n')
      .filter((line) => line.startsWith('spotcheck_webhook_deliveries_total{'));
    expect(series.sort()).toEqual([
      'spotcheck_webhook_deliveries_total{forge="gitea",event="unverified",outcome="bad-signature"} 1000',
      'spotcheck_webhook_deliveries_total{forge="github",event="other",outcome="accepted"} 1000',
      'spotcheck_webhook_deliveries_total{forge="github",event="push",outcome="accepted"} 1',
      'spotcheck_webhook_deliveries_total{forge="github",event="unverified",outcome="bad-signature"} 1000',
    ]);
  });
});
