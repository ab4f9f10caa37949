import { describe, expect, it } from 'vitest';
import type { RunView } from '../../src/core/render/comment.ts';
import { formatClock, formatDuration, stateWord } from '../../src/core/render/format.ts';
import { displayWidth, renderProgressTable, renderTransitionLine } from '../../src/core/render/progress.ts';
import type { OrderRecord, RunRecord } from '../../src/core/types.ts';
import * as records from '../helpers/records.ts';

const T0 = Date.UTC(2025, 0, 1, 12, 0, 0);
const SHA = '3f2a9c1e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a39';
const ESC = String.fromCharCode(27);
/** ECMA-48 SGR sequences, as the renderer writes them. */
const SGR_SEQUENCE = new RegExp(`${ESC}\\[\\d+m`, 'g');

function makeRun(over: records.RunOverrides = {}): RunRecord {
  return records.makeRun({
    repo: { forge: 'local', host: 'local', owner: 'me', name: 'repo' },
    sha: SHA,
    actor: 'alice',
    createdAt: T0,
    expiresAt: T0 + 86_400_000,
    ...over,
    github: { server_url: 'http://localhost', ...over.github },
  });
}

function makeOrder(id: string, over: Partial<OrderRecord> = {}): OrderRecord {
  return records.makeOrder(id, { runsOn: 'docker', timeoutMinutes: 20, createdAt: T0, ...over });
}

const NOW = T0 + 200_000;

const view: RunView = {
  run: makeRun(),
  orders: [
    makeOrder('build', {
      name: 'build',
      state: 'succeeded',
      runner: 'local',
      startedAt: T0,
      finishedAt: T0 + 65_000,
    }),
    makeOrder('test.2', { job: 'test', name: 'test (2)', state: 'running', runner: 'local', startedAt: T0 + 70_000 }),
    makeOrder('test.1', {
      job: 'test',
      name: 'test (1)',
      state: 'failed',
      runner: 'local',
      startedAt: T0 + 70_000,
      finishedAt: T0 + 75_000,
      reason: 'step 2 exited with code 1',
    }),
    makeOrder('e2e', { state: 'skipped', reason: 'if: false' }),
    makeOrder('lint', { state: 'queued', runsOn: 'go' }),
  ],
};

const strip = (s: string): string => s.replace(SGR_SEQUENCE, '');

