/**
 * The secrets pages for logged-in admins: `GET /secrets` (which one), `GET|POST /secrets/<owner>` (an
 * organization's, for its owners) and `GET|POST /secrets/<owner>/<repo>` (a repository's and its environments', for
 * its admins; the organization's names are listed too, as GitHub lists them to a repository's admins). The forge and
 * host are the logged-in person's: nobody manages another forge's secrets.
 *
 * A post is checked in this order: a session, the session's CSRF token (auth/secret-admins.ts), the forge's word
 * that this person administers what the post changes, then the same rules as `spotcheck secrets` (name, value,
 * environment; src/core/secrets.ts) and the same store. A set answers 303 to the page (POST/redirect/GET: a reload
 * never posts the value again). The value is never rendered, logged or put in a URL.
 */
import {
  describeSecretScope,
  environmentNameError,
  isScopeNamePart,
  MAX_SECRET_VALUE_BYTES,
  normalizeSecretName,
  secretNameError,
  secretValueError,
  type SecretScope,
} from '../../core/secrets.ts';
import type { SecretStore } from '../../store/secret-store.ts';
import type { AdminSession, AdminTarget, SecretAdmins } from '../auth/secret-admins.ts';
import { LOGOUT_PATH } from '../auth/login-routes.ts';
import { loginPath } from '../auth/visibility.ts';
import type { RouteDefinition, RouterRequest, RouterResponse } from '../router.ts';
import { htmlResponse, messagePage, type Account } from './page.ts';
import {
  renderSecretsIndex,
  renderSecretsPage,
  secretsPath,
  SECRETS_PATH,
  type SecretLevelChoice,
  type SecretsPageInput,
} from './secrets-page.ts';

export interface SecretsRouteOptions {
  readonly secrets: Pick<SecretStore, 'set' | 'list' | 'remove' | 'environments'>;
  readonly admins: SecretAdmins;
}

/** A form post: the value's 48 KB URL-encoded (each byte may take three), and room for the other fields. */
export const MAX_SECRET_FORM_BYTES = MAX_SECRET_VALUE_BYTES * 3 + 16 * 1024;

const NO_STORE = { 'cache-control': 'no-store' } as const;

interface Problem {
  readonly status: number;
  readonly problem: string;
  readonly formName?: string;
  readonly formEnvironment?: string;
}

