import { describe, expect, it } from 'vitest';
import { externalSecretPaths, secretNamesOfOrder } from '../../src/core/secrets.ts';
import { secretNamesUsed } from '../../src/core/workflow/expressions.ts';
import { makeSpec } from '../helpers/records.ts';

describe('secretNamesUsed', () => {
  it.each([
    ['${{ secrets.TOKEN }}', ['TOKEN'], false],
    ["${{ secrets['npm_token'] }} and ${{ secrets.Other }}", ['NPM_TOKEN', 'OTHER'], false],
    ["${{ format('{0}', secrets.A) || secrets.B }}", ['A', 'B'], false],
    ['${{ toJSON(secrets) }}', [], true],
    ["${{ secrets[format('X_{0}', matrix.n)] }}", [], true],
    ['${{ env.secrets }} ${{ github.secrets }}', [], false],
    ['no expression secrets.TOKEN', [], false],
  ])('%s', (template, names, whole) => {
    expect(secretNamesUsed(template)).toEqual({ names: new Set(names), whole });
  });

  it('is undefined for a template that does not parse', () => {
    expect(secretNamesUsed('${{ secrets. }}')).toBeUndefined();
  });
});

describe('secretNamesOfOrder', () => {
  it('finds names in env, every step field, outputs and the secrets calls pass, sorted and once', () => {
    const spec = makeSpec('deploy', {
      env: { A: '${{ secrets.ENV_ONE }}' },
      steps: [
        {
          index: 0,
          run: 'echo ${{ secrets.RUN_ONE }}',
          env: { B: '${{ secrets.STEP_ENV }}' },
          continueOnError: false,
          pos: { line: 1, col: 1 },
        },
        {
          index: 1,
          uses: 'octo/act@v1',
          action: { kind: 'remote', owner: 'octo', repo: 'act', ref: 'v1' },
          with: { token: '${{ secrets.WITH_ONE }}', again: '${{ secrets.env_one }}' },
          env: {},
          continueOnError: false,
          pos: { line: 2, col: 1 },
        },
      ],
      outputExprs: { o: '${{ secrets.OUTPUT_ONE }}' },
      secretsPassed: ['inherit', { token: '${{ secrets.PASSED_ONE }}' }],
    });
    expect(secretNamesOfOrder(spec)).toEqual([
      'ENV_ONE',
      'OUTPUT_ONE',
      'PASSED_ONE',
      'RUN_ONE',
      'STEP_ENV',
      'WITH_ONE',
    ]);
    expect(secretNamesOfOrder(makeSpec('plain'))).toEqual([]);
  });
});

describe('externalSecretPaths', () => {
  it('environment, then repository, then owner; lower-cased places, an upper-case name', () => {
    expect(externalSecretPaths('spotcheck/', { owner: 'Octo', name: 'App' }, 'Prod', 'token')).toEqual([
      { path: 'spotcheck/octo/app/environments/prod/TOKEN', level: 'environment' },
      { path: 'spotcheck/octo/app/TOKEN', level: 'repo' },
      { path: 'spotcheck/octo/TOKEN', level: 'org' },
    ]);
  });

  it('asks no path AWS would refuse: an environment with a space, an odd repository name', () => {
    expect(externalSecretPaths('/ci/', { owner: 'octo', name: 'app' }, 'prod eu', 'T').map((p) => p.path)).toEqual([
      '/ci/octo/app/T',
      '/ci/octo/T',
    ]);
    expect(externalSecretPaths('/ci/', { owner: 'octo', name: 'a b' }, undefined, 'T').map((p) => p.path)).toEqual([
      '/ci/octo/T',
    ]);
    expect(externalSecretPaths('/ci/', { owner: 'o o', name: 'app' }, undefined, 'T')).toEqual([]);
  });
});
