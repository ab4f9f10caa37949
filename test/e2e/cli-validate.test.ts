/**
 * `spotcheck validate [dir]`, spawned for real: exit 0 and one `ok` line per file for a valid repository; exit 2
 * and `file:line:col: message` on stderr for every problem, for each hostile fixture and for files too large to
 * read.
 */
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, open, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(REPO, 'bin', 'spotcheck.js');
const HOSTILE = join(REPO, 'test', 'fixtures', 'workflows', 'hostile');

interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function cli(args: readonly string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd: REPO, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'spotcheck-validate-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

let repos = 0;
/** A fresh repository folder with an empty `.spotcheck/workflows/`; returns [repo, workflows folder]. */
async function repo(): Promise<[string, string]> {
  const dir = join(root, `repo-${++repos}`);
  const workflows = join(dir, '.spotcheck', 'workflows');
  await mkdir(workflows, { recursive: true });
  return [dir, workflows];
}

/** `path:line:col: message` lines of stderr (the trailing "N errors" summary excluded). */
function diagnostics(stderr: string): { file: string; line: number; col: number; message: string }[] {
  return stderr
    .split('\n')
    .map((line) => /^(.+?):(\d+):(\d+): (.+)$/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ file: m[1] ?? '', line: Number(m[2]), col: Number(m[3]), message: m[4] ?? '' }));
}

describe('spotcheck validate: valid repositories', () => {
  it('accepts the sample repository', async () => {
    const result = await cli(['validate', 'examples/sample-repo']);
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('ok .spotcheck/workflows/ci.yml (4 jobs)\n');
    expect(result.code).toBe(0);
  });

  it('validates the current folder by default', async () => {
    const [dir, workflows] = await repo();
    await writeFile(
      join(workflows, 'ci.yml'),
      "on: push\njobs:\n  a:\n    runs-on: local\n    steps: [{ run: 'true' }]\n",
    );
    const result = await new Promise<CliResult>((resolve) => {
      execFile(process.execPath, [BIN, 'validate'], { cwd: dir }, (error, stdout, stderr) => {
        resolve({ code: error === null ? 0 : Number(error.code), stdout, stderr });
      });
    });
    expect(result.stdout).toBe('ok .spotcheck/workflows/ci.yml (1 job)\n');
    expect(result.code).toBe(0);
  });

  it('refuses a folder without workflow files', async () => {
    const [dir] = await repo();
    const result = await cli(['validate', dir]);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(`spotcheck: no workflow files in ${join(dir, '.spotcheck', 'workflows')}\n`);
  });
});

