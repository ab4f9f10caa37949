/**
 * What the Gitea poll reads, over the swagger-checked harness: every endpoint in GITEA_POLL_ENDPOINTS exists in
 * Gitea's API description and is called here; pages follow `X-HasMore` up to the bound, and a listing cut short says
 * so; an org name Gitea does not know is read as a user's; shapes are mapped at the edge.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createGiteaPollSource, GITEA_POLL_ENDPOINTS } from '../../src/forges/gitea-poll-source.ts';
import { hasGiteaEndpoint, useGiteaApi } from '../helpers/gitea-api.ts';

const api = useGiteaApi();
const seen = new Set<string>();
const source = () => {
  const s = createGiteaPollSource({
    baseUrl: api().baseUrl,
    token: 'gitea-token',
    retry: { sleep: () => Promise.resolve() },
  });
  return s;
};
const record = () => {
  for (const r of api().requests()) if (r.endpoint !== undefined) seen.add(r.endpoint);
};
const repo = (owner: string, name: string, priv = false) => ({
  id: 1,
  owner: { id: 2, login: owner },
  name,
  private: priv,
});
const SHA = 'a'.repeat(40);

afterAll(() => {
  expect(GITEA_POLL_ENDPOINTS.filter((e) => !seen.has(e))).toEqual([]);
});

describe('the Gitea poll source', () => {
  it('declares only endpoints of the API description', () => {
    for (const endpoint of GITEA_POLL_ENDPOINTS) {
      const [method, template] = endpoint.split(' ') as [string, string];
      expect(hasGiteaEndpoint(method, template), endpoint).toBe(true);
    }
  });

  it("reads an org's repositories, and a user's when no org has the name", async () => {
    api()
      .get('/orgs/acme/repos?page=1&limit=50')
      .reply(200, [repo('acme', 'a'), repo('acme', 'b', true)], { 'x-hasmore': 'false' });
    api().get('/orgs/bob/repos?page=1&limit=50').reply(404, { message: 'not found' });
    api()
      .get('/users/bob/repos?page=1&limit=50')
      .reply(200, [repo('bob', 'tool')]);
    api()
      .get('/user/repos?page=1&limit=50')
      .reply(200, [repo('acme', 'a')]);
    api().get('/repos/acme/a').reply(200, repo('acme', 'a'));
    api().get('/repos/acme/gone').reply(404, { message: 'not found' });
    const s = source();
    expect((await s.listOwnerRepos('acme', 5)).items).toEqual([
      { owner: 'acme', name: 'a', private: false },
      { owner: 'acme', name: 'b', private: true },
    ]);
    expect(await s.listOwnerRepos('bob', 5)).toEqual({
      items: [{ owner: 'bob', name: 'tool', private: false }],
      complete: true,
    });
    expect((await s.listBotRepos(5)).items).toHaveLength(1);
    expect(await s.readRepo('acme', 'a')).toEqual({ owner: 'acme', name: 'a', private: false });
    expect(await s.readRepo('acme', 'gone')).toBeUndefined();
    expect(s.requests()).toBe(6);
    record();
  });

  it('follows X-HasMore up to the page bound and says when a listing was cut short', async () => {
    const branch = (n: number) => ({
      name: `b${String(n)}`,
      commit: { id: SHA, committer: { name: 'C', email: 'c@x', username: 'carol' } },
    });
    api()
      .get('/repos/acme/a/branches?page=1&limit=50')
      .reply(200, [branch(1)], { 'x-hasmore': 'true' });
    api()
      .get('/repos/acme/a/branches?page=2&limit=50')
      .reply(200, [branch(2)], { 'x-hasmore': 'true' });
    const listing = await source().listBranches({ owner: 'acme', name: 'a', private: false }, 2);
    expect(listing).toEqual({
      items: [
        { name: 'b1', sha: SHA, committer: 'carol' },
        { name: 'b2', sha: SHA, committer: 'carol' },
      ],
      complete: false,
    });
    record();
  });

  it('reads one pull request by number, closed or open, and none for a 404', async () => {
    const base = {
      number: 4,
      user: { id: 3, login: 'alice' },
      head: { ref: 'topic', sha: SHA, repo: { full_name: 'acme/a' } },
      base: { ref: 'main', sha: SHA },
      created_at: '2026-01-02T03:04:05Z',
      updated_at: '2026-01-02T03:05:05Z',
    };
    api()
      .get('/repos/acme/a/pulls/4')
      .reply(200, { ...base, state: 'closed', merged: true, closed_at: '2026-01-02T03:05:05Z' });
    api().get('/repos/acme/a/pulls/5').reply(404, { message: 'not found' });
    const s = source();
    const where = { owner: 'acme', name: 'a', private: false };
    expect(await s.readPull(where, 4)).toMatchObject({
      number: 4,
      headSha: SHA,
      state: 'closed',
      merged: true,
      closedAt: Date.parse('2026-01-02T03:05:05Z'),
    });
    expect(await s.readPull(where, 5)).toBeUndefined();
    record();
  });

  it('maps open pull requests and comments (the pull request from pull_request_url; issue comments have none)', async () => {
    api()
      .get('/repos/acme/a/pulls?state=open&sort=recentupdate&page=1&limit=50')
      .reply(200, [
        {
          number: 4,
          state: 'open',
          user: { id: 3, login: 'alice' },
          head: { ref: 'topic', sha: SHA.toUpperCase(), repo: { full_name: 'alice/a' } },
          base: { ref: 'main', sha: SHA },
          created_at: '2026-01-02T03:04:05Z',
          updated_at: '2026-01-02T03:05:05Z',
        },
        { number: 5, state: 'open', head: { sha: 'nope' } },
      ]);
    api()
      .get('/repos/acme/a/issues/comments?since=2026-01-02T03%3A04%3A05Z&page=1&limit=50')
      .reply(200, [
        {
          id: 9,
          pull_request_url: 'https://gitea.example.org/acme/a/pulls/4',
          issue_url: '',
          user: { id: 3, login: 'alice' },
          body: '!testme',
          created_at: '2026-01-02T03:06:00Z',
        },
        {
          id: 10,
          pull_request_url: '',
          issue_url: 'https://gitea.example.org/acme/a/issues/3',
          user: { id: 3, login: 'alice' },
          body: 'x',
          created_at: '2026-01-02T03:06:00Z',
        },
      ]);
    const s = source();
    const where = { owner: 'acme', name: 'a', private: false };
    expect((await s.listOpenPulls(where, 5)).items).toEqual([
      {
        number: 4,
        headSha: SHA,
        headRef: 'topic',
        baseRef: 'main',
        author: 'alice',
        headRepo: 'alice/a',
        createdAt: Date.parse('2026-01-02T03:04:05Z'),
        updatedAt: Date.parse('2026-01-02T03:05:05Z'),
      },
    ]);
    expect((await s.listCommentsSince(where, Date.parse('2026-01-02T03:04:05.900Z'), 5)).items).toEqual([
      {
        id: 9,
        pr: 4,
        author: { login: 'alice', id: 3 },
        body: '!testme',
        createdAt: Date.parse('2026-01-02T03:06:00Z'),
      },
      { id: 10, author: { login: 'alice', id: 3 }, body: 'x', createdAt: Date.parse('2026-01-02T03:06:00Z') },
    ]);
    record();
  });
});
