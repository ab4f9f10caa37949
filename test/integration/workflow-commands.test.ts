import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { executeOrder, type ExecuteOptions, type OrderOutcome } from '../../runners/agent/execute-order.ts';
import type { RunStepSpec, StepResult } from '../../src/core/types.ts';
import type { OrderJob } from '../../runners/runner.ts';
import { makeGithubContext } from '../helpers/records.ts';

type StepInput = Partial<Omit<RunStepSpec, 'index' | 'pos'>> & { run: string };

const SHA = '0123456789abcdef0123456789abcdef01234567';
const github = makeGithubContext({ sha: SHA, repository: 'acme/widgets', repository_owner: 'acme', run_id: 'run-1' });

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

const baseEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: tmpdir() };

let root: string;
let workdir: string;
let tempDir: string;

beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'spotcheck-cmd-'));
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
  chunks: string[];
  stepEvents: StepResult[];
}

async function run(job: OrderJob, extra: Partial<ExecuteOptions> = {}): Promise<Ran> {
  const chunks: string[] = [];
  const stepEvents: StepResult[] = [];
  const outcome = await executeOrder({
    job,
    workdir,
    tempDir,
    baseEnv,
    onLog: (chunk) => chunks.push(chunk),
    onStep: (result) => stepEvents.push(result),
    killGraceMs: 500,
    ...extra,
  });
  return { ...outcome, log: chunks.join(''), chunks, stepEvents };
}

/** Everything the order sent out, as one text to search for a value. */
function everything(out: Ran): string {
  return JSON.stringify({ chunks: out.chunks, outcome: out, steps: out.stepEvents });
}

// The value is assembled inside the script, so the script's own text (and the step's header) never holds it whole.
const MAKE_SECRET = 'v="$(printf "%s-%s" tok 5ecr3tValue)"';
const SECRET = 'tok-5ecr3tValue';

