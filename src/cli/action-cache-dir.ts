/** The user's action cache, shared by `spotcheck run` (which fills it) and `validate`/`plan` (which read it). */
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';

/**
 * Where `spotcheck run` keeps downloaded actions: the user's cache folder (XDG Base Directory: `$XDG_CACHE_HOME`, an
 * absolute path, else `~/.cache`).
 */
export function userActionsCacheDir(env: Readonly<Record<string, string | undefined>>, home = homedir()): string {
  const xdg = env.XDG_CACHE_HOME;
  const base = xdg !== undefined && isAbsolute(xdg) ? xdg : join(env.HOME || home, '.cache');
  return join(base, 'spotcheck', 'actions');
}
