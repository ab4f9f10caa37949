import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import type { Readable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import type { RunAs } from './run-as.ts';

/**
 * A step runs as the leader of its own process group (`detached: true` makes the child call setsid(2)), so one
 * signal to `-pgid` reaches everything the step started — `sleep 300 &`, a test server, a compiler's workers —
 * unless a process deliberately moved itself to another session.
 */
export interface GroupProcess {
  /** Also the process group id. Undefined when the spawn failed (then `exited` reports the error). */
  readonly pid: number | undefined;
  /** Resolves when the leader exits (not when every descendant or the pipes are done). */
  readonly exited: Promise<ProcessExit>;
  /** Resolves when stdout and stderr are closed (which a background descendant may delay indefinitely). */
  readonly streamsClosed: Promise<void>;
  /** Stops reading output (used once the group is dead, so a stray pipe holder leaks nothing). */
  detach(): void;
}

export type ProcessExit =
  | { readonly kind: 'exited'; readonly code: number | null; readonly signal: NodeJS.Signals | null }
  | { readonly kind: 'spawn-error'; readonly message: string };

export interface StartOptions {
  readonly cwd: string;
  readonly env: Readonly<Record<string, string>>;
  /** Output text, stdout and stderr merged in arrival order (each stream decoded as UTF-8 on its own). */
  readonly onOutput: (chunk: string, stream: 'stdout' | 'stderr') => void;
  /** Start the process as this user (the server must be allowed to: root). */
  readonly runAs?: RunAs;
}

export function startProcessGroup(command: string, args: readonly string[], opts: StartOptions): GroupProcess {
  const child = spawn(command, args, {
    cwd: opts.cwd,
    // Exactly this environment: nothing inherited from the bot's process. PATH lookup for `command` uses env.PATH.
    env: { ...opts.env },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(opts.runAs === undefined ? {} : { uid: opts.runAs.uid, gid: opts.runAs.gid }),
  });
  const exited = new Promise<ProcessExit>((resolve) => {
    child.once('error', (err) => resolve({ kind: 'spawn-error', message: err.message }));
    child.once('exit', (code, signal) => resolve({ kind: 'exited', code, signal }));
  });
  const streamsClosed = new Promise<void>((resolve) => {
    child.once('close', () => resolve());
    child.once('error', () => resolve());
  });
  const stopStdout = forward(child.stdout, (chunk) => opts.onOutput(chunk, 'stdout'));
  const stopStderr = forward(child.stderr, (chunk) => opts.onOutput(chunk, 'stderr'));
  const stopWatchdog = child.pid === undefined ? () => undefined : startWatchdog(child.pid);
  return {
    pid: child.pid,
    exited,
    streamsClosed,
    detach() {
      stopStdout();
      stopStderr();
      stopWatchdog();
    },
  };
}

/** Seconds between the watchdog's SIGTERM and SIGKILL: a server that died cannot wait for a long grace. */
const WATCHDOG_GRACE_SECONDS = 3;

/**
 * The group dies with this process, however it dies (SIGKILL and OOM kills included). A step's group is in its own
 * session, so nothing reaches it when the server goes; Node cannot set PR_SET_PDEATHSIG (prctl(2)) on a child, so
 * a small `sh` — in a session of its own, running as the server, so it may signal a step user's group — blocks
 * reading a pipe only this process writes to. Every pipe libuv makes is close-on-exec, so no step holds the write
 * end: the kernel closes it when this process dies, `read` sees end of file, and the watchdog sends the group
 * SIGTERM, then SIGKILL after a short grace. The returned function stops the watchdog (once the group is done);
 * the watchdog holds no reference to the event loop, so a CLI run can still exit.
 */
function startWatchdog(pgid: number): () => void {
  const script = `read _; kill -s TERM -- "-$1" 2>/dev/null || exit 0; sleep "$2"; kill -s KILL -- "-$1" 2>/dev/null`;
  const watchdog = spawn(
    '/bin/sh',
    ['-c', script, 'spotcheck-watchdog', String(pgid), String(WATCHDOG_GRACE_SECONDS)],
    {
      env: { PATH: '/usr/bin:/bin' },
      cwd: '/',
      detached: true,
      stdio: ['pipe', 'ignore', 'ignore'],
    },
  );
  // Without /bin/sh the step still runs, unwatched, as it did before; the start-up sweep is the backstop.
  watchdog.on('error', () => undefined);
  watchdog.stdin.on('error', () => undefined);
  watchdog.unref();
  (watchdog.stdin as unknown as { unref?: () => void }).unref?.();
  return () => {
    // SIGKILL, not closing the pipe: closing would make it signal a group whose id may be reused by then.
    if (watchdog.exitCode === null && watchdog.signalCode === null) watchdog.kill('SIGKILL');
    watchdog.stdin.destroy();
  };
}

/** Streams decoded text to `onOutput` as it arrives; a decoder per stream keeps split UTF-8 sequences whole. */
function forward(stream: Readable, onOutput: (chunk: string) => void): () => void {
  const decoder = new StringDecoder('utf8');
  const onData = (data: Buffer) => {
    const text = decoder.write(data);
    if (text !== '') onOutput(text);
  };
  const onEnd = () => {
    const rest = decoder.end();
    if (rest !== '') onOutput(rest);
  };
  stream.on('data', onData);
  stream.once('end', onEnd);
  // A read error (EIO after the group died) ends the output; it must not become an unhandled 'error' event.
  stream.on('error', () => undefined);
  return () => {
    stream.off('data', onData);
    stream.off('end', onEnd);
    stream.destroy();
  };
}

/**
 * Whether any live process of the group remains. On Linux this reads /proc and ignores zombies: an orphan that
 * exited stays a zombie until its reaper waits for it, and some container inits (PID 1) never do, so
 * `kill(-pgid, 0)` alone would report such a group alive forever.
 */
export function groupExists(pgid: number): boolean {
  const members = procGroupMembers(pgid);
  if (members !== undefined) return members.some((m) => m.state !== 'Z' && m.state !== 'X');
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (err) {
    // EPERM: a member exists but is not ours to signal (it changed uid) — it exists.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether one process is alive (not gone, not a zombie). */
export function processAlive(pid: number): boolean {
  const stat = readStat(pid);
  if (stat !== undefined) return stat.state !== 'Z' && stat.state !== 'X';
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The members of a process group per /proc, or undefined where there is no /proc. */
function procGroupMembers(pgid: number): { pid: number; state: string }[] | undefined {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return undefined;
  }
  const members: { pid: number; state: string }[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (stat?.pgrp === pgid) members.push({ pid: Number(entry), state: stat.state });
  }
  return members;
}

/**
 * Fields 3 (state), 5 (pgrp) and 22 (starttime) of /proc/<pid>/stat (proc(5)); the command name may hold spaces
 * and parens.
 */
function readStat(pid: number): { state: string; pgrp: number; startTime: string } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const state = fields[0];
  const pgrp = Number(fields[2]);
  if (state === undefined || !Number.isInteger(pgrp)) return undefined;
  return { state, pgrp, startTime: fields[19] ?? '' };
}

/**
 * Who a live process is, for telling it apart from a later process given the same pid: its pid and start time
 * (since boot). Undefined where there is no /proc or the process is gone.
 */
export function processIdentity(pid: number): string | undefined {
  const stat = readStat(pid);
  return stat === undefined || stat.state === 'Z' || stat.state === 'X' ? undefined : `${pid}@${stat.startTime}`;
}

function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    // ESRCH: the group is gone already, which is what we wanted.
    return false;
  }
}

