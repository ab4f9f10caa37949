import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { processAlive } from '../../runners/agent/process-group.ts';
import { createLocalRunner, logPath } from '../../runners/local.ts';
import type { LocalRunner } from '../../runners/local.ts';
import type { AgentReport, LaunchRequest, OrderJob, OrderRef, ReportSink } from '../../runners/runner.ts';
import type { OrderRecord, RunRecord, StepSpec } from '../../src/core/types.ts';
import { makeGithubContext } from '../helpers/records.ts';

type StepInput = Partial<Omit<StepSpec, 'index' | 'pos'>> & { run: string };

let root: string;
let repo: string;
let dataDir: string;
let sha: string;
let runners: LocalRunner[];

const baseEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin' };

function git(args: string[], cwd: string): string {
  return execFileSync('git', args, {
    cwd,
    encoding: 'utf8',
    env: {
      PATH: baseEnv.PATH,
      HOME: root,
      GIT_AUTHOR_NAME: 't',
      GIT_AUTHOR_EMAIL: 't@example.com',
      GIT_COMMITTER_NAME: 't',
      GIT_COMMITTER_EMAIL: 't@example.com',
    },
  }).trim();
}

beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'spotcheck-local-'));
  repo = path.join(root, 'repo');
  dataDir = path.join(root, 'data');
  git(['init', '--quiet', '--initial-branch=main', repo], root);
  await writeFile(path.join(repo, 'README.md'), 'version one\n');
  git(['add', 'README.md'], repo);
  git(['commit', '--quiet', '-m', 'one'], repo);
  sha = git(['rev-parse', 'HEAD'], repo);
  await writeFile(path.join(repo, 'README.md'), 'version two\n');
  git(['commit', '--quiet', '-am', 'two'], repo);
  runners = [];
});

afterEach(async () => {
  // Whatever a failed test left running is stopped before its files go.
  for (const runner of runners) await runner.idle();
  await rm(root, { recursive: true, force: true });
});

class RecordingSink implements ReportSink {
  readonly reports: { ref: OrderRef; report: AgentReport }[] = [];
  onReport: ((report: AgentReport) => void) | undefined;
  report(ref: OrderRef, report: AgentReport): Promise<void> {
    this.reports.push({ ref, report });
    this.onReport?.(report);
    return Promise.resolve();
  }
  types(): string[] {
    return this.reports.map((r) => r.report.type);
  }
  finals(): AgentReport[] {
    return this.reports.map((r) => r.report).filter((r) => r.type === 'finished' || r.type === 'interrupted');
  }
  logText(): string {
    return this.reports.map((r) => (r.report.type === 'log' ? r.report.chunk : '')).join('');
  }
}

function makeRunner(sink: ReportSink, env: Record<string, string> = baseEnv): LocalRunner {
  const runner = createLocalRunner({ sink, dataDir, baseEnv: () => env, killGraceMs: 300, logFlushMs: 20 });
  runners.push(runner);
  return runner;
}

const github = makeGithubContext({ sha: '', repository: 'acme/widgets', repository_owner: 'acme', run_id: 'run-1' });

function request(steps: readonly StepInput[], over: Partial<OrderJob> = {}): LaunchRequest {
  const job: OrderJob = {
    ref: { runId: 'run-1', orderId: 'build', attempt: 1 },
    repository: 'acme/widgets',
    cloneUrl: repo,
    sha,
    github: { ...github, sha },
    matrix: {},
    needs: {},
    env: {},
    outputExprs: {},
    timeoutMinutes: 1,
    steps: steps.map((s, index) => ({ env: {}, continueOnError: false, ...s, index, pos: { line: 1, col: 1 } })),
    ...over,
  };
  // The local runner reads only `job`; run, order and route are the orchestrator's records.
  return {
    run: {} as RunRecord,
    order: {} as OrderRecord,
    route: { label: 'local', runner: 'local', settings: {} },
    job,
  };
}

async function waitFor(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await delay(25);
  expect(check()).toBe(true);
}

