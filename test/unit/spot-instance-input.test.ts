import { describe, expect, it } from 'vitest';
import type { SpotSettings } from '../../runners/route-settings.ts';
import { candidatesOf, clientToken, orderInstanceInput } from '../../runners/spot-instance-input.ts';

const SETTINGS: SpotSettings = {
  instanceTypes: ['m7i.large', 'm6i.large'],
  subnets: ['subnet-a', 'subnet-b'],
  securityGroups: [],
  ami: 'ami-0123456789abcdef0',
  onDemandFallback: true,
  maxLifetimeMinutes: 60,
  rootDeviceName: '/dev/xvda',
};

const names = (settings: SpotSettings): string[] =>
  candidatesOf(settings).map((c) => `${c.market} ${c.instanceType} ${c.subnet}`);

describe('spot candidates: the fallback order', () => {
  it('type-major, then subnet, every Spot candidate before the same candidates on demand', () => {
    expect(names(SETTINGS)).toEqual([
      'spot m7i.large subnet-a',
      'spot m7i.large subnet-b',
      'spot m6i.large subnet-a',
      'spot m6i.large subnet-b',
      'on-demand m7i.large subnet-a',
      'on-demand m7i.large subnet-b',
      'on-demand m6i.large subnet-a',
      'on-demand m6i.large subnet-b',
    ]);
  });

  it('no on-demand candidate unless the route allows the fallback', () => {
    expect(names({ ...SETTINGS, onDemandFallback: false })).toEqual([
      'spot m7i.large subnet-a',
      'spot m7i.large subnet-b',
      'spot m6i.large subnet-a',
      'spot m6i.large subnet-b',
    ]);
  });
});

describe('spot candidates: client tokens', () => {
  const ref = { runId: 'r', orderId: 'o', attempt: 1 };
  const spot = { market: 'spot', instanceType: 'm7i.large', subnet: 'subnet-a' } as const;

  it('are 64 hex characters, the same for the same attempt and candidate', () => {
    expect(clientToken(ref, spot)).toMatch(/^[0-9a-f]{64}$/);
    expect(clientToken({ ...ref }, { ...spot })).toBe(clientToken(ref, spot));
  });

  it('differ across attempts, markets, types and subnets', () => {
    const tokens = new Set([
      clientToken(ref, spot),
      clientToken({ ...ref, attempt: 2 }, spot),
      clientToken(ref, { ...spot, market: 'on-demand' }),
      clientToken(ref, { ...spot, instanceType: 'm6i.large' }),
      clientToken(ref, { ...spot, subnet: 'subnet-b' }),
    ]);
    expect(tokens.size).toBe(5);
  });
});

describe('spot candidates: an order instance request', () => {
  it('tags instance and volume with the attempt, cuts the Name tag at 256 characters, and is Spot only on Spot', () => {
    const meta = {
      ref: { runId: 'run-1', orderId: 'build', attempt: 3 },
      prefix: 'sc',
      expires: '2025-03-01T13:00:00.000Z',
      userData: 'dXNlcmRhdGE=',
      token: 't'.repeat(64),
      name: 'n'.repeat(300),
    };
    const input = orderInstanceInput(SETTINGS, candidatesOf(SETTINGS)[0]!, meta);
    const tags = input.TagSpecifications?.map((s) => [s.ResourceType, s.Tags]);
    const expected = [
      { Key: 'sc:run', Value: 'run-1' },
      { Key: 'sc:order', Value: 'build' },
      { Key: 'sc:attempt', Value: '3' },
      { Key: 'sc:expires', Value: '2025-03-01T13:00:00.000Z' },
      { Key: 'Name', Value: 'n'.repeat(256) },
    ];
    expect(tags).toEqual([
      ['instance', expected],
      ['volume', expected],
    ]);
    expect(input.InstanceMarketOptions?.MarketType).toBe('spot');
    const onDemand = orderInstanceInput(SETTINGS, candidatesOf(SETTINGS)[4]!, meta);
    expect(onDemand.InstanceMarketOptions).toBeUndefined();
    expect(onDemand).toMatchObject({ ClientToken: meta.token, UserData: meta.userData, SubnetId: 'subnet-a' });
  });
});
