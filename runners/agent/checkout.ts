import { spawn } from 'node:child_process';
import path from 'node:path';
import type { OrderJob } from '../runner.ts';
import type { RunAs } from './run-as.ts';

export type CheckoutResult = { ok: true } | { ok: false; error: string; timedOut: boolean };

/**
 * `git clone --no-checkout` then `git checkout --detach <sha>`: works for a local path and for a URL. A commit no
 * branch or tag reaches (a PR head) is fetched by id first, which GitHub and Gitea allow. A clone URL that carries
 * credentials (cloud agents get `https://x-access-token:<token>@host/owner/repo.git`) is never printed, and is
 * replaced by its credential-free form in the checkout's `origin` afterwards, so the steps do not find the token in
 * `.git/config` (actions/checkout likewise removes its credentials from the repository's config after the job).
 */
export async function checkoutCommit(
  job: Pick<OrderJob, 'sha' | 'cloneUrl' | 'timeoutMinutes'>,
  workdir: string,
  baseEnv: Readonly<Record<string, string>>,
  signal: AbortSignal,
  runAs?: RunAs,
): Promise<CheckoutResult> {
  // The sha goes on a git command line: accept an object id only, so it can never be read as an option.
  if (!/^[0-9a-f]{7,64}$/i.test(job.sha))
    return { ok: false, error: `'${job.sha}' is not a commit id`, timedOut: false };
  // Never prompt for credentials: a prompt would hang the order until its timeout.
  const env = { ...baseEnv, GIT_TERMINAL_PROMPT: '0' };
  // The checkout counts against the order's timeout (no limit when it has none, as in executeOrder).
  const minutes = job.timeoutMinutes;
  const timeoutMs = Number.isFinite(minutes) && minutes > 0 ? Math.min(Math.round(minutes * 60_000), 2 ** 31 - 1) : 0;
  const gitSignal = timeoutMs > 0 ? AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]) : signal;
  const run = (args: string[], cwd: string) => runGit(args, cwd, env, gitSignal, job.cloneUrl, runAs);
  const fail = (error: string): CheckoutResult => ({
    ok: false,
    error,
    timedOut: gitSignal.aborted && !signal.aborted,
  });

  const clone = await run(['clone', '--no-checkout', '--quiet', '--', job.cloneUrl, workdir], path.dirname(workdir));
  if (!clone.ok) return fail(clone.error);
  let checkout = await run(['checkout', '--detach', '--quiet', job.sha], workdir);
  if (!checkout.ok && !gitSignal.aborted) {
    const fetch = await run(['fetch', '--quiet', 'origin', job.sha], workdir);
    if (fetch.ok) checkout = await run(['checkout', '--detach', '--quiet', job.sha], workdir);
  }
  if (!checkout.ok) return fail(checkout.error);
  const bare = withoutCredentials(job.cloneUrl);
  if (bare !== job.cloneUrl) {
    const scrub = await run(['remote', 'set-url', 'origin', bare], workdir);
    if (!scrub.ok) return fail(`cannot remove the credentials from the checkout: ${scrub.error}`);
  }
  return { ok: true };
}

function runGit(
  args: string[],
  cwd: string,
  env: Readonly<Record<string, string>>,
  signal: AbortSignal,
  cloneUrl: string,
  runAs: RunAs | undefined,
): Promise<{ ok: true } | { ok: false; error: string }> {
  return new Promise((resolve) => {
    // As the step user when there is one: the checkout is theirs, and git never runs as the server in it.
    const user = runAs === undefined ? {} : { uid: runAs.uid, gid: runAs.gid };
    const child = spawn('git', args, { cwd, env: { ...env }, stdio: ['ignore', 'ignore', 'pipe'], signal, ...user });
    let stderr = '';
    child.stderr.on('data', (data: Buffer) => {
      if (stderr.length < 8192) stderr += data.toString('utf8');
    });
    child.once('error', (err) => resolve({ ok: false, error: redactCloneUrl(err.message, cloneUrl) }));
    child.once('close', (code) => {
      if (code === 0) return resolve({ ok: true });
      const message = stderr.trim().split('\n').slice(-3).join(' ') || `git ${args[0] ?? ''} exited with ${code}`;
      resolve({ ok: false, error: redactCloneUrl(message, cloneUrl) });
    });
  });
}

/** Clone URLs of cloud agents carry a token; git's messages must not carry it into logs and statuses. */
export function redactCloneUrl(message: string, cloneUrl: string): string {
  const exact = cloneUrl === '' ? message : message.replaceAll(cloneUrl, '<clone-url>');
  return exact.replace(/(\/\/)[^/@\s]+@/g, '$1***@');
}

/** The URL without its user-info part (`https://user:token@host/x` → `https://host/x`); other URLs unchanged. */
export function withoutCredentials(cloneUrl: string): string {
  return cloneUrl.replace(/^([A-Za-z][A-Za-z0-9+.-]*:\/\/)[^/@\s]+@/, '$1');
}
