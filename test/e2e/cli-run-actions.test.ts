/**
 * `spotcheck run` with actions the test writes itself, spawned for real: a JavaScript action with pre/main/post and
 * state, a local composite action that nests it and maps its output, an action that masks a value, and a failing
 * action. The JavaScript action is a remote one (`acme/js@<commit>`) seeded in the user's action cache, as a
 * previous `spotcheck run` leaves it. Asserts what the user sees: the streamed step logs (-v), the exit code and the comment.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeGitHubRequest } from '../helpers/github-api.ts';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(REPO, 'bin', 'spotcheck.js');
/** A run takes a few seconds alone; minutes only on a very busy machine, or when it hangs. */
const RUN_TIMEOUT = 120_000;
const SECRET = 's3cr3t-value-4711';
/** `acme/js@COMMIT`: a commit id is not resolved, so the action comes from the seeded cache with no request at all. */
const COMMIT = 'c0ffee'.padEnd(40, '0');
const JS = `acme/js@${COMMIT}`;

/**
 * A remote JavaScript action, as `spotcheck run` leaves one in the user's cache: GitHub runs `pre` only for actions
 * it downloads (a `./path` action is read when its step runs), so the pre/post/state action is a remote one.
 */
const JS_FILES: Readonly<Record<string, string>> = {
  // JavaScript: pre saves state through $GITHUB_STATE, main through ::save-state and sets an output, post reads both.
  'action.yml': `name: js
inputs:
  who: { required: true }
  greeting: { default: hello }
outputs:
  message: { description: the greeting }
runs:
  using: node16
  pre: pre.js
  main: main.js
  post: post.js
`,
  'pre.js': `const fs = require('node:fs');
fs.appendFileSync(process.env.GITHUB_STATE, 'phase=pre-ran\\n');
console.log('js pre: running');
`,
  'main.js': `const fs = require('node:fs');
const message = process.env.INPUT_GREETING + ', ' + process.env.INPUT_WHO;
console.log('js main: ' + message + ' (state phase=' + (process.env.STATE_phase ?? '') + ')');
console.log('::save-state name=token::from-main');
fs.appendFileSync(process.env.GITHUB_OUTPUT, 'message=' + message + '\\n');
`,
  'post.js': `console.log('js post: phase=' + process.env.STATE_phase + ' token=' + process.env.STATE_token);
`,
};

/** The files of the test repository: local actions and one workflow with a job that passes and one that fails. */
const REPO_FILES: Readonly<Record<string, string>> = {
  // Composite: nests the JavaScript action and maps its output to its own.
  'actions/comp/action.yml': `name: comp
inputs:
  name: { required: true }
outputs:
  result:
    value: \${{ steps.inner.outputs.message }}
runs:
  using: composite
  steps:
    - id: inner
      uses: ${JS}
      with:
        who: \${{ inputs.name }}
    - shell: bash
      run: echo "comp saw '\${{ steps.inner.outputs.message }}' in $(basename "$GITHUB_ACTION_PATH")"
`,
  'actions/mask/action.yml': `name: mask
runs:
  using: node20
  main: index.js
`,
  'actions/mask/index.js': `console.log('::add-mask::${SECRET}');
console.log('the value is ${SECRET}');
`,
  'actions/fail/action.yml': `name: fail
runs:
  using: node24
  main: index.js
`,
  'actions/fail/index.js': `console.log('::error title=Boom::it broke');
process.exitCode = 3;
`,
  '.spotcheck/workflows/ci.yml': `name: ci
on: push
jobs:
  good:
    runs-on: local
    steps:
      - uses: ${JS}
        with:
          who: top
          greeting: hi
      - id: c
        uses: ./actions/comp
        with:
          name: world
      - run: echo "outer saw '\${{ steps.c.outputs.result }}'"
      - uses: ./actions/mask
  bad:
    runs-on: local
    steps:
      - uses: ./actions/fail
      - run: echo "never printed"
`,
};

interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

let root: string;
let repo: string;

