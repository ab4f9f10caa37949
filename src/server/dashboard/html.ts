/**
 * HTML built by a tagged template that escapes every interpolated value unless it is already `SafeHtml`: the safe
 * thing is the default, so a job name, a reason or an actor (all controlled by whoever wrote the workflow or opened
 * the pull request) can never become markup by someone forgetting to escape it.
 */

/** Markup that is already safe to put in a page (built by `html`, or escaped by hand and wrapped with `trusted`). */
export class SafeHtml {
  readonly value: string;
  constructor(value: string) {
    this.value = value;
  }
  toString(): string {
    return this.value;
  }
}

/** One of these, or a (nested) list of them; `undefined`, `null` and `false` render as nothing. */
export type HtmlValue = SafeHtml | string | number | boolean | null | undefined | readonly HtmlValue[];

const ENTITIES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' } as const;

/**
 * Escapes text for an HTML text node or a quoted attribute value (HTML Living Standard §13.1.2.3 and §13.5: `&`
 * and `<` in text, `"` and `'` in attributes; `>` for good measure).
 */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ENTITIES[c as keyof typeof ENTITIES]);
}

function render(value: HtmlValue): string {
  if (value instanceof SafeHtml) return value.value;
  if (Array.isArray(value)) return (value as readonly HtmlValue[]).map(render).join('');
  if (value === undefined || value === null || value === false) return '';
  return escapeHtml(String(value));
}

export function html(strings: TemplateStringsArray, ...values: readonly HtmlValue[]): SafeHtml {
  let out = strings[0] ?? '';
  for (const [i, value] of values.entries()) out += render(value) + (strings[i + 1] ?? '');
  return new SafeHtml(out);
}

/** Marks a string as safe markup. Only for text this code produced and escaped itself (the graph's SVG). */
export function trusted(markup: string): SafeHtml {
  return new SafeHtml(markup);
}
