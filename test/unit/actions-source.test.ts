import { describe, expect, it } from 'vitest';
import { actionsSourceFor, GITHUB_COM, type ActionsConfig, type ForgeSite } from '../../runners/actions-source.ts';
import { userActionsCacheDir } from '../../src/cli/action-cache-dir.ts';

const giteaForge: ForgeSite = { kind: 'gitea', url: 'https://gitea.example', apiUrl: 'https://gitea.example/api/v1' };
const gheForge: ForgeSite = { kind: 'github', url: 'https://ghe.example', apiUrl: 'https://ghe.example/api/v3' };

describe('actionsSourceFor', () => {
  it.each<[string, ActionsConfig, ForgeSite | undefined, ForgeSite]>([
    ['GitHub runs default to github.com', {}, gheForge, GITHUB_COM],
    ['Gitea runs default to the instance itself (DEFAULT_ACTIONS_URL=self)', {}, giteaForge, giteaForge],
    ['spotcheck run (no forge) defaults to github.com', {}, undefined, GITHUB_COM],
    ['url: self on GitHub Enterprise is the GHE', { url: 'self' }, gheForge, gheForge],
    ['url: self without a forge is github.com', { url: 'self' }, undefined, GITHUB_COM],
    ['an explicit github.com', { url: 'https://github.com' }, giteaForge, GITHUB_COM],
    [
      'another host is a Gitea (a mirror)',
      { url: 'https://mirror.example/' },
      gheForge,
      { kind: 'gitea', url: 'https://mirror.example', apiUrl: 'https://mirror.example/api/v1' },
    ],
    [
      'kind: github on another host is a GitHub Enterprise',
      { url: 'https://ghe2.example', kind: 'github' },
      giteaForge,
      { kind: 'github', url: 'https://ghe2.example', apiUrl: 'https://ghe2.example/api/v3' },
    ],
    [
      'an explicit apiUrl wins',
      { url: 'https://git.example', apiUrl: 'https://git.example/sub/api/v1' },
      undefined,
      { kind: 'gitea', url: 'https://git.example', apiUrl: 'https://git.example/sub/api/v1' },
    ],
  ])('%s', (_what, config, forge, expected) => {
    expect(actionsSourceFor(config, forge, true)).toEqual(expected);
  });

  it('carries the token only where the job may hold it', () => {
    const config: ActionsConfig = { url: 'https://mirror.example', token: 'gta' };
    expect(actionsSourceFor(config, undefined, true).token).toBe('gta');
    expect(actionsSourceFor(config, undefined, false)).not.toHaveProperty('token');
  });
});

describe('userActionsCacheDir (spotcheck run)', () => {
  it.each<[Record<string, string>, string]>([
    [{ XDG_CACHE_HOME: '/x/cache', HOME: '/home/u' }, '/x/cache/spotcheck/actions'],
    [{ XDG_CACHE_HOME: 'relative', HOME: '/home/u' }, '/home/u/.cache/spotcheck/actions'],
    [{ HOME: '/home/u' }, '/home/u/.cache/spotcheck/actions'],
    [{}, '/fallback/.cache/spotcheck/actions'],
  ])('%o → %s', (env, expected) => {
    expect(userActionsCacheDir(env, '/fallback')).toBe(expected);
  });
});
