/**
 * Real workflow files from public repositories (test/fixtures/real-workflows, sources in its README) through the
 * code `spotcheck validate` runs (src/cli/validate-workflows.ts) and the `plan` code path (planWorkflows): every file
 * that needs only Linux runners and JavaScript or composite actions is accepted as it is, and every other one is
 * refused with spotcheck's documented message, listed below with the reason. Each repository's files are laid out
 * as its `.github/workflows/`, so the reusable workflows a file calls are read from beside it.
 */
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localCalleeReader, readWorkflowDir } from '../../src/cli/read-workflow-dir.ts';
import { validateWorkflows, type ValidateFindings } from '../../src/cli/validate-workflows.ts';
import { defaultConfig } from '../../src/config.ts';
import { planWorkflows, type PlanWorkflowsResult } from '../../src/core/plan-workflows.ts';
import type { TriggerEvent } from '../../src/core/types.ts';
import { readCallees } from '../../src/intake/read-callees.ts';

const CORPUS = fileURLToPath(new URL('../fixtures/real-workflows/', import.meta.url));
const FOLDER = '.github/workflows';

/** The repositories whose default branch is not `main`: a push is planned to the default branch. */
const DEFAULT_BRANCH: Readonly<Record<string, string>> = {
  BurntSushi__ripgrep: 'master',
  cli__cli: 'trunk',
  curl__curl: 'master',
  fastapi__fastapi: 'master',
  'serde-rs__serde': 'master',
  square__okhttp: 'master',
  'tokio-rs__tokio': 'master',
};

/** The message a `container:` or `services:` job gets (read-jobs.ts): the steps run on the route's runner itself. */
const CONTAINER = /^`container` is not supported in job `[\w-]+`: `container:` is not supported: steps run directly/;
const SERVICES = /^`services` is not supported in job `[\w-]+`: `services:` containers are not supported: start what/;

/** Files spotcheck refuses, and why: every error of the file matches one of `errors`, and each of them matches one. */
const REFUSED: Readonly<Record<string, { readonly why: string; readonly errors: readonly RegExp[] }>> = {
  'actions__checkout/test.yml': {
    why: 'jobs in a container, one with a squid proxy service',
    errors: [CONTAINER, SERVICES],
  },
  'astral-sh__uv/test-system.yml': { why: 'system tests in Linux distribution containers', errors: [CONTAINER] },
  'curl__curl/linux-old.yml': { why: 'builds in a Debian stretch container', errors: [CONTAINER] },
  'curl__curl/linux.yml': {
    why: 'matrix cells in containers (`container: ${{ matrix.build.container }}`)',
    errors: [CONTAINER],
  },
  'django__django/schedule_tests.yml': { why: 'PostgreSQL as a service container', errors: [SERVICES] },
  'prometheus__prometheus/ci.yml': {
    why: 'Go tests in the golang-builder container',
    errors: [CONTAINER],
  },
  'vitejs__vite/semgrep.yml': { why: 'runs in the semgrep container', errors: [CONTAINER] },
};

/**
 * The runs-on labels of accepted files that no default route serves, each with spotcheck's no-route message (a
 * warning without `--config`, the order's failure when it runs): GitHub's macOS and Windows images, which spotcheck
 * cannot stand in for, and Linux labels an operator adds a route for (Arm, custom runners).
 */
const UNROUTED: Readonly<Record<string, readonly string[]>> = {
  'astral-sh__uv/test-integration.yml': [
    'github-ubuntu-24.04-aarch64-4',
    'macos-14',
    'macos-15-intel',
    'windows-11-arm',
    'windows-2022',
    'windows-2025',
    'windows-latest',
  ],
  'BurntSushi__ripgrep/ci.yml': ['macos-latest', 'windows-11-arm', 'windows-latest'],
  'BurntSushi__ripgrep/release.yml': ['macos-latest', 'windows-11-arm', 'windows-latest'],
  'cli__cli/deployment.yml': ['macos-latest', 'windows-latest'],
  'cli__cli/go.yml': ['macos-latest', 'windows-latest'],
  'curl__curl/checksrc.yml': ['ubuntu-24.04-arm', 'ubuntu-26.04-arm'],
  'denoland__deno/ci.generated.yml': [
    'macos-14',
    'macos-15-intel',
    'ubuntu-24.04-arm',
    'windows-11-arm',
    'windows-2022',
  ],
  'fastapi__fastapi/test.yml': ['macos-latest', 'windows-latest'],
  'fmtlib__fmt/macos.yml': ['macos-14'],
  'fmtlib__fmt/windows.yml': ['windows-2022', 'windows-latest'],
  'pallets__flask/tests.yaml': ['macos-latest', 'windows-latest'],
  'psf__requests/run-tests.yml': ['macOS-latest', 'windows-latest'],
  'pypa__pip/ci.yml': ['Windows-latest', 'macos-latest', 'windows-latest'],
  'pytest-dev__pytest/test.yml': ['macos-latest', 'windows-latest'],
  'serde-rs__serde/ci.yml': ['windows-latest'],
  'square__okhttp/build.yml': ['windows-latest'],
  'tokio-rs__tokio/ci.yml': ['macos-latest', 'ubuntu-24.04-arm', 'windows-11-arm', 'windows-latest'],
  'vitejs__vite/ci.yml': ['macos-latest', 'windows-latest'],
};

