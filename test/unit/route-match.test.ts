import { describe, expect, it } from 'vitest';
import { defaultConfig, parseConfig } from '../../src/config.ts';
import { matchRoute, noRouteMessage, routeSnippet, runsOnLabels } from '../../src/core/route-match.ts';

describe('matchRoute: one route must have every label (GitHub self-hosted rule), case-insensitively', () => {
  const routes = parseConfig(
    'routes:\n  gpu: { runner: skip, labels: [self-hosted, x64] }\n  arm: { runner: local }\n',
    'spotcheck.yml',
    defaultConfig(),
  ).routes;
  const gpu = routes.get('gpu');
  const local = routes.get('local');

  it.each([
    ['ubuntu-latest', local],
    ['ubuntu-26.04', local],
    ['ubuntu-24.04', local],
    ['ubuntu-22.04', local],
    ['ubuntu-slim', local],
    ['linux', local],
    ['Ubuntu-Latest', local],
    ['linux, ubuntu-latest', local],
    ['gpu', gpu],
    // self-hosted was a default label; the gpu route names it last, so it now leads there.
    ['self-hosted, gpu, x64', gpu],
    ['self-hosted, linux', undefined],
    ['gpu, arm', undefined],
    ['macos-14', undefined],
    ['windows-latest', undefined],
    ['', undefined],
  ])('runs-on %j', (runsOn, expected) => {
    expect(matchRoute(routes, runsOnLabels(runsOn))).toBe(expected);
  });
});

describe('noRouteMessage', () => {
  it('names the label, says there is no route and shows the config lines to add one', () => {
    expect(noRouteMessage(['macos-14'], ['local', 'linux'])).toBe(
      'spotcheck has no route for runs-on label "macos-14"; routes serve: linux, local; add one to the operator config (spotcheck.yml):\nroutes:\n  macos-14: { runner: … }',
    );
  });

  it('asks for one route with every label of a list', () => {
    expect(noRouteMessage(['self-hosted', 'gpu'], [])).toBe(
      'spotcheck has no route for runs-on labels "self-hosted", "gpu" (one route must have them all); routes serve: (none); add one to the operator config (spotcheck.yml):\nroutes:\n  self-hosted: { runner: local, labels: [gpu] }',
    );
  });

  it.each([
    [['gpu-xl'], 'gpu-xl: { runner: local }'],
    [['my label'], '"my label": { runner: local }'],
    [['windows-2022'], 'windows-2022: { runner: … }'],
  ])('snippet for %j is a route the config parser reads', (labels, line) => {
    const snippet = routeSnippet(labels);
    expect(snippet).toBe(`routes:\n  ${line}`);
    if (!snippet.includes('…')) expect(parseConfig(snippet, 'x.yml').routes.get(labels[0] ?? '')?.runner).toBe('local');
  });
});
