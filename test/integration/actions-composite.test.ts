import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fakeFetcher, makeJob, makeSandbox, type Sandbox } from '../helpers/action-sandbox.ts';

let box: Sandbox;
beforeEach(async () => {
  box = await makeSandbox();
});
afterEach(async () => {
  await box.dispose();
});

const OUTER = `name: outer
inputs:
  who: { default: world }
outputs:
  result: { value: '\${{ steps.js.outputs.out }}' }
  first: { value: '\${{ steps.s1.outputs.x }}' }
  where: { value: '\${{ github.action_path }}' }
runs:
  using: composite
  steps:
    - id: s1
      shell: bash
      run: |
        echo "outer path=$GITHUB_ACTION_PATH who=\${{ inputs.who }}"
        echo "x=\${{ inputs.who }}-1" >> "$GITHUB_OUTPUT"
        echo "FROM_COMPOSITE=yes" >> "$GITHUB_ENV"
    - id: inner
      uses: ./actions/inner
      with: { n: '\${{ steps.s1.outputs.x }}' }
    - id: js
      uses: ./actions/js
      with: { v: '\${{ steps.inner.outputs.doubled }}' }
    - shell: bash
      continue-on-error: true
      run: exit 1
    - if: failure()
      shell: bash
      run: echo "never printed"
    - shell: sh
      working-directory: sub
      env: { GREETING: '\${{ inputs.who }}' }
      run: echo "in $(basename "$PWD") greeting=$GREETING"
`;

const INNER = `name: inner
inputs:
  n: { required: true }
outputs:
  doubled: { value: '\${{ steps.s1.outputs.doubled }}' }
runs:
  using: composite
  steps:
    - id: s1
      shell: bash
      run: echo "doubled=\${{ inputs.n }}\${{ inputs.n }}" >> "$GITHUB_OUTPUT"
`;

const JS = {
  'action.yml': 'name: js\ninputs: { v: {} }\nruns: { using: node20, main: main.js }\n',
  'main.js': "require('node:fs').appendFileSync(process.env.GITHUB_OUTPUT, 'out=js:' + process.env.INPUT_V + '\\n');",
};

