/**
 * `spotcheck validate` checks a workflow's calls by planning it as a push. A `with:` value computed by an expression
 * gets its type only when the run happens (a workflow_dispatch input is null on a push), so its type is not judged
 * then; a literal of the wrong type is an error at once. (astral-sh/uv's promote-pull-request.yml was refused for
 * `with: { pull_request: ${{ inputs.pull_request }} }` before.)
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readWorkflowDir } from '../../src/cli/read-workflow-dir.ts';
import { validateWorkflows } from '../../src/cli/validate-workflows.ts';
import { defaultConfig } from '../../src/config.ts';

const FOLDER = '.spotcheck/workflows';
const scratch = mkdtempSync(join(tmpdir(), 'spotcheck-validate-calls-'));
afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
});

const CALLEE = `on:
  workflow_call:
    inputs:
      pr:
        type: string
        required: false
      count:
        type: number
        required: false
jobs:
  a:
    runs-on: ubuntu-latest
    steps:
      - run: echo "\${{ inputs.pr }}"
`;

async function validate(name: string, caller: string) {
  const root = join(scratch, name);
  mkdirSync(join(root, FOLDER), { recursive: true });
  writeFileSync(join(root, FOLDER, 'callee.yml'), CALLEE);
  writeFileSync(join(root, FOLDER, 'caller.yml'), caller);
  const read = await readWorkflowDir(root, [FOLDER]);
  return validateWorkflows(read, { root, config: defaultConfig(), configNamed: false, cacheDir: join(root, 'cache') });
}

const caller = (input: string) => `on:
  workflow_dispatch:
    inputs:
      pull_request:
        type: string
        required: true
jobs:
  call:
    uses: ./${FOLDER}/callee.yml
    with:
      ${input}
`;

describe('validate: the types of a call’s with: values', () => {
  it('leaves a value computed by an expression to the run (null on the push validate plans)', async () => {
    const findings = await validate('expression', caller('pr: ${{ inputs.pull_request }}'));
    expect(findings.errors.map((e) => e.message)).toEqual([]);
  });

  it('refuses a literal of the wrong type', async () => {
    const findings = await validate('literal', caller('count: three'));
    expect(findings.errors.map((e) => e.message)).toEqual([expect.stringMatching(/^Job 'call': with\.count must be /)]);
  });
});
