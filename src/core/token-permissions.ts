/**
 * What an order's `GITHUB_TOKEN` may do, from its `permissions:` (the job's, else the workflow's), in the GitHub App
 * permission names an installation token is minted with (`POST /app/installations/{id}/access_tokens`).
 *
 * GitHub's rules ("Permissions for the GITHUB_TOKEN"): no `permissions:` gives the restricted default (contents and
 * packages read; metadata read, as every token has); `read-all` / `write-all` set every scope; a mapping sets the
 * scopes it names and leaves the rest at none. Two scopes are not App permissions and never reach the token:
 * `id-token` (it allows an OIDC token, not API calls) and `models` (GitHub Models, which an installation token
 * cannot be granted). Nothing beyond metadata means no token: `permissions: {}` gives the order none.
 */
import { PERMISSION_SCOPES, type PermissionScope, type Permissions } from './types.ts';

export type TokenAccess = 'read' | 'write';

/** App permission name (`pull_requests`) → access: the `permissions` body of an installation token request. */
export type TokenPermissions = Readonly<Record<string, TokenAccess>>;

/** GitHub's restricted default for a workflow that sets no `permissions:`. */
export const RESTRICTED_DEFAULT_SCOPES: Readonly<Partial<Record<PermissionScope, TokenAccess>>> = {
  contents: 'read',
  packages: 'read',
};

/** Scopes that are not GitHub App permissions (see the module comment). */
const NOT_APP_PERMISSIONS: ReadonlySet<PermissionScope> = new Set(['id-token', 'models']);

/** A workflow scope's App permission name: GitHub spells App permissions with `_` (`security-events` → `security_events`). */
export function appPermissionName(scope: PermissionScope): string {
  return scope.replaceAll('-', '_');
}

/**
 * The token an order gets: `undefined` for none (`permissions: {}`, or only scopes an installation token cannot
 * carry), else App permission → access, `metadata: read` always included (GitHub grants it to every token).
 */
export function tokenPermissionsFor(permissions: Permissions | undefined): TokenPermissions | undefined {
  const scopes: [PermissionScope, TokenAccess][] =
    permissions === undefined
      ? Object.entries(RESTRICTED_DEFAULT_SCOPES).map(([s, a]) => [s as PermissionScope, a])
      : permissions === 'read-all' || permissions === 'write-all'
        ? PERMISSION_SCOPES.map((s) => [s, permissions === 'read-all' ? 'read' : 'write'])
        : Object.entries(permissions).flatMap(([s, level]) =>
            level === 'read' || level === 'write' ? [[s as PermissionScope, level]] : [],
          );
  const granted = scopes.filter(([scope]) => !NOT_APP_PERMISSIONS.has(scope));
  if (granted.length === 0) return undefined;
  return Object.fromEntries([
    ['metadata', 'read'],
    ...granted.map(([scope, access]) => [appPermissionName(scope), access] as const),
  ]);
}

/**
 * Splits what a token asks for by what the installation was granted: `allowed` is the intersection (each
 * permission at the lower of the two accesses), `beyond` names each ask above the grant (`contents: write`).
 */
export function narrowTokenPermissions(
  wanted: TokenPermissions,
  granted: Readonly<Record<string, string>>,
): { readonly allowed: TokenPermissions; readonly beyond: readonly string[] } {
  const allowed: Record<string, TokenAccess> = {};
  const beyond: string[] = [];
  for (const [permission, access] of Object.entries(wanted)) {
    const have = granted[permission];
    const can: TokenAccess | undefined = have === 'write' ? 'write' : have === 'read' ? 'read' : undefined;
    if (can !== undefined) allowed[permission] = access === 'write' && can === 'read' ? 'read' : access;
    if (can === undefined || (access === 'write' && can === 'read')) beyond.push(`${permission}: ${access}`);
  }
  return { allowed, beyond };
}