describe('composite actions', () => {
  it('runs nested composite and JavaScript actions with scoped step ids, inputs, env and mapped outputs', async () => {
    const outerDir = await box.write('actions/outer', { 'action.yml': OUTER });
    await box.write('actions/inner', { 'action.yml': INNER });
    await box.write('actions/js', JS);
    await box.write('sub', { '.keep': '' });
    const job = makeJob(
      [
        { uses: './actions/outer', id: 'o', with: { who: 'spot' } },
        { run: 'echo "job sees FROM_COMPOSITE=$FROM_COMPOSITE"', id: 'after' },
      ],
      {
        result: '${{ steps.o.outputs.result }}',
        first: '${{ steps.o.outputs.first }}',
        where: '${{ steps.o.outputs.where }}',
      },
    );
    const out = await box.run(job);
    // The only error is the continue-on-error step's own.
    expect(out.log.match(/##\[error\]/g)).toEqual(['##[error]']);
    expect(out.conclusion).toBe('success');
    // The inner action's own `s1` did not overwrite the outer's.
    expect(out.outputs).toEqual({ result: 'js:spot-1spot-1', first: 'spot-1', where: outerDir });
    expect(out.stepResults).toHaveLength(2);
    expect(out.log).toContain(`outer path=${outerDir} who=spot`);
    expect(out.log).toContain('in sub greeting=spot');
    expect(out.log).toContain('job sees FROM_COMPOSITE=yes');
    expect(out.log).not.toMatch(/^never printed$/m);
    expect(out.log).toContain('##[sub-end] failure (continue-on-error), exit code 1');
    // 6 outer steps + 1 inner step, each under its own header.
    expect(out.log.match(/^##\[sub-step\] /gm)).toHaveLength(7);
  });

  it('a composite fails when one of its steps fails, and its later steps are skipped', async () => {
    await box.write('actions/bad', {
      'action.yml': `runs:
  using: composite
  steps:
    - { shell: bash, run: 'echo boom; exit 4' }
    - { shell: bash, run: 'echo not reached' }
`,
    });
    const out = await box.run(makeJob([{ uses: './actions/bad' }]));
    expect(out.conclusion).toBe('failure');
    expect(out.stepResults).toMatchObject([{ outcome: 'failure' }]);
    expect(out.log).toContain('boom');
    expect(out.log).not.toMatch(/^not reached$/m);
    expect(out.log).toContain('##[skipped] condition is false: success()');
  });

  it('stops at GitHub’s nesting limit with the runner’s message', async () => {
    await box.write('actions/loop', {
      'action.yml': 'runs:\n  using: composite\n  steps:\n    - uses: ./actions/loop\n',
    });
    const out = await box.run(makeJob([{ uses: './actions/loop' }]));
    expect(out.conclusion).toBe('failure');
    expect(out.log.match(/Composite action depth exceeded max depth 9/g)).toHaveLength(1);
    // Depths 1 to 10 each started one nested step; the one at depth 10 is refused.
    expect(out.log.match(/^##\[sub-step\] /gm)).toHaveLength(10);
  });

  it('refuses a composite run step without shell, naming the file', async () => {
    await box.write('actions/noshell', { 'action.yml': 'runs:\n  using: composite\n  steps:\n    - run: echo hi\n' });
    const out = await box.run(makeJob([{ uses: './actions/noshell' }]));
    expect(out.conclusion).toBe('failure');
    expect(out.log).toMatch(/noshell\/action\.yml: runs\.steps\[0\]: a composite action's run step needs `shell`/);
  });

  it('runs the pres of a remote composite’s actions before the first step and its actions’ posts with the job’s, as actions/runner does', async () => {
    // A stage script: one line in order.txt with the stage, the input and the state the earlier stages saved.
    const stage = (label: string): string => `const fs = require('node:fs');
const e = process.env;
fs.appendFileSync(require('node:path').join(e.GITHUB_WORKSPACE, 'order.txt'), '${label}:' + e.INPUT_LABEL + ':' + (e.STATE_FROM_PRE ?? '-') + '\\n');
fs.appendFileSync(e.GITHUB_STATE, '${label === 'pre' ? 'FROM_PRE' : 'FROM_MAIN'}=' + e.INPUT_LABEL + '\\n');
${label === 'pre' ? "console.log('::warning::the nested pre warns');" : ''}
`;
    const tool = await box.write('../actions/tool', {
      'action.yml':
        'name: tool\ninputs:\n  label: { required: true }\nruns:\n  using: node20\n  pre: pre.js\n  main: main.js\n  post: post.js\n',
      'pre.js': stage('pre'),
      'main.js': stage('main'),
      'post.js': stage('post'),
    });
    const composite = (label: string): string => `name: comp
inputs:
  name: { required: true }
runs:
  using: composite
  steps:
    - uses: acme/tool@v1
      with: { label: '${label}' }
    - shell: bash
      run: echo "comp:\${{ inputs.name }}::-" >> order.txt
`;
    const remote = await box.write('../actions/comp', { 'action.yml': composite('${{ inputs.name }}') });
    await box.write('local-comp', { 'action.yml': composite('L') });
    const fetcher = fakeFetcher({ 'acme/tool@v1': tool, 'acme/comp@v1': remote });
    const out = await box.run(
      makeJob([
        { uses: 'acme/comp@v1', with: { name: 'R' } },
        { run: 'echo "between::-" >> order.txt' },
        { uses: './local-comp', with: { name: 'L' } },
      ]),
      { actionFetcher: fetcher },
    );

    expect(out.conclusion).toBe('success');
    expect((await readFile(path.join(box.workdir, 'order.txt'), 'utf8')).trim().split('\n')).toEqual([
      // The remote composite's pre stage: its action's pre, with the composite's input.
      'pre:R:-',
      'main:R:R',
      'comp:R::-',
      'between::-',
      // A local composite has no pre stage (actions/runner: not supported for a local action).
      'main:L:-',
      'comp:L::-',
      // The nested actions' posts run with the job's posts, last registered first, not when their composite ends.
      'post:L:-',
      'post:R:R',
    ]);
    expect(out.log).toMatch(/^##\[step\] Pre Run acme\/comp@v1\n##\[sub-step\] Pre Run acme\/tool@v1$/m);
    expect(out.log).toMatch(/^##\[step\] Post Run \.\/local-comp\n##\[sub-step\] Post Run acme\/tool@v1$/m);
    // The nested pre's annotation is the composite step's, reported with it.
    expect(out.stepResults[0]?.annotations).toEqual([{ level: 'warning', message: 'the nested pre warns' }]);
  });
});
