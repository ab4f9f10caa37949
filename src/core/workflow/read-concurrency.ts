/**
 * `concurrency` of a workflow or a job, GitHub's shape: a group name, or `{group, cancel-in-progress}`. The group may
 * use expressions (evaluated when the run is planned); `cancel-in-progress` is true, false or one `${{ }}` expression
 * over the group's contexts (GitHub: "specify `cancel-in-progress` as an expression with any of the allowed expression
 * contexts"), its value taken as a condition.
 */
import type { ConcurrencySpec } from '../types.ts';
import type { DiagnosticSink } from './diagnostics.ts';
import { checkExpression, checkKeys, isWholeExpression, readBoolean, readString } from './read-scalars.ts';
import { describeValue, field } from './yaml-tree.ts';
import type { YValue } from './yaml-tree.ts';

const CONCURRENCY_KEYS = ['group', 'cancel-in-progress'] as const;

export function readConcurrency(sink: DiagnosticSink, v: YValue, path: string): ConcurrencySpec | undefined {
  if (v.kind === 'scalar') {
    const group = readString(sink, v, path, { nonEmpty: true });
    return group === undefined ? undefined : { group, cancelInProgress: false };
  }
  if (v.kind !== 'map') {
    sink.error(v.pos, `\`${path}\` must be a group name or a mapping with \`group\`, not ${describeValue(v)}`);
    return undefined;
  }
  checkKeys(sink, v, CONCURRENCY_KEYS, `\`${path}\``, {
    queue: '`queue` is not supported: a newer run cancels or waits for the older one as `cancel-in-progress` says',
  });
  const group = field(v, 'group');
  if (!group) {
    sink.error(v.pos, `\`${path}\` needs a \`group\``);
    return undefined;
  }
  const g = readString(sink, group.value, `${path}.group`, { nonEmpty: true });
  const cancel = field(v, 'cancel-in-progress');
  const c = cancel ? readCancelInProgress(sink, cancel.value, `${path}.cancel-in-progress`) : false;
  return g === undefined || c === undefined ? undefined : { group: g, cancelInProgress: c };
}

function readCancelInProgress(sink: DiagnosticSink, v: YValue, path: string): boolean | string | undefined {
  if (v.kind === 'scalar' && typeof v.value === 'string' && isWholeExpression(v.value)) {
    checkExpression(sink, v.value, 'template', v.pos, path);
    return v.value.trim();
  }
  return readBoolean(sink, v, path);
}
