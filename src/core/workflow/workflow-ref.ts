/**
 * `jobs.<id>.uses:` of a calling job, read as GitHub reads it (workflow syntax, `jobs.<job_id>.uses`):
 * `./path/to/workflow.yml` in the caller's repository at the same commit (`$/path/to/workflow.yml`, GitHub's
 * self-repository reference, is the same place), or `{owner}/{repo}/{path}@{ref}` in another repository (on the same
 * forge). Pure.
 */
import type { WorkflowRef } from '../types.ts';

export type WorkflowRefResult =
  { readonly ok: true; readonly ref: WorkflowRef } | { readonly ok: false; readonly error: string };

const NAME = /^[A-Za-z0-9_.-]+$/;
// eslint-disable-next-line no-control-regex -- control characters are exactly what a ref may not hold
const GIT_REF = /^[^\s~^:?*[\\\x00-\x1f\x7f]+$/;
const EXPECTED =
  'expected `./path/to/workflow.yml`, `$/path/to/workflow.yml` or `{owner}/{repo}/{path}/workflow.yml@{ref}`';

export function parseWorkflowRef(uses: string): WorkflowRefResult {
  const text = uses.trim();
  if (text === '') return fail(`\`uses\` is empty: ${EXPECTED}`);
  if (text.includes('${{')) return fail('`uses` cannot hold an expression (GitHub reads it before the run starts)');
  // GitHub's `$/` ("self-repository": the workflow's own repository at the commit running) names the same file as
  // `./`: spotcheck reads a local callee from the repository of the workflow that calls it, at that commit.
  if (text.startsWith('./') || text.startsWith('$/')) {
    // GitHub: a local reusable workflow is read at the caller's commit and takes no `@ref`.
    if (text.includes('@')) return fail(`\`${text}\`: a local workflow is read at the caller's commit; drop the \`@\``);
    const path = cleanPath(text.slice(2));
    return typeof path === 'string' ? { ok: true, ref: { kind: 'local', path } } : fail(`\`${text}\`: ${path.error}`);
  }
  const at = text.lastIndexOf('@');
  if (at < 0) return fail(`\`${text}\` names no version: ${EXPECTED} (a tag, a branch or a commit SHA after \`@\`)`);
  const ref = text.slice(at + 1);
  const [owner, repo, ...rest] = text.slice(0, at).split('/');
  if (owner === undefined || repo === undefined || !NAME.test(owner) || !NAME.test(repo) || rest.length === 0)
    return fail(`\`${text}\` is not a reusable workflow reference: ${EXPECTED}`);
  if (ref === '' || !GIT_REF.test(ref) || ref.includes('..') || ref.endsWith('/') || ref.endsWith('.lock'))
    return fail(`\`${text}\`: \`${ref}\` is not a git ref`);
  const path = cleanPath(rest.join('/'));
  if (typeof path !== 'string') return fail(`\`${text}\`: ${path.error}`);
  return { ok: true, ref: { kind: 'remote', owner, repo, path, ref } };
}

/** `uses:` written back in one spelling: the key a callee is read and looked up by. */
export function formatWorkflowRef(ref: WorkflowRef): string {
  return ref.kind === 'local' ? `./${ref.path}` : `${ref.owner}/${ref.repo}/${ref.path}@${ref.ref}`;
}

function cleanPath(path: string): string | { error: string } {
  const segments = path.split('/');
  if (segments.some((s) => s === '' || s === '.' || s === '..'))
    return { error: 'the path must not be empty or contain `.`, `..` or `//`' };
  if (!/\.ya?ml$/.test(path)) return { error: 'a reusable workflow is a `.yml` or `.yaml` file' };
  return path;
}

function fail(error: string): WorkflowRefResult {
  return { ok: false, error };
}
