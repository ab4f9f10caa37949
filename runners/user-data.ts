/**
 * EC2 user data for a spotcheck runner instance. User data is readable by every process on the instance (IMDS) and
 * by anyone allowed `ec2:DescribeInstanceAttribute`, so it carries no secret (DESIGN.md, "Security model"): only the
 * callback URL, a one-time bootstrap token the agent exchanges for its order at once (a second exchange is refused),
 * and the agent's start command. Steps, clone credentials and report tokens come from that exchange.
 */

/** The agent launcher the AMI installs (ami/provision.sh). */
export const DEFAULT_AGENT_COMMAND: readonly string[] = ['/opt/spotcheck/agent/bin/spotcheck-agent'];
/** The unprivileged user the AMI creates for the agent and its steps. */
export const DEFAULT_AGENT_USER = 'spotcheck';
export const AGENT_WORKDIR = '/var/lib/spotcheck/work';
/**
 * EC2 limits user data to 16 KiB before base64 (RunInstances `UserData`); we hold the encoded form under that, a
 * stricter bound that needs no knowledge of how the SDK encodes it.
 */
export const MAX_USER_DATA_BASE64_BYTES = 16 * 1024;

export interface UserDataInput {
  readonly bootstrapUrl: string;
  readonly bootstrapToken: string;
  readonly maxLifetimeMinutes: number;
  readonly agentCommand?: readonly string[];
  readonly agentUser?: string;
}

export interface RenderedUserData {
  readonly script: string;
  /** What goes in RunInstances' `UserData`. */
  readonly base64: string;
}

/** Bootstrap tokens are base64url (src/bootstrap-tokens.ts); anything else is refused rather than quoted. */
const TOKEN = /^[A-Za-z0-9_-]{16,512}$/;
/** Arguments are paths and flags: no quoting games. */
const ARGUMENT = /^[A-Za-z0-9_./:=@+-]+$/;
const USER = /^[a-z_][a-z0-9_-]{0,31}$/;

/**
 * Renders the boot script. cloud-init runs a user-data script that starts with `#!` once, as root, on first boot.
 * The script never uses `set -x` (cloud-init copies its output to /var/log/cloud-init-output.log).
 */
export function renderUserData(input: UserDataInput): RenderedUserData {
  const url = checkedUrl(input.bootstrapUrl);
  if (!TOKEN.test(input.bootstrapToken)) throw new TypeError('the bootstrap token must be base64url (16–512 chars)');
  const minutes = input.maxLifetimeMinutes;
  if (!Number.isInteger(minutes) || minutes < 1) throw new TypeError('maxLifetimeMinutes must be a positive integer');
  const command = input.agentCommand ?? DEFAULT_AGENT_COMMAND;
  if (command.length === 0 || !command.every((arg) => ARGUMENT.test(arg)))
    throw new TypeError('the agent command must be plain words (letters, digits, _ . / : = @ + -)');
  const user = input.agentUser ?? DEFAULT_AGENT_USER;
  if (!USER.test(user)) throw new TypeError('the agent user must be a plain user name');

  const script = [
    '#!/bin/bash',
    '# spotcheck runner bootstrap. No secret here: the token below is single-use and short-lived.',
    'set -euo pipefail',
    // Belt: the hard lifetime cap holds even if the agent hangs; shutdown is a termination because the instance
    // is launched with InstanceInitiatedShutdownBehavior=terminate. (Braces: the janitor's expiry tag.)
    `shutdown -h +${minutes} 'spotcheck: maximum lifetime reached' || true`,
    `install -d -o ${user} -m 0700 ${AGENT_WORKDIR}`,
    // The variables are set for the agent's process only (not exported to this shell's other children); the agent
    // drops them before it runs any step.
    `SPOTCHECK_BOOTSTRAP_URL=${shellQuote(url)} SPOTCHECK_BOOTSTRAP_TOKEN=${shellQuote(input.bootstrapToken)} \\`,
    `  SPOTCHECK_WORKDIR=${AGENT_WORKDIR} SPOTCHECK_RUNNER=spot \\`,
    `  runuser -u ${user} -- ${command.join(' ')} || echo "spotcheck agent exited with $?"`,
    // The agent powers off on every path; this covers an agent that could not start at all.
    'shutdown -h now',
    '',
  ].join('\n');
  const base64 = Buffer.from(script, 'utf8').toString('base64');
  if (base64.length > MAX_USER_DATA_BASE64_BYTES)
    throw new RangeError(`user data is ${base64.length} bytes base64, over the ${MAX_USER_DATA_BASE64_BYTES} limit`);
  return { script, base64 };
}

/** An http(s) URL with nothing a shell or a log reader would trip on. */
export function checkedUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new TypeError('the bootstrap URL is not a URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new TypeError('the bootstrap URL must be http(s)');
  if (url.username !== '' || url.password !== '') throw new TypeError('the bootstrap URL must not carry credentials');
  if (url.search !== '' || url.hash !== '') throw new TypeError('the bootstrap URL must not carry a query');
  return url.href;
}

function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}