describe('workflow commands through real bash steps', () => {
  it('add-mask: the value never appears in any log chunk or step result, split across reads, encoded, later steps', async () => {
    const out = await run(
      makeJob(
        [
          {
            id: 'mask',
            name: 'mask it',
            run: [
              MAKE_SECRET,
              'echo "::add-mask::$v"',
              'echo "same chunk: $v"',
              // Split across two writes with a pause: the masker sees it only once the line is whole.
              'printf "split: %s" "${v:0:6}"; sleep 0.3; printf "%s end\\n" "${v:6}"',
              'echo "stderr: $v" >&2',
              'printf "%s" "$v" | base64',
              'printf "user:%s" "$v" | base64',
              'echo "::warning title=about $v::warned about $v"',
              'echo "# Summary with $v" >> "$GITHUB_STEP_SUMMARY"',
              'echo "leak=$v" >> "$GITHUB_OUTPUT"',
              'echo "clean=fine" >> "$GITHUB_OUTPUT"',
            ].join('\n'),
          },
          { name: 'later ${{ steps.mask.outputs.leak }}', run: 'echo "later: ${{ steps.mask.outputs.leak }}"; exit 3' },
        ],
        { outputExprs: { leak: '${{ steps.mask.outputs.leak }}', clean: '${{ steps.mask.outputs.clean }}' } },
      ),
    );
    expect(everything(out)).not.toContain(SECRET);
    expect(everything(out)).not.toContain(Buffer.from(SECRET).toString('base64'));
    expect(everything(out)).not.toContain('5ecr3tVal');
    expect(out.log).toContain('same chunk: ***\n');
    expect(out.log).toContain('split: *** end\n');
    expect(out.log).toContain('stderr: ***\n');
    expect(out.log).toContain('later: ***\n');
    expect(out.log).not.toContain('::add-mask::');
    // The job output holding it is dropped with GitHub's warning; the other one passes.
    expect(out.outputs).toEqual({ clean: 'fine' });
    expect(out.log).toContain("##[warning]Skip output 'leak' since it may contain secret.");
    const [first, second] = out.stepResults;
    expect(first?.annotations).toEqual([{ level: 'warning', message: 'warned about ***', title: 'about ***' }]);
    expect(first?.summary).toBe('# Summary with ***\n');
    expect(second?.name).toBe('later ***');
    expect(out.reason).toBe("step 'later ***' failed");
  });

  it("masks the order's token from the start, in step names, the log and the reason", async () => {
    const token = 'ghs_0123456789abcdefTOKEN';
    const out = await run(
      makeJob([{ name: 'use ${{ env.T }}', run: 'echo "token is $T"; exit 1' }], { token, env: { T: token } }),
    );
    expect(everything(out)).not.toContain(token);
    expect(out.log).toContain('##[step] use ***\n');
    expect(out.log).toContain('token is ***\n');
    expect(out.reason).toBe("step 'use ***' failed");
  });

  it('masks the values given as masks (secrets) and their JSON and URL forms', async () => {
    const secret = 'a"b/c d&e=f';
    const out = await run(
      makeJob([
        {
          env: { S: secret },
          run: "echo \"raw $S\"; node -e 'console.log(JSON.stringify({s: process.env.S}))'; node -e 'console.log(encodeURIComponent(process.env.S))'",
        },
      ]),
      { masks: [secret] },
    );
    expect(out.conclusion).toBe('success');
    expect(out.log).toContain('raw ***\n{"s":"***"}\n***\n');
  });

  it('groups print as ##[group] / ##[endgroup] lines', async () => {
    const out = await run(
      makeJob([{ run: 'echo "::group::Install deps"\necho inside\necho "::endgroup::"\necho after' }]),
    );
    expect(out.log).toContain('##[group]Install deps\ninside\n##[endgroup]\nafter\n');
  });

  it('annotations land on the StepResult with their positions, and print as ##[error] / ##[notice]', async () => {
    const out = await run(
      makeJob([
        {
          run: [
            `echo "::error file=${workdir}/src/app.ts,line=12,endLine=12,col=5,endColumn=9,title=Type error::Type 'x' is wrong"`,
            'echo "::notice::all good%0Areally"',
            'for i in $(seq 1 12); do echo "::warning::w$i"; done',
          ].join('\n'),
        },
      ]),
    );
    expect(out.conclusion).toBe('success');
    const annotations = out.stepResults[0]?.annotations ?? [];
    expect(annotations.slice(0, 2)).toEqual([
      {
        level: 'error',
        message: "Type 'x' is wrong",
        title: 'Type error',
        file: 'src/app.ts',
        line: 12,
        endLine: 12,
        col: 5,
        endColumn: 9,
      },
      { level: 'notice', message: 'all good\nreally' },
    ]);
    expect(annotations.filter((a) => a.level === 'warning')).toHaveLength(10);
    expect(out.log).toContain("##[error]Type 'x' is wrong\n##[notice]all good\nreally\n##[warning]w1\n");
    expect(out.log).toContain('##[warning]w12\n');
  });

  it('set-env and add-path are refused with GitHub message and fail the step; allowed with the opt-in', async () => {
    const out = await run(
      makeJob([
        { run: 'echo "::set-env name=FOO::bar"\necho "::add-path::/opt/x"\necho still-ran' },
        { if: 'always()', run: 'echo "FOO=[$FOO]"' },
        {
          if: 'always()',
          env: { ACTIONS_ALLOW_UNSECURE_COMMANDS: 'true' },
          run: 'echo "::set-env name=BAZ::qux"\necho "::add-path::/opt/y"',
        },
        { if: 'always()', run: 'echo "BAZ=[$BAZ]"; echo "PATH=$PATH"' },
      ]),
    );
    expect(out.stepResults.map((s) => s.outcome)).toEqual(['failure', 'success', 'success', 'success']);
    expect(out.stepResults[0]?.exitCode).toBe(0);
    expect(out.log).toContain("##[error]Unable to process command '::set-env name=FOO::bar' successfully.\n");
    expect(out.log).toContain('##[error]The `set-env` command is disabled.');
    expect(out.log).toContain('##[error]The `add-path` command is disabled.');
    expect(out.log).toContain('still-ran\n');
    expect(out.log).toContain('FOO=[]\n');
    expect(out.log).toContain('BAZ=[qux]\n');
    expect(out.log).toMatch(/PATH=\/opt\/y:/);
    expect(out.stepResults[0]?.annotations?.map((a) => a.level)).toEqual(['error', 'error', 'error', 'error']);
  });

  it('stop-commands: commands between the token lines are printed as text', async () => {
    const out = await run(
      makeJob([
        {
          run: [
            'echo "::stop-commands::resume-here-42"',
            'echo "::group::not a group"',
            'echo "::error::not an error"',
            'echo "::resume-here-42::"',
            'echo "::group::a group"',
          ].join('\n'),
        },
      ]),
    );
    expect(out.log).toContain(
      '::stop-commands::***\n::group::not a group\n::error::not an error\n::***::\n##[group]a group\n',
    );
    expect(out.stepResults[0]?.annotations).toBeUndefined();
  });

  it('set-output (deprecated) feeds step outputs, with the deprecation warning; debug shows only with ACTIONS_STEP_DEBUG', async () => {
    const out = await run(
      makeJob(
        [
          { id: 'a', run: 'echo "::set-output name=x::from-command"\necho "::debug::hidden"' },
          { env: { ACTIONS_STEP_DEBUG: 'true' }, run: 'echo "::debug::shown"' },
        ],
        { outputExprs: { x: '${{ steps.a.outputs.x }}' } },
      ),
    );
    expect(out.outputs).toEqual({ x: 'from-command' });
    expect(out.log).toContain('##[warning]The `set-output` command is deprecated');
    expect(out.log).not.toContain('hidden');
    expect(out.log).toContain('##[debug]shown\n');
  });

  it("step summary over GitHub's 1 MiB is dropped with the runner's error; the step still succeeds", async () => {
    const out = await run(
      makeJob([
        { run: 'head -c 1100000 /dev/zero | tr "\\0" x >> "$GITHUB_STEP_SUMMARY"' },
        { run: 'echo "| a | b |" >> "$GITHUB_STEP_SUMMARY"' },
      ]),
    );
    expect(out.stepResults.map((s) => s.outcome)).toEqual(['success', 'success']);
    expect(out.stepResults[0]?.summary).toBeUndefined();
    expect(out.log).toContain(
      '##[error]$GITHUB_STEP_SUMMARY upload aborted, supports content up to a size of 1024k, got 1074k.',
    );
    expect(out.stepResults[0]?.annotations?.[0]?.level).toBe('error');
    expect(out.stepResults[1]?.summary).toBe('| a | b |\n');
  });
});
