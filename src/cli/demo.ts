/**
 * `npm run demo`: copies examples/sample-repo into a fresh git repository and runs its workflows as a push to main,
 * with the embedded store and the local runner, exactly as `spotcheck run` would.
 */
import { execFile } from 'node:child_process';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Logger } from 'pino';
import { runLocal } from './local-run.ts';

const exec = promisify(execFile);

export const SAMPLE_REPO = fileURLToPath(new URL('../../examples/sample-repo', import.meta.url));

export async function runDemo(io: {
  out: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  err: NodeJS.WritableStream;
  env: Readonly<Record<string, string | undefined>>;
  logger: Logger;
}): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), 'spotcheck-demo-'));
  try {
    await cp(SAMPLE_REPO, dir, { recursive: true });
    const git = (...args: string[]) =>
      exec('git', ['-c', 'user.name=spotcheck demo', '-c', 'user.email=demo@spotcheck.invalid', '-C', dir, ...args]);
    await git('init', '-q', '-b', 'main');
    await git('add', '-A');
    await git('commit', '-q', '-m', 'sample repository');
    io.out.write(`spotcheck demo: running ${SAMPLE_REPO} as a push to main\n\n`);
    return await runLocal({ dir, event: 'push', ref: 'refs/heads/main', ...io });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
