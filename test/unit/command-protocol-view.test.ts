/**
 * What the command protocol produces, rendered (#14): the order record's bounds on annotations, summaries cut to
 * their stored size, the step summary Markdown sanitized, the sticky comment's counts, errors and summary link, and
 * the failed status's error count.
 */
import { describe, expect, it } from 'vitest';
import { MAX_COMMENT_LENGTH, MAX_ERRORS_LISTED, renderComment } from '../../src/core/render/comment.ts';
import {
  MAX_ANNOTATION_BYTES_PER_ORDER,
  MAX_ANNOTATIONS_PER_ORDER,
  annotationCountText,
  annotationPlace,
  countAnnotations,
  cutSummary,
  keptStepResults,
} from '../../src/core/step-results.ts';
import type { Annotation, OrderRecord, StepResult } from '../../src/core/types.ts';
import { statusFor } from '../../src/forges/reporter/commit-status.ts';
import { renderSummaryMarkdown } from '../../src/server/dashboard/markdown.ts';
import { makeOrder, makeRun, T0 } from '../helpers/records.ts';

const note = (level: Annotation['level'], message: string, over: Partial<Annotation> = {}): Annotation => ({
  level,
  message,
  ...over,
});

const step = (index: number, over: Partial<StepResult> = {}): StepResult => ({
  index,
  name: `s${String(index)}`,
  outcome: 'success',
  conclusion: 'success',
  durationMs: 1,
  ...over,
});

describe('keptStepResults', () => {
  it('takes summaries out and marks the steps that wrote one, also when a later report leaves it out', () => {
    const earlier = keptStepResults([step(0, { summary: '# hi' }), step(1, { summary: '  \n' })]);
    expect(earlier).toEqual([step(0, { hasSummary: true }), step(1)]);
    expect(keptStepResults([step(0), step(1)], earlier)).toEqual([step(0, { hasSummary: true }), step(1)]);
  });

  it(`keeps the first ${String(MAX_ANNOTATIONS_PER_ORDER)} annotations of the order, in step order`, () => {
    const many = (index: number): StepResult =>
      step(index, {
        annotations: Array.from({ length: 30 }, (_, i) => note('error', `${String(index)}.${String(i)}`)),
      });
    const kept = keptStepResults([many(0), many(1), many(2)]);
    expect(kept.map((s) => s.annotations?.length ?? 0)).toEqual([30, 20, 0]);
    expect(kept[2]).not.toHaveProperty('annotations');
    expect(kept[1]?.annotations?.at(-1)?.message).toBe('1.19');
  });

  it(`keeps at most ${String(MAX_ANNOTATION_BYTES_PER_ORDER)} bytes of annotation text per order`, () => {
    const long = note('warning', 'é'.repeat(4000)); // 8,000 bytes each
    const kept = keptStepResults([step(0, { annotations: Array.from({ length: 10 }, () => long) })]);
    expect(kept[0]?.annotations).toHaveLength(Math.floor(MAX_ANNOTATION_BYTES_PER_ORDER / 8000));
  });
});

describe('cutSummary', () => {
  it('leaves a summary within the cap as it is', () => {
    expect(cutSummary('# ok\n', 100)).toBe('# ok\n');
  });

  it('cuts at a line break within the cap, whole characters only, and says so', () => {
    const text = 'ü'.repeat(10) + '\n' + 'ü'.repeat(2000);
    const cut = cutSummary(text, 1024);
    expect(new TextEncoder().encode(cut).length).toBeLessThanOrEqual(1024);
    expect(cut).not.toContain('\uFFFD');
    expect(cut).toMatch(/^ü+\n\n\*The summary was cut here: 4 KiB written, 1 KiB kept\.\*\n$/);
  });
});

describe('annotation counts and places', () => {
  const steps = [
    step(0, { annotations: [note('error', 'a'), note('warning', 'b'), note('error', 'c')] }),
    step(1, { annotations: [note('notice', 'd')] }),
  ];
  it.each([
    { notices: true, text: '2 errors, 1 warning, 1 notice' },
    { notices: false, text: '2 errors, 1 warning' },
  ])('notices $notices → $text', ({ notices, text }) => {
    expect(annotationCountText(countAnnotations(steps), notices)).toBe(text);
  });
  it('is empty without annotations', () => {
    expect(annotationCountText(countAnnotations([step(0)]))).toBe('');
  });
  it.each([
    [{}, ''],
    [{ file: 'a.ts' }, 'a.ts'],
    [{ file: 'a.ts', line: 3 }, 'a.ts:3'],
    [{ file: 'a.ts', line: 3, col: 9 }, 'a.ts:3:9'],
    [{ line: 3 }, ''],
  ])('%o → %s', (over, place) => {
    expect(annotationPlace(note('error', 'm', over))).toBe(place);
  });
});

