import { configDefaults, defineConfig } from 'vitest/config';

/**
 * The store suites that run on every DynamoDB engine (test/helpers/engines.ts): dynalite and AWS's DynamoDB Local.
 * Their project's global setup starts DynamoDB Local once per run, and only when one of them is selected.
 */
const ENGINE_SUITES = [
  'test/integration/store.test.ts',
  'test/integration/store-docs.test.ts',
  'test/integration/store-race.test.ts',
  'test/integration/orchestrator.test.ts',
  'test/integration/job-concurrency.test.ts',
];

export default defineConfig({
  test: {
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    reporters: ['default', ['json', { outputFile: 'test-results/vitest.json' }]],
    projects: [
      {
        extends: true,
        test: {
          name: 'spotcheck',
          include: ['test/**/*.test.ts'],
          exclude: [...configDefaults.exclude, ...ENGINE_SUITES],
        },
      },
      {
        extends: true,
        test: {
          name: 'engines',
          include: ENGINE_SUITES,
          globalSetup: ['test/helpers/dynamodb-local-setup.ts'],
          // The heaviest integration tests (hundreds of orders through the orchestrator), now beside a JVM: on a
          // busy two-core machine one took over 30 s. A guard against hangs, not a measure of speed.
          testTimeout: 90_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'infra',
          include: ['infra/test/**/*.test.ts'],
          // infra/ is its own npm package (the CDK toolchain stays out of the quick start's install); a global setup
          // of this project runs only when one of its tests is selected, and installs it on first use.
          globalSetup: ['scripts/install-infra.mjs'],
        },
      },
    ],
  },
});
