import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_LIMITS,
  DEFAULT_LOCAL_LABELS,
  defaultConfig,
  loadConfig,
  loadOperatorConfig,
  parseConfig,
} from '../../src/config.ts';
import { ConfigError } from '../../src/errors.ts';
import { resolveVars } from '../../src/core/vars.ts';

/** The ConfigError a document raises (the test fails if it parses). */
function configError(text: string): ConfigError {
  try {
    parseConfig(text, 'spotcheck.yml');
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError, but the config parsed');
}

/** The bullet lines of a ConfigError message ("  - where: what"). */
function problems(error: ConfigError): string[] {
  return error.message
    .split('\n')
    .filter((line) => line.startsWith('  - '))
    .map((line) => line.slice(4));
}

describe('parseConfig: defaults', () => {
  it.each([
    ['an empty document', ''],
    ['a document of comments only', '# nothing configured yet\n'],
    ['an explicit null', '~\n'],
  ])('%s gives the defaults', (_label, text) => {
    const config = parseConfig(text, 'spotcheck.yml');
    expect(config.limits).toEqual(DEFAULT_LIMITS);
    expect([...config.routes.keys()]).toEqual([...DEFAULT_LOCAL_LABELS]);
    expect([...config.routes.values()].every((r) => r.runner === 'local')).toBe(true);
    expect(config.store).toEqual({ kind: 'embedded', dir: '.spotcheck-data', table: 'spotcheck' });
    expect(config.publicUrl).toBe('http://localhost:3000');
    expect(config.org).toBeUndefined();
  });

  it('keeps the default routes beside configured ones, or drops them with defaultRoutes: false', () => {
    const kept = parseConfig('routes: { big: skip }\n', 'spotcheck.yml');
    expect([...kept.routes.keys()]).toEqual([...DEFAULT_LOCAL_LABELS, 'big']);
    const dropped = parseConfig('defaultRoutes: false\nroutes: { big: skip }\n', 'spotcheck.yml');
    expect([...dropped.routes.keys()]).toEqual(['big']);
  });

  it('registers a route under its key and each of its labels: one route object', () => {
    const config = parseConfig('routes: { gpu: { runner: skip, labels: [self-hosted, linux-gpu] } }\n', 'x.yml');
    const gpu = config.routes.get('gpu');
    expect(gpu?.runner).toBe('skip');
    expect(config.routes.get('self-hosted')).toBe(gpu);
    expect(config.routes.get('linux-gpu')).toBe(gpu);
    expect(config.routes.get('linux')?.runner).toBe('local');
  });

  it('rejects route labels that are not a list of comma-free labels', () => {
    expect(() => parseConfig('routes: { gpu: { runner: local, labels: "a,b" } }\n', 'x.yml')).toThrow(
      'routes.gpu.labels: must be a list of labels (non-empty, without commas)',
    );
  });

  it('overrides only the limits it names', () => {
    const config = parseConfig('limits: { maxConcurrentOrders: 16 }\n', 'spotcheck.yml');
    expect(config.limits).toEqual({ ...DEFAULT_LIMITS, maxConcurrentOrders: 16 });
  });

  it('plans in two workers for 10 s and 256 MiB each by default; planSeconds takes fractions, planWorkers 0', () => {
    expect(DEFAULT_LIMITS).toMatchObject({ planSeconds: 10, planWorkers: 2, planMemoryMb: 256 });
    const config = parseConfig('limits: { planSeconds: 0.05, planWorkers: 0, planMemoryMb: 64 }\n', 'spotcheck.yml');
    expect(config.limits).toEqual({ ...DEFAULT_LIMITS, planSeconds: 0.05, planWorkers: 0, planMemoryMb: 64 });
    expect(() =>
      parseConfig('limits: { planSeconds: 0, planWorkers: 1.5, planMemoryMb: 0.5 }\n', 'spotcheck.yml'),
    ).toThrow(
      [
        'spotcheck.yml: 3 problems:',
        '  - limits.planSeconds: must be a positive number',
        '  - limits.planWorkers: must be a whole number',
        '  - limits.planMemoryMb: must be a positive whole number',
      ].join('\n'),
    );
  });

  it('reads store, org and publicUrl', () => {
    const config = parseConfig(
      [
        'org: acme',
        'publicUrl: https://ci.example.com',
        'store: { kind: dynamodb, table: ci, region: eu-west-1, endpoint: http://127.0.0.1:8000 }',
      ].join('\n'),
      'spotcheck.yml',
    );
    expect(config.org).toBe('acme');
    expect(config.publicUrl).toBe('https://ci.example.com');
    expect(config.store).toEqual({
      kind: 'dynamodb',
      dir: '.spotcheck-data',
      table: 'ci',
      region: 'eu-west-1',
      endpoint: 'http://127.0.0.1:8000',
    });
  });
});

describe('parseConfig: routes', () => {
  it('takes the string shorthand (label: runner) and the map form with settings', () => {
    const config = parseConfig(
      [
        'routes:',
        '  go: local',
        '  nothing: skip',
        '  big:',
        '    runner: spot',
        '    instanceTypes: [c7i.2xlarge, c6i.2xlarge]',
        '    onDemandFallback: true',
        '    subnets: [subnet-0123456789abcdef0, subnet-0123456789abcdef1]',
        '    securityGroups: [sg-0123456789abcdef0]',
        '    ami: ami-0123456789abcdef0',
        '    maxLifetimeMinutes: 120',
        '  long:',
        '    runner: codebuild',
        '    project: spotcheck-long',
        '    computeType: BUILD_GENERAL1_LARGE',
      ].join('\n'),
      'spotcheck.yml',
    );
    expect(config.routes.get('go')).toEqual({ label: 'go', runner: 'local', settings: {} });
    expect(config.routes.get('nothing')).toEqual({ label: 'nothing', runner: 'skip', settings: {} });
    expect(config.routes.get('big')).toEqual({
      label: 'big',
      runner: 'spot',
      settings: {
        instanceTypes: ['c7i.2xlarge', 'c6i.2xlarge'],
        onDemandFallback: true,
        subnets: ['subnet-0123456789abcdef0', 'subnet-0123456789abcdef1'],
        securityGroups: ['sg-0123456789abcdef0'],
        ami: 'ami-0123456789abcdef0',
        maxLifetimeMinutes: 120,
      },
    });
    expect(config.routes.get('long')).toEqual({
      label: 'long',
      runner: 'codebuild',
      settings: { project: 'spotcheck-long', computeType: 'BUILD_GENERAL1_LARGE' },
    });
  });

  it('lets a configured label replace a default one', () => {
    const config = parseConfig('routes: { ubuntu-latest: { runner: codebuild, project: ci } }\n', 'spotcheck.yml');
    expect(config.routes.get('ubuntu-latest')?.runner).toBe('codebuild');
  });

  /** A valid spot route, for cases that change one thing about it. */
  const SPOT =
    'runner: spot, instanceTypes: [c7i.large], subnets: [subnet-0123456789abcdef0], ami: ami-0123456789abcdef0';

  it.each([
    [
      'an unknown runner name',
      'routes: { big: lambda }',
      'routes.big.runner: must be one of local, spot, codebuild, skip',
    ],
    ['a map without runner', 'routes: { big: { ami: ami-1 } }', 'routes.big.runner: must be one of'],
    ['a list instead of a runner', 'routes: { big: [spot] }', 'routes.big: must be a runner name'],
    ['routes as a list', 'routes: [big]', 'routes: must be a map of label → route'],
    [
      'a misspelt setting',
      `routes: { big: { ${SPOT}, instanceType: c7i.large } }`,
      'routes.big.instanceType: unknown key for spot',
    ],
    [
      'a setting of another runner kind',
      'routes: { big: { runner: codebuild, project: ci, ami: ami-0123456789abcdef0 } }',
      'routes.big.ami: unknown key for codebuild',
    ],
    [
      'settings on a local route',
      'routes: { go: { runner: local, project: p } }',
      'routes.go.project: unknown key for a local route (it takes only runner and docker)',
    ],
    [
      'settings on a skip route',
      'routes: { off: { runner: skip, reason: later } }',
      'routes.off.reason: unknown key for a skip route (it takes only runner and docker)',
    ],
    [
      'instance types not a list',
      `routes: { big: { ${SPOT.replace('[c7i.large]', 'c7i.large')} } }`,
      'routes.big.instanceTypes: must be a non-empty list',
    ],
    [
      'a lifetime that is not a whole number',
      `routes: { big: { ${SPOT}, maxLifetimeMinutes: 1.5 } }`,
      'routes.big.maxLifetimeMinutes: must be a whole number',
    ],
    [
      'a fallback that is not a boolean',
      `routes: { big: { ${SPOT}, onDemandFallback: "yes" } }`,
      'routes.big.onDemandFallback: must be true or false',
    ],
    [
      'a spot route without an image',
      'routes: { big: { runner: spot, instanceTypes: [c7i.large], subnets: [subnet-0123456789abcdef0] } }',
      'routes.big: needs "ami" or "launchTemplate"',
    ],
    ['a codebuild route without a project (shorthand)', 'routes: { long: codebuild }', 'routes.long.project: required'],
  ])('rejects %s', (_label, text, message) => {
    const error = configError(text);
    expect(problems(error)).toHaveLength(1);
    expect(problems(error)[0]).toContain(message);
  });
});

describe('parseConfig: vars', () => {
  it('reads variables per org and repository, names upper-cased, values as text; the repository wins', () => {
    const config = parseConfig(
      [
        'vars:',
        "  'Acme/*': { region: eu-west-1, replicas: 3, debug: false }",
        "  'acme/api': { REGION: us-east-1 }",
        '',
      ].join('\n'),
      'spotcheck.yml',
    );
    expect([...(config.vars ?? [])]).toEqual([
      ['acme/*', { REGION: 'eu-west-1', REPLICAS: '3', DEBUG: 'false' }],
      ['acme/api', { REGION: 'us-east-1' }],
    ]);
    const settings = config.vars ?? new Map();
    expect(resolveVars(settings, { owner: 'ACME', name: 'Api' })).toEqual({
      REGION: 'us-east-1',
      REPLICAS: '3',
      DEBUG: 'false',
    });
    expect(resolveVars(settings, { owner: 'acme', name: 'web' })).toEqual({
      REGION: 'eu-west-1',
      REPLICAS: '3',
      DEBUG: 'false',
    });
    expect(resolveVars(settings, { owner: 'other', name: 'web' })).toEqual({});
  });

  it('rejects bad patterns, names and values, listing every problem', () => {
    expect(
      problems(
        configError(
          "vars: { '*': { A: 1 }, 'acme/*': { 1X: a, GITHUB_SHA: b, ok: [1], 'a-b': c, OK2: x, ok2: y }, 'acme/x': [] }\n",
        ),
      ),
    ).toEqual([
      'vars.*: must be owner/* or owner/name',
      'vars.acme/*.1X: the name may contain only letters, digits and `_`, and must not start with a digit',
      'vars.acme/*.GITHUB_SHA: the name must not start with `GITHUB_` (GitHub reserves the prefix)',
      'vars.acme/*.ok: must be a string',
      'vars.acme/*.a-b: the name may contain only letters, digits and `_`, and must not start with a digit',
      'vars.acme/*.ok2: written twice',
      'vars.acme/x: must be a map of variable names to values',
    ]);
  });
});

describe('parseConfig: workflow folders', () => {
  it('reads .spotcheck/workflows by default', () => {
    const config = parseConfig('', 'spotcheck.yml');
    expect(config.workflows.folders).toEqual(['.spotcheck/workflows']);
    expect(config.workflows.repos.size).toBe(0);
  });

  it('keeps the folders in the order written, each once, with org and repository entries lower-cased', () => {
    const config = parseConfig(
      [
        'workflows:',
        '  folders: [.github/workflows/, ./.spotcheck/workflows, .github/workflows]',
        '  repos:',
        "    'Acme/*': { folders: [.gitea/workflows] }",
        "    'acme/API': { folders: [.spotcheck/workflows, .github/workflows] }",
        '',
      ].join('\n'),
      'spotcheck.yml',
    );
    expect(config.workflows.folders).toEqual(['.github/workflows', '.spotcheck/workflows']);
    expect([...config.workflows.repos]).toEqual([
      ['acme/*', ['.gitea/workflows']],
      ['acme/api', ['.spotcheck/workflows', '.github/workflows']],
    ]);
  });

  it.each([
    ['not a map', 'workflows: [.github/workflows]', ['workflows: must be a map with folders and/or repos']],
    ['an unknown key', 'workflows: { dirs: [] }', ['workflows.dirs: unknown key (allowed: folders, repos)']],
    ['an empty list', 'workflows: { folders: [] }', ['workflows.folders: must be a non-empty list of folders']],
    [
      'a string, not a list',
      'workflows: { folders: .github/workflows }',
      ['workflows.folders: must be a non-empty list of folders'],
    ],
    [
      'an unknown folder, a path out of the repository, an absolute one and a number',
      'workflows: { folders: [ci, ../x/.github/workflows, /.github/workflows, 3, .github/workflows/sub] }',
      [0, 1, 2, 3, 4].map(
        (i) =>
          `workflows.folders[${i}]: must be one of .spotcheck/workflows, .github/workflows, .gitea/workflows (a folder in the repository)`,
      ),
    ],
    [
      'patterns other than owner/* and owner/name',
      "workflows: { repos: { '*': { folders: [.github/workflows] }, 'acme/*/x': { folders: [.github/workflows] }, '../x': { folders: [.github/workflows] }, 'a*/b': { folders: [.github/workflows] } } }",
      [
        'workflows.repos.*: must be owner/* or owner/name',
        'workflows.repos.acme/*/x: must be owner/* or owner/name',
        'workflows.repos.../x: must be owner/* or owner/name',
        'workflows.repos.a*/b: must be owner/* or owner/name',
      ],
    ],
    [
      'a repository entry without folders, with an unknown key, not a map, or written twice',
      "workflows: { repos: { 'acme/a': {}, 'acme/b': { folders: [.github/workflows], on: x }, 'acme/c': .github/workflows, 'acme/d': { folders: [.github/workflows] }, 'ACME/D': { folders: [.gitea/workflows] } } }",
      [
        'workflows.repos.acme/a.folders: required',
        'workflows.repos.acme/b.on: unknown key (allowed: folders)',
        'workflows.repos.acme/c: must be a map with folders',
        'workflows.repos.ACME/D: written twice (names are case-insensitive)',
      ],
    ],
    [
      'repos not a map',
      'workflows: { repos: [acme/*] }',
      ['workflows.repos: must be a map of owner/* or owner/name → { folders }'],
    ],
  ])('rejects %s, listing every problem', (_label, text, expected) => {
    expect(problems(configError(`${text}\n`))).toEqual(expected);
  });

  it('reports workflow folder problems together with the rest of the document', () => {
    const error = configError('limits: { maxAttempts: 0 }\nworkflows: { folders: [src] }\n');
    expect(problems(error)).toEqual([
      'limits.maxAttempts: must be a positive whole number',
      'workflows.folders[0]: must be one of .spotcheck/workflows, .github/workflows, .gitea/workflows (a folder in the repository)',
    ]);
  });
});

describe('parseConfig: every problem at once', () => {
  it.each([
    ['zero', 'maxConcurrentOrders: 0'],
    ['negative', 'maxOrdersPerRun: -5'],
    ['fractional', 'maxAttempts: 2.5'],
    ['a string', 'retentionDays: "30"'],
  ])('rejects a %s limit', (_label, limit) => {
    const error = configError(`limits: { ${limit} }`);
    const key = limit.split(':')[0] ?? '';
    expect(problems(error)).toEqual([`limits.${key}: must be a positive whole number`]);
  });

  it('reports unknown keys, bad runners and bad limits in one ConfigError, each once', () => {
    const error = configError(
      [
        'rotues: {}',
        'routes:',
        '  big: lambda',
        '  long: { runner: codebuild, projcet: p }',
        'limits:',
        '  maxConcurrentOrders: 0',
        '  maxOrdersPerRun: many',
        '  maxRetries: 3',
        'store: { kind: postgres, dri: /var/lib }',
        'publicUrl: ""',
      ].join('\n'),
    );
    expect(error.message).toMatch(/^spotcheck\.yml: 10 problems:\n/);
    expect(problems(error).sort()).toEqual(
      [
        'rotues: unknown key (allowed: routes, limits, store, org, publicUrl, defaultRoutes, workflows, actions, vars, oidc, gitea, secrets)',
        'routes.big.runner: must be one of local, spot, codebuild, skip',
        'routes.long.projcet: unknown key for codebuild (allowed: project, computeType, image, timeoutMinutes, region, docker)',
        'routes.long.project: required (the CodeBuild project to start builds in)',
        'limits.maxRetries: unknown key (allowed: maxConcurrentOrders, maxOrdersPerRun, maxAttempts, retentionDays, logsTotalMb, planSeconds, planWorkers, planMemoryMb)',
        'limits.maxConcurrentOrders: must be a positive whole number',
        'limits.maxOrdersPerRun: must be a positive whole number',
        'store.dri: unknown key (allowed: kind, dir, table, region, endpoint, kmsKeyId)',
        'store.kind: must be "embedded" or "dynamodb"',
        'publicUrl: must be a non-empty string',
      ].sort(),
    );
    expect(error.context).toEqual({ source: 'spotcheck.yml' });
  });

  it.each([
    ['a list', '- routes\n', 'spotcheck.yml: the top level must be a map'],
    ['a scalar', 'routes\n', 'spotcheck.yml: the top level must be a map'],
  ])('rejects a top level that is %s', (_label, text, message) => {
    expect(configError(text).message).toBe(message);
  });
});

describe('parseConfig: secrets never appear in an error', () => {
  const SECRET = 'ghp_0123456789abcdefSECRETxyz';

  it.each([
    [
      'spot',
      'runner: spot\n    instanceTypes: [c7i.large]\n    subnets: [subnet-0123456789abcdef0]\n    ami: ami-0123456789abcdef0',
    ],
    ['codebuild', 'runner: codebuild\n    project: ci'],
    ['local', 'runner: local'],
  ])('names a bogus token key under a %s route, not its value', (_kind, route) => {
    const error = configError(`routes:\n  big:\n    ${route}\n    token: ${SECRET}\n`);
    expect(problems(error)).toHaveLength(1);
    expect(problems(error)[0]).toMatch(/^routes\.big\.token: unknown key for/);
    expect(error.message).not.toContain(SECRET);
    expect(error.message).not.toContain('ghp_');
  });

  it.each([
    ['a secret as a wrongly typed setting', `routes: { big: { runner: spot, ami: [${SECRET}] } }`],
    [
      'a secret as a malformed id',
      `routes: { big: { runner: spot, instanceTypes: [c7i.large], subnets: [${SECRET}], ami: ${SECRET} } }`,
    ],
    ['a secret as a codebuild project', `routes: { big: { runner: codebuild, project: '${SECRET} x' } }`],
    ['a secret as a runner name', `routes: { big: ${SECRET} }`],
    ['a secret as a limit', `limits: { maxAttempts: ${SECRET} }`],
    ['a secret as a store kind', `store: { kind: ${SECRET} }`],
    ['a secret as an org that is not a string', `org: [${SECRET}]`],
    [
      'a duplicate key holding a secret (YAML error)',
      `routes:\n  big:\n    runner: spot\n    token: ${SECRET}\n    token: ${SECRET}\n`,
    ],
    ['a syntax error next to a secret (YAML error)', `routes:\n  big: { runner: spot, token: "${SECRET}"\n`],
    ['bad indentation next to a secret (YAML error)', `routes:\n  big:\n    runner: spot\n   token: ${SECRET} : x\n`],
    ['an alias named like a secret (YAML error)', `org: *${SECRET}\n`],
  ])('%s', (_label, text) => {
    const error = configError(text);
    expect(error.message).not.toContain(SECRET);
    expect(error.message).not.toContain('ghp_');
    expect(JSON.stringify(error.context)).not.toContain(SECRET);
  });

  it('still says where a YAML error is', () => {
    const error = configError(`routes:\n  big:\n    runner: spot\n    token: ${SECRET}\n    token: ${SECRET}\n`);
    expect(error.message).toBe('spotcheck.yml: not valid YAML at line 5, column 5: Map keys must be unique');
  });
});

describe('loadConfig', () => {
  it('gives the defaults (or the given base) without a path', async () => {
    expect((await loadConfig(undefined)).limits).toEqual(DEFAULT_LIMITS);
    const base = defaultConfig({ publicUrl: 'https://base.example' });
    expect(await loadConfig(undefined, base)).toBe(base);
  });

  it('reports a missing file as a ConfigError naming the path and the reason', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'spotcheck-config-'));
    try {
      const path = join(dir, 'missing.yml');
      const error = await loadConfig(path).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).message).toBe(`cannot read config ${path}: ENOENT`);
      expect((error as ConfigError).context).toEqual({ source: path });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('parses a file on disk against the base', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'spotcheck-config-'));
    try {
      const path = join(dir, 'spotcheck.yml');
      await writeFile(path, 'routes:\n  big: { runner: codebuild, project: ci }\nlimits: { maxAttempts: 5 }\n');
      const config = await loadConfig(path, defaultConfig({ publicUrl: 'https://base.example' }));
      expect(config.routes.get('big')?.runner).toBe('codebuild');
      expect(config.limits.maxAttempts).toBe(5);
      expect(config.publicUrl).toBe('https://base.example');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('names the file in a parse error', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'spotcheck-config-'));
    try {
      const path = join(dir, 'spotcheck.yml');
      await writeFile(path, 'limits: { maxAttempts: 0 }\n');
      await expect(loadConfig(path)).rejects.toThrow(`${path}: 1 problem:\n  - limits.maxAttempts:`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('loadOperatorConfig (serve, watchdog, janitor)', () => {
  it('makes the default data folder absolute, relative to the working directory', async () => {
    const config = await loadOperatorConfig({}, '/srv/ci');
    expect(config.store.dir).toBe('/srv/ci/.spotcheck-data');
  });

  it('takes SPOTCHECK_DATA_DIR relative to the working directory, and an absolute one as it is', async () => {
    expect((await loadOperatorConfig({ SPOTCHECK_DATA_DIR: 'data' }, '/srv/ci')).store.dir).toBe('/srv/ci/data');
    expect((await loadOperatorConfig({ SPOTCHECK_DATA_DIR: '/var/lib/x' }, '/srv/ci')).store.dir).toBe('/var/lib/x');
  });

  it("takes a store.dir written in the file relative to the file's folder, wherever the server starts", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'spotcheck-config-'));
    try {
      await writeFile(join(dir, 'spotcheck.yml'), 'store: { dir: .spotcheck-data }\n');
      const fromEnv = await loadOperatorConfig({ SPOTCHECK_CONFIG: 'spotcheck.yml' }, dir);
      expect(fromEnv.store.dir).toBe(join(dir, '.spotcheck-data'));
      const fromElsewhere = await loadOperatorConfig(
        { SPOTCHECK_DATA_DIR: 'ignored' },
        '/',
        join(dir, 'spotcheck.yml'),
      );
      expect(fromElsewhere.store.dir).toBe(join(dir, '.spotcheck-data'));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('lets PUBLIC_URL win over the file', async () => {
    const config = await loadOperatorConfig({ PUBLIC_URL: 'https://ci.example.com/' }, '/srv/ci');
    expect(config.publicUrl).toBe('https://ci.example.com/');
  });

  it.each(['ci.example.com', '/spotcheck', 'ftp://ci.example.com', 'http://', 'not a url'])(
    'rejects PUBLIC_URL=%s as a ConfigError, without echoing it',
    async (value) => {
      const error = await loadOperatorConfig({ PUBLIC_URL: value }, '/srv/ci').then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).message).toBe(
        'environment: PUBLIC_URL: must be an absolute http(s) URL, such as https://ci.example.com',
      );
    },
  );

  it('rejects a publicUrl in the file that is not an absolute http(s) URL', () => {
    expect(problems(configError('publicUrl: ci.example.com\n'))).toEqual([
      'publicUrl: must be an absolute http(s) URL, such as https://ci.example.com',
    ]);
  });
});