describe('renderSummaryMarkdown', () => {
  it('renders GFM tables, code and emphasis', () => {
    const out = renderSummaryMarkdown('### Done\n\n| a | b |\n|---|---|\n| 1 | **2** |\n\n`x` ~~y~~').value;
    expect(out).toContain('<h3>Done</h3>');
    expect(out).toContain('<td><strong>2</strong></td>');
    expect(out).toContain('<code>x</code> <s>y</s>');
  });

  it.each([
    ['<script>alert(1)</script>', '&lt;script&gt;alert(1)&lt;/script&gt;'],
    ['<img src=x onerror=alert(1)>', '&lt;img src=x onerror=alert(1)&gt;'],
    ['<a href="javascript:alert(1)">x</a>', '&lt;a href=&quot;javascript:alert(1)&quot;&gt;x&lt;/a&gt;'],
    ['[x](javascript:alert(1))', '[x](javascript:alert(1))'],
    ['[x](JaVaScRiPt:alert(1))', '[x](JaVaScRiPt:alert(1))'],
    ['[x](  javascript:alert(1))', '[x](  javascript:alert(1))'],
    ['[x](java&#x73;cript:alert(1))', '<p>[x](javascript:alert(1))</p>'],
    ['[x](data:text/html;base64,PHNjcmlwdD4=)', '[x](data:text/html;base64,PHNjcmlwdD4=)'],
    ['[x](vbscript:msgbox)', '[x](vbscript:msgbox)'],
    ['<javascript:alert(1)>', '&lt;javascript:alert(1)&gt;'],
    ['[x]: javascript:alert(1)\n\n[x]', '[x]: javascript:alert(1)'],
  ])('makes %s inert', (markdown, shown) => {
    const out = renderSummaryMarkdown(markdown).value;
    // No element but the paragraph: every `<` of the input is text (`&lt;`), so no handler attribute exists either.
    expect(out.replace(/<\/?p>/g, '')).not.toMatch(/<[a-z]/i);
    expect(out).toContain(shown);
  });

  it('links http(s) and mailto only, with rel=nofollow noopener noreferrer; images become links', () => {
    const out = renderSummaryMarkdown(
      '[a](https://x.org/a) [m](mailto:a@x.org) ![chart](https://x.org/c.png "t")',
    ).value;
    expect(out).toContain('<a href="https://x.org/a" rel="nofollow noopener noreferrer">a</a>');
    expect(out).toContain('<a href="mailto:a@x.org" rel="nofollow noopener noreferrer">m</a>');
    expect(out).toContain('<a href="https://x.org/c.png" rel="nofollow noopener noreferrer">chart</a>');
    expect(out).not.toContain('<img');
  });
});

const runUrl = (runId: string): string => `https://ci.example.org/runs/${runId}`;

function commentFor(orders: readonly OrderRecord[]): string {
  const run = makeRun({ runId: 'r1', status: 'failed', finishedAt: T0 + 5000 });
  return renderComment({
    runs: [{ run, orders }],
    logUrl: (runId, orderId) => `${runUrl(runId)}/orders/${orderId}/log`,
    runUrl,
    now: T0 + 10_000,
  });
}

const failed = (id: string, steps: readonly StepResult[]): OrderRecord =>
  makeOrder(id, {
    runId: 'r1',
    state: 'failed',
    result: 'failure',
    dispatchedAt: T0,
    startedAt: T0,
    finishedAt: T0 + 1000,
    reason: 'step "test" failed',
    stepResults: steps,
  });

describe('the sticky comment', () => {
  it('counts errors and warnings per order, lists the first errors escaped, and links the step summaries', () => {
    const text = commentFor([
      failed('build', [
        step(0, {
          hasSummary: true,
          annotations: [
            note('error', 'bad <b>@here</b> |pipe|', { file: 'src/a.ts', line: 3, col: 2, title: '*T*' }),
            note('warning', 'w'),
            note('notice', 'n'),
          ],
        }),
      ]),
      failed('lint', [step(0)]),
    ]);
    const buildRow = text.split('\n').find((l) => l.startsWith('|') && l.includes('build'));
    expect(buildRow).toContain('**1 error, 1 warning** · step "test" failed');
    expect(text.split('\n').find((l) => l.startsWith('|') && l.includes('lint'))).not.toContain('error');
    expect(text).toContain(
      '- ❌ **build** · src/a.ts:3:2 · **\\*T\\*** · bad &lt;b&gt;@&#8203;here&lt;/b&gt; \\|pipe\\|',
    );
    expect(text).toContain('[step summaries](https://ci.example.org/runs/r1#summaries)');
  });

  it(`lists at most ${String(MAX_ERRORS_LISTED)} errors, then how many more`, () => {
    const errors = Array.from({ length: 8 }, (_, i) => note('error', `e${String(i)}`));
    const text = commentFor([failed('build', [step(0, { annotations: errors })])]);
    expect(text.match(/^- ❌/gm)).toHaveLength(MAX_ERRORS_LISTED);
    expect(text).toContain('- … and 3 more errors [on the dashboard](https://ci.example.org/runs/r1)');
    expect(text).not.toContain('step summaries');
  });

  it('stays within the comment limit with many annotated orders', () => {
    const big = note('error', 'x'.repeat(4000), { title: 't'.repeat(1000), file: 'f'.repeat(1000), line: 1 });
    const orders = Array.from({ length: 400 }, (_, i) =>
      failed(`o${String(i)}`, [step(0, { annotations: Array.from({ length: 50 }, () => big) })]),
    );
    expect(commentFor(orders).length).toBeLessThanOrEqual(MAX_COMMENT_LENGTH);
  });
});

describe('the commit status of a failed order', () => {
  const context = { workflow: 'ci', targetUrl: 'https://ci.example.org/x', maxDescription: 140, now: T0 };
  it('says how many errors, first, within 140 characters', () => {
    const order = failed('build', [
      step(0, { annotations: [note('error', 'a'), note('error', 'b'), note('warning', 'c')] }),
    ]);
    expect(statusFor(order, context).description).toBe('failed: 2 errors · step "test" failed');
    const long = { ...order, reason: 'r'.repeat(500) };
    const description = statusFor(long, context).description;
    expect(description.length).toBeLessThanOrEqual(140);
    expect(description.startsWith('failed: 2 errors · rrr')).toBe(true);
  });
  it('is unchanged without errors', () => {
    expect(statusFor(failed('build', [step(0)]), context).description).toBe('failed: step "test" failed');
  });
});
