import type { EventName, GithubContext } from './types.ts';

export interface GithubContextInput {
  readonly event: EventName;
  /** Full ref: `refs/heads/main`, `refs/tags/v1`, `refs/pull/7/head`. */
  readonly ref: string;
  readonly sha: string;
  readonly repository: string;
  readonly actor: string;
  readonly serverUrl: string;
  readonly workflow: string;
  readonly runId?: string;
  /** Pull requests and `!testme`: the target branch and the PR's branch (short names). */
  readonly baseRef?: string;
  readonly headRef?: string;
  readonly payload?: Readonly<Record<string, unknown>>;
}

/** The `github` context as GitHub Actions fills it for the fields scripts commonly read. */
export function buildGithubContext(input: GithubContextInput): GithubContext {
  const tag = input.ref.startsWith('refs/tags/');
  return {
    event_name: input.event,
    ref: input.ref,
    ref_name: shortRef(input.ref),
    ref_type: tag ? 'tag' : 'branch',
    sha: input.sha,
    repository: input.repository,
    repository_owner: input.repository.split('/')[0] ?? '',
    actor: input.actor,
    base_ref: input.baseRef ?? '',
    head_ref: input.headRef ?? '',
    server_url: input.serverUrl,
    run_id: input.runId ?? '',
    workflow: input.workflow,
    event: input.payload ?? {},
  };
}

/**
 * A ref as given on the command line → a full ref: `main` → `refs/heads/main` (a bare name is a branch, as in
 * `git push origin main`); full refs (`refs/tags/v1`) unchanged.
 */
export function normaliseRef(ref: string): string {
  return ref.startsWith('refs/') ? ref : `refs/heads/${ref}`;
}

/** `refs/heads/main` → `main`, `refs/tags/v1` → `v1`; anything else unchanged. */
export function shortRef(ref: string): string {
  for (const prefix of ['refs/heads/', 'refs/tags/']) if (ref.startsWith(prefix)) return ref.slice(prefix.length);
  return ref;
}
