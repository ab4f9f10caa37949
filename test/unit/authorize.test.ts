import { describe, expect, it } from 'vitest';
import { createAuthorizer } from '../../src/intake/authorize.ts';
import type { RepoRef } from '../../src/core/types.ts';
import type { ForgeInstallation } from '../../src/intake/intents.ts';
import { FakeForge } from '../helpers/fake-forge.ts';

const INSTALL: ForgeInstallation = { forge: 'github', host: 'github.com', installationId: 7 };
const ORG_REPO: RepoRef = { forge: 'github', host: 'github.com', owner: 'acme', name: 'app' };
const USER_REPO: RepoRef = { forge: 'github', host: 'github.com', owner: 'alice', name: 'dotfiles' };

function setup(opts: { org?: string; lookupFails?: boolean } = {}) {
  const forge = new FakeForge();
  let clock = 1_000_000;
  const authorizer = createAuthorizer({
    forges: {
      forInstallation: () =>
        opts.lookupFails ? Promise.reject(new Error('installation token refused')) : Promise.resolve(forge),
    },
    ...(opts.org !== undefined ? { org: opts.org } : {}),
    now: () => clock,
  });
  return {
    forge,
    authorizer,
    advance: (ms: number) => {
      clock += ms;
    },
  };
}

describe('authorize', () => {
  it('on Gitea, whose payloads never say, asks the forge whether the owner is an org (and caches it)', async () => {
    const { forge, authorizer } = setup();
    const gitea: ForgeInstallation = { forge: 'gitea', host: 'gitea.example.org' };
    const repo: RepoRef = { forge: 'gitea', host: 'gitea.example.org', owner: 'acme', name: 'app' };
    forge.organizations.add('acme');
    forge.addMember('acme', 'bob');
    expect(await authorizer.authorize(gitea, repo, 'bob', false)).toMatchObject({ allowed: true, org: 'acme' });
    expect(await authorizer.authorize(gitea, repo, 'eve', false)).toMatchObject({ allowed: false, org: 'acme' });
    expect(forge.calls.filter((c) => c.method === 'isOrganization')).toHaveLength(1);
    const userRepo: RepoRef = { ...repo, owner: 'alice' };
    expect(await authorizer.authorize(gitea, userRepo, 'alice', false)).toMatchObject({ allowed: true });
    expect(await authorizer.authorize(gitea, userRepo, 'bob', false)).toMatchObject({ allowed: false });
  });

  it.each([
    // [case, member of acme?, expected allowed, expected reason]
    ['a public or private member (the membership API sees both)', true, true, '@bob is a member of acme'],
    ['a non-member', false, false, 'bob is not a member of acme'],
  ] as const)('the repository owner org: %s', async (_name, member, allowed, reason) => {
    const { forge, authorizer } = setup();
    if (member) forge.addMember('acme', 'bob');
    expect(await authorizer.authorize(INSTALL, ORG_REPO, 'bob', true)).toEqual({ allowed, reason, org: 'acme' });
    expect(forge.calls).toEqual([{ method: 'isOrgMember', args: ['acme', 'bob'] }]);
  });

  it('the configured org wins over the repository owner', async () => {
    const { forge, authorizer } = setup({ org: 'trusted' });
    forge.addMember('acme', 'bob');
    expect(await authorizer.authorize(INSTALL, ORG_REPO, 'bob', true)).toMatchObject({ allowed: false });
    forge.addMember('trusted', 'carol');
    expect(await authorizer.authorize(INSTALL, USER_REPO, 'carol', false)).toMatchObject({
      allowed: true,
      org: 'trusted',
    });
  });

  it('an API error denies, with the reason', async () => {
    const { forge, authorizer } = setup();
    forge.membershipErrors.add('acme/bob');
    forge.addMember('acme', 'bob');
    expect(await authorizer.authorize(INSTALL, ORG_REPO, 'bob', true)).toEqual({
      allowed: false,
      reason: 'membership check failed: HTTP 502',
      org: 'acme',
      undetermined: true,
    });
  });

  it('a thrown error (even before the membership call) denies', async () => {
    const thrown = setup();
    thrown.forge.failNext('isOrgMember', new Error('socket hang up'));
    expect(await thrown.authorizer.authorize(INSTALL, ORG_REPO, 'bob', true)).toMatchObject({ allowed: false });
    const lookup = setup({ lookupFails: true });
    expect(await lookup.authorizer.authorize(INSTALL, ORG_REPO, 'bob', true)).toEqual({
      allowed: false,
      reason: 'the membership of @bob in acme could not be checked',
      org: 'acme',
      undetermined: true,
    });
  });

  it('a user-owned repository with no configured org: only the owner, and no API call', async () => {
    const { forge, authorizer } = setup();
    expect(await authorizer.authorize(INSTALL, USER_REPO, 'Alice', false)).toMatchObject({ allowed: true });
    expect(await authorizer.authorize(INSTALL, USER_REPO, 'mallory', false)).toEqual({
      allowed: false,
      reason: 'alice/dotfiles belongs to a user, and only @alice may run its workflows',
    });
    expect(forge.count()).toBe(0);
  });

  it('caches an answer (yes or no) for under 60 s, then asks again', async () => {
    const { forge, authorizer, advance } = setup();
    forge.addMember('acme', 'bob');
    expect((await authorizer.authorize(INSTALL, ORG_REPO, 'bob', true)).allowed).toBe(true);
    expect((await authorizer.authorize(INSTALL, ORG_REPO, 'mallory', true)).allowed).toBe(false);
    forge.members.clear(); // bob is removed from the org
    forge.addMember('acme', 'mallory'); // mallory is added
    advance(59_999);
    expect((await authorizer.authorize(INSTALL, ORG_REPO, 'BOB', true)).allowed).toBe(true); // cache hit
    expect((await authorizer.authorize(INSTALL, ORG_REPO, 'mallory', true)).allowed).toBe(false); // cache hit
    expect(forge.count('isOrgMember')).toBe(2);
    advance(1);
    expect((await authorizer.authorize(INSTALL, ORG_REPO, 'bob', true)).allowed).toBe(false);
    expect((await authorizer.authorize(INSTALL, ORG_REPO, 'mallory', true)).allowed).toBe(true);
    expect(forge.count('isOrgMember')).toBe(4);
  });

  it('the cache is per forge host, org and user', async () => {
    const { forge, authorizer } = setup();
    forge.addMember('acme', 'bob');
    await authorizer.authorize(INSTALL, ORG_REPO, 'bob', true);
    await authorizer.authorize({ ...INSTALL, host: 'ghe.example.com' }, ORG_REPO, 'bob', true);
    await authorizer.authorize(INSTALL, { ...ORG_REPO, owner: 'other' }, 'bob', true);
    await authorizer.authorize(INSTALL, ORG_REPO, 'carol', true);
    await authorizer.authorize(INSTALL, { ...ORG_REPO, name: 'another-repo' }, 'bob', true); // same org: hit
    expect(forge.count('isOrgMember')).toBe(4);
  });

  it('a ttl above 60 s is capped at 60 s', async () => {
    const forge = new FakeForge();
    let clock = 0;
    const authorizer = createAuthorizer({
      forges: { forInstallation: () => Promise.resolve(forge) },
      ttlMs: 3_600_000,
      now: () => clock,
    });
    await authorizer.authorize(INSTALL, ORG_REPO, 'bob', true);
    clock = 60_000;
    await authorizer.authorize(INSTALL, ORG_REPO, 'bob', true);
    expect(forge.count('isOrgMember')).toBe(2);
  });
});
