/** What `spotcheck validate` catches before anything runs: shells, unrouted labels, one error per problem. */
import { describe, expect, it } from 'vitest';
import { findUnroutedJobs } from '../../src/core/route-check.ts';
import { shellProblem, windowsShellNotice } from '../../src/core/workflow/shells.ts';
import { parseWorkflowFiles } from '../../src/core/workflow/parse-workflow.ts';
import { resolveShell } from '../../runners/agent/resolve-shell.ts';

function parse(text: string) {
  return parseWorkflowFiles([{ path: '.spotcheck/workflows/ci.yml', text }]);
}

function withStep(step: string): string {
  return `on: push\njobs:\n  a:\n    runs-on: local\n    steps:\n${step}`;
}

describe('shellProblem', () => {
  it.each(['bash', 'sh', 'python', 'pwsh', ' bash ', 'bash -x {0}', 'node {0}'])('accepts %j', (shell) => {
    expect(shellProblem(shell)).toBeUndefined();
    // …and the agent can start it: the two lists cannot drift apart.
    expect(resolveShell(shell, '/tmp/s').ok).toBe(true);
  });

  it.each([
    ['zsh', /^unknown shell `zsh`: use one of bash, sh, python, pwsh or a command template with \{0\}/],
    ['${{ matrix.shell }}', /^`shell` cannot use `\$\{\{ \}\}` expressions/],
  ])('refuses %j', (shell, says) => {
    expect(shellProblem(shell)).toMatch(says);
    expect(resolveShell(shell, '/tmp/s').ok).toBe(shell.includes('{0}'));
  });

  // GitHub lists cmd and powershell for Windows runners and accepts a file naming them whatever its runners: real
  // files use them in Windows jobs and in steps guarded by `if: runner.os == 'Windows'`.
  it.each(['cmd', 'powershell'])('accepts %j with a notice, and the agent refuses to start it', (shell) => {
    expect(shellProblem(shell)).toBeUndefined();
    expect(windowsShellNotice(shell)).toMatch(new RegExp(`^\`shell: ${shell}\` runs only on Windows runners`));
    expect(resolveShell(shell, '/tmp/s').ok).toBe(false);
  });

  it('a Windows shell is a notice at the value, once, and the file stays valid', () => {
    const { workflows, diagnostics, notices } = parse(
      withStep("      - if: runner.os == 'Windows'\n        run: rmdir /s /q basic\n        shell: cmd\n"),
    );
    expect(diagnostics).toEqual([]);
    expect(workflows).toHaveLength(1);
    expect(notices.map((n) => `${n.level} ${n.line}:${n.col}`)).toEqual(['notice 8:16']);
    expect(notices[0]?.message).toMatch(
      /runs only on Windows runners, and spotcheck's runners are Linux: a step that runs with it fails/,
    );
  });

  it('an unknown shell is reported by the parser at the value, once', () => {
    const { diagnostics } = parse(withStep("      - run: 'true'\n        shell: zsh\n"));
    expect(diagnostics.map((d) => `${d.line}:${d.col}`)).toEqual(['7:16']);
    expect(diagnostics[0]?.message).toMatch(/^unknown shell `zsh`/);
  });
});

describe('one error per problem', () => {
  it('a step with uses: and with: is valid, in either order', () => {
    expect(
      parse(withStep('      - uses: actions/setup-node@v4\n        with: { node-version: 22 }\n')).diagnostics,
    ).toEqual([]);
    expect(
      parse(withStep('      - with: { node-version: 22 }\n        uses: actions/setup-node@v4\n')).diagnostics,
    ).toEqual([]);
  });

  it('with: without uses: is one error, at with', () => {
    const { diagnostics } = parse(withStep("      - run: 'true'\n        with: { x: 1 }\n"));
    expect(diagnostics.map((d) => [d.line, d.col])).toEqual([[7, 9]]);
    expect(diagnostics[0]?.message).toMatch(/^`with:` in step `jobs\.\w+\.steps\[0\]` passes inputs to an action/);
  });

  it('a job calling a reusable workflow with with: and secrets: parses (the callee is checked against them when planned)', () => {
    const { diagnostics } = parse(
      'on: push\njobs:\n  a:\n    uses: ./.github/workflows/x.yml\n    with: { a: 1 }\n    secrets: inherit\n',
    );
    expect(diagnostics).toEqual([]);
  });

  it('a truncated list marks its closing note with the problems it stands for', () => {
    const steps = Array.from({ length: 60 }, () => '      - run: x\n        bogus: 1\n').join('');
    const { diagnostics } = parse(withStep(steps));
    const notes = diagnostics.filter((d) => d.omitted !== undefined);
    expect(notes).toHaveLength(1);
    expect(diagnostics.length - notes.length + (notes[0]?.omitted ?? 0)).toBe(60);
  });
});

describe('findUnroutedJobs', () => {
  const local = { runner: 'local' };
  const labels = new Map([
    ['local', local],
    ['ubuntu-latest', local],
  ]);

  it('finds literal and matrix-evaluated labels no route serves, once per job and label', () => {
    const { workflows, diagnostics } = parse(`on: push
jobs:
  ok:
    runs-on: local
    steps: [{ run: x }]
  gpu:
    runs-on: gpu
    steps: [{ run: x }]
  os:
    runs-on: \${{ matrix.os }}
    strategy: { matrix: { os: [ubuntu-latest, big-box], n: [1, 2] } }
    steps: [{ run: x }]
  both:
    runs-on: [local, ubuntu-latest]
    steps: [{ run: x }]
  mac:
    runs-on: [local, macos-14]
    steps: [{ run: x }]
`);
    expect(diagnostics).toEqual([]);
    expect(findUnroutedJobs(workflows, labels).map((u) => `${u.job}:${u.label}@${u.pos.line}`)).toEqual([
      'gpu:gpu@6',
      'os:big-box@9',
      'mac:local, macos-14@16',
    ]);
  });

  it('leaves alone a label only a real event can tell', () => {
    const { workflows } = parse(
      'on: push\njobs:\n  a:\n    runs-on: ${{ github.event.inputs.where }}\n    steps: [{ run: x }]\n',
    );
    expect(findUnroutedJobs(workflows, labels)).toEqual([]);
  });

  it('evaluates matrix labels beside a job that calls a reusable workflow (tokio-rs/tokio ci.yml)', () => {
    const { workflows, diagnostics } = parse(`on: push
jobs:
  os:
    runs-on: \${{ matrix.os }}
    strategy: { matrix: { os: [ubuntu-latest, windows-latest] } }
    steps: [{ run: x }]
  kernel:
    needs: os
    uses: ./.github/workflows/kernel.yml
`);
    expect(diagnostics).toEqual([]);
    expect(findUnroutedJobs(workflows, labels).map((u) => `${u.job}:${u.label}`)).toEqual(['os:windows-latest']);
  });
});
