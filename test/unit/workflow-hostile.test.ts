import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { formatDiagnostic, parseWorkflow } from '../../src/core/workflow/parse-workflow.ts';
import {
  MAX_WORKFLOW_FILE_BYTES,
  MAX_YAML_ALIAS_COUNT,
  MAX_YAML_ALIAS_NODES,
  MAX_YAML_DEPTH,
  MAX_YAML_NODES,
} from '../../src/core/limits.ts';
import type { Diagnostic, RunStepSpec } from '../../src/core/types.ts';

// Hostile input must come back as a clear diagnostic. Bounded work is shown by the parse returning at all (a bomb
// would exhaust memory or the test timeout) and by the diagnostic naming the limit; nothing here is timed.

const hostile = (name: string): string =>
  readFileSync(new URL(`../fixtures/workflows/hostile/${name}`, import.meta.url), 'utf8');

function rejected(text: string): Diagnostic[] {
  const { workflow, diagnostics } = parseWorkflow('evil.yml', text);
  expect(workflow).toBeUndefined();
  expect(diagnostics.length).toBeGreaterThan(0);
  return diagnostics;
}

const wrap = (jobsValue: string): string => `on: push\njobs:\n  a:\n    runs-on: local\n${jobsValue}`;

describe('hostile fixtures', () => {
  it.each([
    ['billion-laughs.yml', 1, 3, 10, `more than ${MAX_YAML_ALIAS_COUNT} times`],
    ['deep-nesting-flow.yml', 1, 2, 71, `more than ${MAX_YAML_DEPTH} levels`],
    ['deep-nesting-block.yml', 1, 4, 133, `more than ${MAX_YAML_DEPTH} levels`],
    ['huge-matrix.yml', 1, 7, 9, '8000 combinations (20 × 20 × 20); spotcheck runs at most 256 orders'],
    ['brace-bomb.yml', 1, 4, 9, "`{…}` alternation is not part of GitHub's filter pattern syntax"],
    ['cyclic-needs.yml', 1, 4, 12, 'jobs form a cycle through `needs`: a → c → b → a'],
    ['duplicate-keys.yml', 1, 5, 5, 'duplicate key `runs-on`'],
    ['uses-climbing.yml', 1, 6, 15, 'a local action must stay inside the workspace'],
    ['tabs.yml', 3, 4, 1, 'tab character used for indentation'],
    ['binary.yml', 1, 1, 1, 'file is not a text YAML file'],
    ['recursive-anchor.yml', 1, 6, 13, 'alias `*loop` is inside the value anchored as `&loop`'],
  ])('%s', (name, count, line, col, fragment) => {
    const d = rejected(hostile(name));
    expect(d, d.map(formatDiagnostic).join('\n')).toHaveLength(count);
    expect(d[0]).toMatchObject({ file: 'evil.yml', line, col });
    expect(d[0]?.message).toContain(fragment);
  });
});

describe('size, encoding and emptiness', () => {
  it('refuses a 1 MiB file before parsing it', () => {
    const d = rejected(wrap(`    steps:\n      - run: echo ${'x'.repeat(1024 * 1024)}\n`));
    expect(d.map(formatDiagnostic)).toEqual([
      'evil.yml:1:1: file is too large (1024.1 KiB): workflow files are limited to 512 KiB; it was not parsed',
    ]);
  });

  it('counts UTF-8 bytes, not characters', () => {
    const chars = Math.floor(MAX_WORKFLOW_FILE_BYTES / 3); // each `€` is 3 bytes in UTF-8
    const d = rejected(wrap(`    steps:\n      - run: echo ${'€'.repeat(chars)}\n`));
    expect(d[0]?.message).toContain('file is too large');
  });

  it('accepts a 64 KiB run script', () => {
    const { workflow, diagnostics } = parseWorkflow(
      'ok.yml',
      wrap(`    steps:\n      - run: echo ${'x'.repeat(64 * 1024)}\n`),
    );
    expect(diagnostics).toEqual([]);
    expect((workflow?.jobs[0]?.steps[0] as RunStepSpec | undefined)?.run).toHaveLength(64 * 1024 + 5);
  });

  it.each([
    ['empty', '', 'file is empty'],
    ['whitespace', '  \n\n ', 'file is empty'],
    ['a byte-order mark only', '\uFEFF', 'file is empty'],
    ['comments only', '# nothing\n# here\n', 'only comments'],
    ['a scalar', 'hello', 'must be a mapping with `on:` and `jobs:`, but this file holds the string `hello`'],
    ['a NUL byte', 'on: push\u0000', 'control character U+0000'],
    ['invalid UTF-8 (decoded as U+FFFD)', 'on: \uFFFD', 'not valid UTF-8'],
  ])('%s', (_label, text, fragment) => {
    const d = rejected(text);
    expect(d).toHaveLength(1);
    expect(d[0]?.message).toContain(fragment);
  });

  it('points a control character at its line and column', () => {
    expect(rejected('on: push\njobs:\n  a\u0007: {}')[0]).toMatchObject({ line: 3, col: 4 });
  });

  it('accepts a byte-order mark before the content', () => {
    expect(parseWorkflow('ok.yml', `\uFEFF${wrap('    steps:\n      - run: make\n')}`).diagnostics).toEqual([]);
  });
});

