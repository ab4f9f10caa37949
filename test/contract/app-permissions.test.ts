/**
 * app.yml asks for exactly what spotcheck uses. Every endpoint in GITHUB_ENDPOINTS exists in GitHub's OpenAPI
 * description and is covered by a permission app.yml grants (GitHub's "Permissions required for GitHub Apps", as
 * published in @octokit/app-permissions), and every permission app.yml grants is needed by some endpoint, at no
 * higher access than needed.
 */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import {
  GITHUB_APP_ENDPOINTS,
  GITHUB_ENDPOINTS,
  GITHUB_SERVER_ENDPOINTS,
  GITHUB_TOKEN_ENDPOINTS,
  type GitHubEndpoint,
} from '../../src/forges/github.ts';
import { hasGitHubEndpoint, packageFile } from '../helpers/github-api.ts';
import { GITHUB_CAPACITY_ENDPOINTS } from '../../src/forges/github-capacity.ts';

type Access = 'read' | 'write';
interface Grant {
  readonly permission: string;
  readonly access: Access;
}

interface Manifest {
  readonly name?: unknown;
  readonly url?: unknown;
  readonly public?: unknown;
  readonly hook_attributes?: { readonly url?: unknown };
  readonly default_events?: unknown;
  readonly default_permissions?: Readonly<Record<string, unknown>>;
}

interface PermissionsFile {
  readonly permissions: Readonly<
    Record<string, { readonly read?: readonly string[]; readonly write?: readonly string[] }>
  >;
}

const manifest = parse(readFileSync(new URL('../../app.yml', import.meta.url), 'utf8')) as Manifest;
const granted = Object.entries(manifest.default_permissions ?? {});
const permissionsFile = JSON.parse(
  readFileSync(packageFile('@octokit/app-permissions', 'generated/api.github.com.json'), 'utf8'),
) as PermissionsFile;

/**
 * Permissions granted for a reason the endpoint table cannot express, each tied to the endpoint that needs it (so
 * removing the call makes the grant unused again).
 */
const EXTRA_NEEDS: Readonly<
  Record<string, { readonly endpoint: GitHubEndpoint; readonly access: Access; readonly why: string }>
> = {
  members: {
    endpoint: 'GET /orgs/{org}/members/{username}',
    access: 'read',
    // The endpoint itself needs only metadata, but answers 302 (not a member) for private members unless the
    // installation can read the organization's members: GitHub's "Check organization membership for a user".
    why: 'the membership check sees private members only with Members: read',
  },
};

/** `{owner}` and `{base}...{head}` (the table's spelling of `{basehead}`) compare equal. */
function normalise(route: string): string {
  return route.replace(/\{[^}]+\}\.\.\.\{[^}]+\}/g, '{}').replace(/\{[^}]+\}/g, '{}');
}

/**
 * Endpoints @octokit/app-permissions 2.1.0 does not list yet, with the permission GitHub's REST reference states for
 * them ("Create configuration for a just-in-time runner for a repository": the "Administration" repository
 * permission, write).
 */
const DOCUMENTED_GRANTS: Readonly<Record<string, readonly Grant[]>> = {
  'POST /repos/{owner}/{repo}/actions/runners/generate-jitconfig': [{ permission: 'administration', access: 'write' }],
};

/** Every permission that GitHub documents as sufficient for the route (any one of them will do). */
function sufficientGrants(endpoint: string): Grant[] {
  const documented = DOCUMENTED_GRANTS[endpoint];
  if (documented !== undefined) return [...documented];
  const want = normalise(endpoint);
  const found: Grant[] = [];
  for (const [permission, routes] of Object.entries(permissionsFile.permissions)) {
    for (const access of ['read', 'write'] as const) {
      if ((routes[access] ?? []).some((r) => normalise(r) === want)) found.push({ permission, access });
    }
  }
  return found;
}

function grants(permission: string, access: Access): boolean {
  const have = manifest.default_permissions?.[permission];
  return have === 'write' || (have === 'read' && access === 'read');
}

