import { describe, expect, it } from 'vitest';
import { parseCookies, safeRedirect, serializeCookie, signValue, verifyValue } from '../../src/server/auth/cookies.ts';

const KEY = Buffer.alloc(32, 7);

describe('safeRedirect', () => {
  it.each([
    ['/runs/x?y=1#z', '/runs/x?y=1#z'],
    ['/runs/../login', '/login'],
    ['https://evil.test/', '/runs'],
    ['//evil.test/x', '/runs'],
    ['/\\evil.test', '/runs'],
    ['\\\\evil.test', '/runs'],
    ['javascript:alert(1)', '/runs'],
    ['/runs\r\nSet-Cookie: x=1', '/runs'],
    ['/\t/evil.test', '/runs'],
    ['runs', '/runs'],
    ['', '/runs'],
    [null, '/runs'],
  ])('%j → %j', (given, wanted) => {
    expect(safeRedirect(given)).toBe(wanted);
  });
});

describe('signed values', () => {
  it('verify only with the key and the purpose they were signed for', () => {
    const signed = signValue(KEY, 'session', { sid: 'a', exp: 1 });
    expect(verifyValue(KEY, 'session', signed)).toEqual({ sid: 'a', exp: 1 });
    expect(verifyValue(KEY, 'login-state', signed)).toBeUndefined();
    expect(verifyValue(Buffer.alloc(32, 8), 'session', signed)).toBeUndefined();
    const [payload, mac] = signed.split('.') as [string, string];
    const other = Buffer.from(JSON.stringify({ sid: 'b', exp: 1 })).toString('base64url');
    expect(verifyValue(KEY, 'session', `${other}.${mac}`)).toBeUndefined();
    expect(verifyValue(KEY, 'session', payload)).toBeUndefined();
  });
});

describe('cookies', () => {
  it('are HttpOnly and SameSite=Lax, Secure when asked; parsed by name', () => {
    expect(serializeCookie('a', 'b', { path: '/', maxAge: 60, secure: false })).toBe(
      'a=b; Path=/; Max-Age=60; HttpOnly; SameSite=Lax',
    );
    expect(serializeCookie('a', '', { path: '/login', maxAge: 0, secure: true })).toBe(
      'a=; Path=/login; Max-Age=0; HttpOnly; SameSite=Lax; Secure',
    );
    expect([...parseCookies('x=1; spotcheck_session=v.m; x=2')]).toEqual([
      ['x', '1'],
      ['spotcheck_session', 'v.m'],
    ]);
  });
});
