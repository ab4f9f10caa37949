import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    reporters: ['default', ['json', { outputFile: 'test-results/vitest.json' }]],
    projects: [
      { extends: true, test: { name: 'spotcheck', include: ['test/**/*.test.ts'] } },
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
