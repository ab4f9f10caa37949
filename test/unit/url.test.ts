import { describe, expect, it } from 'vitest';
import { joinUrl, trimTrailingSlashes } from '../../src/core/url.ts';

describe('joinUrl', () => {
  it.each([
    ['https://ci.example.org', '/runs', 'https://ci.example.org/runs'],
    ['https://ci.example.org/', '/runs', 'https://ci.example.org/runs'],
    ['https://ci.example.org///', '/runs', 'https://ci.example.org/runs'],
    ['https://example.org/ci/', '/api/agent/bootstrap', 'https://example.org/ci/api/agent/bootstrap'],
    ['https://ci.example.org/', 'runs/r%231', 'https://ci.example.org/runs/r%231'],
    ['https://ci.example.org/', '', 'https://ci.example.org'],
  ])('%s + %s = %s', (base, path, expected) => {
    expect(joinUrl(base, path)).toBe(expected);
  });
});

describe('trimTrailingSlashes', () => {
  it('removes every trailing slash and nothing else', () => {
    expect(trimTrailingSlashes('https://gitea.example.org/sub//')).toBe('https://gitea.example.org/sub');
    expect(trimTrailingSlashes('http://169.254.169.254')).toBe('http://169.254.169.254');
  });
});
