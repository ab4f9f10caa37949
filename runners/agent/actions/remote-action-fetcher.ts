/**
 * The `ActionFetcher` of every runner: `owner/repo[/path]@ref` from the order's actions source (or the source the
 * `uses:` names), the ref resolved to a commit id and printed as GitHub's runner prints it, the files from the
 * commit-keyed cache (`action-cache.ts`), downloaded and unpacked within bounds on a miss.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { ActionsSource } from '../../runner.ts';
import { ActionFetchError, type ActionFetcher, type RemoteActionRef } from './action-fetcher.ts';
import type { ActionCache } from './action-cache.ts';
import { COMMIT_ID } from './action-source-client.ts';

export interface RemoteActionFetcherOptions {
  /** The order's actions source (`OrderJob.actionsSource`); absent: only `uses: https://host/…` actions resolve. */
  readonly source: ActionsSource | undefined;
  /** One per process, shared by the orders it runs (downloads of one commit are shared through it). */
  readonly cache: ActionCache;
}

export function createRemoteActionFetcher(options: RemoteActionFetcherOptions): ActionFetcher {
  const { cache } = options;
  return {
    async fetch(ref, log) {
      const source = sourceForRef(ref, options.source);
      const at = { owner: ref.owner, repo: ref.repo, ref: ref.ref };
      const full = ref.ref.toLowerCase();
      // A full commit id names itself: no request needed to resolve it.
      const commit = COMMIT_ID.test(full) ? full : await cache.client.resolveCommit(source, at);
      // GitHub's runner prints this line for each action repository in "Set up job".
      log(`Download action repository '${ref.owner}/${ref.repo}@${ref.ref}' (SHA:${commit})`);
      const cached = await cache.commitFolder(source, at, commit);
      if (commit !== full) await cache.rememberRef(source, at, commit);
      if (!cached.downloaded) log(`Using the cached copy of ${ref.owner}/${ref.repo} at ${commit}`);
      const dir = ref.path === undefined ? cached.dir : path.join(cached.dir, ref.path);
      if (path.relative(cached.dir, dir).startsWith('..') || !(await isFolder(dir)))
        throw new ActionFetchError(
          `Unable to resolve action \`${ref.owner}/${ref.repo}/${ref.path ?? ''}@${ref.ref}\`: the repository has no folder ${ref.path ?? ''} at ${commit}.`,
        );
      return { dir, commit };
    },
  };
}

/**
 * Where one `uses:` is fetched from. Without a source in the `uses:`, the order's. With one
 * (`uses: https://host/owner/repo@ref`, as Gitea's runner accepts): the order's source when it is that host (its
 * token included); github.com's API for github.com; otherwise a Gitea at that host (`https://host/api/v1`), the only
 * forge that accepts such refs. The configured token never goes to another host.
 */
export function sourceForRef(ref: RemoteActionRef, configured: ActionsSource | undefined): ActionsSource {
  if (ref.source === undefined) {
    if (configured !== undefined) return configured;
    throw new ActionFetchError(
      `Unable to resolve action \`${ref.owner}/${ref.repo}@${ref.ref}\`: this runner has no actions source configured.`,
    );
  }
  const named = new URL(ref.source);
  if (configured !== undefined && sameSite(named, new URL(configured.url))) return configured;
  if (named.host.toLowerCase() === 'github.com')
    return { kind: 'github', url: 'https://github.com', apiUrl: 'https://api.github.com' };
  return { kind: 'gitea', url: named.origin, apiUrl: `${named.origin}/api/v1` };
}

function sameSite(a: URL, b: URL): boolean {
  return a.protocol === b.protocol && a.host.toLowerCase() === b.host.toLowerCase();
}

async function isFolder(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isDirectory();
  } catch {
    return false;
  }
}
