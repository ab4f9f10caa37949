/**
 * EC2 user data for a spotcheck runner instance. User data is readable by every process on the instance (IMDS) and
 * by anyone allowed `ec2:DescribeInstanceAttribute`, so it carries no secret (docs/architecture.md, "Security model"):
 * only the callback URL, a one-time bootstrap token the agent exchanges for its order at once (a second exchange is
 * refused), and the agent's start command. Steps, clone credentials and report tokens come from that exchange.
 */
import type { ForgeKind } from '../src/core/types.ts';
import { isLoopbackHost } from '../src/core/url.ts';

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

/** Bootstrap tokens are base64url (src/server/bootstrap-tokens.ts); anything else is refused rather than quoted. */
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
  // The one-time token travels to it in a header: plain http only where nothing is on the path (issue 16).
  if (url.protocol === 'http:' && !isLoopbackHost(url.hostname))
    throw new TypeError('the bootstrap URL must be https unless its host is loopback');
  if (url.username !== '' || url.password !== '') throw new TypeError('the bootstrap URL must not carry credentials');
  if (url.search !== '' || url.hash !== '') throw new TypeError('the bootstrap URL must not carry a query');
  return url.href;
}

function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/** The capacity launcher the AMI installs (ami/capacity-runner.sh): exchanges the token, starts the forge runner. */
export const DEFAULT_CAPACITY_COMMAND: readonly string[] = ['/opt/spotcheck/capacity/capacity-runner'];

export interface CapacityUserDataInput {
  /** `<public URL>/api/capacity/bootstrap`. */
  readonly bootstrapUrl: string;
  readonly bootstrapToken: string;
  readonly maxLifetimeMinutes: number;
  /** Which runner the launcher starts: GitHub's actions runner (JIT config) or Gitea's act_runner (`--ephemeral`). */
  readonly forge: ForgeKind;
  readonly command?: readonly string[];
  readonly runnerUser?: string;
}

/**
 * The boot script of a capacity-mode instance (src/capacity/): an ephemeral forge runner for one job. Like
 * `renderUserData`, it carries no secret: the one-time bootstrap token is exchanged by the launcher for the forge's
 * registration (GitHub's just-in-time config, Gitea's registration token), which never touches user data. The EXIT
 * trap powers the instance off however the runner ends (InstanceInitiatedShutdownBehavior=terminate makes that a
 * termination); the lifetime cap holds if the runner hangs.
 */
export function renderCapacityUserData(input: CapacityUserDataInput): RenderedUserData {
  const url = checkedUrl(input.bootstrapUrl);
  if (!TOKEN.test(input.bootstrapToken)) throw new TypeError('the bootstrap token must be base64url (16–512 chars)');
  const minutes = input.maxLifetimeMinutes;
  if (!Number.isInteger(minutes) || minutes < 1) throw new TypeError('maxLifetimeMinutes must be a positive integer');
  if (input.forge !== 'github' && input.forge !== 'gitea') throw new TypeError('the forge must be github or gitea');
  const command = input.command ?? DEFAULT_CAPACITY_COMMAND;
  if (command.length === 0 || !command.every((arg) => ARGUMENT.test(arg)))
    throw new TypeError('the launcher command must be plain words (letters, digits, _ . / : = @ + -)');
  const user = input.runnerUser ?? DEFAULT_AGENT_USER;
  if (!USER.test(user)) throw new TypeError('the runner user must be a plain user name');
  const script = [
    '#!/bin/bash',
    '# spotcheck capacity runner bootstrap. No secret here: the token below is single-use and short-lived.',
    'set -euo pipefail',
    // One job, then gone: whatever way this script ends, the instance powers off (and so terminates).
    "trap 'shutdown -h now' EXIT",
    `shutdown -h +${minutes} 'spotcheck: maximum lifetime reached' || true`,
    `install -d -o ${user} -m 0700 ${AGENT_WORKDIR}`,
    `SPOTCHECK_BOOTSTRAP_URL=${shellQuote(url)} SPOTCHECK_BOOTSTRAP_TOKEN=${shellQuote(input.bootstrapToken)} \\`,
    `  SPOTCHECK_FORGE=${input.forge} SPOTCHECK_WORKDIR=${AGENT_WORKDIR} \\`,
    `  runuser -u ${user} -- ${command.join(' ')} || echo "spotcheck capacity runner exited with $?"`,
    '',
  ].join('\n');
  const base64 = Buffer.from(script, 'utf8').toString('base64');
  if (base64.length > MAX_USER_DATA_BASE64_BYTES)
    throw new RangeError(`user data is ${base64.length} bytes base64, over the ${MAX_USER_DATA_BASE64_BYTES} limit`);
  return { script, base64 };
}
