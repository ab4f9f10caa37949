/**
 * Turns a step's `shell:` into a command line, following GitHub's documented table
 * (docs.github.com › workflow syntax › `jobs.<job_id>.steps[*].shell`) and actions/runner `ScriptHandlerHelpers`:
 *
 * | shell       | command                                      | script extension |
 * |-------------|----------------------------------------------|------------------|
 * | (unset)     | `bash --noprofile --norc -eo pipefail {0}`   | `.sh`            |
 * | `bash`      | `bash --noprofile --norc -eo pipefail {0}`   | `.sh`            |
 * | `sh`        | `sh -e {0}`                                  | `.sh`            |
 * | `python`    | `python {0}`                                 | `.py`            |
 * | `pwsh`      | `pwsh -command ". '{0}'"`                    | `.ps1`           |
 * | other       | a template `command [options] {0} [more]`    | none             |
 *
 * GitHub itself runs an *unset* shell as `bash -e {0}` (no pipefail) on Linux; spotcheck's workflow model
 * (StepSpec.shell in src/core/types.ts) deliberately uses the stricter explicit-`bash` line for both, so a failure
 * in the middle of a pipe is never silently ignored.
 *
 * The first whitespace-delimited word is the command; the rest are arguments, where a double-quoted group is one
 * argument (as .NET's process start parses the runner's argument string); `{0}` is replaced by the script path.
 */
import type { SupportedShell } from '../../src/core/workflow/shells.ts';

export type ResolveShellResult =
  | { readonly ok: true; readonly command: string; readonly args: readonly string[]; readonly extension: string }
  | { readonly ok: false; readonly error: string };

const BUILT_IN: Readonly<Record<string, { readonly template: string; readonly extension: string }>> = {
  bash: { template: 'bash --noprofile --norc -eo pipefail {0}', extension: '.sh' },
  sh: { template: 'sh -e {0}', extension: '.sh' },
  python: { template: 'python {0}', extension: '.py' },
  pwsh: { template: `pwsh -command ". '{0}'"`, extension: '.ps1' },
} satisfies Record<SupportedShell, { readonly template: string; readonly extension: string }>;

/** Resolves the template; `scriptPath` is substituted for `{0}`. Call with the path that has `extension`. */
export function resolveShell(shell: string | undefined, scriptPath: string): ResolveShellResult {
  const spec = shellSpec(shell);
  if (!spec.ok) return spec;
  const words = splitArgs(spec.template);
  const [command, ...args] = words;
  if (command === undefined) return { ok: false, error: 'the shell is empty' };
  return {
    ok: true,
    command,
    args: args.map((a) => a.replaceAll('{0}', scriptPath)),
    extension: spec.extension,
  };
}

/** The script file extension for a shell (so the caller can name the script before resolving the command). */
export function shellExtension(shell: string | undefined): string {
  const spec = shellSpec(shell);
  return spec.ok ? spec.extension : '';
}

function shellSpec(
  shell: string | undefined,
): { ok: true; template: string; extension: string } | { ok: false; error: string } {
  const trimmed = (shell ?? 'bash').trim();
  const builtIn = BUILT_IN[trimmed];
  if (builtIn !== undefined) return { ok: true, ...builtIn };
  if (!trimmed.includes('{0}')) {
    return {
      ok: false,
      error: `shell '${trimmed}' is not one of ${Object.keys(BUILT_IN).join(', ')} and is not a template with {0}`,
    };
  }
  return { ok: true, template: trimmed, extension: '' };
}

function splitArgs(line: string): string[] {
  const words: string[] = [];
  let current = '';
  let inWord = false;
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line.charAt(i);
    if (ch === '"') {
      quoted = !quoted;
      inWord = true;
    } else if (ch === '\\' && quoted && line.charAt(i + 1) === '"') {
      current += '"';
      i++;
    } else if (!quoted && /\s/.test(ch)) {
      if (inWord) words.push(current);
      current = '';
      inWord = false;
    } else {
      current += ch;
      inWord = true;
    }
  }
  if (inWord) words.push(current);
  return words;
}