export function createSecretsRoutes(opts: SecretsRouteOptions): RouteDefinition[] {
  const { admins, secrets } = opts;

  /** The session, or the answer for a request without one (GET: log in and come back; POST: 403). */
  const sessionFor = async (req: RouterRequest): Promise<AdminSession | RouterResponse> => {
    const session = await admins.sessionOf(req);
    if (session !== undefined) return session;
    if (req.method !== 'GET' && req.method !== 'HEAD')
      return messagePage(403, 'Not logged in', 'Log in to manage secrets.');
    const query = req.query.toString();
    const back = `${req.path}${query === '' ? '' : `?${query}`}`;
    return { status: 302, headers: { location: loginPath(back), ...NO_STORE }, body: '' };
  };

  const refuse = (session: AdminSession, target: AdminTarget): RouterResponse =>
    messagePage(
      403,
      'Not allowed',
      target.level === 'org'
        ? `Only an owner of ${target.owner} may manage its secrets, and ${session.viewer.host} does not say you are one.`
        : `Only an admin of ${target.owner}/${target.name} may manage its secrets, and ${session.viewer.host} does not say you are one.`,
      accountOf(session),
    );

  const index = async (req: RouterRequest): Promise<RouterResponse> => {
    const session = await sessionFor(req);
    if ('status' in session) return session;
    const wanted = req.query.get('for')?.trim();
    if (wanted === undefined || wanted === '') return htmlResponse(200, renderSecretsIndex(accountOf(session)));
    const parts = wanted.split('/');
    if (parts.length > 2 || !parts.every(isScopeNamePart))
      return htmlResponse(400, renderSecretsIndex(accountOf(session), 'Give an owner, or owner/name.'));
    return { status: 302, headers: { location: secretsPath(parts[0]!, parts[1]), ...NO_STORE }, body: '' };
  };

  const page = async (req: RouterRequest, target: AdminTarget): Promise<RouterResponse> => {
    const session = await sessionFor(req);
    if ('status' in session) return session;
    if (!(await admins.mayAdminister(req, session, target))) return refuse(session, target);
    const set = req.query.get('set');
    const removed = req.query.get('removed');
    const notice =
      set !== null && secretNameError(set) === undefined
        ? `Secret ${normalizeSecretName(set)} set.`
        : removed !== null && secretNameError(removed) === undefined
          ? `Secret ${normalizeSecretName(removed)} removed.`
          : undefined;
    return htmlResponse(200, await renderFor(session, target, notice === undefined ? {} : { notice }));
  };

  const renderFor = async (
    session: AdminSession,
    target: AdminTarget,
    extra: Pick<SecretsPageInput, 'notice' | 'problem' | 'formName' | 'formEnvironment'>,
  ): Promise<string> => {
    const { forge, host } = session.viewer;
    const org: SecretScope = { level: 'org', forge, host, owner: target.owner };
    let rows: SecretsPageInput['rows'];
    if (target.level === 'org') {
      rows = (await secrets.list(org)).map((secret) => ({ secret, removable: true }));
    } else {
      const repo = { forge, host, owner: target.owner, name: target.name };
      const environments = await secrets.environments(repo);
      const lists = await Promise.all([
        secrets.list({ level: 'repo', repo }),
        ...environments.map((environment) => secrets.list({ level: 'environment', repo, environment })),
      ]);
      const own = lists.flat().map((secret) => ({ secret, removable: true }));
      const inherited = (await secrets.list(org)).map((secret) => ({ secret, removable: false }));
      rows = [...own, ...inherited];
    }
    return renderSecretsPage({
      title: target.level === 'org' ? target.owner : `${target.owner}/${target.name}`,
      host,
      action: target.level === 'org' ? secretsPath(target.owner) : secretsPath(target.owner, target.name),
      csrf: admins.csrfToken(session),
      account: accountOf(session),
      rows,
      levels: levelsOf(target),
      ...extra,
    });
  };

  const post = async (req: RouterRequest, target: AdminTarget): Promise<RouterResponse> => {
    const session = await sessionFor(req);
    if ('status' in session) return session;
    const form = new URLSearchParams((await req.body()).toString('utf8'));
    if (!admins.isOwnPost(req, session, form.get('csrf') ?? ''))
      return messagePage(
        403,
        'Form refused',
        'This form expired or did not come from this site. Reload the page and try again.',
        accountOf(session),
      );
    const op = form.get('op');
    const level = form.get('level') ?? '';
    if ((op !== 'set' && op !== 'remove') || !(levelsOf(target) as readonly string[]).includes(level))
      return messagePage(400, 'Bad request', 'The form is not one of these pages’ forms.', accountOf(session));
    // Who may change it depends on what is changed: an organization's secret needs its owner, from any page.
    const changed: AdminTarget = level === 'org' ? { level: 'org', owner: target.owner } : target;
    if (!(await admins.mayAdminister(req, session, changed))) return refuse(session, changed);
    const checked = checkPost(session, target, level as SecretLevelChoice, form);
    if ('problem' in checked) {
      const { status, ...extra } = checked;
      return htmlResponse(status, await renderFor(session, target, extra));
    }
    const { scope, name } = checked;
    const where = describeSecretScope(scope);
    const back = target.level === 'org' ? secretsPath(target.owner) : secretsPath(target.owner, target.name);
    const who = { forge: session.viewer.forge, login: session.viewer.login, scope: where, name };
    if (op === 'set') {
      const info = await secrets.set(scope, name, form.get('value') ?? '', {
        outsiders: form.get('outsiders') === 'yes',
      });
      req.log.info({ ...who, outsiders: info.outsiders }, 'secrets: set on the dashboard');
      return redirect(`${back}?${new URLSearchParams({ set: info.name }).toString()}`);
    }
    if (!(await secrets.remove(scope, name)))
      return htmlResponse(404, await renderFor(session, target, { problem: `No secret ${name} for ${where}.` }));
    req.log.info(who, 'secrets: removed on the dashboard');
    return redirect(`${back}?${new URLSearchParams({ removed: name }).toString()}`);
  };

  const targetOf = (owner: string | undefined, name?: string): AdminTarget | undefined => {
    if (owner === undefined || !isScopeNamePart(owner)) return undefined;
    if (name === undefined) return { level: 'org', owner };
    return isScopeNamePart(name) ? { level: 'repo', owner, name } : undefined;
  };
  const notFound = (): Promise<RouterResponse> =>
    Promise.resolve(messagePage(404, 'Not found', 'No such secrets page.'));
  const withTarget =
    (handle: (req: RouterRequest, target: AdminTarget) => Promise<RouterResponse>) =>
    (req: RouterRequest, params: Readonly<Record<string, string>>): Promise<RouterResponse> => {
      const target = targetOf(params.owner, params.repo);
      return target === undefined ? notFound() : handle(req, target);
    };

  return [
    { method: 'GET', pattern: SECRETS_PATH, handle: index },
    { method: 'GET', pattern: `${SECRETS_PATH}/:owner`, handle: withTarget(page) },
    { method: 'GET', pattern: `${SECRETS_PATH}/:owner/:repo`, handle: withTarget(page) },
    {
      method: 'POST',
      pattern: `${SECRETS_PATH}/:owner`,
      maxBodyBytes: MAX_SECRET_FORM_BYTES,
      handle: withTarget(post),
    },
    {
      method: 'POST',
      pattern: `${SECRETS_PATH}/:owner/:repo`,
      maxBodyBytes: MAX_SECRET_FORM_BYTES,
      handle: withTarget(post),
    },
  ];
}

