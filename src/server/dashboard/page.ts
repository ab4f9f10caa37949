/**
 * The page shell every dashboard page shares: landmarks (header, nav, main, footer), the stylesheet and the one
 * small script that keeps live parts fresh. Pages work without JavaScript (a `<noscript>` meta refresh stands in
 * for the fetch loop) and on a phone (a 375 px viewport never scrolls sideways: wide tables stack, the graph scrolls
 * inside its own box).
 *
 * The stylesheet and the script are fixed strings, so the Content-Security-Policy allows exactly them by hash
 * (CSP Level 3 §8.3 "hash-source") and nothing else: even if some text slipped through escaping, a browser would
 * run no script of its own.
 */
import { createHash } from 'node:crypto';
import type { RouterResponse } from '../router.ts';
import { html, trusted, type SafeHtml } from './html.ts';

const STYLE = `
:root{color-scheme:light;--fg:#1f2328;--muted:#59636e;--border:#d1d9e0;--soft:#f6f8fa;--link:#0969da}
*{box-sizing:border-box}
body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:var(--fg);background:#fff}
a{color:var(--link)}
.skip{position:absolute;left:-9999px}.skip:focus{left:8px;top:8px;background:#fff;padding:4px 8px;z-index:1}
header.top{border-bottom:1px solid var(--border);background:var(--soft);padding:8px 16px;display:flex;justify-content:space-between;gap:8px}
header.top .account{margin:0}
header.top ol{list-style:none;margin:0;padding:0;display:flex;flex-wrap:wrap;gap:4px 6px}
header.top li{overflow-wrap:anywhere}
header.top li+li::before{content:"\\203A";margin-right:6px;color:var(--muted)}
header.top .brand{font-weight:700;text-decoration:none;color:var(--fg)}
main{padding:12px 16px 24px;max-width:1280px;margin:0 auto}
footer{padding:8px 16px;color:var(--muted);font-size:13px;border-top:1px solid var(--border)}
h1{font-size:1.35rem;margin:.3em 0 .5em;overflow-wrap:anywhere}
h2{font-size:1.1rem;margin:1.3em 0 .5em}
.note{color:var(--muted)}
.state{display:inline-block;padding:0 8px;border-radius:999px;border:1px solid;white-space:nowrap;font-size:13px;line-height:1.6}
.s-queued,.s-pending{background:#f6f8fa;border-color:#8c959f;color:#424a53}
.s-dispatching,.s-running{background:#ddf4ff;border-color:#0969da;color:#0550ae}
.s-interrupted{background:#fff8c5;border-color:#9a6700;color:#7d4e00}
.s-succeeded{background:#dafbe1;border-color:#1a7f37;color:#116329}
.s-failed{background:#ffebe9;border-color:#cf222e;color:#a40e26}
.s-timed_out{background:#fff1e5;border-color:#bc4c00;color:#953800}
.s-cancelled{background:#eaeef2;border-color:#57606a;color:#424a53}
.s-skipped{background:#fff;border-color:#afb8c1;border-style:dashed;color:#59636e}
dl.facts{display:grid;grid-template-columns:max-content minmax(0,1fr);gap:2px 14px;margin:0 0 8px}
dl.facts dt{color:var(--muted)}
dl.facts dd{margin:0;overflow-wrap:anywhere}
table{border-collapse:collapse;width:100%;font-size:14px}
caption{text-align:left;color:var(--muted);padding:4px 0}
th,td{text-align:left;padding:6px 8px;border-bottom:1px solid var(--border);vertical-align:top}
th{background:var(--soft);white-space:nowrap}
td{overflow-wrap:anywhere}
td.num,th.num{white-space:nowrap}
code{font:13px ui-monospace,"DejaVu Sans Mono",monospace}
.graph-wrap{overflow:auto;max-height:75vh;border:1px solid var(--border);border-radius:6px;background:#fff}
.graph-wrap svg{display:block;max-width:none}
.graph-wrap a:focus-visible rect,.graph-wrap a:hover rect{stroke-width:3.5}
pre.log{background:#0d1117;color:#e6edf3;padding:10px 12px;border-radius:6px;overflow:auto;max-height:70vh;min-height:4em;margin:0;white-space:pre-wrap;overflow-wrap:anywhere;font:13px/1.45 ui-monospace,"DejaVu Sans Mono",monospace}
pre.log details.group{margin:0}
pre.log details.group>summary{cursor:pointer;color:#9ecbff}
pre.log details.group>div{padding-left:1.2em;border-left:1px solid #30363d}
ul.annotations{list-style:none;padding:0;margin:0}
ul.annotations li{border:1px solid var(--border);border-left-width:4px;border-radius:4px;padding:4px 8px;margin:0 0 6px}
ul.annotations li.a-error{border-left-color:#cf222e}
ul.annotations li.a-warning{border-left-color:#9a6700}
ul.annotations li.a-notice{border-left-color:#0969da}
ul.annotations .level{font-weight:600;margin-right:6px}
ul.annotations .message{white-space:pre-wrap;overflow-wrap:anywhere;font:13px/1.45 ui-monospace,"DejaVu Sans Mono",monospace}
.step-summary{border:1px solid var(--border);border-radius:6px;padding:4px 12px;margin:0 0 10px}
.step-summary h4{margin:.4em 0;color:var(--muted);font-weight:600}
.markdown{overflow-wrap:anywhere}
.markdown table{width:auto;max-width:100%;display:block;overflow:auto}
.markdown pre{background:var(--soft);padding:8px;border-radius:6px;overflow:auto}
iframe.log{width:100%;height:60vh;border:1px solid var(--border);border-radius:6px}
.pager{display:flex;flex-wrap:wrap;gap:8px 20px;margin:10px 0}
form.filter{display:flex;flex-wrap:wrap;gap:8px;align-items:flex-end;margin:0 0 10px}
form.filter label{display:flex;flex-direction:column;font-size:13px;color:var(--muted)}
input,button,select,textarea{font:inherit;padding:4px 8px;max-width:100%}
form.secret{display:grid;gap:10px;max-width:40em}
form.secret label{display:flex;flex-direction:column;font-size:13px;color:var(--muted)}
form.secret label.check{flex-direction:row;gap:6px;align-items:center;color:var(--fg)}
form.secret textarea{font:13px ui-monospace,"DejaVu Sans Mono",monospace}
.problem{color:#a40e26}.notice{color:#116329}
@media (max-width:640px){
main{padding:10px 10px 20px}
dl.facts{grid-template-columns:minmax(0,1fr)}
dl.facts dd{margin-bottom:6px}
table.stack thead{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}
table.stack,table.stack tbody,table.stack tr,table.stack td{display:block;width:100%}
table.stack tr{border-bottom:1px solid var(--border);padding:6px 0}
table.stack caption{display:block}
table.stack td{border:0;padding:2px 4px 2px 7.5em;position:relative;min-height:1.6em}
table.stack td::before{content:attr(data-label);position:absolute;left:4px;width:6.5em;color:var(--muted)}
table.stack td:empty{display:none}
}
`;

