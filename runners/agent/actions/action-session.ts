/**
 * The actions of one order: where each `uses:` finds its files (a local folder in the workspace, or a remote action
 * through the `ActionFetcher`, fetched once per reference), each action's name in `GITHUB_ACTION`, and the state
 * an action's pre and main save for its later stages (`STATE_*`).
 */
import { realpath } from 'node:fs/promises';
import path from 'node:path';
import { formatActionRef } from '../../../src/core/workflow/action-ref.ts';
import type { ActionRef, UsesStepSpec } from '../../../src/core/types.ts';
import type { OrderStop } from '../order-stop.ts';
import type { StepRun } from '../step-process.ts';
import type { Reported } from '../steps-state.ts';
import { ActionFetchError, type ActionFetcher, type RemoteActionRef } from './action-fetcher.ts';
import { ActionManifestError, readActionManifest, type ActionManifest } from './action-manifest.ts';

export interface ResolvedAction {
  readonly dir: string;
  readonly manifest: ActionManifest;
  /** `owner/repo` of a remote action (GITHUB_ACTION_REPOSITORY); absent for a local one. */
  readonly repository?: string;
  /** The ref as written (GITHUB_ACTION_REF); absent for a local action. */
  readonly ref?: string;
}

export type Resolution =
  { readonly ok: true; readonly action: ResolvedAction } | { readonly ok: false; readonly error: string };

/** An action's `post`, registered when its main ran; the job's run after all its steps, last registered first. */
export interface PostStep {
  /** `Post <step name>`, as GitHub names it. */
  readonly name: string;
  /** `post-if`; GitHub's default is `always()`. */
  readonly condition: string;
  /** `stop`: what stops the post (the order's, or the grace posts get once the order was stopped). */
  readonly run: (stop: OrderStop) => Promise<StepRun>;
  /** Hands the post's annotations and summary to the step that used the action (`StepsState.attach`). */
  readonly report: (reported: Reported) => void;
}

export class ActionSession {
  readonly #fetcher: ActionFetcher | undefined;
  readonly #workspace: string;
  readonly #remote = new Map<string, Promise<Resolution>>();
  readonly #states = new WeakMap<UsesStepSpec, Record<string, string>>();
  readonly #names = new Map<string, number>();
  readonly #stepNames = new WeakMap<UsesStepSpec, string>();
  readonly #compositeSteps = new WeakMap<UsesStepSpec, unknown>();

  constructor(fetcher: ActionFetcher | undefined, workspace: string) {
    this.#fetcher = fetcher;
    this.#workspace = workspace;
  }

  /**
   * The action's folder and manifest. A local action is read each time (a step before it may have checked it out
   * or changed it); a remote one is fetched once per order and reference, and its commit logged.
   */
  resolve(ref: ActionRef, log: (line: string) => void): Promise<Resolution> {
    switch (ref.kind) {
      case 'docker':
        return Promise.resolve(dockerRefused(formatActionRef(ref)));
      case 'local':
        return this.#resolveLocal(ref.path);
      case 'remote': {
        const key = formatActionRef(ref);
        let resolution = this.#remote.get(key);
        if (resolution === undefined) {
          resolution = this.#resolveRemote(ref, key, log);
          this.#remote.set(key, resolution);
        }
        return resolution;
      }
    }
  }

  /** The intra-action state of one use of an action: what its pre saved, its main adds to, its post reads. */
  stateOf(step: UsesStepSpec): Record<string, string> {
    let state = this.#states.get(step);
    if (state === undefined) {
      state = {};
      this.#states.set(step, state);
    }
    return state;
  }

  /**
   * The steps of the composite action `step` uses, made once (`make`) per use, so the use's pre stage and its main
   * run the same step objects and share their state (`stateOf`); another use of the same action has its own.
   */
  compositeSteps<T>(step: UsesStepSpec, make: () => T): T {
    if (!this.#compositeSteps.has(step)) this.#compositeSteps.set(step, make());
    return this.#compositeSteps.get(step) as T;
  }

  /**
   * `GITHUB_ACTION`: the step's id, else `__owner_repo` (`__self` for a local action) with `_2`, `_3`, … on later
   * uses, as docs.github.com › "Default environment variables" describes it.
   */
  actionName(step: UsesStepSpec): string {
    const known = this.#stepNames.get(step);
    if (known !== undefined) return known;
    let name = step.id;
    if (name === undefined) {
      const base =
        step.action.kind === 'remote'
          ? `__${step.action.owner}_${step.action.repo}`.replace(/[^A-Za-z0-9_-]/g, '')
          : step.action.kind === 'local'
            ? '__self'
            : '__docker';
      const seen = (this.#names.get(base) ?? 0) + 1;
      this.#names.set(base, seen);
      name = seen === 1 ? base : `${base}_${seen}`;
    }
    this.#stepNames.set(step, name);
    return name;
  }

  async #resolveLocal(relative: string): Promise<Resolution> {
    const shown = relative === '.' ? './' : `./${relative}`;
    try {
      const root = await realpath(this.#workspace);
      const dir = await realpath(path.resolve(root, relative)).catch(() => path.resolve(root, relative));
      // The parser refuses `..`; a symlink can still point out of the workspace, so compare real paths.
      if (dir !== root && !dir.startsWith(root + path.sep)) {
        return { ok: false, error: `${shown}: a local action must stay inside the workspace` };
      }
      return checked({ dir, manifest: await readActionManifest(dir) }, shown);
    } catch (err) {
      return failed(err, shown);
    }
  }

  async #resolveRemote(ref: RemoteActionRef, key: string, log: (line: string) => void): Promise<Resolution> {
    if (this.#fetcher === undefined) {
      return { ok: false, error: `${key}: this agent has no actions source, so it can only run local (./) actions` };
    }
    try {
      // The fetcher prints the runner's "Download action repository '…' (SHA:…)" line, once.
      const fetched = await this.#fetcher.fetch(ref, log);
      const manifest = await readActionManifest(fetched.dir);
      return checked({ dir: fetched.dir, manifest, repository: `${ref.owner}/${ref.repo}`, ref: ref.ref }, key);
    } catch (err) {
      return failed(err, key);
    }
  }
}

function checked(action: ResolvedAction, shown: string): Resolution {
  return action.manifest.runs.using === 'docker' ? dockerRefused(shown) : { ok: true, action };
}

function dockerRefused(shown: string): Resolution {
  return { ok: false, error: `${shown}: docker actions need a runner that declares Docker` };
}

function failed(err: unknown, shown: string): Resolution {
  if (err instanceof ActionFetchError || err instanceof ActionManifestError) return { ok: false, error: err.message };
  const message = err instanceof Error ? err.message : String(err);
  return { ok: false, error: `${shown}: ${message}` };
}
