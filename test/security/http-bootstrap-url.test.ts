/**
 * Red-team finding: `http:` bootstrap URLs were accepted, so a cloud agent's one-time bootstrap token (and the job,
 * clone credentials and secrets it buys) crossed the network in clear text. Now the operator config refuses a plain
 * http public URL when a cloud route exists, unless the host is loopback, and the user data refuses such a URL too.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderCapacityUserData, renderUserData } from '../../runners/user-data.ts';
import { loadOperatorConfig, parseConfig } from '../../src/config.ts';
import { ConfigError } from '../../src/errors.ts';

const SPOT_ROUTE = `
routes:
  gpu:
    runner: spot
    instanceTypes: [m7i.large]
    subnets: [subnet-0123456789abcdef0]
    ami: ami-0123456789abcdef0
`;
const TOKEN = 'A'.repeat(43);

describe('bootstrap URLs over plain http', () => {
  it.each(['http://ci.example.com', 'http://10.0.0.5:3000', 'http://[fe80::1]:3000', 'http://localhost.example.com'])(
    'the config refuses publicUrl %s with a cloud route',
    (url) => {
      expect(() => parseConfig(`publicUrl: ${url}\n${SPOT_ROUTE}`, 'spotcheck.yml')).toThrow(
        /publicUrl: must be https:\/\/.*spot route "gpu"/,
      );
    },
  );

  it.each([
    'https://ci.example.com',
    'http://localhost:3000',
    'http://127.0.0.1:3000',
    'http://127.1.2.3',
    'http://[::1]:3000',
  ])('the config takes publicUrl %s with a cloud route', (url) => {
    expect(parseConfig(`publicUrl: ${url}\n${SPOT_ROUTE}`, 'spotcheck.yml').publicUrl).toBe(url);
  });

  it('the config takes a plain http publicUrl when every route is local', () => {
    expect(parseConfig('publicUrl: http://ci.example.com\n', 'spotcheck.yml').publicUrl).toBe('http://ci.example.com');
  });

  it('PUBLIC_URL over plain http is refused at start-up when the config has a cloud route', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'spotcheck-http-url-'));
    try {
      await writeFile(join(dir, 'spotcheck.yml'), SPOT_ROUTE);
      const load = loadOperatorConfig({ PUBLIC_URL: 'http://ci.example.com' }, dir, 'spotcheck.yml');
      await expect(load).rejects.toThrow(ConfigError);
      await expect(load).rejects.toThrow(/PUBLIC_URL: must be https:\/\//);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('the user data refuses a plain http bootstrap URL off loopback', () => {
    expect(() =>
      renderUserData({
        bootstrapUrl: 'http://ci.example.com/api/agent/bootstrap',
        bootstrapToken: TOKEN,
        maxLifetimeMinutes: 60,
      }),
    ).toThrow(/must be https/);
    expect(() =>
      renderCapacityUserData({
        forge: 'github',
        bootstrapUrl: 'http://ci.example.com/api/capacity/bootstrap',
        bootstrapToken: TOKEN,
        maxLifetimeMinutes: 60,
      }),
    ).toThrow(/must be https/);
  });
});