/**
 * The live parts. `#live[data-refresh]` is re-fetched (same URL plus `part=live`) and swapped in every that-many
 * milliseconds while the attribute is there; the server leaves it out once nothing on the page can change.
 * `pre#log[data-log-src]` tails the plain-text log route: the answer is a stream that follows the log while the
 * order runs, so it is read chunk by chunk and appended as text (never as HTML).
 */
const SCRIPT = `
(() => {
  'use strict';
  const live = () => document.getElementById('live');
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  async function refresh() {
    const el = live();
    if (!el) return;
    const url = new URL(location.href);
    url.searchParams.set('part', 'live');
    try {
      const res = await fetch(url, { cache: 'no-store', headers: { accept: 'text/html' } });
      if (!res.ok) return;
      const doc = new DOMParser().parseFromString(await res.text(), 'text/html');
      const fresh = doc.getElementById('live');
      if (fresh && live() === el) el.replaceWith(document.adoptNode(fresh));
    } catch (e) {
      /* offline for a moment: the next round tries again */
    }
  }
  async function loop() {
    for (;;) {
      const ms = Number(live()?.dataset.refresh);
      if (!(ms > 0)) return;
      await sleep(ms);
      if (!document.hidden) await refresh();
    }
  }
  void loop();

  const pre = document.getElementById('log');
  if (!pre || !pre.dataset.logSrc) return;
  pre.hidden = false;
  const MAX_CHARS = 2000000;
  const ANSI = /\\u001b\\[[0-?]*[ -\\/]*[@-~]/g;
  let shown = 0;
  // Groups: a '##[group]title' line opens a fold (details/summary) that holds the lines up to '##[endgroup]', as
  // GitHub's log view folds ::group:: output. A line start that may still become a marker waits for its line end;
  // GitHub does not nest groups, so a group start inside a group closes the open one.
  const GROUP = '##[group]';
  const ENDGROUP = '##[endgroup]';
  let target = pre;
  let held = '';
  let midLine = false;
  const mayBeMarker = (s) => s.startsWith(GROUP) || s.startsWith(ENDGROUP) || GROUP.startsWith(s) || ENDGROUP.startsWith(s);
  function openGroup(title) {
    const group = document.createElement('details');
    group.className = 'group';
    const head = document.createElement('summary');
    head.textContent = title.trim() || 'group';
    const body = document.createElement('div');
    group.append(head, body);
    pre.append(group);
    target = body;
  }
  function fold(text) {
    const parts = (held + text).split('\\n');
    held = '';
    parts.forEach((part, i) => {
      const last = i === parts.length - 1;
      if (!midLine) {
        const line = part.replace(/\\r$/, '');
        if (!last && line.startsWith(GROUP)) return openGroup(line.slice(GROUP.length));
        if (!last && line.startsWith(ENDGROUP)) {
          target = pre;
          return;
        }
        if (last && part !== '' && mayBeMarker(part)) {
          held = part;
          return;
        }
      }
      if (last) {
        if (part !== '') target.append(part);
        midLine = midLine || part !== '';
      } else {
        target.append(part + '\\n');
        midLine = false;
      }
    });
  }
  function append(text) {
    const atEnd = pre.scrollHeight - pre.scrollTop - pre.clientHeight < 40;
    const clean = text.replace(ANSI, '');
    fold(clean);
    shown += clean.length;
    if (shown > MAX_CHARS) {
      const all = pre.textContent;
      pre.textContent = '[earlier output not shown here: the plain-text log has all of it]\\n' + all.slice(all.length - MAX_CHARS / 2);
      shown = pre.textContent.length;
      target = pre;
    }
    if (atEnd) pre.scrollTop = pre.scrollHeight;
  }
  function flush() {
    if (held !== '') target.append(held);
    held = '';
  }
  const facts = () => live()?.dataset ?? pre.dataset;
  async function tail() {
    for (;;) {
      const started = { state: facts().orderState, attempt: facts().attempt };
      pre.textContent = '';
      shown = 0;
      target = pre;
      held = '';
      midLine = false;
      pre.setAttribute('aria-busy', 'true');
      try {
        const res = await fetch(pre.dataset.logSrc + '?attempt=' + encodeURIComponent(started.attempt || '1'), { cache: 'no-store' });
        if (res.ok && res.body) {
          const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
          for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            append(value);
          }
        } else {
          append('The log cannot be shown (HTTP ' + res.status + ').');
        }
      } catch (e) {
        append('\\n[the connection to the log was lost; trying again]\\n');
      }
      flush();
      pre.removeAttribute('aria-busy');
      // The stream ended: the attempt is over, the order has not started yet, or the session cap was reached.
      for (;;) {
        await sleep(2000);
        await refresh();
        const now = facts();
        if (now.attempt !== started.attempt) break;
        if (started.state === 'queued') {
          if (now.orderState !== 'queued') break;
          continue;
        }
        if (now.final !== 'true') break;
        return;
      }
    }
  }
  void tail();
})();
`;

