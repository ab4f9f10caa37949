/**
 * The forge registry capacity tests hand to the capacity manager: the real GitHub adapter over a test octokit and the
 * real Gitea adapter over the swagger-checked harness, so capacity requests go through the adapters' clients.
 */
import type { ProbotOctokit } from 'probot';
import { ConfigError } from '../../src/errors.ts';
import type { Forge } from '../../src/forges/forge.ts';
import { createGiteaForge } from '../../src/forges/gitea.ts';
import { createGitHubForge } from '../../src/forges/github.ts';
import type { ForgeLookup } from '../../src/intake/intents.ts';

export function createCapacityTestForges(opts: {
  readonly octokit: ProbotOctokit;
  readonly giteaBaseUrl: string;
}): ForgeLookup {
  const github = createGitHubForge({
    octokit: opts.octokit,
    host: 'github.com',
    appSlug: 'spotcheck',
    mintToken: () => Promise.reject(new Error('capacity tests mint no token')),
    installationPermissions: () => Promise.reject(new Error('capacity tests mint no token')),
  });
  const gitea = createGiteaForge({ baseUrl: opts.giteaBaseUrl, token: 'bot-token', botLogin: 'spotcheck-bot' });
  const byKind: Readonly<Record<string, Forge>> = { github, gitea };
  return {
    forInstallation(install) {
      const forge = byKind[install.forge];
      if (forge === undefined || forge.host !== install.host.toLowerCase()) {
        return Promise.reject(new ConfigError(`no ${install.forge} forge for ${install.host}`, { source: 'forge' }));
      }
      return Promise.resolve(forge);
    },
  };
}
