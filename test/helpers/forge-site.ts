/**
 * The forge stand-in of login-app.ts served over HTTP on loopback, for a browser to visit. `GET
 * /login/oauth/authorize` (GitHub's and Gitea's path) is the forge's consent page: its "Authorize" link goes back to
 * the `redirect_uri` with a code and the `state`, as the forge's redirect after consent does. Every other request
 * the server makes (the code exchange, the REST calls with users' tokens) is answered by the in-process stand-in,
 * so those are still checked against the forge's API description; anything else the browser asks for is a 404.
 */
import http from 'node:http';
import { forgeStandIn, type ForgeWorld } from './login-app.ts';

export interface ForgeSite {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  /** The code the next consent gives back (put it in `world.codes` too). */
  nextCode: string;
  /** Each consent page shown: who asked, and where the browser is sent back to. */
  readonly consents: { readonly clientId: string; readonly redirectUri: string }[];
  close(): Promise<void>;
}

export async function listenForgeSite(world: ForgeWorld): Promise<ForgeSite> {
  const answer = forgeStandIn(world);
  const consents: { clientId: string; redirectUri: string }[] = [];
  const server = http.createServer((req, res) => {
    serve(req, res).catch((error: unknown) => {
      world.problems.push(`forge site: ${String(error)}`);
      res.writeHead(500).end();
    });
  });
  let url = '';
  const site: ForgeSite = {
    get url() {
      return url;
    },
    nextCode: '',
    consents,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };

  async function serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const target = new URL(req.url ?? '/', url);
    const method = req.method ?? 'GET';
    if (method === 'GET' && target.pathname === '/login/oauth/authorize') {
      const redirectUri = target.searchParams.get('redirect_uri') ?? '';
      consents.push({ clientId: target.searchParams.get('client_id') ?? '', redirectUri });
      const back = new URL(redirectUri);
      back.searchParams.set('code', site.nextCode);
      back.searchParams.set('state', target.searchParams.get('state') ?? '');
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(
        `<!doctype html><title>Authorize application</title><h1>Authorize spotcheck</h1>` +
          `<a id="authorize" href="${back.href.replaceAll('&', '&amp;').replaceAll('"', '&quot;')}">Authorize</a>`,
      );
      return;
    }
    const api = target.pathname.startsWith('/api/') || target.pathname === '/login/oauth/access_token';
    if (!api) {
      // What the browser asks for besides the consent page (its favicon): nothing the server calls.
      res.writeHead(404).end();
      return;
    }
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
    }
    const response = await answer(target.href, {
      method,
      headers,
      ...(chunks.length === 0 ? {} : { body: Buffer.concat(chunks).toString('utf8') }),
    });
    res.writeHead(response.status, { 'content-type': response.headers.get('content-type') ?? 'text/plain' });
    res.end(await response.text());
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the forge site has no port');
  url = `http://127.0.0.1:${String(address.port)}`;
  return site;
}