const sha256 = (text: string): string => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;

/** Exactly the page's own style and script, same-origin fetches and frames (the plain log), images from here. */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  `style-src ${sha256(STYLE)}`,
  `script-src ${sha256(SCRIPT)}`,
  "connect-src 'self'",
  "img-src 'self'",
  "frame-src 'self'",
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'self'",
].join('; ');

// Built outside the page template: the element's text must be exactly what the CSP hash was taken of, and a
// formatter laying out the template would add whitespace inside it.
const STYLE_ELEMENT = trusted(`<style>${STYLE}</style>`);
const SCRIPT_ELEMENT = trusted(`<script>${SCRIPT}</script>`);

export interface Crumb {
  readonly label: string;
  readonly href?: string;
}

export interface PageInput {
  /** The document title (the tab). */
  readonly title: string;
  /** Where this page is, after the home link. */
  readonly crumbs: readonly Crumb[];
  readonly main: SafeHtml;
  /** With JavaScript off, reload the page this often (seconds) while something on it can change. */
  readonly noscriptRefreshSeconds?: number;
  /** Who is logged in, or where to log in; absent when the server offers no login. */
  readonly account?: Account;
}

/** The header's account corner: the logged-in user and a logout button, or a login link. */
export type Account = { readonly login: string; readonly logoutPath: string } | { readonly loginHref: string };

