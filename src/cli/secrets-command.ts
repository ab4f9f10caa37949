/**
 * `spotcheck secrets set|list|rm`: secrets in the store `serve` uses (the embedded store of a data folder, or the
 * DynamoDB table of the operator config, whose `store.kmsKeyId` wraps the values). A value is read from stdin only —
 * never an argument, which `ps` and shell history would show — and never printed: `list` shows names, update times
 * and the outsiders flag.
 */
import { parseArgs } from 'node:util';
import { loadOperatorConfig } from '../config.ts';
import {
  describeSecretScope,
  environmentNameError,
  isScopeNamePart,
  MAX_ENVIRONMENT_NAME_LENGTH,
  MAX_SECRET_VALUE_BYTES,
  normalizeSecretName,
  secretNameError,
  secretValueError,
  type SecretScope,
} from '../core/secrets.ts';
import type { ForgeKind } from '../core/types.ts';
import { SecretError } from '../errors.ts';
import { openStore } from '../store/open-store.ts';
import { SECRETS_USAGE } from './secrets-help.ts';

/** What the command reads a value from: a pipe or file, or a terminal (read without echo). */
export interface SecretInput extends NodeJS.ReadableStream {
  readonly isTTY?: boolean;
  setRawMode?(mode: boolean): unknown;
}

export interface SecretsIo {
  readonly in: SecretInput;
  readonly out: NodeJS.WritableStream;
  readonly err: NodeJS.WritableStream;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
}

const FORGES = ['github', 'gitea'] as const satisfies readonly ForgeKind[];

export class SecretsUsageError extends Error {
  override name = 'SecretsUsageError';
}