function run(file: string, args: readonly string[], cwd: string): Promise<CliResult> {
  return new Promise((resolve) => {
    const env = {
      ...process.env,
      TMPDIR: join(root, 'tmp'),
      GIT_CEILING_DIRECTORIES: root,
      XDG_CACHE_HOME: join(root, 'cache'),
    };
    execFile(file, args, { cwd, env, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout, stderr });
    });
  });
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'spotcheck-run-actions-'));
  repo = join(root, 'repo');
  await mkdir(join(root, 'tmp'));
  const seeded = join(root, 'cache', 'spotcheck', 'actions', 'github.com', 'acme', 'js', COMMIT);
  for (const [dir, files] of [
    [repo, REPO_FILES],
    [seeded, JS_FILES],
  ] as const) {
    for (const [file, text] of Object.entries(files)) {
      await mkdir(join(dir, file, '..'), { recursive: true });
      await writeFile(join(dir, file), text);
    }
  }
  const git = ['-c', 'user.name=t', '-c', 'user.email=t@spotcheck.invalid'];
  await run('git', [...git, 'init', '-q', '-b', 'main'], repo);
  await run('git', [...git, 'add', '-A'], repo);
  await run('git', [...git, 'commit', '-q', '-m', 'actions'], repo);
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** The streamed lines of one job (`[ci/job] text`), prefix removed. */
function jobLines(stdout: string, job: string, workflow = 'ci'): string[] {
  const prefix = `[${workflow}/${job}] `;
  return stdout
    .split('\n')
    .filter((l) => l.startsWith(prefix))
    .map((l) => l.slice(prefix.length));
}

describe('spotcheck run: actions', () => {
  it(
    'runs a JavaScript action with pre/post and state, a local composite nesting it, a masking and a failing action',
    async () => {
      const result = await run(process.execPath, [BIN, 'run', repo, '-v'], root);
      expect(result.code).toBe(1);
      const good = jobLines(result.stdout, 'good');
      const at = (text: string): number[] => good.flatMap((l, i) => (l.includes(text) ? [i] : []));
      // A step's own action: pre before the job's steps, main with the state pre saved, post after every step with
      // both states (GitHub runs no `pre` for an action nested in a local composite: only the top-level one prints it).
      const [pre, ...morePres] = at('js pre: running');
      expect(morePres).toEqual([]);
      const [main] = at('js main: hi, top (state phase=pre-ran)');
      const [nested] = at('js main: hello, world (state phase=)');
      const [comp] = at("comp saw 'hello, world' in comp");
      const [outer] = at("outer saw 'hello, world'");
      const [masked] = at('the value is ***');
      const [post] = at('js post: phase=pre-ran token=from-main');
      // The nested action's post has its own state: main's ::save-state, no pre. It runs with the job's posts (the
      // composite's post, registered after the top-level action's, so first), not when the composite ends.
      const [nestedPost, ...moreNestedPosts] = at('js post: phase=undefined token=from-main');
      expect(moreNestedPosts).toEqual([]);
      expect(good).toContain(`Using the cached copy of acme/js at ${COMMIT}`);
      const order = [pre, main, nested, comp, outer, masked, nestedPost, post];
      expect(order.every((i) => i !== undefined)).toBe(true);
      expect([...(order as number[])].sort((a, b) => a - b)).toEqual(order);
      // The masked value never reaches the output, however it is printed.
      expect(result.stdout).not.toContain(SECRET);
      const bad = jobLines(result.stdout, 'bad');
      expect(bad).toContain('##[error]it broke');
      expect(bad).toContain('##[error] the process exited with code 3');
      expect(bad).toContain("##[conclusion] failure: step 'Run ./actions/fail' failed");
      // The step after the failure is skipped: its header, never its output.
      expect(bad).not.toContain('never printed');
      expect(bad).toContain('##[skipped] condition is false: success()');
      // The comment: the good job green, the bad one red with the action's annotation.
      const comment = result.stdout.slice(result.stdout.indexOf('<!-- spotcheck:sticky -->'));
      expect(comment).toMatch(/✅ succeeded \| good \|/);
      expect(comment).toMatch(/❌ failed \| bad \| .*\*\*1 error\*\* · step 'Run \.\/actions\/fail' failed/);
      expect(comment).toContain('- ❌ **bad** · **Boom** · it broke');
    },
    RUN_TIMEOUT,
  );
});

/**
 * A GitHub-shaped actions source on loopback (GitHub Enterprise's `/api/v3`): `GET /repos/{owner}/{repo}/commits/{ref}`
 * answers the commit id, `GET /repos/{owner}/{repo}/tarball/{ref}` redirects to the archive, as GitHub does. Every
 * API request is checked against GitHub's API description.
 */
