/**
 * ami/capacity-runner.sh run for real with bash: a loopback HTTP stand-in for `POST /api/capacity/bootstrap`, stub
 * `run.sh`, `act_runner`, `runuser` and `shutdown` executables that record their arguments, and assertions on what ran,
 * what was printed and how often the instance was powered off.
 */
import { execFile, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_CAPACITY_COMMAND } from '../../runners/user-data.ts';

const SCRIPT = fileURLToPath(new URL('../../ami/capacity-runner.sh', import.meta.url));
const PROVISION = fileURLToPath(new URL('../../ami/provision.sh', import.meta.url));
const TOKEN = 'tok_' + 'A1b2C3d4E5f6G7h8'.repeat(2) + '-x_y';
const JIT = 'JIT-SECRET-eyJhbGciOi';
const REG = 'REG-SECRET-0123456789abcdef';
const NAME = 'spotcheck-0123456789abcdef0123';
const hasShellcheck = (() => {
  const r = spawnSync('shellcheck', ['--version'], { encoding: 'utf8' });
  return r.error === undefined && r.status === 0;
})();
const isRoot = process.getuid?.() === 0;
const whoami = spawnSync('id', ['-un'], { encoding: 'utf8' }).stdout.trim();

interface Call {
  readonly cmd: string;
  readonly args: string[];
  readonly cwd: string;
  readonly tokenInEnv: boolean;
}
interface Reply {
  readonly status: number;
  readonly body?: unknown;
}
interface Seen {
  readonly method: string;
  readonly url: string;
  readonly authorization: string | undefined;
}

let dir: string;
let server: Server;
let url: string;
let replies: Reply[];
let seen: Seen[];

