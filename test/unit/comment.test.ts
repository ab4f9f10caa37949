import { describe, expect, it } from 'vitest';
import {
  COMMENT_MARKER,
  MAX_COMMENT_LENGTH,
  escapeMarkdown,
  isStickyComment,
  renderComment,
} from '../../src/core/render/comment.ts';
import type { CommentInput, RunView } from '../../src/core/render/comment.ts';
import { shortSha, sortOrdersForDisplay } from '../../src/core/render/format.ts';
import type { OrderRecord, RunRecord } from '../../src/core/types.ts';
import * as records from '../helpers/records.ts';

const T0 = Date.UTC(2025, 0, 1, 12, 0, 0);
const SHA = '3f2a9c1e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a39';

function makeRun(over: records.RunOverrides = {}): RunRecord {
  return records.makeRun({
    repo: { forge: 'github', host: 'github.com', owner: 'acme', name: 'widget' },
    event: 'pull_request',
    ref: 'refs/pull/7/head',
    sha: SHA,
    pr: 7,
    actor: 'alice',
    createdAt: T0,
    expiresAt: T0 + 86_400_000,
    ...over,
    github: { base_ref: 'main', head_ref: 'feature', ...over.github },
  });
}

function makeOrder(id: string, over: Partial<OrderRecord> = {}): OrderRecord {
  return records.makeOrder(id, { runsOn: 'docker', timeoutMinutes: 20, createdAt: T0, ...over });
}

/** An order that ran on `runner` from T0+start for `ms` and ended in `state`. */
function ran(id: string, state: OrderRecord['state'], ms: number, over: Partial<OrderRecord> = {}): OrderRecord {
  return makeOrder(id, {
    state,
    runner: 'spot',
    dispatchedAt: T0,
    startedAt: T0 + 1000,
    finishedAt: T0 + 1000 + ms,
    ...over,
  });
}

function input(runs: readonly RunView[], over: Partial<CommentInput> = {}): CommentInput {
  return {
    runs,
    logUrl: (runId, orderId) => `https://ci.example.org/runs/${runId}/orders/${orderId}/log`,
    runUrl: (runId) => `https://ci.example.org/runs/${runId}`,
    now: T0 + 120_000,
    ...over,
  };
}

/** The table row (a line starting with `|`) that mentions `needle`. */
function rowOf(text: string, needle: string): string {
  const rows = text.split('\n').filter((l) => l.startsWith('|') && l.includes(needle));
  expect(rows, `one row with ${needle}`).toHaveLength(1);
  return rows[0]!;
}

/** Table rows that hold orders (not the header or the delimiter row). */
function dataRows(text: string): string[] {
  return text.split('\n').filter((l) => l.startsWith('| ') && !/^\| (State|Workflow|---) \|/.test(l));
}

/** Splits a GFM table row into cells, honouring `\|`. */
function cells(row: string): string[] {
  return row
    .slice(1, -1)
    .split(/(?<!\\)\|/)
    .map((c) => c.trim());
}

const ciRun: RunView = {
  run: makeRun({ status: 'failed', finishedAt: T0 + 100_000, orderCount: 5 }),
  orders: [
    ran('build', 'succeeded', 65_000, { name: 'build' }),
    ran('test.2', 'failed', 3_000, { job: 'test', name: 'test (2)', reason: 'step "make test" exited with code 2' }),
    ran('test.1', 'succeeded', 42_000, { job: 'test', name: 'test (1)', runner: 'codebuild' }),
    makeOrder('e2e', { state: 'skipped', reason: "if: github.event_name == 'testme' was false" }),
    makeOrder('deploy', { state: 'failed', reason: 'unknown runs-on label "gpu"; known: go, docker, big' }),
  ],
};

describe('isStickyComment', () => {
  it.each([
    [`${COMMENT_MARKER}\n### ✅ spotcheck succeeded`, true],
    [`\n  ${COMMENT_MARKER}\nbody`, true],
    ['LGTM', false],
    [`quoting: ${COMMENT_MARKER}`, false],
    ['<!-- spotcheck:other -->', false],
  ])('%j → %s', (body, expected) => {
    expect(isStickyComment(body)).toBe(expected);
  });

  it('recognises what renderComment writes', () => {
    expect(isStickyComment(renderComment(input([ciRun])))).toBe(true);
    expect(isStickyComment(renderComment(input([], { notice: 'not run' })))).toBe(true);
  });
});