/** Each hostile fixture: where the first problem is, and words a reader needs to see to know what is wrong. */
const HOSTILE_CASES: readonly { readonly fixture: string; readonly at: string; readonly says: RegExp }[] = [
  { fixture: 'billion-laughs.yml', at: '3:10', says: /too many alias expansions.*billion laughs/ },
  { fixture: 'binary.yml', at: '1:1', says: /not a text YAML file: it holds the control character U\+[0-9A-F]{4}/ },
  { fixture: 'brace-bomb.yml', at: '4:9', says: /`\{…\}` alternation is not part of GitHub's filter pattern syntax/ },
  { fixture: 'cyclic-needs.yml', at: '4:12', says: /jobs form a cycle through `needs`: a → c → b → a/ },
  { fixture: 'deep-nesting-block.yml', at: '4:133', says: /nesting is too deep: more than 64 levels/ },
  { fixture: 'deep-nesting-flow.yml', at: '2:71', says: /nesting is too deep: more than 64 levels/ },
  { fixture: 'duplicate-keys.yml', at: '5:5', says: /duplicate key `runs-on`/ },
  { fixture: 'huge-matrix.yml', at: '7:9', says: /8000 combinations \(20 × 20 × 20\); spotcheck runs at most 256/ },
  { fixture: 'recursive-anchor.yml', at: '6:13', says: /alias `\*loop` is inside the value anchored as `&loop`/ },
  { fixture: 'tabs.yml', at: '4:1', says: /tab character used for indentation/ },
  {
    fixture: 'uses-climbing.yml',
    at: '6:15',
    says: /`\.\/\.\.\/\.\.\/etc`: a local action must stay inside the workspace/,
  },
];

describe('spotcheck validate: GitHub events spotcheck does not act on', () => {
  it('accepts them with a notice, lists the ignored keys with --verbose, and still rejects unknown events', async () => {
    const [dir, workflows] = await repo();
    const job = "jobs:\n  a:\n    runs-on: local\n    steps: [{ run: 'true' }]\n";
    await writeFile(join(workflows, 'ci.yml'), `on:\n  push:\n  issues:\n    types: [opened]\n${job}`);
    await writeFile(join(workflows, 'nightly.yml'), `on:\n  schedule:\n    - cron: '0 3 * * *'\n${job}`);
    const result = await cli(['validate', dir]);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(
      'ok .spotcheck/workflows/ci.yml (1 job)\nok .spotcheck/workflows/nightly.yml (1 job; never run by spotcheck: no push, pull_request or testme)\n',
    );
    expect(result.stderr.trimEnd().split('\n')).toEqual([
      expect.stringMatching(/^\.spotcheck\/workflows\/ci\.yml:3:3: notice: `issues` is not a spotcheck trigger/),
      expect.stringMatching(/^\.spotcheck\/workflows\/nightly\.yml:2:3: notice: `schedule` is not a spotcheck trigger/),
    ]);
    const verbose = await cli(['validate', dir, '--verbose']);
    expect(verbose.code).toBe(0);
    expect(verbose.stderr).toContain(
      '.spotcheck/workflows/ci.yml:4:5: ignored: `on.issues.types` is accepted but ignored: `issues` is not a spotcheck trigger\n',
    );
    expect(verbose.stderr).toContain('.spotcheck/workflows/nightly.yml:3:7: ignored: `on.schedule.cron` is accepted');
    expect(verbose.stderr.trimEnd().split('\n')).toHaveLength(4);

    await writeFile(join(workflows, 'typo.yml'), `on: [push, scheduled]\n${job}`);
    const typo = await cli(['validate', dir]);
    expect(typo.code).toBe(2);
    expect(diagnostics(typo.stderr)).toEqual([
      {
        file: '.spotcheck/workflows/typo.yml',
        line: 1,
        col: 12,
        message: expect.stringContaining('unknown event `scheduled`') as unknown,
      },
    ]);
  });
});

describe('spotcheck validate: hostile fixtures exit 2 with file:line:col', () => {
  it('covers every fixture in the folder', async () => {
    const { readdir } = await import('node:fs/promises');
    expect(HOSTILE_CASES.map((c) => c.fixture).sort()).toEqual((await readdir(HOSTILE)).sort());
  });

  it.concurrent.each(HOSTILE_CASES)('$fixture', async ({ fixture, at, says }) => {
    const [dir, workflows] = await repo();
    await copyFile(join(HOSTILE, fixture), join(workflows, fixture));
    const result = await cli(['validate', dir]);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    const found = diagnostics(result.stderr);
    expect(found.length).toBeGreaterThan(0);
    // Every line of stderr is a diagnostic or the closing count: nothing else (no stack trace, no echoed YAML).
    const lines = result.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(found.length + 1);
    expect(lines.at(-1)).toBe(`${found.length} error${found.length === 1 ? '' : 's'}`);
    for (const d of found) expect(d.file).toBe(`.spotcheck/workflows/${fixture}`);
    expect(`${found[0]?.line}:${found[0]?.col}`).toBe(at);
    expect(found[0]?.message).toMatch(says);
  });

  it('reports every broken file of a repository in one go, and none of the valid ones', async () => {
    const [dir, workflows] = await repo();
    await copyFile(join(HOSTILE, 'uses-climbing.yml'), join(workflows, 'a.yml'));
    await writeFile(
      join(workflows, 'b.yml'),
      "on: push\njobs:\n  ok:\n    runs-on: local\n    steps: [{ run: 'true' }]\n",
    );
    await copyFile(join(HOSTILE, 'duplicate-keys.yml'), join(workflows, 'c.yaml'));
    const result = await cli(['validate', dir]);
    expect(result.code).toBe(2);
    expect(diagnostics(result.stderr).map((d) => `${d.file}:${d.line}:${d.col}`)).toEqual([
      '.spotcheck/workflows/a.yml:6:15',
      '.spotcheck/workflows/c.yaml:5:5',
    ]);
    expect(result.stderr).toMatch(/^2 errors$/m);
  });
});

describe('spotcheck validate: files too large to read', () => {
  it('rejects a 5 MiB file, naming its size and the limit', async () => {
    const [dir, workflows] = await repo();
    const line = '# padding padding padding padding padding padding padding padding padding padding padding\n';
    const text = `on: push\njobs:\n  a:\n    runs-on: local\n    steps: [{ run: 'true' }]\n${line.repeat(Math.ceil((5 * 1024 * 1024) / line.length))}`;
    await writeFile(join(workflows, 'big.yml'), text.slice(0, 5 * 1024 * 1024));
    const result = await cli(['validate', dir]);
    expect(result.code).toBe(2);
    expect(diagnostics(result.stderr)).toEqual([
      {
        file: '.spotcheck/workflows/big.yml',
        line: 1,
        col: 1,
        message: 'file is too large (5 MiB): workflow files are limited to 512 KiB; it was not read',
      },
    ]);
  });

  it('rejects a 5 GiB (sparse) file: reading it whole could not even fit in a string', async () => {
    const [dir, workflows] = await repo();
    const handle = await open(join(workflows, 'huge.yml'), 'w');
    try {
      await handle.truncate(5 * 1024 * 1024 * 1024);
    } finally {
      await handle.close();
    }
    const result = await cli(['validate', dir]);
    expect(result.code).toBe(2);
    expect(diagnostics(result.stderr).map((d) => d.message)).toEqual([
      'file is too large (5 GiB): workflow files are limited to 512 KiB; it was not read',
    ]);
  });

  it('refuses a workflow that is a link to an endless device instead of reading it forever', async () => {
    const [dir, workflows] = await repo();
    await symlink('/dev/zero', join(workflows, 'zero.yml'));
    const result = await cli(['validate', dir]);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe('spotcheck: cannot read .spotcheck/workflows/zero.yml: not a regular file\n');
  });
});

describe('spotcheck validate: reusable workflows', () => {
  it('checks a local callee from the working tree: its inputs, then accepts the fixed call', async () => {
    const [dir, workflows] = await repo();
    await writeFile(
      join(dir, '.spotcheck', 'build.yml'),
      'on:\n  workflow_call:\n    inputs: {target: {type: string, required: true}}\njobs:\n  compile: {runs-on: local, steps: [{run: make}]}\n',
    );
    const caller = (withs: string) =>
      `on: push\njobs:\n  build:\n    uses: ./.spotcheck/build.yml\n    with: {${withs}}\n  lint:\n    uses: acme/shared/.github/workflows/lint.yml@v1\n`;
    await writeFile(join(workflows, 'ci.yml'), caller('colour: red'));
    const bad = await cli(['validate', dir]);
    expect(bad.code).toBe(2);
    expect(diagnostics(bad.stderr).map((d) => [d.file, d.line, d.col, d.message])).toEqual([
      [
        '.spotcheck/workflows/ci.yml',
        3,
        3,
        "Job 'build': with: input `colour` is not defined by `./.spotcheck/build.yml` (its on.workflow_call.inputs: target)",
      ],
      [
        '.spotcheck/workflows/ci.yml',
        3,
        3,
        "Job 'build': with: input `target` is required by `./.spotcheck/build.yml` and has no value",
      ],
    ]);
    await writeFile(join(workflows, 'ci.yml'), caller('target: linux'));
    const good = await cli(['validate', dir]);
    expect(good.stderr).toBe('');
    expect(good.code).toBe(0);
  });
});