describe('local runner', () => {
  it('checks the exact commit out, runs the steps, reports in order and writes the log file', async () => {
    const sink = new RecordingSink();
    const runner = makeRunner(sink);
    const req = request(
      [
        { id: 'read', run: 'cat README.md\necho "content=$(cat README.md)" >> "$GITHUB_OUTPUT"' },
        { run: 'echo done; echo "## all good" >> "$GITHUB_STEP_SUMMARY"' },
      ],
      { outputExprs: { content: '${{ steps.read.outputs.content }}' } },
    );
    const { handle } = await runner.launch(req);
    await runner.idle();

    const types = sink.types();
    expect(types[0]).toBe('running');
    expect(types.at(-1)).toBe('finished');
    expect(types.filter((t) => t === 'step')).toHaveLength(2);
    expect(sink.finals()).toEqual([
      expect.objectContaining({ type: 'finished', conclusion: 'success', outputs: { content: 'version one' } }),
    ]);
    expect(sink.reports.every((r) => r.ref === req.job.ref)).toBe(true);
    // The summary goes with its step's report, and only there (the server keeps it from that one).
    const steps = sink.reports.flatMap((r) => (r.report.type === 'step' ? [r.report.result] : []));
    expect(steps.map((s) => s.summary)).toEqual([undefined, '## all good\n']);
    const [final] = sink.finals();
    expect(final?.type === 'finished' ? final.stepResults.map((s) => s.summary) : []).toEqual([undefined, undefined]);
    // The commit asked for, not the branch tip.
    expect(sink.logText()).toContain('version one\n');
    const file = await readFile(logPath(dataDir, req.job.ref), 'utf8');
    expect(file).toBe(sink.logText());
    expect(file).toContain('##[step] Run cat README.md');
    expect(await readdir(path.join(dataDir, 'work'))).toEqual([]);
    expect(await runner.isAlive(handle)).toBe(false);
  });

  it('checks out a commit no branch reaches (fetched by id)', async () => {
    await writeFile(path.join(repo, 'README.md'), 'dangling\n');
    git(['commit', '--quiet', '-am', 'three'], repo);
    const dangling = git(['rev-parse', 'HEAD'], repo);
    git(['reset', '--quiet', '--hard', 'HEAD~1'], repo);
    const sink = new RecordingSink();
    const runner = makeRunner(sink);
    await runner.launch(request([{ run: 'cat README.md' }], { sha: dangling }));
    await runner.idle();
    expect(sink.finals()).toEqual([expect.objectContaining({ conclusion: 'success' })]);
    expect(sink.logText()).toContain('dangling\n');
  });

  it('launch is idempotent per run/order/attempt', async () => {
    const sink = new RecordingSink();
    const runner = makeRunner(sink);
    const req = request([{ run: 'echo once' }]);
    const [a, b] = await Promise.all([runner.launch(req), runner.launch(req)]);
    const c = await runner.launch(req);
    await runner.idle();
    const d = await runner.launch(req);
    await runner.idle();
    expect(new Set([a.handle, b.handle, c.handle, d.handle]).size).toBe(1);
    expect(sink.types().filter((t) => t === 'running')).toHaveLength(1);
    expect(sink.finals()).toHaveLength(1);
    // A new attempt is a new execution.
    const retry = await runner.launch(request([{ run: 'echo twice' }], { ref: { ...req.job.ref, attempt: 2 } }));
    await runner.idle();
    expect(retry.handle).not.toBe(a.handle);
    expect(sink.finals()).toHaveLength(2);
    expect(existsSync(logPath(dataDir, { ...req.job.ref, attempt: 2 }))).toBe(true);
  });

  it.each([
    ['a clone URL that does not exist', { cloneUrl: '/does/not/exist' }],
    ['a commit that does not exist', { sha: 'deadbeef'.repeat(5) }],
    ['a sha that is not an object id', { sha: '--upload-pack=touch /tmp/x' }],
  ])('reports %s as finished/failure with the reason', async (_name, over) => {
    const sink = new RecordingSink();
    const runner = makeRunner(sink);
    await runner.launch(request([{ run: 'touch ../../ran' }], over));
    await runner.idle();
    const types = sink.types();
    expect(types[0]).toBe('running');
    expect(types.at(-1)).toBe('finished');
    expect(types.slice(1, -1).every((t) => t === 'log')).toBe(true);
    const [final] = sink.finals();
    expect(final).toMatchObject({ type: 'finished', conclusion: 'failure', stepResults: [] });
    expect(final?.type === 'finished' ? final.reason : '').toMatch(/^checkout failed: /);
    expect(sink.logText()).toContain('##[error] checkout failed');
    expect(await readdir(path.join(dataDir, 'work'))).toEqual([]);
  });

  it('terminate kills the process group and the order finishes cancelled', async () => {
    const sink = new RecordingSink();
    const runner = makeRunner(sink);
    const pidFile = path.join(root, 'bg.pid');
    const { handle } = await runner.launch(
      request([{ run: `sleep 300 &\necho $! > ${pidFile}\necho started\nsleep 300` }, { run: 'echo next' }]),
    );
    await waitFor(() => sink.logText().includes('started\n'));
    expect(await runner.isAlive(handle)).toBe(true);
    await runner.terminate(handle, 'cancelled by a newer push');
    await runner.idle();
    expect(sink.finals()).toEqual([
      expect.objectContaining({ type: 'finished', conclusion: 'cancelled', reason: 'cancelled by a newer push' }),
    ]);
    expect(sink.types().at(-1)).toBe('finished');
    const pid = Number((await readFile(pidFile, 'utf8')).trim());
    await waitFor(() => !processAlive(pid));
    expect(await runner.isAlive(handle)).toBe(false);
    // Terminating a gone or unknown handle is not an error.
    await runner.terminate(handle, 'again');
    await runner.terminate('local:nope/nope/1', 'unknown');
    expect(sink.finals()).toHaveLength(1);
  });

  it('streams log reports while the step is still running', async () => {
    const sink = new RecordingSink();
    const runner = makeRunner(sink);
    const gate = path.join(root, 'gate');
    // The step only ends once the test saw its first output through the sink, so a buffered log would time out.
    sink.onReport = (report) => {
      if (report.type === 'log' && report.chunk.includes('before-gate')) void writeFile(gate, '');
    };
    await runner.launch(
      request([
        { run: `echo before-gate\nwhile [ ! -e ${gate} ]; do sleep 0.05; done\necho after-gate`, timeoutMinutes: 0.2 },
      ]),
    );
    await runner.idle();
    expect(sink.finals()).toEqual([expect.objectContaining({ conclusion: 'success' })]);
    const logs = sink.reports.filter((r) => r.report.type === 'log');
    expect(logs.length).toBeGreaterThan(1);
  });

  it('gives steps only the baseEnv it was configured with', async () => {
    const sink = new RecordingSink();
    const runner = makeRunner(sink, { PATH: baseEnv.PATH, ONLY_THIS: 'yes' });
    await runner.launch(request([{ run: 'echo "home=${HOME:-unset} only=$ONLY_THIS user=${USER:-unset}"' }]));
    await runner.idle();
    expect(sink.logText()).toContain('home=unset only=yes user=unset');
  });

  it('order timeout finishes timed_out', async () => {
    const sink = new RecordingSink();
    const runner = makeRunner(sink);
    await runner.launch(request([{ run: 'sleep 300' }], { timeoutMinutes: 0.01 }));
    await runner.idle();
    expect(sink.finals()).toEqual([expect.objectContaining({ type: 'finished', conclusion: 'timed_out' })]);
  });

  it('a failing sink does not stop the execution or the final report', async () => {
    const seen: string[] = [];
    const sink: ReportSink = {
      report(_ref, report) {
        seen.push(report.type);
        return report.type === 'running' ? Promise.reject(new Error('store down')) : Promise.resolve();
      },
    };
    const runner = makeRunner(sink);
    await runner.launch(request([{ run: 'echo ok' }]));
    await runner.idle();
    expect(seen[0]).toBe('running');
    expect(seen.at(-1)).toBe('finished');
  });

  it('keeps log paths inside dataDir', () => {
    const file = logPath('/data', { runId: '../../etc', orderId: '..', attempt: 1 });
    expect(file.startsWith('/data/logs/')).toBe(true);
    expect(path.normalize(file)).toBe(file);
    expect(file.split('/').includes('..')).toBe(false);
  });
});
