/**
 * What `spotcheck validate` and `plan` say about a workflow's actions, without downloading any: a `./path` action's
 * manifest is read from the working tree and a remote action's from the user's action cache (where `spotcheck run`
 * left it), `with:` keys are checked against its inputs, and a Docker action is an error unless the route the job
 * runs on declares Docker. A remote action not in the cache gets one notice: it is checked when it is downloaded.
 */
import { join } from 'node:path';
import type { Diagnostic, UsesStepSpec, Workflow } from '../core/types.ts';
import type { Route } from '../../runners/runner.ts';
import { isUsesStep } from '../core/types.ts';
import type { WorkflowNotice } from '../core/workflow/diagnostics.ts';
import { checkActionInputs } from '../core/workflow/check-action-inputs.ts';
import { matchRoute, runsOnLabels } from '../core/route-match.ts';
import { actionsSourceFor, type ActionsConfig } from '../../runners/actions-source.ts';
import { declaresDocker } from '../../runners/route-settings.ts';
import { cachedActionFolder } from '../../runners/agent/actions/action-cache.ts';
import {
  ActionManifestError,
  readActionManifest,
  type ActionManifest,
} from '../../runners/agent/actions/action-manifest.ts';

export interface ActionCheckOptions {
  /** The working tree `./path` actions are read from. */
  readonly root: string;
  /** The user's action cache (`userActionsCacheDir`). */
  readonly cacheDir: string;
  readonly routes: ReadonlyMap<string, Route>;
  readonly actions?: ActionsConfig;
}

export interface ActionFindings {
  readonly errors: readonly Diagnostic[];
  /** Messages start with `warning: `. */
  readonly warnings: readonly Diagnostic[];
  readonly notices: readonly WorkflowNotice[];
}

type Manifest =
  { readonly ok: true; readonly manifest: ActionManifest } | { readonly ok: false; readonly error: string };

export async function checkActions(
  workflows: readonly Workflow[],
  options: ActionCheckOptions,
): Promise<ActionFindings> {
  const errors: Diagnostic[] = [];
  const warnings: Diagnostic[] = [];
  const notices: WorkflowNotice[] = [];
  // One read and one report per action folder, however many steps use it.
  const manifests = new Map<string, Promise<Manifest | undefined>>();
  const reported = new Set<string>();
  const defaultSource = actionsSourceFor(options.actions ?? {}, undefined, false).url;
  for (const workflow of workflows) {
    for (const job of workflow.jobs) {
      const route = job.runsOn.includes('${{') ? undefined : matchRoute(options.routes, runsOnLabels(job.runsOn));
      const docker = route !== undefined && declaresDocker(route);
      for (const step of job.steps.filter(isUsesStep)) {
        const at = { file: workflow.file, ...step.pos };
        const dockerError = (): Diagnostic => ({
          ...at,
          message: `job \`${job.id}\`: \`${step.uses}\` is a Docker action; spotcheck runs Docker actions only on a route whose runner declares Docker (\`docker: true\`), and \`${job.runsOn}\` does not`,
        });
        if (step.action.kind === 'docker') {
          if (!docker) errors.push(dockerError());
          continue;
        }
        const key = folderKey(step, options, defaultSource);
        let read = manifests.get(key.id);
        if (read === undefined) {
          read = manifestAt(key.folder);
          manifests.set(key.id, read);
        }
        const found = await read;
        if (found === undefined) {
          if (!reported.has(key.id)) notices.push({ ...at, level: 'notice', message: key.missing });
          reported.add(key.id);
          continue;
        }
        if (!found.ok) {
          if (!reported.has(key.id)) errors.push({ ...at, message: `\`${step.uses}\`: ${found.error}` });
          reported.add(key.id);
          continue;
        }
        if (found.manifest.runs.using === 'docker') {
          if (!docker) errors.push(dockerError());
          continue;
        }
        for (const message of checkActionInputs(Object.keys(step.with), found.manifest.inputs))
          warnings.push({ ...at, message: `warning: \`${step.uses}\`: ${message}` });
      }
    }
  }
  return { errors, warnings, notices };
}

interface FolderKey {
  readonly id: string;
  /** undefined: a remote action that is not in the cache. */
  readonly folder: Promise<string | undefined>;
  /** The notice when there is no manifest to read. */
  readonly missing: string;
}

function folderKey(step: UsesStepSpec, options: ActionCheckOptions, defaultSource: string): FolderKey {
  const ref = step.action;
  if (ref.kind === 'local') {
    const folder = join(options.root, ref.path);
    return {
      id: `local:${ref.path}`,
      folder: Promise.resolve(folder),
      // An earlier step may create it (a checkout of another repository into a path): not an error here.
      missing: `\`${step.uses}\`: not checked: no action.yml, action.yaml or Dockerfile in the working tree at ${ref.path}`,
    };
  }
  if (ref.kind !== 'remote') throw new TypeError('docker actions have no folder');
  const source = ref.source ?? defaultSource;
  const folder = cachedActionFolder(options.cacheDir, source, ref).then((dir) =>
    dir === undefined || ref.path === undefined ? dir : join(dir, ref.path),
  );
  return {
    id: `${source} ${ref.owner}/${ref.repo}/${ref.path ?? ''}@${ref.ref}`,
    folder,
    missing: `\`${step.uses}\`: not checked: not downloaded yet (its inputs are checked once \`spotcheck run\` has fetched it)`,
  };
}

async function manifestAt(folder: Promise<string | undefined>): Promise<Manifest | undefined> {
  const dir = await folder;
  if (dir === undefined) return undefined;
  try {
    return { ok: true, manifest: await readActionManifest(dir) };
  } catch (error) {
    if (!(error instanceof ActionManifestError)) throw error;
    // A folder without a manifest is not a parse failure (an earlier step may create it).
    if (error.message.startsWith("Can't find")) return undefined;
    return { ok: false, error: error.message };
  }
}