const installationEndpoints = [
  ...GITHUB_ENDPOINTS.filter(
    (e) => !([...GITHUB_APP_ENDPOINTS, ...GITHUB_TOKEN_ENDPOINTS] as readonly string[]).includes(e),
  ),
  // The GitHub adapter's capacity operations (src/forges/github-capacity.ts), checked the same way.
  ...GITHUB_CAPACITY_ENDPOINTS,
];

describe('app.yml', () => {
  it('is a private app subscribed to push, pull_request, issue_comment and workflow_job', () => {
    expect(manifest.name).toBe('spotcheck');
    expect(manifest.public).toBe(false);
    expect(typeof manifest.url).toBe('string');
    expect(typeof manifest.hook_attributes?.url).toBe('string');
    expect(manifest.default_events).toEqual(['push', 'pull_request', 'issue_comment', 'workflow_job']);
  });

  it('grants only read or write', () => {
    for (const [permission, access] of granted)
      expect([permission, access]).toEqual([permission, expect.stringMatching(/^(read|write)$/)]);
  });
});

describe('every endpoint spotcheck calls', () => {
  it.each([...GITHUB_ENDPOINTS, ...GITHUB_SERVER_ENDPOINTS, ...GITHUB_CAPACITY_ENDPOINTS])(
    '%s exists in the OpenAPI description of github.com and of GHES 3.19',
    (endpoint) => {
      const [method, template] = endpoint.split(' ') as [string, string];
      expect(hasGitHubEndpoint(method, template, 'api.github.com')).toBe(true);
      expect(hasGitHubEndpoint(method, template, 'ghes-3.19')).toBe(true);
    },
  );

  it.each(installationEndpoints)('%s is covered by a permission in app.yml', (endpoint) => {
    const options = sufficientGrants(endpoint);
    expect(options, `${endpoint} is not in GitHub's permission table`).not.toHaveLength(0);
    expect(
      options.some((g) => grants(g.permission, g.access)),
      `${endpoint} needs one of ${options.map((g) => `${g.permission}: ${g.access}`).join(', ')}`,
    ).toBe(true);
  });

  it.each([...GITHUB_APP_ENDPOINTS, ...GITHUB_SERVER_ENDPOINTS])(
    '%s is an app (JWT) endpoint, which needs no installation permission',
    (endpoint) => {
      expect(endpoint).toMatch(/^[A-Z]+ \/app(\/|$)/);
      expect(sufficientGrants(endpoint)).toEqual([]);
    },
  );

  it.each(GITHUB_TOKEN_ENDPOINTS)('%s is called with an order token itself, which needs no permission', (endpoint) => {
    expect(endpoint).toBe('DELETE /installation/token');
    expect(sufficientGrants(endpoint)).toEqual([]);
  });
});

describe('every permission app.yml grants', () => {
  /** The access each permission is needed at: the highest among endpoints that it alone could satisfy. */
  function neededAccess(permission: string): Access | undefined {
    let needed: Access | undefined;
    for (const endpoint of installationEndpoints) {
      for (const g of sufficientGrants(endpoint)) {
        if (g.permission === permission && (needed === undefined || g.access === 'write')) needed = g.access;
      }
    }
    const extra = EXTRA_NEEDS[permission];
    if (extra !== undefined && (GITHUB_ENDPOINTS as readonly string[]).includes(extra.endpoint)) {
      if (needed === undefined || extra.access === 'write') needed = extra.access;
    }
    return needed;
  }

  it.each(granted.filter(([permission]) => permission !== 'metadata'))(
    '%s: %s is needed by an endpoint spotcheck calls, at that access',
    (permission, access) => {
      expect(neededAccess(permission), `${permission} is granted but no endpoint needs it`).toBe(access);
    },
  );

  it('includes metadata: read (GitHub grants it to every app)', () => {
    expect(manifest.default_permissions?.metadata).toBe('read');
  });

  it('would flag a permission nothing needs and an access above the need', () => {
    expect(neededAccess('deployments')).toBeUndefined();
    expect(neededAccess('contents')).toBe('read');
  });
});
