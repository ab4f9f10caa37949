#!/usr/bin/env node
/**
 * infra/ (the CDK app, its tests and the CDK toolchain: aws-cdk, aws-cdk-lib, constructs, ~215 MB) is its own npm
 * package, so the quick start's `npm ci` does not install it. It is installed here on first use: by
 * `npm run typecheck` and `npm run lint` (both cover infra/, so `npm test` and `.ci/run` install it before anything
 * reads it), by `npm run synth`, and as the vitest global setup of the `infra` project (vitest.config.ts), which runs
 * only when an infra test is selected. Installed again when infra/package-lock.json is newer than the install.
 *
 *   node scripts/install-infra.mjs      # as a command
 *   export default setup                # as a vitest globalSetup
 */
import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const INFRA = join(dirname(fileURLToPath(import.meta.url)), '..', 'infra');

/** True when infra/node_modules matches infra/package-lock.json (npm ci writes its hidden lockfile last). */
function isInstalled() {
  const installed = join(INFRA, 'node_modules', '.package-lock.json');
  return existsSync(installed) && statSync(installed).mtimeMs >= statSync(join(INFRA, 'package-lock.json')).mtimeMs;
}

export function installInfraPackages() {
  if (isInstalled()) return;
  console.error(
    'spotcheck: installing infra/ packages (aws-cdk, aws-cdk-lib, constructs) on first use: npm ci in infra/',
  );
  execFileSync('npm', ['ci', '--prefix', INFRA, '--no-audit', '--no-fund'], {
    cwd: INFRA,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
}

export default function setup() {
  installInfraPackages();
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) installInfraPackages();