/**
 * Orders planned for a push to the default branch and for a pull request into it (a `synchronize`), or null when
 * the event does not run the file (other triggers, branch or tag filters). Every accepted file is listed.
 */
const PLANNED: Readonly<Record<string, readonly [number | null, number | null]>> = {
  'BurntSushi__ripgrep/ci.yml': [22, 22],
  'BurntSushi__ripgrep/release.yml': [null, null],
  'astral-sh__uv/promote-pull-request.yml': [null, null],
  'astral-sh__uv/test-integration.yml': [null, null],
  'astral-sh__uv/update-pull-request-parent.yml': [null, null],
  'cli__cli/deployment.yml': [null, null],
  'cli__cli/go.yml': [6, 6],
  'cli__cli/lint.yml': [1, 1],
  'curl__curl/checksrc.yml': [6, 6],
  'curl__curl/http3-linux.yml': [17, 17],
  'denoland__deno/ci.generated.yml': [134, 134],
  'denoland__deno/pr.generated.yml': [null, 1],
  'fastapi__fastapi/build-docs.yml': [4, 4],
  'fastapi__fastapi/deploy-docs.yml': [null, null],
  'fastapi__fastapi/publish.yml': [null, null],
  'fastapi__fastapi/smokeshow.yml': [null, null],
  'fastapi__fastapi/test.yml': [20, 20],
  'fmtlib__fmt/doc.yml': [1, 1],
  'fmtlib__fmt/fuzz.yml': [null, 1],
  'fmtlib__fmt/linux.yml': [18, 18],
  'fmtlib__fmt/macos.yml': [9, 9],
  'fmtlib__fmt/windows.yml': [13, 13],
  'nodejs__node/linters.yml': [10, 10],
  'pallets__flask/lock.yaml': [null, null],
  'pallets__flask/pre-commit.yaml': [1, 1],
  'pallets__flask/publish.yaml': [null, null],
  'pallets__flask/tests.yaml': [12, 12],
  'prometheus__prometheus/buf.yml': [1, null],
  'prometheus__prometheus/codeql-analysis.yml': [null, null],
  'prometheus__prometheus/fuzzing.yml': [null, null],
  'prometheus__prometheus/scorecards.yml': [1, 1],
  'prometheus__prometheus/stale.yml': [null, null],
  'psf__requests/codeql-analysis.yml': [1, 1],
  'psf__requests/publish.yml': [null, null],
  'psf__requests/run-tests.yml': [25, 25],
  'pypa__pip/ci.yml': [38, 38],
  'pypa__pip/release.yml': [null, null],
  'pytest-dev__pytest/deploy.yml': [null, null],
  'pytest-dev__pytest/prepare-release-pr.yml': [null, null],
  'pytest-dev__pytest/test.yml': [32, 32],
  'pytest-dev__pytest/update-plugin-list.yml': [null, null],
  'serde-rs__serde/ci.yml': [14, 14],
  'square__okhttp/build.yml': [24, 24],
  'square__okhttp/docs.yml': [1, 1],
  'tokio-rs__tokio/ci.yml': [78, 78],
  'tokio-rs__tokio/loom.yml': [10, 10],
  'tokio-rs__tokio/stress-test.yml': [1, 1],
  'tokio-rs__tokio/uring-kernel-version-test.yml': [null, null],
  'vitejs__vite/ci.yml': [10, 10],
  'vitejs__vite/ecosystem-ci-trigger.yml': [null, null],
  'vitejs__vite/issue-labeled.yml': [null, null],
  'vitejs__vite/preview-release.yml': [1, 1],
  'vitejs__vite/publish.yml': [2, null],
};

