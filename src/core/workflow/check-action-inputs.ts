/**
 * A `uses:` step's `with:` against the inputs its action declares, as GitHub's runner and toolkit judge them: a key
 * the action does not declare is the runner's "Unexpected input(s)" warning, a `required` input with no default and
 * no value is what `core.getInput(name, { required: true })` fails with at run time. Input names compare without
 * regard to case (the runner's input dictionary is case-insensitive). Pure.
 */

export interface DeclaredInput {
  readonly required: boolean;
  readonly default?: string;
}

/** The warnings for one step, worded as GitHub words them (empty when `with:` fits the action). */
export function checkActionInputs(
  given: readonly string[],
  declared: Readonly<Record<string, DeclaredInput>>,
): string[] {
  const names = Object.keys(declared);
  const known = new Set(names.map((n) => n.toLowerCase()));
  const givenLower = new Set(given.map((n) => n.toLowerCase()));
  const warnings: string[] = [];
  const unexpected = given.filter((key) => !known.has(key.toLowerCase()));
  if (unexpected.length > 0)
    warnings.push(
      `Unexpected input(s) '${unexpected.join("', '")}', valid inputs are [${names.map((n) => `'${n}'`).join(', ')}]`,
    );
  for (const [name, input] of Object.entries(declared)) {
    if (input.required && input.default === undefined && !givenLower.has(name.toLowerCase()))
      warnings.push(`Input required and not supplied: ${name}`);
  }
  return warnings;
}
