/**
 * The direction of dependencies (docs/architecture.md, "Folders: one job each"), checked by `npm run deps` in
 * `npm test`. Type-only imports count: a port's types are a dependency too.
 */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      severity: 'error',
      comment: 'No import cycles anywhere: a cycle makes the order of start-up and the direction of knowledge unclear.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'core-is-pure',
      severity: 'error',
      comment: 'src/core imports nothing of the project but itself.',
      from: { path: '^src/core/' },
      to: { path: '^(src/(?!core/)|handlers/|runners/|infra/|bench/|test/)' },
    },
    {
      name: 'runners-use-ports-only',
      severity: 'error',
      comment: 'runners/ imports core types, errors and the store port, not src/ internals.',
      from: { path: '^runners/' },
      to: { path: '^(src/|handlers/)', pathNot: '^src/(core/|errors\\.ts$|store/store\\.ts$)' },
    },
    {
      name: 'adapters-do-not-import-each-other',
      severity: 'error',
      comment: 'A forge adapter imports the port and its own client, never the other forge.',
      from: { path: '^src/forges/(github|gitea)' },
      to: { path: '^src/forges/(github|gitea)', pathNot: ['^src/forges/$1'] },
    },
    {
      name: 'only-the-shell-composes',
      severity: 'error',
      comment: 'src/app and src/cli compose everything; nothing else imports them.',
      from: { pathNot: '^(src/app/|src/cli/|bin/|bench/|test/|scripts/|infra/)' },
      to: { path: '^src/(app|cli)/' },
    },
    {
      name: 'no-test-code-in-production',
      severity: 'error',
      from: { path: '^(src|runners|handlers)/' },
      to: { path: '^(test|bench)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^node_modules|\\.d\\.ts$)' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js', '.mjs', '.cjs', '.json'] },
  },
};
