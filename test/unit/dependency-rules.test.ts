/**
 * The dependency rules (.dependency-cruiser.cjs, docs/architecture.md "Folders: one job each") catch what they are
 * for: a tree planted with one violation of each rule is refused rule by rule, and a tree that keeps them passes.
 * `npm run deps` applies the same rules to the project itself.
 */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cruise, type ICruiseResult, type IConfiguration } from 'dependency-cruiser';

const require = createRequire(import.meta.url);
const config = require('../../.dependency-cruiser.cjs') as IConfiguration;
const dirs: string[] = [];

function plant(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'spotcheck-deps-'));
  dirs.push(dir);
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), text);
  }
  writeFileSync(
    path.join(dir, 'tsconfig.json'),
    JSON.stringify({ compilerOptions: { allowImportingTsExtensions: true } }),
  );
  return dir;
}

async function violations(files: Record<string, string>): Promise<string[]> {
  const dir = plant(files);
  const { forbidden = [], options = {} } = config;
  const result = await cruise(['src', 'runners', 'handlers'], {
    ...options,
    baseDir: dir,
    ruleSet: { forbidden },
    tsConfig: { fileName: path.join(dir, 'tsconfig.json') },
    validate: true,
  });
  const output = result.output as ICruiseResult;
  return output.summary.violations.map((v) => `${v.rule.name} ${v.from} -> ${v.to}`).sort();
}

afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const clean = {
  'src/core/types.ts': 'export type Id = string;\n',
  'src/core/engine.ts': "import type { Id } from './types.ts';\nexport const id = (x: Id): Id => x;\n",
  'src/errors.ts': 'export class SpotcheckError extends Error {}\n',
  'src/store/store.ts': "import type { Id } from '../core/types.ts';\nexport interface Store { get(id: Id): void }\n",
  'src/forges/github.ts': "import type { Id } from '../core/types.ts';\nexport const gh = (i: Id): Id => i;\n",
  'src/forges/gitea.ts': "import type { Id } from '../core/types.ts';\nexport const gt = (i: Id): Id => i;\n",
  'runners/spot.ts':
    "import type { Store } from '../src/store/store.ts';\nimport { SpotcheckError } from '../src/errors.ts';\nexport const s = (x: Store): unknown => [x, SpotcheckError];\n",
  'handlers/push.ts': "import type { Id } from '../src/core/types.ts';\nexport const push = (i: Id): Id => i;\n",
  'src/app/app.ts':
    "import { gh } from '../forges/github.ts';\nimport { s } from '../../runners/spot.ts';\nexport const app = [gh, s];\n",
};

describe('dependency rules', () => {
  it('pass a tree that keeps them', async () => {
    expect(await violations(clean)).toEqual([]);
  }, 60_000);

  it('refuse one planted violation of each rule', async () => {
    const found = await violations({
      ...clean,
      'src/core/engine.ts': "import type { Store } from '../store/store.ts';\nexport type S = Store;\n",
      'runners/spot.ts': "import { gh } from '../src/forges/github.ts';\nexport const s = gh;\n",
      'src/forges/gitea.ts': "import { gh } from './github.ts';\nexport const gt = gh;\n",
      'src/store/store.ts': "import { app } from '../app/app.ts';\nexport const st = app;\n",
      'handlers/a.ts': "import { b } from './b.ts';\nexport const a = (): unknown => b;\n",
      'handlers/b.ts': "import { a } from './a.ts';\nexport const b = (): unknown => a;\n",
    });
    expect(found).toEqual([
      'adapters-do-not-import-each-other src/forges/gitea.ts -> src/forges/github.ts',
      'core-is-pure src/core/engine.ts -> src/store/store.ts',
      'no-cycles handlers/a.ts -> handlers/b.ts',
      'only-the-shell-composes src/store/store.ts -> src/app/app.ts',
      'runners-use-ports-only runners/spot.ts -> src/forges/github.ts',
    ]);
  }, 60_000);
});
