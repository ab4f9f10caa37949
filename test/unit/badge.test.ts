import { describe, expect, it } from 'vitest';
import {
  BADGE_COLORS,
  BADGE_STATES,
  badgeStateOf,
  latestBadgeState,
  renderBadge,
  stateBadge,
  textWidth,
  workflowMatches,
  type BadgeState,
} from '../../src/core/render/badge.ts';
import type { RunRecord, RunStatus } from '../../src/core/types.ts';

const width = (svg: string): number => Number(/^<svg[^>]* width="(\d+(?:\.\d+)?)"/.exec(svg)?.[1]);

describe('renderBadge', () => {
  it('grows with its text, label and message alike', () => {
    const widths = ['a', 'ab', 'abcdef', 'abcdefghijklmnop'].map((t) =>
      width(renderBadge({ label: t, message: 'passing', color: '#4c1' })),
    );
    for (let i = 1; i < widths.length; i++) expect(widths[i]).toBeGreaterThan(widths[i - 1]!);
    const messages = ['ok', 'passing', 'passing for a long time'].map((m) =>
      width(renderBadge({ label: 'ci', message: m, color: '#4c1' })),
    );
    for (let i = 1; i < messages.length; i++) expect(messages[i]).toBeGreaterThan(messages[i - 1]!);
    // Wide letters take more room than narrow ones.
    expect(textWidth('mmmm')).toBeGreaterThan(textWidth('iiii'));
  });

  it.each(BADGE_STATES.map((s) => [s] as const))('shows %s in words and in its colour', (state: BadgeState) => {
    const svg = renderBadge(stateBadge('ci', state));
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    expect(svg).toContain(`<title>ci: ${state}</title>`);
    expect(svg).toContain(`aria-label="ci: ${state}"`);
    expect(svg).toContain(`fill="${BADGE_COLORS[state]}"`);
    expect(svg.match(new RegExp(`>${state}</text>`, 'g'))).toHaveLength(2); // text and its shadow
  });

  it('escapes user text, drops control characters and caps the length', () => {
    const svg = renderBadge({
      label: '<script>alert("x")</script>&',
      message: 'a\u0000b\u001b[31m\u202Ec',
      color: '#4c1',
    });
    expect(svg).not.toContain('<script>');
    expect(svg).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;');
    // eslint-disable-next-line no-control-regex
    expect(svg).not.toMatch(/[\u0000-\u001f\u202e]/);
    const long = renderBadge({ label: 'x'.repeat(500), message: 'passing', color: '#4c1' });
    expect(long).toContain(`${'x'.repeat(39)}…`);
    expect(long).not.toContain('x'.repeat(41));
  });

  it('falls back to grey for a colour that is not a hex colour (no attribute injection)', () => {
    const svg = renderBadge({ label: 'ci', message: 'x', color: 'red" onload="alert(1)' });
    expect(svg).not.toContain('onload');
    expect(svg).toContain(`fill="${BADGE_COLORS.unknown}"`);
  });
});

describe('badgeStateOf', () => {
  it.each([
    ['succeeded', 'passing'],
    ['failed', 'failing'],
    ['cancelled', 'cancelled'],
    ['running', 'running'],
    ['pending', 'running'],
  ] as const)('%s → %s', (status: RunStatus, state: BadgeState) => {
    expect(badgeStateOf(status)).toBe(state);
  });
});

let seq = 0;
function run(status: RunStatus, over: Partial<RunRecord> = {}): RunRecord {
  const n = ++seq;
  return {
    runId: `r${String(n)}`,
    repo: { forge: 'github', host: 'github.com', owner: 'o', name: 'n' },
    file: '.spotcheck/workflows/ci.yml',
    workflowName: 'ci',
    event: 'push',
    ref: 'refs/heads/main',
    sha: 'a'.repeat(40),
    actor: 'alice',
    github: {} as RunRecord['github'],
    status,
    orderCount: 1,
    createdAt: 1000 - n,
    expiresAt: 10_000,
    ...over,
  };
}

describe('workflowMatches', () => {
  it.each([
    ['ci', true],
    ['ci.yml', true],
    ['CI', false],
    ['lint', false],
  ])('%s → %s', (key, expected) => {
    expect(workflowMatches(run('succeeded'), key)).toBe(expected);
  });
  it('matches the name when it differs from the file', () => {
    expect(workflowMatches(run('succeeded', { workflowName: 'Build & test' }), 'Build & test')).toBe(true);
  });
});

describe('latestBadgeState (runs newest first)', () => {
  const main = { branches: ['main', 'master'] };
  const B = 'b'.repeat(40);
  it.each<[string, RunRecord[], { branches: string[]; workflow?: string }, BadgeState]>([
    ['no run', [], main, 'unknown'],
    ['only a pull request run', [run('failed', { event: 'pull_request', ref: 'refs/pull/1/head' })], main, 'unknown'],
    ['a run in progress and nothing finished', [run('running')], main, 'running'],
    ['a run in progress does not hide the last result', [run('running', { sha: B }), run('failed')], main, 'failing'],
    ['the newest finished run decides', [run('succeeded', { sha: B }), run('failed')], main, 'passing'],
    [
      'another workflow failing on the same commit fails the repository badge',
      [run('succeeded'), run('failed', { file: '.spotcheck/workflows/lint.yml', workflowName: 'lint' })],
      main,
      'failing',
    ],
    [
      '… but not the badge of the passing workflow',
      [run('succeeded'), run('failed', { file: '.spotcheck/workflows/lint.yml', workflowName: 'lint' })],
      { branches: ['main'], workflow: 'ci' },
      'passing',
    ],
    [
      'a re-run of the same workflow and commit replaces the older result',
      [run('succeeded'), run('failed')],
      main,
      'passing',
    ],
    ['cancelled', [run('cancelled')], main, 'cancelled'],
    ['other branches do not count', [run('failed', { ref: 'refs/heads/feature' })], main, 'unknown'],
    ['master when main has no run', [run('failed', { ref: 'refs/heads/master' })], main, 'failing'],
    [
      '?branch= picks the branch',
      [run('failed'), run('succeeded', { ref: 'refs/heads/release' })],
      { branches: ['release'] },
      'passing',
    ],
    ['a workflow with no run', [run('succeeded')], { branches: ['main'], workflow: 'deploy' }, 'unknown'],
  ])('%s', (_name, runs, query, expected) => {
    expect(latestBadgeState(runs, query)).toBe(expected);
  });
});
