/**
 * The buildspec every spotcheck build runs, passed as StartBuild's `buildspecOverride` so a repository's own
 * buildspec.yml is never used (its content is untrusted and would run before our agent). It installs nothing: the
 * build image carries the agent (ami/README.md). The bootstrap URL and one-time token arrive as environment
 * overrides, never in the buildspec text, which CodeBuild records with the build.
 */
import { stringify } from 'yaml';
import { DEFAULT_AGENT_COMMAND } from './user-data.ts';

const ARGUMENT = /^[A-Za-z0-9_./:=@+-]+$/;

export function renderBuildspec(agentCommand: readonly string[] = DEFAULT_AGENT_COMMAND): string {
  if (agentCommand.length === 0 || !agentCommand.every((arg) => ARGUMENT.test(arg)))
    throw new TypeError('the agent command must be plain words (letters, digits, _ . / : = @ + -)');
  // Buildspec reference: `version: 0.2`, `env.shell`, `phases.build.commands`. One build phase; the agent reports
  // its own result through the callback, and its exit status becomes the build's (which the watchdog reads when a
  // callback was lost).
  return stringify({
    version: 0.2,
    env: { shell: 'bash' },
    phases: { build: { commands: [agentCommand.join(' ')] } },
  });
}