function renderAccount(account: Account | undefined): SafeHtml | string {
  if (account === undefined) return '';
  if ('loginHref' in account) return html`<a class="account" href="${account.loginHref}">Log in</a>`;
  // A POST form: a cross-site page cannot log anyone out (SameSite=Lax keeps the cookie off its POSTs).
  return html`<form class="account" method="post" action="${account.logoutPath}">
    <span>${account.login}</span> <button type="submit">Log out</button>
  </form>`;
}

export function renderPage(input: PageInput): string {
  const refresh =
    input.noscriptRefreshSeconds === undefined
      ? ''
      : html`<noscript><meta http-equiv="refresh" content="${input.noscriptRefreshSeconds}" /></noscript>`;
  const crumbs = input.crumbs.map((c) =>
    c.href === undefined
      ? html`<li aria-current="page">${c.label}</li>`
      : html`<li><a href="${c.href}">${c.label}</a></li>`,
  );
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="referrer" content="same-origin" />
        <title>${input.title} · spotcheck</title>
        ${STYLE_ELEMENT} ${refresh}
      </head>
      <body>
        <a class="skip" href="#main">Skip to content</a>
        <header class="top">
          <nav aria-label="Breadcrumb">
            <ol>
              <li><a class="brand" href="/runs">spotcheck</a></li>
              ${crumbs}
            </ol>
          </nav>
          ${renderAccount(input.account)}
        </header>
        <main id="main">${input.main}</main>
        <footer>spotcheck · pages refresh themselves while something runs · times in UTC</footer>
        ${SCRIPT_ELEMENT}
      </body>
    </html> `.value;
}

const PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
  // Live data: a cached page would show a run as running after it finished.
  'cache-control': 'no-store',
} as const;

export function htmlResponse(status: number, body: string | SafeHtml): RouterResponse {
  return { status, headers: PAGE_HEADERS, body: typeof body === 'string' ? body : body.value };
}

/** A whole page that says one thing (404, a bad parameter), with the same shell as the others. */
export function messagePage(status: number, title: string, message: string, account?: Account): RouterResponse {
  return htmlResponse(
    status,
    renderPage({
      title,
      crumbs: [{ label: title }],
      main: html`<h1>${title}</h1>
        <p>${message}</p>`,
      ...(account === undefined ? {} : { account }),
    }),
  );
}
