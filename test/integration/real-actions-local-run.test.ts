/**
 * Real public actions through `spotcheck run` (`runLocal`, in process): the operator config's `actions: { url }`
 * points at a GitHub stand-in serving the archives of actions/checkout, actions/github-script and
 * dtolnay/rust-toolchain (test/fixtures/actions), and the workflow the `serve` end-to-end tests run is run on the
 * local repository's working tree.
 */
import { mkdir, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { runLocal } from '../../src/cli/local-run.ts';
import { defaultConfig, parseConfig } from '../../src/config.ts';
import { ACTION_FIXTURES } from '../fixtures/actions/index.ts';
import { createActionForge, type ActionForge } from '../helpers/action-forge.ts';
import { expectRealActionsLog, makeRealActionsRepo, realActionsWorkflow } from '../helpers/real-actions.ts';

let dir: string | undefined;
let server: Server | undefined;
let forge: ActionForge | undefined;

afterEach(async () => {
  await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  server = undefined;
  await forge?.close();
  forge = undefined;
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

function collect(): { stream: Writable; text: () => string } {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString('utf8');
      done();
    },
  });
  return { stream, text: () => text };
}

describe('real public actions through spotcheck run', () => {
  it('runs the workflow on the working tree with the actions from the configured source', async () => {
    const made = await makeRealActionsRepo('spotcheck-real-run-', 'acme', 'widgets', {
      '.spotcheck/workflows/ci.yml': realActionsWorkflow({ api: false }),
    });
    dir = made.dir;
    forge = createActionForge({
      kind: 'github',
      actions: ACTION_FIXTURES,
      repository: { owner: 'acme', name: 'widgets', defaultBranch: 'main' },
      gitRoot: made.gitRoot,
      tokens: () => ({ git: [], api: [] }),
    });
    const actionForge = forge;
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        void actionForge.handle(req, Buffer.concat(chunks), res).then((answered) => {
          if (!answered) res.writeHead(404).end();
        });
      });
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const home = join(made.dir, 'home');
    await mkdir(home);
    const config = parseConfig(
      `actions:\n  url: ${url}\n  kind: github\n  apiUrl: ${url}/api/v3\n`,
      'test',
      defaultConfig(),
    );
    const out = collect();
    const err = collect();
    const code = await runLocal({
      dir: made.repo,
      event: 'push',
      // The pushed commit, as a forge would run it (the working tree is the same here).
      sha: made.second,
      verbose: true,
      config,
      out: out.stream,
      err: err.stream,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home },
      logger: pino({ level: 'silent' }),
    });
    expect(err.text()).toBe('');
    expect(code).toBe(0);
    expectRealActionsLog(out.text(), { sha: made.second, repository: 'local/repo' });
    expect(forge.problems).toEqual([]);
    // Nothing was fetched over git: the working tree is the workspace.
    expect(forge.requests.filter((r) => r.kind === 'git')).toEqual([]);
  }, 120_000);
});
