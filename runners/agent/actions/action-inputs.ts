/**
 * A `uses:` step's env and inputs, evaluated as actions/runner's ActionRunner does: `with:` values as expressions
 * with the step's contexts, then each manifest input not given takes its `default` (itself evaluated, so
 * `${{ github.token }}` works). Like the runner, a missing `required` input is not an error here (the action's own
 * `core.getInput(name, { required: true })` fails it); an input the action does not declare, and a deprecated one,
 * are warnings with the runner's wording.
 */
import { interpolate, type ExpressionContext } from '../../../src/core/workflow/expressions.ts';
import type { ActionManifest } from './action-manifest.ts';

export interface EvaluatedAction {
  /** The step's own `env:`, evaluated. */
  readonly env: Record<string, string>;
  /** Input name → value, the names as written in `with:` or in the manifest. */
  readonly inputs: Record<string, string>;
  readonly warnings: string[];
}

export function evaluateActionStep(
  step: { readonly env: Readonly<Record<string, string>>; readonly with: Readonly<Record<string, string>> },
  manifest: ActionManifest,
  ctx: (env: Record<string, string>) => ExpressionContext,
  envCtx: Readonly<Record<string, string>>,
): { ok: true; value: EvaluatedAction } | { ok: false; error: string } {
  const env: Record<string, string> = {};
  for (const [name, template] of Object.entries(step.env)) {
    const value = interpolate(template, ctx({ ...envCtx }));
    if (!value.ok) return { ok: false, error: `env.${name}: ${value.error}` };
    env[name] = value.value;
  }
  const stepCtx = ctx({ ...envCtx, ...env });
  const inputs: Record<string, string> = {};
  const warnings: string[] = [];
  const declared = new Map(Object.keys(manifest.inputs).map((name) => [name.toLowerCase(), name]));
  const unexpected: string[] = [];
  for (const [name, template] of Object.entries(step.with)) {
    const value = interpolate(template, stepCtx);
    if (!value.ok) return { ok: false, error: `with.${name}: ${value.error}` };
    inputs[name] = value.value;
    const spec = manifest.inputs[declared.get(name.toLowerCase()) ?? ''];
    if (spec === undefined) unexpected.push(name);
    else if (spec.deprecationMessage !== undefined) {
      warnings.push(`Input '${name}' has been deprecated with message: ${spec.deprecationMessage}`);
    }
  }
  const given = new Set(Object.keys(inputs).map((name) => name.toLowerCase()));
  for (const [name, spec] of Object.entries(manifest.inputs)) {
    if (given.has(name.toLowerCase())) continue;
    const value = interpolate(spec.default ?? '', stepCtx);
    if (!value.ok) return { ok: false, error: `${manifest.file}: inputs.${name}.default: ${value.error}` };
    inputs[name] = value.value;
  }
  if (unexpected.length > 0) {
    const valid = Object.keys(manifest.inputs);
    warnings.push(`Unexpected input(s) '${unexpected.join("', '")}', valid inputs are ['${valid.join("', '")}']`);
  }
  return { ok: true, value: { env, inputs, warnings } };
}

/** `INPUT_<NAME>`: spaces become `_` and the name is upper-cased; `-` stays (actions/runner Handler.AddInputsToEnvironment). */
export function inputVariables(inputs: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(inputs).map(([name, value]) => [`INPUT_${name.replaceAll(' ', '_').toUpperCase()}`, value]),
  );
}