describe('renderComment: one workflow', () => {
  const text = renderComment(input([ciRun]));

  it('starts with the marker, then the overall state, short SHA, trigger and actor', () => {
    expect(text.startsWith(`${COMMENT_MARKER}\n`)).toBe(true);
    expect(text).toContain('### ❌ spotcheck failed');
    expect(text).toContain(`\`${shortSha(SHA)}\``);
    expect(text).not.toContain(SHA);
    expect(text).toContain('pull request by **alice**');
  });

  it('has a heading per workflow with its file and dashboard link', () => {
    expect(text).toContain('#### ❌ ci · failed');
    expect(text).toContain('[dashboard](https://ci.example.org/runs/r1)');
    expect(text).toContain('.spotcheck/workflows/ci.yml');
  });

  it('lists every order once, in plan order with matrix cells by index', () => {
    const rows = dataRows(text);
    expect(rows).toHaveLength(5);
    expect(rows.map((r) => cells(r)[1])).toEqual(['build', 'test (1)', 'test (2)', 'e2e', 'deploy']);
  });

  it.each([
    [
      'build',
      ['✅ succeeded', 'build', 'spot', '1m 05s', '[log](https://ci.example.org/runs/r1/orders/build/log)', ''],
    ],
    [
      'test (1)',
      ['✅ succeeded', 'test (1)', 'codebuild', '42s', '[log](https://ci.example.org/runs/r1/orders/test.1/log)', ''],
    ],
    [
      'test (2)',
      [
        '❌ failed',
        'test (2)',
        'spot',
        '3s',
        '[log](https://ci.example.org/runs/r1/orders/test.2/log)',
        'step "make test" exited with code 2',
      ],
    ],
    ['e2e', ['⏭️ skipped', 'e2e', '', '', '', "if: github.event\\_name == 'testme' was false"]],
    ['deploy', ['❌ failed', 'deploy', '', '', '', 'unknown runs-on label "gpu"; known: go, docker, big']],
  ])('row %s: state, name, runner, duration, log, why', (name, expected) => {
    expect(cells(rowOf(text, `| ${name} |`))).toEqual(expected);
  });

  it('counts a running order up to now; a queued one has no duration or log', () => {
    const now = T0 + 1000 + 125_000;
    const view: RunView = {
      run: makeRun(),
      orders: [
        makeOrder('build', { state: 'running', runner: 'local', dispatchedAt: T0, startedAt: T0 + 1000 }),
        makeOrder('test', { state: 'queued', reason: 'waiting for capacity (8/8 running)' }),
      ],
    };
    const out = renderComment(input([view], { now }));
    expect(out).toContain('### ⏳ spotcheck running');
    expect(cells(rowOf(out, '| build |')).slice(0, 4)).toEqual(['⏳ running', 'build', 'local', '2m 05s']);
    expect(cells(rowOf(out, '| test |'))).toEqual([
      '🕒 queued',
      'test',
      '',
      '',
      '',
      'waiting for capacity (8/8 running)',
    ]);
  });

  it('shows why a run was cancelled', () => {
    const view: RunView = {
      run: makeRun({ status: 'cancelled', reason: 'superseded by a newer push' }),
      orders: [makeOrder('build', { state: 'cancelled' })],
    };
    const out = renderComment(input([view]));
    expect(out).toContain('### 🚫 spotcheck cancelled');
    expect(out).toContain('> superseded by a newer push');
  });

  it('omits the dashboard link without runUrl', () => {
    const { runUrl: _omit, ...rest } = input([ciRun]);
    expect(renderComment(rest)).not.toContain('dashboard');
  });
});

describe('renderComment: several workflows and notices', () => {
  it('is running while any run runs, and names every distinct trigger', () => {
    const lint: RunView = {
      run: makeRun({ runId: 'r2', workflowName: 'lint', status: 'running', event: 'testme', actor: 'bob' }),
      orders: [makeOrder('eslint', { runId: 'r2', state: 'running', startedAt: T0, runner: 'local' })],
    };
    const out = renderComment(input([lint, ciRun]));
    expect(out).toContain('### ⏳ spotcheck running');
    expect(out).toContain('`!testme` by **bob**, pull request by **alice**');
    expect(out.indexOf('#### ⏳ lint')).toBeLessThan(out.indexOf('#### ❌ ci'));
    expect(out).toContain('https://ci.example.org/runs/r2/orders/eslint/log');
  });

  it.each([
    [['succeeded', 'succeeded'], '✅ spotcheck succeeded'],
    [['succeeded', 'failed'], '❌ spotcheck failed'],
    [['cancelled', 'succeeded'], '🚫 spotcheck cancelled'],
    [['failed', 'cancelled'], '❌ spotcheck failed'],
    [['failed', 'running'], '⏳ spotcheck running'],
  ] as const)('overall state of %j is %s', (statuses, heading) => {
    const runs = statuses.map((status, i) => ({ run: makeRun({ runId: `r${i}`, status }), orders: [] }));
    expect(renderComment(input(runs))).toContain(`### ${heading}`);
  });

  it('puts a notice on top, on one line, and works without runs', () => {
    const out = renderComment(
      input([], { notice: 'Not run: @mallory is not a member of acme.\nA member can comment `!testme`.' }),
    );
    expect(out.split('\n')[0]).toBe(COMMENT_MARKER);
    expect(out.split('\n')[1]).toBe('Not run: @mallory is not a member of acme. A member can comment `!testme`.');
    expect(out).not.toContain('###');
  });
});

