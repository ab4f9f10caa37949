import { describe, expect, it } from 'vitest';
import {
  checkRatio,
  formatMiB,
  formatNumber,
  median,
  mergeBenchReport,
  renderBenchReport,
  renderMeasuredLine,
  renderTable,
  type MachineInfo,
} from '../../bench/bench-report.ts';
import { judgeEngine, renderEngineSection, summarize, type EngineSample } from '../../bench/engine.bench.ts';

describe('renderTable', () => {
  it('pads columns, right-aligns numbers and marks alignment in the delimiter row', () => {
    expect(
      renderTable(
        [{ header: 'graph' }, { header: 'ms/order', align: 'right' }],
        [
          ['500 orders', '1.5'],
          ['5,000 orders', '12.25'],
        ],
      ),
    ).toBe(
      [
        '| graph        | ms/order |',
        '| ------------ | -------: |',
        '| 500 orders   |      1.5 |',
        '| 5,000 orders |    12.25 |',
      ].join('\n'),
    );
  });

  it('keeps delimiter cells at three dashes or more for narrow columns', () => {
    expect(renderTable([{ header: 'a' }, { header: 'b', align: 'right' }], [['x', '1']])).toBe(
      ['| a   |   b |', '| --- | --: |', '| x   |   1 |'].join('\n'),
    );
  });

  it.each([
    ['a pipe', 'a|b', 'a\\|b'],
    ['a newline', 'a\nb', 'a b'],
    ['a CRLF', 'a\r\nb', 'a b'],
  ])('escapes %s so a cell cannot break its row', (_name, text, shown) => {
    const table = renderTable([{ header: 'h' }], [[text]]);
    expect(table.split('\n')).toHaveLength(3);
    expect(table.split('\n')[2]).toBe(`| ${shown.padEnd(3)} |`);
  });

  it('fills missing cells with blanks', () => {
    expect(renderTable([{ header: 'a' }, { header: 'b' }], [['1']]).split('\n')[2]).toBe('| 1   |     |');
  });
});

describe('numbers', () => {
  it.each([
    [1234.5, 0, '1,235'],
    [1234.5, 2, '1,234.50'],
    [0.0123, 3, '0.012'],
    [Number.NaN, 1, 'n/a'],
    [Number.POSITIVE_INFINITY, 0, 'n/a'],
  ])('formatNumber(%d, %d) = %s', (value, decimals, text) => {
    expect(formatNumber(value, decimals)).toBe(text);
  });

  it.each([
    [1_048_576, '1.0 MiB'],
    [314_572_800, '300.0 MiB'],
    [-5_242_880, '-5.0 MiB'],
  ])('formatMiB(%d) = %s', (bytes, text) => {
    expect(formatMiB(bytes)).toBe(text);
  });

  it.each([
    [[3, 1, 2], 2],
    [[4, 1, 3, 2], 2.5],
    [[7], 7],
  ])('median(%j) = %d', (values, expected) => {
    expect(median(values)).toBe(expected);
  });

  it('median of nothing is not a number', () => {
    expect(median([])).toBeNaN();
  });
});

describe('checkRatio', () => {
  const check = (base: number, compared: number, limit = 1.3) =>
    checkRatio({
      label: 'cost per order',
      unit: 'ms/order',
      base: { label: '500 orders', value: base },
      compared: { label: '5,000 orders', value: compared },
      limit,
      decimals: 2,
    });

  it.each([
    ['well within', 10, 11, 1.1, true],
    ['exactly at the limit', 10, 13, 1.3, true],
    ['just over the limit', 10, 13.01, 1.301, false],
    ['shrinking', 10, 5, 0.5, true],
    ['both zero', 0, 0, 1, true],
  ])('%s: ratio %d→%d', (_name, base, compared, ratio, passed) => {
    const verdict = check(base, compared);
    expect(verdict.ratio).toBeCloseTo(ratio, 6);
    expect(verdict.passed).toBe(passed);
    expect(verdict.markdown.startsWith(passed ? '✅' : '❌')).toBe(true);
  });

  it('fails a zero base against a non-zero value (infinite ratio)', () => {
    const verdict = check(0, 1);
    expect(verdict.passed).toBe(false);
    expect(verdict.markdown).toContain('ratio ∞');
  });

  it('fails on a measurement that is not a number', () => {
    expect(check(Number.NaN, 1).passed).toBe(false);
    expect(check(1, Number.NaN).passed).toBe(false);
  });

  it('prints both numbers, the ratio and the limit', () => {
    expect(check(16, 17).markdown).toBe(
      '✅ **cost per order**: 5,000 orders 17.00 ms/order vs 500 orders 16.00 ms/order: ratio 1.06× (limit 1.30×)',
    );
    expect(check(10, 20, 1.02).markdown).toBe(
      '❌ **cost per order**: 5,000 orders 20.00 ms/order vs 500 orders 10.00 ms/order: ratio 2.00× (limit 1.02×)',
    );
  });
});

