import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { executeOrder } from '../../runners/agent/execute-order.ts';
import type { ExecuteOptions, OrderOutcome } from '../../runners/agent/execute-order.ts';
import { parseEnvFile } from '../../runners/agent/parse-env-file.ts';
import { processAlive } from '../../runners/agent/process-group.ts';
import { resolveShell } from '../../runners/agent/resolve-shell.ts';
import type { RunStepSpec, StepResult } from '../../src/core/types.ts';
import { makeGithubContext } from '../helpers/records.ts';
import type { OrderJob } from '../../runners/runner.ts';

type StepInput = Partial<Omit<RunStepSpec, 'index' | 'pos'>> & { run: string };

const SHA = '0123456789abcdef0123456789abcdef01234567';

const github = makeGithubContext({
  sha: SHA,
  repository: 'acme/widgets',
  repository_owner: 'acme',
  run_id: 'run-1',
  event: { after: SHA },
});

function makeJob(steps: readonly StepInput[], over: Partial<OrderJob> = {}): OrderJob {
  return {
    ref: { runId: 'run-1', orderId: 'build', attempt: 1 },
    repository: 'acme/widgets',
    cloneUrl: '/nowhere',
    sha: SHA,
    github,
    matrix: {},
    needs: {},
    env: {},
    outputExprs: {},
    timeoutMinutes: 5,
    steps: steps.map((s, index) => ({ env: {}, continueOnError: false, ...s, index, pos: { line: 1, col: 1 } })),
    ...over,
  };
}

/** The only variables steps may start from: what the caller passes as baseEnv. */
const baseEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: tmpdir() };

let root: string;
let workdir: string;
let tempDir: string;

beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'spotcheck-exec-'));
  workdir = path.join(root, 'work');
  tempDir = path.join(root, 'tmp');
  await mkdir(workdir);
  await mkdir(tempDir);
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

interface Ran extends OrderOutcome {
  log: string;
  stepEvents: StepResult[];
}

async function run(job: OrderJob, extra: Partial<ExecuteOptions> = {}): Promise<Ran> {
  let log = '';
  const stepEvents: StepResult[] = [];
  const outcome = await executeOrder({
    job,
    workdir,
    tempDir,
    baseEnv,
    onLog: (chunk) => (log += chunk),
    onStep: (result) => stepEvents.push(result),
    killGraceMs: 500,
    ...extra,
  });
  return { ...outcome, log, stepEvents };
}

/** Zombies count as gone: the process is dead, only its exit status is unread. */
async function waitGone(pid: number): Promise<boolean> {
  for (let i = 0; i < 100 && processAlive(pid); i++) await delay(20);
  return !processAlive(pid);
}

async function readPid(file: string): Promise<number> {
  return Number((await readFile(file, 'utf8')).trim());
}

describe('parseEnvFile (GitHub file-command format)', () => {
  it.each([
    [
      'simple pairs',
      'A=1\nB=two words\n',
      [
        ['A', '1'],
        ['B', 'two words'],
      ],
    ],
    ['value keeps later =', 'A=x=y\n', [['A', 'x=y']]],
    ['empty value', 'A=\n', [['A', '']]],
    ['empty lines skipped', '\nA=1\n\n', [['A', '1']]],
    ['no trailing newline', 'A=1', [['A', '1']]],
    ['heredoc', 'M<<EOF\nline 1\n\nline 3\nEOF\n', [['M', 'line 1\n\nline 3']]],
    ['empty heredoc', 'M<<EOF\nEOF\n', [['M', '']]],
    ['= before << is a pair', 'A=x<<y\n', [['A', 'x<<y']]],
    ['<< before = is a heredoc', 'A<<E=F\nv\nE=F\n', [['A', 'v']]],
    [
      'mixed, later wins when applied',
      'A=1\nB<<X\nb\nX\nA=2\n',
      [
        ['A', '1'],
        ['B', 'b'],
        ['A', '2'],
      ],
    ],
  ] as const)('%s', (_name, text, pairs) => {
    expect(parseEnvFile(text)).toEqual({ ok: true, pairs });
  });

  it.each([
    ['missing delimiter', 'M<<EOF\nvalue\n', /delimiter not found/],
    ['no name', '=1\n', /name must not be empty/],
    ['no delimiter', 'M<<\n', /must not be empty/],
    ['neither form', 'just text\n', /Invalid format/],
  ] as const)('rejects %s', (_name, text, error) => {
    const parsed = parseEnvFile(text);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error).toMatch(error);
  });
});

