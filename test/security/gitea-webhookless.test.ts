/**
 * Webhook-less Gitea (issue 16, item 5): with `gitea.poll` configured, GITEA_WEBHOOK_SECRET may be left unset, and then
 * no Gitea webhook route exists (so nothing unsigned is ever taken as a delivery). The agents' token secret was
 * derived from a webhook secret: without one it must be configured (SPOTCHECK_AGENT_SECRET), never made up per
 * process, since a per-process value differs between replicas and across a restart.
 */
import { describe, expect, it } from 'vitest';
import { readServerSettings, type HostUsers } from '../../src/app/settings.ts';
import { ConfigError } from '../../src/errors.ts';

const host: HostUsers = { idsOf: () => Promise.resolve(undefined), isRoot: () => false };
const gitea = { GITEA_URL: 'https://gitea.example.org', GITEA_TOKEN: 'token', GITEA_BOT_LOGIN: 'bot' };
const agentSecret = 'a'.repeat(40);

async function problemsOf(env: Record<string, string>, giteaPoll: boolean): Promise<string> {
  return readServerSettings(env, host, { giteaPoll }).then(
    () => '',
    (error: unknown) => (error instanceof ConfigError ? error.message : String(error)),
  );
}

describe('Gitea without a webhook secret', () => {
  it('is refused unless Gitea is polled', async () => {
    expect(await problemsOf({ ...gitea, SPOTCHECK_AGENT_SECRET: agentSecret }, false)).toContain(
      'GITEA_WEBHOOK_SECRET is required',
    );
    const settings = await readServerSettings({ ...gitea, SPOTCHECK_AGENT_SECRET: agentSecret }, host, {
      giteaPoll: true,
    });
    expect(settings.gitea?.webhookSecret).toBeUndefined();
    expect(settings.agentSecret).toBe(agentSecret);
  });

  it('needs SPOTCHECK_AGENT_SECRET: there is no webhook secret to derive it from', async () => {
    expect(await problemsOf(gitea, true)).toContain('SPOTCHECK_AGENT_SECRET is required');
  });

  it('still derives the agent secret from a webhook secret when one is set, the same on every start', async () => {
    const first = await readServerSettings({ ...gitea, GITEA_WEBHOOK_SECRET: 'w'.repeat(32) }, host, {
      giteaPoll: true,
    });
    const second = await readServerSettings({ ...gitea, GITEA_WEBHOOK_SECRET: 'w'.repeat(32) }, host, {
      giteaPoll: true,
    });
    expect(first.gitea?.webhookSecret).toBe('w'.repeat(32));
    expect(first.agentSecret).toBe(second.agentSecret);
    expect(first.agentSecret).not.toBe('w'.repeat(32));
  });
});