describe('renderBenchReport', () => {
  const machine: MachineInfo = {
    cpuModel: 'Test CPU @ 2.0GHz',
    cores: 2,
    memoryBytes: 8 * 1_073_741_824,
    nodeVersion: 'v20.20.2',
    platform: 'linux 6.1',
    date: '2026-01-02T03:04:05.000Z',
    commit: 'db93b80',
  };

  it('puts the machine first, then a summary, then one section per benchmark in order', () => {
    const md = renderBenchReport(machine, [
      { title: 'First', markdown: 'one\n', failures: [] },
      { title: 'Second', markdown: 'two', failures: [] },
    ]);
    expect(md).toContain('| CPU      | Test CPU @ 2.0GHz        |');
    expect(md).toContain('| cores    | 2                        |');
    expect(md).toContain('| memory   | 8.0 GiB                  |');
    expect(md).toContain('| Node.js  | v20.20.2                 |');
    expect(md).toContain('| date     | 2026-01-02T03:04:05.000Z |');
    expect(md).toContain('| commit   | db93b80                  |');
    expect(md).toContain('All criteria held (2 benchmarks).');
    expect(md.indexOf('| CPU')).toBeLessThan(md.indexOf('## First'));
    const measured =
      '_Measured 2026-01-02T03:04:05.000Z, commit db93b80, on Test CPU @ 2.0GHz (2 cores, 8.0 GiB), Node.js v20.20.2, linux 6.1._';
    expect(md.indexOf(`## First\n\n${measured}\n\none\n\n## Second\n\n${measured}\n\ntwo\n`)).toBeGreaterThan(0);
  });

  it('lists every failed criterion under its benchmark', () => {
    const md = renderBenchReport(machine, [
      { title: 'Engine', markdown: 'x', failures: ['❌ cost', '❌ requests'] },
      { title: 'Other', markdown: 'y', failures: [] },
    ]);
    expect(md).toContain('2 criteria failed:\n\n- Engine: ❌ cost\n- Engine: ❌ requests');
    expect(md).not.toContain('All criteria held');
  });
});

