/**
 * Each order's `GITHUB_TOKEN`, from the forge (Forge.mintOrderToken), kept until the order ends to be revoked
 * (Forge.revokeOrderToken). The token is minted where the job is built (a local launch, or a cloud agent's bootstrap
 * exchange) and revoked by whichever process applies the order's final state, so it is kept in the store, sealed
 * (AES-256-GCM under a key derived from the agents' secret): the store never holds it in plain text (#15, item 4).
 * Shared configured tokens (Gitea's) are not kept: there is nothing of the order's own to revoke.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { ForgeKind, OrderRecord, RunRecord } from '../core/types.ts';
import type { ForgeUrls } from '../../runners/runner.ts';
import type { Forge } from '../forges/forge.ts';
import type { GiteaSettings, GitHubSettings } from '../forges/registry.ts';
import type { Store } from '../store/store.ts';

export const ORDER_TOKEN_DOC_KIND = 'order-token';
/** GitHub's installation tokens live an hour; a kept token with no expiry goes with its document after that. */
const KEEP_MS = 60 * 60_000;

export interface OrderTokens {
  /** The order's token for this attempt (undefined: none), kept for `revoke` when it is the order's own. */
  issue(run: RunRecord, order: OrderRecord): Promise<string | undefined>;
  /** Revokes every token kept for the order's attempts. Idempotent; never throws (a failure is logged). */
  revoke(run: RunRecord, order: OrderRecord): Promise<void>;
}

export interface OrderTokensOptions {
  readonly store: Pick<Store, 'putDoc' | 'getDoc' | 'deleteDoc'>;
  readonly forgeFor: (run: RunRecord) => Promise<Forge>;
  /** The agents' secret: the sealing key derives from it. */
  readonly secret: string;
  readonly logger: Logger;
  readonly now: () => number;
}

export function createOrderTokens(opts: OrderTokensOptions): OrderTokens {
  const key = createHash('sha256').update('spotcheck order tokens\0').update(opts.secret).digest();
  const docKey = (runId: string, orderId: string, attempt: number): string => `${runId}/${orderId}/${attempt}`;
  return {
    async issue(run, order) {
      const forge = await opts.forgeFor(run);
      const minted = await forge.mintOrderToken(run.repo, order.permissions);
      if (minted === undefined) return undefined;
      if (minted.dropped !== undefined) {
        opts.logger.warn(
          { runId: run.runId, orderId: order.id, dropped: minted.dropped },
          'order token: default permissions the app was not granted are left out',
        );
      }
      if (minted.revocable) {
        const expiresAt = minted.expiresAt ?? opts.now() + KEEP_MS;
        await opts.store.putDoc(
          ORDER_TOKEN_DOC_KIND,
          docKey(run.runId, order.id, order.attempt),
          { sealed: seal(key, minted.token), expiresAt },
          { expiresAt },
        );
      }
      return minted.token;
    },

    async revoke(run, order) {
      for (let attempt = 1; attempt <= order.attempt; attempt++) {
        const id = docKey(run.runId, order.id, attempt);
        const log = { runId: run.runId, orderId: order.id, attempt };
        try {
          const doc = await opts.store.getDoc(ORDER_TOKEN_DOC_KIND, id);
          const sealed = doc?.value.sealed;
          if (typeof sealed !== 'string') continue;
          // Deleted first: a second final effect (a replica, the watchdog) finds nothing to revoke.
          await opts.store.deleteDoc(ORDER_TOKEN_DOC_KIND, id);
          await (await opts.forgeFor(run)).revokeOrderToken(unseal(key, sealed));
          opts.logger.debug(log, 'order token revoked');
        } catch (error) {
          // Not fatal: the token expires within the hour.
          opts.logger.warn({ ...log, err: error }, 'order token revoke failed');
        }
      }
    },
  };
}

function seal(key: Buffer, text: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const body = Buffer.concat([cipher.update(text, 'utf8'), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64');
}

function unseal(key: Buffer, sealed: string): string {
  const raw = Buffer.from(sealed, 'base64');
  const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
  decipher.setAuthTag(raw.subarray(12, 28));
  return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
}

/**
 * GITHUB_SERVER_URL, GITHUB_API_URL and GITHUB_GRAPHQL_URL for a run's forge, as GitHub's runner sets them
 * (github.com: https://github.com, https://api.github.com, https://api.github.com/graphql; GitHub Enterprise Server:
 * https://host, https://host/api/v3, https://host/api/graphql) and as Gitea sets them (the instance URL and
 * `<url>/api/v1`; Gitea has no GraphQL API: empty).
 */
export function forgeUrlsFor(
  kind: ForgeKind | 'local',
  settings: { readonly github?: GitHubSettings | undefined; readonly gitea?: GiteaSettings | undefined },
): ForgeUrls | undefined {
  if (kind === 'local') return undefined;
  if (kind === 'gitea') {
    const url = settings.gitea?.url;
    return url === undefined ? undefined : { server: url, api: `${url}/api/v1`, graphql: '' };
  }
  const github = settings.github;
  if (github === undefined) return undefined;
  const server = `${github.protocol}://${github.host}`;
  const graphql = github.host === 'github.com' ? 'https://api.github.com/graphql' : `${server}/api/graphql`;
  return { server, api: github.baseUrl, graphql };
}
