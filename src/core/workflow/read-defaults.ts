/**
 * `defaults.run` of a workflow or a job: the `shell` and `working-directory` of every `run:` step that does not set
 * its own (a step's own wins, then the job's, then the workflow's: GitHub's workflow syntax, `defaults.run`).
 */
import type { DiagnosticSink } from './diagnostics.ts';
import { checkKeys, readShell, readString } from './read-scalars.ts';
import { describeValue, field } from './yaml-tree.ts';
import type { YValue } from './yaml-tree.ts';

export interface RunDefaults {
  readonly shell?: string;
  readonly workingDirectory?: string;
}

/**
 * Reads `defaults:` at `path` (`defaults` or `jobs.<id>.defaults`). GitHub allows no expressions in the workflow's
 * (`atWorkflow`); a job's `working-directory` may use them and is evaluated with the step, like a step's own.
 */
export function readDefaults(sink: DiagnosticSink, v: YValue, path: string, atWorkflow: boolean): RunDefaults {
  if (v.kind !== 'map') {
    sink.error(v.pos, `\`${path}\` must be a mapping with \`run:\`, not ${describeValue(v)}`);
    return {};
  }
  checkKeys(sink, v, ['run'], `\`${path}\``, {});
  const run = field(v, 'run');
  if (!run) return {};
  const runPath = `${path}.run`;
  if (run.value.kind !== 'map') {
    sink.error(
      run.value.pos,
      `\`${runPath}\` must be a mapping with \`shell\` and/or \`working-directory\`, not ${describeValue(run.value)}`,
    );
    return {};
  }
  checkKeys(sink, run.value, ['shell', 'working-directory'], `\`${runPath}\``, {});
  const shell = field(run.value, 'shell');
  const wd = field(run.value, 'working-directory');
  const shellText = shell ? readShell(sink, shell.value, `${runPath}.shell`) : undefined;
  const workingDirectory = wd
    ? readString(sink, wd.value, `${runPath}.working-directory`, { nonEmpty: true, noExpression: atWorkflow })
    : undefined;
  return {
    ...(shellText !== undefined ? { shell: shellText } : {}),
    ...(workingDirectory !== undefined ? { workingDirectory } : {}),
  };
}
