import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { createGiveUp, GIVE_UP_NOTICE } from '../../src/intake/give-up.ts';
import type { Intent } from '../../src/intake/intents.ts';
import { deliveryClaimKeyOf } from '../../src/server/delivery-claims.ts';

const repo = { forge: 'github', host: 'github.com', owner: 'octo', name: 'app' } as const;
const github = { forge: 'github', host: 'github.com', installationId: 7 } as const;
const gitea = { forge: 'gitea', host: 'Gitea.Example.org' } as const;
const base = { deliveryId: 'D1', at: 0, ownerIsOrg: true } as const;

const push: Intent = {
  ...base,
  kind: 'push',
  install: github,
  repo,
  ref: 'refs/heads/main',
  before: 'a',
  after: 'b',
  pusher: 'p',
};
const pr: Intent = {
  ...base,
  kind: 'pull_request',
  install: github,
  repo,
  action: 'opened',
  pr: 3,
  headSha: 'b',
  headRef: 'f',
  baseRef: 'main',
  author: 'a',
  headRepo: 'octo/app',
};
const testme: Intent = {
  ...base,
  kind: 'testme',
  install: gitea,
  repo: { ...repo, forge: 'gitea', host: gitea.host },
  pr: 4,
  commentId: 1,
  commenter: 'c',
  commentCreatedAt: 0,
};
const capacityPush: Intent = {
  kind: 'capacity-push',
  deliveryId: 'D1',
  at: 0,
  install: gitea,
  repo,
  sha: 'b',
  ref: 'refs/heads/main',
  changedFiles: null,
};

describe('deliveryClaimKeyOf', () => {
  it.each<[string, Intent, string | undefined, string | undefined]>([
    ['a GitHub delivery', pr, 'github.com', 'delivery:github:github.com:D1'],
    ['a GitHub delivery without a GitHub App here', pr, undefined, undefined],
    ['a Gitea delivery (host and id lower-cased)', testme, undefined, 'delivery:gitea:gitea.example.org:d1'],
    [
      "a Gitea capacity delivery (capacity mode's own claim)",
      capacityPush,
      undefined,
      'capacity:delivery:gitea:gitea.example.org:d1',
    ],
  ])('%s', (_, intent, githubHost, key) => {
    expect(deliveryClaimKeyOf(intent, githubHost)).toBe(key);
  });
});

describe('createGiveUp', () => {
  it.each<[string, Intent, string | undefined, number]>([
    ['a pull request: claim released, one notice', pr, 'k', 1],
    ['a !testme: claim released, one notice', testme, 'k', 1],
    ['a push: claim released, no pull request to tell', push, 'k', 0],
    ['capacity mode: claim released, no notice', capacityPush, 'k', 0],
    ['no claim taken here: nothing released', pr, undefined, 1],
  ])('%s', async (_, intent, claim, notices) => {
    const released: string[] = [];
    const told: [number, string][] = [];
    const giveUp = createGiveUp({
      store: { release: (key) => (released.push(key), Promise.resolve()) },
      claimKeyOf: () => claim,
      notices: (_install, _repo, number, line) => (told.push([number, line]), Promise.resolve()),
      logger: pino({ level: 'silent' }),
    });
    await giveUp(intent);
    expect(released).toEqual(claim === undefined ? [] : [claim]);
    expect(told).toEqual(notices === 0 ? [] : [['pr' in intent ? intent.pr : 0, GIVE_UP_NOTICE]]);
  });

  it('still tells the pull request when the claim cannot be released', async () => {
    const told: string[] = [];
    const giveUp = createGiveUp({
      store: { release: () => Promise.reject(new Error('store down')) },
      claimKeyOf: () => 'k',
      notices: (_i, _r, _n, line) => (told.push(line), Promise.resolve()),
      logger: pino({ level: 'silent' }),
    });
    await giveUp(pr);
    expect(told).toEqual([GIVE_UP_NOTICE]);
  });
});
