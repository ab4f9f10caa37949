/**
 * The actions source an order gets (`OrderJob.actionsSource`), from the operator's `actions:` config and the forge
 * the run came from. Gitea's runner works the same way: `DEFAULT_ACTIONS_URL` is github.com or `self` (the Gitea
 * instance), and `uses: https://host/owner/repo@ref` names another source per step (`remote-action-fetcher.ts`).
 */
import { trimTrailingSlashes } from '../src/core/url.ts';
import type { ActionsSource } from './runner.ts';

/**
 * `actions: { url, kind?, apiUrl?, token? | tokenFile? }`. Without `url`, runs from GitHub take actions from
 * github.com and runs from Gitea from the Gitea instance itself (Gitea's `DEFAULT_ACTIONS_URL` set to `self`);
 * `url: self` says the same for every forge. Another URL is a GitHub (github.com, or `kind: github` for GitHub
 * Enterprise) or a Gitea (the default for any other host), such as a mirror of github.com/actions/*.
 */
export interface ActionsConfig {
  readonly url?: string;
  readonly kind?: 'github' | 'gitea';
  /** The REST API base; default `https://api.github.com`, `<url>/api/v3` (`kind: github`) or `<url>/api/v1`. */
  readonly apiUrl?: string;
  /** Sent to `url`'s host only, to resolve refs and download archives (raises GitHub's anonymous rate limit). */
  readonly token?: string;
  /** A file holding the token; read by `loadConfig` into `token` (relative to the config file's folder). */
  readonly tokenFile?: string;
}

/** A forge's web and REST API base URLs. */
export interface ForgeSite {
  readonly kind: 'github' | 'gitea';
  readonly url: string;
  readonly apiUrl: string;
}

export const GITHUB_COM: ForgeSite = { kind: 'github', url: 'https://github.com', apiUrl: 'https://api.github.com' };

/**
 * `forge`: the run's forge (undefined for `spotcheck run`, which has none: github.com then). `withToken`: whether
 * the job may carry the configured token (a local runner's job, the bootstrap exchange's answer), never a launch's.
 */
export function actionsSourceFor(
  config: ActionsConfig,
  forge: ForgeSite | undefined,
  withToken: boolean,
): ActionsSource {
  const site = siteOf(config, forge);
  return { ...site, ...(withToken && config.token !== undefined ? { token: config.token } : {}) };
}

function siteOf(config: ActionsConfig, forge: ForgeSite | undefined): ForgeSite {
  if (config.url === undefined) return forge?.kind === 'gitea' ? forge : GITHUB_COM;
  if (config.url === 'self') return forge ?? GITHUB_COM;
  const url = trimTrailingSlashes(config.url);
  const isGitHubCom = new URL(url).host.toLowerCase() === 'github.com';
  const kind = config.kind ?? (isGitHubCom ? 'github' : 'gitea');
  const apiUrl =
    config.apiUrl ?? (isGitHubCom ? GITHUB_COM.apiUrl : kind === 'github' ? `${url}/api/v3` : `${url}/api/v1`);
  return { kind, url, apiUrl };
}