/** What a post may set: an organization's page its own; a repository's page its own, its environments', its owner's. */
function levelsOf(target: AdminTarget): readonly SecretLevelChoice[] {
  return target.level === 'org' ? ['org'] : ['repo', 'environment', 'org'];
}

/** The scope and name a post names, by the CLI's rules; or why not (the form comes back with the name only). */
function checkPost(
  session: AdminSession,
  target: AdminTarget,
  level: SecretLevelChoice,
  form: URLSearchParams,
): { readonly scope: SecretScope; readonly name: string } | Problem {
  const { forge, host } = session.viewer;
  const rawName = (form.get('name') ?? '').trim();
  const environment = (form.get('environment') ?? '').trim();
  const again = { formName: rawName, ...(environment === '' ? {} : { formEnvironment: environment }) };
  const nameProblem = secretNameError(rawName);
  if (nameProblem !== undefined) return { status: 400, problem: nameProblem, ...again };
  if (form.get('op') === 'set') {
    const valueProblem = secretValueError(form.get('value') ?? '');
    if (valueProblem !== undefined) return { status: 400, problem: valueProblem, ...again };
  }
  const name = normalizeSecretName(rawName);
  if (level === 'org') return { scope: { level: 'org', forge, host, owner: target.owner }, name };
  if (target.level === 'org') return { status: 400, problem: 'An organization has no repository secrets.', ...again };
  const repo = { forge, host, owner: target.owner, name: target.name };
  if (level === 'repo') return { scope: { level: 'repo', repo }, name };
  const envProblem = environmentNameError(environment);
  if (envProblem !== undefined) return { status: 400, problem: envProblem, ...again };
  return { scope: { level: 'environment', repo, environment }, name };
}

function redirect(location: string): RouterResponse {
  return { status: 303, headers: { location, ...NO_STORE }, body: '' };
}

function accountOf(session: AdminSession): Account {
  return { login: session.viewer.login, logoutPath: LOGOUT_PATH };
}
