/**
 * Red-team finding: a 500 KB workflow file with a duplicate key on a long line blocked the event loop for 185 s (a
 * backtracking regular expression building the error message), and webhooks, callbacks and health checks with it.
 * Replayed: the file is read with the right error, and the rule that keeps every pattern linear is in force.
 */
import { ESLint, Linter } from 'eslint';
import regexp from 'eslint-plugin-regexp';
import { describe, expect, it } from 'vitest';
import { parseWorkflow } from '../../src/core/workflow/parse-workflow.ts';

/** 512 KiB: the key's line runs on without a colon (the value comes on the next line, an explicit `? key`). */
function hostile(size: number): string {
  const head = 'on: push\njobs:\n  a:\n    runs-on: x\n    ? runs-on';
  const tail = '\n    : y\n    steps: [{run: x}]\n';
  return head + ' '.repeat(size - head.length - tail.length) + tail;
}

const LINEAR_RULES = ['regexp/no-super-linear-backtracking', 'regexp/no-super-linear-move'] as const;

describe('a hostile workflow file cannot stall the server', () => {
  it('a 512 KiB duplicate key on one long line is one error at the key', () => {
    const { workflow, diagnostics } = parseWorkflow('w.yml', hostile(512 * 1024));
    expect(workflow).toBeUndefined();
    expect(diagnostics.map((d) => [d.line, d.col, d.message.slice(0, 14)])).toEqual([[5, 7, 'duplicate key:']]);
  });

  it('the lint rules that prove patterns linear flag the pattern that stalled it', () => {
    const linter = new Linter({ configType: 'flat' });
    const old = 'export const key = /^\\s*("[^"]*"|\'[^\']*\'|[^:#]*?)\\s*:/.exec(line);';
    const found = linter.verify(old, [
      { plugins: { regexp }, rules: Object.fromEntries(LINEAR_RULES.map((r) => [r, 'error'])) },
    ]);
    expect(found.map((m) => m.ruleId)).toContain('regexp/no-super-linear-backtracking');
  });

  it.each([
    'src/core/workflow/yaml-reader.ts',
    'src/server/metrics.ts',
    'runners/agent/hash-files.ts',
    'handlers/push.ts',
  ])('the project lints %s with those rules as errors', async (file) => {
    const config = (await new ESLint().calculateConfigForFile(file)) as Linter.Config;
    for (const rule of LINEAR_RULES) expect([rule, config.rules?.[rule]]).toEqual([rule, [2, expect.anything()]]);
  });
});
