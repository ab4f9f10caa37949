// Type-checked typescript-eslint, plus the rule that keeps src/core pure (docs/architecture.md: a pure core).
import js from '@eslint/js';
import regexp from 'eslint-plugin-regexp';
import tseslint from 'typescript-eslint';

const impureModules = [
  'node:*',
  'fs',
  'child_process',
  'pino',
  '@aws-sdk/*',
  '@octokit/*',
  'probot',
  'dynalite',
  '../store/*',
  '../forges/*',
  '../server/*',
];

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'cdk.out/**', 'coverage/**', 'test-results/**', '.spotcheck-data/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: {
          allowDefaultProject: ['*.js', '.*.cjs', 'bin/*.js', 'scripts/*.mjs'],
          // Nine small entry files (bin/, scripts/, the root's configs) outside tsconfig.json; the default is 8.
          maximumDefaultProjectFileMatchCount_THIS_WILL_SLOW_DOWN_LINTING: 16,
        },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    // Test fixtures in JavaScript (worker entries that crash or stall on purpose) are linted without type information:
    // the default project takes at most 8 files.
    files: ['test/fixtures/**/*.js'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    // Every regular expression that reads input must run in linear time (a backtracking one stalled the server for
    // minutes on one workflow file): eslint-plugin-regexp proves the absence of super-linear backtracking and moves.
    files: ['src/**/*.ts', 'runners/**/*.ts', 'handlers/**/*.ts'],
    plugins: { regexp },
    rules: {
      'regexp/no-super-linear-backtracking': ['error', { report: 'potential' }],
      'regexp/no-super-linear-move': ['error', { report: 'potential', ignoreSticky: false, ignorePartial: false }],
    },
  },
  {
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: impureModules }],
      'no-restricted-globals': ['error', 'process', 'setTimeout', 'setInterval'],
      'no-restricted-properties': [
        'error',
        { object: 'Date', property: 'now', message: 'src/core takes `now` as an argument.' },
        { object: 'Math', property: 'random', message: 'src/core is deterministic.' },
      ],
      'no-restricted-syntax': [
        'error',
        {
          selector: "NewExpression[callee.name='Date'][arguments.length=0]",
          message: 'src/core takes `now` as an argument.',
        },
      ],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
  {
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { module: 'writable', require: 'readonly' } },
  },
);