const REPOSITORIES = readdirSync(CORPUS, { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name)
  .sort();
const FILES = REPOSITORIES.flatMap((repo) =>
  readdirSync(join(CORPUS, repo))
    .filter((name) => /\.ya?ml$/.test(name))
    .sort()
    .map((name) => `${repo}/${name}`),
);

interface Checked {
  readonly findings: ValidateFindings;
  readonly plans: { readonly push: PlanWorkflowsResult; readonly pull_request: PlanWorkflowsResult };
}

const checked = new Map<string, Checked>();
let scratch = '';

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'spotcheck-real-workflows-'));
  const config = defaultConfig();
  for (const repo of REPOSITORIES) {
    const root = join(scratch, repo);
    mkdirSync(join(root, FOLDER), { recursive: true });
    for (const name of readdirSync(join(CORPUS, repo))) cpSync(join(CORPUS, repo, name), join(root, FOLDER, name));
    const read = await readWorkflowDir(root, [FOLDER]);
    // An empty action cache: remote actions are not downloaded here, so only `./path` manifests are read.
    const findings = await validateWorkflows(read, {
      root,
      config,
      configNamed: false,
      cacheDir: join(scratch, 'action-cache'),
    });
    const callees = await readCallees(read, localCalleeReader(root));
    const branch = DEFAULT_BRANCH[repo] ?? 'main';
    const plan = (event: TriggerEvent): PlanWorkflowsResult =>
      planWorkflows(
        read,
        event,
        {
          event: event.kind,
          ref: event.kind === 'push' ? `refs/heads/${branch}` : 'refs/pull/1/merge',
          sha: 'a'.repeat(40),
          repository: repo.replace('__', '/'),
          actor: 'contributor',
          serverUrl: 'https://github.com',
          ...(event.kind === 'push' ? {} : { baseRef: branch, headRef: 'feature' }),
        },
        undefined,
        callees,
      );
    checked.set(repo, {
      findings,
      plans: {
        push: plan({ kind: 'push', ref: `refs/heads/${branch}`, deleted: false, changedFiles: null }),
        pull_request: plan({ kind: 'pull_request', baseRef: branch, changedFiles: null, action: 'synchronize' }),
      },
    });
  }
  // Reading and planning some 60 files, one of 400 KiB, three times over: generous for a busy machine.
}, 180_000);

afterAll(() => {
  if (scratch !== '') rmSync(scratch, { recursive: true, force: true });
});

function resultsOf(key: string): { readonly path: string } & Checked {
  const [repo = '', name = ''] = key.split('/');
  const found = checked.get(repo);
  if (found === undefined) throw new Error(`${repo} was not checked`);
  return { path: `${FOLDER}/${name}`, ...found };
}

describe('the corpus', () => {
  it('holds real files of many projects, each listed in its README', () => {
    expect(REPOSITORIES.length).toBeGreaterThanOrEqual(15);
    expect(FILES.length).toBeGreaterThanOrEqual(40);
  });

  it('every table entry names a file of the corpus, and every accepted file has its planned counts', () => {
    for (const key of [...Object.keys(REFUSED), ...Object.keys(UNROUTED), ...Object.keys(PLANNED)])
      expect(FILES).toContain(key);
    expect(FILES.filter((key) => !(key in REFUSED) && !(key in PLANNED))).toEqual([]);
  });
});

describe.each(FILES)('%s', (key) => {
  const refused = REFUSED[key];

  it(refused ? `is refused: ${refused.why}` : 'is accepted as it is', () => {
    const { path, findings } = resultsOf(key);
    const errors = findings.errors.filter((d) => d.file === path).map((d) => d.message);
    if (refused === undefined) {
      expect(errors).toEqual([]);
      expect(findings.workflows.map((w) => w.file)).toContain(path);
      return;
    }
    expect(errors.length).toBeGreaterThan(0);
    for (const message of errors)
      expect(
        refused.errors.some((pattern) => pattern.test(message)),
        message,
      ).toBe(true);
    for (const pattern of refused.errors)
      expect(
        errors.some((message) => pattern.test(message)),
        String(pattern),
      ).toBe(true);
  });

  it('gets the no-route message for exactly the runs-on labels no default route serves', () => {
    const { path, findings } = resultsOf(key);
    const warnings = findings.warnings.filter((d) => d.file === path && d.message.includes('runs-on label'));
    for (const { message } of warnings) expect(message).toMatch(/spotcheck has no route for runs-on labels? "/);
    const labels = new Set(warnings.map(({ message }) => /runs-on labels? "([^"]+)"/.exec(message)?.[1]));
    expect([...labels].sort()).toEqual([...(UNROUTED[key] ?? [])].sort());
  });

  it.each(['push', 'pull_request'] as const)('plans a %s without a crash and with the expected orders', (event) => {
    const { path, plans } = resultsOf(key);
    const planned = plans[event];
    const problems = planned.diagnostics.filter((d) => d.file === path);
    const decision = planned.decisions.find((d) => d.file === path);
    if (refused !== undefined) {
      // Nothing of a refused file is planned: the plan refuses it too, or (a call's problems, which validate finds
      // by planning a push) the event does not run it.
      expect(decision?.plan).toBeUndefined();
      expect(problems.length > 0 || decision?.matched === false).toBe(true);
      return;
    }
    expect(problems).toEqual([]);
    const expected = PLANNED[key]?.[event === 'push' ? 0 : 1];
    if (expected === null || expected === undefined) {
      expect(decision?.matched).toBe(false);
      return;
    }
    expect(decision?.matched).toBe(true);
    const orders = decision?.plan?.orders ?? [];
    expect(orders).toHaveLength(expected);
    // Order ids are unique within a run, and every order waited for is an order of the run.
    const ids = new Set(orders.map((o) => o.id));
    expect(ids.size).toBe(orders.length);
    for (const order of orders)
      for (const need of order.needsOrders) expect(ids.has(need), `${order.id} waits for ${need}`).toBe(true);
  });
});
