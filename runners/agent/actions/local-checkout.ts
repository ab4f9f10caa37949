/**
 * `spotcheck run` checks the working tree out itself, and no forge serves it: actions/checkout of the run's own
 * repository has nothing to fetch (and no server URL or token to fetch with). As act does (`isLocalCheckout` in
 * nektos/act's run_context.go: `actions/checkout` without a `repository` or `ref` other than the run's), the step is
 * skipped with a line saying why; its post is not registered. A checkout of another repository or ref, or into a
 * `path`, runs as written.
 */
import type { RemoteActionRef } from './action-fetcher.ts';

export function isLocalCheckout(
  action: RemoteActionRef,
  inputs: Readonly<Record<string, string>>,
  github: { readonly repository: string; readonly ref: string; readonly sha: string },
): boolean {
  if (action.owner.toLowerCase() !== 'actions' || action.repo.toLowerCase() !== 'checkout') return false;
  if (action.path !== undefined || action.source !== undefined) return false;
  const input = (name: string): string => (inputs[name] ?? '').trim();
  const repository = input('repository');
  const ref = input('ref');
  const into = input('path');
  return (
    (repository === '' || repository.toLowerCase() === github.repository.toLowerCase()) &&
    (ref === '' || ref === github.ref || ref === github.sha) &&
    (into === '' || into === '.')
  );
}
