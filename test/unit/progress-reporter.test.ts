import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { OrderRecord, OrderState } from '../../src/core/types.ts';
import { ProgressReporter } from '../../src/cli/progress-reporter.ts';
import * as records from '../helpers/records.ts';

const T0 = Date.UTC(2025, 0, 1, 12, 0, 0);

function sink(): { out: Writable; text: () => string } {
  let text = '';
  const out = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString('utf8');
      done();
    },
  });
  return { out, text: () => text };
}

const run = records.makeRun({ runId: 'r1', workflowName: 'ci', createdAt: T0, expiresAt: T0 + 1 });

function order(state: OrderState, over: Partial<OrderRecord> = {}): OrderRecord {
  return records.makeOrder('build', { name: 'Build', runsOn: 'local', runner: 'local', state, createdAt: T0, ...over });
}

/** `state` of every transition line, in order. */
function states(text: string): string[] {
  return text
    .split('\n')
    .filter((line) => line.includes('ci/Build'))
    .map((line) => line.split('  ')[2] ?? '');
}

describe('ProgressReporter, one line per transition (not a TTY)', () => {
  it('never prints a state after the final one, nor the same state twice', async () => {
    const { out, text } = sink();
    const progress = new ProgressReporter(out, { tty: false, width: 100, now: () => T0 });
    progress.seed(run, [order('queued')]);
    // The runner's own reports overtake the launch's `dispatching` notification (it comes from another drive).
    await progress.orderChanged(run, order('running'));
    await progress.orderChanged(run, order('succeeded', { finishedAt: T0 }));
    await progress.orderChanged(run, order('dispatching'));
    await progress.orderChanged(run, order('running'));
    await progress.orderChanged(run, order('succeeded', { finishedAt: T0 }));
    expect(states(text())).toEqual(['running', 'succeeded']);
  });

  it('prints a retry: a new attempt starts over', async () => {
    const { out, text } = sink();
    const progress = new ProgressReporter(out, { tty: false, width: 100, now: () => T0 });
    await progress.orderChanged(run, order('running'));
    await progress.orderChanged(run, order('interrupted'));
    await progress.orderChanged(run, order('queued', { attempt: 2 }));
    await progress.orderChanged(run, order('running', { attempt: 1 }));
    await progress.orderChanged(run, order('running', { attempt: 2 }));
    expect(states(text())).toEqual(['running', 'interrupted', 'queued', 'running']);
  });

  it('prints a queued order that starts waiting for capacity once', async () => {
    const { out, text } = sink();
    const progress = new ProgressReporter(out, { tty: false, width: 100, now: () => T0 });
    progress.seed(run, [order('queued')]);
    await progress.orderChanged(run, order('queued', { waitingSince: T0 }));
    await progress.orderChanged(run, order('queued', { waitingSince: T0 }));
    expect(states(text())).toEqual(['queued']);
  });

  it('prints nothing after stop (the summary follows)', async () => {
    const { out, text } = sink();
    const progress = new ProgressReporter(out, { tty: false, width: 100, now: () => T0 });
    progress.stop();
    await progress.orderChanged(run, order('running'));
    progress.log('r1', 'build', 'late\n');
    expect(text()).toBe('');
  });
});

describe('ProgressReporter, streamed step output', () => {
  it('prefixes each whole line with [workflow/order], holding a split line until its end', () => {
    const { out, text } = sink();
    const progress = new ProgressReporter(out, { tty: false, width: 100, now: () => T0 });
    progress.seed(run, [order('queued'), records.makeOrder('lint', { name: 'Lint', state: 'queued' })]);
    progress.log('r1', 'build', 'one\ntw');
    progress.log('r1', 'lint', 'lint says\r\n');
    progress.log('r1', 'build', 'o\nthr');
    progress.endLog('r1', 'build');
    progress.log('r1', 'lint', 'no newline');
    progress.stop();
    expect(text()).toBe('[ci/Build] one\n[ci/Lint] lint says\n[ci/Build] two\n[ci/Build] thr\n[ci/Lint] no newline\n');
  });
});
