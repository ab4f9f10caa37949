import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { renderBuildspec } from '../../runners/buildspec.ts';
import { MAX_USER_DATA_BASE64_BYTES, renderUserData } from '../../runners/user-data.ts';

const TOKEN = 'AbC_dEf-0123456789xyzXYZ0123456789';
const URL_ = 'https://ci.example.org/api/agent/bootstrap';

describe('user data', () => {
  it('carries the bootstrap URL, the token, the lifetime cap and the agent command — and fits in 16 KiB', () => {
    const { script, base64 } = renderUserData({ bootstrapUrl: URL_, bootstrapToken: TOKEN, maxLifetimeMinutes: 90 });
    expect(Buffer.from(base64, 'base64').toString('utf8')).toBe(script);
    expect(base64.length).toBeLessThan(MAX_USER_DATA_BASE64_BYTES);
    expect(script.startsWith('#!/bin/bash\n')).toBe(true);
    expect(script).toContain("shutdown -h +90 'spotcheck: maximum lifetime reached'");
    expect(script).toContain(`SPOTCHECK_BOOTSTRAP_URL='${URL_}' SPOTCHECK_BOOTSTRAP_TOKEN='${TOKEN}'`);
    expect(script).toContain('runuser -u spotcheck -- /opt/spotcheck/agent/bin/spotcheck-agent');
    expect(script.trimEnd().endsWith('shutdown -h now')).toBe(true);
    // Never traced: cloud-init copies the script's output to a world-readable log.
    expect(script).not.toMatch(/set -[a-z]*x/);
    // No variable exported to the whole boot script: the token is set for the agent's process alone.
    expect(script).not.toContain('export ');
  });

  it('is valid bash', () => {
    const { script } = renderUserData({ bootstrapUrl: URL_, bootstrapToken: TOKEN, maxLifetimeMinutes: 5 });
    const check = spawnSync('bash', ['-n'], { input: script, encoding: 'utf8' });
    expect(check.status, check.stderr).toBe(0);
  });

  it.each([
    ['a token with a quote', { bootstrapToken: "abc'def0123456789xyz" }, /base64url/],
    ['a short token', { bootstrapToken: 'short' }, /base64url/],
    ['a URL with credentials', { bootstrapUrl: 'https://user:pw@ci.example.org/b' }, /credentials/],
    ['a URL with a query', { bootstrapUrl: 'https://ci.example.org/b?token=x' }, /query/],
    ['a file URL', { bootstrapUrl: 'file:///etc/passwd' }, /http/],
    ['a zero lifetime', { maxLifetimeMinutes: 0 }, /positive/],
    ['a command with a semicolon', { agentCommand: ['agent;', 'rm'] }, /plain words/],
  ])('refuses %s', (_name, over, message) => {
    expect(() =>
      renderUserData({ bootstrapUrl: URL_, bootstrapToken: TOKEN, maxLifetimeMinutes: 60, ...over }),
    ).toThrow(message);
  });

  it('refuses user data over the limit', () => {
    const long = Array.from({ length: 800 }, (_, i) => `--flag-${i}=value`);
    expect(() =>
      renderUserData({ bootstrapUrl: URL_, bootstrapToken: TOKEN, maxLifetimeMinutes: 60, agentCommand: long }),
    ).toThrow(/16384/);
  });
});

describe('buildspec', () => {
  it('runs only the agent, with no token or URL in its text', () => {
    const text = renderBuildspec();
    expect(text).toBe(
      'version: 0.2\nenv:\n  shell: bash\nphases:\n  build:\n    commands:\n      - /opt/spotcheck/agent/bin/spotcheck-agent\n',
    );
    expect(() => renderBuildspec(['agent', '$(curl evil)'])).toThrow(/plain words/);
  });
});

describe('ami/provision.sh', () => {
  const script = fileURLToPath(new URL('../../ami/provision.sh', import.meta.url));
  const shellcheck = spawnSync('shellcheck', ['--version'], { encoding: 'utf8' });
  const missing = shellcheck.error !== undefined || shellcheck.status !== 0;

  it('is strict bash', () => {
    const text = readFileSync(script, 'utf8');
    expect(text.split('\n')[0]).toBe('#!/usr/bin/env bash');
    expect(text).toContain('set -euo pipefail');
    expect(text).toContain('dnf -y -q install');
  });

  // CI installs shellcheck (apt-get install -y shellcheck); a machine without it says so instead of passing silently.
  it.skipIf(missing)('passes shellcheck', () => {
    execFileSync('shellcheck', ['--severity=style', script], { encoding: 'utf8' });
  });
  if (missing)
    it.skip('passes shellcheck — SKIPPED: shellcheck is not installed (apt-get install -y shellcheck)', () => {});
});
