/**
 * `permissions:` of a workflow or a job, in GitHub's forms (workflow syntax, `permissions`): `read-all`, `write-all`,
 * `{}` (every scope `none`), or a mapping of GitHub's scope names to `read`, `write` or `none`. Stored on the order
 * for the token a later issue mints; nothing here grants anything. GitHub evaluates no expressions here.
 */
import { PERMISSION_LEVELS, PERMISSION_SCOPES } from '../types.ts';
import type { PermissionLevel, PermissionScope, Permissions } from '../types.ts';
import { clip } from './diagnostics.ts';
import type { DiagnosticSink } from './diagnostics.ts';
import { describeValue } from './yaml-tree.ts';
import type { YValue } from './yaml-tree.ts';

/** Scopes GitHub accepts only some levels for: `id-token` cannot be read, `models` cannot be written. */
const LEVELS_OF: Readonly<Partial<Record<PermissionScope, readonly PermissionLevel[]>>> = {
  'id-token': ['write', 'none'],
  models: ['read', 'none'],
};

export function readPermissions(sink: DiagnosticSink, v: YValue, path: string): Permissions | undefined {
  if (v.kind === 'scalar' && (v.value === 'read-all' || v.value === 'write-all')) return v.value;
  if (v.kind !== 'map') {
    sink.error(
      v.pos,
      `\`${path}\` must be \`read-all\`, \`write-all\` or a mapping of scopes to read, write or none, not ${describeValue(v)}`,
    );
    return undefined;
  }
  const scopes: [PermissionScope, PermissionLevel][] = [];
  let ok = true;
  for (const entry of v.entries) {
    const scope = PERMISSION_SCOPES.find((s) => s === entry.key);
    if (scope === undefined) {
      sink.error(
        entry.keyPos,
        `unknown permission scope \`${clip(entry.key)}\` in \`${path}\`; GitHub's scopes: ${PERMISSION_SCOPES.join(', ')}`,
      );
      ok = false;
      continue;
    }
    const allowed = LEVELS_OF[scope] ?? PERMISSION_LEVELS;
    const level = allowed.find((l) => entry.value.kind === 'scalar' && entry.value.value === l);
    if (level === undefined) {
      sink.error(
        entry.value.pos,
        `\`${path}.${scope}\` must be ${allowed.join(', ').replace(/, (\w+)$/, ' or $1')}, not ${describeValue(entry.value)}`,
      );
      ok = false;
      continue;
    }
    scopes.push([scope, level]);
  }
  return ok ? Object.fromEntries(scopes) : undefined;
}
