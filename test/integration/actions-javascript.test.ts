import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { countAnnotations } from '../../src/core/step-results.ts';
import { fakeFetcher, makeJob, makeSandbox, type Sandbox } from '../helpers/action-sandbox.ts';

let box: Sandbox;
beforeEach(async () => {
  box = await makeSandbox();
});
afterEach(async () => {
  await box.dispose();
});

/** A stage script: appends one line to order.txt in the workspace, then runs `extra`. */
function stage(label: string, extra = ''): string {
  return `const fs = require('node:fs');
const path = require('node:path');
const e = process.env;
fs.appendFileSync(path.join(e.GITHUB_WORKSPACE, 'order.txt'), ${JSON.stringify(label)} + ':' + e.INPUT_LABEL + ':' + (e.STATE_FROM_PRE ?? '-') + ':' + (e.STATE_FROM_MAIN ?? '-') + '\\n');
${extra}
`;
}

const TOOL = {
  'action.yml': `name: tool
inputs:
  label: { description: which, required: true }
outputs:
  greeting: { description: hi }
runs:
  using: node20
  pre: pre.js
  main: main.js
  post: post.js
`,
  'pre.js': stage('pre', `fs.appendFileSync(e.GITHUB_STATE, 'FROM_PRE=p-' + e.INPUT_LABEL + '\\n');`),
  'main.js': stage(
    'main',
    `fs.appendFileSync(e.GITHUB_STATE, 'FROM_MAIN=m-' + e.INPUT_LABEL + '\\n');
fs.appendFileSync(e.GITHUB_OUTPUT, 'greeting=hello ' + e.INPUT_LABEL + '\\n');
console.log('action=' + e.GITHUB_ACTION + ' repo=' + e.GITHUB_ACTION_REPOSITORY + ' ref=' + e.GITHUB_ACTION_REF + ' path=' + e.GITHUB_ACTION_PATH);`,
  ),
  'post.js': stage('post'),
};

