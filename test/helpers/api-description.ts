/**
 * Pieces shared by the forge API description checks (github-api.ts: OpenAPI 3.0; gitea-api.ts: Swagger 2.0): path
 * templates compiled to regular expressions, operations of a path item, local `$ref`s and JSON types. What each
 * description says about parameters and bodies differs, and stays in its own module.
 */

export const HTTP_METHODS = ['get', 'post', 'put', 'patch', 'delete', 'head', 'options'] as const;

export type PathItem<P> = Readonly<Record<string, unknown>> & { readonly parameters?: readonly P[] };

export interface CompiledTemplate<P> {
  readonly template: string;
  readonly regex: RegExp;
  readonly names: readonly string[];
  /** Literal characters: among templates that match, the most literal one is the most specific. */
  readonly literal: number;
  readonly item: PathItem<P>;
}

/** `/repos/{owner}/{repo}` → a regular expression; a multi-segment parameter may span slashes. */
export function compileTemplate<P>(
  template: string,
  item: PathItem<P>,
  multiSegment: (name: string) => boolean,
): CompiledTemplate<P> {
  const names: string[] = [];
  let literal = 0;
  const source = template.replace(/\{([^}]+)\}|[^{]+/g, (part, name: string | undefined) => {
    if (name === undefined) {
      literal += part.length;
      return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    }
    names.push(name);
    return multiSegment(name) ? '(.+)' : '([^/]+)';
  });
  return { template, regex: new RegExp(`^${source}$`), names, literal, item };
}

export function operationsOf<O>(item: Readonly<Record<string, unknown>>): [string, O][] {
  return HTTP_METHODS.filter((m) => typeof item[m] === 'object' && item[m] !== null).map((m) => [m, item[m] as O]);
}

/** Follows local `$ref`s (`#/components/...`, `#/definitions/...`; JSON Pointer escapes) from the description root. */
export function resolveRef<T extends { readonly $ref?: string }>(root: unknown, value: T): T {
  let current: T = value;
  for (let hops = 0; current.$ref !== undefined; hops++) {
    if (hops > 32) throw new Error(`$ref loop at ${current.$ref}`);
    const ref = current.$ref;
    if (!ref.startsWith('#/')) throw new Error(`unsupported $ref ${ref}`);
    let node: unknown = root;
    for (const key of ref.slice(2).split('/')) {
      node = (node as Record<string, unknown> | undefined)?.[key.replace(/~1/g, '/').replace(/~0/g, '~')];
    }
    if (node === undefined) throw new Error(`unresolved $ref ${ref}`);
    current = node as T;
  }
  return current;
}

export function hasType(type: string, value: unknown): boolean {
  switch (type) {
    case 'string':
      return typeof value === 'string';
    case 'integer':
      return Number.isInteger(value);
    case 'number':
      return typeof value === 'number';
    case 'boolean':
      return typeof value === 'boolean';
    case 'array':
      return Array.isArray(value);
    case 'object':
      return typeof value === 'object' && value !== null && !Array.isArray(value);
    default:
      return true;
  }
}

export function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
