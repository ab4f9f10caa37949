import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { createOrderTokens, forgeUrlsFor } from '../../src/app/order-tokens.ts';
import { tokenPermissionsFor } from '../../src/core/token-permissions.ts';
import type { Permissions } from '../../src/core/types.ts';
import { ForgeError } from '../../src/errors.ts';
import type { StoredDoc } from '../../src/store/store.ts';
import { FakeForge } from '../helpers/fake-forge.ts';
import { makeOrder, makeRun } from '../helpers/dynalite.ts';

const SECRET = 'a-secret-of-at-least-thirty-two-bytes!!';

function docStore() {
  const docs = new Map<string, StoredDoc>();
  return {
    docs,
    putDoc: (kind: string, key: string, value: StoredDoc['value']) => {
      docs.set(`${kind}:${key}`, { value, version: 1 });
      return Promise.resolve(1);
    },
    getDoc: (kind: string, key: string) => Promise.resolve(docs.get(`${kind}:${key}`)),
    deleteDoc: (kind: string, key: string) => Promise.resolve(void docs.delete(`${kind}:${key}`)),
  };
}

function setup(kind: 'github' | 'gitea' = 'github') {
  const forge = new FakeForge({ kind });
  const store = docStore();
  const tokens = createOrderTokens({
    store,
    forgeFor: () => Promise.resolve(forge),
    secret: SECRET,
    logger: pino({ level: 'silent' }),
    now: () => 0,
  });
  return { forge, store, tokens };
}

describe('tokenPermissionsFor', () => {
  it.each<[string, Permissions | undefined, Record<string, string> | undefined]>([
    ['absent: the restricted default', undefined, { metadata: 'read', contents: 'read', packages: 'read' }],
    ['{}: no token', {}, undefined],
    ['only id-token: no token', { 'id-token': 'write' }, undefined],
    [
      'a map, App names',
      { 'pull-requests': 'write', 'security-events': 'read', 'repository-projects': 'read', statuses: 'none' },
      { metadata: 'read', pull_requests: 'write', security_events: 'read', repository_projects: 'read' },
    ],
  ])('%s', (_name, permissions, expected) => {
    expect(tokenPermissionsFor(permissions)).toEqual(expected);
  });

  it('read-all and write-all set every App scope (13 + metadata), never id-token or models', () => {
    for (const all of ['read-all', 'write-all'] as const) {
      const p = tokenPermissionsFor(all)!;
      expect(Object.keys(p)).toHaveLength(14);
      expect(p).not.toHaveProperty('id_token');
      expect(p).not.toHaveProperty('models');
      expect(p.contents).toBe(all === 'read-all' ? 'read' : 'write');
    }
  });
});

describe('order tokens', () => {
  it('keeps a minted token sealed, and revokes it once however often the order ends', async () => {
    const { forge, store, tokens } = setup();
    const run = makeRun('r1');
    const order = makeOrder('r1', 'build', { permissions: { contents: 'read' } });
    const token = await tokens.issue(run, order);
    expect(token).toBe('ghs_order1');
    expect(forge.mintedTokens).toEqual([
      { token, repo: 'github.com/octo/app', permissions: { metadata: 'read', contents: 'read' } },
    ]);
    expect(JSON.stringify([...store.docs.values()])).not.toContain(token);
    await tokens.revoke(run, order);
    await tokens.revoke(run, order);
    expect(forge.revokedTokens).toEqual([token]);
  });

  it('revokes every attempt’s token; a failed revoke is logged, not thrown', async () => {
    const { forge, tokens } = setup();
    const run = makeRun('r2');
    await tokens.issue(run, makeOrder('r2', 'build', { attempt: 1 }));
    await tokens.issue(run, makeOrder('r2', 'build', { attempt: 2 }));
    forge.failNext('revokeOrderToken', new ForgeError('boom', { status: 500, retryable: true }));
    await expect(tokens.revoke(run, makeOrder('r2', 'build', { attempt: 2 }))).resolves.toBeUndefined();
    expect(forge.revokedTokens).toEqual(['ghs_order2']);
  });

  it('gives no token for permissions: {}; a Gitea order the configured one, kept nowhere', async () => {
    const github = setup();
    expect(await github.tokens.issue(makeRun('r3'), makeOrder('r3', 'a', { permissions: {} }))).toBeUndefined();
    const gitea = setup('gitea');
    expect(await gitea.tokens.issue(makeRun('r4'), makeOrder('r4', 'a'))).toBe('gitea-actions-token');
    expect(gitea.store.docs.size).toBe(0);
  });

  it('says where the forge is: github.com, GHE and Gitea', () => {
    const gh = { appId: '1', privateKey: '', webhookSecret: '', protocol: 'https' as const };
    expect(
      forgeUrlsFor('github', { github: { ...gh, host: 'github.com', baseUrl: 'https://api.github.com' } }),
    ).toEqual({
      server: 'https://github.com',
      api: 'https://api.github.com',
      graphql: 'https://api.github.com/graphql',
    });
    expect(
      forgeUrlsFor('github', { github: { ...gh, host: 'ghe.example', baseUrl: 'https://ghe.example/api/v3' } }),
    ).toEqual({
      server: 'https://ghe.example',
      api: 'https://ghe.example/api/v3',
      graphql: 'https://ghe.example/api/graphql',
    });
    expect(forgeUrlsFor('gitea', { gitea: { url: 'https://git.example', token: 't', webhookSecret: 's' } })).toEqual({
      server: 'https://git.example',
      api: 'https://git.example/api/v1',
      graphql: '',
    });
  });
});