describe('escaping user-controlled text', () => {
  const hostile = [
    ['a pipe', '| x |'],
    ['a script tag', '<script>alert(1)</script>'],
    ['a team mention', '@org/team please look'],
    ['newlines', 'line1\n| injected | row |\n\nline3'],
    ['backticks', '`code` ```fence```'],
    ['emphasis and links', '**bold** [click](https://evil.example) ![img](x)'],
    ['an issue reference', 'fixes #1 and acme/other#2'],
    ['an html entity', '&#64;admin &lt;b&gt;'],
    ['an ANSI escape and bidi override', '\u001b[31mred\u202Eevil'],
  ] as const;

  it.each(hostile)('%s in a job name stays one inert table cell', (_label, name) => {
    const view: RunView = {
      run: makeRun({ actor: '@octocat' }),
      orders: [ran('build', 'failed', 1000, { name, reason: name, runner: name })],
    };
    const out = renderComment(input([view]));
    const rows = dataRows(out);
    expect(rows).toHaveLength(1);
    expect(cells(rows[0]!)).toHaveLength(6);
    // The row the name lands in: no raw HTML, no live mention, no issue reference, no code span, link or emphasis
    // opened by the name, no terminal or bidi control.
    const row = rows[0]!.replace('[log](https://ci.example.org/runs/r1/orders/build/log)', 'LOG');
    expect(row).not.toMatch(/[<>]/);
    expect(row).not.toMatch(/@[A-Za-z0-9]/);
    expect(row).not.toMatch(/(?<!&)#\d/);
    expect(row).not.toMatch(/(?<!\\)[`[\]*_~]/);
    expect(row).not.toMatch(/&#64;|&lt;b&gt;/);
    expect(row).not.toContain('\u001b');
    expect(row).not.toContain('\u202E');
    expect(out).toContain('by **@&#8203;octocat**');
  });

  it.each([
    ['| x |', '\\| x \\|'],
    ['<script>', '&lt;script&gt;'],
    ['@org/team', '@&#8203;org/team'],
    ['a\nb\r\nc', 'a b c'],
    ['`rm -rf`', '\\`rm -rf\\`'],
    ['#12', '#&#8203;12'],
    ['see https://x.example', 'see https:&#8203;//x.example'],
    ['a_b*c~d\\e', 'a\\_b\\*c\\~d\\\\e'],
    ['plain-name (1, 2)', 'plain-name (1, 2)'],
  ])('escapeMarkdown(%j) → %j', (text, expected) => {
    expect(escapeMarkdown(text, 100)).toBe(expected);
  });

  it('cuts long text to the cap with an ellipsis', () => {
    expect(escapeMarkdown('x'.repeat(500), 10)).toBe(`${'x'.repeat(9)}…`);
    expect(Array.from(escapeMarkdown('😀'.repeat(50), 10))).toHaveLength(10);
  });

  it('never lets a link URL close the link or split the table', () => {
    const view: RunView = { run: makeRun(), orders: [ran('build', 'succeeded', 1000)] };
    const out = renderComment(input([view], { logUrl: () => 'https://ci.example.org/a b)|(c' }));
    expect(out).toContain('[log](https://ci.example.org/a%20b%29%7C%28c)');
    const nonHttp = renderComment(input([view], { logUrl: () => 'javascript:alert(1)' }));
    expect(nonHttp).not.toContain('javascript');
    expect(cells(rowOf(nonHttp, '| build |'))[4]).toBe('log');
  });

  it('does not ping the actor', () => {
    const out = renderComment(input([{ run: makeRun({ actor: 'bob' }), orders: [] }]));
    expect(out).toContain('by **bob**');
    expect(out).not.toContain('@bob');
  });
});

describe('size cap', () => {
  /** A run of `n` orders: `failing` failed ones scattered through it, the rest succeeded. */
  function bigRun(n: number, failing: readonly number[], nameOf: (i: number) => string, runId = 'r1'): RunView {
    const orders = Array.from({ length: n }, (_, i) =>
      failing.includes(i)
        ? ran(`shard.${i + 1}`, 'failed', 5000, {
            job: 'shard',
            runId,
            name: `FAIL-${i} ${nameOf(i)}`,
            reason: 'exit 1',
          })
        : ran(`shard.${i + 1}`, 'succeeded', 5000, { job: 'shard', runId, name: nameOf(i) }),
    );
    return { run: makeRun({ runId, status: 'failed', orderCount: n }), orders };
  }

  it('keeps a small run in full', () => {
    const out = renderComment(input([bigRun(50, [10], (i) => `shard ${i}`)]));
    expect(out.split('\n').filter((l) => l.startsWith('| ✅'))).toHaveLength(49);
    expect(out).not.toContain('more orders');
  });

  it.each([
    ['5,000 orders', 5000, (i: number) => `shard (${i})`],
    ['1,000-character names', 300, (i: number) => `${i} ${'n'.repeat(1000)}`],
    ['5,000 orders with 1,000-character hostile names', 5000, (i: number) => `${i} ${'@|<'.repeat(334)}`],
  ])('%s: at most MAX_COMMENT_LENGTH, failing orders listed first, the rest summarised', (_label, n, nameOf) => {
    const failing = [3, n - 1, Math.floor(n / 2)];
    const out = renderComment(input([bigRun(n, failing, nameOf)]));
    expect(out.length).toBeLessThanOrEqual(MAX_COMMENT_LENGTH);
    expect(out.length).toBeGreaterThan(MAX_COMMENT_LENGTH * 0.9); // fills the space it has
    expect(out.startsWith(COMMENT_MARKER)).toBe(true);
    expect(out).toContain(`- ❌ **ci** failed · 2m 00s · ${n - 3} ✅ succeeded · 3 ❌ failed · [dashboard]`);
    const rows = out.split('\n').filter((l) => l.startsWith('| ci |'));
    for (const [k, i] of [...failing].sort((a, b) => a - b).entries()) {
      expect(rows[k], `failing order ${i} listed among the first rows`).toContain(`FAIL-${i}`);
    }
    const more = /… and (\d+) more orders — see the \[dashboard\]\(https:\/\/ci\.example\.org\/runs\/r1\)/.exec(out);
    expect(more).not.toBeNull();
    expect(Number(more![1]) + rows.length).toBe(n);
  });

  it('spreads the summary over several workflows and links each dashboard', () => {
    const a = bigRun(3000, [2999], (i) => `a${i}`, 'ra');
    const b = bigRun(3000, [0], (i) => `b${i}`, 'rb');
    const views = [a, { ...b, run: makeRun({ runId: 'rb', workflowName: 'nightly', status: 'failed' }) }];
    const out = renderComment(input(views));
    expect(out.length).toBeLessThanOrEqual(MAX_COMMENT_LENGTH);
    expect(out).toContain('FAIL-2999');
    expect(out).toContain('FAIL-0');
    expect(out).toContain(
      'see the dashboard: [ci](https://ci.example.org/runs/ra) · [nightly](https://ci.example.org/runs/rb)',
    );
  });

  it('stays under the limit even with hundreds of workflows of huge names', () => {
    const views = Array.from({ length: 400 }, (_, i) => ({
      run: makeRun({ runId: `r${i}`, workflowName: `${'w'.repeat(1000)}${i}`, status: 'failed' as const }),
      orders: [ran(`o`, 'failed', 1, { runId: `r${i}`, name: 'x'.repeat(1000), reason: 'y'.repeat(1000) })],
    }));
    const out = renderComment(input(views));
    expect(out.length).toBeLessThanOrEqual(MAX_COMMENT_LENGTH);
    expect(out.startsWith(COMMENT_MARKER)).toBe(true);
  });

  it('without runUrl the summary still says where to look', () => {
    const { runUrl: _omit, ...rest } = input([bigRun(5000, [1], (i) => `s${i}`)]);
    expect(renderComment(rest)).toMatch(/… and \d+ more orders — see the dashboard\n$/);
  });
});

describe('determinism', () => {
  it('same input, same text; a change of state changes the text', () => {
    const a = renderComment(input([ciRun]));
    expect(renderComment(input([ciRun]))).toBe(a);
    const shuffled: RunView = { run: ciRun.run, orders: [...ciRun.orders].reverse() };
    // Matrix cells are put back in index order whatever order the store returned them in.
    expect(
      sortOrdersForDisplay(shuffled.orders)
        .filter((o) => o.job === 'test')
        .map((o) => o.id),
    ).toEqual(['test.1', 'test.2']);
    const changed: RunView = {
      run: ciRun.run,
      orders: ciRun.orders.map((o) => ({ ...o, state: 'succeeded' as const })),
    };
    expect(renderComment(input([changed]))).not.toBe(a);
  });

  it('a finished run does not change as time passes', () => {
    expect(renderComment(input([ciRun], { now: T0 + 10 * 3_600_000 }))).toBe(renderComment(input([ciRun])));
  });

  it('is deterministic in summary mode too', () => {
    const big: RunView = {
      run: makeRun({ status: 'failed' }),
      orders: Array.from({ length: 5000 }, (_, i) => ran(`t.${i + 1}`, i % 97 === 0 ? 'failed' : 'succeeded', i)),
    };
    expect(renderComment(input([big]))).toBe(renderComment(input([big])));
  });
});
