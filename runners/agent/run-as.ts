/**
 * Steps as another user: under `serve`, the local runner starts every step process (and git) with the uid and gid
 * of an unprivileged user, so a step cannot read the server's `/proc/<pid>/environ` or memory (both need the same
 * uid), its data folder (0700) or its key files (0600). The server writes a few files into the order's folders
 * (file-command files, scripts, the event); they are handed over to that user, and read back without following a
 * link the step may have put in their place.
 */
import { constants } from 'node:fs';
import { chown, open } from 'node:fs/promises';

export interface RunAs {
  readonly uid: number;
  readonly gid: number;
}

/** Gives files and folders the server made to the step user (nothing without one). */
export async function handOver(paths: readonly string[], runAs: RunAs | undefined): Promise<void> {
  if (runAs === undefined) return;
  await Promise.all(paths.map((file) => chown(file, runAs.uid, runAs.gid)));
}

/**
 * A file the step user may have replaced, read as the server: a symbolic link, a hard link or anything but a
 * regular file of that user reads as empty, so a step cannot point `$GITHUB_ENV` at the server's environment or key
 * and get it back as variables. Without a step user (steps run as the server) the file is read as it is.
 */
export async function readStepFile(file: string, runAs: RunAs | undefined): Promise<string> {
  const flags = runAs === undefined ? constants.O_RDONLY : constants.O_RDONLY | constants.O_NOFOLLOW;
  const handle = await open(file, flags).catch(() => undefined);
  if (handle === undefined) return '';
  try {
    if (runAs !== undefined) {
      const info = await handle.stat();
      if (!info.isFile() || info.uid !== runAs.uid || info.nlink !== 1) return '';
    }
    return await handle.readFile('utf8');
  } catch {
    return '';
  } finally {
    await handle.close();
  }
}
