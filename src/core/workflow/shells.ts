/**
 * The `shell:` values a step may name, from GitHub's documented list (workflow syntax,
 * `jobs.<job_id>.steps[*].shell`) as far as spotcheck's Linux runners can honour it: `bash`, `sh`, `python`,
 * `pwsh`, or a custom template holding `{0}` (the script path). `cmd` and `powershell` are on GitHub's list but run
 * only on Windows runners. The agent (runners/agent/resolve-shell.ts) turns these into command lines.
 */
export const SUPPORTED_SHELLS = ['bash', 'sh', 'python', 'pwsh'] as const;
export type SupportedShell = (typeof SUPPORTED_SHELLS)[number];

const WINDOWS_ONLY: ReadonlySet<string> = new Set(['cmd', 'powershell']);

/** Why the runner would refuse `shell`, or undefined when it can run it. Pure: for the parser and the agent alike. */
export function shellProblem(shell: string): string | undefined {
  const trimmed = shell.trim();
  if ((SUPPORTED_SHELLS as readonly string[]).includes(trimmed)) return undefined;
  if (trimmed.includes('${{'))
    return `\`shell\` cannot use \`\${{ }}\` expressions: name one of ${SUPPORTED_SHELLS.join(', ')} or a command template with {0}`;
  if (trimmed.includes('{0}')) return undefined;
  if (WINDOWS_ONLY.has(trimmed))
    return `\`shell: ${trimmed}\` runs only on Windows runners, and spotcheck's runners are Linux: use ${SUPPORTED_SHELLS.join(', ')} or a command template with {0}`;
  return `unknown shell \`${trimmed.length > 60 ? `${trimmed.slice(0, 60)}…` : trimmed}\`: use one of ${SUPPORTED_SHELLS.join(', ')} or a command template with {0} for the script (for example \`bash -x {0}\`)`;
}
