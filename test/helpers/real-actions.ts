/**
 * One workflow of real public actions (test/fixtures/actions) and the repository it runs on, shared by the `serve`
 * end-to-end tests of both forges and the `spotcheck run` test: actions/checkout (fetching the pushed commit over
 * git's smart HTTP with the order's token, its post removing the credentials again), actions/github-script (calling
 * the forge's REST API with `github.token`, its result read by a later step) and dtolnay/rust-toolchain (a composite
 * action of bash steps, with stand-in `rustup`/`rustc` programs on PATH, there being no network here).
 */
import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'vitest';
import { CHECKOUT, GITHUB_SCRIPT, RUST_TOOLCHAIN } from '../fixtures/actions/index.ts';
import { makeTwoCommitRepo } from './e2e-repo.ts';

const exec = promisify(execFile);

/**
 * A local action whose `post` reads the checkout's `.git/config` after actions/checkout's own post (posts run last
 * registered first, and this one is used before checkout). spotcheck checks the pushed commit out before the first
 * step, so a local action can run before actions/checkout there (on GitHub it could not).
 */
const INSPECT_ACTION = {
  '.github/actions/inspect-git-config/action.yml': `name: inspect git config
runs:
  using: node20
  main: main.js
  post: post.js
`,
  '.github/actions/inspect-git-config/main.js': `console.log('will read .git/config after the job');\n`,
  '.github/actions/inspect-git-config/post.js': `const { readFileSync } = require('node:fs');
const config = readFileSync(require('node:path').join(process.env.GITHUB_WORKSPACE, '.git', 'config'), 'utf8');
const left = config.split('\\n').filter((line) => line.toLowerCase().includes('extraheader'));
console.log('extraheader lines in .git/config after the job: ' + left.length);
process.exitCode = left.length === 0 ? 0 : 1;
`,
};

/** What the stand-in `rustc` answers to `--version --verbose` (rustc 1.94.0's own lines). */
const RUSTC_VERBOSE = [
  'rustc 1.94.0 (4a4ef493e 2026-03-02)',
  'binary: rustc',
  'commit-hash: 4a4ef493e3a1488c6e321570238084b38948f6db',
  'commit-date: 2026-03-02',
  'host: x86_64-unknown-linux-gnu',
  'release: 1.94.0',
  'LLVM version: 21.1.8',
];

const API_STEPS = `      - id: api
        uses: ${GITHUB_SCRIPT.owner}/${GITHUB_SCRIPT.repo}@${GITHUB_SCRIPT.ref}
        with:
          result-encoding: string
          script: |
            const { data } = await github.rest.repos.get(context.repo);
            core.setOutput('branch', data.default_branch);
            return data.full_name;
      - run: echo "the API says \${{ steps.api.outputs.result }} has the default branch \${{ steps.api.outputs.branch }}"
`;

/**
 * The workflow; `api: false` leaves out the API-calling action (`spotcheck run` has no forge, so no `github.token`
 * and no API to call).
 */
export function realActionsWorkflow(options: { readonly api: boolean }): string {
  return `name: ci
on:
  push:
    branches: [main]
jobs:
  real:
    runs-on: local
    steps:
      - uses: ./.github/actions/inspect-git-config
      - uses: ${CHECKOUT.owner}/${CHECKOUT.repo}@${CHECKOUT.ref}
      - name: Read the checked-out tree
        run: |
          test "$(cat README.md)" = "hello again"
          echo "checked out $(git log -1 --format=%H)"
          test "$(git log -1 --format=%H)" = "$GITHUB_SHA"
          echo "extraheader lines while the job runs: $(grep -ci extraheader .git/config)"
${options.api ? API_STEPS : ''}      - name: Stand-in rustup and rustc
        run: |
          bin="$RUNNER_TEMP/rust-bin"
          mkdir -p "$bin"
          printf '#!/bin/sh\\necho "rustup $*"\\n' > "$bin/rustup"
          printf '#!/bin/sh\\ncat <<EOF\\n${RUSTC_VERBOSE.join('\\n')}\\nEOF\\n' > "$bin/rustc"
          chmod +x "$bin/rustup" "$bin/rustc"
          echo "$bin" >> "$GITHUB_PATH"
      - id: rust
        uses: ${RUST_TOOLCHAIN.owner}/${RUST_TOOLCHAIN.repo}@${RUST_TOOLCHAIN.ref}
      - run: echo "toolchain \${{ steps.rust.outputs.name }}, cache key \${{ steps.rust.outputs.cachekey }}, CARGO_INCREMENTAL=$CARGO_INCREMENTAL"
`;
}

export interface RealActionsRepo {
  readonly dir: string;
  /** The working repository (two commits on main). */
  readonly repo: string;
  readonly first: string;
  readonly second: string;
  /** GIT_PROJECT_ROOT: `<gitRoot>/<owner>/<name>.git` is a bare clone of `repo`. */
  readonly gitRoot: string;
}

export async function makeRealActionsRepo(
  prefix: string,
  owner: string,
  name: string,
  extraFiles: Readonly<Record<string, string>> = {},
): Promise<RealActionsRepo> {
  const made = await makeTwoCommitRepo(prefix, { ...INSPECT_ACTION, ...extraFiles });
  const gitRoot = path.join(made.dir, 'git');
  await mkdir(path.join(gitRoot, owner), { recursive: true });
  await exec('git', ['clone', '--quiet', '--bare', made.repo, path.join(gitRoot, owner, `${name}.git`)]);
  return { ...made, gitRoot };
}

/** `Basic` credentials as actions/checkout puts them in `http.<server>/.extraheader`. */
export function checkoutAuthorization(token: string): string {
  return `basic ${Buffer.from(`x-access-token:${token}`, 'utf8').toString('base64')}`;
}

/**
 * What the job's log shows when every real action did its part. `token`: the order's (`serve`), which must not
 * show; none in a local run, where actions/checkout is skipped and there is no API-calling step.
 */
export function expectRealActionsLog(log: string, facts: { sha: string; repository: string; token?: string }): void {
  const local = facts.token === undefined;
  for (const action of local ? [CHECKOUT, RUST_TOOLCHAIN] : [CHECKOUT, GITHUB_SCRIPT, RUST_TOOLCHAIN]) {
    const line = `Download action repository '${action.owner}/${action.repo}@${action.ref}' (SHA:${action.commit})`;
    expect(log.split('\n').filter((l) => l.endsWith(line))).toHaveLength(1);
  }
  expect(log).toContain(`checked out ${facts.sha}`);
  expect(log).toContain('toolchain stable, cache key 202603024a4e, CARGO_INCREMENTAL=0');
  expect(log).toContain('rustup toolchain install stable --profile minimal --no-self-update');
  expect(log).toContain('extraheader lines in .git/config after the job: 0');
  if (facts.token === undefined) {
    expect(log).toContain(
      `The workspace already holds the working tree at ${facts.sha}: ${CHECKOUT.owner}/${CHECKOUT.repo}@${CHECKOUT.ref} is skipped in a local run`,
    );
    expect(log).toContain('extraheader lines while the job runs: 0');
    expect(log).not.toContain('Post Run actions/checkout');
    return;
  }
  expect(log).toContain('extraheader lines while the job runs: 1');
  expect(log).toContain('Post Run actions/checkout@v4.2.2');
  expect(log).toContain(`the API says ${facts.repository} has the default branch main`);
  // The order's token, and the credentials actions/checkout makes of it, never reach the log.
  expect(log).not.toContain(facts.token);
  expect(log).not.toContain(checkoutAuthorization(facts.token).slice('basic '.length));
}
