/**
 * `uses:` of a step, read the way GitHub's runner reads it (workflow syntax, `jobs.<job_id>.steps[*].uses`): `./path`
 * is a local action, `$/path` one of the workflow's own repository at the commit running (GitHub's self-repository
 * reference), `docker://image` a container action, `{owner}/{repo}[/path]@{ref}` a repository's action.
 * Gitea (and Forgejo) also take a full URL, `https://host/{owner}/{repo}[/path]@{ref}`, naming the source. Pure.
 */
import type { ActionRef } from '../types.ts';

export type ActionRefResult =
  { readonly ok: true; readonly ref: ActionRef } | { readonly ok: false; readonly error: string };

/** GitHub's owner and repository name characters. */
const NAME = /^[A-Za-z0-9_.-]+$/;
/** A git ref or commit id: no spaces or control characters, no `..`, none of git's forbidden characters. */
// eslint-disable-next-line no-control-regex -- control characters are exactly what a ref may not hold
const GIT_REF = /^[^\s~^:?*[\\\x00-\x1f\x7f]+$/;
const SOURCE = /^https?:\/\/[A-Za-z0-9.-]+(?::\d{1,5})?$/;
const EXPECTED = 'expected `./path/to/action`, `$/path/to/action`, `docker://image`, or `{owner}/{repo}[/path]@{ref}`';
/** GitHub's self-repository prefix (actions/runner `PipelineConstants.SelfRepositoryPrefix`). */
const SELF = '$/';

export function parseActionRef(uses: string): ActionRefResult {
  const text = uses.trim();
  if (text === '') return fail('`uses` is empty: ' + EXPECTED);
  if (text.includes('${{')) return fail('`uses` cannot hold an expression (GitHub reads it before the job runs)');
  if (text.startsWith('./') || text === '.') return local(text);
  if (text.startsWith(SELF)) return self(text);
  if (text.startsWith('docker://')) {
    const image = text.slice('docker://'.length);
    if (image === '' || /\s/.test(image)) return fail(`\`${text}\` names no image: expected \`docker://image[:tag]\``);
    return { ok: true, ref: { kind: 'docker', image } };
  }
  let source: string | undefined;
  let rest = text;
  const url = /^(https?:\/\/[^/]+)\/(.*)$/.exec(text);
  if (url) {
    source = url[1]!;
    rest = url[2]!;
    if (!SOURCE.test(source)) return fail(`\`${text}\`: \`${source}\` is not a source spotcheck can fetch from`);
  }
  const at = rest.lastIndexOf('@');
  if (at < 0) return fail(`\`${text}\` names no version: ${EXPECTED} (a tag, a branch or a commit SHA after \`@\`)`);
  const ref = rest.slice(at + 1);
  const parts = rest.slice(0, at).split('/');
  const [owner, repo, ...path] = parts;
  if (owner === undefined || repo === undefined || !NAME.test(owner) || !NAME.test(repo))
    return fail(`\`${text}\` is not an action reference: ${EXPECTED}`);
  if (path.some((p) => p === '' || p === '.' || p === '..'))
    return fail(`\`${text}\`: the path inside the repository must not be empty or contain \`.\` or \`..\``);
  if (ref === '' || !GIT_REF.test(ref) || ref.includes('..') || ref.endsWith('/') || ref.endsWith('.lock'))
    return fail(`\`${text}\`: \`${ref}\` is not a git ref`);
  return {
    ok: true,
    ref: {
      kind: 'remote',
      ...(source === undefined ? {} : { source }),
      owner,
      repo,
      ...(path.length === 0 ? {} : { path: path.join('/') }),
      ref,
    },
  };
}

/** A local action's folder, relative to the workspace; it may not climb out of it. */
function local(text: string): ActionRefResult {
  const segments = text.split('/').filter((s) => s !== '' && s !== '.');
  if (segments.includes('..')) return fail(`\`${text}\`: a local action must stay inside the workspace (no \`..\`)`);
  return { ok: true, ref: { kind: 'local', path: segments.length === 0 ? '.' : segments.join('/') } };
}

/**
 * `$/path`: the workflow's own repository at the commit running. The path is inside that repository, as a local
 * action's is inside the workspace: no `..`, no `@ref` (the commit is the one running), not rooted (`$//x`).
 */
function self(text: string): ActionRefResult {
  const rest = text.slice(SELF.length);
  if (rest.includes('@'))
    return fail(`\`${text}\`: a self-repository action is read at the commit running; drop the \`@\``);
  if (rest.startsWith('/'))
    return fail(`\`${text}\`: the path after \`$/\` is inside the repository: drop the leading \`/\``);
  const segments = rest.split('/').filter((s) => s !== '' && s !== '.');
  if (segments.includes('..'))
    return fail(`\`${text}\`: a self-repository action must stay inside the repository (no \`..\`)`);
  return { ok: true, ref: { kind: 'local', path: segments.length === 0 ? '.' : segments.join('/'), self: true } };
}

function fail(error: string): ActionRefResult {
  return { ok: false, error };
}

/** `uses:` as GitHub writes a reference back (for logs and cache keys). */
export function formatActionRef(ref: ActionRef): string {
  switch (ref.kind) {
    case 'local':
      return `${ref.self === true ? '$' : '.'}/${ref.path === '.' ? '' : ref.path}`;
    case 'docker':
      return `docker://${ref.image}`;
    case 'remote':
      return `${ref.source === undefined ? '' : `${ref.source}/`}${ref.owner}/${ref.repo}${ref.path === undefined ? '' : `/${ref.path}`}@${ref.ref}`;
  }
}