describe('parseConfig: actions', () => {
  it('has no actions source of its own by default (github.com, or the Gitea instance, per run)', () => {
    expect(parseConfig('', 'spotcheck.yml').actions).toBeUndefined();
  });

  it('reads url, kind, apiUrl and token, without trailing slashes', () => {
    const config = parseConfig(
      'actions: { url: https://ghe.example/, kind: github, apiUrl: https://ghe.example/api/v3/, token: t0ken }\n',
      'spotcheck.yml',
    );
    expect(config.actions).toEqual({
      url: 'https://ghe.example',
      kind: 'github',
      apiUrl: 'https://ghe.example/api/v3',
      token: 't0ken',
    });
    expect(parseConfig('actions: { url: self }\n', 'spotcheck.yml').actions).toEqual({ url: 'self' });
  });

  it('reports every actions problem at once, naming keys and never the token', () => {
    const error = configError(
      'actions: { url: mirror.example, kind: forgejo, apiUrl: /api, token: s3cret-value, tokenFile: t, extra: 1 }\n',
    );
    expect(problems(error)).toEqual([
      'actions.extra: unknown key (allowed: url, kind, apiUrl, token, tokenFile)',
      'actions.url: must be an absolute http(s) URL, such as https://ci.example.com',
      'actions.kind: must be github or gitea',
      'actions.apiUrl: must be an absolute http(s) URL, such as https://ci.example.com',
      'actions: token and tokenFile cannot both be set',
    ]);
    expect(error.message).not.toContain('s3cret-value');
    expect(problems(configError('actions: { url: self, kind: gitea }\n'))).toEqual([
      "actions: kind and apiUrl are the forge's own when url is self",
    ]);
    expect(problems(configError('actions: { token: "" }\n'))).toEqual(['actions.token: must be a non-empty string']);
    expect(problems(configError('actions: https://github.com\n'))).toEqual([
      'actions: must be a map with url (and kind, apiUrl, token or tokenFile)',
    ]);
  });

  it("loadConfig reads tokenFile, relative to the config file's folder, into token", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'spotcheck-actions-'));
    try {
      await writeFile(join(dir, 'actions-token'), 'gta_from_file\n');
      await writeFile(
        join(dir, 'spotcheck.yml'),
        'actions: { url: https://mirror.example, tokenFile: actions-token }\n',
      );
      const config = await loadConfig(join(dir, 'spotcheck.yml'));
      expect(config.actions).toEqual({ url: 'https://mirror.example', token: 'gta_from_file' });

      await writeFile(join(dir, 'spotcheck.yml'), 'actions: { tokenFile: missing }\n');
      await expect(loadConfig(join(dir, 'spotcheck.yml'))).rejects.toThrow(
        `actions.tokenFile: cannot read ${join(dir, 'missing')}: ENOENT`,
      );
      await writeFile(join(dir, 'empty'), '\n');
      await writeFile(join(dir, 'spotcheck.yml'), 'actions: { tokenFile: empty }\n');
      await expect(loadConfig(join(dir, 'spotcheck.yml'))).rejects.toThrow('is empty');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('gitea.poll', () => {
  it('is off unless written, and on with every default for `poll: {}`', () => {
    expect(parseConfig('org: acme\n', 'spotcheck.yml').gitea).toBeUndefined();
    expect(parseConfig('gitea: { poll: {} }\n', 'spotcheck.yml').gitea).toEqual({
      poll: { intervalSeconds: 60, maxReposPerInterval: 50, maxRequestsPerInterval: 500 },
    });
  });

  it('takes an interval, bounds and owner/name or owner/* entries', () => {
    const config = parseConfig(
      "gitea:\n  poll:\n    intervalSeconds: 30\n    repos: ['acme/*', 'bob/tool']\n    maxReposPerInterval: 5\n    maxRequestsPerInterval: 60\n",
      'spotcheck.yml',
    );
    expect(config.gitea?.poll).toEqual({
      intervalSeconds: 30,
      repos: ['acme/*', 'bob/tool'],
      maxReposPerInterval: 5,
      maxRequestsPerInterval: 60,
    });
  });

  it('reports every mistake at once', () => {
    const error = configError(
      "gitea:\n  poll:\n    intervalSeconds: 5\n    repos: ['acme', 'a/*', 'A/*', '../x']\n    maxRequestsPerInterval: 2\n    every: 1\n",
    );
    expect(problems(error).sort()).toEqual([
      'gitea.poll.every: unknown key (allowed: intervalSeconds, repos, maxReposPerInterval, maxRequestsPerInterval)',
      'gitea.poll.intervalSeconds: must be a whole number of at least 15',
      'gitea.poll.maxRequestsPerInterval: must be a whole number of at least 3',
      'gitea.poll.repos[0]: must be owner/name or owner/*',
      'gitea.poll.repos[2]: written twice (names are case-insensitive)',
      'gitea.poll.repos[3]: must be owner/name or owner/*',
    ]);
  });
});

describe('secrets read through from AWS (secrets:)', () => {
  it('takes a Secrets Manager prefix and an SSM path, each with an optional region', () => {
    const config = parseConfig(
      "secrets:\n  awsSecretsManager: { prefix: 'spotcheck/' }\n  ssm: { prefix: /ci/spotcheck/, region: eu-west-1 }\n",
      'spotcheck.yml',
    );
    expect(config.secrets).toEqual({
      awsSecretsManager: { prefix: 'spotcheck/' },
      ssm: { prefix: '/ci/spotcheck/', region: 'eu-west-1' },
    });
    expect(parseConfig('routes: {}\n', 'spotcheck.yml').secrets).toBeUndefined();
  });

  it('refuses prefixes AWS would refuse or IAM could not scope, and unknown keys, all at once', () => {
    const error = configError(
      [
        'secrets:',
        '  awsSecretsManager: { prefix: spotcheck }',
        '  ssm: { prefix: spotcheck/, regoin: x }',
        '  vault: {}',
      ].join('\n'),
    );
    expect(problems(error).sort()).toEqual(
      [
        "secrets.awsSecretsManager.prefix: must be a Secrets Manager name prefix ending in / (letters, digits and /_+=.@-, not starting with aws), e.g. 'spotcheck/'",
        "secrets.ssm.prefix: must be a parameter path starting and ending with / (letters, digits and _.-, not starting with /aws or /ssm), e.g. '/spotcheck/'",
        'secrets.ssm.regoin: unknown key (allowed: prefix, region)',
        'secrets.vault: unknown key (allowed: awsSecretsManager, ssm)',
      ].sort(),
    );
    for (const prefix of ['/aws/x/', 'has space/', '/ssm/']) {
      expect(problems(configError(`secrets: { ssm: { prefix: '${prefix}' } }`))).toHaveLength(1);
    }
    expect(problems(configError('secrets: { awsSecretsManager: {} }'))).toEqual([
      'secrets.awsSecretsManager.prefix: is required',
    ]);
  });
});
