/**
 * The dashboard's login, composed: the forges people log in with (from the server's OAuth settings), sessions in
 * the store, who may read what, and the login routes. The secret that signs sessions and badge keys is
 * SPOTCHECK_SESSION_SECRET, else one generated into the data folder on first start (kept 0600), so sessions and
 * badge keys survive restarts; replicas that share a store but not a folder must set it.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createGiteaLogin, createGitHubLogin, type LoginForge } from '../server/auth/login-forges.ts';
import { createLoginRoutes } from '../server/auth/login-routes.ts';
import { createSecretAdmins, type SecretAdmins } from '../server/auth/secret-admins.ts';
import { createSessions } from '../server/auth/sessions.ts';
import { createVisibility, type Visibility } from '../server/auth/visibility.ts';
import type { RouteDefinition } from '../server/router.ts';
import type { Store } from '../store/store.ts';
import type { ServerSettings } from './settings.ts';

export const SESSION_SECRET_FILE = 'session-secret';

export interface DashboardAuth {
  readonly visibility: Visibility;
  readonly routes: RouteDefinition[];
  /** Who may manage secrets, and the forms' CSRF tokens; undefined when nobody can log in. */
  readonly secretAdmins: SecretAdmins | undefined;
}

export interface DashboardAuthOptions {
  readonly settings: Pick<ServerSettings, 'github' | 'gitea' | 'login' | 'sessionSecret'>;
  readonly store: Pick<Store, 'putDoc' | 'getDoc' | 'deleteDoc'>;
  readonly publicUrl: string;
  readonly dataDir: string;
  readonly now: () => number;
  /** The forges' OAuth and REST endpoints are reached with it (tests stub it). */
  readonly fetch?: typeof fetch;
}

export async function createDashboardAuth(opts: DashboardAuthOptions): Promise<DashboardAuth> {
  const { settings, now } = opts;
  const secret =
    settings.sessionSecret === undefined
      ? await readOrCreateSecret(opts.dataDir)
      : Buffer.from(settings.sessionSecret, 'utf8');
  const loginForges = loginForgesOf(settings, opts.fetch ?? fetch);
  const sessions = createSessions({ store: opts.store, secret, secure: opts.publicUrl.startsWith('https:'), now });
  const noLogin = loginForges.length === 0;
  return {
    visibility: createVisibility({ sessions, loginForges, secret, now }),
    routes: noLogin ? [] : createLoginRoutes({ forges: loginForges, sessions, secret, publicUrl: opts.publicUrl, now }),
    secretAdmins: noLogin
      ? undefined
      : createSecretAdmins({ sessions, loginForges, secret, publicUrl: opts.publicUrl }),
  };
}

function loginForgesOf(settings: DashboardAuthOptions['settings'], fetchFn: typeof fetch): LoginForge[] {
  const forges: LoginForge[] = [];
  const { github, gitea, login } = settings;
  if (github && login?.github)
    forges.push(
      createGitHubLogin({
        host: github.host,
        webUrl: `${github.protocol}://${github.host}`,
        apiUrl: github.baseUrl,
        client: login.github,
        fetch: fetchFn,
      }),
    );
  if (gitea && login?.gitea)
    forges.push(
      createGiteaLogin({ host: new URL(gitea.url).host, webUrl: gitea.url, client: login.gitea, fetch: fetchFn }),
    );
  return forges;
}

/** 32 random bytes in `<dataDir>/session-secret`, created once (exclusively: two starts agree on the first). */
async function readOrCreateSecret(dataDir: string): Promise<Buffer> {
  const path = join(dataDir, SESSION_SECRET_FILE);
  await mkdir(dataDir, { recursive: true });
  try {
    await writeFile(path, randomBytes(32).toString('hex'), { flag: 'wx', mode: 0o600 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  return Buffer.from((await readFile(path, 'utf8')).trim(), 'utf8');
}
