/**
 * `GET /login[?forge=&redirect=]`, `GET /login/:forge/callback`, `POST /logout`. Login sends the browser to the
 * forge with a random `state` that is also kept, signed, in a short-lived cookie with the page to come back to; the
 * callback accepts the code only when the forge's `state` equals the cookie's (RFC 6749 §10.12: CSRF on the
 * redirect URI), exchanges it for the user's token, asks the forge who that is, and starts a session. The page to
 * come back to is always a same-origin path (safeRedirect).
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { ForgeKind } from '../../core/types.ts';
import { joinUrl } from '../../core/url.ts';
import type { RouteDefinition, RouterRequest, RouterResponse } from '../router.ts';
import { html } from '../dashboard/html.ts';
import { htmlResponse, messagePage, renderPage } from '../dashboard/page.ts';
import { parseCookies, safeRedirect, serializeCookie, signValue, verifyValue } from './cookies.ts';
import type { LoginForge } from './login-forges.ts';
import { deriveKey, type Sessions } from './sessions.ts';
import { LOGIN_PATH } from './visibility.ts';

export const LOGOUT_PATH = '/logout';
export const LOGIN_STATE_COOKIE = 'spotcheck_login';
/** How long someone may take at the forge's consent page. */
export const LOGIN_STATE_TTL_MS = 10 * 60_000;

export function callbackPath(forge: ForgeKind): string {
  return `${LOGIN_PATH}/${forge}/callback`;
}

export interface LoginRouteOptions {
  readonly forges: readonly LoginForge[];
  readonly sessions: Sessions;
  readonly secret: Buffer;
  /** The server's public URL: the callback URL the forge sends the browser to. */
  readonly publicUrl: string;
  readonly now: () => number;
}

interface LoginState {
  readonly state: string;
  readonly forge: ForgeKind;
  readonly redirect: string;
  readonly exp: number;
}

const NO_STORE = { 'cache-control': 'no-store' } as const;

export function createLoginRoutes(opts: LoginRouteOptions): RouteDefinition[] {
  const key = deriveKey(opts.secret, 'login state');
  const secure = opts.publicUrl.startsWith('https:');
  const stateCookie = (value: string, maxAgeMs: number): string =>
    serializeCookie(LOGIN_STATE_COOKIE, value, { path: LOGIN_PATH, maxAge: maxAgeMs / 1000, secure });
  const redirectUri = (forge: ForgeKind): string => joinUrl(opts.publicUrl, callbackPath(forge));

  const login = (req: RouterRequest): Promise<RouterResponse> => {
    const redirect = safeRedirect(req.query.get('redirect'));
    const wanted = req.query.get('forge');
    const choices = opts.forges.filter((f) => wanted === null || f.forge === wanted);
    if (choices.length === 0)
      return Promise.resolve(messagePage(404, 'No login', 'This server offers no login with that forge.'));
    if (choices.length > 1) return Promise.resolve(chooseForge(choices, redirect));
    const forge = choices[0]!;
    const state = randomBytes(24).toString('base64url');
    const value: LoginState = { state, forge: forge.forge, redirect, exp: opts.now() + LOGIN_STATE_TTL_MS };
    return Promise.resolve({
      status: 302,
      headers: {
        location: forge.authorizeUrl(state, redirectUri(forge.forge)),
        'set-cookie': stateCookie(signValue(key, 'login-state', value), LOGIN_STATE_TTL_MS),
        ...NO_STORE,
      },
      body: '',
    });
  };

  const callback = async (req: RouterRequest, forgeKind: string): Promise<RouterResponse> => {
    const forge = opts.forges.find((f) => f.forge === forgeKind);
    if (forge === undefined) return messagePage(404, 'No login', 'This server offers no login with that forge.');
    const clear = stateCookie('', 0);
    const refuse = (message: string): RouterResponse => {
      const page = messagePage(400, 'Login failed', message);
      return { ...page, headers: { ...page.headers, 'set-cookie': clear, ...NO_STORE } };
    };
    const raw = parseCookies(req.headers.cookie).get(LOGIN_STATE_COOKIE);
    const saved = raw === undefined ? undefined : (verifyValue(key, 'login-state', raw) as Partial<LoginState>);
    const state = req.query.get('state') ?? '';
    const code = req.query.get('code') ?? '';
    if (
      saved === undefined ||
      typeof saved.state !== 'string' ||
      saved.forge !== forge.forge ||
      typeof saved.exp !== 'number' ||
      saved.exp <= opts.now() ||
      !sameText(saved.state, state)
    )
      return refuse('The login expired or did not start here. Try again.');
    if (code === '') return refuse('The forge did not authorize the login.');
    let token: string;
    let expiresInS: number | undefined;
    let login: string;
    try {
      ({ token, expiresInS } = await forge.exchangeCode(code, redirectUri(forge.forge)));
      login = await forge.readLogin(token);
    } catch (error) {
      req.log.warn({ err: error, forge: forge.forge }, 'login: the forge refused the code');
      return refuse('The forge did not confirm the login. Try again.');
    }
    const session = await opts.sessions.create(
      { forge: forge.forge, host: forge.host, login },
      token,
      ...(expiresInS === undefined ? [] : [expiresInS * 1000]),
    );
    req.log.info({ forge: forge.forge, login }, 'login');
    return {
      status: 302,
      headers: {
        location: safeRedirect(typeof saved.redirect === 'string' ? saved.redirect : undefined),
        // One Set-Cookie per answer (the router's headers are single-valued); the state cookie is useless now: the
        // forge takes a code once, and it expires with LOGIN_STATE_TTL_MS.
        'set-cookie': session,
        ...NO_STORE,
      },
      body: '',
    };
  };

  return [
    { method: 'GET', pattern: LOGIN_PATH, handle: login },
    {
      method: 'GET',
      pattern: `${LOGIN_PATH}/:forge/callback`,
      handle: (req, params) => callback(req, params.forge ?? ''),
    },
    {
      method: 'POST',
      pattern: LOGOUT_PATH,
      async handle(req) {
        const cleared = await opts.sessions.destroy(req.headers.cookie);
        return { status: 303, headers: { location: '/runs', 'set-cookie': cleared, ...NO_STORE }, body: '' };
      },
    },
  ];
}

function chooseForge(forges: readonly LoginForge[], redirect: string): RouterResponse {
  const links = forges.map((f) => {
    const query = new URLSearchParams({ forge: f.forge, redirect });
    return html`<li><a href="${`${LOGIN_PATH}?${query.toString()}`}">Log in with ${f.label} (${f.host})</a></li>`;
  });
  return htmlResponse(
    200,
    renderPage({
      title: 'Log in',
      crumbs: [{ label: 'Log in' }],
      main: html`<h1>Log in</h1>
        <ul>
          ${links}
        </ul>`,
    }),
  );
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
