/**
 * Whether a URL's hostname (as `new URL(...).hostname` gives it) is this machine: `localhost`, 127.0.0.0/8 or
 * `[::1]`. Only such a URL may be plain http where a secret travels (a bootstrap token): nothing else is on the path.
 */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.toLowerCase();
  if (host === 'localhost' || host === '[::1]') return true;
  const parts = host.split('.');
  return parts.length === 4 && parts[0] === '127' && parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255);
}

/** `url` without its trailing slashes (`https://ci.example.org/` → `https://ci.example.org`). */
export function trimTrailingSlashes(url: string): string {
  // A loop, not /\/+$/: that pattern rescans each run of slashes from every start (quadratic on `////…x`).
  let end = url.length;
  while (end > 0 && url[end - 1] === '/') end--;
  return url.slice(0, end);
}

/**
 * `path` under `base`, with exactly one slash where they meet however the operator wrote `base`
 * (`https://ci.example.org/` and `https://ci.example.org` give the same URLs). `path` is used as given
 * (encode its parts first); one without a leading slash gets one.
 */
export function joinUrl(base: string, path: string): string {
  const tail = path === '' || path.startsWith('/') ? path : `/${path}`;
  return `${trimTrailingSlashes(base)}${tail}`;
}
