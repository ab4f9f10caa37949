import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.ts';
import { createServeLogger } from '../../src/app/serve.ts';

/** A stream that says whether it is a terminal, and what was written to it. */
function output(isTTY: boolean): PassThrough & { isTTY: boolean; text(): string } {
  const stream = Object.assign(new PassThrough(), { isTTY });
  let written = '';
  stream.on('data', (chunk: Buffer) => (written += chunk.toString('utf8')));
  return Object.assign(stream, { text: () => written });
}

describe('createServeLogger', () => {
  it.each([
    ['a terminal, no LOG_FORMAT', true, undefined, 'pretty'],
    ['a pipe, no LOG_FORMAT', false, undefined, 'json'],
    ['a terminal, LOG_FORMAT=json', true, 'json', 'json'],
    ['a pipe, LOG_FORMAT=pretty', false, 'pretty', 'pretty'],
  ] as const)('on %s writes %s', (_case, isTTY, format, expected) => {
    const out = output(isTTY);
    const logger = createServeLogger(format === undefined ? {} : { LOG_FORMAT: format }, out);
    logger.info({ url: 'http://localhost:3000/healthz' }, 'health check');
    logger.flush();
    const text = out.text();
    expect(text).toContain('health check');
    if (expected === 'json') expect(JSON.parse(text.trim())).toMatchObject({ msg: 'health check', level: 30 });
    else {
      expect(() => JSON.parse(text.trim()) as unknown).toThrow();
      expect(text).toMatch(/INFO.*health check/);
    }
  });

  it('rejects an unknown LOG_FORMAT as a ConfigError', () => {
    expect(() => createServeLogger({ LOG_FORMAT: 'xml' }, output(false))).toThrow(ConfigError);
  });
});