describe('renderProgressTable', () => {
  const text = renderProgressTable([view], NOW, { width: 100, color: false });
  const lines = text.split('\n');

  it('has a header, one row per order in plan order, and totals', () => {
    expect(lines).toHaveLength(1 + 5 + 1);
    expect(lines[0]).toBe(`running  ci  3f2a9c1  push by alice  ${formatDuration(200_000)}`);
    const names = lines.slice(1, 6).map((l) => l.trim().split(/\s{2,}/)[1]);
    expect(names).toEqual(['build', 'test (1) — step 2 exited with code 1', 'test (2)', 'e2e — if: false', 'lint']);
    expect(lines[6]).toBe('running  1 queued · 1 running · 1 succeeded · 1 failed · 1 skipped');
  });

  it.each([
    ['build', ['succeeded', 'build', 'local', '1m 05s']],
    ['test (2)', ['running', 'test (2)', 'local', '2m 10s']],
    ['lint', ['queued', 'lint', 'go']],
  ])('row %s: state, name, runner (or the label), duration counting up to now', (name, cells) => {
    const row = lines.find((l) => l.includes(` ${name} `) || l.includes(` ${name}`));
    expect(row?.trim().split(/\s{2,}/)).toEqual(cells);
  });

  it.each([20, 32, 40, 60, 80, 120, 200])('fits every line in %i columns', (width) => {
    const long: RunView = {
      run: makeRun({ workflowName: 'a-workflow-with-a-rather-long-name' }),
      orders: [
        ...view.orders,
        makeOrder('wide', { name: `matrix (${'x'.repeat(500)})`, state: 'running', startedAt: T0 }),
        makeOrder('cjk', { name: `测试 ${'漢字'.repeat(100)}`, state: 'failed', reason: '失败'.repeat(50) }),
        makeOrder('emoji', { name: `🚀 ${'🔥'.repeat(80)}`, state: 'queued' }),
      ],
    };
    for (const color of [false, true]) {
      const out = renderProgressTable([long, view], NOW, { width, color });
      for (const line of out.split('\n')) expect(displayWidth(strip(line)), line).toBeLessThanOrEqual(width);
    }
  });

  it('cuts a long name with an ellipsis and keeps the other columns', () => {
    const v: RunView = {
      run: makeRun(),
      orders: [
        makeOrder('t', {
          name: 'n'.repeat(300),
          state: 'succeeded',
          runner: 'spot',
          startedAt: T0,
          finishedAt: T0 + 5000,
        }),
      ],
    };
    const row = renderProgressTable([v], NOW, { width: 60, color: false }).split('\n')[1]!;
    expect(row).toContain('n…');
    expect(row.endsWith('spot  5s')).toBe(true);
    expect(displayWidth(row)).toBe(60);
  });

  it('colours state words only when asked', () => {
    expect(text).not.toContain(ESC);
    const coloured = renderProgressTable([view], NOW, { width: 100, color: true });
    expect(coloured).toContain(`${ESC}[32msucceeded${ESC}[0m`);
    expect(coloured).toContain(`${ESC}[31mfailed${ESC}[0m`);
    expect(coloured).toContain(`${ESC}[33mrunning${ESC}[0m`);
    expect(strip(coloured)).toBe(text);
  });

  it('keeps terminal control sequences in names out of the output', () => {
    const v: RunView = {
      run: makeRun({ workflowName: `ci${ESC}]0;pwned\u0007` }),
      orders: [makeOrder('x', { name: `evil${ESC}[2J\nsecond line\rback`, state: 'queued' })],
    };
    const out = renderProgressTable([v], NOW, { width: 80, color: false });
    expect(out).not.toContain(ESC);
    expect(out).not.toContain('\r');
    expect(out.split('\n')).toHaveLength(3);
  });

  it('renders several runs and an empty list', () => {
    const lint: RunView = {
      run: makeRun({ runId: 'r2', workflowName: 'lint', status: 'succeeded', finishedAt: T0 + 9000 }),
      orders: [],
    };
    const out = renderProgressTable([view, lint], NOW, { width: 80, color: false }).split('\n');
    expect(out).toHaveLength(1 + 5 + 1 + 1);
    expect(out[6]).toBe('succeeded  lint  3f2a9c1  push by alice  9s');
    expect(renderProgressTable([], NOW, { width: 80, color: false })).toBe('');
  });

  it('is deterministic and independent of the order the store returned', () => {
    const reversed: RunView = { run: view.run, orders: [...view.orders].reverse() };
    const a = renderProgressTable([view], NOW, { width: 80, color: true });
    expect(renderProgressTable([view], NOW, { width: 80, color: true })).toBe(a);
    // Jobs follow the caller's order, so only the matrix cells are compared here.
    const cellsOf = (s: string): string[] => s.split('\n').filter((l) => l.includes('test ('));
    expect(cellsOf(renderProgressTable([reversed], NOW, { width: 80, color: false }))).toEqual(
      cellsOf(renderProgressTable([view], NOW, { width: 80, color: false })),
    );
  });
});

describe('renderTransitionLine', () => {
  const run = makeRun();
  const cases: [string, OrderRecord, number][] = [
    [
      '12:00:03  ci/test (1)  running  [local]',
      makeOrder('test.1', { name: 'test (1)', state: 'running', runner: 'local', startedAt: T0 }),
      T0 + 3000,
    ],
    ['12:00:00  ci/lint  queued  [go]', makeOrder('lint', { state: 'queued', runsOn: 'go' }), T0],
    [
      '12:01:05  ci/build  succeeded  [spot]  1m 05s',
      makeOrder('build', { state: 'succeeded', runner: 'spot', startedAt: T0, finishedAt: T0 + 65_000 }),
      T0 + 65_000,
    ],
    [
      '12:00:03  ci/build  failed  [spot]  3s  — exit 2',
      makeOrder('build', { state: 'failed', runner: 'spot', startedAt: T0, finishedAt: T0 + 3000, reason: 'exit 2' }),
      T0 + 3000,
    ],
    [
      '12:00:00  ci/e2e  skipped  [docker]  — needs failed',
      makeOrder('e2e', { state: 'skipped', reason: 'needs failed' }),
      T0,
    ],
    ['11:59:59  ci/a b  cancelled  [docker]', makeOrder('x', { name: 'a\nb', state: 'cancelled' }), T0 + 86_399_000],
  ];
  it.each(cases)('%s', (expected, order, now) => {
    expect(renderTransitionLine(run, order, now)).toBe(expected);
  });
});

describe('format helpers', () => {
  it.each([
    [0, '0s'],
    [999, '0s'],
    [42_000, '42s'],
    [65_000, '1m 05s'],
    [3_600_000, '1h 00m 00s'],
    [7_389_000, '2h 03m 09s'],
    [-5000, '0s'],
    [Number.NaN, '0s'],
  ])('formatDuration(%d) = %s', (ms, expected) => {
    expect(formatDuration(ms)).toBe(expected);
  });

  it('formatClock is UTC', () => {
    expect(formatClock(Date.UTC(2025, 5, 1, 7, 8, 9))).toBe('07:08:09');
  });

  it('stateWord', () => {
    expect(stateWord('timed_out')).toBe('timed out');
  });
});
