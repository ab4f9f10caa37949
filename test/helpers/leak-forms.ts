/**
 * The leak hunt's scanner: every form a secret could leak in (the value, its base64, URL-encoded and JSON-escaped
 * forms, and the same of each of its lines), and which of them a text holds. Used by test/security/secret-leaks
 * (an order's whole life) and the dashboard's secrets pages (every page and log line).
 */

/** Every form a leak could take: the value, its base64, URL and JSON-escaped forms, and the same of each line. */
export function formsOf(value: string): Map<string, string> {
  const forms = new Map<string, string>();
  const lines = value
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '');
  for (const [label, part] of [['value', value], ...lines.map((line, i) => [`line ${String(i + 1)}`, line])]) {
    if (part === undefined || label === undefined) continue;
    forms.set(part, label);
    forms.set(Buffer.from(part).toString('base64'), `${label}, base64`);
    forms.set(encodeURIComponent(part), `${label}, URL-encoded`);
    forms.set(JSON.stringify(part).slice(1, -1), `${label}, JSON-escaped`);
  }
  return forms;
}

/** `channel: SECRET (form)` for each form of each secret found in the text. */
export function leaksIn(channel: string, text: string, secrets: Readonly<Record<string, string>>): string[] {
  const found: string[] = [];
  for (const [name, value] of Object.entries(secrets)) {
    for (const [form, label] of formsOf(value)) if (text.includes(form)) found.push(`${channel}: ${name} (${label})`);
  }
  return found;
}