describe('spotcheck run: a remote action from the configured source', () => {
  const REMOTE_SHA = 'feed'.padEnd(40, '1');
  const problems: string[] = [];
  const requests: string[] = [];
  let server: Server;
  let archive: Buffer;

  beforeAll(async () => {
    const top = join(root, 'archive', `acme-remote-${REMOTE_SHA.slice(0, 7)}`);
    await mkdir(top, { recursive: true });
    await writeFile(
      join(top, 'action.yml'),
      'name: remote\ninputs:\n  word: { required: true }\nruns:\n  using: node20\n  main: index.js\n',
    );
    await writeFile(join(top, 'index.js'), "console.log('remote says ' + process.env.INPUT_WORD);\n");
    await run(
      'tar',
      ['-czf', join(root, 'remote.tar.gz'), '-C', join(root, 'archive'), `acme-remote-${REMOTE_SHA.slice(0, 7)}`],
      root,
    );
    archive = await readFile(join(root, 'remote.tar.gz'));
    server = createServer((req, res) => {
      const url = req.url ?? '';
      if (url.startsWith('/codeload/')) {
        requests.push(`codeload ${url}`);
        res.writeHead(200, { 'content-type': 'application/x-gzip' }).end(archive);
        return;
      }
      const check = describeGitHubRequest(req.method ?? '', url.replace(/^\/api\/v3/, ''), undefined);
      problems.push(...check.problems);
      requests.push(check.endpoint ?? url);
      if (url === '/api/v3/repos/acme/remote/commits/v1')
        return void res.writeHead(200, { 'content-type': 'application/vnd.github.sha' }).end(REMOTE_SHA);
      if (url === `/api/v3/repos/acme/remote/tarball/${REMOTE_SHA}`)
        return void res.writeHead(302, { location: `/codeload/acme/remote/legacy.tar.gz/${REMOTE_SHA}` }).end();
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"message":"Not Found"}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it(
    'downloads owner/repo@v1 through the archive endpoint, runs it, and validate then checks it from the cache',
    async () => {
      const { port } = server.address() as AddressInfo;
      const dir = join(root, 'remote-repo');
      await mkdir(join(dir, '.spotcheck', 'workflows'), { recursive: true });
      await writeFile(
        join(dir, '.spotcheck', 'workflows', 'ci.yml'),
        'on: push\njobs:\n  r:\n    runs-on: local\n    steps:\n      - uses: acme/remote@v1\n        with: { word: ahoy, extra: 1 }\n',
      );
      const git = ['-c', 'user.name=t', '-c', 'user.email=t@spotcheck.invalid'];
      await run('git', [...git, 'init', '-q', '-b', 'main'], dir);
      await run('git', [...git, 'add', '-A'], dir);
      await run('git', [...git, 'commit', '-q', '-m', 'remote'], dir);
      const config = join(root, 'remote-source.yml');
      await writeFile(
        config,
        `actions:\n  url: http://127.0.0.1:${port}\n  kind: github\n  apiUrl: http://127.0.0.1:${port}/api/v3\n`,
      );

      const before = await run(process.execPath, [BIN, 'validate', dir, '--config', config], root);
      expect(before.stderr).toContain('`acme/remote@v1`: not checked: not downloaded yet');

      const result = await run(process.execPath, [BIN, 'run', dir, '-v', '--config', config], root);
      expect(result.code).toBe(0);
      const lines = jobLines(result.stdout, 'r', '.spotcheck/workflows/ci.yml');
      expect(lines).toContain(`Download action repository 'acme/remote@v1' (SHA:${REMOTE_SHA})`);
      expect(lines).toContain('remote says ahoy');
      expect(requests).toEqual([
        'GET /repos/{owner}/{repo}/commits/{ref}',
        'GET /repos/{owner}/{repo}/tarball/{ref}',
        `codeload /codeload/acme/remote/legacy.tar.gz/${REMOTE_SHA}`,
      ]);
      expect(problems).toEqual([]);

      const after = await run(process.execPath, [BIN, 'validate', dir, '--config', config], root);
      expect(after.code).toBe(0);
      expect(after.stderr).toContain(
        "warning: `acme/remote@v1`: Unexpected input(s) 'extra', valid inputs are ['word']",
      );
      expect(requests).toHaveLength(3);
    },
    RUN_TIMEOUT,
  );
});
