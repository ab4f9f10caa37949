/**
 * Every environment variable the code reads is documented: in `spotcheck serve --help` and in the README. The list
 * is derived by scanning the sources for `env.NAME` reads (the code's convention: the environment is always passed
 * in as `env`, or `merged` after the Lambda secret is folded in), so a new variable cannot go undocumented.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/cli.ts';
import { SERVE_USAGE } from '../../src/cli/serve-help.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Written, not read, by bin/ itself (it silences the AWS SDK's Node-version notice). */
const NOT_SETTINGS = new Set(['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED']);
/** Read by `spotcheck run` only (the XDG cache folder for downloaded actions): documented in the README, not serve's. */
const RUN_ONLY = new Set(['XDG_CACHE_HOME']);

function sourceFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return /\.(ts|js)$/.test(entry.name) ? [path] : [];
  });
}

function variablesRead(): string[] {
  const names = new Set<string>();
  for (const file of ['src', 'runners', 'handlers', 'bin'].flatMap(sourceFiles)) {
    const text = readFileSync(join(ROOT, file), 'utf8');
    for (const match of text.matchAll(/\b(?:env|merged)\??\.([A-Z][A-Z0-9_]*)\b/g)) names.add(match[1]!);
  }
  return [...names].filter((name) => !NOT_SETTINGS.has(name)).sort();
}

const mentions = (text: string, name: string): boolean => new RegExp(`(^|[^A-Z0-9_])${name}([^A-Z0-9_]|$)`).test(text);

describe('environment variables', () => {
  const read = variablesRead();

  it('are found by the scan (a scan that finds nothing would pass anything)', () => {
    expect(read).toEqual(
      expect.arrayContaining(['APP_ID', 'GITEA_URL', 'LOG_FORMAT', 'SPOTCHECK_DATA_DIR', 'SPOTCHECK_SECRETS_ARN']),
    );
    expect(read.length).toBeGreaterThan(30);
  });

  it('are each listed by spotcheck serve --help', async () => {
    let printed = '';
    const out = new PassThrough();
    out.on('data', (chunk: Buffer) => (printed += chunk.toString('utf8')));
    const code = await main(['serve', '--help'], { out, err: new PassThrough(), env: {}, cwd: ROOT });
    expect(code).toBe(0);
    expect(printed).toBe(SERVE_USAGE);
    expect(read.filter((name) => !RUN_ONLY.has(name) && !mentions(printed, name))).toEqual([]);
  });

  it('are each documented in the README', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    expect(read.filter((name) => !mentions(readme, name))).toEqual([]);
  });
});