describe('nesting and aliases at their limits', () => {
  // `env` values sit at depth 4 (root, jobs, a, env), so the env value adds `extra` levels.
  const nested = (levels: number): string =>
    wrap(`    env:\n      X: ${'['.repeat(levels)}${']'.repeat(levels)}\n    steps: [{run: y}]\n`);

  it(`reports too deep nesting past ${MAX_YAML_DEPTH} levels, at the first level too deep`, () => {
    const d = rejected(nested(MAX_YAML_DEPTH));
    expect(d[0]?.message).toContain(`more than ${MAX_YAML_DEPTH} levels`);
  });

  it('takes nesting within the limit to the schema (an env value must be a string)', () => {
    const d = rejected(nested(MAX_YAML_DEPTH - 4));
    expect(d[0]?.message).toContain('`jobs.a.env.X` must be a string, not a list');
  });

  it('refuses a long chain of block sequences on one line before yaml composes it', () => {
    const d = rejected(`on: push\njobs:\n  a:\n    ${'- '.repeat(200_000)}x\n`);
    expect(d[0]?.message).toContain(`more than ${MAX_YAML_DEPTH} levels`);
  });

  it(`refuses more than ${MAX_YAML_ALIAS_NODES} aliases written in the file`, () => {
    const aliases = Array.from({ length: MAX_YAML_ALIAS_NODES + 1 }, () => '*v').join(', ');
    const d = rejected(`on: push\nx: &v 1\ny: [${aliases}]\njobs: {}`);
    expect(d[0]?.message).toContain(`more than ${MAX_YAML_ALIAS_NODES}`);
  });

  it(`stops expanding aliases past ${MAX_YAML_NODES} values even under the alias count`, () => {
    const big = Array.from({ length: 1100 }, (_, i) => i).join(', ');
    const uses = Array.from({ length: 99 }, () => '*big').join(', ');
    const d = rejected(`on: push\nx: &big [${big}]\ny: [${uses}]\njobs: {}`);
    expect(d[0]?.message).toContain(`more than ${MAX_YAML_NODES} values`);
  });

  it('refuses an anchor that contains itself through a sequence', () => {
    const d = rejected('on: push\njobs: &j [1, *j]');
    expect(d[0]).toMatchObject({ line: 2, col: 14 }); // the `*j`
    expect(d[0]?.message).toContain('a value cannot contain itself');
  });
});

describe('filter patterns', () => {
  const push = (patterns: string): string =>
    `on:\n  push:\n    paths: ${patterns}\njobs: {a: {runs-on: x, steps: [{run: y}]}}`;

  it('accepts an escaped brace as a literal', () => {
    expect(parseWorkflow('ok.yml', push("['src/\\{x\\}/**']")).diagnostics).toEqual([]);
  });

  it('refuses every brace pattern of a list, each at its position', () => {
    const d = rejected(push("['{a,b}', ok, 'x}']"));
    expect(d.map((x) => [x.line, x.col])).toEqual([
      [3, 13],
      [3, 26],
    ]);
  });
});