describe('mergeBenchReport: a run of some benchmarks replaces only their sections', () => {
  const before: MachineInfo = {
    cpuModel: 'Old CPU',
    cores: 4,
    memoryBytes: 16 * 1_073_741_824,
    nodeVersion: 'v20.1.0',
    platform: 'linux 5.0',
    date: '2025-05-05T05:05:05.000Z',
    commit: 'aaaaaaa',
  };
  const now: MachineInfo = { ...before, cpuModel: 'New CPU', date: '2026-06-06T06:06:06.000Z', commit: 'bbbbbbb' };
  const full = renderBenchReport(before, [
    { title: 'First', markdown: 'one\n\n### Criteria\n\n- held', failures: [] },
    { title: 'Second', markdown: 'two', failures: ['❌ slow'] },
    { title: 'Third', markdown: 'three', failures: [] },
  ]);
  const sectionOf = (md: string, title: string): string => {
    const start = md.indexOf(`## ${title}\n`);
    const next = md.indexOf('\n## ', start + 1);
    return md.slice(start, next < 0 ? md.length : next + 1);
  };

  it('replaces a section in place and keeps the others as they were, each with its own date', () => {
    const md = mergeBenchReport(full, now, [{ title: 'Second', markdown: 'two again', failures: [] }]);
    expect(md.match(/^## .*/gm)).toEqual(['## First', '## Second', '## Third']);
    expect(sectionOf(md, 'First')).toBe(sectionOf(full, 'First'));
    expect(sectionOf(md, 'Third')).toBe(sectionOf(full, 'Third'));
    expect(sectionOf(md, 'Second')).toBe(`## Second\n\n${renderMeasuredLine(now)}\n\ntwo again\n\n`);
    expect(sectionOf(md, 'First')).toContain('2025-05-05T05:05:05.000Z');
    expect(md).toContain('| CPU      | New CPU                  |');
    expect(md).toContain('All criteria held (3 benchmarks).');
  });

  it('keeps the failed criteria of the sections it keeps, and drops those of the section it replaced', () => {
    const failing = mergeBenchReport(full, now, [{ title: 'First', markdown: 'one', failures: ['❌ new'] }]);
    expect(failing).toContain('2 criteria failed:\n\n- First: ❌ new\n- Second: ❌ slow\n');
    const fixed = mergeBenchReport(full, now, [{ title: 'Second', markdown: 'fast', failures: [] }]);
    expect(fixed).toContain('All criteria held (3 benchmarks).');
  });

  it('adds a section the file does not have yet at the end', () => {
    const md = mergeBenchReport(full, now, [{ title: 'Fourth', markdown: 'four', failures: [] }]);
    expect(md.match(/^## .*/gm)).toEqual(['## First', '## Second', '## Third', '## Fourth']);
    expect(md).toContain('1 criterion failed:\n\n- Second: ❌ slow\n');
  });

  it('is what a full run writes when every section is replaced', () => {
    const sections = [
      { title: 'First', markdown: 'one', failures: [] },
      { title: 'Second', markdown: 'two', failures: [] },
      { title: 'Third', markdown: 'three', failures: [] },
    ];
    expect(mergeBenchReport(full, now, sections)).toBe(renderBenchReport(now, sections));
  });

  it("dates the sections of a file written before sections had their own line from that file's machine table", () => {
    const oldStyle = full.replaceAll(`${renderMeasuredLine(before)}\n\n`, '');
    expect(oldStyle).not.toContain('_Measured');
    const md = mergeBenchReport(oldStyle, now, [{ title: 'Second', markdown: 'two again', failures: [] }]);
    expect(sectionOf(md, 'First')).toBe(
      `## First\n\n${renderMeasuredLine(before)}\n\none\n\n### Criteria\n\n- held\n\n`,
    );
    expect(sectionOf(md, 'Second')).toContain(renderMeasuredLine(now));
  });

  it('writes a whole new file over text that is not a BENCHMARKS.md', () => {
    const sections = [{ title: 'Only', markdown: 'x', failures: [] }];
    expect(mergeBenchReport('# notes\n\n## Only\n\nmine\n', now, sections)).toBe(renderBenchReport(now, sections));
  });
});

describe('the engine section', () => {
  const sample = (orders: number, wallMs: number, cpuMs: number, byCommand: Record<string, number>): EngineSample => {
    const requests = Object.values(byCommand).reduce((a, b) => a + b, 0);
    return {
      orders,
      wallMs,
      cpuMs,
      requests,
      byCommand,
      memory: { baseline: { rss: 100, heapUsed: 50 }, peakRss: 300, peakHeapUsed: 150, samples: 10 },
    };
  };
  const cases = {
    small: { label: '500 orders', layers: 50, width: 10, fanIn: 3, maxConcurrentOrders: 10_000, repeats: 3 },
    large: { label: '5,000 orders', layers: 50, width: 100, fanIn: 3, maxConcurrentOrders: 10_000, repeats: 3 },
  };

  it('takes the median of each measure and divides by the order count', () => {
    const s = summarize(cases.small, [
      sample(500, 9_000, 8_000, { UpdateItem: 5_000, GetItem: 1_000 }),
      sample(500, 10_000, 9_000, { UpdateItem: 5_000, GetItem: 1_000 }),
      sample(500, 30_000, 10_000, { UpdateItem: 5_000, GetItem: 1_010, Query: 1 }),
    ]);
    expect(s.wallMs).toBe(10_000);
    expect([s.wallMinMs, s.wallMaxMs]).toEqual([9_000, 30_000]);
    expect(s.msPerOrder).toBe(20);
    expect(s.cpuMsPerOrder).toBe(18);
    expect(s.ordersPerSecond).toBe(50);
    expect(s.requestsPerOrder).toBe(12);
    // A command missing from a run counts as zero there, so its median is over every run.
    expect(s.byCommandPerOrder).toEqual({ GetItem: 2, Query: 0, UpdateItem: 10 });
    expect([s.rssDelta, s.heapDelta]).toEqual([200, 100]);
  });

  it('passes a flat cost and flat requests, and fails growth in either', () => {
    const small = summarize(cases.small, [sample(500, 10_000, 9_000, { UpdateItem: 6_000 })]);
    const flat = summarize(cases.large, [sample(5_000, 110_000, 95_000, { UpdateItem: 60_000 })]);
    const slow = summarize(cases.large, [sample(5_000, 140_000, 95_000, { UpdateItem: 60_000 })]);
    const chatty = summarize(cases.large, [sample(5_000, 100_000, 90_000, { UpdateItem: 62_000 })]);
    const ok = judgeEngine(small, flat);
    expect([ok.cost.passed, ok.cpu.passed, ok.requests.passed]).toEqual([true, true, true]);
    const late = judgeEngine(small, slow);
    expect([late.cost.passed, late.cpu.passed]).toEqual([false, true]);
    expect(late.cost.ratio).toBeCloseTo(1.4, 6);
    expect(judgeEngine(small, chatty).requests.passed).toBe(false);

    const md = renderEngineSection([small, slow], late);
    expect(md).toContain('❌ **cost per order**: 5,000 orders 28.000 ms/order vs 500 orders 20.000 ms/order');
    expect(md).toContain('✅ **store requests per order**');
    expect(md).toMatch(/\| UpdateItem +\| +12\.000 \| +12\.000 \|/);
    expect(md).toMatch(/\| 5,000 orders \| +10,000 \| +1 \| +140\.00 s \|/);
  });
});
