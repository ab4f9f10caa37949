/**
 * The `shell:` values a step may name, from GitHub's documented list (workflow syntax,
 * `jobs.<job_id>.steps[*].shell`) as far as spotcheck's Linux runners can honour it: `bash`, `sh`, `python`,
 * `pwsh`, or a custom template holding `{0}` (the script path). `cmd` and `powershell` are on GitHub's list but run
 * only on Windows runners: a file may name them (GitHub accepts it whatever the runner; real files use them in Windows
 * jobs and in steps guarded by `if: runner.os == 'Windows'`), and such a step fails only if it runs on a spotcheck
 * runner. The agent (runners/agent/resolve-shell.ts) turns these into command lines.
 */
export const SUPPORTED_SHELLS = ['bash', 'sh', 'python', 'pwsh'] as const;
export type SupportedShell = (typeof SUPPORTED_SHELLS)[number];

const WINDOWS_ONLY: ReadonlySet<string> = new Set(['cmd', 'powershell']);

/** Why `shell` is not a shell GitHub knows, or undefined when it is one. Pure: for the parser and the agent alike. */
export function shellProblem(shell: string): string | undefined {
  const trimmed = shell.trim();
  if ((SUPPORTED_SHELLS as readonly string[]).includes(trimmed)) return undefined;
  if (trimmed.includes('${{'))
    return `\`shell\` cannot use \`\${{ }}\` expressions: name one of ${SUPPORTED_SHELLS.join(', ')} or a command template with {0}`;
  if (trimmed.includes('{0}') || WINDOWS_ONLY.has(trimmed)) return undefined;
  return `unknown shell \`${trimmed.length > 60 ? `${trimmed.slice(0, 60)}…` : trimmed}\`: use one of ${SUPPORTED_SHELLS.join(', ')} or a command template with {0} for the script (for example \`bash -x {0}\`)`;
}

/** The notice for a Windows-only shell (`cmd`, `powershell`): valid, but a step that runs with it fails here. */
export function windowsShellNotice(shell: string): string | undefined {
  const trimmed = shell.trim();
  if (!WINDOWS_ONLY.has(trimmed)) return undefined;
  return `\`shell: ${trimmed}\` runs only on Windows runners, and spotcheck's runners are Linux: a step that runs with it fails (one skipped by its \`if:\`, such as \`runner.os == 'Windows'\`, does not)`;
}