describe('JavaScript actions', () => {
  it('runs pre stages first in step order, posts last in reverse order after a failure, with state and outputs', async () => {
    const toolDir = await box.write('../actions/tool', TOOL);
    const fetcher = fakeFetcher({ 'acme/tool@v1': toolDir });
    const job = makeJob(
      [
        { uses: 'acme/tool@v1', id: 'a', with: { label: 'A' } },
        { uses: 'acme/tool@v1', with: { label: '${{ steps.a.outputs.greeting }}' } },
        { run: 'exit 3' },
        { run: 'echo never' },
      ],
      { greeting: '${{ steps.a.outputs.greeting }}' },
    );
    const out = await box.run(job, { actionFetcher: fetcher });

    expect(out.conclusion).toBe('failure');
    expect(out.outputs).toEqual({ greeting: 'hello A' });
    expect(out.stepResults.map((r) => r.outcome)).toEqual(['success', 'success', 'failure', 'skipped']);
    const order = (await readFile(path.join(box.workdir, 'order.txt'), 'utf8')).trim().split('\n');
    // The second pre ran before step a, so its `with:` saw no output yet.
    expect(order).toEqual([
      'pre:A:-:-',
      'pre::-:-',
      'main:A:p-A:-',
      'main:hello A:p-:-',
      'post:hello A:p-:m-hello A',
      'post:A:p-A:m-A',
    ]);
    expect(fetcher.calls).toEqual(['acme/tool@v1']);
    // The fetcher's own lines, once per reference (the real fetcher's is the runner's "Download action repository").
    expect(out.log.match(/^fake fetch acme\/tool@v1$/gm)).toHaveLength(1);
    expect(out.log).toContain(`action=a repo=acme/tool ref=v1 path=${toolDir}`);
    expect(out.log).toContain('action=__acme_tool repo=acme/tool');
    expect(out.log).toContain("tool (node20) runs with the agent's Node");
    expect(out.log.match(/^##\[step\] Post Run acme\/tool@v1$/gm)).toHaveLength(2);
  });

  it('honours pre-if and post-if', async () => {
    const dir = await box.write('../actions/cond', {
      ...TOOL,
      'action.yml': TOOL['action.yml']
        .replace('pre: pre.js', 'pre: pre.js\n  pre-if: "env.NEVER == \'yes\'"')
        .replace('post: post.js', 'post: post.js\n  post-if: success()'),
    });
    const job = makeJob([{ uses: 'acme/cond@v2', with: { label: 'C' } }, { run: 'exit 1' }]);
    const out = await box.run(job, { actionFetcher: fakeFetcher({ 'acme/cond@v2': dir }) });
    expect(out.conclusion).toBe('failure');
    const order = (await readFile(path.join(box.workdir, 'order.txt'), 'utf8')).trim().split('\n');
    expect(order).toEqual(['main:C:-:-']);
    expect(out.log).toContain("##[skipped] condition is false: env.NEVER == 'yes'");
    expect(out.log).toContain('##[skipped] condition is false: success()');
  });

  it('still runs posts after a cancel, as GitHub does: post-if sees cancelled(), a hanging post is stopped after the grace', async () => {
    const action = (post: string, postIf = '') => ({
      'action.yml': `name: p\nruns:\n  using: node20\n  main: main.js\n  post: post.js\n${postIf}`,
      'main.js': "console.log('main ran')",
      'post.js': post,
    });
    const mark = (label: string) =>
      `require('node:fs').appendFileSync(require('node:path').join(process.env.GITHUB_WORKSPACE, 'posts.txt'), '${label}\\n');`;
    await box.write('hang', action('setInterval(() => {}, 1000);'));
    await box.write('only-on-success', action(mark('only-on-success'), '  post-if: success()\n'));
    await box.write('clean', action(mark('clean')));
    const controller = new AbortController();
    let log = '';
    const job = makeJob([
      { uses: './hang' },
      { uses: './only-on-success' },
      { uses: './clean' },
      { run: 'echo sleeping; sleep 30' },
    ]);
    const out = await box.run(job, {
      signal: controller.signal,
      postGraceMs: 1_000,
      onLog: (chunk) => {
        log += chunk;
        if (log.includes('sleeping')) controller.abort('stop please');
      },
    });

    expect(out.conclusion).toBe('cancelled');
    expect(out.reason).toBe('stop please');
    expect(out.stepResults.map((r) => r.outcome)).toEqual(['success', 'success', 'success', 'cancelled']);
    // Last registered first: clean ran, only-on-success was skipped, hang started and was stopped at the grace.
    expect(await readFile(path.join(box.workdir, 'posts.txt'), 'utf8')).toBe('clean\n');
    expect(log.slice(log.lastIndexOf('##[step] Post Run ./hang'))).toContain('##[error] the step was stopped');
    expect(log).toContain('##[skipped] condition is false: success()');
    expect(log.match(/^##\[end\] (\w+)/gm)?.slice(-3)).toEqual([
      '##[end] success',
      '##[end] skipped',
      '##[end] cancelled',
    ]);
  });

  it('passes inputs as INPUT_<NAME>: with: over defaults, both evaluated; a missing required input is not an error; unexpected and deprecated inputs warn', async () => {
    await box.write('.github/actions/inputs', {
      'action.yml': `name: inputs
inputs:
  my-input: { required: true }
  needed: { required: true }
  with space: { default: '\${{ github.repository }}' }
  old: { deprecationMessage: use my-input }
  count: { default: 3 }
runs: { using: node24, main: index.js }
`,
      'index.js': `const fs = require('node:fs');
const seen = Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('INPUT_')).sort());
fs.appendFileSync(process.env.GITHUB_OUTPUT, 'json=' + JSON.stringify(seen) + '\\n');
`,
    });
    const job = makeJob(
      [
        {
          uses: './.github/actions/inputs',
          id: 'in',
          with: { 'my-input': "${{ format('x-{0}', env.WHO) }}", old: 'o', unknown: '1' },
          env: { WHO: 'me' },
        },
      ],
      { json: '${{ steps.in.outputs.json }}' },
    );
    const out = await box.run(job);
    expect(out.conclusion).toBe('success');
    expect(JSON.parse(out.outputs.json ?? '')).toEqual({
      'INPUT_MY-INPUT': 'x-me',
      INPUT_OLD: 'o',
      INPUT_UNKNOWN: '1',
      INPUT_NEEDED: '',
      INPUT_WITH_SPACE: 'acme/widgets',
      INPUT_COUNT: '3',
    });
    expect(out.log).toContain("##[warning] Input 'old' has been deprecated with message: use my-input");
    expect(out.log).toContain(
      "##[warning] Unexpected input(s) 'unknown', valid inputs are ['my-input', 'needed', 'with space', 'old', 'count']",
    );
  });

  it('fails the step with the exit code of a failing action, and the next step is skipped', async () => {
    await box.write('fail', {
      'action.yaml': 'name: fail\nruns:\n  using: node16\n  main: main.js\n',
      'main.js': "console.log('about to fail'); process.exit(7);",
    });
    const out = await box.run(makeJob([{ uses: './fail' }, { run: 'echo after' }]));
    expect(out.conclusion).toBe('failure');
    expect(out.reason).toBe("step 'Run ./fail' failed");
    expect(out.stepResults).toMatchObject([{ outcome: 'failure', exitCode: 7 }, { outcome: 'skipped' }]);
    expect(out.log).toContain('about to fail');
  });

  it('refuses docker actions, remote actions without a fetcher, and hostile or broken manifests, each with a line', async () => {
    await box.write('dock', { 'action.yml': "runs: { using: docker, image: 'Dockerfile' }\n" });
    await box.write('escape', { 'action.yml': 'runs: { using: node20, main: ../../../../etc/passwd }\n' });
    await box.write('broken', { 'action.yml': 'runs: [unclosed\n' });
    await box.write('old', { 'action.yml': 'runs: { using: node8, main: a.js }\n' });
    const steps = ['./dock', 'docker://alpine:3', 'acme/tool@v1', './escape', './broken', './old', './missing'];
    const job = makeJob(steps.map((uses) => ({ uses, if: 'always()' })));
    const out = await box.run(job);
    expect(out.stepResults.map((r) => r.outcome)).toEqual(steps.map(() => 'failure'));
    expect(out.log).toContain('##[error] ./dock: docker actions need a runner that declares Docker');
    expect(out.log).toContain('##[error] docker://alpine:3: docker actions need a runner that declares Docker');
    expect(out.log).toContain('##[error] acme/tool@v1: this agent has no actions source');
    expect(out.log).toContain("runs.main '../../../../etc/passwd' is outside the action's folder");
    expect(out.log).toMatch(/##\[error\] \S+broken\/action\.yml: not valid YAML/);
    expect(out.log).toMatch(/##\[error\] \S+old\/action\.yml: runs.using 'node8' is not one of node12, node16/);
    expect(out.log).toContain("Can't find 'action.yml', 'action.yaml' or 'Dockerfile' under");
  });

  it("reports a pre's and a post's annotations and summaries with the step that used the action, as its main's", async () => {
    const loud = await box.write('../actions/loud', {
      'action.yml': 'name: loud\nruns:\n  using: node20\n  pre: pre.js\n  main: main.js\n  post: post.js\n',
      'pre.js': `console.log('::error title=Pre::the pre broke');\n`,
      'main.js': `console.log('::notice::main ran');\n`,
      'post.js': `console.log('::warning file=a.ts,line=3::the post warns');
require('node:fs').appendFileSync(process.env.GITHUB_STEP_SUMMARY, '# from the post\\n');
`,
    });
    const fetcher = fakeFetcher({ 'acme/loud@v1': loud });
    const out = await box.run(makeJob([{ uses: 'acme/loud@v1' }, { run: 'echo "::error::the run step broke"' }]), {
      actionFetcher: fetcher,
    });

    // An error annotation fails nothing by itself, on GitHub either.
    expect(out.conclusion).toBe('success');
    const [uses, run] = out.stepResults;
    expect(uses?.annotations).toEqual([
      { level: 'error', message: 'the pre broke', title: 'Pre' },
      { level: 'notice', message: 'main ran' },
      { level: 'warning', message: 'the post warns', file: 'a.ts', line: 3 },
    ]);
    expect(uses?.summary).toBe('# from the post\n');
    expect(run?.annotations).toEqual([{ level: 'error', message: 'the run step broke' }]);
    expect(countAnnotations(out.stepResults)).toEqual({ error: 2, warning: 1, notice: 1 });
    // The step's result was sent when it ended and again with the post's part: the server keeps the last one.
    const sent = out.stepEvents.filter((event) => event.index === 0);
    expect(sent.map((event) => event.annotations?.length)).toEqual([2, 3]);
  });
});
