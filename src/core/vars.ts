/**
 * The `vars` context of a run: configuration variables the operator sets per org (`owner/*`) and per repository
 * (`owner/name`), as GitHub's organization and repository variables ("Store information in variables"). A
 * repository's variable wins over its org's of the same name; names compare case-insensitively, as on GitHub. Pure.
 */

/** Pattern (`owner/*` or `owner/name`, lower-cased) → variables (names upper-cased). */
export type VarsSettings = ReadonlyMap<string, Readonly<Record<string, string>>>;

/** GitHub's rule for variable names (and secrets): letters, digits and `_`, not starting with a digit or `GITHUB_`. */
export const VAR_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function varNameProblem(name: string): string | undefined {
  if (!VAR_NAME.test(name)) return 'may contain only letters, digits and `_`, and must not start with a digit';
  if (name.toUpperCase().startsWith('GITHUB_')) return 'must not start with `GITHUB_` (GitHub reserves the prefix)';
  return undefined;
}

/** The variables one repository's runs see: its org's, then its own over them. */
export function resolveVars(
  settings: VarsSettings,
  repo: { readonly owner: string; readonly name: string },
): Readonly<Record<string, string>> {
  const owner = repo.owner.toLowerCase();
  return {
    ...settings.get(`${owner}/*`),
    ...settings.get(`${owner}/${repo.name.toLowerCase()}`),
  };
}
