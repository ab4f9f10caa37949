/**
 * What a local runner that died without cleaning up left behind — steps still running (when their watchdog could
 * not stop them) and order folders with their checkouts — found from the data folder at the next start and removed
 * before the server retries any order, so an order's attempt 2 does not run beside attempt 1's leftovers.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Logger } from 'pino';
import { killProcessesIn, processIdentity } from './agent/process-group.ts';

/** Prefix of the step user's root folders in the system's temporary folder (createLocalRunner makes them). */
export const USER_ROOT_PREFIX = 'spotcheck-local-';

/** The data folder's record of the step-user roots of earlier starts (outside the data folder, so not swept). */
function rootsFile(dataDir: string): string {
  return path.join(dataDir, 'local-runner-roots.json');
}

/**
 * Kills processes working in an earlier start's order folders, then removes those folders: every entry of
 * `<dataDir>/work/` and every step-user root recorded in the data folder. Only for the one server that owns the
 * data folder (`serve`): a second runner on the same folder would take the first one's orders for leftovers, so
 * a data folder another live process claimed is not swept. Returns whether this process owns the folder now.
 */
export function sweepLocalLeftovers(dataDir: string, logger: Logger | undefined): boolean {
  const claim = claimDataDir(dataDir);
  if (claim === 'other')
    logger?.warn('local runner: another live server uses this data folder; its order folders are left alone');
  if (claim !== 'claimed') return claim === 'self';
  const workRoot = path.join(dataDir, 'work');
  const folders = [...listFolders(workRoot), ...readRoots(dataDir)];
  if (folders.length === 0) return true;
  const killed = killProcessesIn(folders);
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
  writeRoots(dataDir, []);
  logger?.warn({ folders: folders.length, processes: killed }, 'local runner: removed what an earlier start left');
  return true;
}

/** Records the step-user root of this start, so the next start removes it if this one could not. */
export function recordUserRoot(dataDir: string, root: string): void {
  writeRoots(dataDir, [...readRoots(dataDir), root]);
}

/**
 * Who owns the data folder: `other` when another live process claimed it (the file names the claimant by pid and
 * start time, so a pid reused after a crash does not count), `self` when this process did already (a second runner
 * in it must not sweep the first one's orders), else `claimed`, now this process's.
 */
function claimDataDir(dataDir: string): 'claimed' | 'self' | 'other' {
  const file = path.join(dataDir, 'local-runner.owner');
  let owner = '';
  try {
    owner = readFileSync(file, 'utf8').trim();
  } catch {
    // No owner yet.
  }
  const self = processIdentity(process.pid) ?? `${process.pid}@`;
  if (owner === self) return 'self';
  const ownerPid = Number(owner.slice(0, owner.indexOf('@')));
  if (owner !== '' && Number.isInteger(ownerPid) && processIdentity(ownerPid) === owner) return 'other';
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  writeFileSync(file, `${self}\n`, { mode: 0o600 });
  return 'claimed';
}

function listFolders(dir: string): string[] {
  try {
    return readdirSync(dir).map((name) => path.join(dir, name));
  } catch {
    return [];
  }
}

/**
 * The recorded roots, each checked to be a direct child of the system's temporary folder with our prefix: the file is
 * the server's own (the data folder is 0700), but a sweep that deletes folders takes nothing else on trust.
 */
function readRoots(dataDir: string): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(rootsFile(dataDir), 'utf8'));
  } catch {
    return [];
  }
  if (!Array.isArray(parsed)) return [];
  const tmp = tmpdir();
  return parsed.filter(
    (entry): entry is string =>
      typeof entry === 'string' &&
      path.dirname(entry) === tmp &&
      path.basename(entry).startsWith(USER_ROOT_PREFIX) &&
      path.basename(entry).length > USER_ROOT_PREFIX.length,
  );
}

function writeRoots(dataDir: string, roots: readonly string[]): void {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  writeFileSync(rootsFile(dataDir), `${JSON.stringify(roots)}\n`, { mode: 0o600 });
}
