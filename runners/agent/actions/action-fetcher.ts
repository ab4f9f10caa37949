/**
 * The port between running an action and getting its files: `owner/repo[/path]@ref` is resolved to a commit and its
 * files are put in a folder (downloaded once per commit, then cached). Implemented by `remote-action-fetcher.ts`.
 */
import type { ActionRef } from '../../../src/core/types.ts';

export type RemoteActionRef = Extract<ActionRef, { kind: 'remote' }>;

export interface FetchedAction {
  /** The action's folder (the repository's root joined with the ref's `path`), holding `action.yml`. */
  readonly dir: string;
  /** The full commit id the ref resolved to (printed in the log; the cache key). */
  readonly commit: string;
}

export interface ActionFetcher {
  /**
   * Resolves and fetches one action. Expected failures (no such repository or ref, a download over its bounds, an
   * archive that escapes its folder) throw `ActionFetchError` with a sentence the step's log shows as it is. `log`
   * gets what the runner prints while it sets up the job (its "Download action repository …" line, with the commit).
   */
  fetch(ref: RemoteActionRef, log: (line: string) => void): Promise<FetchedAction>;
}

export class ActionFetchError extends Error {
  override readonly name = 'ActionFetchError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}