/** A stub that records its name, arguments, working directory and whether the token leaked into its environment. */
function stub(path: string, exitVar: string): void {
  writeFileSync(
    path,
    [
      '#!/usr/bin/env bash',
      'in_env=false; [[ -n "${SPOTCHECK_BOOTSTRAP_TOKEN:-}" ]] && in_env=true',
      // One argument a line (none of the arguments here holds a newline): jq would read `--flags` after --args.
      `if (($#)); then printf '%s\\n' "$@"; fi | jq -Rsc --arg cmd "$(basename "$0")" --arg cwd "$PWD" --argjson leak "$in_env" '{cmd: $cmd, args: (split("\\n") | .[:-1]), cwd: $cwd, tokenInEnv: $leak}' >> "$CALLS"`,
      `exit "\${${exitVar}:-0}"`,
      '',
    ].join('\n'),
  );
  chmodSync(path, 0o755);
}

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'capacity-runner-'));
  for (const sub of ['bin', 'actions-runner', 'work']) mkdirSync(join(dir, sub));
  stub(join(dir, 'bin', 'shutdown'), 'STUB_SHUTDOWN_EXIT');
  stub(join(dir, 'bin', 'act_runner'), 'STUB_ACT_EXIT');
  stub(join(dir, 'actions-runner', 'run.sh'), 'STUB_RUN_EXIT');
  // runuser: recorded, then runs the command after `--` (as the caller: the drop itself is runuser's business).
  writeFileSync(
    join(dir, 'bin', 'runuser'),
    [
      '#!/usr/bin/env bash',
      `printf '%s\\n' "$@" | jq -Rsc --arg cwd "$PWD" '{cmd: "runuser", args: (split("\\n") | .[:-1]), cwd: $cwd, tokenInEnv: false}' >> "$CALLS"`,
      'while [[ $# -gt 0 && "$1" != "--" ]]; do shift; done; shift',
      'exec "$@"',
      '',
    ].join('\n'),
  );
  chmodSync(join(dir, 'bin', 'runuser'), 0o755);
  // curl: its command line is recorded (to show the token is not on it), then the real curl runs.
  const realCurl = spawnSync('bash', ['-c', 'command -v curl'], { encoding: 'utf8' }).stdout.trim();
  writeFileSync(
    join(dir, 'bin', 'curl'),
    `#!/usr/bin/env bash\nprintf '%s\\n' "$*" >> "$CALLS.curl"\nexec ${realCurl} "$@"\n`,
    { mode: 0o755 },
  );
  replies = [];
  seen = [];
  server = createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', authorization: req.headers.authorization });
    const reply = replies.shift() ?? { status: 500 };
    req.resume();
    res.writeHead(reply.status, { 'content-type': 'application/json' });
    res.end(reply.body === undefined ? '' : JSON.stringify(reply.body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${String((server.address() as AddressInfo).port)}/api/capacity/bootstrap`;
});

afterEach(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  rmSync(dir, { recursive: true, force: true });
});

interface Outcome {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly calls: Call[];
}

function launch(env: Record<string, string> = {}): Promise<Outcome> {
  return new Promise((resolve) => {
    execFile(
      'bash',
      [SCRIPT],
      {
        env: {
          PATH: `${join(dir, 'bin')}:${process.env.PATH ?? '/usr/bin:/bin'}`,
          HOME: dir,
          CALLS: join(dir, 'calls.jsonl'),
          SPOTCHECK_BOOTSTRAP_URL: url,
          SPOTCHECK_BOOTSTRAP_TOKEN: TOKEN,
          SPOTCHECK_WORKDIR: join(dir, 'work'),
          SPOTCHECK_ACTIONS_RUNNER_DIR: join(dir, 'actions-runner'),
          SPOTCHECK_RUNNER_USER: whoami,
          SPOTCHECK_BOOTSTRAP_RETRY_DELAY: '0',
          SPOTCHECK_BOOTSTRAP_ATTEMPTS: '3',
          ...env,
        },
        encoding: 'utf8',
        timeout: 20_000,
      },
      (error, stdout, stderr) => {
        // A line that is not JSON fails the test below with what it was, rather than crashing the callback.
        const file = join(dir, 'calls.jsonl');
        const calls = existsSync(file)
          ? readFileSync(file, 'utf8')
              .split('\n')
              .filter((l) => l !== '')
              .map((l): Call => {
                try {
                  return JSON.parse(l) as Call;
                } catch {
                  return { cmd: `unparsable: ${l}`, args: [], cwd: '', tokenInEnv: false };
                }
              })
          : [];
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : null;
        resolve({ code, stdout, stderr, calls });
      },
    );
  });
}

const githubAnswer = { forge: 'github', runnerName: NAME, encodedJitConfig: JIT };
const giteaAnswer = {
  forge: 'gitea',
  runnerName: NAME,
  instanceUrl: 'https://gitea.example.org/',
  registrationToken: REG,
  labels: ['gpu:host', 'linux-x64:host'],
};

function commands(outcome: Outcome): string[] {
  return outcome.calls.map((c) => c.cmd);
}

function expectQuiet(outcome: Outcome, ...secrets: string[]): void {
  for (const secret of [TOKEN, ...secrets]) {
    expect(outcome.stdout).not.toContain(secret);
    expect(outcome.stderr).not.toContain(secret);
  }
}

describe('ami/capacity-runner.sh', () => {
  it('GitHub: one exchange, then run.sh --jitconfig in the runner directory, then one power-off', async () => {
    replies.push({ status: 200, body: githubAnswer });
    const out = await launch({ SPOTCHECK_FORGE: 'github' });
    expect(out.code).toBe(0);
    expect(seen).toEqual([{ method: 'POST', url: '/api/capacity/bootstrap', authorization: `Bearer ${TOKEN}` }]);
    // The header came from a file descriptor, not from curl's command line (visible to every process in /proc).
    const curlLine = readFileSync(join(dir, 'calls.jsonl.curl'), 'utf8');
    expect(curlLine).toMatch(/--header @\/dev\/fd\/\d+/);
    expect(curlLine).not.toContain(TOKEN);
    expect(out.calls).toEqual([
      { cmd: 'run.sh', args: ['--jitconfig', JIT], cwd: join(dir, 'actions-runner'), tokenInEnv: false },
      { cmd: 'shutdown', args: ['-h', 'now'], cwd: join(dir, 'actions-runner'), tokenInEnv: false },
    ]);
    expectQuiet(out, JIT);
  });

  it('Gitea: act_runner register --ephemeral with the answer, then daemon --once, then one power-off', async () => {
    replies.push({ status: 200, body: giteaAnswer });
    const out = await launch({ SPOTCHECK_FORGE: 'gitea' });
    expect(out.code).toBe(0);
    const runnerDir = join(dir, 'work', 'act_runner');
    expect(out.calls.map((c) => [c.cmd, c.args, c.cwd, c.tokenInEnv])).toEqual([
      [
        'act_runner',
        [
          'register',
          '--no-interactive',
          '--ephemeral',
          '--instance',
          'https://gitea.example.org/',
          '--token',
          REG,
          '--name',
          NAME,
          '--labels',
          'gpu:host,linux-x64:host',
        ],
        runnerDir,
        false,
      ],
      ['act_runner', ['daemon', '--once'], runnerDir, false],
      ['shutdown', ['-h', 'now'], runnerDir, false],
    ]);
    expectQuiet(out, REG);
  });

  it('a runner that fails still powers off once, and the launcher reports its status', async () => {
    replies.push({ status: 200, body: githubAnswer });
    const out = await launch({ STUB_RUN_EXIT: '3' });
    expect(out.code).toBe(3);
    expect(commands(out)).toEqual(['run.sh', 'shutdown']);
    expectQuiet(out, JIT);
  });

  it('a failed registration does not start the daemon; power-off once', async () => {
    replies.push({ status: 200, body: giteaAnswer });
    const out = await launch({ STUB_ACT_EXIT: '1' });
    expect(out.code).toBe(1);
    expect(out.calls.map((c) => [c.cmd, c.args[0]])).toEqual([
      ['act_runner', 'register'],
      ['shutdown', '-h'],
    ]);
  });

  it.each([401, 409])('a refused exchange (%i) is final: no retry, no runner, power-off once', async (status) => {
    replies.push({ status, body: 'invalid bootstrap token' });
    const out = await launch();
    expect(out.code).toBe(1);
    expect(seen).toHaveLength(1);
    expect(commands(out)).toEqual(['shutdown']);
    expect(out.stderr).toContain(`HTTP ${String(status)}`);
    expectQuiet(out);
  });

  it('503 and 502 are retried; the third answer is used', async () => {
    replies.push({ status: 503 }, { status: 502 }, { status: 200, body: githubAnswer });
    const out = await launch();
    expect(out.code).toBe(0);
    expect(seen).toHaveLength(3);
    expect(seen.every((s) => s.authorization === `Bearer ${TOKEN}`)).toBe(true);
    expect(commands(out)).toEqual(['run.sh', 'shutdown']);
    expectQuiet(out, JIT);
  });

  it('gives up after the bounded attempts when the server keeps failing; power-off once', async () => {
    replies.push({ status: 503 }, { status: 503 }, { status: 503 }, { status: 200, body: githubAnswer });
    const out = await launch({ SPOTCHECK_BOOTSTRAP_ATTEMPTS: '3' });
    expect(out.code).toBe(1);
    expect(seen).toHaveLength(3);
    expect(commands(out)).toEqual(['shutdown']);
    expectQuiet(out);
  });

  it('an unreachable server is retried, then given up; the token is not printed', async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const out = await launch({ SPOTCHECK_BOOTSTRAP_ATTEMPTS: '2' });
    expect(out.code).toBe(1);
    expect(out.stderr.match(/attempt \d of 2/g)).toHaveLength(2);
    expect(commands(out)).toEqual(['shutdown']);
    expectQuiet(out);
  });

  it('an answer for the other forge, or a malformed one, starts nothing', async () => {
    replies.push({ status: 200, body: githubAnswer });
    const other = await launch({ SPOTCHECK_FORGE: 'gitea' });
    expect(other.code).toBe(1);
    expect(commands(other)).toEqual(['shutdown']);
    expectQuiet(other, JIT);

    rmSync(join(dir, 'calls.jsonl'));
    replies.push({ status: 200, body: { ...giteaAnswer, labels: [] } });
    const noLabels = await launch();
    expect(noLabels.code).toBe(1);
    expect(commands(noLabels)).toEqual(['shutdown']);
    expectQuiet(noLabels, REG);

    rmSync(join(dir, 'calls.jsonl'));
    replies.push({ status: 200, body: { ...githubAnswer, runnerName: 'x; rm -rf /' } });
    const badName = await launch();
    expect(badName.code).toBe(1);
    expect(commands(badName)).toEqual(['shutdown']);
  });

  it('a missing or malformed token is refused before any request, without echoing it', async () => {
    const missing = await launch({ SPOTCHECK_BOOTSTRAP_TOKEN: '' });
    expect(missing.code).toBe(1);
    rmSync(join(dir, 'calls.jsonl'));
    const hostile = '$(touch pwned) not-a-token';
    const malformed = await launch({ SPOTCHECK_BOOTSTRAP_TOKEN: hostile });
    expect(malformed.code).toBe(1);
    expect(seen).toHaveLength(0);
    expect(commands(malformed)).toEqual(['shutdown']);
    expect(malformed.stderr).not.toContain(hostile);
    expect(existsSync(join(dir, 'pwned'))).toBe(false);
  });

  it('a power-off that fails does not change the outcome and is not retried', async () => {
    replies.push({ status: 200, body: githubAnswer });
    const out = await launch({ STUB_SHUTDOWN_EXIT: '1' });
    expect(out.code).toBe(0);
    expect(commands(out)).toEqual(['run.sh', 'shutdown']);
    expect(out.stderr).toContain('shutdown failed');
  });

  it.skipIf(!isRoot)('started as root, it runs the runner as the runner user through runuser', async () => {
    replies.push({ status: 200, body: giteaAnswer });
    const out = await launch({ SPOTCHECK_RUNNER_USER: 'spotcheck-runner-test' });
    expect(out.code).toBe(0);
    expect(out.calls.filter((c) => c.cmd === 'runuser').map((c) => c.args.slice(0, 4))).toEqual([
      ['-u', 'spotcheck-runner-test', '--', 'mkdir'],
      ['-u', 'spotcheck-runner-test', '--', 'act_runner'],
      ['-u', 'spotcheck-runner-test', '--', 'act_runner'],
    ]);
    // Power-off is root's, not the runner user's.
    expect(commands(out).filter((c) => c !== 'runuser')).toEqual(['act_runner', 'act_runner', 'shutdown']);
  });

  it('is the launcher the capacity user data starts, installed there by provision.sh', () => {
    expect(DEFAULT_CAPACITY_COMMAND).toEqual(['/opt/spotcheck/capacity/capacity-runner']);
    const provision = readFileSync(PROVISION, 'utf8');
    expect(provision).toContain('/opt/spotcheck/capacity');
    expect(provision).toMatch(/install .*"\$CAPACITY_LAUNCHER" .*capacity-runner/);
    const text = readFileSync(SCRIPT, 'utf8');
    expect(text.split('\n')[0]).toBe('#!/usr/bin/env bash');
    expect(text).toContain('set -euo pipefail');
    expect(text).not.toMatch(/set -x|set -o xtrace/);
  });

  it.each([
    ['both checksums unset', {}, /ACT_RUNNER_SHA256 is unset/],
    ['the actions runner checksum unset', { ACT_RUNNER_SHA256: 'a'.repeat(64) }, /ACTIONS_RUNNER_SHA256 is unset/],
    [
      'a checksum that is not a SHA-256',
      { ACT_RUNNER_SHA256: 'A'.repeat(64), ACTIONS_RUNNER_SHA256: 'b'.repeat(64) },
      /ACT_RUNNER_SHA256 is unset or not a lowercase hex SHA-256/,
    ],
    [
      'an unknown architecture',
      { ARCH: 'riscv64', ACT_RUNNER_SHA256: 'a'.repeat(64), ACTIONS_RUNNER_SHA256: 'b'.repeat(64) },
      /unsupported ARCH riscv64/,
    ],
  ])('provision.sh refuses to bake with %s, before it runs anything', (_name, env, message) => {
    // dnf, curl and useradd stubs record any call: none may happen.
    for (const cmd of ['dnf', 'curl', 'useradd'])
      writeFileSync(join(dir, 'bin', cmd), `#!/usr/bin/env bash\necho ${cmd} >> "$CALLS"\n`, { mode: 0o755 });
    const r = spawnSync('bash', [PROVISION], {
      env: {
        PATH: `${join(dir, 'bin')}:${process.env.PATH ?? '/usr/bin:/bin'}`,
        CALLS: join(dir, 'calls.jsonl'),
        CAPACITY_LAUNCHER: SCRIPT,
        ...env,
      },
      encoding: 'utf8',
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(message);
    expect(existsSync(join(dir, 'calls.jsonl'))).toBe(false);
  });

  it.skipIf(!hasShellcheck)('passes shellcheck', () => {
    const r = spawnSync('shellcheck', ['--severity=style', SCRIPT, PROVISION], { encoding: 'utf8' });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
  if (!hasShellcheck)
    it.skip('passes shellcheck — SKIPPED: shellcheck is not installed (apt-get install -y shellcheck)', () => {});
});
