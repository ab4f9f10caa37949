import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { boundEventPayload, MAX_EVENT_PAYLOAD_BYTES } from '../../src/core/event-payload.ts';
import { githubExample } from '../helpers/webhook-examples.ts';

const bytes = (value: unknown): number => Buffer.byteLength(JSON.stringify(value), 'utf8');
const gitea = (name: string): Record<string, unknown> =>
  JSON.parse(readFileSync(new URL(`../fixtures/gitea/${name}`, import.meta.url), 'utf8')) as Record<string, unknown>;

describe('boundEventPayload', () => {
  it.each([
    ['a GitHub push', githubExample('push', (p) => p['ref'] === 'refs/heads/master')],
    ['a GitHub pull_request', githubExample('pull_request', (p) => p['action'] === 'opened')],
    ['a GitHub issue_comment', githubExample('issue_comment', (p) => p['action'] === 'created')],
    ['a Gitea pull_request', gitea('pull_request-synchronized.json')],
    ['a Gitea push', gitea('captured/push-multi-commit.json')],
  ])('keeps %s whole', (_label, payload) => {
    expect(boundEventPayload(payload)).toEqual({ payload });
  });

  it('cuts a pull request whose body is too large to what workflows read, and says how large it was', () => {
    const payload = githubExample('pull_request', (p) => p['action'] === 'opened');
    const pr = payload['pull_request'] as Record<string, unknown>;
    pr['body'] = 'x'.repeat(100_000);
    const { payload: kept, cutFrom } = boundEventPayload(payload);
    expect(cutFrom).toBe(bytes(payload));
    expect(bytes(kept)).toBeLessThanOrEqual(MAX_EVENT_PAYLOAD_BYTES);
    expect(kept).toMatchObject({
      action: 'opened',
      number: 2,
      pull_request: {
        number: 2,
        title: pr['title'],
        head: {
          sha: (pr['head'] as { sha: string }).sha,
          ref: 'changes',
          repo: { full_name: 'Codertocat/Hello-World' },
        },
        base: { ref: 'master' },
        user: { login: 'Codertocat' },
      },
      repository: { full_name: 'Codertocat/Hello-World', private: false },
      sender: { login: 'Codertocat' },
    });
    expect(kept['pull_request']).not.toHaveProperty('body');
    expect(kept['repository']).not.toHaveProperty('forks_url');
  });

  it('drops a large push’s commit list and cuts a long head commit message', () => {
    const payload = githubExample('push', (p) => p['ref'] === 'refs/heads/master');
    const commit = { id: 'c'.repeat(40), message: 'm'.repeat(10_000), added: ['a'.repeat(200)] };
    payload['commits'] = Array.from({ length: 300 }, () => commit);
    payload['head_commit'] = { ...commit, timestamp: '2024-01-01T00:00:00Z' };
    const { payload: kept, cutFrom } = boundEventPayload(payload);
    expect(cutFrom).toBeGreaterThan(3_000_000);
    expect(kept).not.toHaveProperty('commits');
    expect(kept).toMatchObject({ ref: 'refs/heads/master', after: payload['after'], head_commit: { id: commit.id } });
    const message = (kept['head_commit'] as { message: string }).message;
    expect(message).toHaveLength(4096);
    expect(message.endsWith('...')).toBe(true);
  });

  it('keeps only the top-level scalars when even the essential fields are too large', () => {
    const { payload, cutFrom } = boundEventPayload(
      { action: 'opened', number: 3, sender: { login: 'x'.repeat(500) } },
      100,
    );
    expect(cutFrom).toBeGreaterThan(100);
    expect(payload).toEqual({ action: 'opened', number: 3 });
  });
});
