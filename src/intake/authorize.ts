/**
 * May this user run code in this repository? docs/architecture.md "Security model": pull-request code runs only for
 * members of the authorizing org (the operator's `org`, else the repository owner when it is an org), checked with the
 * forge's membership API (which, unlike `author_association`, sees private members). A user-owned repository with
 * no configured org has no members: only its owner. Any doubt denies.
 */
import type { RepoRef } from '../core/types.ts';
import type { ForgeInstallation, ForgeLookup } from './intents.ts';

export interface Authorization {
  readonly allowed: boolean;
  /** One line a user can read: why (not). */
  readonly reason: string;
  /** The org whose membership decided, when one did. */
  readonly org?: string;
  /** The membership could not be checked (an API error): denied, but the user was not found to be an outsider. */
  readonly undetermined?: boolean;
}

export interface Authorizer {
  authorize(install: ForgeInstallation, repo: RepoRef, user: string, ownerIsOrg: boolean): Promise<Authorization>;
}

export interface AuthorizerOptions {
  readonly forges: ForgeLookup;
  /** The operator's authorizing org (config `org`). */
  readonly org?: string;
  /** How long an answer (yes or no) is reused. At most 60 s: a removed member loses access within a minute. */
  readonly ttlMs?: number;
  readonly now: () => number;
  /** Bound on remembered answers (oldest dropped first). */
  readonly maxEntries?: number;
}

const MAX_TTL_MS = 60_000;

export function createAuthorizer(options: AuthorizerOptions): Authorizer {
  const ttl = Math.min(options.ttlMs ?? MAX_TTL_MS, MAX_TTL_MS);
  const maxEntries = options.maxEntries ?? 10_000;
  const cache = new Map<string, { readonly at: number; readonly answer: Authorization }>();
  const orgs = new Map<string, { readonly at: number; readonly isOrg: boolean }>();

  async function checkMembership(install: ForgeInstallation, org: string, user: string): Promise<Authorization> {
    try {
      const forge = await options.forges.forInstallation(install);
      const answer = await forge.isOrgMember(org, user);
      return answer.member
        ? { allowed: true, reason: `@${user} is a member of ${org}`, org }
        : {
            allowed: false,
            reason: answer.reason ?? `@${user} is not a member of ${org}`,
            org,
            ...(answer.undetermined === true ? { undetermined: true } : {}),
          };
    } catch {
      // The Forge already answers "no" on error; this catches what fails before it (installation auth, lookup).
      return {
        allowed: false,
        reason: `the membership of @${user} in ${org} could not be checked`,
        org,
        undetermined: true,
      };
    }
  }

  /**
   * GitHub's payloads say whether the owner is an organization (`owner.type`); Gitea's never do (its User has no
   * type), so for Gitea the forge is asked. An error answers "not an org", which leaves only the owner allowed.
   */
  async function ownerIsOrganization(
    install: ForgeInstallation,
    owner: string,
    fromPayload: boolean,
  ): Promise<boolean> {
    if (fromPayload || install.forge !== 'gitea') return fromPayload;
    const key = `org?\n${install.host}\n${owner}`.toLowerCase();
    const now = options.now();
    const cached = orgs.get(key);
    if (cached !== undefined && now - cached.at < ttl && now >= cached.at) return cached.isOrg;
    let isOrg = false;
    try {
      isOrg = await (await options.forges.forInstallation(install)).isOrganization(owner);
    } catch {
      isOrg = false;
    }
    orgs.set(key, { at: now, isOrg });
    if (orgs.size > maxEntries) orgs.delete(orgs.keys().next().value!);
    return isOrg;
  }

  return {
    async authorize(install, repo, user, ownerIsOrg) {
      const org =
        options.org ?? ((await ownerIsOrganization(install, repo.owner, ownerIsOrg)) ? repo.owner : undefined);
      if (org === undefined) {
        // Logins are case-insensitive on GitHub and Gitea.
        return user.toLowerCase() === repo.owner.toLowerCase()
          ? { allowed: true, reason: `@${user} owns ${repo.owner}/${repo.name}` }
          : {
              allowed: false,
              reason: `${repo.owner}/${repo.name} belongs to a user, and only @${repo.owner} may run its workflows`,
            };
      }
      const key = [install.host, org, user].map((s) => s.toLowerCase()).join('\n');
      const now = options.now();
      const cached = cache.get(key);
      if (cached !== undefined && now - cached.at < ttl && now >= cached.at) return cached.answer;
      const answer = await checkMembership(install, org, user);
      cache.delete(key);
      cache.set(key, { at: now, answer });
      if (cache.size > maxEntries) cache.delete(cache.keys().next().value!);
      return answer;
    },
  };
}
