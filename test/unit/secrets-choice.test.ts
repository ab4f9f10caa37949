import { describe, expect, it } from 'vitest';
import {
  chooseSecrets,
  scopesFor,
  secretNameError,
  type SecretInfo,
  type SecretRecipient,
  type SecretScope,
} from '../../src/core/secrets.ts';
import type { RepoRef } from '../../src/core/types.ts';

const repo: RepoRef = { forge: 'github', host: 'github.com', owner: 'octo', name: 'app' };
const org: SecretScope = { level: 'org', forge: 'github', host: 'github.com', owner: 'octo' };
const repoScope: SecretScope = { level: 'repo', repo };
const prod: SecretScope = { level: 'environment', repo, environment: 'prod' };

const secret = (name: string, scope: SecretScope, outsiders = false): SecretInfo => ({
  name,
  scope,
  outsiders,
  updatedAt: 1,
});

const available: SecretInfo[] = [
  secret('ORG_ONLY', org),
  secret('SHARED', org, true),
  secret('SHARED', repoScope),
  secret('REPO_PUBLIC', repoScope, true),
  secret('DEPLOY_KEY', prod),
  secret('REPO_PUBLIC', prod),
  secret('ORG_PUBLIC', org, true),
];

/** name → the level its value comes from. */
const chosen = (recipient: SecretRecipient): Record<string, string> =>
  Object.fromEntries(chooseSecrets(available, recipient).map((s) => [s.name, s.scope.level]));

describe('chooseSecrets', () => {
  it.each<[string, SecretRecipient, Record<string, string>]>([
    [
      'a member run gets org and repo secrets, repo over org',
      { trust: 'member' },
      { ORG_ONLY: 'org', SHARED: 'repo', REPO_PUBLIC: 'repo', ORG_PUBLIC: 'org' },
    ],
    [
      'an approved outsider gets only the winners marked for outsiders (an org SHARED overridden by a members-only repo SHARED is not handed out)',
      { trust: 'approved-outsider' },
      { REPO_PUBLIC: 'repo', ORG_PUBLIC: 'org' },
    ],
    ['a run without recorded trust is treated as an approved outsider', {}, { REPO_PUBLIC: 'repo', ORG_PUBLIC: 'org' }],
    [
      'a member job naming the environment gets its secrets, environment over repo',
      { trust: 'member', environment: 'prod' },
      { ORG_ONLY: 'org', SHARED: 'repo', REPO_PUBLIC: 'environment', DEPLOY_KEY: 'environment', ORG_PUBLIC: 'org' },
    ],
    [
      'environment names are case-insensitive',
      { trust: 'member', environment: 'PROD' },
      { ORG_ONLY: 'org', SHARED: 'repo', REPO_PUBLIC: 'environment', DEPLOY_KEY: 'environment', ORG_PUBLIC: 'org' },
    ],
    [
      'an outsider naming the environment: its members-only REPO_PUBLIC overrides the flagged repo one',
      { trust: 'approved-outsider', environment: 'prod' },
      { ORG_PUBLIC: 'org' },
    ],
    [
      'another environment gets none of prod’s',
      { trust: 'member', environment: 'staging' },
      { ORG_ONLY: 'org', SHARED: 'repo', REPO_PUBLIC: 'repo', ORG_PUBLIC: 'org' },
    ],
    [
      'an environment name still holding an expression matches none',
      { trust: 'member', environment: '${{ matrix.env }}' },
      { ORG_ONLY: 'org', SHARED: 'repo', REPO_PUBLIC: 'repo', ORG_PUBLIC: 'org' },
    ],
  ])('%s', (_, recipient, expected) => {
    expect(chosen(recipient)).toEqual(expected);
  });

  it('sorts by name and returns nothing from nothing', () => {
    expect(chooseSecrets(available, { trust: 'member' }).map((s) => s.name)).toEqual([
      'ORG_ONLY',
      'ORG_PUBLIC',
      'REPO_PUBLIC',
      'SHARED',
    ]);
    expect(chooseSecrets([], { trust: 'member', environment: 'prod' })).toEqual([]);
  });
});

describe('scopesFor', () => {
  it('lists org and repo, and the environment only when one is named plainly', () => {
    expect(scopesFor(repo).map((s) => s.level)).toEqual(['org', 'repo']);
    expect(scopesFor(repo, 'prod').map((s) => s.level)).toEqual(['org', 'repo', 'environment']);
    expect(scopesFor(repo, '${{ inputs.env }}').map((s) => s.level)).toEqual(['org', 'repo']);
  });
});

describe('secretNameError (GitHub naming rules)', () => {
  it.each([
    ['DEPLOY_KEY', undefined],
    ['deploy_key', undefined],
    ['_X1', undefined],
    ['', 'empty'],
    ['1ABC', 'digit'],
    ['A-B', 'letters, digits and _'],
    ['A B', 'letters, digits and _'],
    ['GITHUB_TOKEN', 'GITHUB_'],
    ['github_x', 'GITHUB_'],
  ])('%j', (name, problem) => {
    const error = secretNameError(name);
    if (problem === undefined) expect(error).toBeUndefined();
    else expect(error).toContain(problem);
  });
});