describe('resolveShell (GitHub shell table)', () => {
  it.each([
    [undefined, 'bash', ['--noprofile', '--norc', '-eo', 'pipefail', '/s.sh']],
    ['bash', 'bash', ['--noprofile', '--norc', '-eo', 'pipefail', '/s.sh']],
    ['sh', 'sh', ['-e', '/s.sh']],
    ['python', 'python', ['/s.sh']],
    ['pwsh', 'pwsh', ['-command', ". '/s.sh'"]],
    ['perl -w {0} --x', 'perl', ['-w', '/s.sh', '--x']],
    ['node "{0}" "a b"', 'node', ['/s.sh', 'a b']],
  ] as const)('%s', (shell, command, args) => {
    expect(resolveShell(shell, '/s.sh')).toMatchObject({ ok: true, command, args });
  });

  it('rejects an unknown shell without {0}', () => {
    expect(resolveShell('zsh', '/s.sh').ok).toBe(false);
  });
});

describe('executeOrder', () => {
  it('collects GITHUB_OUTPUT in both forms into step outputs and job outputs', async () => {
    const out = await run(
      makeJob(
        [
          {
            id: 'a',
            run: 'echo "plain=hello world" >> "$GITHUB_OUTPUT"\nprintf "multi<<EOF\\nline 1\\nline 2\\nEOF\\n" >> "$GITHUB_OUTPUT"',
          },
          { id: 'b', run: 'echo "again=${{ steps.a.outputs.plain }}!" >> "$GITHUB_OUTPUT"' },
        ],
        {
          outputExprs: {
            plain: '${{ steps.a.outputs.plain }}',
            multi: '${{ steps.a.outputs.multi }}',
            again: '${{ steps.b.outputs.again }}',
            outcome: '${{ steps.a.outcome }}',
          },
        },
      ),
    );
    expect(out.conclusion).toBe('success');
    expect(out.outputs).toEqual({
      plain: 'hello world',
      multi: 'line 1\nline 2',
      again: 'hello world!',
      outcome: 'success',
    });
  });

  it('starts a fresh GITHUB_OUTPUT file per step', async () => {
    const out = await run(
      makeJob([
        { id: 'a', run: 'echo "x=1" >> "$GITHUB_OUTPUT"; echo "$GITHUB_OUTPUT" > ../first' },
        { id: 'b', run: 'test "$GITHUB_OUTPUT" != "$(cat ../first)"; test ! -s "$GITHUB_OUTPUT"' },
      ]),
    );
    expect(out.conclusion).toBe('success');
  });

  it('carries GITHUB_ENV (both forms) to later steps, the env context and not to the step that set it', async () => {
    const out = await run(
      makeJob(
        [
          {
            run: 'echo "GREETING=hi there" >> "$GITHUB_ENV"\nprintf "BLOCK<<END\\na\\nb\\nEND\\n" >> "$GITHUB_ENV"\necho "same-step:${GREETING:-unset}"',
          },
          { run: 'echo "later:$GREETING"\nprintf "block:%s|" "$BLOCK"\necho\necho "expr:${{ env.GREETING }}"' },
        ],
        { outputExprs: { greeting: '${{ env.GREETING }}' } },
      ),
    );
    expect(out.conclusion).toBe('success');
    expect(out.log).toContain('same-step:unset');
    expect(out.log).toContain('later:hi there');
    expect(out.log).toContain('block:a\nb|');
    expect(out.log).toContain('expr:hi there');
    expect(out.outputs).toEqual({ greeting: 'hi there' });
  });

  it('fails the step on a malformed GITHUB_ENV file', async () => {
    const out = await run(makeJob([{ run: 'printf "X<<EOF\\nno end\\n" >> "$GITHUB_ENV"' }]));
    expect(out.conclusion).toBe('failure');
    expect(out.log).toMatch(/Unable to process file command 'env'.*delimiter not found/);
  });

  it('prepends GITHUB_PATH entries to PATH for later steps', async () => {
    await mkdir(path.join(workdir, 'bin'));
    await writeFile(path.join(workdir, 'bin', 'hello-tool'), '#!/bin/sh\necho tool-ran\n', { mode: 0o755 });
    const out = await run(makeJob([{ run: 'echo "$PWD/bin" >> "$GITHUB_PATH"' }, { run: 'hello-tool' }]));
    expect(out.conclusion).toBe('success');
    expect(out.log).toContain('tool-ran');
  });

  it('runs bash with -eo pipefail: a failing command mid-pipe fails the step', async () => {
    const out = await run(makeJob([{ run: 'false | cat\necho not-reached' }, { run: 'echo skipped-step' }]));
    expect(out.conclusion).toBe('failure');
    expect(out.stepResults.map((s) => s.outcome)).toEqual(['failure', 'skipped']);
    expect(out.stepResults[0]?.exitCode).toBe(1);
    expect(out.log).not.toContain('not-reached');
    expect(out.log).not.toMatch(/^skipped-step$/m);
  });

  it('continue-on-error: outcome failure, conclusion success, later steps run, order succeeds', async () => {
    const out = await run(
      makeJob([{ id: 'flaky', run: 'exit 3', continueOnError: true }, { run: 'echo after-flaky' }], {
        outputExprs: { o: '${{ steps.flaky.outcome }}/${{ steps.flaky.conclusion }}' },
      }),
    );
    expect(out.conclusion).toBe('success');
    expect(out.stepResults[0]).toMatchObject({ outcome: 'failure', conclusion: 'success', exitCode: 3 });
    expect(out.log).toContain('after-flaky');
    expect(out.outputs).toEqual({ o: 'failure/success' });
  });

  it('evaluates continue-on-error and timeout-minutes expressions with the step contexts, before the step runs', async () => {
    const out = await run(
      makeJob([
        { id: 'cfg', run: 'echo "flaky=true" >> "$GITHUB_OUTPUT"\necho "minutes=0.01" >> "$GITHUB_OUTPUT"' },
        { run: 'exit 4', continueOnError: "${{ steps.cfg.outputs.flaky == 'true' }}" },
        { run: 'sleep 300', timeoutMinutes: '${{ steps.cfg.outputs.minutes }}', continueOnError: '${{ true }}' },
        { run: 'echo after' },
      ]),
    );
    expect(out.conclusion).toBe('success');
    expect(out.stepResults.map((s) => [s.outcome, s.conclusion])).toEqual([
      ['success', 'success'],
      ['failure', 'success'],
      ['failure', 'success'],
      ['success', 'success'],
    ]);
    expect(out.log).toContain('the step exceeded its timeout of 0.01 minutes');
  });

  it.each([
    [
      'continue-on-error not a boolean',
      { continueOnError: "${{ 'yes' }}" },
      `##[error] continue-on-error: '\${{ 'yes' }}' must evaluate to true or false, got "yes"`,
    ],
    [
      'timeout-minutes not a number',
      { timeoutMinutes: "${{ 'soon' }}" },
      `##[error] timeout-minutes: '\${{ 'soon' }}' must evaluate to a number of minutes, got "soon"`,
    ],
  ])('%s fails the step without running it, and is not forgiven', async (_label, over, message) => {
    const out = await run(
      makeJob([
        { run: 'echo never-ran', ...over },
        { if: 'always()', run: 'echo next' },
      ]),
    );
    expect(out.conclusion).toBe('failure');
    expect(out.stepResults.map((s) => s.conclusion)).toEqual(['failure', 'success']);
    expect(out.log).toContain(message);
    expect(out.log).not.toMatch(/^never-ran$/m);
  });

  it.each([
    ['success() after a failure', 'success()', 'skipped'],
    ['default after a failure', undefined, 'skipped'],
    ['failure() after a failure', 'failure()', 'success'],
    ['always() after a failure', 'always()', 'success'],
    ['cancelled() after a failure', 'cancelled()', 'skipped'],
  ] as const)('if: %s', async (_name, condition, expected) => {
    const out = await run(
      makeJob([{ run: 'exit 1' }, { run: 'echo ran', ...(condition === undefined ? {} : { if: condition }) }]),
    );
    expect(out.conclusion).toBe('failure');
    expect(out.stepResults.map((s) => s.outcome)).toEqual(['failure', expected]);
    expect(out.stepEvents).toEqual(out.stepResults);
  });

  it('evaluates if: over the steps context and skips on false', async () => {
    const out = await run(
      makeJob([
        { id: 'a', run: 'echo "go=yes" >> "$GITHUB_OUTPUT"' },
        { if: "steps.a.outputs.go == 'no'", run: 'echo never' },
        { if: "steps.a.outputs.go == 'yes'", run: 'echo yes-branch' },
      ]),
    );
    expect(out.stepResults.map((s) => s.outcome)).toEqual(['success', 'skipped', 'success']);
    expect(out.log).toContain('yes-branch');
  });

  it('an expression error fails the step with the message in the log', async () => {
    const out = await run(makeJob([{ run: 'echo ${{ steps.a.outputs.x == }}' }, { if: 'always()', run: 'echo next' }]));
    expect(out.conclusion).toBe('failure');
    expect(out.stepResults.map((s) => s.outcome)).toEqual(['failure', 'success']);
    expect(out.log).toMatch(/##\[error\] run: /);
  });

  it('per-step timeout kills the whole process group, grandchildren included', async () => {
    const pidFile = path.join(root, 'bg.pid');
    const out = await run(
      makeJob([
        { run: `sleep 300 &\necho $! > ${pidFile}\nsleep 300`, timeoutMinutes: 0.01 },
        // Checked by the next step, before the order-end cleanup could have done it: the group kill did.
        // A zombie (state Z) is dead; the loop allows for signal delivery.
        {
          if: 'always()',
          run: [
            `pid=$(cat ${pidFile})`,
            'for i in $(seq 1 40); do',
            '  state=$(cut -d" " -f3 /proc/$pid/stat 2>/dev/null || true)',
            '  if [ -z "$state" ] || [ "$state" = Z ]; then break; fi',
            '  sleep 0.05',
            'done',
            'echo "grandchild:${state:-gone}"',
          ].join('\n'),
        },
      ]),
    );
    expect(out.log).toMatch(/^grandchild:(gone|Z)$/m);
    expect(out.conclusion).toBe('failure');
    expect(out.stepResults.map((s) => s.outcome)).toEqual(['failure', 'success']);
    expect(out.log).toContain('exceeded its timeout');
    expect(await waitGone(await readPid(pidFile))).toBe(true);
  });

  it('a step that ignores SIGTERM is killed after the grace', async () => {
    const pidFile = path.join(root, 'stubborn.pid');
    const out = await run(
      makeJob([{ run: `trap '' TERM\nsleep 300 &\necho $! > ${pidFile}\nwait`, timeoutMinutes: 0.01 }]),
      { killGraceMs: 200 },
    );
    expect(out.conclusion).toBe('failure');
    expect(await waitGone(await readPid(pidFile))).toBe(true);
  });

  it('order timeout: timed_out, the running step and the rest cancelled, grandchild gone', async () => {
    const pidFile = path.join(root, 'bg.pid');
    const out = await run(
      makeJob(
        [
          { run: 'echo first' },
          { run: `sleep 300 &\necho $! > ${pidFile}\nsleep 300` },
          { if: 'always()', run: 'echo never' },
        ],
        { timeoutMinutes: 0.02 },
      ),
    );
    expect(out.conclusion).toBe('timed_out');
    expect(out.reason).toMatch(/timeout/);
    expect(out.stepResults.map((s) => s.outcome)).toEqual(['success', 'cancelled', 'cancelled']);
    expect(out.log).not.toMatch(/^never$/m);
    expect(await waitGone(await readPid(pidFile))).toBe(true);
  });

  it('cancel via the signal kills the running step and marks the rest cancelled', async () => {
    const pidFile = path.join(root, 'bg.pid');
    const controller = new AbortController();
    let log = '';
    const promise = executeOrder({
      job: makeJob([{ run: `sleep 300 &\necho $! > ${pidFile}\necho started\nsleep 300` }, { run: 'echo next' }]),
      workdir,
      tempDir,
      baseEnv,
      killGraceMs: 500,
      signal: controller.signal,
      onLog: (chunk) => {
        log += chunk;
        if (log.includes('started\n')) controller.abort('stopped by test');
      },
    });
    const out = await promise;
    expect(out.conclusion).toBe('cancelled');
    expect(out.reason).toBe('stopped by test');
    expect(out.stepResults.map((s) => s.outcome)).toEqual(['cancelled', 'cancelled']);
    expect(await waitGone(await readPid(pidFile))).toBe(true);
  });

  it('an already-aborted signal runs nothing', async () => {
    const out = await run(makeJob([{ run: 'touch ../ran' }]), { signal: AbortSignal.abort() });
    expect(out.conclusion).toBe('cancelled');
    expect(existsSync(path.join(root, 'ran'))).toBe(false);
  });

  it('kills background processes left by a successful step when the order ends', async () => {
    const pidFile = path.join(root, 'daemon.pid');
    const out = await run(makeJob([{ run: `sleep 300 > /dev/null 2>&1 &\necho $! > ${pidFile}` }, { run: 'true' }]));
    expect(out.conclusion).toBe('success');
    expect(await waitGone(await readPid(pidFile))).toBe(true);
  });

  it('gives steps only baseEnv + CI + GITHUB_*/SPOTCHECK_*/RUNNER_* + workflow env, nothing from this process', async () => {
    // bash itself exports PWD, SHLVL and `_`.
    const shellSet = ['PWD', 'SHLVL', '_', 'OLDPWD'];
    const leaked = Object.keys(process.env).filter(
      (k) => !(k in baseEnv) && !shellSet.includes(k) && !/^(GITHUB_|RUNNER_|CI$)/.test(k),
    );
    expect(leaked.length).toBeGreaterThan(0);
    const out = await run(
      makeJob([{ run: 'env -0 > ../env.txt', env: { STEP_VAR: 'step' } }], { env: { JOB_VAR: 'job' } }),
    );
    expect(out.conclusion).toBe('success');
    const env = Object.fromEntries(
      (await readFile(path.join(root, 'env.txt'), 'utf8'))
        .split('\0')
        .filter((e) => e !== '')
        .map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]),
    );
    const allowed = new Set([...Object.keys(baseEnv), 'CI', 'JOB_VAR', 'STEP_VAR', ...shellSet]);
    const unexpected = Object.keys(env).filter((k) => !allowed.has(k) && !/^(GITHUB|SPOTCHECK|RUNNER)_/.test(k));
    expect(unexpected).toEqual([]);
    for (const k of leaked) expect(env).not.toHaveProperty(k);
    expect(env).toMatchObject({
      CI: 'true',
      JOB_VAR: 'job',
      STEP_VAR: 'step',
      GITHUB_ACTIONS: 'true',
      GITHUB_SHA: SHA,
      SPOTCHECK_SHA: SHA,
      GITHUB_REF: 'refs/heads/main',
      GITHUB_REF_NAME: 'main',
      GITHUB_REPOSITORY: 'acme/widgets',
      GITHUB_REPOSITORY_OWNER: 'acme',
      GITHUB_EVENT_NAME: 'push',
      GITHUB_WORKSPACE: workdir,
      SPOTCHECK_WORKSPACE: workdir,
      GITHUB_JOB: 'build',
      GITHUB_RUN_ID: 'run-1',
      GITHUB_ACTOR: 'octocat',
      GITHUB_SERVER_URL: 'https://github.com',
      GITHUB_BASE_REF: '',
      GITHUB_HEAD_REF: '',
      RUNNER_OS: 'Linux',
      RUNNER_TEMP: tempDir,
    });
    expect(env.GITHUB_OUTPUT).toMatch(new RegExp(`^${tempDir}/`));
    expect(env.GITHUB_ENV).toMatch(new RegExp(`^${tempDir}/`));
    expect(JSON.parse(await readFile(env.GITHUB_EVENT_PATH ?? '', 'utf8'))).toEqual({ after: SHA });
  });

  it('interpolates job env (matrix, needs), step env, and keeps GITHUB_* from being overridden', async () => {
    const out = await run(
      makeJob(
        [
          { run: 'echo "GITHUB_SHA=forged" >> "$GITHUB_ENV"' },
          {
            run: 'echo "shard=$SHARD dep=$DEP step=$STEP sha=$GITHUB_SHA"',
            env: { STEP: '${{ env.SHARD }}-${{ github.ref_name }}' },
          },
        ],
        {
          matrix: { shard: 2 },
          needs: { build: { result: 'success', outputs: { v: '1.2' } } },
          env: { SHARD: '${{ matrix.shard }}', DEP: '${{ needs.build.outputs.v }}' },
        },
      ),
    );
    expect(out.conclusion).toBe('success');
    expect(out.log).toContain(`shard=2 dep=1.2 step=2-main sha=${SHA}`);
  });

  it('an expression error in job env fails the order before any step', async () => {
    const out = await run(makeJob([{ run: 'touch ../ran' }], { env: { BAD: '${{ nope.x }}' } }));
    expect(out.conclusion).toBe('failure');
    expect(out.reason).toMatch(/env\.BAD/);
    expect(existsSync(path.join(root, 'ran'))).toBe(false);
  });

  it('working-directory is relative to the workspace and may hold expressions; a missing one fails', async () => {
    await mkdir(path.join(workdir, 'pkg', 'main'), { recursive: true });
    const out = await run(
      makeJob([
        { run: 'echo "cwd=$PWD"', workingDirectory: 'pkg/${{ github.ref_name }}' },
        { run: 'echo nope', workingDirectory: 'missing', continueOnError: true },
      ]),
    );
    expect(out.log).toContain(`cwd=${path.join(workdir, 'pkg', 'main')}`);
    expect(out.stepResults.map((s) => s.outcome)).toEqual(['success', 'failure']);
    expect(out.log).toContain("working-directory 'missing' does not exist");
  });

  it('runs custom shells: sh -e and a {0} template', async () => {
    const node = process.execPath;
    const out = await run(
      makeJob([
        { run: 'echo "sh-ran"\nfalse\necho "sh-not-reached"', shell: 'sh', continueOnError: true },
        { run: 'console.log("node-ran", process.argv.length)', shell: `${node} {0} extra-arg` },
        { run: 'echo x', shell: 'zsh', continueOnError: true },
      ]),
    );
    expect(out.log).toContain('sh-ran');
    expect(out.log).not.toContain('sh-not-reached');
    expect(out.log).toContain('node-ran 3');
    expect(out.stepResults.map((s) => s.outcome)).toEqual(['failure', 'success', 'failure']);
    expect(out.log).toMatch(/shell: shell 'zsh'/);
  });

  it('streams output while the step runs, with step headers and end lines', async () => {
    const gate = path.join(root, 'gate');
    let log = '';
    const out = await executeOrder({
      // The step waits for a file the test creates only after it has seen the step's first output.
      job: makeJob([
        {
          name: 'wait for the gate',
          run: `echo before-gate\nwhile [ ! -e ${gate} ]; do sleep 0.05; done\necho after-gate`,
          timeoutMinutes: 0.2,
        },
      ]),
      workdir,
      tempDir,
      baseEnv,
      onLog: (chunk) => {
        log += chunk;
        if (log.includes('before-gate\n') && !existsSync(gate)) void writeFile(gate, '');
      },
    });
    expect(out.conclusion).toBe('success');
    expect(log).toMatch(/^##\[step\] wait for the gate\n.*before-gate\nafter-gate\n##\[end\] success, exit code 0\n$/s);
  });

  it('names unnamed steps after their first line and interpolates names', async () => {
    const out = await run(
      makeJob([{ run: '\n  echo one\necho two' }, { name: 'on ${{ github.ref_name }}', run: 'true' }]),
    );
    expect(out.stepResults.map((s) => s.name)).toEqual(['Run echo one', 'on main']);
  });

  it('gives step expressions the runner context, with the same values in RUNNER_*', async () => {
    const arch = ({ x64: 'X64', arm64: 'ARM64' } as Record<string, string>)[process.arch] ?? process.arch.toUpperCase();
    const out = await run(
      makeJob([
        {
          run: [
            'echo "ctx:${{ runner.os }}|${{ runner.arch }}|${{ runner.name }}|${{ runner.temp }}|${{ runner.tool_cache }}|${{ runner.environment }}"',
            'echo "env:$RUNNER_OS|$RUNNER_ARCH|$RUNNER_NAME|$RUNNER_TEMP|$RUNNER_TOOL_CACHE|$RUNNER_ENVIRONMENT"',
          ].join('\n'),
        },
      ]),
    );
    expect(out.conclusion).toBe('success');
    const want = `Linux|${arch}|spotcheck|${tempDir}|${path.join(tempDir, '_tool')}|self-hosted`;
    expect(out.log).toContain(`ctx:${want}`);
    expect(out.log).toContain(`env:${want}`);
  });

  it('gives step expressions job.status as the steps so far left it', async () => {
    const out = await run(
      makeJob([
        { run: 'echo "before:${{ job.status }}"' },
        { run: 'exit 1' },
        { if: 'always()', run: 'echo "after:${{ job.status }}"' },
      ]),
    );
    expect(out.conclusion).toBe('failure');
    expect(out.log).toContain('before:success');
    expect(out.log).toContain('after:failure');
  });

  it('gives step expressions the strategy context of the matrix cell, and one job of one without a matrix', async () => {
    const step = {
      run: 'echo "s:${{ strategy.fail-fast }}|${{ strategy.job-index }}|${{ strategy.job-total }}|${{ strategy.max-parallel }}"',
    };
    const strategy = { 'fail-fast': false, 'job-index': 1, 'job-total': 3, 'max-parallel': 2 };
    const cell = await run(makeJob([step], { strategy }));
    expect(cell.log).toContain('s:false|1|3|2');
    const single = await run(makeJob([step]));
    expect(single.log).toContain('s:true|0|1|1');
  });

  it('caps the log and says so, without failing the step', async () => {
    const out = await run(makeJob([{ run: 'head -c 200000 /dev/zero | tr "\\0" "x"' }, { run: 'echo tail-step' }]), {
      maxLogBytes: 1000,
    });
    expect(out.conclusion).toBe('success');
    expect(out.log).toContain('log truncated at 1000 bytes');
    expect(out.log.length).toBeLessThan(2000);
    expect(out.log).toContain('##[step] Run echo tail-step');
    expect(out.log).not.toMatch(/^tail-step$/m);
  });
});