/**
 * SIGTERM to the whole group, then SIGKILL once `graceMs` has passed with any member still present — the same
 * escalation the Actions runner and `docker stop` use, so well-behaved tools get to clean up.
 */
export async function killProcessGroup(pgid: number, graceMs: number, pollMs = 50): Promise<void> {
  if (!signalGroup(pgid, 'SIGTERM')) return;
  // Orphans that exited may linger as zombies until their reaper runs; they cannot be signalled anyway, so the
  // poll just bounds the wait and SIGKILL goes out regardless after the grace.
  for (let waited = 0; waited < graceMs; waited += pollMs) {
    await delay(Math.min(pollMs, graceMs - waited));
    if (!groupExists(pgid)) return;
  }
  signalGroup(pgid, 'SIGKILL');
}

/**
 * SIGKILLs the process group of every process whose working directory is one of `folders` or inside one (per
 * /proc; nothing where there is none), never this process's own group. What a crashed server's steps left running
 * in their order folders: the start-up sweep ends them before it removes the folders. Returns how many processes
 * were found.
 */
export function killProcessesIn(folders: readonly string[]): number {
  if (folders.length === 0) return 0;
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return 0;
  }
  const ownGroup = readStat(process.pid)?.pgrp;
  let found = 0;
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    let cwd: string;
    try {
      cwd = readlinkSync(`/proc/${pid}/cwd`);
    } catch {
      continue;
    }
    if (!folders.some((folder) => cwd === folder || cwd.startsWith(`${folder}/`))) continue;
    found++;
    const group = readStat(pid)?.pgrp;
    if (group !== undefined && group > 1 && group !== ownGroup) signalGroup(group, 'SIGKILL');
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone with its group already.
    }
  }
  return found;
}
