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