export async function secretsCommand(argv: readonly string[], io: SecretsIo): Promise<number> {
  const [action, ...rest] = argv;
  if (action !== 'set' && action !== 'list' && action !== 'rm') {
    io.err.write(
      `spotcheck: secrets needs set, list or rm${action === undefined ? '' : ` (got "${action}")`}\n\n${SECRETS_USAGE}`,
    );
    return 2;
  }
  try {
    const { values, positionals } = readArgs(rest, action);
    const scope = secretScope(values, io.env);
    const names = secretNames(action, positionals);
    // Read before the store opens: a value typed at a terminal should not wait on a table or a key.
    const value = action === 'set' ? await readSecretValue(io.in, io.err) : undefined;
    const env = values['data-dir'] === undefined ? io.env : { ...io.env, SPOTCHECK_DATA_DIR: values['data-dir'] };
    const config = await loadOperatorConfig(env, io.cwd, values.config);
    const opened = await openStore(config, config.store.dir);
    try {
      const { secrets } = opened;
      const where = `${describeSecretScope(scope)} on ${hostOf(scope)}`;
      if (action === 'set') {
        const info = await secrets.set(scope, names[0]!, value!, { outsiders: values.outsiders === true });
        io.out.write(`set ${info.name} for ${where}${info.outsiders ? ' (outsiders too)' : ''}\n`);
        return 0;
      }
      if (action === 'list') {
        const listed = await secrets.list(scope);
        if (listed.length === 0) io.err.write(`no secrets for ${where}\n`);
        const width = Math.max(4, ...listed.map((s) => s.name.length));
        for (const s of listed) {
          const updated = new Date(s.updatedAt).toISOString().replace(/\.\d{3}Z$/, 'Z');
          io.out.write(`${s.name.padEnd(width)}  ${updated}${s.outsiders ? '  outsiders' : ''}\n`);
        }
        return 0;
      }
      let missing = 0;
      for (const name of names) {
        if (await secrets.remove(scope, name)) io.out.write(`removed ${normalizeSecretName(name)} from ${where}\n`);
        else {
          missing += 1;
          io.err.write(`spotcheck: no secret ${normalizeSecretName(name)} for ${where}\n`);
        }
      }
      return missing === 0 ? 0 : 1;
    } finally {
      await opened.close();
    }
  } catch (error) {
    if (error instanceof SecretsUsageError) {
      io.err.write(`spotcheck: ${error.message}\n`);
      return 2;
    }
    if (error instanceof SecretError) {
      io.err.write(`spotcheck: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
}

function readArgs(argv: readonly string[], action: 'set' | 'list' | 'rm') {
  try {
    return parseArgs({
      args: [...argv],
      options: {
        repo: { type: 'string' },
        org: { type: 'string' },
        env: { type: 'string' },
        forge: { type: 'string' },
        host: { type: 'string' },
        config: { type: 'string' },
        'data-dir': { type: 'string' },
        ...(action === 'set' ? { outsiders: { type: 'boolean' } } : {}),
      },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    throw new SecretsUsageError((error as Error).message);
  }
}

function secretNames(action: 'set' | 'list' | 'rm', positionals: readonly string[]): readonly string[] {
  if (action === 'list') {
    if (positionals.length > 0) throw new SecretsUsageError(`secrets list takes no names (got "${positionals[0]}")`);
    return [];
  }
  if (positionals.length === 0) throw new SecretsUsageError(`secrets ${action} needs a secret NAME`);
  if (action === 'set' && positionals.length > 1) {
    // A second word is most likely the value typed as an argument, where ps and shell history would keep it.
    throw new SecretsUsageError('secrets set takes one NAME; the value is read from stdin, never from an argument');
  }
  for (const name of positionals) {
    const problem = secretNameError(name);
    if (problem !== undefined) throw new SecretsUsageError(problem);
  }
  return positionals;
}

interface ScopeFlags {
  readonly repo?: string | undefined;
  readonly org?: string | undefined;
  readonly env?: string | undefined;
  readonly forge?: string | undefined;
  readonly host?: string | undefined;
}

/** The scope the flags name; the forge and host as `serve` would record them for a run of that repository. */
export function secretScope(flags: ScopeFlags, env: Readonly<Record<string, string | undefined>>): SecretScope {
  const forge = flags.forge ?? 'github';
  if (!(FORGES as readonly string[]).includes(forge)) throw new SecretsUsageError('--forge must be github or gitea');
  const host = forgeHost(forge as ForgeKind, flags.host, env);
  if ((flags.repo === undefined) === (flags.org === undefined))
    throw new SecretsUsageError('give one of --repo OWNER/NAME or --org OWNER');
  if (flags.org !== undefined) {
    if (flags.env !== undefined) throw new SecretsUsageError('--env needs --repo: environments are a repository’s');
    if (!isScopeNamePart(flags.org)) throw new SecretsUsageError(`--org must be an owner's name (got "${flags.org}")`);
    return { level: 'org', forge: forge as ForgeKind, host, owner: flags.org };
  }
  const parts = (flags.repo ?? '').split('/');
  const [owner, name] = parts;
  if (
    parts.length !== 2 ||
    owner === undefined ||
    name === undefined ||
    !isScopeNamePart(owner) ||
    !isScopeNamePart(name)
  )
    throw new SecretsUsageError(`--repo must be OWNER/NAME (got "${flags.repo ?? ''}")`);
  const repo = { forge: forge as ForgeKind, host, owner, name };
  if (flags.env === undefined) return { level: 'repo', repo };
  const environment = flags.env.trim();
  if (environmentNameError(environment) !== undefined)
    throw new SecretsUsageError(
      `--env must be an environment name of 1 to ${String(MAX_ENVIRONMENT_NAME_LENGTH)} characters`,
    );
  return { level: 'environment', repo, environment };
}

/** The host key runs of that forge carry: GitHub's GHE_HOST or github.com, Gitea's GITEA_URL host (with its port). */
function forgeHost(forge: ForgeKind, flag: string | undefined, env: Readonly<Record<string, string | undefined>>) {
  if (flag !== undefined) {
    if (flag === '' || flag.includes('/')) throw new SecretsUsageError(`--host must be a host name (got "${flag}")`);
    return flag.toLowerCase();
  }
  if (forge === 'github') return env.GHE_HOST?.trim() ? env.GHE_HOST.trim().toLowerCase() : 'github.com';
  try {
    return new URL(env.GITEA_URL ?? '').host.toLowerCase();
  } catch {
    throw new SecretsUsageError('--forge gitea needs --host HOST (or GITEA_URL, as serve has it)');
  }
}

function hostOf(scope: SecretScope): string {
  return scope.level === 'org' ? scope.host : scope.repo.host;
}

/**
 * The value from stdin. A terminal is read without echo, one line (as `gh secret set` prompts); a pipe or file is
 * read to its end, and one trailing newline — what `echo` and most editors add — is removed (`\n` or `\r\n`), so
 * `echo "$TOKEN" | spotcheck secrets set …` stores the token itself. An empty value is refused: it is always a
 * mistake (an empty pipe), and an empty string cannot be masked in logs.
 */
export async function readSecretValue(input: SecretInput, err: NodeJS.WritableStream): Promise<string> {
  const raw = input.isTTY === true ? await readWithoutEcho(input, err) : await readAll(input);
  const value = raw.endsWith('\r\n') ? raw.slice(0, -2) : raw.endsWith('\n') ? raw.slice(0, -1) : raw;
  if (value === '') throw new SecretsUsageError('the secret value on stdin is empty');
  const problem = secretValueError(value);
  if (problem !== undefined) throw new SecretsUsageError(problem);
  return value;
}

async function readAll(input: SecretInput): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of input) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    size += bytes.length;
    // GitHub's 48 KB, plus the newline that may be stripped; more is refused without buffering the rest.
    if (size > MAX_SECRET_VALUE_BYTES + 2)
      throw new SecretsUsageError(`a secret value may be at most ${String(MAX_SECRET_VALUE_BYTES / 1024)} KB`);
    chunks.push(bytes);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Raw mode: the terminal echoes nothing; Enter ends, backspace erases, Ctrl-C and Ctrl-D cancel on an empty line. */
function readWithoutEcho(input: SecretInput, err: NodeJS.WritableStream): Promise<string> {
  err.write('? Paste your secret: ');
  return new Promise((resolve, reject) => {
    let value = '';
    const finish = (error?: Error): void => {
      input.off('data', onData);
      input.setRawMode?.(false);
      input.pause();
      err.write('\n');
      if (error === undefined) resolve(value);
      else reject(error);
    };
    const onData = (chunk: Buffer | string): void => {
      for (const ch of typeof chunk === 'string' ? chunk : chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return finish();
        if (ch === '\u0003' || (ch === '\u0004' && value === '')) {
          return finish(new SecretsUsageError('cancelled: no secret set'));
        }
        if (ch === '\u0004') return finish();
        if (ch === '\u007f' || ch === '\b') value = [...value].slice(0, -1).join('');
        else value += ch;
      }
    };
    input.setRawMode?.(true);
    input.on('data', onData);
    input.resume();
  });
}
