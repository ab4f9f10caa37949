/**
 * The agent's side of the order token and secrets (#14 item 4, #15 items 2–3): `github.token` and
 * `secrets.GITHUB_TOKEN` in expressions but not in the steps' env, the forge's URLs, everything masked; and the
 * workflow commands in JavaScript actions (they share run: steps' spawn path).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { OrderJob } from '../../runners/runner.ts';
import { fakeFetcher, makeJob, makeSandbox, type Sandbox, type StepInput } from '../helpers/action-sandbox.ts';

const TOKEN = 'ghs_Tok3nValue0123456789abcdef';
const SECRET = 'hunter2-is-my-password';

let box: Sandbox;
beforeEach(async () => {
  box = await makeSandbox();
});
afterEach(async () => {
  await box.dispose();
});

function withAccess(steps: readonly StepInput[], outputExprs: Record<string, string> = {}): OrderJob {
  return {
    ...makeJob(steps, outputExprs),
    token: TOKEN,
    secrets: { X: SECRET },
    forgeUrls: {
      server: 'https://ghe.example',
      api: 'https://ghe.example/api/v3',
      graphql: 'https://ghe.example/api/graphql',
    },
  };
}

/** Everything the order sent out, as one string: every value in it is searched for the token and secret. */
function everything(out: {
  log: string;
  stepEvents: unknown;
  stepResults: unknown;
  outputs: unknown;
  reason?: string;
}) {
  return JSON.stringify([out.log, out.stepEvents, out.stepResults, out.outputs, out.reason ?? '']);
}

const CHECKOUT_LIKE = {
  'action.yml': `name: checkout-like
inputs:
  token:
    description: like actions/checkout's
    default: \${{ github.token }}
runs:
  using: node20
  main: main.js
`,
  // Writes what it got to a file (not the log), and prints it too: the print must come out masked.
  'main.js': `const fs = require('node:fs');
const path = require('node:path');
fs.writeFileSync(path.join(process.env.GITHUB_WORKSPACE, 'seen-token'), process.env.INPUT_TOKEN ?? '');
console.log('token=' + process.env.INPUT_TOKEN);
console.log('in env: ' + Object.keys(process.env).filter((k) => k === 'GITHUB_TOKEN').length);
`,
};

describe('the order token and secrets on the agent', () => {
  it("gives an action github.token as its input's default, masked everywhere it could show", async () => {
    const dir = await box.write('../actions/co', CHECKOUT_LIKE);
    const job = withAccess([{ uses: 'acme/co@v4', name: 'co ${{ github.token }}' }]);
    const out = await box.run(job, { actionFetcher: fakeFetcher({ 'acme/co@v4': dir }) });

    expect(out.conclusion).toBe('success');
    expect(await readFile(path.join(box.workdir, 'seen-token'), 'utf8')).toBe(TOKEN);
    expect(out.log).toContain('token=***');
    expect(out.log).toContain('in env: 0');
    expect(out.stepResults[0]?.name).toBe('co ***');
    expect(everything(out)).not.toContain(TOKEN);
  });

  it('masks secrets and their base64, keeps GITHUB_TOKEN out of the env, sets the forge URLs', async () => {
    const job = withAccess(
      [
        { run: 'echo "plain ${{ secrets.X }}"' },
        { run: 'printf %s "$S" | base64', env: { S: '${{ secrets.X }}' } },
        { run: 'env | grep GITHUB_TOKEN || echo "no GITHUB_TOKEN"' },
        {
          run: [
            'echo "server=$GITHUB_SERVER_URL api=$GITHUB_API_URL graphql=$GITHUB_GRAPHQL_URL"',
            'echo "ctx=${{ github.server_url }} ${{ github.api_url }} ${{ github.graphql_url }}"',
            '[ "${{ secrets.GITHUB_TOKEN }}" = "${{ github.token }}" ] && [ -n "${{ github.token }}" ] && echo same-token',
          ].join('\n'),
        },
        { id: 'o', run: 'echo "leak=${{ secrets.X }}" >> "$GITHUB_OUTPUT"; echo "fine=ok" >> "$GITHUB_OUTPUT"' },
      ],
      { leak: '${{ steps.o.outputs.leak }}', fine: '${{ steps.o.outputs.fine }}' },
    );
    const out = await box.run(job);

    expect(out.stepResults.map((r) => r.outcome)).toEqual(['success', 'success', 'success', 'success', 'success']);
    expect(out.log).toContain('plain ***');
    expect(out.log).not.toContain(Buffer.from(SECRET).toString('base64'));
    expect(out.log).toContain('no GITHUB_TOKEN');
    expect(out.log).toContain(
      'server=https://ghe.example api=https://ghe.example/api/v3 graphql=https://ghe.example/api/graphql',
    );
    expect(out.log).toContain('ctx=https://ghe.example https://ghe.example/api/v3 https://ghe.example/api/graphql');
    expect(out.log).toContain('same-token');
    // GitHub's rule: a job output that would be masked is dropped with a warning.
    expect(out.outputs).toEqual({ fine: 'ok' });
    expect(out.log).toContain("Skip output 'leak' since it may contain secret.");
    expect(everything(out)).not.toContain(SECRET);
    expect(everything(out)).not.toContain(TOKEN);
  });

  it('runs workflow commands in JavaScript actions: ::save-state reaches the post, ::add-mask masks, annotations', async () => {
    const dir = await box.write('../actions/cmd', {
      'action.yml': 'name: cmd\nruns:\n  using: node20\n  main: main.js\n  post: post.js\n',
      'main.js': `const fs = require('node:fs');
console.log('::add-mask::action-private-42');
console.log('the value is action-private-42');
console.log('::save-state name=FROM_CMD::by-command');
fs.appendFileSync(process.env.GITHUB_STATE, 'FROM_FILE=by-file\\n');
process.stdout.write('::warning file=a.txt,line=3::look ');
console.log('here');
fs.appendFileSync(process.env.GITHUB_STEP_SUMMARY, '# summary of action-private-42\\n');
`,
      'post.js': `console.log('post saw ' + process.env.STATE_FROM_CMD + ' and ' + process.env.STATE_FROM_FILE);\n`,
    });
    const out = await box.run(withAccess([{ uses: 'acme/cmd@v1' }]), {
      actionFetcher: fakeFetcher({ 'acme/cmd@v1': dir }),
    });

    expect(out.conclusion).toBe('success');
    expect(out.log).toContain('the value is ***');
    expect(out.log).toContain('post saw by-command and by-file');
    const [main] = out.stepResults;
    expect(main?.annotations).toContainEqual(expect.objectContaining({ level: 'warning', message: 'look here' }));
    expect(main?.summary).toBe('# summary of ***\n');
    expect(everything(out)).not.toContain('action-private-42');
  });
});
